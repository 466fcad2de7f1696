"""Spectral operations: STFT magnitude, mel spectrogram, A-weighted loudness, multi-scale loss.

Analysis frames follow the project convention: on audio of ``n_samples`` samples an analysis with
hop ``hop_size`` returns ``n_frames = n_samples // hop_size`` frames, frame ``i`` centred on sample
``i * hop_size`` (the signal is zero-padded by ``n_fft // 2`` on both sides). Frame-major layout:
``[batch, n_frames, n_bins]``.
"""
from __future__ import annotations

import functools
import math
from typing import Any, Sequence

import numpy as np
import torch

from midi_ddsp.dsp.core import _as_tensor, _check_positive_int
from midi_ddsp.dsp.units import MIN_DB
from midi_ddsp.errors import ParameterError

__all__ = [
    "LOG_EPS",
    "LOUDNESS_REFERENCE",
    "a_weighting_db",
    "a_weighted_loudness_db",
    "stft_magnitude",
    "mel_filterbank",
    "NOISE_FLOOR_OFFSET_DB",
    "harmonic_log_amplitudes",
    "log_mel",
    "noise_floor_log_amplitudes",
    "multiscale_spectral_loss",
]

LOG_EPS = 1e-5
"""Added before taking logs of magnitudes/mel energies (ddsp's safe_log), -100 dB re. 1."""

_MIN_POWER = 10.0 ** (MIN_DB / 10.0)  # loudness floor: 1e-12 in power -> -120 dB

LOUDNESS_REFERENCE = (
    "dB re. a full-scale sine: a sine of peak amplitude A at 1 kHz reads 20*log10(A) "
    "(amplitude 1 -> 0 dB); A-weighting is 0 dB at 1 kHz; floor -120 dB"
)
"""Calibration of :func:`a_weighted_loudness_db`, in words."""


def _audio_2d(audio: Any, name: str = "audio") -> tuple[torch.Tensor, bool]:
    x = _as_tensor(audio, name, ndims=(1, 2))
    squeeze = x.ndim == 1
    if x.shape[-1] == 0:
        raise ParameterError(f"{name}: expected at least one sample, got shape {tuple(x.shape)}")
    return (x.unsqueeze(0) if squeeze else x), squeeze


def _stft(audio: torch.Tensor, n_fft: int, hop_size: int) -> torch.Tensor:
    """Complex STFT, [batch, n_frames, n_fft // 2 + 1], n_frames = n_samples // hop_size."""
    n_frames = audio.shape[-1] // hop_size
    window = torch.hann_window(n_fft, dtype=audio.dtype, device=audio.device)
    spec = torch.stft(audio, n_fft, hop_length=hop_size, window=window, center=True,
                      pad_mode="constant", return_complex=True)
    return spec[..., :n_frames].transpose(1, 2)


def stft_magnitude(audio: Any, *, n_fft: int = 2048, hop_size: int | None = None) -> torch.Tensor:
    """Magnitude of the centred, Hann-windowed STFT.

    Args:
        audio: waveform, shape [batch, n_samples] or [n_samples].
        n_fft: FFT size (window length).
        hop_size: hop in samples; default ``n_fft // 4`` (75 % overlap).

    Returns:
        |STFT|, shape [batch, n_samples // hop_size, n_fft // 2 + 1] (no batch axis for 1-D input).
    """
    x, squeeze = _audio_2d(audio)
    n_fft = _check_positive_int(n_fft, "n_fft")
    hop_size = _check_positive_int(hop_size if hop_size is not None else max(1, n_fft // 4),
                                   "hop_size")
    mag = _stft(x, n_fft, hop_size).abs()
    return mag[0] if squeeze else mag


# ---------------------------------------------------------------------------------------------
# A-weighted loudness
# ---------------------------------------------------------------------------------------------
def a_weighting_db(frequency_hz: Any) -> np.ndarray:
    """IEC 61672 A-weighting in dB (same formula as ``librosa.A_weighting``; ~0 dB at 1 kHz)."""
    f_sq = np.asarray(frequency_hz, dtype=np.float64) ** 2
    const = np.array([12194.217, 20.598997, 107.65265, 737.86223]) ** 2
    with np.errstate(divide="ignore"):
        weights = 2.0 + 20.0 * (
            np.log10(const[0]) + 2 * np.log10(f_sq)
            - np.log10(f_sq + const[0]) - np.log10(f_sq + const[1])
            - 0.5 * np.log10(f_sq + const[2]) - 0.5 * np.log10(f_sq + const[3])
        )
    return weights


@functools.lru_cache(maxsize=16)
def _a_weighting_power(sample_rate: int, n_fft: int) -> np.ndarray:
    freqs = np.fft.rfftfreq(n_fft, d=1.0 / sample_rate)
    gain = np.zeros_like(freqs)
    gain[1:] = 10.0 ** (a_weighting_db(freqs[1:]) / 10.0)  # power gain; DC gets 0
    return gain


def a_weighted_loudness_db(audio: Any, *, sample_rate: int = 16000, frame_rate: int = 250,
                           n_fft: int = 2048) -> Any:
    """A-weighted loudness per frame, in dB re. a full-scale sine (see LOUDNESS_REFERENCE).

    Per frame: the A-weighted power of the Hann-windowed spectrum, normalised by Parseval so a
    steady sine of peak amplitude ``A`` at 1 kHz reads ``20 * log10(A)`` dB (a full-scale 1 kHz
    sine reads 0 dB, -20 dB relative amplitude reads -20 dB). Silence reads -120 dB (floor).
    The A-weighting is 0 dB at 1 kHz, so other frequencies read their A-weighted level.

    Args:
        audio: waveform in [-1, 1], shape [batch, n_samples] or [n_samples]; torch tensor or numpy.
        sample_rate: audio sample rate in Hz.
        frame_rate: analysis frame rate in Hz; hop = sample_rate // frame_rate.
        n_fft: FFT / window size in samples.

    Returns:
        loudness in dB, shape [batch, n_frames] (or [n_frames] for 1-D input),
        ``n_frames = n_samples // hop``. Torch in -> torch float32 out (differentiable);
        anything else -> numpy float32 out.
    """
    is_torch = isinstance(audio, torch.Tensor)
    x, squeeze = _audio_2d(audio)
    sample_rate = _check_positive_int(sample_rate, "sample_rate")
    frame_rate = _check_positive_int(frame_rate, "frame_rate")
    n_fft = _check_positive_int(n_fft, "n_fft")
    hop = sample_rate // frame_rate
    if hop < 1:
        raise ParameterError(
            f"frame_rate ({frame_rate}) must not exceed sample_rate ({sample_rate})")
    spec = _stft(x, n_fft, hop)
    power = spec.real ** 2 + spec.imag ** 2  # [B, T, bins]
    weights = torch.as_tensor(_a_weighting_power(sample_rate, n_fft), dtype=x.dtype,
                              device=x.device)
    window_energy = float(np.sum(np.hanning(n_fft + 1)[:-1] ** 2))  # periodic Hann, sum w^2
    # one-sided sum * 2 / (n_fft * sum w^2) = mean square; * 2 = squared peak amplitude of a sine
    peak_sq = (power * weights).sum(-1) * (4.0 / (n_fft * window_energy))
    loudness = 10.0 * torch.log10(torch.clamp(peak_sq, min=_MIN_POWER))
    if squeeze:
        loudness = loudness[0]
    return loudness if is_torch else loudness.detach().cpu().numpy().astype(np.float32)


# ---------------------------------------------------------------------------------------------
# mel spectrogram (librosa-compatible Slaney filterbank)
# ---------------------------------------------------------------------------------------------
def _hz_to_mel_slaney(freq: np.ndarray) -> np.ndarray:
    freq = np.asarray(freq, dtype=np.float64)
    f_sp = 200.0 / 3
    mels = freq / f_sp
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, math.log(6.4) / 27.0
    log_region = freq >= min_log_hz
    mels = np.where(log_region, min_log_mel + np.log(np.maximum(freq, min_log_hz) / min_log_hz)
                    / logstep, mels)
    return mels


def _mel_to_hz_slaney(mels: np.ndarray) -> np.ndarray:
    mels = np.asarray(mels, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, math.log(6.4) / 27.0
    return np.where(mels >= min_log_mel, min_log_hz * np.exp(logstep * (mels - min_log_mel)),
                    f_sp * mels)


@functools.lru_cache(maxsize=16)
def _mel_filterbank_cached(sample_rate: int, n_fft: int, n_mels: int, fmin: float,
                           fmax: float) -> np.ndarray:
    fft_freqs = np.fft.rfftfreq(n_fft, d=1.0 / sample_rate)
    mel_f = _mel_to_hz_slaney(np.linspace(_hz_to_mel_slaney(fmin), _hz_to_mel_slaney(fmax),
                                          n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:] - mel_f[:-2]))[:, None]  # Slaney area normalisation
    return weights.astype(np.float32)


def mel_filterbank(*, sample_rate: int = 16000, n_fft: int = 2048, n_mels: int = 128,
                   fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """Slaney-style mel filterbank, equal to ``librosa.filters.mel`` with its defaults.

    Returns:
        weights, shape [n_mels, n_fft // 2 + 1], float32.
    """
    fmax = sample_rate / 2.0 if fmax is None else float(fmax)
    if not 0.0 <= fmin < fmax <= sample_rate / 2.0:
        raise ParameterError(f"mel range: expected 0 <= fmin < fmax <= {sample_rate / 2}, "
                             f"got fmin={fmin}, fmax={fmax}")
    return _mel_filterbank_cached(int(sample_rate), int(n_fft), int(n_mels), float(fmin), fmax)


def log_mel(audio: Any, *, sample_rate: int = 16000, frame_rate: int = 250, n_fft: int = 2048,
            n_mels: int = 128, fmin: float = 0.0, fmax: float | None = None,
            power: float = 2.0) -> torch.Tensor:
    """Natural log of the mel spectrogram: ``log(mel_filterbank @ |STFT| ** power + LOG_EPS)``.

    The mel spectrogram before the log matches ``librosa.feature.melspectrogram(..., center=True,
    pad_mode='constant')`` frame for frame (first ``n_frames`` frames).

    Args:
        audio: waveform, shape [batch, n_samples] or [n_samples].

    Returns:
        log mel energies, shape [batch, n_samples // hop, n_mels] (no batch axis for 1-D input),
        hop = sample_rate // frame_rate.
    """
    x, squeeze = _audio_2d(audio)
    hop = _check_positive_int(sample_rate // frame_rate, "sample_rate // frame_rate")
    mag = _stft(x, _check_positive_int(n_fft, "n_fft"), hop).abs() ** power
    bank = torch.as_tensor(mel_filterbank(sample_rate=sample_rate, n_fft=n_fft, n_mels=n_mels,
                                          fmin=fmin, fmax=fmax), device=x.device)
    out = torch.log(mag @ bank.T + LOG_EPS)
    return out[0] if squeeze else out


def harmonic_log_amplitudes(audio: Any, f0_hz: Any, *, n_harmonics: int, sample_rate: int = 16000,
                            frame_rate: int = 250, n_fft: int = 2048, reach_bins: int = 2,
                            floor: float = 1e-5) -> torch.Tensor:
    """Natural log of the amplitude heard at each harmonic of f0, per frame.

    The centred Hann STFT's magnitude, scaled so a steady sine of amplitude ``A`` reads ``A``,
    taken at its largest within ``reach_bins`` bins of ``k * f0`` (a pitch estimate a few cents
    off still finds the peak); harmonics at or above Nyquist, and unvoiced frames (f0 <= 0),
    read ``log(floor)``.

    Args:
        audio: waveform [batch, n_samples].
        f0_hz: [batch, n_frames], n_frames <= n_samples // hop.

    Returns:
        [batch, n_frames, n_harmonics].
    """
    x, _ = _audio_2d(audio)
    f0 = torch.as_tensor(f0_hz, dtype=x.dtype, device=x.device)
    hop = _check_positive_int(sample_rate // frame_rate, "sample_rate // frame_rate")
    mag = _stft(x, _check_positive_int(n_fft, "n_fft"), hop).abs() * (4.0 / n_fft)
    n_frames = f0.shape[1]
    if mag.shape[1] < n_frames:
        mag = torch.nn.functional.pad(mag, (0, 0, 0, n_frames - mag.shape[1]))
    mag = mag[:, :n_frames]
    if reach_bins > 0:   # the largest magnitude within +-reach_bins of each bin
        mag = torch.nn.functional.max_pool1d(mag.reshape(-1, 1, mag.shape[-1]),
                                             2 * reach_bins + 1, stride=1,
                                             padding=reach_bins).reshape(mag.shape)
    k = torch.arange(1, n_harmonics + 1, dtype=x.dtype, device=x.device)
    freqs = f0[..., None] * k
    bins = torch.round(freqs * n_fft / sample_rate).long().clamp(0, mag.shape[-1] - 1)
    heard = torch.gather(mag, 2, bins)
    audible = (freqs < 0.5 * sample_rate) & (f0[..., None] > 0)
    return torch.log(torch.where(audible, heard, torch.zeros_like(heard)) + floor)


NOISE_FLOOR_OFFSET_DB = 31.7
"""``noise_db`` of the filtered-noise synth minus ``20 log10`` of the STFT median it produces in
``noise_floor_log_amplitudes`` (measured on the synth's white noise, any level)."""


def noise_floor_log_amplitudes(audio: Any, *, n_bands: int, sample_rate: int = 16000,
                               frame_rate: int = 250, n_fft: int = 2048,
                               floor: float = 1e-7) -> torch.Tensor:
    """Natural log of the noise floor around each noise band's centre frequency, per frame.

    The median of the scaled STFT magnitude (as ``harmonic_log_amplitudes``) over the bins
    nearest each of ``n_bands`` centres spaced evenly from 0 Hz to Nyquist (the filtered-noise
    synth's bands): harmonics are sparse peaks, so the median reads the noise between them.
    ``+ NOISE_FLOOR_OFFSET_DB`` (in dB) gives the synth's noise magnitude that sounds so.

    Returns:
        [batch, n_samples // hop, n_bands].
    """
    x, _ = _audio_2d(audio)
    hop = _check_positive_int(sample_rate // frame_rate, "sample_rate // frame_rate")
    mag = _stft(x, _check_positive_int(n_fft, "n_fft"), hop).abs() * (4.0 / n_fft)
    n_bins = mag.shape[-1]
    step = (n_bins - 1) / (n_bands - 1)
    half = max(1, int(step // 2))
    padded = torch.nn.functional.pad(mag, (half, half), mode="replicate")
    centres = torch.round(torch.arange(n_bands, device=x.device) * step).long()
    idx = centres[:, None] + torch.arange(2 * half + 1, device=x.device)[None, :]
    windows = padded[..., idx]                       # [batch, frames, n_bands, 2 * half + 1]
    return torch.log(windows.median(dim=-1).values + floor)


# ---------------------------------------------------------------------------------------------
# multi-scale spectral loss
# ---------------------------------------------------------------------------------------------
def multiscale_spectral_loss(target: Any, prediction: Any, *,
                             fft_sizes: Sequence[int] = (2048, 1024, 512, 256, 128, 64),
                             overlap: float = 0.75, magnitude_weight: float = 1.0,
                             log_magnitude_weight: float = 1.0) -> torch.Tensor:
    """ddsp's multi-scale spectral loss (DESIGN §8).

    Sum over FFT sizes of ``mean |S_t - S_p|`` (magnitude) and ``mean |log(S_t + LOG_EPS) -
    log(S_p + LOG_EPS)|`` (log magnitude), Hann windows with ``overlap`` (hop = n_fft * (1 -
    overlap)). Zero for identical signals.

    Args:
        target: waveform, shape [batch, n_samples] or [n_samples].
        prediction: waveform, same shape as ``target``.

    Returns:
        scalar loss tensor (differentiable w.r.t. ``prediction``).
    """
    t, _ = _audio_2d(target, "target")
    p, _ = _audio_2d(prediction, "prediction")
    if t.shape != p.shape:
        raise ParameterError(f"target and prediction must have the same shape, got "
                             f"{tuple(t.shape)} and {tuple(p.shape)}")
    if not 0.0 <= overlap < 1.0:
        raise ParameterError(f"overlap: expected a value in [0, 1), got {overlap}")
    loss = torch.zeros((), dtype=p.dtype, device=p.device)
    for n_fft in fft_sizes:
        n_fft = _check_positive_int(n_fft, "fft_sizes")
        hop = max(1, int(round(n_fft * (1.0 - overlap))))
        if t.shape[-1] < hop:
            continue
        mag_t = _stft(t, n_fft, hop).abs()
        mag_p = _stft(p, n_fft, hop).abs()
        if magnitude_weight:
            loss = loss + magnitude_weight * (mag_t - mag_p).abs().mean()
        if log_magnitude_weight:
            loss = loss + log_magnitude_weight * (
                torch.log(mag_t + LOG_EPS) - torch.log(mag_p + LOG_EPS)).abs().mean()
    return loss
