"""The shipped generators through onnxruntime: rendering without torch.

``checkpoints/onnx/`` holds the ONNX graphs of the shipped Expression and Synthesis Generators
(``midi_ddsp.export``, written by the release recipe) and ``contract.json``, which records the
id (sha256) of each source checkpoint. ``load_onnx_models()`` returns an ``OnnxMidiDDSP`` when
onnxruntime is installed and the graphs belong to the checkpoints beside them, else None; the
pipeline then uses the torch models. Both runtimes share their inputs, seeded draws and chunk plan
(``midi_ddsp.models.sampling``), so a render is the same either way up to float rounding (tested).

Start-up is the reason: importing torch takes longer than rendering a chorale.
"""
from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from midi_ddsp.config import SignalConfig
from midi_ddsp.dsp.units import db_to_amplitude, midi_to_hz
from midi_ddsp.expression.definitions import DEFAULT_TEMPERATURE
from midi_ddsp.expression.note_expressions import NoteExpressions
from midi_ddsp.instruments import instrument_weights
from midi_ddsp.models.features import (N_PLAIN_NOTE_FEATURES, default_n_frames,
                                       note_frame_features, note_sequence_features)
from midi_ddsp.models.sampling import (DEFAULT_CHUNK_FRAMES, check_sampling, chunk_windows,
                                       sample_note, synthesis_noise, generated_values)
from midi_ddsp.score import Note
from midi_ddsp.synth_params import SynthParams

__all__ = ["OnnxMidiDDSP", "load_onnx_models", "onnx_dir"]

logger = logging.getLogger(__name__)

_KINDS = ("expression_generator", "synthesis_generator")
_SG_OUTPUTS = ("f0_dev", "amp_db", "harmonic_distribution", "noise_db")
_CACHE: dict = {}


def onnx_dir() -> Path:
    """Where the shipped graphs live: ``onnx/`` of the shipped checkpoints."""
    from midi_ddsp.models.checkpoint import shipped_file

    return shipped_file("onnx")


class _Sessions:
    """onnxruntime sessions made on first use, one thread each (the graphs are small: a part's
    Synthesis Generator pass takes tens of ms; parts run side by side instead). A bundle pickles
    to worker processes as paths."""

    def __init__(self, folder: Path, files: dict):
        self.folder, self.files = folder, dict(files)
        self._sessions: dict = {}
        self._lock = threading.Lock()

    def __getstate__(self):
        return {"folder": self.folder, "files": self.files}

    def __setstate__(self, state):
        folder = Path(state["folder"])
        if not folder.is_dir():   # unpickled on another machine (a Ray worker): its own copy
            folder = onnx_dir()
        self.__init__(folder, state["files"])

    def get(self, name: str):
        with self._lock:
            if name not in self._sessions:
                import onnxruntime

                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = 1
                options.inter_op_num_threads = 1
                self._sessions[name] = onnxruntime.InferenceSession(
                    str(self.folder / self.files[name]), sess_options=options,
                    providers=["CPUExecutionProvider"])
            return self._sessions[name]


class OnnxExpressionGenerator:
    """``ExpressionGenerator.sample_expressions`` through the encoder and step graphs."""

    def __init__(self, sessions: _Sessions, contract: dict):
        self.sessions = sessions
        self.decoder_hidden = int(contract["expression_generator"]["decoder_hidden"])
        self.n_outputs = int(contract["expression_generator"].get("n_outputs", 6))
        self.n_note_features = int(contract["expression_generator"].get(
            "n_note_features", N_PLAIN_NOTE_FEATURES))

    def sample_expressions(self, notes: Sequence[Note], instrument: Any, *,
                           seed: "int | None" = None,
                           temperature: float = DEFAULT_TEMPERATURE) -> np.ndarray:
        notes, rng, temperature = check_sampling(notes, seed, temperature)
        weights = instrument_weights(instrument)[None].astype(np.float32)
        values = np.zeros((len(notes), self.n_outputs), np.float32)
        if not notes:
            return values
        (context,) = self.sessions.get("expression_generator_encoder").run(
            None, {"note_features": note_sequence_features(notes)[None, :, :self.n_note_features],
                   "instrument_weights": weights})
        step = self.sessions.get("expression_generator_step")
        previous = np.zeros((1, 1, self.n_outputs), np.float32)
        hidden = np.zeros((1, 1, self.decoder_hidden), np.float32)
        for i in range(len(notes)):
            mean, log_std, hidden = step.run(None, {
                "context": context[:, i:i + 1], "previous": previous,
                "instrument_weights": weights, "hidden": hidden})
            values[i] = sample_note(mean[0, 0], log_std[0, 0], rng, temperature)
            previous = values[i][None, None]
        return generated_values(values)


class OnnxSynthesisGenerator:
    """``SynthesisGenerator.generate_from_expressions`` through its graph, and the room."""

    def __init__(self, sessions: _Sessions, contract: dict):
        self.sessions = sessions
        sg = contract["synthesis_generator"]
        self.signal_config = SignalConfig.from_dict(contract["signal"])
        self.n_noise = int(sg["n_noise"])
        self.receptive_radius = int(sg["receptive_radius"])
        self.frame_stride = int(sg["frame_stride"])
        self.min_frames = 2 * self.frame_stride + 1
        self.vibrato_rate_input = bool(sg.get("vibrato_rate_input", False))

    def generate_from_expressions(self, part: NoteExpressions, instrument: Any, *,
                                  seed: int = 0, n_frames: "int | None" = None,
                                  chunk_frames: int = DEFAULT_CHUNK_FRAMES) -> SynthParams:
        frame_rate = self.signal_config.frame_rate
        n_frames = default_n_frames(part.notes, n_frames, frame_rate=frame_rate)
        feats, held = note_frame_features(
            part.notes, n_frames=n_frames, frame_rate=frame_rate,
            vibrato_rates=part.vibrato_rates() if self.vibrato_rate_input else None)
        expr = part.frames(n_frames=n_frames, frame_rate=frame_rate)
        noise = synthesis_noise(seed, n_frames, self.n_noise)
        weights = instrument_weights(instrument)[None].astype(np.float32)
        session = self.sessions.get("synthesis_generator")
        out = {k: [] for k in _SG_OUTPUTS}
        for a, b, lo, hi in chunk_windows(n_frames, chunk_frames=chunk_frames,
                                          context=self.receptive_radius, stride=self.frame_stride):
            pad = max(0, self.min_frames - (hi - lo))   # the graph's shortest input: zeros = rest
            inputs = [np.pad(x[lo:hi], ((0, pad), (0, 0)))[None] for x in (feats, expr, noise)]
            results = session.run(list(_SG_OUTPUTS), {
                "note_features": inputs[0], "expressions": inputs[1],
                "instrument_weights": weights, "noise": inputs[2]})
            for key, value in zip(out, results):
                out[key].append(value[0, a - lo:b - lo])
        f0_dev, amp_db, dist, noise_db = (np.concatenate(out[k]) for k in out)
        f0_hz = midi_to_hz(held[:n_frames] + f0_dev.astype(np.float64))
        return SynthParams(np.asarray(f0_hz, np.float32), db_to_amplitude(amp_db).astype(np.float32),
                           dist.astype(np.float32), db_to_amplitude(noise_db).astype(np.float32))

    def impulse_response(self, instrument: Any, *, reverb: object = True) -> np.ndarray:
        """The room at the model rate (``SynthesisGenerator.impulse_response``)."""
        from midi_ddsp.dsp.rooms import room_impulse_response

        instrument_weights(instrument)
        return room_impulse_response(reverb, self.signal_config.sample_rate,
                                     n_taps=self.signal_config.reverb_length)


class OnnxMidiDDSP:
    """The shipped generators on onnxruntime, in the place of a ``MidiDDSP``.

    Attributes:
        expression_generator: ``OnnxExpressionGenerator`` (``sample_expressions``).
        synthesis_generator: ``OnnxSynthesisGenerator`` (``generate_from_expressions``,
            ``impulse_response``).
        checkpoints: kind -> ``{"path": ..., "id": ...}`` of the source checkpoints.
    """

    runtime = "onnxruntime"

    def __init__(self, folder: Path, contract: dict, checkpoints: dict):
        self.folder, self.contract, self.checkpoints = folder, contract, checkpoints
        self.part_threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
            else (os.cpu_count() or 1)   # parts of a piece rendered side by side
        self._sessions = _Sessions(folder, contract["files"])
        self.expression_generator = OnnxExpressionGenerator(self._sessions, contract)
        self.synthesis_generator = OnnxSynthesisGenerator(self._sessions, contract)

    @property
    def frame_rate(self) -> int:
        return int(self.synthesis_generator.signal_config.frame_rate)

    @property
    def model_sample_rate(self) -> int:
        return int(self.synthesis_generator.signal_config.sample_rate)

    def limit_threads(self, threads: int) -> None:
        """Render on at most ``threads`` threads (batch workers): parts side by side, each
        graph on one thread."""
        self.part_threads = max(1, int(threads))

    def enter_thread(self) -> None:
        """Nothing to set: each graph's session runs on its own fixed thread count."""


def load_onnx_models(folder: "str | os.PathLike[str] | None" = None) -> "OnnxMidiDDSP | None":
    """The shipped generators on onnxruntime, or None (with the reason logged at debug level)
    when onnxruntime is missing, the graphs are absent, or they were exported from other
    checkpoints than the shipped ones."""
    from midi_ddsp.models.checkpoint import checkpoint_id, shipped_checkpoint_path

    folder = Path(folder) if folder is not None else onnx_dir()
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        logger.debug("onnxruntime not installed: rendering with torch")
        return None
    contract_path = folder / "contract.json"
    if not contract_path.is_file():
        logger.debug("%s: no exported graphs: rendering with torch", folder)
        return None
    contract = json.loads(contract_path.read_text(encoding="utf-8"))
    checkpoints = {}
    for kind in _KINDS:
        path = shipped_checkpoint_path(kind)
        recorded = (contract.get("checkpoints") or {}).get(kind, {}).get("id")
        if not path.is_file() or recorded != checkpoint_id(path):
            logger.debug("%s: graphs of another %s than %s: rendering with torch", folder, kind,
                         path)
            return None
        checkpoints[kind] = {"path": str(path), "id": recorded}
    needed = ("synthesis_generator", "expression_generator_encoder", "expression_generator_step")
    if any(not (folder / contract["files"].get(name, "-")).is_file() for name in needed):
        return None
    key = (str(folder.resolve()), json.dumps(checkpoints, sort_keys=True))
    if key not in _CACHE:   # sessions are made once per process
        _CACHE[key] = OnnxMidiDDSP(folder, contract, checkpoints)
    return _CACHE[key]
