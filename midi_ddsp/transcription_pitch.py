"""Octave checks of monophonic transcription (``midi_ddsp.transcription``): evidence in the
spectrum that a note's fundamental lies an octave below the pitch CREPE reports.

CREPE follows the strongest periodicity; a tone whose fundamental (and odd partials) sit far under
its second partial (a bassoon's low register: the fundamental ~24 dB under the 2nd harmonic) reads
an octave high. The spectrum then holds partials at f0/2 and 3 f0/2 that a tone of pitch f0 has
no room for. They are not proof alone (a reed can add sub-octave components, rooms ring on), so a
note drops an octave only when the line agrees too: the note stands more than
``LEAP_SEMITONES`` above the median pitch of its ``CONTEXT_NOTES`` neighbours on either side.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

SUBOCTAVE_DB = -25.0
"""Sub-octave partials (f0/2, 3 f0/2) within this many dB of the f0 series (f0, 2 f0) are real."""
LEAP_SEMITONES = 6
"""... and a note more than this far above its neighbours' median pitch drops an octave."""
CONTEXT_NOTES = 4
"""Neighbours on each side whose pitches make the line's context."""
_SUB_FFT = 2048  # 128 ms at 16 kHz: 7.8 Hz bins, a 30 Hz sub-octave still resolved
_PEAK_SHARE = 0.03  # a partial is the strongest bin within +-3 % of its frequency
_CHUNK = 256


def suboctave_level_db(x16: np.ndarray, f0_hz: np.ndarray, *, sample_rate: int,
                       hop: int) -> np.ndarray:
    """Per frame: power of the partials at f0/2 and 3 f0/2 over those at f0 and 2 f0, in dB.

    Args:
        x16: mono waveform, float, shape [n_samples].
        f0_hz: the tracked f0 per frame (Hz, > 0), shape [n_frames]; frame i centred on i * hop.
        sample_rate: Hz.
        hop: samples per frame.

    Returns:
        float32 [n_frames], <= ~0 for real sub-octave partials, ~-40 or lower where there are none.
    """
    f0 = np.maximum(np.asarray(f0_hz, np.float64), 1.0)
    n_frames = f0.shape[0]
    out = np.full(n_frames, -120.0, np.float32)
    if n_frames == 0 or x16.size == 0:
        return out
    padded = np.pad(np.asarray(x16, np.float64), (_SUB_FFT // 2, _SUB_FFT // 2 + hop * n_frames))
    window = np.hanning(_SUB_FFT + 1)[:-1]
    bin_hz = sample_rate / _SUB_FFT
    n_bins = _SUB_FFT // 2 + 1
    for c0 in range(0, n_frames, _CHUNK):
        rows = np.arange(c0, min(c0 + _CHUNK, n_frames))
        idx = rows[:, None] * hop + np.arange(_SUB_FFT)[None, :]
        power = np.abs(np.fft.rfft(padded[idx] * window, axis=1)) ** 2
        level = {}
        for factor in (0.5, 1.0, 1.5, 2.0):
            freq = factor * f0[rows]
            centre = np.round(freq / bin_hz).astype(np.int64)
            reach = np.maximum(1, np.round(_PEAK_SHARE * freq / bin_hz)).astype(np.int64)
            offsets = np.arange(-int(reach.max()), int(reach.max()) + 1)
            bins = centre[:, None] + offsets[None, :]
            valid = (np.abs(offsets)[None, :] <= reach[:, None]) & (bins >= 0) & (bins < n_bins)
            values = np.take_along_axis(power, np.clip(bins, 0, n_bins - 1), axis=1)
            level[factor] = np.where(valid, values, 0.0).max(axis=1)
        sub = level[0.5] + level[1.5]
        base = level[1.0] + level[2.0]
        out[rows] = 10.0 * np.log10((sub + 1e-20) / (base + 1e-20))
    return np.maximum(out, -120.0).astype(np.float32)


def correct_octaves(pitches: Sequence[int], suboctave_db: Sequence[float], *,
                    lowest: int = 0) -> list[int]:
    """Note pitches with the octave errors taken out (module docstring).

    Args:
        pitches: MIDI pitch per note, in time order.
        suboctave_db: the note's median ``suboctave_level_db`` (nan = not measured).
        lowest: the lowest pitch a note may drop to.

    Returns:
        the pitches, those with sub-octave partials that leap above their context an octave lower.
    """
    pitches = [int(p) for p in pitches]
    out = list(pitches)
    for i, (p, sub) in enumerate(zip(pitches, suboctave_db)):
        context = pitches[max(i - CONTEXT_NOTES, 0):i] + pitches[i + 1:i + 1 + CONTEXT_NOTES]
        if not context or not np.isfinite(sub) or sub < SUBOCTAVE_DB or p - 12 < lowest:
            continue
        if p - float(np.median(context)) > LEAP_SEMITONES:
            out[i] = p - 12
    return out
