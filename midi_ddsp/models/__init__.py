"""The three learned models of midi_ddsp and their checkpoint files.

- ``ExpressionGenerator``: notes + instrument -> NoteTable (six expressions per note).
- ``SynthesisGenerator``: NoteTable + instrument -> SynthParams (frame-parallel).
- ``DDSPInference``: audio + f0 + loudness + instrument -> SynthParams.

Checkpoints: ``load_model(path, kind=None)``, ``Model.from_checkpoint(path)``,
``model.save_checkpoint(path, model_card=...)``, ``shipped_checkpoint_path(kind)``.
"""
import importlib

# torch loads on first use of a model or checkpoint: the torch-free modules of this package
# (features) import without it
_WHERE = {
    "FORMAT_VERSION": "checkpoint",
    "KINDS": "checkpoint",
    "load_model": "checkpoint",
    "read_checkpoint": "checkpoint",
    "shipped_checkpoint_path": "checkpoint",
    "DDSPInference": "ddsp_inference",
    "DDSPInferenceConfig": "ddsp_inference",
    "ExpressionGenerator": "expression_generator",
    "ExpressionGeneratorConfig": "expression_generator",
    "SynthesisGenerator": "synthesis_generator",
    "SynthesisGeneratorConfig": "synthesis_generator",
}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"midi_ddsp.models.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'midi_ddsp.models' has no attribute {name!r}")


__all__ = [
    "FORMAT_VERSION",
    "KINDS",
    "load_model",
    "read_checkpoint",
    "shipped_checkpoint_path",
    "DDSPInference",
    "DDSPInferenceConfig",
    "ExpressionGenerator",
    "ExpressionGeneratorConfig",
    "SynthesisGenerator",
    "SynthesisGeneratorConfig",
]
