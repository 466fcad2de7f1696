"""Training shards from users' recordings (``data_pipeline.readers``): analysis and windowing.

Each recording becomes one ``.npz`` shard (``midi_ddsp.shards``) under ``<out_dir>/shards/``:
for the training split, consecutive windows of ``window_s`` seconds (the last partial window
zero-padded when it holds at least ``min_last_window_s``); for evaluation splits, the whole piece
as one example. ``<out_dir>/manifest.jsonl`` gets one record per recording: ``{"status": "ok",
"file", "shard", "example_ids", ...}`` or ``{"status": "error", "file", "error"}`` (one line
naming the file). Recordings already recorded as ok whose shard exists are skipped, so an
interrupted build resumes where it stopped. :func:`window_notes` also cuts the notes of the
rendered corpus (``data_pipeline.corpus``). The command line is ``midi_ddsp_build_shards``
(``midi_ddsp.cli.build_corpus``).
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

from midi_ddsp.config import DEFAULT_SIGNAL_CONFIG
from midi_ddsp.data_pipeline.readers import Recording, load_audio, load_recording_notes
from midi_ddsp.errors import InputFileError, MidiDDSPError, ParameterError
from midi_ddsp.shards import Example

__all__ = [
    "SPLITS",
    "BuildReport",
    "assign_split",
    "build_shards_from_recordings",
    "window_notes",
    "window_note_marks",
]

logger = logging.getLogger(__name__)

_RANGE_MARGIN = 3
"""Semitones added on both sides of the instrument's (and the notes') range for f0 search."""

SPLITS = ("train", "valid", "test")
_DEFAULT_SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
_MANIFEST = "manifest.jsonl"
_SHARD_DIR = "shards"


@dataclasses.dataclass
class BuildReport:
    """What ``build_shards_from_recordings`` did.

    Attributes:
        written: shard paths written in this run.
        skipped: names of recordings already done (manifest + shard present).
        errors: one line per failed recording, ``"<file>: <problem>"``.
        n_examples: examples written in this run.
    """

    written: list = dataclasses.field(default_factory=list)
    skipped: list = dataclasses.field(default_factory=list)
    errors: list = dataclasses.field(default_factory=list)
    n_examples: int = 0


def assign_split(source: str, *, fractions: Sequence[float] = _DEFAULT_SPLIT_FRACTIONS) -> str:
    """Deterministic split of a source id: ``"train"``/``"valid"``/``"test"`` by a stable hash."""
    digest = hashlib.sha1(source.encode("utf-8")).digest()
    u = int.from_bytes(digest[:8], "big") / 2 ** 64
    edges = np.cumsum(fractions) / np.sum(fractions)
    return SPLITS[min(int(np.searchsorted(edges, u, side="right")), len(SPLITS) - 1)]


def _resolve_split(split, source: str) -> str:
    if split is None:
        value = assign_split(source)
    elif isinstance(split, str):
        value = split
    elif isinstance(split, Mapping):
        value = split.get(source) or assign_split(source)
    elif callable(split):
        value = split(source)
    else:
        raise ParameterError(f"split: expected a name, a mapping, a function or None, got {split!r}")
    if value not in SPLITS:
        raise ParameterError(f"split: expected one of {SPLITS}, got {value!r}")
    return value


def _f0_search_range(instrument: str, notes: np.ndarray) -> tuple[float, float]:
    """f0 search range: the instrument's range and the notes' pitches, +-_RANGE_MARGIN semitones."""
    from midi_ddsp.crepe import DEFAULT_FMAX_HZ, DEFAULT_FMIN_HZ
    from midi_ddsp.dsp.units import midi_to_hz
    from midi_ddsp.instruments import get_instrument

    inst = get_instrument(instrument)
    low = min(inst.lowest_midi, float(notes[:, 0].min())) - _RANGE_MARGIN
    high = max(inst.highest_midi, float(notes[:, 0].max())) + _RANGE_MARGIN
    fmin = max(DEFAULT_FMIN_HZ, float(midi_to_hz(low)))
    fmax = min(DEFAULT_FMAX_HZ, float(midi_to_hz(high)))
    return (fmin, fmax) if fmin < fmax else (DEFAULT_FMIN_HZ, DEFAULT_FMAX_HZ)


def window_notes(notes: np.ndarray, start_s: float, stop_s: float) -> np.ndarray:
    """The notes sounding in the window [start_s, stop_s), clipped to it, relative to its start.

    Args:
        notes: [n_notes, 4]: pitch, onset_s, offset_s, velocity (seconds from the start of the
            recording); the arithmetic is done in this array's dtype.
        start_s, stop_s: the window, in seconds, ``start_s < stop_s``.

    Returns:
        float32 [n_kept, 4]: notes with ``offset_s > start_s`` and ``onset_s < stop_s``, onsets
        and offsets clipped to the window and shifted so that 0 is its start; notes left with no
        duration are dropped.
    """
    out = notes[_window_keep(notes, start_s, stop_s)].copy()
    out[:, 1] = np.clip(out[:, 1] - start_s, 0.0, stop_s - start_s)
    out[:, 2] = np.clip(out[:, 2] - start_s, 0.0, stop_s - start_s)
    return out.reshape(-1, 4).astype(np.float32)


def _window_keep(notes: np.ndarray, start_s: float, stop_s: float) -> np.ndarray:
    """Which notes ``window_notes`` keeps, bool [n_notes]."""
    on = np.clip(notes[:, 1] - start_s, 0.0, stop_s - start_s)
    off = np.clip(notes[:, 2] - start_s, 0.0, stop_s - start_s)
    return (notes[:, 2] > start_s) & (notes[:, 1] < stop_s) & (off > on)


def window_note_marks(notes: np.ndarray, note_marks: "np.ndarray | None", start_s: float,
                      stop_s: float) -> "np.ndarray | None":
    """The marks (int16 [n_notes, 5], or None) of the notes ``window_notes`` keeps."""
    if note_marks is None:
        return None
    return np.asarray(note_marks)[_window_keep(notes, start_s, stop_s)]


def _examples_of(recording: Recording, *, split: str, instrument: str, notes: np.ndarray,
                 features, params, window_s: float, min_last_window_s: float) -> list[Example]:
    sample_rate, frame_rate = features.sample_rate, features.frame_rate
    hop = sample_rate // frame_rate
    n_frames = features.n_frames
    audio = features.audio[:n_frames * hop]
    frame_arrays = {
        "f0_hz": features.f0_hz, "f0_confidence": features.f0_confidence,
        "loudness_db": features.loudness_db, "amplitude": params.amplitude,
        "harmonic_distribution": params.harmonic_distribution,
        "noise_magnitudes": params.noise_magnitudes,
    }
    if split != "train":
        return [Example(example_id=f"{recording.name}-full", instrument=instrument, split=split,
                        source=recording.source, audio=audio, notes=notes, **frame_arrays)]
    win_frames = int(round(window_s * frame_rate))
    if win_frames <= 0:
        raise ParameterError(f"window_s: expected > 0, got {window_s}")
    examples = []
    for k, start in enumerate(range(0, n_frames, win_frames)):
        stop = min(start + win_frames, n_frames)
        if stop - start < win_frames and (stop - start) < min_last_window_s * frame_rate:
            break
        pad = win_frames - (stop - start)
        sliced = {}
        for key, value in frame_arrays.items():
            part = value[start:stop]
            if pad:
                fill = {"loudness_db": -120.0}.get(key, 0.0)
                if key == "harmonic_distribution":
                    fill = 1.0 / value.shape[1]
                part = np.concatenate([part, np.full((pad, *value.shape[1:]), fill, value.dtype)])
            sliced[key] = part
        clip = audio[start * hop:stop * hop]
        if pad:
            clip = np.concatenate([clip, np.zeros(pad * hop, np.float32)])
        examples.append(Example(
            example_id=f"{recording.name}-{k:03d}", instrument=instrument, split=split,
            source=recording.source, audio=clip,
            notes=window_notes(notes, start / frame_rate, (start + win_frames) / frame_rate),
            **sliced))
    return examples


def build_shards_from_recordings(recordings: Iterable[Recording], out_dir: "str | os.PathLike[str]",
                                 *, window_s: float = 4.0, min_last_window_s: float = 1.0,
                                 split: "str | Mapping[str, str] | Callable[[str], str] | None" = None,
                                 f0_method: str = "crepe", model: str = "tiny",
                                 voicing_threshold: float = 0.5, pitch_unit: str = "hz",
                                 measure_floor: bool = False) -> BuildReport:
    """Features, analysed synthesis parameters and notes of recordings, written as shards.

    Per recording: load audio (any rate; resampled to 16 kHz) and notes, compute f0 /
    confidence / loudness (``features.compute_features``; f0 searched within the instrument's
    range and the notes' pitches, +-3 semitones), analyse harmonic amplitudes and noise
    with f0 set to 0 where the confidence is below ``voicing_threshold``
    (``analysis.analyse_audio``; the stored f0 of voiced frames is the one measured from the
    harmonic peaks), cut into examples (training: ``window_s`` windows; valid/test:
    the whole piece), write ``<out_dir>/shards/<name>.npz`` atomically and append a manifest
    record. A failing recording appends an error record naming its file and the run goes on.

    Args:
        recordings: from :func:`read_urmp` / :func:`read_midi_pairs`.
        out_dir: output folder (created).
        window_s: training window length in seconds.
        min_last_window_s: a last, partial training window shorter than this is dropped (else
            zero-padded to ``window_s``).
        split: one split for all (``"train"``), a mapping source -> split, a function of the
            source, or None for a stable 80/10/10 hash of the source (:func:`assign_split`).
        f0_method, model: pitch tracker (``"crepe"`` tiny/full, or ``"pyin"``).
        voicing_threshold: confidence below which frames count as unvoiced for the analysis.
        pitch_unit: unit of the URMP note files' second column (``"hz"`` or ``"midi"``).
        measure_floor: also record the resynthesis floor (``analysis.resynthesis_floor``) of
            each recording in the manifest (costs one DDSP render).

    Returns:
        a ``BuildReport``.
    """
    from midi_ddsp.analysis import analyse_audio, resynthesis_floor
    from midi_ddsp.data_pipeline.features import compute_features, voiced_f0
    from midi_ddsp.shards import append_manifest, read_manifest, write_shard

    if not window_s > 0:
        raise ParameterError(f"window_s: expected > 0, got {window_s}")
    out_dir = Path(out_dir)
    (out_dir / _SHARD_DIR).mkdir(parents=True, exist_ok=True)
    manifest = out_dir / _MANIFEST
    done = {r.get("name") for r in read_manifest(manifest)
            if r.get("status") == "ok" and (out_dir / str(r.get("shard", ""))).is_file()}
    report = BuildReport()
    config = DEFAULT_SIGNAL_CONFIG
    for recording in recordings:
        if recording.name in done:
            report.skipped.append(recording.name)
            continue
        try:
            split_name = _resolve_split(split, recording.source)
            notes, instrument = load_recording_notes(recording, pitch_unit=pitch_unit)
            audio, sample_rate = load_audio(recording.audio_path)
            fmin_hz, fmax_hz = _f0_search_range(instrument, notes)
            features = compute_features(audio, sample_rate=sample_rate, f0_method=f0_method,
                                        model=model, frame_rate=config.frame_rate,
                                        fmin_hz=fmin_hz, fmax_hz=fmax_hz)
            if features.n_frames == 0:
                raise InputFileError(recording.audio_path, "audio shorter than one frame")
            params = analyse_audio(features.audio[:features.n_frames * config.hop_size],
                                   voiced_f0(features.f0_hz, features.f0_confidence,
                                             threshold=voicing_threshold),
                                   sample_rate=config.sample_rate, frame_rate=config.frame_rate,
                                   n_harmonics=config.n_harmonics,
                                   n_noise_bands=config.n_noise_bands, refine_f0=True)
            # voiced frames keep the f0 measured from the harmonic peaks (more precise than the
            # tracker); unvoiced frames keep the tracker's best guess
            features.f0_hz = np.where(params.f0_hz > 0, params.f0_hz,
                                      features.f0_hz).astype(np.float32)
            examples = _examples_of(recording, split=split_name, instrument=instrument,
                                    notes=notes, features=features, params=params,
                                    window_s=window_s, min_last_window_s=min_last_window_s)
            if not examples:
                raise InputFileError(recording.audio_path,
                                     f"shorter than min_last_window_s ({min_last_window_s} s)")
            shard_rel = f"{_SHARD_DIR}/{recording.name}.npz"
            write_shard(out_dir / shard_rel, examples)
            record = {"status": "ok", "name": recording.name, "file": str(recording.audio_path),
                      "notes_file": str(recording.notes_path), "shard": shard_rel,
                      "example_ids": [e.example_id for e in examples], "n_examples": len(examples),
                      "instrument": instrument, "split": split_name, "source": recording.source,
                      "seconds": round(features.n_frames / config.frame_rate, 3),
                      "n_notes": int(notes.shape[0]), "f0_method": f0_method,
                      "voiced_fraction": round(float(np.mean(
                          features.f0_confidence >= voicing_threshold)), 4)}
            if measure_floor:
                record["resynthesis_floor"] = round(resynthesis_floor(
                    features.audio[:features.n_frames * config.hop_size], params,
                    sample_rate=config.sample_rate), 4)
            append_manifest(manifest, record)
            report.written.append(out_dir / shard_rel)
            report.n_examples += len(examples)
        except Exception as exc:  # noqa: BLE001 - one bad recording must not stop the batch
            line = _error_line(recording.audio_path, exc)
            if isinstance(exc, MidiDDSPError):
                logger.error("%s", line)
            else:  # unexpected: keep the traceback in the log
                logger.exception("%s", line)
            append_manifest(manifest, {"status": "error", "name": recording.name,
                                       "file": str(recording.audio_path), "error": line})
            report.errors.append(line)
    return report


def _error_line(path: Path, exc: BaseException) -> str:
    """One line naming the file and the problem (the exception's type when unexpected)."""
    if isinstance(exc, InputFileError):
        line = str(exc)
    else:
        detail = str(exc)
        line = f"{path}: {type(exc).__name__}" + (f": {detail}" if detail.split() else "")
    return " ".join(line.split())
