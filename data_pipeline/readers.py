"""Readers of users' own recordings (URMP layout, audio + MIDI pairs) into ``Recording`` rows.

Two layouts are read into ``Recording`` descriptions (paths, instrument, source); nothing is
loaded until :func:`load_audio` / :func:`load_recording_notes` are called (by
``data_pipeline.shard_builder``, which turns recordings into training shards), so one bad file
costs one error record, never the run.

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
"""
from __future__ import annotations

import dataclasses
import logging
import os
import re
from pathlib import Path

import numpy as np

from midi_ddsp.errors import InputFileError, ParameterError

__all__ = [
    "AUDIO_EXTENSIONS",
    "DEFAULT_VELOCITY",
    "Recording",
    "load_audio",
    "load_recording_notes",
    "read_midi_pairs",
    "read_urmp",
    "read_urmp_notes",
]

logger = logging.getLogger(__name__)

AUDIO_EXTENSIONS = (".wav", ".flac", ".aif", ".aiff", ".ogg")
_MIDI_EXTENSIONS = (".mid", ".midi")

DEFAULT_VELOCITY = 100
"""Velocity given to notes whose annotation has none (URMP)."""

_URMP_AUDIO = re.compile(r"^AuSep_(?P<track>\d+)_(?P<inst>[A-Za-z]+)_(?P<piece>.+)\.wav$")


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
    from midi_ddsp.dsp.units import hz_to_midi

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
