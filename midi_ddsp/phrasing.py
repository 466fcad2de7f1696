"""Phrase structure of a monophonic line, read from note timing alone.

Both the corpus's performance model (``midi_ddsp.data_pipeline.performance``) and the Expression
Generator's note features use these functions, so the model sees the same phrases the data was
performed with. Nothing here depends on the length of the part as such: a note's phrase and
metrical weight depend on its neighbourhood and on the line's typical inter-onset interval and
note length (medians), so the same music gets the same phrases in a longer part.

Rules (times in seconds at the played tempo):

* a phrase ends after a note followed by a rest of at least ``REST_BOUNDARY`` of the typical
  inter-onset interval (the median IOI of the line), or by a note at least ``LONG_NOTE`` times the
  median duration that is followed by a shorter one (a cadence or a held note), or at the last
  note; phrases longer than ``MAX_PHRASE_S`` are cut after their longest note;
* the beat is the median IOI; a note's metrical weight is 1 on onsets that fall on every second
  beat (from the first onset), 0.5 on the other beats and 0 off the beat (tolerance 15 % of a
  beat).
"""
from __future__ import annotations

import numpy as np

__all__ = ["REST_BOUNDARY", "LONG_NOTE", "MAX_PHRASE_S", "phrase_ids", "phrase_positions",
           "metrical_weights"]

REST_BOUNDARY = 0.45   # rest after a note, in median IOIs, that ends a phrase
LONG_NOTE = 1.9        # a note this many median durations long, followed by a shorter one, ends one
MAX_PHRASE_S = 8.0


def _as_arrays(onsets_s, offsets_s) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(onsets_s, np.float64).reshape(-1), np.asarray(offsets_s, np.float64).reshape(-1)


def phrase_ids(onsets_s, offsets_s) -> np.ndarray:
    """Phrase index of every note (0, 0, ..., 1, 1, ...), int64 [n_notes]; notes sorted by onset."""
    on, off = _as_arrays(onsets_s, offsets_s)
    n = on.size
    if n == 0:
        return np.zeros(0, np.int64)
    dur = np.maximum(off - on, 1e-3)
    ioi = np.diff(on)
    beat = float(np.median(ioi)) if ioi.size else float(dur[0])
    beat = max(beat, 1e-3)
    med_dur = float(np.median(dur))
    ends = np.zeros(n, bool)
    ends[-1] = True
    if n > 1:
        rest = on[1:] - off[:-1]
        ends[:-1] |= rest >= REST_BOUNDARY * beat
        ends[:-1] |= (dur[:-1] >= LONG_NOTE * med_dur) & (dur[1:] < dur[:-1])
    start = 0
    for i in np.nonzero(ends)[0]:
        _split_long(ends, on, dur, start, int(i) + 1)
        start = int(i) + 1
    return np.concatenate([[0], np.cumsum(ends[:-1])]).astype(np.int64)


def _split_long(ends: np.ndarray, on: np.ndarray, dur: np.ndarray, a: int, b: int) -> None:
    """Mark extra phrase ends inside notes a..b-1 (one phrase) after their longest inner note
    (of equally long ones, the nearest the middle), recursively, until no piece is longer than
    MAX_PHRASE_S."""
    if b - a < 4 or on[b - 1] + dur[b - 1] - on[a] <= MAX_PHRASE_S:
        return
    inner = np.arange(a + 1, b - 2)
    longest = inner[dur[inner] >= 0.999 * dur[inner].max()]
    middle = 0.5 * (on[a] + on[b - 1])
    cut = int(longest[np.argmin(np.abs(on[longest] - middle))])
    ends[cut] = True
    _split_long(ends, on, dur, a, cut + 1)
    _split_long(ends, on, dur, cut + 1, b)


def phrase_positions(onsets_s, offsets_s) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(ids, position, final)``: phrase index, position of the note's onset within its phrase
    (0 = first note, 1 = last; 0.5 for one-note phrases) float [n_notes], and 1.0 on each phrase's
    last note."""
    on, off = _as_arrays(onsets_s, offsets_s)
    ids = phrase_ids(on, off)
    position = np.full(on.size, 0.5)
    final = np.zeros(on.size)
    for k in np.unique(ids):
        idx = np.nonzero(ids == k)[0]
        if idx.size > 1:
            span = on[idx[-1]] - on[idx[0]]
            position[idx] = (on[idx] - on[idx[0]]) / span if span > 0 else np.linspace(0, 1, idx.size)
        final[idx[-1]] = 1.0
    return ids, position, final


def metrical_weights(onsets_s) -> np.ndarray:
    """Metrical weight of every onset (1 strong beat, 0.5 beat, 0 off-beat), float [n_notes]."""
    on = np.asarray(onsets_s, np.float64).reshape(-1)
    if on.size < 2:
        return np.ones(on.size)
    beat = max(float(np.median(np.diff(on))), 1e-3)
    # a beat of at least 0.3 s: lines of short notes are counted in groups of them
    beat *= 2 ** max(0, int(np.ceil(np.log2(0.3 / beat))))
    phase = (on - on[0]) / beat
    on_beat = np.abs(phase - np.round(phase)) <= 0.15
    strong = on_beat & (np.round(phase).astype(np.int64) % 2 == 0)
    return np.where(strong, 1.0, np.where(on_beat, 0.5, 0.0))
