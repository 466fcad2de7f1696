"""Onset cues of monophonic transcription (``midi_ddsp.transcription``, step 2 of its module
docstring): spectral-flux re-attacks and loudness valleys, with the knee where a legato note's
predecessor lets go.

Frames are ``midi_ddsp.transcription.TranscriptionFrames`` (100 Hz; loudness in dB, onset
strength in units of the median within-note flux).
"""
from __future__ import annotations

import numpy as np

from midi_ddsp.dsp.units import hz_to_midi

ONSET_THRESHOLD = 3.5
"""Onset-strength peaks (in units of the median within-note flux) at least this high are onsets."""
CONFIRM_VALLEY_DB = 4.0
"""A flux re-attack that coincides with a valley this deep (dB) splits a note of one pitch."""
FALL_DB = 6.0
"""A legato pitch change without a cue, after a fall this deep (dB), begins where it began."""
RISE_DB = 1.5
"""A flux peak is an onset only when the loudness rises this much just after it (not a release)."""
VALLEY_DB, SPLIT_VALLEY_DB = 2.0, 8.0
"""Loudness valleys this deep (dB, on both sides) are onset cues; SPLIT_VALLEY_DB deep ones
split a note of one pitch (repeated notes); shallower ones only place pitch changes."""
VALLEY_REACH_S = 0.12
"""How far either side of a valley its depth is measured."""
VALLEY_LEAD_S = 0.02
"""A note begins at least this long before the loudness valley between it and the previous note."""
KNEE_DB = 1.5
"""... and where the level has fallen this far below its peak before the valley (the release of
the note before: legato notes begin where the previous one lets go)."""
VIBRATO_PERIOD_S = (0.11, 0.33)
"""A loudness that swings periodically at these periods (a 3-9 Hz modulation) ..."""
PERIODICITY = 0.5
"""... (normalised autocorrelation at least this high within +-VIBRATO_PERIOD_S[1] of a valley)
while the pitch swings too, at least VIBRATO_SEMITONES[0] (10-90 % spread) on one note (the
medians either side of the valley closer than VIBRATO_SEMITONES[1]), is vibrato's amplitude
modulation (a held note's level swings with its pitch through the body's resonances): its
valleys are not onsets unless a flux re-attack confirms them."""
VIBRATO_SEMITONES = (0.15, 0.5)

def _local_extrema(values: np.ndarray, reach: int, *, maxima: bool) -> np.ndarray:
    """Frames holding the max (or min) of ``values`` within +-reach frames."""
    padded = np.pad(values, reach, constant_values=-np.inf if maxima else np.inf)
    window = np.lib.stride_tricks.sliding_window_view(padded, 2 * reach + 1)
    return np.nonzero(values >= window.max(axis=1) if maxima else values <= window.min(axis=1))[0]


def _level_rise(level: np.ndarray) -> np.ndarray:
    """Per frame: the loudest of the next 8 frames minus the quietest of the 3 before (dB)."""
    window = np.lib.stride_tricks.sliding_window_view(np.pad(level, (3, 8), mode="edge"), 12)
    return window[:, 3:].max(axis=1) - window[:, :4].min(axis=1)


def _onset_candidates(frames) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Onset frames, their strength (1 = weak cue, 2 = strong enough to split a note) and knees.

    Flux peaks >= ONSET_THRESHOLD followed by a loudness rise of >= RISE_DB (a re-attack, not a
    release) mark an onset one frame before the peak; loudness valleys at least VALLEY_DB deep
    on both sides mark one VALLEY_LEAD_S before the valley (legato bowing and tonguing); a
    valley's knee is where the sounding level first falls KNEE_DB below its peak before it
    (a flux cue's knee is the cue itself), where a pitch change placed by the cue begins.
    """
    rate = frames.frame_rate
    flux = frames.onset_strength.astype(np.float64)
    level = frames.loudness_db.astype(np.float64)
    n = level.size
    if n < 5:
        return np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64)
    look = int(round(VALLEY_REACH_S * rate))
    padded = np.pad(level, look, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * look + 1)
    left = windows[:, :look].max(axis=1) - level
    right = windows[:, look + 1:].max(axis=1) - level
    rise = _level_rise(level)
    sounding = frames.sounding()
    out: dict[int, float] = {}
    knees: dict[int, int] = {}
    for p in _local_extrema(flux, 2, maxima=True):
        if flux[p] >= ONSET_THRESHOLD and rise[p] >= RISE_DB:
            out[max(int(p) - 1, 0)] = 2.0 if flux[p] >= 2 * ONSET_THRESHOLD else 1.0
    attacks = set(out)  # the flux cues
    lead = int(round(VALLEY_LEAD_S * rate))
    dips = [int(v) for v in _local_extrema(level, 3, maxima=False)
            if min(left[v], right[v]) >= VALLEY_DB and sounding[min(v + 3, n - 1)]]
    modulation = _modulation_valleys(frames, dips)
    for v in dips:
        depth = min(left[v], right[v])
        # the note begins where the level starts to fall into the valley (the previous
        # note's release: a legato note-on), at least VALLEY_LEAD_S before its bottom
        frame = max(int(v) - lead, 0)
        knee = frame
        while knee > v - look and knee > 0 and sounding[knee - 1] and \
                level[knee - 1] < left[v] + level[v] - KNEE_DB:
            knee -= 1
        strength = 2.0 if depth >= SPLIT_VALLEY_DB else 1.0
        same = [f for f in out if abs(frame - f) <= lead + 2]  # one onset, two cues
        if same:  # a flux re-attack confirmed by a valley: strong enough to split
            confirmed = 2.0 if depth >= CONFIRM_VALLEY_DB and same[0] in attacks else 1.0
            out[same[0]] = max(out[same[0]], strength, confirmed)
            knees[same[0]] = min(knees.get(same[0], same[0]), knee)
        elif v not in modulation:
            out[frame] = strength
            knees[frame] = knee
    frames_sorted = np.array(sorted(out), np.int64)
    return (frames_sorted, np.array([out[f] for f in frames_sorted]),
            np.array([knees.get(f, f) for f in frames_sorted], np.int64))


def _periodicity(x: np.ndarray, lags: range) -> float:
    """Highest normalised autocorrelation of the mean-removed ``x`` over ``lags``."""
    x = x - np.mean(x)
    best = -1.0
    for lag in lags:
        a, b = x[:-lag], x[lag:]
        best = max(best, float(np.dot(a, b) / (np.sqrt(np.dot(a, a) * np.dot(b, b)) + 1e-12)))
    return best


def _modulation_valleys(frames, dips: list) -> set:
    """The valleys (frames) in a periodic swing of the level over a pitch in vibrato."""
    rate = frames.frame_rate
    lags = range(int(round(VIBRATO_PERIOD_S[0] * rate)), int(round(VIBRATO_PERIOD_S[1] * rate)) + 1)
    reach = lags.stop - 1
    level = frames.loudness_db.astype(np.float64)
    midi = hz_to_midi(np.maximum(frames.f0_hz.astype(np.float64), 1e-3))
    sounding = frames.sounding()
    out = set()
    for v in dips:
        a, b = v, v  # +-reach, inside the sounding stretch around the valley
        while a > max(v - reach, 0) and sounding[a - 1]:
            a -= 1
        while b < min(v + reach, level.size - 1) and sounding[b + 1]:
            b += 1
        if min(v - a, b - v) >= lags.start and \
                _in_vibrato(level[a:b + 1], midi[a:b + 1], v - a, lags):
            out.add(v)
    return out


def _in_vibrato(level: np.ndarray, pitch: np.ndarray, v: int, lags: range) -> bool:
    """Whether ``level`` swings periodically over ``pitch`` in vibrato (one note) (frame v in it)."""
    if abs(float(np.median(pitch[:v])) - float(np.median(pitch[v + 1:]))) >= VIBRATO_SEMITONES[1] \
            or float(np.ptp(np.percentile(pitch, [10, 90]))) < VIBRATO_SEMITONES[0]:
        return False
    t = np.arange(level.size, dtype=np.float64)
    swing = level - np.polyval(np.polyfit(t, level, 1), t)  # a swell is no modulation
    usable = range(lags.start, min(lags.stop, level.size // 2 + 1))
    return _periodicity(swing, usable) >= PERIODICITY and _periodicity(pitch, usable) >= PERIODICITY


def _release_start(level: np.ndarray, start: int, earliest: int) -> int:
    """Where a legato pitch change without an onset cue begins: at the knee (``KNEE_DB`` below
    the peak) of the previous note's release when the level falls at least ``FALL_DB`` between
    ``earliest`` and ``start`` (a quieter note after it: no valley), else ``start``."""
    if start - earliest < 2:
        return start
    span = level[earliest:start + 1].astype(np.float64)
    peak = int(np.argmax(span))
    if span[peak] - span[-1] < FALL_DB:
        return start
    held = np.nonzero(span[peak:] >= span[peak] - KNEE_DB)[0]
    return earliest + peak + int(held[-1]) + 1
