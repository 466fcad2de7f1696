"""Export the generators for hosts in other languages as ONNX graphs (onnxruntime runs them from
C, C++, C#, Java, JavaScript, Rust...). TorchScript is not offered: torch's tracer cannot follow
the models' size checks, and torch.jit is no longer developed; ONNX is the portable format.

``export_models(out_dir, models, format="onnx")`` writes, next to ``contract.json`` (the
input/output contract below, machine-readable):

- ``synthesis_generator.onnx``: ``note_features`` [1, T, 14], ``expressions`` [1, T, 6],
  ``instrument_weights`` [1, 13], ``noise`` [1, T, n_noise] (standard Gaussian; a seed fixes it)
  -> ``f0_dev`` [1, T] (semitones from the held written pitch), ``amp_db`` [1, T] (dB re. 1),
  ``harmonic_distribution`` [1, T, 60] (sums to 1, harmonics at or above 8 kHz removed),
  ``noise_db`` [1, T, 65] (dB; bands evenly spaced 0..8 kHz). T is free; frames at 250 Hz.
- ``expression_generator_encoder.onnx``: ``note_features`` [1, N, 10], ``instrument_weights``
  [1, 13] -> ``context`` [1, N, C] (the whole part at once, bidirectional).
- ``expression_generator_step.onnx``: one note of the autoregressive decoder: ``context`` [1, 1, C]
  (row i of the encoder's), ``previous`` [1, 1, 6] (note i-1's expressions, zeros for the first),
  ``instrument_weights`` [1, 13], ``hidden`` [1, 1, H] (zeros for the first note) -> ``mean``,
  ``log_std`` [1, 1, 6] and the next ``hidden``. Sample ``mean + temperature * exp(log_std) * z``,
  clip to the generated ranges (``contract.json``), feed it back as ``previous``.

How to build the inputs (``note_features``: ``midi_ddsp.models.features.note_frame_features`` and
``note_sequence_features``; ``expressions``: ``midi_ddsp.expression.expressions_to_frames``;
``instrument_weights``: ``midi_ddsp.instruments.instrument_weights``) and how the outputs become
audio (f0 = midi_to_hz(held pitch + f0_dev), amplitude = 10^(amp_db/20), noise = 10^(noise_db/20),
then the harmonic + filtered-noise synth of ``midi_ddsp.dsp``) is spelled out in the contract.
The DDSP synth itself is not exported (its harmonic loop and FIR overlap-add are short to write in
any language; ``midi_ddsp.dsp.synths`` is the reference).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from midi_ddsp.errors import ParameterError
from midi_ddsp.expression import EXPRESSIONS
from midi_ddsp.models.features import N_NOTE_FEATURES, N_NOTE_FRAME_FEATURES

__all__ = ["FORMATS", "export_models", "example_inputs", "run_exported"]

FORMATS = ("onnx",)


class _SynthesisGeneratorGraph(nn.Module):
    def __init__(self, sg):
        super().__init__()
        self.sg = sg

    def forward(self, note_features, expressions, instrument_weights, noise):
        out = self.sg(note_features, expressions, instrument_weights, noise)
        return out["f0_dev"], out["amp_db"], out["harmonic_distribution"], out["noise_db"]


class _EncoderGraph(nn.Module):
    def __init__(self, eg):
        super().__init__()
        self.eg = eg

    def forward(self, note_features, instrument_weights):
        return self.eg.encode(note_features, instrument_weights)


class _StepGraph(nn.Module):
    def __init__(self, eg):
        super().__init__()
        self.eg = eg

    def forward(self, context, previous, instrument_weights, hidden):
        emb = self.eg.embedding(instrument_weights)[:, None, :]
        return self.eg._step(context, previous, emb, hidden)


_GRAPHS = {
    "synthesis_generator": (("note_features", "expressions", "instrument_weights", "noise"),
                            ("f0_dev", "amp_db", "harmonic_distribution", "noise_db")),
    "expression_generator_encoder": (("note_features", "instrument_weights"), ("context",)),
    "expression_generator_step": (("context", "previous", "instrument_weights", "hidden"),
                                  ("mean", "log_std", "hidden_out")),
}


def example_inputs(models, name: str, length: int = 64, *, seed: int = 0) -> tuple:
    """Random inputs of the right shapes for graph ``name`` (T or N = ``length``)."""
    g = torch.Generator().manual_seed(seed)
    weights = torch.zeros(1, 13)
    weights[0, seed % 13] = 1.0
    if name == "synthesis_generator":
        sg = models.synthesis_generator
        return (torch.rand(1, length, N_NOTE_FRAME_FEATURES, generator=g),
                torch.rand(1, length, 6, generator=g), weights,
                torch.randn(1, length, sg.config.n_noise, generator=g))
    eg = models.expression_generator
    if name == "expression_generator_encoder":
        return torch.rand(1, length, N_NOTE_FEATURES, generator=g), weights
    c = eg.config
    return (torch.rand(1, 1, 2 * c.encoder_hidden, generator=g), torch.rand(1, 1, 6, generator=g),
            weights, torch.zeros(1, 1, c.decoder_hidden))


def _module(models, name: str) -> nn.Module:
    if name == "synthesis_generator":
        return _SynthesisGeneratorGraph(models.synthesis_generator).eval()
    if name == "expression_generator_encoder":
        return _EncoderGraph(models.expression_generator).eval()
    return _StepGraph(models.expression_generator).eval()


def _contract(models, fmt: str, files: dict) -> dict:
    sg, eg = models.synthesis_generator, models.expression_generator
    signal = sg.signal_config
    return {
        "format": fmt,
        "files": files,
        "signal": signal.to_dict(),
        "checkpoints": dict(getattr(models, "checkpoints", {}) or {}),
        "graphs": {name: {"inputs": list(ins), "outputs": list(outs)}
                   for name, (ins, outs) in _GRAPHS.items()},
        "synthesis_generator": {
            "n_noise": int(sg.config.n_noise),
            "note_features": "midi_ddsp.models.features.note_frame_features (14 per frame: "
                             "held pitch, note flags, position, length, time since onset / "
                             "to offset, vibrato-rate phases)",
            "outputs_to_synth": "f0_hz = 440 * 2^((held_pitch + f0_dev - 69) / 12); amplitude = "
                                "10^(amp_db / 20); noise_magnitudes = 10^(noise_db / 20)",
        },
        "expression_generator": {
            "encoder_hidden": int(eg.config.encoder_hidden),
            "decoder_hidden": int(eg.config.decoder_hidden),
            "note_features": "midi_ddsp.models.features.note_sequence_features (10 per note)",
            "expressions": [e.name for e in EXPRESSIONS],
            "generated_low": [e.generated_low for e in EXPRESSIONS],
            "generated_high": [e.generated_high for e in EXPRESSIONS],
        },
    }


def export_models(out_dir: "str | os.PathLike[str]", models, *, format: str = "onnx") -> dict:
    """Write the generator graphs of ``models`` (a ``MidiDDSP``) and ``contract.json``.

    Returns:
        The contract (also written to ``out_dir/contract.json``).

    Raises:
        ParameterError: an unknown format, or ONNX asked for without the ``onnx`` extra.
    """
    if format not in FORMATS:
        raise ParameterError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    try:
        import onnxscript  # noqa: F401  (the exporter needs it)
    except ImportError:
        raise ParameterError("ONNX export needs the onnx extra: pip install 'midi_ddsp[onnx]'") from None
    for name, (ins, outs) in _GRAPHS.items():
        module = _module(models, name).cpu()
        args = example_inputs(models, name)
        path = out / f"{name}.onnx"
        if name == "synthesis_generator":
            # any length the low-rate stack can pool (at least 2 low-rate frames)
            free = torch.export.Dim("T", min=2 * int(models.synthesis_generator.config.frame_stride)
                                    + 1, max=1_000_000)
            torch.onnx.export(module, args, str(path), dynamo=True,
                              dynamic_shapes=({1: free}, {1: free}, None, {1: free}),
                              input_names=list(ins), output_names=list(outs), verbose=False,
                              external_data=False)  # one self-contained file (a few MB)
        else:  # GRUs: the TorchScript-based exporter keeps the sequence length free
            axes = {"note_features": {1: "N"}, "context": {1: "N"}} \
                if name == "expression_generator_encoder" else None
            torch.onnx.export(module, args, str(path), dynamo=False, opset_version=17,
                              input_names=list(ins), output_names=list(outs), dynamic_axes=axes)
        files[name] = path.name
    contract = _contract(models, format, files)
    (out / "contract.json").write_text(json.dumps(contract, indent=2) + "\n", encoding="utf-8")
    return contract


def run_exported(out_dir: "str | os.PathLike[str]", name: str, inputs: tuple) -> list[np.ndarray]:
    """Run an exported graph through onnxruntime on numpy or torch inputs; returns its outputs as
    numpy arrays (parity checks, examples)."""
    out = Path(out_dir)
    contract = json.loads((out / "contract.json").read_text(encoding="utf-8"))
    path = out / contract["files"][name]
    arrays = [x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x) for x in inputs]
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return session.run(None, dict(zip(names, arrays)))
