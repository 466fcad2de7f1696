"""Onset cues of monophonic transcription (``midi_ddsp.transcription``, step 2 of its module
docstring): spectral-flux re-attacks and loudness valleys, with the knee where a legato note's
predecessor lets go, and the cues strong enough to split a held pitch (repeated notes): flux
re-attacks that are strong or stand out of a held note (``SPIKE_RATIO``), valleys that are deep
and not a held note's own swell (``SWELL_DB``) or that a released note falls deep into
(``RELEASE_DB``), soft re-attacks on the fall into a valley (``SOFT_ATTACK_FLUX``: legato
re-bowing, a cello's or a bass's repeated note), and flux bursts standing out of a held note's
own flux texture as its level turns up (``STANDOUT_RATIO``: a re-bow with no dip).

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
FALL_DB, FALL_KNEE_DB = 6.0, 2.5
"""A legato pitch change without a cue, after a fall FALL_DB deep (dB), begins at the last frame
still within FALL_KNEE_DB of the level's peak: a held note's own slow decay (1-2 dB) comes before
the release (with 1.5 dB the corpus's cello semitone steps began ~50 ms early)."""
RISE_DB = 1.5
"""A flux peak is an onset only when the loudness rises this much just after it (not a release)."""
VALLEY_DB, SPLIT_VALLEY_DB = 2.0, 8.0
"""Loudness valleys this deep (dB, on both sides) are onset cues; SPLIT_VALLEY_DB deep ones
split a note of one pitch (repeated notes); shallower ones only place pitch changes."""
RELEASE_DB = 16.0
"""A valley (at least VALLEY_DB deep on both sides) the level falls into at least RELEASE_DB
within VALLEY_REACH_S (a note released, far deeper than a held note's sag or swell) splits a note
of one pitch, however little it climbs out on the right (a horn's soft repeated note rises a few
dB, then swells later)."""
RELEASE_HOLD_DB = 2.0
"""... provided the level SWELL_REACH_S after the valley is still RELEASE_HOLD_DB above its
bottom (a new note holds or swells; a release tail that wobbles up a few dB decays back below)."""
VALLEY_REACH_S = 0.12
"""How far either side of a valley its depth is measured."""
VALLEY_LEAD_S = 0.02
"""A note begins at least this long before the loudness valley between it and the previous note."""
FLOOR_DB = 0.5
"""A valley's bottom is where the level first comes within FLOOR_DB of its lowest (a flat floor's
start: the quiet note's slow attack begins as the level reaches it, not at its lowest frame),
unless a flux peak of at least ATTACK_FLUX lies on that floor: the note begins with it."""
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
SWELL_DB, SWELL_REACH_S = 12.0, 0.3
"""A valley SPLIT_VALLEY_DB deep but less than SWELL_DB deep within +-SWELL_REACH_S may be a
held note's own swell (a horn's level sags and recovers ~0.25 s into a note): it splits a note
only with a sign of a new attack, ..."""
ATTACK_FLUX = 2.0
"""... a flux peak at least this high (median within-note flux = 1) on its way down or just
after its bottom (within ``CUSP_S``), ..."""
CUSP_DB, CUSP_S = 4.0, 0.03
"""... a sharp bottom, the level CUSP_DB higher CUSP_S either side of it (a swell is round), ..."""
CONFIDENCE_DIP = 0.1
"""... or the pitch confidence dipping this far below its median around it (a new note's onset,
the previous note's release beating with it, unsettles the pitch)."""
SPIKE_RATIO, SPIKE_RISE_DB, HELD_S = 3.0, 3.0, 0.15
"""A flux re-attack (>= ONSET_THRESHOLD) at least SPIKE_RATIO times the median flux within
+-SWELL_REACH_S (at least 0.5), with the level rising SPIKE_RISE_DB after it, inside a note
sounding for HELD_S before it with no other re-attack (not the attack's own transients) splits
a held pitch: a re-bowed or re-tongued note."""
SOFT_ATTACK_FLUX, LONG_VALLEY_DB = 1.5, 6.0
"""A flux peak on the fall into a valley (the level falling frame by frame, within
VALLEY_REACH_S) at least SOFT_ATTACK_FLUX times the median flux within +-SWELL_REACH_S (at
least 1), where the level sags LONG_VALLEY_DB within +-SWELL_REACH_S, is a soft re-attack: a
legato repeated note begins there, as the previous one lets go, its level lowest only after
its slow attack begins (50-110 ms later)."""

STANDOUT_RATIO, STANDOUT_FLUX, STANDOUT_GAP_S = 1.6, 1.5, 0.03
"""A flux peak at least STANDOUT_FLUX high and STANDOUT_RATIO times the 90th percentile of the
flux within +-SWELL_REACH_S (the frames within STANDOUT_GAP_S of it left out, at least 0.5),
inside a note sounding for HELD_S before it, stands out of the held note's own flux texture: a
re-attack of its pitch (a re-bowed string, a re-tongued reed), however little the level moves.
A held note's flux is a texture (bow noise, breath, vibrato) whose peaks seldom reach 1.5 times
its 90th percentile (under 1 % of the corpus's within-note peaks); a note that the tracker hears
re-attacked shows a lone burst as the new excitation's partials start (cello, viola, bass:
about half to two thirds of their repeated notes)."""
STEADY_S, STEADY_SEMITONES = 0.05, 0.5
"""... with the pitch within STEADY_SEMITONES (range) over +-STEADY_S around it (a glide, a bend
or a fall at a note's end moves the partials: flux without a new note), and with the level
turning up at least TURN_DB above its trend of the 50 ms before within 30 ms after the peak
(the new excitation adds energy; a loop splice's click or a release's flux does not)."""
TURN_DB = 0.5


def _local_extrema(values: np.ndarray, reach: int, *, maxima: bool) -> np.ndarray:
    """Frames holding the max (or min) of ``values`` within +-reach frames."""
    padded = np.pad(values, reach, constant_values=-np.inf if maxima else np.inf)
    window = np.lib.stride_tricks.sliding_window_view(padded, 2 * reach + 1)
    return np.nonzero(values >= window.max(axis=1) if maxima else values <= window.min(axis=1))[0]


def _level_rise(level: np.ndarray) -> np.ndarray:
    """Per frame: the loudest of the next 8 frames minus the quietest of the 3 before (dB)."""
    window = np.lib.stride_tricks.sliding_window_view(np.pad(level, (3, 8), mode="edge"), 12)
    return window[:, 3:].max(axis=1) - window[:, :4].min(axis=1)


def _onset_candidates(frames) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Onset frames, their strength (1 = weak cue, 2 = strong enough to split a note), knees,
    and soft re-attacks.

    Flux peaks >= ONSET_THRESHOLD followed by a loudness rise of >= RISE_DB (a re-attack, not a
    release) mark an onset one frame before the peak; loudness valleys at least VALLEY_DB deep
    on both sides mark one VALLEY_LEAD_S before the valley's bottom (where the level first comes
    within FLOOR_DB of its lowest; legato bowing and tonguing); a
    valley's knee is where the sounding level first falls KNEE_DB below its peak before it
    (a flux cue's knee is the cue itself), where a pitch change placed by the cue begins.
    Strong: flux peaks >= 2 ONSET_THRESHOLD or standing out of a held note (``_spike``),
    valleys >= SPLIT_VALLEY_DB that are not a held note's swell (``_swell_valleys``) or that
    fall >= RELEASE_DB, flux cues with a valley >= CONFIRM_VALLEY_DB.

    Returns:
        onset frames (int64 [n]), strengths ([n]), knees (int64 [n]), and the soft re-attacks
        (int64 [m, 2]: onset frame, frame of the valley's bottom; ``_soft_attack``; a
        standout burst's row holds its onset twice, ``_standouts``), which split a held pitch
        but place no pitch change.
    """
    rate = frames.frame_rate
    flux = frames.onset_strength.astype(np.float64)
    level = frames.loudness_db.astype(np.float64)
    n = level.size
    if n < 5:
        none = np.zeros(0, np.int64)
        return none, np.zeros(0), none, np.zeros((0, 2), np.int64)
    look = int(round(VALLEY_REACH_S * rate))
    padded = np.pad(level, look, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * look + 1)
    left = windows[:, :look].max(axis=1) - level
    right = windows[:, look + 1:].max(axis=1) - level
    rise = _level_rise(level)
    sounding = frames.sounding()
    out: dict[int, float] = {}
    knees: dict[int, int] = {}
    repeats: list[tuple[int, int]] = []
    for p in _local_extrema(flux, 2, maxima=True):
        if flux[p] >= ONSET_THRESHOLD and rise[p] >= RISE_DB:
            strong = flux[p] >= 2 * ONSET_THRESHOLD or _spike(flux, rise, sounding, int(p), rate)
            out[max(int(p) - 1, 0)] = 2.0 if strong else 1.0
    attacks = set(out)  # the flux cues
    lead, reach = int(round(VALLEY_LEAD_S * rate)), int(round(SWELL_REACH_S * rate))
    dips = [int(v) for v in _local_extrema(level, 3, maxima=False)
            if min(left[v], right[v]) >= VALLEY_DB and sounding[min(v + 3, n - 1)]]
    modulation = _modulation_valleys(frames, dips)
    swell = _swell_valleys(frames, [v for v in dips if min(left[v], right[v]) >= SPLIT_VALLEY_DB])
    for v in dips:
        depth = min(left[v], right[v])
        # the note begins where the level starts to fall into the valley (the previous
        # note's release: a legato note-on), at least VALLEY_LEAD_S before its bottom
        bottom = int(v)  # a flat bottom begins where the level first comes near its lowest
        while bottom > v - look and bottom > 0 and level[bottom - 1] <= level[v] + FLOOR_DB:
            bottom -= 1
        frame = max(bottom - lead, 0)
        struck = np.nonzero(flux[bottom:v + 1] >= ATTACK_FLUX)[0]
        if struck.size:  # a re-attack on the floor: the note begins with it
            frame = max(bottom + int(struck[-1]) - 1, 0)
        knee = frame
        while knee > v - look and knee > 0 and sounding[knee - 1] and \
                level[knee - 1] < left[v] + level[v] - KNEE_DB:
            knee -= 1
        released = left[v] >= RELEASE_DB and \
            level[min(v + reach, n - 1)] >= level[v] + RELEASE_HOLD_DB
        strength = 2.0 if (depth >= SPLIT_VALLEY_DB and v not in swell) or released else 1.0
        same = [f for f in out if abs(frame - f) <= lead + 2]  # one onset, two cues
        if same:  # a flux re-attack confirmed by a valley: strong enough to split
            confirmed = 2.0 if depth >= CONFIRM_VALLEY_DB and same[0] in attacks else 1.0
            out[same[0]] = max(out[same[0]], strength, confirmed)
            knees[same[0]] = min(knees.get(same[0], same[0]), knee)
        elif v not in modulation:
            out[frame] = strength
            knees[frame] = knee
            attack = _soft_attack(flux, level, sounding, v, rate)
            if attack is not None:  # a soft re-attack as the level falls: a legato re-bow
                repeats.append((attack, v))
    midi = hz_to_midi(np.maximum(frames.f0_hz.astype(np.float64), 1e-3))
    repeats.extend((s, s) for s in _standouts(flux, level, sounding, midi, rate))
    frames_sorted = np.array(sorted(out), np.int64)
    return (frames_sorted, np.array([out[f] for f in frames_sorted]),
            np.array([knees.get(f, f) for f in frames_sorted], np.int64),
            np.array(sorted(set(repeats)), np.int64).reshape(-1, 2))


def _spike(flux: np.ndarray, rise: np.ndarray, sounding: np.ndarray, p: int, rate: int) -> bool:
    """Whether the flux re-attack at frame ``p`` stands out of a held note (SPIKE_RATIO)."""
    reach, held = int(round(SWELL_REACH_S * rate)), int(round(HELD_S * rate))
    if p < held or rise[p] < SPIKE_RISE_DB or not sounding[p - held:p].all() \
            or flux[p - held:max(p - 2, p - held + 1)].max() >= ONSET_THRESHOLD:
        return False
    usual = float(np.median(flux[max(p - reach, 0):p + reach + 1]))
    return bool(flux[p] >= SPIKE_RATIO * max(usual, 0.5))


def _standouts(flux: np.ndarray, level: np.ndarray, sounding: np.ndarray, midi: np.ndarray,
               rate: int) -> list:
    """Onset frames (a frame before the peak) of the flux peaks standing out of a held note's
    flux texture (STANDOUT_RATIO), on a steady pitch (STEADY_S) and not in an attack's own
    transients (a peak >= ONSET_THRESHOLD within HELD_S before)."""
    reach, held = int(round(SWELL_REACH_S * rate)), int(round(HELD_S * rate))
    gap = max(int(round(STANDOUT_GAP_S * rate)), 1)
    steady = max(int(round(STEADY_S * rate)), 1)
    out = []
    for p in _local_extrema(flux, 2, maxima=True):
        p = int(p)
        if flux[p] < STANDOUT_FLUX or p < held or p + steady >= flux.size \
                or not sounding[p - held:p + 1].all() \
                or flux[p - held:p - gap].max(initial=0.0) >= ONSET_THRESHOLD:
            continue
        span = midi[p - steady:p + steady + 1]
        if float(np.ptp(span)) > STEADY_SEMITONES:  # a glide's or a bend's flux
            continue
        trend = (level[p - 1] - level[p - 6]) / 5.0  # dB per frame before the peak
        if max(level[p + k] - level[p - 1] - k * trend for k in (1, 2, 3)) < TURN_DB:
            continue  # no energy added: a click, a release's flux
        around = np.concatenate([flux[max(p - reach, 0):max(p - gap, 0)],
                                 flux[p + gap + 1:p + reach + 1]])
        if around.size and flux[p] >= STANDOUT_RATIO * max(float(np.percentile(around, 90)), 0.5):
            out.append(p - 1)
    return out


def _soft_attack(flux: np.ndarray, level: np.ndarray, sounding: np.ndarray, v: int,
                 rate: int) -> "int | None":
    """The onset frame of a soft re-attack on the fall into the valley at frame ``v``
    (SOFT_ATTACK_FLUX), or None.

    Args:
        flux: onset strength per frame, shape [n_frames].
        level: loudness in dB per frame, shape [n_frames].
        sounding: whether each frame belongs to a note, bool [n_frames].
        v: the valley's bottom (frame).
        rate: frames per second.
    """
    reach, look = int(round(SWELL_REACH_S * rate)), int(round(VALLEY_REACH_S * rate))
    depth = min(level[max(v - reach, 0):v + 1].max(), level[v:v + reach + 1].max()) - level[v]
    if depth < LONG_VALLEY_DB or v < reach or not sounding[v - reach:v].all():
        return None  # not a sag of a held line (a note's own swell after its attack)
    a = v
    while a > max(v - look, 1) and level[a - 1] >= level[a]:  # the fall into the valley
        a -= 1
    p = a + int(np.argmax(flux[a:v + 1]))
    usual = max(float(np.median(flux[max(p - reach, 0):p + reach + 1])), 1.0)
    return p - 1 if flux[p] >= SOFT_ATTACK_FLUX * usual else None


def _swell_valleys(frames, dips: list) -> set:
    """The valleys (frames) in a level that sags less than SWELL_DB with no sign of a new
    attack (ATTACK_FLUX, CUSP_DB, CONFIDENCE_DIP): a held note's own swell."""
    rate = frames.frame_rate
    level = frames.loudness_db.astype(np.float64)
    flux = frames.onset_strength.astype(np.float64)
    confidence = frames.confidence.astype(np.float64)
    reach, look = int(round(SWELL_REACH_S * rate)), int(round(VALLEY_REACH_S * rate))
    cusp = int(round(CUSP_S * rate))
    n = level.size
    out = set()
    for v in dips:
        depth = min(level[max(v - reach, 0):v + 1].max(), level[v:v + reach + 1].max()) - level[v]
        attack = flux[max(v - look, 0):v + cusp + 1].max()
        sharp = min(level[max(v - cusp, 0)], level[min(v + cusp, n - 1)]) - level[v]
        dip = np.median(confidence[max(v - reach, 0):v + reach + 1]) - \
            confidence[max(v - 8, 0):v + 4].min()  # 80 ms before to 30 ms after the bottom
        if depth < SWELL_DB and attack < ATTACK_FLUX and sharp < CUSP_DB and dip < CONFIDENCE_DIP:
            out.add(v)
    return out


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
    """Where a legato pitch change without an onset cue begins: at the knee of the previous
    note's release (its last frame within ``FALL_KNEE_DB`` of the peak) when the level falls at
    least ``FALL_DB`` between ``earliest`` and ``start`` (a quieter note after it: no valley),
    else ``start``."""
    if start - earliest < 2:
        return start
    span = level[earliest:start + 1].astype(np.float64)
    peak = int(np.argmax(span))
    if span[peak] - span[-1] < FALL_DB:
        return start
    held = np.nonzero(span[peak:] >= span[peak] - FALL_KNEE_DB)[0]
    return earliest + peak + int(held[-1])  # the last frame still within FALL_KNEE_DB
