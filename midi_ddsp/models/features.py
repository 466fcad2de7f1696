"""Model inputs computed from notes (numpy, torch-free).

``note_frame_features`` turns the notes of one part into the per-frame note conditioning of the
Synthesis Generator; ``note_sequence_features`` the per-note inputs of the Expression Generator.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from midi_ddsp.config import RELEASE_TAIL_S
from midi_ddsp.errors import ParameterError
from midi_ddsp.frames import PartFrames, part_to_frames
from midi_ddsp.phrasing import metrical_weights, phrase_positions
from midi_ddsp.score import DYNAMICS, Note, Part, note_frame_span

__all__ = [
    "N_NOTE_FRAME_FEATURES",
    "N_NOTE_FEATURES",
    "N_PLAIN_NOTE_FEATURES",
    "N_MARK_FEATURES",
    "OSCILLATOR_SINE_COLUMNS",
    "PITCH_CENTER",
    "PITCH_SCALE",
    "clip_notes",
    "note_spans",
    "note_frame_features",
    "causal_note_frame_features",
    "note_sequence_features",
    "note_mark_features",
    "default_n_frames",
]

PITCH_CENTER = 60.0   # MIDI; network pitch input = (pitch - PITCH_CENTER) / PITCH_SCALE
PITCH_SCALE = 24.0
_MAX_TIME_FEATURE_S = 2.0   # time-since-onset / time-to-offset features saturate here
_LOG_TIME_OFFSET_S = 0.05   # log(duration + 50 ms): finite for the shortest notes
_VIBRATO_FEATURE_RATES_HZ = (4.0, 5.5, 7.0)  # sin/cos of time since onset at these rates
N_NOTE_FRAME_FEATURES = 8 + 2 * len(_VIBRATO_FEATURE_RATES_HZ)
#: note_frame_features columns of each oscillator's sine (its cosine follows it)
OSCILLATOR_SINE_COLUMNS = tuple(8 + 2 * j for j in range(len(_VIBRATO_FEATURE_RATES_HZ)))
N_PLAIN_NOTE_FEATURES = 10   # note_sequence_features' columns read from the notes' timing
N_MARK_FEATURES = 9          # note_mark_features' columns, read from the notes' score marks
N_NOTE_FEATURES = N_PLAIN_NOTE_FEATURES + N_MARK_FEATURES



def clip_notes(notes: Sequence[Note], *, end_s: float, start_s: float = 0.0,
               frame_rate: int = 250) -> list[Note]:
    """Notes of a window [start_s, end_s), shifted so the window starts at 0.

    Notes are clipped to the window, each offset is cut at the next onset (monophony), and notes
    left with less than one frame are dropped.
    """
    notes = sorted(notes, key=lambda n: n.onset_s)
    out = []
    length_s = end_s - start_s
    for i, note in enumerate(notes):
        onset = max(note.onset_s - start_s, 0.0)
        offset = min(note.offset_s - start_s, length_s)
        if i + 1 < len(notes):
            offset = min(offset, notes[i + 1].onset_s - start_s)
        if (offset - onset) * frame_rate < 1.0 or onset * frame_rate >= length_s * frame_rate - 0.5:
            continue
        out.append(Note(int(note.pitch), float(onset), float(offset), int(note.velocity),
                        note.marks))
    return out


def note_spans(notes: Sequence[Note], *, n_frames: int, frame_rate: int = 250) -> np.ndarray:
    """Frame span [start, stop) of each note as ``part_to_frames`` draws it, int64 [n_notes, 2].

    Spans are ``note_frame_span`` clipped to ``n_frames`` and cut at the next note's start; an
    empty span has stop == start.
    """
    spans = np.array([note_frame_span(n.onset_s, n.offset_s, frame_rate=frame_rate) for n in notes],
                     dtype=np.int64).reshape(-1, 2)
    if len(spans) > 1:
        spans[:-1, 1] = np.minimum(spans[:-1, 1], spans[1:, 0])
    spans = np.clip(spans, 0, n_frames)
    spans[:, 1] = np.maximum(spans[:, 1], spans[:, 0])
    return spans


def note_frame_features(notes: Sequence[Note], *, n_frames: int, frame_rate: int = 250,
                        causal: bool = False, vibrato_rates: "Sequence[float] | None" = None,
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame note conditioning of the Synthesis Generator (``causal``: of its causal
    variant, see ``causal_note_frame_features``).

    ``vibrato_rates`` (Hz per note, the NoteTable's ``vibrato_rate``) tunes all three of each
    note's oscillators to the note's own rate, so whatever mix of them the network plays
    vibrates at that rate.

    Returns:
        features: float32 [n_frames, 14]: held pitch (pitch - 60) / 24 (the sounding or last
            note's pitch, so release tails keep their pitch), is_note, onset flag, offset flag,
            position in note (0..1), log(note length s + 0.05) (0 in rests), time since the onset
            in s and time to the offset in s (both clipped to 2 s, 0 in rests), then sin and cos
            of 2 pi f (time since onset) for f = 4, 5.5, 7 Hz (0 in rests): oscillators the
            network can scale into vibrato without learning to oscillate.
        held_pitch: float32 [n_frames], the MIDI pitch the f0 deviation is relative to.
    """
    pf = part_to_frames(Part(notes=list(notes)), n_frames=n_frames, frame_rate=frame_rate)
    if causal:
        return causal_note_frame_features(pf)
    oscillator_hz = np.tile(np.asarray(_VIBRATO_FEATURE_RATES_HZ), (n_frames, 1))
    if vibrato_rates is not None:
        rates = np.asarray(vibrato_rates, np.float64).reshape(-1)
        if rates.shape[0] != len(notes):
            raise ParameterError(f"{len(notes)} notes but {rates.shape[0]} vibrato rates")
        for (start, stop), rate in zip(note_spans(notes, n_frames=n_frames, frame_rate=frame_rate),
                                       rates):
            oscillator_hz[start:stop] = rate
    held = pf.pitch_midi.astype(np.float32).copy()
    sounding = pf.is_note > 0
    if sounding.any():
        idx = np.where(sounding, np.arange(n_frames), -1)
        idx = np.maximum.accumulate(idx)
        first = int(np.argmax(sounding))
        idx[idx < 0] = first
        held = pf.pitch_midi[idx].astype(np.float32)
    else:
        held[:] = PITCH_CENTER
    length_frames = pf.note_length_s * frame_rate
    since_s = pf.note_position * np.maximum(length_frames - 1, 0) / frame_rate
    to_s = np.maximum(length_frames - 1, 0) / frame_rate - since_s
    feats = np.stack([
        (held - PITCH_CENTER) / PITCH_SCALE,
        pf.is_note,
        pf.onset,
        pf.offset,
        pf.note_position,
        np.where(sounding, np.log(pf.note_length_s + _LOG_TIME_OFFSET_S), 0.0),
        np.where(sounding, np.minimum(since_s, _MAX_TIME_FEATURE_S), 0.0),
        np.where(sounding, np.minimum(to_s, _MAX_TIME_FEATURE_S), 0.0),
        *[np.where(sounding, fn(2 * np.pi * oscillator_hz[:, j] * since_s), 0.0)
          for j in range(len(_VIBRATO_FEATURE_RATES_HZ)) for fn in (np.sin, np.cos)],
    ], axis=1).astype(np.float32)
    return feats, held


def causal_note_frame_features(pf: PartFrames) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame conditioning of the causal Synthesis Generator: only what is known at frame t
    when notes arrive live (a note's length is not), so ``midi_ddsp.streaming`` can build the
    same rows frame by frame from note-on and note-off events.

    Returns:
        features: float32 [n_frames, 14]: held pitch (pitch - 60) / 24 (the sounding or last
            note's pitch; 0 before the first note), is_note, onset flag, velocity / 127 (0 in
            rests), time since the last note ended in s (0 while a note sounds, 2 before the
            first note), log(time since onset + 0.05) (0 in rests), time since onset in s, the
            rest before the sounding note in s (2 for the first note, 0 in rests), then sin and
            cos of 2 pi f (time since onset) for f = 4, 5.5, 7 Hz (0 in rests). Times are
            clipped to 2 s.
        held_pitch: float32 [n_frames], the MIDI pitch the f0 deviation is relative to.
    """
    n_frames = pf.n_frames
    frame_rate = pf.frame_rate
    sounding = pf.is_note > 0
    frames = np.arange(n_frames)
    last_sounding = np.maximum.accumulate(np.where(sounding, frames, -1)) if n_frames else frames
    held = np.where(last_sounding >= 0, pf.pitch_midi[np.maximum(last_sounding, 0)],
                    PITCH_CENTER).astype(np.float32)
    start = np.maximum.accumulate(np.where(pf.onset > 0, frames, -1)) if n_frames else frames
    since_s = np.where(sounding, (frames - start) / frame_rate, 0.0)
    released_s = np.where(last_sounding >= 0, (frames - last_sounding - 1) / frame_rate,
                          _MAX_TIME_FEATURE_S)
    # the rest before each note: from the previous note's last frame to this onset
    rest_before = np.full(n_frames, _MAX_TIME_FEATURE_S)
    onsets = np.flatnonzero(pf.onset > 0)
    for k, onset in enumerate(onsets):
        if onset > 0 and last_sounding[onset - 1] >= 0:
            rest_before[onset] = (onset - last_sounding[onset - 1] - 1) / frame_rate
    note_rest = rest_before[np.maximum(start, 0)]
    feats = np.stack([
        (held - PITCH_CENTER) / PITCH_SCALE,
        pf.is_note,
        pf.onset,
        pf.velocity,
        np.where(sounding, 0.0, np.minimum(released_s, _MAX_TIME_FEATURE_S)),
        np.where(sounding, np.log(since_s + _LOG_TIME_OFFSET_S), 0.0),
        np.minimum(since_s, _MAX_TIME_FEATURE_S),
        np.where(sounding, np.minimum(note_rest, _MAX_TIME_FEATURE_S), 0.0),
        *[np.where(sounding, fn(2 * np.pi * rate * since_s), 0.0)
          for rate in _VIBRATO_FEATURE_RATES_HZ for fn in (np.sin, np.cos)],
    ], axis=1).astype(np.float32).reshape(n_frames, N_NOTE_FRAME_FEATURES)
    return feats, held


def note_sequence_features(notes: Sequence[Note]) -> np.ndarray:
    """Per-note inputs of the Expression Generator, float32 [n_notes, 19]: 10 from the notes'
    timing, then the 9 of ``note_mark_features`` (a model without mark inputs reads the first 10).

    Columns: (pitch - 60) / 24, log(duration s + 0.05), log(inter-onset gap from the previous
    note + 0.05) (0 for the first), log(rest before the note + 0.05) (0 for the first),
    log(gap to the next onset + 0.05) (0 for the last), position in its phrase (0..1,
    ``midi_ddsp.phrasing``), velocity / 127, first note of a phrase, last note of a phrase,
    metrical weight (1 strong beat, 0.5 beat, 0 off-beat). No column depends on the length of
    the part (the phrase and metre columns use the line's median inter-onset interval and note
    length, and the metre counts from the first onset).
    """
    n = len(notes)
    out = np.zeros((n, N_NOTE_FEATURES), np.float32)
    if n == 0:
        return out
    out[:, N_PLAIN_NOTE_FEATURES:] = note_mark_features(notes)
    onsets = np.array([note.onset_s for note in notes], np.float64)
    offsets = np.array([note.offset_s for note in notes], np.float64)
    ids, position, final = phrase_positions(onsets, offsets)
    for i, note in enumerate(notes):
        out[i, 0] = (note.pitch - PITCH_CENTER) / PITCH_SCALE
        out[i, 1] = math.log(max(note.offset_s - note.onset_s, 0.0) + _LOG_TIME_OFFSET_S)
        if i > 0:
            prev = notes[i - 1]
            out[i, 2] = math.log(max(note.onset_s - prev.onset_s, 0.0) + _LOG_TIME_OFFSET_S)
            out[i, 3] = math.log(max(note.onset_s - prev.offset_s, 0.0) + _LOG_TIME_OFFSET_S)
        if i + 1 < n:
            out[i, 4] = math.log(max(notes[i + 1].onset_s - note.onset_s, 0.0) + _LOG_TIME_OFFSET_S)
        out[i, 6] = note.velocity / 127.0
    out[:, 5] = position
    out[:, 7] = np.concatenate([[1.0], (np.diff(ids) > 0).astype(np.float64)])
    out[:, 8] = final
    out[:, 9] = metrical_weights(onsets)
    return out


def note_mark_features(notes: Sequence[Note]) -> np.ndarray:
    """The score marks of each note (``Note.marks``) as Expression Generator inputs, float32
    [n_notes, 9], all 0 for unmarked notes.

    Columns: dynamic in force (ppp 0 .. fff 1 in 7 equal steps; 0 when none), 1 when a dynamic
    is in force, wedge (+1 crescendo, -1 diminuendo), progress through the wedge (0 at the first
    note of a run of notes under the same wedge, 1 at its last), accent (0.5 accent, 1 marcato
    or sforzando), staccato or staccatissimo, tenuto, slur (legato into the next note),
    fermata.
    """
    n = len(notes)
    out = np.zeros((n, N_MARK_FEATURES), np.float32)
    run_start = 0
    for i, note in enumerate(notes):
        m = note.marks
        if m.dynamic:
            out[i, 0] = DYNAMICS.index(m.dynamic) / (len(DYNAMICS) - 1)
            out[i, 1] = 1.0
        out[i, 2] = {"crescendo": 1.0, "diminuendo": -1.0}.get(m.wedge, 0.0)
        arts = m.articulations
        out[i, 4] = 1.0 if ("marcato" in arts or "sforzando" in arts) else 0.5 * ("accent" in arts)
        out[i, 5] = float("staccato" in arts or "staccatissimo" in arts)
        out[i, 6] = float("tenuto" in arts)
        out[i, 7] = float(m.slur)
        out[i, 8] = float(m.fermata)
        if i == 0 or m.wedge != notes[i - 1].marks.wedge:
            run_start = i
        if m.wedge and (i + 1 == n or notes[i + 1].marks.wedge != m.wedge):
            length = i - run_start
            out[run_start:i + 1, 3] = np.linspace(0.0, 1.0, length + 1) if length else 0.5
    return out


def default_n_frames(notes: Sequence[Note], n_frames: "int | None", *, frame_rate: int) -> int:
    """A part's length in frames: ``n_frames`` checked (an int >= 1), or by default the last
    note's stop frame plus ``midi_ddsp.config.RELEASE_TAIL_S`` of release."""
    if n_frames is None:
        last = max((note_frame_span(n.onset_s, n.offset_s, frame_rate=frame_rate)[1]
                    for n in notes), default=0)
        n_frames = last + int(round(RELEASE_TAIL_S * frame_rate))
    if isinstance(n_frames, bool) or not isinstance(n_frames, (int, np.integer)) or n_frames < 1:
        raise ParameterError(f"n_frames must be an int >= 1; got {n_frames!r}")
    return int(n_frames)
