"""Loudness and peak meters of mono audio (numpy only): BS.1770-4 integrated loudness and true
peak, used by ``midi_ddsp.mixing`` to level mixes.

- ``integrated_loudness``: K-weighting (pyloudnorm's pair of RBJ biquads, a 1500 Hz high shelf of
  +4 dB and a 38 Hz high-pass, applied as their impulse response), 400 ms blocks with 75 %
  overlap, the absolute (-70 LUFS) and relative (-10 LU) gates; equal to pyloudnorm to 1e-4 LU
  without importing scipy.signal (0.8 s of start-up).
- ``true_peak``: the largest magnitude of the signal oversampled 4x, band-limited (FFT
  zero-padding, by blocks with context).
"""
from __future__ import annotations

import math

import numpy as np

from midi_ddsp.errors import ParameterError

__all__ = ["integrated_loudness", "true_peak", "true_peak_envelope", "block_powers",
           "gated_loudness", "k_weighting_impulse_response", "as_mono_audio", "check_sample_rate",
           "LOUDNESS_BLOCK_S"]

# True peak: oversampling factor (ITU-R BS.1770-4 Annex 2 uses 4x).
_OVERSAMPLE = 4
# True peak is measured in blocks of this many samples (bounded memory on long pieces), each
# with this much context each side (the band-limited interpolation's ringing at a block's edge
# stays outside the part kept).
_TRUE_PEAK_BLOCK = 1 << 18
_TRUE_PEAK_CONTEXT = 64
LOUDNESS_BLOCK_S = 0.4
"""BS.1770 gating block (s): shorter signals are padded with silence to one block."""


def as_mono_audio(audio, name: str) -> np.ndarray:
    """``audio`` as float32 [n_samples]; ParameterError (naming ``name``) if not mono or finite."""
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim != 1:
        raise ParameterError(f"{name}: expected mono audio of shape [n_samples], got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ParameterError(f"{name}: audio contains NaN or infinite samples")
    return x


def check_sample_rate(sample_rate) -> int:
    """``sample_rate`` as an int > 0 (Hz), else ParameterError."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) \
            or int(sample_rate) <= 0:
        raise ParameterError(f"sample_rate must be a positive whole number of Hz, got {sample_rate!r}")
    return int(sample_rate)


def _oversample(x: np.ndarray, factor: int) -> np.ndarray:
    """Band-limited ``factor``x oversampling (FFT zero-padding; the first output of every group of
    ``factor`` is the input sample), float64 [n * factor]."""
    n = x.shape[0]
    spectrum = np.fft.rfft(x)
    if n % 2 == 0 and n > 1:        # split the Nyquist bin between its two images
        spectrum[-1] *= 0.5
    return np.fft.irfft(spectrum, n=n * factor) * factor


def true_peak_envelope(x: np.ndarray) -> np.ndarray:
    """Per sample n, the largest magnitude of the 4x-oversampled signal from sample n-1 to n+1
    (and |x[n]|), float32 [n_samples]; its maximum is the true peak. Oversampled by blocks with
    context on both sides (each block's edges are discarded)."""
    n = x.shape[0]
    env = np.abs(x).astype(np.float32)
    for start in range(0, n, _TRUE_PEAK_BLOCK):
        stop = min(n, start + _TRUE_PEAK_BLOCK)
        lo, hi = max(0, start - _TRUE_PEAK_CONTEXT), min(n, stop + _TRUE_PEAK_CONTEXT)
        up = _oversample(x[lo:hi].astype(np.float64), _OVERSAMPLE)
        # row k: the oversampled values from x[lo + k] up to (not including) x[lo + k + 1]
        between = np.abs(up[: (hi - lo) * _OVERSAMPLE]).reshape(hi - lo, _OVERSAMPLE).max(axis=1)
        around = between.copy()
        around[1:] = np.maximum(between[1:], between[:-1])
        env[start:stop] = np.maximum(env[start:stop], around[start - lo: stop - lo])
    return env


def true_peak(audio) -> float:
    """True peak of ``audio`` [n_samples]: the largest magnitude of the signal oversampled 4x
    (band-limited), linear (``20 * log10`` of it is in dBTP); 0 for no samples."""
    x = as_mono_audio(audio, "audio")
    return float(np.max(true_peak_envelope(x))) if x.size else 0.0


def _biquad(kind: str, gain_db: float, q: float, fc: float, rate: int) -> tuple:
    """RBJ-cookbook biquad (b, a) as BS.1770's K-weighting uses them (pyloudnorm's design)."""
    A = 10 ** (gain_db / 40.0)
    w0 = 2.0 * np.pi * fc / rate
    alpha = np.sin(w0) / (2.0 * q)
    c = np.cos(w0)
    if kind == "high_shelf":
        r = 2 * np.sqrt(A) * alpha
        b = [A * ((A + 1) + (A - 1) * c + r), -2 * A * ((A - 1) + (A + 1) * c),
             A * ((A + 1) + (A - 1) * c - r)]
        a = [(A + 1) - (A - 1) * c + r, 2 * ((A - 1) - (A + 1) * c), (A + 1) - (A - 1) * c - r]
    else:  # high_pass
        b = [(1 + c) / 2, -(1 + c), (1 + c) / 2]
        a = [1 + alpha, -2 * c, 1 - alpha]
    return np.array(b) / a[0], np.array(a) / a[0]


_K_WEIGHTING = (("high_shelf", 4.0, 1 / math.sqrt(2), 1500.0), ("high_pass", 0.0, 0.5, 38.0))
_K_IR_S = 0.5   # the K-weighting filters' impulse response, truncated here (decayed > 200 dB)


def k_weighting_impulse_response(sample_rate: int) -> np.ndarray:
    """Impulse response of BS.1770's K-weighting (high shelf + 38 Hz high-pass), float64
    [0.5 s]: the two biquads' frequency response sampled finely and inverted."""
    n = 1 << int(math.ceil(math.log2(4 * _K_IR_S * sample_rate)))
    z = np.exp(-1j * np.linspace(0.0, np.pi, n // 2 + 1))
    response = np.ones(n // 2 + 1, complex)
    for kind, gain_db, q, fc in _K_WEIGHTING:
        b, a = _biquad(kind, gain_db, q, fc, sample_rate)
        response *= (b[0] + b[1] * z + b[2] * z * z) / (a[0] + a[1] * z + a[2] * z * z)
    return np.fft.irfft(response, n=n)[:int(_K_IR_S * sample_rate)]


def _fft_convolve(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """``x`` convolved with ``h``, trimmed to len(x) (overlap-add of FFT blocks), float64."""
    n_fft = 1 << int(math.ceil(math.log2(4 * h.shape[0])))
    step = n_fft - h.shape[0] + 1
    h_spec = np.fft.rfft(h, n_fft)
    out = np.zeros(x.shape[0] + n_fft, np.float64)
    for start in range(0, x.shape[0], step):
        piece = np.fft.irfft(np.fft.rfft(x[start:start + step], n_fft) * h_spec, n_fft)
        out[start:start + n_fft] += piece
    return out[:x.shape[0]]


def block_powers(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mean square of the K-weighted signal in BS.1770's 400 ms gating blocks (75 % overlap),
    float64 [n_blocks]; the K-weighting is pyloudnorm's pair of biquads (applied as their
    impulse response, numpy only), the blocks those of its ``integrated_loudness``, computed at
    once from a cumulative sum."""
    z = _fft_convolve(np.asarray(x, np.float64), k_weighting_impulse_response(sample_rate))
    block = LOUDNESS_BLOCK_S
    n_blocks = int(np.round((z.shape[0] / sample_rate - block) / (block * 0.25))) + 1
    j = np.arange(max(n_blocks, 0))
    lo = (block * (j * 0.25) * sample_rate).astype(np.int64)
    hi = np.minimum((block * (j * 0.25 + 1) * sample_rate).astype(np.int64), z.shape[0])
    c = np.concatenate([[0.0], np.cumsum(z * z)])
    return (c[hi] - c[lo]) / (block * sample_rate)


def gated_loudness(powers: np.ndarray, gain: float = 1.0) -> float:
    """BS.1770 integrated loudness (LUFS) from block powers, for the signal scaled by ``gain``:
    absolute gate -70 LUFS, relative gate 10 LU below the mean of the blocks that pass it."""
    p = powers * (gain * gain)
    with np.errstate(divide="ignore"):
        level = -0.691 + 10.0 * np.log10(p)
    above = level >= -70.0
    if not above.any():
        return -math.inf
    relative = -0.691 + 10.0 * math.log10(float(np.mean(p[above]))) - 10.0
    gated = above & (level > relative)
    return -0.691 + 10.0 * math.log10(float(np.mean(p[gated]))) if gated.any() else -math.inf


def integrated_loudness(audio, *, sample_rate: int) -> float:
    """Integrated loudness of mono ``audio`` [n_samples] in LUFS (ITU-R BS.1770-4: pyloudnorm's
    K-weighting and gating, block powers computed at once).

    Audio shorter than one 400 ms gating block is padded with silence to one block. Returns
    ``-inf`` when every block is below the -70 LUFS absolute gate (silence).
    """
    x = as_mono_audio(audio, "audio").astype(np.float64)
    rate = check_sample_rate(sample_rate)
    block = int(math.ceil(LOUDNESS_BLOCK_S * rate)) + 1
    if x.shape[0] < block:
        x = np.pad(x, (0, block - x.shape[0]))
    return gated_loudness(block_powers(x, rate))
