"""Is a recording one pitched, monophonic line? What ``midi_ddsp.transfer`` checks before
transcribing (``midi_ddsp.transcription``), so every other input gets one clear line."""
from __future__ import annotations

import numpy as np

from midi_ddsp.crepe import CREPE_SAMPLE_RATE, resample_audio
from midi_ddsp.errors import ParameterError
from midi_ddsp.transcription import CONFIDENCE_HIGH, TranscriptionFrames

__all__ = ["MIN_DURATION_S", "silent", "input_problem"]

MIN_DURATION_S = 0.25
"""Shortest input ``input_problem`` accepts."""
_HARMONIC_FFT = 2048
_HARMONIC_HALF_WIDTH = 0.2   # of f0, either side of each harmonic
_LOW_HARMONICS = 3           # harmonics 1..3 of the tracked f0 ...
_MIN_LOW_HARMONIC_SHARE = 0.02  # ... hold at least this share of a played note's energy (low
#                                bassoon notes: 5 %; a minor or major third: 0 %)
_MIN_VOICED_FRACTION = 0.15  # of the sounding frames
_SILENT_PEAK = 10 ** (-80 / 20)   # peak amplitude below -80 dBFS = silent
_EPS = 1e-12


def _low_harmonic_share(x16: np.ndarray, frames: TranscriptionFrames,
                        rows: np.ndarray) -> np.ndarray:
    """Share of each given frame's power (above f0 / 2) within +-20 % of f0 around harmonics
    1..``_LOW_HARMONICS`` of the tracked f0. A played note puts much of its energy there; two
    notes at once make CREPE report their common sub-harmonic, where nothing sounds."""
    hop = CREPE_SAMPLE_RATE // frames.frame_rate
    padded = np.pad(x16, (_HARMONIC_FFT // 2, _HARMONIC_FFT // 2 + hop))
    idx = rows[:, None] * hop + np.arange(_HARMONIC_FFT)[None, :]
    power = np.abs(np.fft.rfft(padded[idx] * np.hanning(_HARMONIC_FFT + 1)[:-1], axis=1)) ** 2
    freqs = np.fft.rfftfreq(_HARMONIC_FFT, 1.0 / CREPE_SAMPLE_RATE)
    f0 = frames.f0_hz[rows].astype(np.float64)[:, None]
    order = freqs[None, :] / f0
    k = np.round(order)
    near = (np.abs(order - k) <= _HARMONIC_HALF_WIDTH) & (k >= 1) & (k <= _LOW_HARMONICS)
    keep = freqs[None, :] >= 0.5 * f0   # below half of f0: hum and rumble do not count
    total = (power * keep).sum(axis=1)
    return (power * near).sum(axis=1) / np.maximum(total, _EPS)


def silent(audio) -> bool:
    """Whether audio is empty or its peak lies below -80 dBFS."""
    x = np.asarray(audio, np.float32)
    return x.size == 0 or float(np.max(np.abs(x))) < _SILENT_PEAK


def input_problem(audio, frames: TranscriptionFrames, *, sample_rate: int) -> "str | None":
    """Why a recording cannot be transcribed as one monophonic pitched line, or None.

    One of: too short (under ``MIN_DURATION_S``), silent (peak below -80 dBFS), no pitched sound
    (voiced in under 15 % of its sounding frames: noise, speech-like or unpitched), or more than
    one pitch at once (in its voiced frames, harmonics 1-3 of the tracked f0 hold under 2 % of
    the energy: CREPE heard the common sub-harmonic of a chord). Two notes an octave or a fifth
    apart read as one lower note and pass.
    """
    x = np.asarray(audio, np.float32)
    if x.ndim != 1:
        raise ParameterError(f"audio: expected mono audio of shape [n_samples], got {x.shape}")
    duration = x.shape[0] / int(sample_rate)
    if duration < MIN_DURATION_S:
        return (f"too short to transcribe ({duration:.2f} s; at least {MIN_DURATION_S:g} s "
                "needed)")
    if silent(x):
        return "silent (peak below -80 dBFS): nothing to transcribe"
    sounding = frames.sounding()
    voiced = frames.confidence >= CONFIDENCE_HIGH
    n_sounding = int(sounding.sum())
    share = float((voiced & sounding).sum()) / max(n_sounding, 1)
    if n_sounding == 0 or share < _MIN_VOICED_FRACTION:
        return (f"no pitched sound found (pitch confidence high in {100 * share:.0f} % of the "
                "sounding frames): noise or unpitched audio cannot be transcribed")
    rows = np.nonzero(voiced & sounding)[0]
    if rows.size > 200:
        rows = rows[np.linspace(0, rows.size - 1, 200).astype(np.int64)]
    x16 = resample_audio(x, sample_rate=int(sample_rate))
    share = float(np.median(_low_harmonic_share(x16, frames, rows)))
    if share < _MIN_LOW_HARMONIC_SHARE:
        f0 = float(np.median(frames.f0_hz[rows]))
        return (f"not monophonic: the tracked pitch ({f0:.0f} Hz) and its first harmonics hold "
                f"only {100 * share:.0f} % of the energy (several notes at once?); give a "
                "recording of one melodic line")
    return None
