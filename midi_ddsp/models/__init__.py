"""The three learned models of midi_ddsp and their checkpoint files.

- ``ExpressionGenerator``: notes + instrument -> NoteTable (six expressions per note).
- ``SynthesisGenerator``: NoteTable + instrument -> SynthParams (frame-parallel).
- ``DDSPInference``: audio + f0 + loudness + instrument -> SynthParams.

Checkpoints: ``load_model(path, kind=None)``, ``Model.from_checkpoint(path)``,
``model.save_checkpoint(path, model_card=...)``, ``shipped_checkpoint_path(kind)``.
"""
from midi_ddsp.models.checkpoint import (
    FORMAT_VERSION,
    KINDS,
    load_model,
    read_checkpoint,
    shipped_checkpoint_path,
)
from midi_ddsp.models.ddsp_inference import DDSPInference, DDSPInferenceConfig
from midi_ddsp.models.expression_generator import ExpressionGenerator, ExpressionGeneratorConfig
from midi_ddsp.models.synthesis_generator import SynthesisGenerator, SynthesisGeneratorConfig

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
