"""Readers for users' own recordings (URMP layout, audio + MIDI pairs) into training shards.

Two layouts are read into ``Recording`` descriptions (paths, instrument, source); nothing is
loaded until :func:`build_shards_from_recordings` needs it, so one bad file costs one error
record, never the run.

**URMP layout** (Li et al., 2018): a root folder holding one folder per piece, e.g.
``01_Jupiter_vn_vc/``, which contains for every part ``n`` the separated audio
``AuSep_<n>_<inst>_<piece>.wav`` and the note annotation ``Notes_<n>_<inst>_<piece>.txt``
(``<piece>`` = ``01_Jupiter``; the ``Mix_*.wav``, ``F0s_*.txt`` and video files are ignored).
``<inst>`` is one of URMP's abbreviations vn, va, vc, db, fl, ob, cl, sax, bn, tpt, hn, tbn, tba,
resolved with ``midi_ddsp.instruments.get_instrument``.

*Assumed note-file format* (URMP's ``Notes_*.txt``): one note per line, three numeric columns
separated by tabs and/or spaces: ``onset_s  frequency_hz  duration_s`` (onset and duration in
seconds from the start of the audio, the note's nominal frequency in Hz, converted to the nearest
MIDI pitch). Blank lines and lines starting with ``#`` are skipped. If your files carry MIDI
numbers in the second column, pass ``pitch_unit="midi"``. URMP has no velocities; notes get
velocity ``DEFAULT_VELOCITY``.

**Generic pairs**: a folder of ``name.wav`` (or .flac/.aif/.aiff/.ogg) with ``name.mid`` (or
``.midi``) beside it. The MIDI should be monophonic; otherwise its first pitched part (first
track, highest voice, as split by ``midi_ddsp.score.load_score``) is used, with a warning. The
instrument comes from the ``instrument`` argument (e.g. a CLI flag) or else the MIDI program.

Shards: each recording becomes one ``.npz`` shard (``data_pipeline.shards``) under
``<out_dir>/shards/``: for the training split, consecutive windows of ``window_s`` seconds (the
last partial window zero-padded when it holds at least ``min_last_window_s``); for evaluation
splits, the whole piece as one example. ``<out_dir>/manifest.jsonl`` gets one record per
recording: ``{"status": "ok", "file", "shard", "example_ids", ...}`` or ``{"status": "error",
"file", "error"}`` (one line naming the file). Recordings already recorded as ok whose shard
exists are skipped, so an interrupted build resumes where it stopped.
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import re
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

from midi_ddsp.config import DEFAULT_SIGNAL_CONFIG
from midi_ddsp.errors import InputFileError, MidiDDSPError, ParameterError

__all__ = [
    "AUDIO_EXTENSIONS",
    "DEFAULT_VELOCITY",
    "URMP_INSTRUMENTS",
    "BuildReport",
    "Recording",
    "assign_split",
    "build_shards_from_recordings",
    "load_audio",
    "load_recording_notes",
    "read_midi_pairs",
    "read_urmp",
    "read_urmp_notes",
    "main",
]

logger = logging.getLogger(__name__)

AUDIO_EXTENSIONS = (".wav", ".flac", ".aif", ".aiff", ".ogg")
_MIDI_EXTENSIONS = (".mid", ".midi")

DEFAULT_VELOCITY = 100
"""Velocity given to notes whose annotation has none (URMP)."""

URMP_INSTRUMENTS = ("vn", "va", "vc", "db", "fl", "ob", "cl", "sax", "bn", "tpt", "hn", "tbn", "tba")
"""URMP's instrument abbreviations (all are aliases in ``midi_ddsp.instruments``)."""

_URMP_AUDIO = re.compile(r"^AuSep_(?P<track>\d+)_(?P<inst>[A-Za-z]+)_(?P<piece>.+)\.wav$")

_RANGE_MARGIN = 3
"""Semitones added on both sides of the instrument's (and the notes') range for f0 search."""

SPLITS = ("train", "valid", "test")
_DEFAULT_SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
_MANIFEST = "manifest.jsonl"
_SHARD_DIR = "shards"


@dataclasses.dataclass(frozen=True)
class Recording:
    """One monophonic recording and where its aligned notes are.

    Attributes:
        name: unique id (used for example ids and the shard file name).
        audio_path: the audio file.
        notes_path: the note file (URMP ``Notes_*.txt`` or a MIDI file); None when missing.
        notes_format: ``"urmp"`` or ``"midi"``.
        instrument: instrument name or alias as given (resolved when the file is built), or
            None to take it from the MIDI program.
        source: id of the source piece (examples of one source never span splits).
    """

    name: str
    audio_path: Path
    notes_path: "Path | None"
    notes_format: str
    instrument: "str | None"
    source: str


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


# ---------------------------------------------------------------------------------------------
# layouts
# ---------------------------------------------------------------------------------------------
def read_urmp(root: "str | os.PathLike[str]") -> list[Recording]:
    """Recordings of a URMP-layout folder (one subfolder per piece; see the module docstring).

    Args:
        root: the dataset folder (or a single piece folder).

    Returns:
        one ``Recording`` per ``AuSep_*.wav``, sorted by path; ``source`` is the piece folder's
        name, ``name`` is ``"urmp-<piece folder>-<part>-<inst>"``.

    Raises:
        InputFileError: ``root`` is not a folder or holds no ``AuSep_*.wav`` file.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputFileError(root, "not a folder")
    audio_files = sorted(root.glob("AuSep_*.wav")) + sorted(root.glob("*/AuSep_*.wav"))
    recordings = []
    for path in audio_files:
        match = _URMP_AUDIO.match(path.name)
        if match is None:
            logger.warning("%s: not named AuSep_<part>_<inst>_<piece>.wav; skipped", path)
            continue
        track, inst, piece = match.group("track"), match.group("inst").lower(), match.group("piece")
        notes = path.with_name(f"Notes_{track}_{match.group('inst')}_{piece}.txt")
        recordings.append(Recording(
            name=_safe_name(f"urmp-{path.parent.name}-{track}-{inst}"), audio_path=path,
            notes_path=notes if notes.is_file() else None, notes_format="urmp",
            instrument=inst, source=f"urmp-{path.parent.name}"))
    if not recordings:
        raise InputFileError(root, "no URMP separated-track audio (AuSep_*.wav) found")
    return recordings


def read_midi_pairs(folder: "str | os.PathLike[str]", *, instrument: "str | None" = None,
                    recursive: bool = False) -> list[Recording]:
    """Recordings of a folder of ``name.wav`` + ``name.mid`` pairs.

    Args:
        folder: the folder to scan.
        instrument: instrument of every recording (name or alias); None: each MIDI file's
            program decides.
        recursive: also scan subfolders.

    Returns:
        one ``Recording`` per audio file, sorted by path (``notes_path`` None when the MIDI
        file is missing: that recording then fails with an error record). ``source`` and
        ``name`` are the path relative to ``folder`` without extension.

    Raises:
        InputFileError: ``folder`` is not a folder or holds no audio file.
        ParameterError: ``instrument`` is not a known instrument.
    """
    from midi_ddsp.instruments import get_instrument

    folder = Path(folder)
    if not folder.is_dir():
        raise InputFileError(folder, "not a folder")
    if instrument is not None:
        instrument = get_instrument(instrument).name  # fail early on a bad flag
    pattern = "**/*" if recursive else "*"
    audio_files = sorted(p for p in folder.glob(pattern)
                         if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
    recordings = []
    for path in audio_files:
        midi = next((path.with_suffix(ext) for ext in (*_MIDI_EXTENSIONS,
                                                       *(e.upper() for e in _MIDI_EXTENSIONS))
                     if path.with_suffix(ext).is_file()), None)
        stem = path.relative_to(folder).with_suffix("").as_posix()
        recordings.append(Recording(name=_safe_name(stem), audio_path=path, notes_path=midi,
                                    notes_format="midi", instrument=instrument,
                                    source=_safe_name(stem)))
    if not recordings:
        raise InputFileError(folder, f"no audio files ({', '.join(AUDIO_EXTENSIONS)}) found")
    return recordings


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]+", "_", text.replace("/", "__")).strip("_") or "recording"


# ---------------------------------------------------------------------------------------------
# loading
# ---------------------------------------------------------------------------------------------
def load_audio(path: "str | os.PathLike[str]") -> tuple[np.ndarray, int]:
    """Mono float32 audio and its sample rate (channels averaged).

    Raises:
        InputFileError: missing, unreadable, empty or non-finite audio.
    """
    import soundfile

    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "audio file not found")
    try:
        data, sample_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # noqa: BLE001 - libsndfile raises several types
        raise InputFileError(path, f"cannot read audio ({_one_line(exc)})") from None
    if data.shape[0] == 0:
        raise InputFileError(path, "audio file holds no samples")
    audio = data.mean(axis=1)
    if not np.all(np.isfinite(audio)):
        raise InputFileError(path, "audio holds NaN or inf samples")
    return audio.astype(np.float32), int(sample_rate)


def read_urmp_notes(path: "str | os.PathLike[str]", *, pitch_unit: str = "hz") -> np.ndarray:
    """Notes of a URMP ``Notes_*.txt`` file (format in the module docstring).

    Args:
        path: the note file.
        pitch_unit: ``"hz"`` (URMP) or ``"midi"``: unit of the second column.

    Returns:
        float32 [n_notes, 4]: pitch (MIDI, rounded), onset_s, offset_s, velocity; sorted by onset.

    Raises:
        InputFileError: missing file, a malformed line (its number is named), no notes.
    """
    from midi_ddsp.dsp.core import hz_to_midi

    if pitch_unit not in ("hz", "midi"):
        raise ParameterError(f"pitch_unit: expected 'hz' or 'midi', got {pitch_unit!r}")
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InputFileError(path, f"cannot read note file ({_one_line(exc)})") from None
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.replace(",", " ").split()
        try:
            onset, pitch, duration = (float(v) for v in fields[:3])
        except ValueError:  # not a number, or fewer than three columns
            raise InputFileError(path, f"line {number}: expected 'onset_s frequency duration_s', "
                                       f"got {line[:60]!r}") from None
        if not (np.isfinite(onset) and np.isfinite(pitch) and np.isfinite(duration)) \
                or onset < 0 or duration <= 0 or pitch <= 0:
            raise InputFileError(path, f"line {number}: invalid note {line[:60]!r}")
        midi = float(hz_to_midi(pitch)) if pitch_unit == "hz" else pitch
        rows.append((round(midi), onset, onset + duration, DEFAULT_VELOCITY))
    if not rows:
        raise InputFileError(path, "note file holds no notes")
    notes = np.asarray(sorted(rows, key=lambda r: r[1]), np.float32)
    if notes[:, 0].min() < 0 or notes[:, 0].max() > 127:
        raise InputFileError(path, "pitches outside MIDI 0..127 (is pitch_unit right?)")
    return notes


def load_recording_notes(recording: Recording, *, pitch_unit: str = "hz") -> tuple[np.ndarray, str]:
    """The notes [n_notes, 4] and canonical instrument name of a recording.

    Raises:
        InputFileError: missing/corrupt note file, no pitched part, unknown instrument.
    """
    from midi_ddsp.instruments import get_instrument
    from midi_ddsp.score import load_score

    if recording.notes_path is None:
        kind = "Notes_*.txt" if recording.notes_format == "urmp" else ".mid"
        raise InputFileError(recording.audio_path, f"no matching {kind} note file")
    if recording.notes_format == "urmp":
        notes = read_urmp_notes(recording.notes_path, pitch_unit=pitch_unit)
        instrument = recording.instrument
    elif recording.notes_format == "midi":
        score = load_score(recording.notes_path)
        parts = [p for p in score.parts if not p.is_drum and p.notes]
        if not parts:
            raise InputFileError(recording.notes_path, "no pitched notes")
        if len(parts) > 1:
            logger.warning("%s: %d parts/voices; using the first (%s)", recording.notes_path,
                           len(parts), parts[0].name)
        part = parts[0]
        notes = np.asarray([(n.pitch, n.onset_s, n.offset_s, n.velocity) for n in part.notes],
                           np.float32).reshape(-1, 4)
        instrument = recording.instrument
        if instrument is None:
            if part.instrument is None:
                raise InputFileError(recording.notes_path,
                                     f"GM program {part.program} maps to no model instrument; "
                                     "give the instrument explicitly")
            instrument = part.instrument.name
    else:
        raise ParameterError(f"notes_format: expected 'urmp' or 'midi', got {recording.notes_format!r}")
    try:
        name = get_instrument(instrument).name
    except ParameterError as exc:
        raise InputFileError(recording.audio_path, str(exc)) from None
    return notes, name


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# ---------------------------------------------------------------------------------------------
# shards
# ---------------------------------------------------------------------------------------------
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
    from midi_ddsp.dsp.core import midi_to_hz
    from midi_ddsp.instruments import get_instrument

    inst = get_instrument(instrument)
    low = min(inst.lowest_midi, float(notes[:, 0].min())) - _RANGE_MARGIN
    high = max(inst.highest_midi, float(notes[:, 0].max())) + _RANGE_MARGIN
    fmin = max(DEFAULT_FMIN_HZ, float(midi_to_hz(low)))
    fmax = min(DEFAULT_FMAX_HZ, float(midi_to_hz(high)))
    return (fmin, fmax) if fmin < fmax else (DEFAULT_FMIN_HZ, DEFAULT_FMAX_HZ)


def _window_notes(notes: np.ndarray, start_s: float, stop_s: float) -> np.ndarray:
    keep = (notes[:, 2] > start_s) & (notes[:, 1] < stop_s)
    out = notes[keep].copy()
    out[:, 1] = np.clip(out[:, 1] - start_s, 0.0, stop_s - start_s)
    out[:, 2] = np.clip(out[:, 2] - start_s, 0.0, stop_s - start_s)
    return out[out[:, 2] > out[:, 1]].reshape(-1, 4).astype(np.float32)


def _examples_of(recording: Recording, *, split: str, instrument: str, notes: np.ndarray,
                 features, params, window_s: float, min_last_window_s: float) -> list:
    from midi_ddsp.data_pipeline.shards import Example

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
            notes=_window_notes(notes, start / frame_rate, (start + win_frames) / frame_rate),
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
    from midi_ddsp.data_pipeline.shards import append_manifest, read_manifest, write_shard

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
            line = str(exc) if isinstance(exc, InputFileError) \
                else f"{recording.audio_path}: {_one_line(exc)}"
            line = " ".join(line.split())
            if isinstance(exc, MidiDDSPError):
                logger.error("%s", line)
            else:  # unexpected: keep the traceback in the log
                logger.exception("%s", line)
            append_manifest(manifest, {"status": "error", "name": recording.name,
                                       "file": str(recording.audio_path), "error": line})
            report.errors.append(line)
    return report


# ---------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------
def main(argv: "Sequence[str] | None" = None) -> int:
    """Build training shards from your own recordings.

    usage: python -m midi_ddsp.data_pipeline.readers {urmp,pairs} INPUT OUT_DIR
           [--instrument NAME] [--split {train,valid,test}] [--window-s 4.0]
           [--f0-method {crepe,pyin}] [--model {tiny,full}]
    """
    import argparse

    parser = argparse.ArgumentParser(prog="python -m midi_ddsp.data_pipeline.readers",
                                     description=main.__doc__.splitlines()[0])
    parser.add_argument("layout", choices=("urmp", "pairs"),
                        help="urmp: URMP piece folders; pairs: name.wav + name.mid")
    parser.add_argument("input", help="dataset folder")
    parser.add_argument("out_dir", help="output folder (shards/ and manifest.jsonl)")
    parser.add_argument("--instrument", default=None,
                        help="pairs only: instrument of every file (default: MIDI program)")
    parser.add_argument("--split", choices=SPLITS, default=None,
                        help="one split for everything (default: stable 80/10/10 hash per piece)")
    parser.add_argument("--window-s", type=float, default=4.0, help="training window seconds")
    parser.add_argument("--f0-method", choices=("crepe", "pyin"), default="crepe")
    parser.add_argument("--model", choices=("tiny", "full"), default="tiny")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        if args.layout == "urmp":
            recordings = read_urmp(args.input)
        else:
            recordings = read_midi_pairs(args.input, instrument=args.instrument)
        report = build_shards_from_recordings(recordings, args.out_dir, window_s=args.window_s,
                                              split=args.split, f0_method=args.f0_method,
                                              model=args.model)
    except MidiDDSPError as exc:
        logger.error("%s", exc)
        return 2
    logger.info("%d shard(s), %d example(s) written, %d skipped, %d failed",
                len(report.written), report.n_examples, len(report.skipped), len(report.errors))
    return 1 if report.errors else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
