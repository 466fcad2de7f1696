"""Score front end: notes, monophonic parts and whole scores, and loading them from files.

A ``Score`` holds ``Part`` objects; each pitched part is one monophonic voice (no two notes
overlap) of one instrument. Times are in seconds, tempo changes already applied.

``load_score`` reads MIDI (``.mid``/``.midi``), MusicXML (``.musicxml``/``.xml``/``.mxl``),
Humdrum kern (``.krn``) and abc (``.abc``) files, ``pretty_midi.PrettyMIDI`` objects and
note_seq ``NoteSequence`` objects. Polyphonic tracks are split into simultaneous monophonic
voices (never serialised); drum tracks are kept as parts with ``is_drum=True`` and no
instrument. Every problem with a file is one ``InputFileError`` naming the file.
"""
from __future__ import annotations

import collections
import dataclasses
import io
import logging
import os
import re
from typing import Any, Iterable, Mapping

import numpy as np

from midi_ddsp.errors import InputFileError, ParameterError
from midi_ddsp.instruments import Instrument, get_instrument, instrument_for_program
from midi_ddsp.midi_controls import ChannelEvents, MidiControls, sustain_offsets

__all__ = [
    "Note",
    "Part",
    "Score",
    "note_frame_span",
    "SCORE_EXTENSIONS",
    "load_score",
    "score_from_notes",
    "require_pitched_parts",
    "fit_part_to_range",
]

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Note:
    """One note.

    Attributes:
        pitch: MIDI note number (0..127, 69 = A4 = 440 Hz).
        onset_s: start time in seconds, >= 0.
        offset_s: end time in seconds, > onset_s.
        velocity: MIDI velocity 1..127.
    """

    pitch: int
    onset_s: float
    offset_s: float
    velocity: int = 100

    @property
    def duration_s(self) -> float:
        return self.offset_s - self.onset_s


@dataclasses.dataclass
class Part:
    """One monophonic voice: notes sorted by onset, none overlapping.

    Drum parts (``is_drum=True``) are the one exception: they keep all notes of the drum track
    unsplit (sorted by onset, possibly overlapping) and never carry an instrument.

    Attributes:
        notes: the notes, sorted by onset.
        instrument: the model instrument, or None when the program has none (e.g. piano, drums).
        program: 0-based General MIDI program of the source track.
        name: human-readable name (track name and voice), used for stem file names.
        is_drum: whether the source track is a percussion track (channel 10).
        track: index of the source track in the file.
        voice: index of the voice within the track (0 for a monophonic track).
        controls: MIDI performance controls of the source channel (pitch bend, CC7, CC11,
            CC1; ``midi_ddsp.midi_controls``), shared by the voices of a track; None if none.
    """

    notes: list[Note]
    instrument: "Instrument | None" = None
    program: int = 0
    name: str = ""
    is_drum: bool = False
    track: int = 0
    voice: int = 0
    controls: "MidiControls | None" = None

    @property
    def end_s(self) -> float:
        """Time of the last note offset in seconds (0 for an empty part)."""
        return max((n.offset_s for n in self.notes), default=0.0)


@dataclasses.dataclass
class Score:
    """A parsed score file: its parts (monophonic voices) and where it came from.

    Attributes:
        parts: the parts in file order (track, then voice), drum parts included.
        source: the file path, or ``"<PrettyMIDI>"`` / ``"<NoteSequence>"`` / ``"<notes>"``
            for in-memory input.
    """

    parts: list[Part]
    source: str = ""

    @property
    def end_s(self) -> float:
        return max((p.end_s for p in self.parts), default=0.0)

    @property
    def pitched_parts(self) -> list[Part]:
        """Parts a model can play: not drums, with an instrument."""
        return [p for p in self.parts if p.instrument is not None and not p.is_drum]

    @property
    def drum_parts(self) -> list[Part]:
        """Drum parts (never given to the pitched models; FluidSynth can render them)."""
        return [p for p in self.parts if p.is_drum]


def note_frame_span(onset_s: float, offset_s: float, *, frame_rate: int) -> tuple[int, int]:
    """Frames ``[start, stop)`` covered by a note; frame i is the instant ``i / frame_rate`` s.

    Every note covers at least one frame. This is the one note-to-frame rule of the package:
    the frame features, the expression extractor and the models all use it.
    """
    start = int(round(onset_s * frame_rate))
    stop = max(start + 1, int(round(offset_s * frame_rate)))
    return start, stop


# --------------------------------------------------------------------------------------------
# Constants of the voice splitter

SCORE_EXTENSIONS: tuple[str, ...] = (".mid", ".midi", ".musicxml", ".xml", ".mxl", ".krn", ".abc")
_MIDI_EXTENSIONS = (".mid", ".midi")
_MUSIC21_FORMATS = {".musicxml": "musicxml", ".xml": "musicxml", ".mxl": "musicxml",
                    ".krn": "humdrum", ".abc": "abc"}

# Notes of one track whose onsets lie within this of the first onset of a group are treated as
# one chord when assigning voices (played chords are rarely exactly simultaneous).
_CHORD_ONSET_TOLERANCE_S = 0.010
# A note may start before the previous note of its voice has ended (legato) by up to
# max(_LEGATO_OVERLAP_S, _LEGATO_OVERLAP_FRACTION * previous duration), never more than half of
# the previous note; the previous note is then trimmed to the new onset instead of opening a
# new voice.
_LEGATO_OVERLAP_S = 0.030
_LEGATO_OVERLAP_FRACTION = 0.25
_LEGATO_MAX_FRACTION = 0.5
# Cost (in semitones) of opening a new voice instead of continuing a free one.
_NEW_VOICE_COST = 1000.0
# Float slack when comparing times that come from the same tick grid.
_TIME_EPS_S = 1e-6
_DRUM_CHANNEL = 9  # MIDI channel 10, 0-based


@dataclasses.dataclass
class _RawTrack:
    """One (track, channel, program) group of a source, before voice splitting."""

    track: int
    name: str
    program: int
    is_drum: bool
    notes: list  # of [pitch, onset_s, offset_s, velocity]
    controls: "MidiControls | None" = None


# --------------------------------------------------------------------------------------------
# Public API

def load_score(source: Any, *, instrument_overrides: "Mapping[int | str, Any] | None" = None
               ) -> Score:
    """Load a score from a file or an in-memory object; times in seconds, tempo applied.

    Args:
        source: a path (``str`` or path-like) to ``.mid``/``.midi``, ``.musicxml``/``.xml``/
            ``.mxl``, ``.krn`` or ``.abc``; a ``pretty_midi.PrettyMIDI``; a note_seq
            ``NoteSequence`` (anything with ``.notes`` whose items have ``pitch``,
            ``start_time``, ``end_time``, ``velocity``, ``program``, ``is_drum``,
            ``instrument``); or a ``Score`` (returned as is, or with the overrides applied).
        instrument_overrides: track -> instrument. Keys are 0-based track numbers (``int``) or
            track / part names (``str``, case-insensitive; ``"Piano"`` matches every voice of
            track "Piano", ``"Piano v2"`` only that voice). Track numbers are as in the MIDI
            file (a type-1 file's tempo track is track 0, so its first notes are usually on
            track 1; channels sharing one track, as in type-0 files, share its number and are
            named ``"<track name>: <program name>"``); for MusicXML/kern/abc they are the
            0-based part numbers of the score; for a PrettyMIDI object the index in
            ``.instruments``; for a NoteSequence the note's ``instrument`` number. Values are
            instrument names or aliases (see ``midi_ddsp.instruments``), ``Instrument``
            objects, or None to leave a track without a model.

    Returns:
        A ``Score``: polyphonic tracks split into monophonic voices named
        ``"<track name> v<n>"`` (n from 1, highest voice first), drum tracks as ``is_drum``
        parts without instrument (logged as a warning).

    Raises:
        InputFileError: the file is missing, empty, not a score, corrupt, or has no notes.
        ParameterError: an override names an unknown instrument or a track that does not exist.
    """
    if isinstance(source, Score):
        if not instrument_overrides:
            return source
        parts = _apply_part_overrides(source.parts, instrument_overrides, source.source)
        return Score(parts=parts, source=source.source)
    raw, label = _raw_tracks(source)
    return _build_score(raw, label, instrument_overrides)


def score_from_notes(notes_by_part: Mapping[str, Iterable[Any]], *,
                     instrument_overrides: "Mapping[str, Any] | None" = None) -> Score:
    """Build a Score from notes given per part, e.g. ``{"violin": [Note(67, 0.0, 0.5)]}``.

    Each key is a part name; its instrument is the instrument of that name when there is one
    (``"violin"``, ``"vn"``, also ``"violin 1"``: the first word is tried too), else None, unless
    ``instrument_overrides`` maps the name to an instrument. Notes are ``Note`` objects or
    ``(pitch, onset_s, offset_s[, velocity])`` tuples; overlapping notes of a part are split
    into voices exactly as ``load_score`` does.

    Raises:
        ParameterError: a note is malformed (pitch outside 0..127, offset <= onset, ...) or an
            instrument name is unknown.
    """
    if not isinstance(notes_by_part, Mapping):
        raise ParameterError(
            f"notes_by_part must be a mapping of part name -> notes, got {type(notes_by_part).__name__}")
    overrides = {str(k).strip().lower(): v for k, v in (instrument_overrides or {}).items()}
    parts: list[Part] = []
    for track, (name, notes) in enumerate(notes_by_part.items()):
        name = str(name)
        rows = [_note_row(note, name) for note in notes]
        if name.strip().lower() in overrides:
            value = overrides[name.strip().lower()]
            inst = None if value is None else get_instrument(value)
        else:
            inst = _instrument_from_name(name)
        program = inst.program if inst is not None else 0
        voices = _split_voices(rows, label=name)
        for v, voice_notes in enumerate(voices):
            parts.append(Part(notes=voice_notes, instrument=inst, program=program,
                              name=name if len(voices) == 1 else f"{name} v{v + 1}",
                              track=track, voice=v))
    return Score(parts=parts, source="<notes>")


def require_pitched_parts(score: Score) -> list[Part]:
    """The parts a model can play; raises when there are none (what the CLI wants).

    Raises:
        InputFileError: the score has only drum tracks, or no track maps to an instrument.
    """
    pitched = score.pitched_parts
    if pitched:
        return pitched
    label = score.source or "<score>"
    if not score.parts:
        raise InputFileError(label, "contains no notes")
    if all(p.is_drum for p in score.parts):
        raise InputFileError(label, "contains only drum tracks; nothing for the pitched models to play")
    programs = sorted({p.program for p in score.parts if not p.is_drum})
    names = ", ".join(f"{p} {_program_name(p)}" for p in programs)
    raise InputFileError(
        label, f"no track maps to a model instrument (GM programs: {names}); "
               "assign one with an instrument override")


def fit_part_to_range(part: Part, instrument: "Instrument | str | None" = None
                      ) -> tuple[Part, int]:
    """Transpose a part by whole octaves so its notes fit the instrument's playable range.

    Chooses the octave shift with the fewest notes outside the range (ties: the smallest
    shift). Logs a warning naming the part and the shift when it transposes, and another when
    notes remain outside the range; never raises for range problems.

    Args:
        part: the part.
        instrument: the target instrument (name, alias or Instrument); default the part's own.

    Returns:
        ``(part, semitones)``: a new Part with the transposed notes and the instrument set
        (the same part when no shift is needed) and the shift in semitones (a multiple of 12).

    Raises:
        ParameterError: no instrument given and the part has none, or an unknown name.
    """
    inst = get_instrument(instrument) if instrument is not None else part.instrument
    if inst is None:
        raise ParameterError(f"part {part.name!r} has no instrument; pass one to fit_part_to_range")
    if not part.notes:
        return (part if part.instrument is inst else dataclasses.replace(part, instrument=inst)), 0
    pitches = np.array([n.pitch for n in part.notes])
    centre = 0.5 * (inst.lowest_midi + inst.highest_midi)
    best = None
    for octaves in range(-10, 11):
        shift = 12 * octaves
        shifted = pitches + shift
        if shifted.min() < 0 or shifted.max() > 127:
            continue
        outside = int(np.sum((shifted < inst.lowest_midi) | (shifted > inst.highest_midi)))
        key = (outside, abs(octaves), abs(float(np.median(shifted)) - centre))
        if best is None or key < best[0]:
            best = (key, shift)
    (outside, _, _), shift = best
    label = part.name or f"track {part.track} voice {part.voice}"
    range_text = f"{_pitch_name(inst.lowest_midi)}-{_pitch_name(inst.highest_midi)}"
    if shift:
        logger.warning("part %r: transposed %s %d octave%s (%+d semitones) to fit the %s range %s",
                       label, "up" if shift > 0 else "down", abs(shift) // 12,
                       "" if abs(shift) == 12 else "s", shift, inst.name, range_text)
    if outside:
        logger.warning("part %r: %d of %d notes remain outside the %s range %s",
                       label, outside, len(pitches), inst.name, range_text)
    if shift == 0 and part.instrument is inst:
        return part, 0
    notes = [dataclasses.replace(n, pitch=n.pitch + shift) for n in part.notes] if shift else part.notes
    return dataclasses.replace(part, notes=notes, instrument=inst), shift


# --------------------------------------------------------------------------------------------
# Sources -> raw tracks

def _raw_tracks(source: Any) -> tuple[list[_RawTrack], str]:
    """Dispatch on the source kind; returns the raw tracks and a label for messages."""
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        return _raw_tracks_from_path(path), path
    import pretty_midi

    if isinstance(source, pretty_midi.PrettyMIDI):
        return _raw_tracks_from_pretty_midi(source), "<PrettyMIDI>"
    if hasattr(source, "notes") and not isinstance(source, (Part, Score)):
        return _raw_tracks_from_note_sequence(source), "<NoteSequence>"
    raise ParameterError(
        "source must be a path, a pretty_midi.PrettyMIDI, a NoteSequence or a Score; "
        f"got {type(source).__name__}")


def _reason(exc: BaseException) -> str:
    """A short one-line description of a library exception."""
    text = " ".join(str(exc).split())
    if len(text) > 120:
        text = text[:117] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _raw_tracks_from_path(path: str) -> list[_RawTrack]:
    if not os.path.exists(path):
        raise InputFileError(path, "file not found")
    if os.path.isdir(path):
        raise InputFileError(path, "is a directory, not a score file")
    ext = os.path.splitext(path)[1].lower()
    if ext not in SCORE_EXTENSIONS:
        shown = ext or "(none)"
        raise InputFileError(path, f"unknown score format '{shown}'; expected {', '.join(SCORE_EXTENSIONS)}")
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise InputFileError(path, f"cannot read file ({_reason(exc)})") from None
    if size == 0:
        raise InputFileError(path, "file is empty (0 bytes)")
    if ext in _MIDI_EXTENSIONS:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as exc:
            raise InputFileError(path, f"cannot read file ({_reason(exc)})") from None
        return _raw_tracks_from_midi_bytes(data, path)
    return _raw_tracks_from_music21(path, _MUSIC21_FORMATS[ext])


def _raw_tracks_from_midi_bytes(data: bytes, path: str) -> list[_RawTrack]:
    """Parse a Standard MIDI File with mido: one raw track per (track, channel, program)."""
    import mido

    if data[:4] == b"RIFF" and b"MThd" in data[:64]:  # RIFF-wrapped MIDI (.rmi)
        data = data[data.index(b"MThd"):]
    if data[:4] != b"MThd":
        raise InputFileError(path, "not a MIDI file (no MThd header)")
    try:
        midi = mido.MidiFile(file=io.BytesIO(data), clip=True)
    except EOFError:
        raise InputFileError(path, "truncated MIDI file (ends in the middle of a chunk)") from None
    except Exception as exc:  # mido raises OSError, ValueError, KeyError, KeySignatureError...
        raise InputFileError(path, f"corrupt MIDI file ({_reason(exc)})") from None
    try:
        return _raw_tracks_from_mido(midi)
    except Exception as exc:
        raise InputFileError(path, f"corrupt MIDI file ({_reason(exc)})") from None


def _raw_tracks_from_mido(midi) -> list[_RawTrack]:
    tempo_events: list[tuple[int, int]] = []  # (tick, microseconds per beat)
    # per group (track, channel, program): lists of pitch / on tick / off tick / velocity
    groups: dict[tuple[int, int, int], list] = collections.OrderedDict()
    track_names: dict[int, str] = {}
    channel_controls: dict[tuple[int, int], ChannelEvents] = {}
    n_unclosed = 0
    for ti, track in enumerate(midi.tracks):
        tick = 0
        programs = [0] * 16
        events: dict[int, ChannelEvents] = collections.defaultdict(ChannelEvents)
        sounding: dict[tuple[int, int], collections.deque] = collections.defaultdict(collections.deque)
        for msg in track:
            tick += msg.time
            kind = msg.type
            if kind == "note_on" and msg.velocity > 0:
                sounding[(msg.channel, msg.note)].append((tick, msg.velocity, programs[msg.channel]))
            elif kind == "note_off" or kind == "note_on":
                queue = sounding.get((msg.channel, msg.note))
                if queue:  # first in, first out; stray note-offs are ignored
                    on_tick, velocity, program = queue.popleft()
                    key = (ti, msg.channel, program)
                    groups.setdefault(key, []).append((msg.note, on_tick, tick, velocity))
            elif kind == "program_change":
                programs[msg.channel] = msg.program
            elif kind == "control_change":
                events[msg.channel].control_change(tick, msg.control, msg.value)
            elif kind == "pitchwheel":
                events[msg.channel].bends.append((tick, msg.pitch))
            elif kind == "set_tempo":
                tempo_events.append((tick, msg.tempo))
            elif kind == "track_name" and ti not in track_names and msg.name.strip():
                track_names[ti] = msg.name.strip()
        for (channel, pitch), queue in sounding.items():  # never released: end at track end
            for on_tick, velocity, program in queue:
                n_unclosed += 1
                groups.setdefault((ti, channel, program), []).append((pitch, on_tick, tick, velocity))
        for channel, channel_events in events.items():
            channel_controls[(ti, channel)] = channel_events
            pedal = channel_events.cc.get(64, [])
            for key in [k for k in groups if k[0] == ti and k[1] == channel]:
                groups[key] = sustain_offsets(groups[key], pedal)
    if n_unclosed:
        logger.warning("%d note(s) never released; ended at the end of their track", n_unclosed)
    to_seconds = _tick_converter(midi.ticks_per_beat, tempo_events)
    groups_per_track = collections.Counter(ti for ti, _, _ in groups)
    raw = []
    # file order: track, then channel, then first note (groups are created as notes end)
    ordered = sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], min(r[1] for r in kv[1])))
    for (ti, channel, program), rows in ordered:
        name = track_names.get(ti, "")
        if groups_per_track[ti] > 1:  # e.g. a type-0 file: name each channel by its program
            own = "Drums" if channel == _DRUM_CHANNEL else _program_name(program)
            name = f"{name}: {own}" if name else own
        arr = np.asarray(rows, dtype=np.int64).reshape(-1, 4)
        onsets = to_seconds(arr[:, 1])
        offsets = to_seconds(arr[:, 2])
        notes = [[int(p), float(a), float(b), int(v)]
                 for p, a, b, v in zip(arr[:, 0], onsets, offsets, arr[:, 3])]
        channel_events = channel_controls.get((ti, channel))
        controls = channel_events.to_controls(to_seconds) if channel_events else None
        raw.append(_RawTrack(track=ti, name=name, program=program,
                             is_drum=channel == _DRUM_CHANNEL, notes=notes, controls=controls))
    return raw


def _tick_converter(ticks_per_beat: int, tempo_events: list[tuple[int, int]]):
    """Vectorised tick -> seconds for a tempo map (default 120 bpm before the first change)."""
    if ticks_per_beat & 0x8000:  # SMPTE division: -frames per second (high byte), ticks per frame
        fps = 256 - (ticks_per_beat >> 8)
        ticks_per_frame = ticks_per_beat & 0xFF
        if fps <= 0 or ticks_per_frame == 0:
            raise ValueError("invalid SMPTE time division")
        return lambda ticks: np.asarray(ticks, dtype=np.float64) / (fps * ticks_per_frame)
    if ticks_per_beat <= 0:
        raise ValueError("time division is 0 ticks per beat")
    events: dict[int, int] = {0: 500000}
    for tick, tempo in sorted(tempo_events, key=lambda e: e[0]):  # stable: the last at a tick wins
        events[tick] = tempo
    change_ticks = np.array(sorted(events), dtype=np.int64)
    tempos = np.array([events[t] for t in change_ticks], dtype=np.float64)
    seconds_per_tick = tempos / 1e6 / ticks_per_beat
    change_seconds = np.concatenate([[0.0], np.cumsum(np.diff(change_ticks) * seconds_per_tick[:-1])])

    def to_seconds(ticks):
        ticks = np.asarray(ticks, dtype=np.int64)
        idx = np.searchsorted(change_ticks, ticks, side="right") - 1
        return change_seconds[idx] + (ticks - change_ticks[idx]) * seconds_per_tick[idx]

    return to_seconds


def _raw_tracks_from_music21(path: str, fmt: str) -> list[_RawTrack]:
    """MusicXML / kern / abc via music21, exported to MIDI so tempo handling is single-sourced."""
    import music21

    try:
        parsed = music21.converter.parse(path, format=fmt, forceSource=True)
    except Exception as exc:  # music21 raises many kinds (MusicXMLImportException, ParseError, ...)
        raise InputFileError(path, f"cannot parse as {fmt} ({_reason(exc)})") from None
    if isinstance(parsed, music21.stream.Opus):
        scores = list(parsed.scores)
        if not scores:
            raise InputFileError(path, "contains no notes")
        if len(scores) > 1:
            logger.warning("%s holds %d pieces; using the first", path, len(scores))
        parsed = scores[0]
    from midi_ddsp.score_marks import apply_marks

    try:
        apply_marks(parsed, music21)
    except Exception as exc:  # a mark music21 parsed but we cannot place: play the notes as written
        logger.warning("%s: score markings ignored (%s)", path, _reason(exc))
    try:
        data = music21.midi.translate.streamToMidiFile(parsed).writestr()
    except Exception as exc:
        raise InputFileError(path, f"cannot convert to MIDI ({_reason(exc)})") from None
    raw = _raw_tracks_from_midi_bytes(data, path)
    # music21 writes a conductor (tempo) track 0, then one track per part: number parts from 0.
    if raw and min(r.track for r in raw) >= 1:
        for r in raw:
            r.track -= 1
    return raw


def _raw_tracks_from_pretty_midi(pm) -> list[_RawTrack]:
    return [
        _RawTrack(track=i, name=(inst.name or "").strip(), program=int(inst.program),
                  is_drum=bool(inst.is_drum),
                  notes=[[int(n.pitch), float(n.start), float(n.end), int(n.velocity)]
                         for n in inst.notes])
        for i, inst in enumerate(pm.instruments)
    ]


def _raw_tracks_from_note_sequence(ns) -> list[_RawTrack]:
    names: dict[int, str] = {}
    for info in getattr(ns, "instrument_infos", ()) or ():
        try:
            names[int(info.instrument)] = str(info.name).strip()
        except (AttributeError, TypeError, ValueError):
            continue
    groups: dict[tuple[int, int, bool], list] = collections.OrderedDict()
    try:
        for n in ns.notes:
            key = (int(n.instrument), int(n.program), bool(n.is_drum))
            groups.setdefault(key, []).append(
                [int(n.pitch), float(n.start_time), float(n.end_time), int(n.velocity)])
    except (AttributeError, TypeError, ValueError) as exc:
        raise ParameterError(
            "source looks like a NoteSequence but its notes lack pitch/start_time/end_time/"
            f"velocity/program/is_drum/instrument ({_reason(exc)})") from None
    raw = [_RawTrack(track=t, name=names.get(t, ""), program=p, is_drum=d, notes=rows)
           for (t, p, d), rows in groups.items()]
    raw.sort(key=lambda r: r.track)
    return raw


# --------------------------------------------------------------------------------------------
# Raw tracks -> Score

def _build_score(raw: list[_RawTrack], label: str, overrides) -> Score:
    if not any(r.notes for r in raw):
        raise InputFileError(label, "contains no notes")
    overrides = dict(overrides or {})
    _check_override_keys(overrides, raw, label)
    parts: list[Part] = []
    for r in raw:
        notes = _clean_notes(r.notes, label=f"{label} track {r.track}")
        if not notes:
            continue
        base = _base_name(r)
        if r.is_drum:
            if _track_override(overrides, r.track, base) is not _NO_OVERRIDE:
                logger.warning("%s: track %d %r is a drum track; instrument override ignored",
                               label, r.track, base)
            logger.warning("%s: track %d %r is a drum track (%d notes); drums are not played by "
                           "the pitched models", label, r.track, base, len(notes))
            notes.sort(key=lambda n: (n[1], -n[0]))
            parts.append(Part(notes=[Note(*n) for n in notes], instrument=None, program=r.program,
                              name=base, is_drum=True, track=r.track, voice=0))
            continue
        override = _track_override(overrides, r.track, base)
        if override is _NO_OVERRIDE:
            inst = instrument_for_program(r.program)
            if inst is None:
                logger.warning("%s: track %d %r (GM program %d, %s) has no model instrument; "
                               "assign one with an instrument override", label, r.track, base,
                               r.program, _program_name(r.program))
        else:
            inst = override
        voices = _split_voices(notes, label=f"{label} track {r.track} {base!r}")
        if len(voices) > 1:
            logger.info("%s: track %d %r is polyphonic; split into %d voices",
                        label, r.track, base, len(voices))
        for v, voice_notes in enumerate(voices):
            parts.append(Part(notes=voice_notes, instrument=inst, program=r.program,
                              name=base if len(voices) == 1 else f"{base} v{v + 1}",
                              is_drum=False, track=r.track, voice=v, controls=r.controls))
    if not parts:
        raise InputFileError(label, "contains no notes")
    _make_names_unique(parts)
    parts = _apply_part_overrides(parts, _part_level_overrides(overrides, raw), label)
    return Score(parts=parts, source=label)


class _NoOverride:
    def __repr__(self) -> str:
        return "<no override>"


_NO_OVERRIDE = _NoOverride()
_VOICE_SUFFIX = re.compile(r"\s+v\d+$")


def _key(name: str) -> str:
    return " ".join(str(name).lower().split())


def _resolve_override(value):
    return None if value is None else get_instrument(value)


def _track_override(overrides, track: int, base: str):
    """The instrument an override gives a whole track (by name, else by number), if any."""
    for key, value in overrides.items():
        if isinstance(key, str) and _key(key) == _key(base):
            return _resolve_override(value)
    if track in overrides:
        return _resolve_override(overrides[track])
    return _NO_OVERRIDE


def _check_override_keys(overrides, raw: list[_RawTrack], label: str) -> None:
    entries = [(r.track, _base_name(r)) for r in raw if r.notes]
    tracks = {t for t, _ in entries}
    listing = ", ".join(f"{t} {n!r}" for t, n in entries)
    names = {_key(n) for _, n in entries}
    for key, value in overrides.items():
        if value is not None:
            get_instrument(value)  # unknown names fail early, listing the known instruments
        if isinstance(key, bool) or not isinstance(key, (int, str)):
            raise ParameterError(
                f"instrument_overrides keys must be track numbers (int) or names (str), got {key!r}")
        if isinstance(key, int) and key not in tracks:
            raise ParameterError(f"instrument_overrides: {label} has no track {key} with notes; "
                                 f"tracks: {listing}")
        if isinstance(key, str) and _key(key) not in names:
            base = _VOICE_SUFFIX.sub("", _key(key))
            if base not in names:
                raise ParameterError(f"instrument_overrides: {label} has no track or part named "
                                     f"{key!r}; tracks: {listing}")


def _part_level_overrides(overrides, raw: list[_RawTrack]):
    """The overrides naming single voices (e.g. ``"Piano v2"``), not whole tracks."""
    names = {_key(_base_name(r)) for r in raw}
    return {k: v for k, v in overrides.items() if isinstance(k, str) and _key(k) not in names}


def _apply_part_overrides(parts: list[Part], overrides, label: str, *, check_keys: bool = True
                          ) -> list[Part]:
    """Overrides applied to finished parts: by part name, track name, then track number."""
    if not overrides:
        return parts
    used = set()
    out = []
    for part in parts:
        inst = _NO_OVERRIDE
        full, base = _key(part.name), _VOICE_SUFFIX.sub("", _key(part.name))
        for key, value in overrides.items():
            if isinstance(key, str) and _key(key) == full:
                inst, _ = _resolve_override(value), used.add(key)
                break
        else:
            for key, value in overrides.items():
                if isinstance(key, str) and _key(key) == base:
                    inst, _ = _resolve_override(value), used.add(key)
                    break
            else:
                if part.track in overrides and not isinstance(part.track, bool):
                    inst = _resolve_override(overrides[part.track])
                    used.add(part.track)
        if inst is not _NO_OVERRIDE and part.is_drum:
            logger.warning("%s: part %r is a drum part; instrument override ignored", label, part.name)
            inst = _NO_OVERRIDE
        out.append(part if inst is _NO_OVERRIDE else dataclasses.replace(part, instrument=inst))
    if check_keys:
        unused = [k for k in overrides if k not in used]
        if unused:
            listing = ", ".join(f"{p.track} {p.name!r}" for p in parts)
            raise ParameterError(f"instrument_overrides: {label} has no track or part "
                                 f"{unused[0]!r}; parts: {listing}")
    return out


def _make_names_unique(parts: list[Part]) -> None:
    counts = collections.Counter(p.name for p in parts)
    for p in parts:
        if counts[p.name] > 1:
            p.name = f"{p.name} (track {p.track})"
    seen: dict[str, int] = collections.Counter()
    for p in parts:  # still duplicated (several channels of one track): number them
        seen[p.name] += 1
        if seen[p.name] > 1:
            p.name = f"{p.name} #{seen[p.name]}"


def _base_name(r: _RawTrack) -> str:
    """A track's part name before any voice suffix: its name, else "Drums" or the program name."""
    return r.name or ("Drums" if r.is_drum else _program_name(r.program))


def _program_name(program: int) -> str:
    import pretty_midi

    return pretty_midi.program_to_instrument_name(program)


def _pitch_name(pitch: int) -> str:
    import pretty_midi

    return pretty_midi.note_number_to_name(int(pitch))


def _instrument_from_name(name: str) -> "Instrument | None":
    for candidate in (name, name.split()[0] if name.split() else name):
        try:
            return get_instrument(candidate)
        except ParameterError:
            continue
    logger.warning("part %r: no instrument of that name; it gets none", name)
    return None


def _note_row(note: Any, part_name: str) -> list:
    """Validate one user-given note; returns [pitch, onset_s, offset_s, velocity]."""
    if isinstance(note, Note):
        row = [note.pitch, note.onset_s, note.offset_s, note.velocity]
    else:
        try:
            row = list(note)
        except TypeError:
            raise ParameterError(f"part {part_name!r}: notes must be Note objects or "
                                 f"(pitch, onset_s, offset_s[, velocity]) tuples, got {note!r}") from None
        if len(row) == 3:
            row.append(100)
        if len(row) != 4:
            raise ParameterError(f"part {part_name!r}: a note tuple has 3 or 4 items "
                                 f"(pitch, onset_s, offset_s[, velocity]), got {note!r}")
    pitch, onset, offset, velocity = row
    try:
        onset, offset = float(onset), float(offset)
    except (TypeError, ValueError):
        raise ParameterError(f"part {part_name!r}: note times must be numbers, got {note!r}") from None
    if (not float(pitch).is_integer()) or not 0 <= int(pitch) <= 127:
        raise ParameterError(f"part {part_name!r}: pitch must be an integer 0..127, got {pitch!r}")
    if not (np.isfinite(onset) and np.isfinite(offset)) or onset < 0 or offset <= onset:
        raise ParameterError(f"part {part_name!r}: need 0 <= onset_s < offset_s, "
                             f"got onset_s={onset}, offset_s={offset}")
    if (not float(velocity).is_integer()) or not 1 <= int(velocity) <= 127:
        raise ParameterError(f"part {part_name!r}: velocity must be an integer 1..127, got {velocity!r}")
    return [int(pitch), onset, offset, int(velocity)]


# --------------------------------------------------------------------------------------------
# Voice splitting

def _clean_notes(rows: list, *, label: str) -> list:
    """Drop zero-length notes (warning) and clamp negative onsets; rows are copied."""
    kept = []
    n_dropped = 0
    for pitch, onset, offset, velocity in rows:
        onset = max(0.0, float(onset))
        if not offset > onset:
            n_dropped += 1
            continue
        kept.append([int(pitch), onset, float(offset), int(min(127, max(1, velocity)))])
    if n_dropped:
        logger.warning("%s: dropped %d zero-length note(s)", label, n_dropped)
    return kept


def _split_voices(rows: list, *, label: str) -> list[list[Note]]:
    """Split one track's notes into monophonic voices, highest voice first.

    Notes are taken in onset order, chords (onsets within _CHORD_ONSET_TOLERANCE_S) together.
    Each chord is matched to the free voices without crossing (highest note to the highest
    free voice) at minimum total pitch distance, so lines stay lines; a voice is free when its
    last note has ended, or overlaps the new note by a legato amount or is the same pitch (the
    last note is then trimmed). Notes left over open new voices. Same-pitch notes of one chord
    are merged.
    """
    rows = sorted(([*r] for r in rows), key=lambda r: (r[1], -r[0]))
    voices: list[list[list]] = []  # each a list of rows
    n_trimmed = 0
    i = 0
    while i < len(rows):
        j = i + 1
        while j < len(rows) and rows[j][1] - rows[i][1] <= _CHORD_ONSET_TOLERANCE_S:
            j += 1
        chord = _merge_unisons(rows[i:j])
        chord.sort(key=lambda r: -r[0])
        order = sorted(range(len(voices)), key=lambda v: (-voices[v][-1][0], v))
        cost = np.full((len(chord), len(order)), np.inf)
        trim = np.zeros((len(chord), len(order)), dtype=bool)
        for a, note in enumerate(chord):
            for b, v in enumerate(order):
                free, needs_trim = _voice_is_free(voices[v][-1], note)
                if free:
                    cost[a, b] = abs(note[0] - voices[v][-1][0])
                    trim[a, b] = needs_trim
        assignment = _monotone_match(cost)
        for a, b in enumerate(assignment):
            note = chord[a]
            if b is None:
                voices.append([note])
                continue
            voice = voices[order[b]]
            if trim[a, b]:
                voice[-1][2] = note[1]
                n_trimmed += 1
            voice.append(note)
        i = j
    if n_trimmed:
        logger.info("%s: trimmed %d overlapping note(s)", label, n_trimmed)
    voices.sort(key=lambda v: -float(np.mean([r[0] for r in v])))  # highest voice first
    return [[Note(int(p), float(a), float(b), int(vel)) for p, a, b, vel in v] for v in voices]


def _merge_unisons(chord: list) -> list:
    by_pitch: dict[int, list] = {}
    for row in chord:
        if row[0] in by_pitch:
            kept = by_pitch[row[0]]
            kept[2] = max(kept[2], row[2])
            kept[3] = max(kept[3], row[3])
        else:
            by_pitch[row[0]] = row
    return list(by_pitch.values())


def _voice_is_free(last: list, note: list) -> tuple[bool, bool]:
    """(free, needs_trim): whether ``note`` can follow ``last`` in one voice."""
    if last[2] <= note[1] + _TIME_EPS_S:
        return True, last[2] > note[1]
    if note[1] <= last[1] + _TIME_EPS_S:
        return False, False
    if note[0] == last[0]:
        return True, True
    duration = last[2] - last[1]
    allowed = min(max(_LEGATO_OVERLAP_S, _LEGATO_OVERLAP_FRACTION * duration),
                  _LEGATO_MAX_FRACTION * duration)
    overlap = last[2] - note[1]
    return (True, True) if overlap <= allowed else (False, False)


def _monotone_match(cost: np.ndarray) -> list:
    """Non-crossing assignment of notes (rows) to voices (columns) at minimum cost.

    Rows and columns are both sorted highest pitch first; a row may stay unmatched (a new
    voice, cost _NEW_VOICE_COST), a column may stay unused (free). Returns the column of each
    row, or None.
    """
    usable = np.flatnonzero(np.isfinite(cost).any(axis=0))  # free voices only
    if usable.size == 0:
        return [None] * cost.shape[0]
    if usable.size < cost.shape[1]:
        return [None if b is None else int(usable[b]) for b in _monotone_match(cost[:, usable])]
    n, m = cost.shape
    if n == 1:  # a single note: the closest free voice (ties: the lower one, as the DP below)
        return [int(m - 1 - np.argmin(cost[0, ::-1]))]
    best = np.full((n + 1, m + 1), np.inf)
    best[0, :] = 0.0
    step = np.zeros((n + 1, m + 1), dtype=np.int8)  # 1 match, 2 new voice, 3 skip column
    for a in range(n + 1):
        for b in range(m + 1):
            if a == 0 and b == 0:
                continue
            options = []
            if a > 0 and b > 0:
                options.append((best[a - 1, b - 1] + cost[a - 1, b - 1], 1))
            if a > 0:
                options.append((best[a - 1, b] + _NEW_VOICE_COST, 2))
            if b > 0:
                options.append((best[a, b - 1], 3))
            value, kind = min(options, key=lambda o: o[0])
            best[a, b], step[a, b] = value, kind
    result: list = [None] * n
    a, b = n, m
    while a > 0:
        kind = step[a, b]
        if kind == 1:
            result[a - 1] = b - 1
            a, b = a - 1, b - 1
        elif kind == 2:
            a -= 1
        else:
            b -= 1
    return result
