"""Score readers: MIDI, MusicXML/.mxl, kern, abc files, PrettyMIDI and NoteSequence objects,
and notes given in Python, each into a ``Score`` of monophonic parts.

Polyphonic tracks are split into simultaneous voices (``midi_ddsp.score.voices``); drum tracks
are kept as parts with ``is_drum=True`` and no instrument; score markings of MusicXML/kern/abc
act on the notes (``midi_ddsp.score.marks``); MIDI controls are kept per part
(``midi_ddsp.midi_controls``). Every problem with a file is one ``InputFileError`` naming the file.
"""
from __future__ import annotations

import collections
import dataclasses
import io
import logging
import os
from typing import Any, Iterable, Mapping

import numpy as np

from midi_ddsp.errors import InputFileError, ParameterError
from midi_ddsp.instruments import Instrument, get_instrument, instrument_for_program
from midi_ddsp.midi_controls import ChannelEvents, MidiControls, sustain_offsets
from midi_ddsp.score.model import Note, Part, Score, program_name
from midi_ddsp.score.voices import clean_notes, split_voices

__all__ = ["SCORE_EXTENSIONS", "load_score", "score_from_notes"]

logger = logging.getLogger(__name__)

SCORE_EXTENSIONS: tuple[str, ...] = (".mid", ".midi", ".musicxml", ".xml", ".mxl", ".krn", ".abc")
_MIDI_EXTENSIONS = (".mid", ".midi")
_MUSIC21_FORMATS = {".musicxml": "musicxml", ".xml": "musicxml", ".mxl": "musicxml",
                    ".krn": "humdrum", ".abc": "abc"}
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


def load_score(source: Any) -> Score:
    """Load a score from a file or an in-memory object; times in seconds, tempo applied.

    Args:
        source: a path (``str`` or path-like) to ``.mid``/``.midi``, ``.musicxml``/``.xml``/
            ``.mxl``, ``.krn`` or ``.abc``; a ``pretty_midi.PrettyMIDI``; a note_seq
            ``NoteSequence`` (anything with ``.notes`` whose items have ``pitch``,
            ``start_time``, ``end_time``, ``velocity``, ``program``, ``is_drum``,
            ``instrument``); or a ``Score`` (returned as is).

    Track numbers (``Part.track``) are as in the MIDI file (a type-1 file's tempo track is track
    0, so its first notes are usually on track 1; channels sharing one track, as in type-0 files,
    share its number and are named ``"<track name>: <program name>"``); for MusicXML/kern/abc they
    are the 0-based part numbers of the score; for a PrettyMIDI object the index in
    ``.instruments``; for a NoteSequence the note's ``instrument`` number. Each pitched part gets
    the instrument of its GM program (None when the program has none); ``midi_ddsp.casting``
    decides what finally plays it.

    Returns:
        A ``Score``: polyphonic tracks split into monophonic voices named
        ``"<track name> v<n>"`` (n from 1, highest voice first), drum tracks as ``is_drum``
        parts without instrument (logged as a warning).

    Raises:
        InputFileError: the file is missing, empty, not a score, corrupt, or has no notes.
        ParameterError: ``source`` is none of the kinds above.
    """
    if isinstance(source, Score):
        return source
    raw, label = _raw_tracks(source)
    return _build_score(raw, label)


def score_from_notes(notes_by_part: Mapping[str, Iterable[Any]]) -> Score:
    """Build a Score from notes given per part, e.g. ``{"violin": [Note(67, 0.0, 0.5)]}``.

    Each key is a part name; its instrument is the instrument of that name when there is one
    (``"violin"``, ``"vn"``, also ``"violin 1"``: the first word is tried too), else None (give it
    one with ``midi_ddsp.casting.cast_score``'s ``instruments``). Notes are ``Note`` objects or
    ``(pitch, onset_s, offset_s[, velocity])`` tuples; overlapping notes of a part are split
    into voices exactly as ``load_score`` does.

    Raises:
        ParameterError: a note is malformed (pitch outside 0..127, offset <= onset, ...).
    """
    if not isinstance(notes_by_part, Mapping):
        raise ParameterError(
            f"notes_by_part must be a mapping of part name -> notes, got {type(notes_by_part).__name__}")
    parts: list[Part] = []
    for track, (name, notes) in enumerate(notes_by_part.items()):
        name = str(name)
        rows = [_note_row(note, name) for note in notes]
        inst = _instrument_from_name(name)
        program = inst.program if inst is not None else 0
        voices = split_voices(rows, label=name)
        for v, voice_notes in enumerate(voices):
            parts.append(Part(notes=voice_notes, instrument=inst, program=program,
                              name=name if len(voices) == 1 else f"{name} v{v + 1}",
                              track=track, voice=v))
    return Score(parts=parts, source="<notes>")


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


def _tempo_map(midi):
    """The tick -> seconds converter of a mido ``MidiFile`` (its set_tempo events, all tracks)."""
    tempo_events: list[tuple[int, int]] = []  # (tick, microseconds per beat)
    for track in midi.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "set_tempo":
                tempo_events.append((tick, msg.tempo))
    return _tick_converter(midi.ticks_per_beat, tempo_events)


def _raw_tracks_from_mido(midi) -> list[_RawTrack]:
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
    to_seconds = _tempo_map(midi)
    groups_per_track = collections.Counter(ti for ti, _, _ in groups)
    raw = []
    # file order: track, then channel, then first note (groups are created as notes end)
    ordered = sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], min(r[1] for r in kv[1])))
    for (ti, channel, program), rows in ordered:
        name = track_names.get(ti, "")
        if groups_per_track[ti] > 1:  # e.g. a type-0 file: name each channel by its program
            own = "Drums" if channel == _DRUM_CHANNEL else program_name(program)
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
    from midi_ddsp.score.marks import apply_marks, collect_marks

    try:
        marks = collect_marks(parsed, music21)
        apply_marks(parsed, music21)
    except Exception as exc:  # a mark music21 parsed but we cannot place: play the notes as written
        logger.warning("%s: score markings ignored (%s)", path, _reason(exc))
        marks = []
    try:
        data = music21.midi.translate.streamToMidiFile(parsed).writestr()
    except Exception as exc:
        raise InputFileError(path, f"cannot convert to MIDI ({_reason(exc)})") from None
    raw = _raw_tracks_from_midi_bytes(data, path)
    # music21 writes a conductor (tempo) track 0, then one track per part: number parts from 0.
    if raw and min(r.track for r in raw) >= 1:
        for r in raw:
            r.track -= 1
    if any(marks):
        _attach_marks(raw, marks, data)
    return raw


def _attach_marks(raw: list[_RawTrack], marks: list, midi_bytes: bytes) -> None:
    """Append each note's ``NoteMarks`` to its row (a fifth item), matching part, pitch and onset
    (the marks' quarter offsets put through the MIDI file's own tempo map, 2 ms tolerance)."""
    import mido

    midi = mido.MidiFile(file=io.BytesIO(midi_bytes))
    to_seconds = _tempo_map(midi)
    for r in raw:
        if not 0 <= r.track < len(marks) or not marks[r.track]:
            continue
        entries = marks[r.track]
        ticks = np.round(np.array([e[0] for e in entries]) * midi.ticks_per_beat).astype(np.int64)
        by_pitch: dict[int, list] = collections.defaultdict(list)
        for t, (_, pitch, m) in zip(to_seconds(ticks), entries):
            by_pitch[pitch].append((float(t), m))
        for row in r.notes:
            candidates = by_pitch.get(row[0], ())
            best = min(candidates, key=lambda c: abs(c[0] - row[1]), default=None)
            if best is not None and abs(best[0] - row[1]) < 2e-3:
                row.append(best[1])


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

def _build_score(raw: list[_RawTrack], label: str) -> Score:
    if not any(r.notes for r in raw):
        raise InputFileError(label, "contains no notes")
    parts: list[Part] = []
    for r in raw:
        notes = clean_notes(r.notes, label=f"{label} track {r.track}")
        if not notes:
            continue
        base = _base_name(r)
        if r.is_drum:
            logger.warning("%s: track %d %r is a drum track (%d notes); drums are not played by "
                           "the pitched models", label, r.track, base, len(notes))
            notes.sort(key=lambda n: (n[1], -n[0]))
            parts.append(Part(notes=[Note(*n) for n in notes], instrument=None, program=r.program,
                              name=base, is_drum=True, track=r.track, voice=0))
            continue
        inst = instrument_for_program(r.program)
        voices = split_voices(notes, label=f"{label} track {r.track} {base!r}")
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
    return Score(parts=parts, source=label)


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
    return r.name or ("Drums" if r.is_drum else program_name(r.program))


def _instrument_from_name(name: str) -> "Instrument | None":
    for candidate in (name, name.split()[0] if name.split() else name):
        try:
            return get_instrument(candidate)
        except ParameterError:
            continue
    logger.warning("part %r: no instrument of that name; it gets none", name)
    return None


def _note_row(note: Any, part_name: str) -> list:
    """Validate one user-given note; returns [pitch, onset_s, offset_s, velocity], and a
    ``Note``'s marks as a fifth item."""
    marks = [note.marks] if isinstance(note, Note) and note.marks else []
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
    return [int(pitch), onset, offset, int(velocity), *marks]
