"""Voice splitting: one track's notes (possibly chords) -> simultaneous monophonic voices.

Notes are taken in onset order, chords together; each chord is matched to the free voices
without crossing at minimum total pitch distance, so lines stay lines (``split_voices``).
"""
from __future__ import annotations

import logging

import numpy as np

from midi_ddsp.score.model import Note

__all__ = ["clean_notes", "split_voices"]

logger = logging.getLogger(__name__)

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


def clean_notes(rows: list, *, label: str) -> list:
    """Drop zero-length notes (warning) and clamp negative onsets; rows are copied."""
    kept = []
    n_dropped = 0
    for pitch, onset, offset, velocity, *marks in rows:   # marks: an optional NoteMarks
        onset = max(0.0, float(onset))
        if not offset > onset:
            n_dropped += 1
            continue
        kept.append([int(pitch), onset, float(offset), int(min(127, max(1, velocity))), *marks])
    if n_dropped:
        logger.warning("%s: dropped %d zero-length note(s)", label, n_dropped)
    return kept


def split_voices(rows: list, *, label: str) -> list[list[Note]]:
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
    return [[Note(int(p), float(a), float(b), int(vel), *marks) for p, a, b, vel, *marks in v]
            for v in voices]


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
