"""Export the generators for hosts in other languages: ONNX graphs (onnxruntime runs them from
C, C++, C#, Java, JavaScript, Rust...; the shipped graphs in ``checkpoints/onnx`` are also what
``midi_ddsp.runtime`` renders with) or traced TorchScript modules (libtorch hosts; torch marks
``torch.jit`` deprecated, so ONNX is the portable format). Both come with the same contract.

``export_models(out_dir, models, format="onnx" | "torchscript")`` writes, next to
``contract.json`` (the input/output contract below, machine-readable; ``.torchscript`` files in
place of ``.onnx`` for TorchScript):

- ``synthesis_generator.onnx``: ``note_features`` [1, T, 14], ``expressions`` [1, T, 6],
  ``instrument_weights`` [1, 13], ``noise`` [1, T, n_noise] (standard Gaussian; a seed fixes it)
  -> ``f0_dev`` [1, T] (semitones from the held written pitch), ``amp_db`` [1, T] (dB re. 1),
  ``harmonic_distribution`` [1, T, 60] (sums to 1, harmonics at or above 8 kHz removed),
  ``noise_db`` [1, T, 65] (dB; bands evenly spaced 0..8 kHz). T is free; frames at 250 Hz.
- ``causal_synthesis_generator_step.onnx`` (with a causal model): F frames of V voices of the
  live model, ``note_features`` [V, F, 14] (``causal_note_frame_features``), ``expressions``,
  ``instrument_weights`` [V, 13], ``noise`` and one ``state_i`` [V, C, 2 d_i] per residual block
  (zeros at the start) -> the four controls and ``state_i_out`` to feed back next block.
- ``expression_generator_encoder.onnx``: ``note_features`` [1, N, 10], ``instrument_weights``
  [1, 13] -> ``context`` [1, N, C] (the whole part at once, bidirectional).
- ``expression_generator_step.onnx``: one note of the autoregressive decoder: ``context`` [1, 1, C]
  (row i of the encoder's), ``previous`` [1, 1, E] (note i-1's expressions, zeros for the first;
  E = 6, or 7 when the model generates vibrato rates), ``instrument_weights`` [1, 13], ``hidden``
  [1, 1, H] (zeros for the first note) -> ``mean``, ``log_std`` [1, 1, E] and the next ``hidden``. Sample ``mean + temperature * exp(log_std) * z``,
  clip to the generated ranges (``contract.json``), feed it back as ``previous``.
- ``ddsp_synth.onnx``: the dry DDSP synth (harmonic + filtered noise at 16 kHz) of a whole part:
  ``f0_hz``, ``amplitude`` [1, T], ``harmonic_distribution`` [1, T, 60], ``noise_magnitudes``
  [1, T, 65], ``white_noise`` [1, T * 64] (uniform in [-1, 1)) -> ``audio`` [1, T * 64]; the
  room is a convolution with ``midi_ddsp.dsp.rooms.room_impulse_response``.

How to build the inputs (``note_features``: ``midi_ddsp.models.features.note_frame_features`` and
``note_sequence_features``; ``expressions``: ``midi_ddsp.expression.expressions_to_frames``;
``instrument_weights``: ``midi_ddsp.instruments.instrument_weights``) and how the outputs become
audio (f0 = midi_to_hz(held pitch + f0_dev), amplitude = 10^(amp_db/20), noise = 10^(noise_db/20),
then the synth graph or ``midi_ddsp.dsp.blocks.render_synth_params``) is spelled out in the
contract; ``contract.json`` names the checkpoints (file and id) the graphs come from.
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
from midi_ddsp.models.features import N_NOTE_FRAME_FEATURES
from midi_ddsp.models.sampling import DEFAULT_CHUNK_FRAMES, GENERATED_RATE_HZ
from midi_ddsp.models.synthesis_generator import controls_from_outputs

__all__ = ["FORMATS", "export_models", "example_inputs", "run_exported", "causal_state_shapes"]

FORMATS = ("onnx", "torchscript")


class _SynthesisGeneratorGraph(nn.Module):
    def __init__(self, sg):
        super().__init__()
        self.sg = sg

    def forward(self, note_features, expressions, instrument_weights, noise):
        out = self.sg(note_features, expressions, instrument_weights, noise)
        return out["f0_dev"], out["amp_db"], out["harmonic_distribution"], out["noise_db"]


class _CausalStepGraph(nn.Module):
    """F frames of the causal Synthesis Generator for V voices, its convolution history as
    explicit state: the model's own layers, the causal padding replaced by the state."""

    def __init__(self, sg):
        super().__init__()
        self.sg = sg

    def forward(self, note_features, expressions, instrument_weights, noise, *states):
        sg = self.sg
        n_frames = note_features.shape[1]
        emb = sg.embedding(instrument_weights)[:, :, None].expand(-1, -1, n_frames)
        cond = torch.cat([note_features.transpose(1, 2),
                          sg.config.expression_gain * expressions.transpose(1, 2), emb], dim=1)
        h = sg.stack.inp(torch.cat([cond, noise.transpose(1, 2)], dim=1))
        new_states = []
        for block, state in zip(sg.stack.blocks, states):
            extended = torch.cat([state, block.norm(h)], dim=2)
            new_states.append(extended[:, :, -state.shape[2]:])
            a, b = (block.conv(extended) + block.cond(cond)).chunk(2, dim=1)
            h = h + block.out(torch.tanh(a) * torch.sigmoid(b))
        out = sg.head(torch.cat([h, cond], dim=1)).transpose(1, 2)
        controls = controls_from_outputs(out, note_features[..., 0],
                                         signal_config=sg.signal_config)
        return (controls["f0_dev"], controls["amp_db"], controls["harmonic_distribution"],
                controls["noise_db"], *new_states)


class _SynthGraph(nn.Module):
    """The dry DDSP synth at the model rate, a whole part (or block of frames) at once: the
    frame-parallel twin of ``midi_ddsp.dsp.DDSPSynthesizer`` without its chunking (memory grows
    by about 15 KB per frame: split parts longer than a minute)."""

    def __init__(self, signal):
        super().__init__()
        self.hop, self.sample_rate = int(signal.hop_size), int(signal.sample_rate)

    def forward(self, f0_hz, amplitude, harmonic_distribution, noise_magnitudes, white_noise):
        from midi_ddsp.dsp.core import get_controls
        from midi_ddsp.dsp.synths import _filter_noise, _harmonic_intervals

        # harmonics at or above Nyquist removed, renormalised: as the synthesizer plays them
        dist = get_controls(f0_hz, amplitude, harmonic_distribution,
                            sample_rate=self.sample_rate).harmonic_distribution
        amps = amplitude[..., None] * dist
        f0_ext = torch.cat([f0_hz, f0_hz[:, -1:]], dim=1)   # the last frame holds
        amps_ext = torch.cat([amps, amps[:, -1:]], dim=1)
        harmonic, _ = _harmonic_intervals(f0_ext, amps_ext, hop=self.hop,
                                          sample_rate=self.sample_rate,
                                          phase0_cycles=torch.zeros(1, dtype=torch.float64))
        return harmonic + _filter_noise(white_noise, noise_magnitudes, self.hop)


def causal_state_shapes(sg, n_voices: int = 1) -> list[tuple[int, int, int]]:
    """Shapes of the causal step graph's state inputs: [voices, channels, 2 * dilation] per
    residual block (zeros at the start of a stream)."""
    return [(n_voices, int(sg.config.channels), 2 * int(d)) for d in sg.config.dilations]


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
    "ddsp_synth": (("f0_hz", "amplitude", "harmonic_distribution", "noise_magnitudes",
                    "white_noise"), ("audio",)),
}


def example_inputs(models, name: str, length: int = 64, *, seed: int = 0,
                   causal_model=None) -> tuple:
    """Random inputs of the right shapes for graph ``name`` (T or N = ``length``; the causal step
    takes 2 voices, ``length`` frames and zero states)."""
    g = torch.Generator().manual_seed(seed)
    weights = torch.zeros(1, 13)
    weights[0, seed % 13] = 1.0
    if name == "causal_synthesis_generator_step":
        sg = causal_model
        return (torch.rand(2, length, N_NOTE_FRAME_FEATURES, generator=g),
                torch.rand(2, length, 6, generator=g), weights.expand(2, -1).contiguous(),
                torch.randn(2, length, sg.config.n_noise, generator=g),
                *[torch.zeros(shape) for shape in causal_state_shapes(sg, 2)])
    if name == "synthesis_generator":
        sg = models.synthesis_generator
        return (torch.rand(1, length, N_NOTE_FRAME_FEATURES, generator=g),
                torch.rand(1, length, 6, generator=g), weights,
                torch.randn(1, length, sg.config.n_noise, generator=g))
    if name == "ddsp_synth":
        signal = models.synthesis_generator.signal_config
        f0 = 200.0 + 300.0 * torch.rand(1, length, generator=g)
        dist = torch.rand(1, length, signal.n_harmonics, generator=g)
        return (f0, torch.rand(1, length, generator=g), dist / dist.sum(-1, keepdim=True),
                0.05 * torch.rand(1, length, signal.n_noise_bands, generator=g),
                2.0 * torch.rand(1, length * signal.hop_size, generator=g) - 1.0)
    eg = models.expression_generator
    if name == "expression_generator_encoder":
        return torch.rand(1, length, eg.n_note_features, generator=g), weights
    c = eg.config
    return (torch.rand(1, 1, 2 * c.encoder_hidden, generator=g),
            torch.rand(1, 1, eg.n_outputs, generator=g), weights, torch.zeros(1, 1, c.decoder_hidden))


def _module(models, name: str) -> nn.Module:
    if name == "synthesis_generator":
        return _SynthesisGeneratorGraph(models.synthesis_generator).eval()
    if name == "expression_generator_encoder":
        return _EncoderGraph(models.expression_generator).eval()
    if name == "ddsp_synth":
        return _SynthGraph(models.synthesis_generator.signal_config).eval()
    return _StepGraph(models.expression_generator).eval()


def _contract(models, fmt: str, files: dict) -> dict:
    sg, eg = models.synthesis_generator, models.expression_generator
    signal = sg.signal_config
    return {
        "format": fmt,
        "files": files,
        "signal": signal.to_dict(),
        "checkpoints": {kind: {"file": Path(entry["path"]).name, "id": entry["id"]}
                        for kind, entry in (getattr(models, "checkpoints", {}) or {}).items()},
        "graphs": {name: {"inputs": list(ins), "outputs": list(outs)}
                   for name, (ins, outs) in _GRAPHS.items()},
        "synthesis_generator": {
            "n_noise": int(sg.config.n_noise),
            "receptive_radius": int(sg.receptive_radius),
            "frame_stride": int(sg.config.frame_stride),
            "noise_input": "midi_ddsp.models.sampling.synthesis_noise(seed, T, n_noise)",
            "chunks": f"parts longer than {DEFAULT_CHUNK_FRAMES} frames: chunks with receptive_radius frames of "
                      "context each side (midi_ddsp.models.sampling.chunk_windows)",
            "note_features": "midi_ddsp.models.features.note_frame_features (14 per frame: "
                             "held pitch, note flags, position, length, time since onset / "
                             "to offset, vibrato-rate phases)",
            "vibrato_rate_input": bool(getattr(sg.config, "vibrato_rate_input", False)),
            "vibrato_rates": "with vibrato_rate_input: note_frame_features(..., vibrato_rates=) "
                             "with the NoteTable's vibrato_rate column (Hz per note; 5.5 where "
                             "a part has none); without it, no rates (fixed oscillators)",
            "outputs_to_synth": "f0_hz = 440 * 2^((held_pitch + f0_dev - 69) / 12); amplitude = "
                                "10^(amp_db / 20); noise_magnitudes = 10^(noise_db / 20)",
        },
        "ddsp_synth": {
            "sample_rate": int(signal.sample_rate),
            "hop": int(signal.hop_size),
            "inputs": "f0_hz, amplitude [1, T] and harmonic_distribution [1, T, 60] (relative "
                      "levels; harmonics at or above 8 kHz are removed and the rest renormalised "
                      "in the graph, as the synth plays them), "
                      "noise_magnitudes [1, T, 65] (linear), white_noise [1, T * hop] uniform in "
                      "[-1, 1) (midi_ddsp draws it with midi_ddsp.dsp.blocks.noise_block; any "
                      "uniform noise sounds the same)",
            "output": "audio [1, T * hop], dry, at sample_rate; the same as "
                      "midi_ddsp.dsp.DDSPSynthesizer (tested within 1e-4). Then the room: "
                      "convolve with midi_ddsp.dsp.rooms.room_impulse_response (tap 0 = dry). "
                      "Whole parts at once: memory grows by about 15 KB per frame",
        },
        "expression_generator": {
            "encoder_hidden": int(eg.config.encoder_hidden),
            "decoder_hidden": int(eg.config.decoder_hidden),
            "n_note_features": int(eg.n_note_features),
            "note_features": "the first n_note_features columns of "
                             "midi_ddsp.models.features.note_sequence_features (10 from the "
                             "notes' timing; 19 with the score marks, mark_inputs)",
            "mark_inputs": bool(eg.config.mark_inputs),
            "expressions": [e.name for e in EXPRESSIONS],
            "generated_low": [e.generated_low for e in EXPRESSIONS],
            "generated_high": [e.generated_high for e in EXPRESSIONS],
            "n_outputs": int(eg.n_outputs),
            "vibrato_rate_output": eg.n_outputs > len(EXPRESSIONS),
            "vibrato_rate": f"with vibrato_rate_output, output 7 is the vibrato rate as (rate - "
                            f"5.5 Hz) / 1.5 Hz, clipped to {list(GENERATED_RATE_HZ)} Hz "
                            "(midi_ddsp.models.sampling.rate_to_unit / unit_to_rate); fed back "
                            "in that unit",
        },
    }


def export_models(out_dir: "str | os.PathLike[str]", models, *, format: str = "onnx",
                  causal_model=None) -> dict:
    """Write the generator graphs of ``models`` (a ``MidiDDSP``) and ``contract.json``; with
    ``causal_model`` (a causal ``SynthesisGenerator``) also its block step for live hosts.

    Args:
        format: ``"onnx"`` (``<graph>.onnx``, for onnxruntime) or ``"torchscript"``
            (``<graph>.torchscript``, traced, for libtorch hosts: ``torch::jit::load``).

    Returns:
        The contract (also written to ``out_dir/contract.json``).

    Raises:
        ParameterError: an unknown format, or ONNX asked for without the ``onnx`` extra.
    """
    if format not in FORMATS:
        raise ParameterError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if format == "onnx":
        try:
            import onnxscript  # noqa: F401  (the exporter needs it)
        except ImportError:
            raise ParameterError("ONNX export needs the onnx extra: pip install "
                                 "'midi_ddsp[onnx]'") from None
    files = {}
    graphs = {name: (_module(models, name).cpu(), example_inputs(models, name), ins, outs)
              for name, (ins, outs) in _GRAPHS.items()}
    contract = _contract(models, format, files)
    if causal_model is not None:
        name = "causal_synthesis_generator_step"
        n_states = len(causal_model.config.dilations)
        ins = ["note_features", "expressions", "instrument_weights", "noise"] + \
            [f"state_{i}" for i in range(n_states)]
        outs = ["f0_dev", "amp_db", "harmonic_distribution", "noise_db"] + \
            [f"state_{i}_out" for i in range(n_states)]
        graphs[name] = (_CausalStepGraph(causal_model).eval(),
                        example_inputs(models, name, 4, causal_model=causal_model), ins, outs)
        contract["graphs"][name] = {"inputs": ins, "outputs": outs}
        contract["causal_synthesis_generator"] = {
            "n_noise": int(causal_model.config.n_noise),
            "state_shapes": [list(s[1:]) for s in causal_state_shapes(causal_model)],
            "note_features": "midi_ddsp.models.features.causal_note_frame_features (14 per "
                             "frame, only what is known so far: held pitch, is_note, onset, "
                             "velocity, time since release, log and linear time since onset, "
                             "rest before the note, vibrato-rate phases)",
            "usage": "per block of F frames for V voices: feed the state_i_out of the previous "
                     "call as state_i (zeros at the start); outputs as synthesis_generator's",
        }
    for name, (module, args, ins, outs) in graphs.items():
        write = _write_onnx if format == "onnx" else _write_torchscript
        files[name] = write(out, name, module, args, ins, outs, models)
    contract["files"] = files
    (out / "contract.json").write_text(json.dumps(contract, indent=2) + "\n", encoding="utf-8")
    return contract


def _write_torchscript(out: Path, name: str, module, args, ins, outs, models) -> str:
    """Traced: every shape is symbolic in the trace (parity tests at many lengths and voice
    counts check it), so time, notes and voices stay free."""
    import warnings

    path = out / f"{name}.torchscript"
    with warnings.catch_warnings():
        # the tracer's notes on shape reads and torch.jit's deprecation: checked by the tests
        warnings.simplefilter("ignore")
        with torch.no_grad():
            traced = torch.jit.trace(module, args, check_trace=False)
        traced.save(str(path))
    return path.name


def _write_onnx(out: Path, name: str, module, args, ins, outs, models) -> str:
    path = out / f"{name}.onnx"
    if name == "ddsp_synth":
        free = torch.export.Dim("T", min=2, max=1_000_000)
        hop = int(models.synthesis_generator.signal_config.hop_size)
        torch.onnx.export(module, args, str(path), dynamo=True,
                          dynamic_shapes=({1: free}, {1: free}, {1: free}, {1: free},
                                          {1: hop * free}),
                          input_names=list(ins), output_names=list(outs), verbose=False,
                          external_data=False)
        return path.name
    if name == "synthesis_generator":
        # any length the low-rate stack can pool (at least 2 low-rate frames)
        free = torch.export.Dim("T", min=2 * int(models.synthesis_generator.config.frame_stride)
                                + 1, max=1_000_000)
        torch.onnx.export(module, args, str(path), dynamo=True,
                          dynamic_shapes=({1: free}, {1: free}, None, {1: free}),
                          input_names=list(ins), output_names=list(outs), verbose=False,
                          external_data=False)  # one self-contained file (a few MB)
        return path.name
    if name == "causal_synthesis_generator_step":
        axes = {n: {0: "V", 1: "F"} for n in ("note_features", "expressions", "noise", "f0_dev",
                                               "amp_db", "harmonic_distribution", "noise_db")}
        axes.update({n: {0: "V"} for n in ins[4:] + outs[4:] + ["instrument_weights"]})
    elif name == "expression_generator_encoder":
        axes = {"note_features": {1: "N"}, "context": {1: "N"}}
    else:
        axes = None
    # GRUs and the causal step: the TorchScript-based exporter keeps the lengths free
    torch.onnx.export(module, args, str(path), dynamo=False, opset_version=17,
                      input_names=list(ins), output_names=list(outs), dynamic_axes=axes)
    return path.name


def run_exported(out_dir: "str | os.PathLike[str]", name: str, inputs: tuple) -> list[np.ndarray]:
    """Run an exported graph (onnxruntime for ONNX, torch.jit for TorchScript) on numpy or torch
    inputs; returns its outputs as numpy arrays (parity checks, examples)."""
    out = Path(out_dir)
    contract = json.loads((out / "contract.json").read_text(encoding="utf-8"))
    path = out / contract["files"][name]
    if contract["format"] == "torchscript":
        tensors = [x if isinstance(x, torch.Tensor) else torch.from_numpy(np.asarray(x))
                   for x in inputs]
        with torch.no_grad():
            result = torch.jit.load(str(path))(*tensors)
        return [r.numpy() for r in (result if isinstance(result, tuple) else (result,))]
    arrays = [x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x) for x in inputs]
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return session.run(None, dict(zip(names, arrays)))
