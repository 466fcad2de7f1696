"""Sinusoidal analysis with known f0: audio -> ``SynthParams`` targets (DESIGN §7).

With the fundamental known per frame, the harmonic amplitudes and the noise-band levels can be
read straight off a short-time spectrum, so the Synthesis Generator can be trained by regression
in parameter space without running the synthesizer.

Frame convention (as everywhere in the package): ``n_frames = n_samples // hop`` with
``hop = sample_rate // frame_rate``; frame ``i`` is centred on sample ``i * hop`` (the signal is
zero-padded on both sides).

Per frame:

* **windows**: Hann windows of at least ``_HARMONIC_PERIODS`` periods of f0 (harmonics) and
  Blackman-Harris windows of at least ``_NOISE_PERIODS`` periods (noise; side lobes -92 dB),
  picked from a ladder of lengths a factor ~sqrt(2) apart (128 .. 6144 samples at 16 kHz), so
  low notes (double bass, 41 Hz) get long windows that resolve their harmonics and high notes
  get short windows that follow fast changes. Frames sharing a window length are one batched
  FFT (zero-padded to >= 2x for peak interpolation); there is no Python loop over frames.
  Where the window is much longer than the hop, only every ``window / (_MAX_OVERLAP * hop)``-th
  frame is analysed and the frames in between are interpolated linearly (the window cannot
  resolve faster changes anyway).
* **harmonics**: for k = 1..n_harmonics the largest bin within ``±_SEARCH_FRACTION`` harmonic
  spacings of ``k * f0``, refined by parabolic interpolation of the dB magnitude; converted to a
  sinusoid amplitude with the window sum (``2 |X| / sum(w)``), so a steady sine of amplitude A
  reads A. Harmonics at or above Nyquist are 0.
* ``amplitude = sum_k a_k``; ``harmonic_distribution = a_k / amplitude`` (uniform where the
  amplitude is 0).
* **noise**: the residual spectrum, i.e. the power spectrum with the bins within
  ``max(_MASK_MAIN_LOBE_BINS bins, _MASK_FRACTION * f0)`` of each harmonic masked out (widened
  by the f0 change across the window), averaged into ``n_noise_bands`` triangular bands centred
  on linearly spaced frequencies 0..Nyquist (bands left with no unmasked bin take the value of
  their neighbours), and converted to the filter magnitude ``m_b`` that the filtered-noise synth
  needs to produce that level: white noise of variance ``FILTERED_NOISE_VARIANCE`` through a
  filter of gain ``m_b`` has expected windowed power ``m_b**2 * FILTERED_NOISE_VARIANCE *
  sum(w**2)``. Partials above harmonic ``n_harmonics`` (low notes) are not masked: the
  harmonic synth cannot play them, so their energy is measured as noise. Checked against
  ``midi_ddsp.dsp.synths.filtered_noise`` (tests): known magnitudes come back within ~1 dB.
* **unvoiced** frames (f0 <= 0): amplitude 0, uniform distribution, all energy to noise.
"""
from __future__ import annotations

import functools
import logging
import math

import numpy as np
import scipy.fft

from midi_ddsp.errors import ParameterError
from midi_ddsp.synth_params import SynthParams

__all__ = ["FILTERED_NOISE_VARIANCE", "analyse_audio", "resynthesis_floor", "fill_unvoiced"]

logger = logging.getLogger(__name__)

FILTERED_NOISE_VARIANCE = 1.0 / 3.0
"""Variance of the white-noise source of the filtered-noise synth (uniform in [-1, 1], as in
ddsp's ``FilteredNoise``). This is the one calibration constant linking measured residual
power to ``noise_magnitudes``: change it here if the synth's noise source changes."""

_HARMONIC_PERIODS = 4.0
"""Harmonic windows span at least this many periods of f0 (Hann main lobes of adjacent
harmonics then meet at most half-way, neighbours sit on side lobes <= -31 dB)."""

_NOISE_PERIODS = 12.0
"""Noise windows (4-term Blackman-Harris: main lobe +-4 bins, side lobes <= -92 dB) span at least
this many periods of f0, so between harmonics 12+ bins apart some bins lie outside every main
lobe, where the harmonics leak (almost) nothing that could read as noise."""

_BLACKMAN_HARRIS = (0.35875, 0.48829, 0.14128, 0.01168)

_LADDER_16K = (128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096, 6144)
"""Window lengths in samples at 16 kHz (scaled with the sample rate), a factor ~sqrt(2) apart."""

_UNVOICED_WINDOW_16K = 512
"""Window length at 16 kHz for frames without f0 (noise only): 32 ms."""

_ZERO_PAD = 2
"""FFT size >= _ZERO_PAD * window length (finer bins for peak picking; a fast FFT length)."""

_MAX_OVERLAP = 4
"""Frames with long windows are analysed at most every ``window / _MAX_OVERLAP`` samples (a
4 ms hop under a 128 ms window is 32x redundant); frames in between are interpolated."""

_CHUNK_FRAMES = 1024
"""Frames analysed per batch: bounds memory (~10-100 MB) for recordings of any length."""

_SEARCH_FRACTION = 0.45
"""Peak search half-width around k * f0, as a fraction of the harmonic spacing f0."""

_MASK_MAIN_LOBE_BINS = 4.5
"""Half-width of the harmonic mask for the noise residual, in bins of the unpadded window
(a Blackman-Harris main lobe is +-4 bins), widened by the f0 change across the window."""

_MASK_FRACTION = 0.35
"""The harmonic mask covers at least this fraction of the harmonic spacing on either side, so the
residual is read around the midpoints between harmonics, where their leakage is lowest."""

_MAX_MASK_FRACTION = 0.45
"""The harmonic mask never exceeds this fraction of the harmonic spacing on either side."""

_MAX_REFINE_CENTS = 50.0
"""The f0 measured from the harmonic peaks stays within this many cents of the given f0."""

_TINY_MAGNITUDE = 1e-12
"""Floor on |X| before taking dB for peak interpolation (-240 dB; avoids log(0))."""


# ---------------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------------
def analyse_audio(audio, f0_hz, *, sample_rate: int = 16000, frame_rate: int = 250,
                  n_harmonics: int = 60, n_noise_bands: int = 65,
                  refine_f0: bool = False) -> SynthParams:
    """Measure DDSP synthesis parameters of a monophonic recording with known f0.

    Args:
        audio: mono waveform, shape [n_samples], float.
        f0_hz: fundamental frequency in Hz per frame, >= 0 (0 = unvoiced), shape [n_frames]
            with ``n_frames == n_samples // (sample_rate // frame_rate)``.
        sample_rate: audio sample rate in Hz.
        frame_rate: control frame rate in Hz; must divide ``sample_rate``.
        n_harmonics: number of harmonics to measure (k = 1..n_harmonics).
        n_noise_bands: number of noise bands, centres linearly spaced 0..Nyquist.
        refine_f0: return the f0 measured from the harmonic peaks (power-weighted mean of
            ``f_k / k``, within +-``_MAX_REFINE_CENTS`` of the given f0) instead of the given
            f0. The refined f0 always places the noise pass's harmonic mask.

    Returns:
        ``SynthParams`` with ``f0_hz`` [n_frames] (the input, or the refined f0),
        ``amplitude`` [n_frames] (linear sum of the harmonic sinusoid amplitudes),
        ``harmonic_distribution`` [n_frames, n_harmonics] (rows sum to 1) and
        ``noise_magnitudes`` [n_frames, n_noise_bands] (linear filter gains, see
        ``FILTERED_NOISE_VARIANCE``).

    Raises:
        ParameterError: wrong shapes, lengths or option values.
    """
    x, f0, hop = _validate(audio, f0_hz, sample_rate, frame_rate, n_harmonics, n_noise_bands)
    n_frames = f0.shape[0]
    if n_frames == 0:
        return _to_params(f0, np.zeros((0, n_harmonics)), np.zeros((0, n_noise_bands)))

    ladder = _ladder(sample_rate)
    pad = ladder[-1] // 2 + 1
    padded = np.zeros(x.shape[0] + 2 * pad, np.float32)
    padded[pad:pad + x.shape[0]] = x
    grid = dict(padded=padded, pad=pad, hop=hop, ladder=ladder, sample_rate=sample_rate)
    voiced = f0 > 0

    # pass 1: harmonic amplitudes and the f0 the peaks say (last column: f0 ratio)
    measured = _run_groups(
        f0, periods=_HARMONIC_PERIODS, n_out=n_harmonics + 1,
        compute=lambda frames, rows: _harmonic_amplitudes(
            frames, f0[rows], sample_rate=sample_rate, n_harmonics=n_harmonics), **grid)
    amps = measured[:, :n_harmonics]
    k = np.arange(1, n_harmonics + 1)
    amps[(k[None, :] * f0[:, None] >= sample_rate / 2.0) | ~voiced[:, None]] = 0.0
    f0_refined = np.where(voiced, f0 * measured[:, n_harmonics], 0.0)

    # pass 2: noise residual around the measured harmonics; the f0 slope (Hz per second)
    # widens the mask under vibrato / glides
    slope_hz_per_s = np.abs(np.gradient(f0_refined)) * frame_rate if n_frames > 1 \
        else np.zeros(1)
    slope_hz_per_s[~voiced] = 0.0
    noise = _run_groups(
        f0_refined, periods=_NOISE_PERIODS, n_out=n_noise_bands,
        compute=lambda frames, rows: _noise_bands(
            frames, f0_refined[rows], slope_hz_per_s[rows], sample_rate=sample_rate,
            n_harmonics=n_harmonics, n_noise_bands=n_noise_bands), **grid)
    return _to_params(f0_refined if refine_f0 else f0, amps, noise)


def _run_groups(f0, *, periods, n_out, compute, padded, pad, hop, ladder, sample_rate
                ) -> np.ndarray:
    """Apply ``compute(frames [G, length], rows [G]) -> [G, n_out]`` to every frame.

    Frames are grouped by window length (and voicing); in groups whose window is much longer
    than the hop only every ``stride``-th frame (plus both ends of each contiguous run) is
    computed and the rest is interpolated linearly in time.
    """
    n_frames = f0.shape[0]
    out = np.zeros((n_frames, n_out), np.float64)
    window_index = _choose_windows(f0, ladder, sample_rate, periods=periods)
    group_key = window_index * 2 + (f0 > 0)
    for key in np.unique(group_key):
        rows = np.nonzero(group_key == key)[0]
        length = ladder[key // 2]
        stride = max(1, length // (_MAX_OVERLAP * hop))
        run_edge = np.ones(rows.shape[0], bool)
        run_edge[1:-1] = (np.diff(rows)[1:] != 1) | (np.diff(rows)[:-1] != 1)
        analysed = rows[(rows % stride == 0) | run_edge]
        view = np.lib.stride_tricks.sliding_window_view(padded, length)  # no copy
        for first in range(0, analysed.size, _CHUNK_FRAMES):  # bounded memory
            chunk = analysed[first:first + _CHUNK_FRAMES]
            out[chunk] = compute(view[chunk * hop + pad - length // 2], chunk)
        skipped = np.setdiff1d(rows, analysed, assume_unique=True)
        if skipped.size:
            right = np.searchsorted(analysed, skipped)
            left_row, right_row = analysed[right - 1], analysed[right]
            t = ((skipped - left_row) / (right_row - left_row))[:, None]
            out[skipped] = out[left_row] * (1 - t) + out[right_row] * t
    return out


def resynthesis_floor(audio, params: SynthParams, *, sample_rate: int = 16000) -> float:
    """Multi-scale spectral loss between ``audio`` and a DDSP resynthesis of ``params``.

    The resynthesis uses ``midi_ddsp.dsp.blocks.render_synth_params`` without reverb
    (seed 0), with unvoiced frames (f0 = 0) rendered at the nearest voiced f0; the loss is
    ``midi_ddsp.dsp.spectral.multiscale_spectral_loss`` (DESIGN §8). This is what a model
    predicting ``params`` exactly would score on this audio (a floor for the resynthesis
    metric), so the corpus builder reports it per instrument. Part of it is irreducible: the
    noise is random and harmonic phases are not modelled.

    Args:
        audio: mono waveform, shape [n_samples].
        params: analysed parameters of ``audio`` (e.g. from :func:`analyse_audio`).
        sample_rate: audio sample rate in Hz.

    Returns:
        the loss as a Python float (0 for a perfect resynthesis).
    """
    from midi_ddsp.dsp.spectral import multiscale_spectral_loss
    from midi_ddsp.dsp.blocks import render_synth_params

    x = np.asarray(audio, np.float32)
    if x.ndim != 1 or x.size == 0:
        raise ParameterError(f"audio: expected a non-empty 1-D array, got shape {x.shape}")
    if not isinstance(params, SynthParams):
        raise ParameterError(f"params: expected SynthParams, got {type(params).__name__}")
    # unvoiced frames carry f0 = 0 and amplitude 0; rendering them with the nearest voiced f0
    # avoids glides to 0 Hz at every note boundary (what a model is free to do as well)
    render = SynthParams(fill_unvoiced(params.f0_hz), params.amplitude,
                         params.harmonic_distribution, params.noise_magnitudes)
    resynth = np.asarray(render_synth_params(render, sample_rate=sample_rate,
                                             impulse_response=None, seed=0), np.float32).reshape(-1)
    if resynth.shape[0] < x.shape[0]:
        resynth = np.pad(resynth, (0, x.shape[0] - resynth.shape[0]))
    resynth = resynth[:x.shape[0]]
    return float(multiscale_spectral_loss(x, resynth))


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def fill_unvoiced(f0_hz: np.ndarray) -> np.ndarray:
    """f0 with frames <= 0 set to the nearest voiced frame's f0 (unchanged if none is voiced)."""
    f0 = np.asarray(f0_hz, np.float32)
    voiced = np.nonzero(f0 > 0)[0]
    if voiced.size == 0 or voiced.size == f0.size:
        return f0
    nearest = np.clip(np.searchsorted(voiced, np.arange(f0.size)), 0, voiced.size - 1)
    left = voiced[np.maximum(nearest - 1, 0)]
    right = voiced[nearest]
    idx = np.arange(f0.size)
    pick = np.where(np.abs(idx - left) <= np.abs(right - idx), left, right)
    return np.where(f0 > 0, f0, f0[pick]).astype(np.float32)


def _validate(audio, f0_hz, sample_rate, frame_rate, n_harmonics, n_noise_bands):
    for name, value in (("sample_rate", sample_rate), ("frame_rate", frame_rate),
                        ("n_harmonics", n_harmonics), ("n_noise_bands", n_noise_bands)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
            raise ParameterError(f"{name}: expected a positive integer, got {value!r}")
    if n_noise_bands < 2:
        raise ParameterError(f"n_noise_bands: expected at least 2, got {n_noise_bands}")
    if sample_rate % frame_rate:
        raise ParameterError(f"frame_rate ({frame_rate} Hz) must divide sample_rate ({sample_rate} Hz)")
    try:
        x = np.asarray(audio, dtype=np.float64)
        f0 = np.asarray(f0_hz, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"audio and f0_hz: expected numeric arrays ({exc})") from None
    if x.ndim != 1:
        raise ParameterError(f"audio: expected shape [n_samples], got {x.shape}")
    if f0.ndim != 1:
        raise ParameterError(f"f0_hz: expected shape [n_frames], got {f0.shape}")
    hop = sample_rate // frame_rate
    if f0.shape[0] != x.shape[0] // hop:
        raise ParameterError(
            f"f0_hz has {f0.shape[0]} frames but audio of {x.shape[0]} samples has "
            f"{x.shape[0] // hop} frames (n_samples // {hop})")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(f0))):
        raise ParameterError("audio and f0_hz must be finite (found NaN or inf)")
    return x, np.maximum(f0, 0.0), hop


@functools.lru_cache(maxsize=8)
def _ladder(sample_rate: int) -> tuple[int, ...]:
    scale = sample_rate / 16000.0
    return tuple(sorted({max(16, 2 * int(round(n * scale / 2))) for n in _LADDER_16K}))


def _choose_windows(f0: np.ndarray, ladder: tuple[int, ...], sample_rate: int, *,
                    periods: float) -> np.ndarray:
    """Index into ``ladder`` per frame: the shortest window of >= ``periods`` periods of f0."""
    lengths = np.asarray(ladder, np.float64)
    need = np.where(f0 > 0, periods * sample_rate / np.maximum(f0, 1e-9), 0.0)
    index = np.minimum(np.searchsorted(lengths, need), len(ladder) - 1)
    unvoiced = int(np.argmin(np.abs(lengths - _UNVOICED_WINDOW_16K * sample_rate / 16000.0)))
    return np.where(f0 > 0, index, unvoiced)


@functools.lru_cache(maxsize=32)
def _window(length: int, kind: str = "hann") -> np.ndarray:
    """Periodic Hann or 4-term Blackman-Harris window of ``length`` samples, float32."""
    phase = 2 * np.pi * np.arange(length) / length
    if kind == "hann":
        return (0.5 - 0.5 * np.cos(phase)).astype(np.float32)
    a0, a1, a2, a3 = _BLACKMAN_HARRIS
    return (a0 - a1 * np.cos(phase) + a2 * np.cos(2 * phase) - a3 * np.cos(3 * phase)
            ).astype(np.float32)


@functools.lru_cache(maxsize=32)
def _band_weights(n_bins: int, n_bands: int) -> np.ndarray:
    """Triangular weights [n_bins, n_bands]: band b peaks at bin frequency b/(n_bands-1) * Nyquist."""
    position = np.linspace(0.0, n_bands - 1, n_bins)  # each bin's position on the band axis
    weights = np.maximum(0.0, 1.0 - np.abs(position[:, None] - np.arange(n_bands)[None, :]))
    return weights.astype(np.float32)


def _fill_empty_bands(values: np.ndarray) -> np.ndarray:
    """Replace NaN bands by the nearest valid band of the same frame (linear in band index)."""
    bad = np.isnan(values)
    if not bad.any():
        return values
    n_rows, n_bands = values.shape
    idx = np.arange(n_bands)
    left = np.where(~bad, idx, -1)
    left = np.maximum.accumulate(left, axis=1)
    right = np.where(~bad, idx, n_bands)
    right = np.minimum.accumulate(right[:, ::-1], axis=1)[:, ::-1]
    rows = np.arange(n_rows)[:, None]
    lv = np.where(left >= 0, values[rows, np.clip(left, 0, n_bands - 1)], np.nan)
    rv = np.where(right < n_bands, values[rows, np.clip(right, 0, n_bands - 1)], np.nan)
    span = np.maximum(right - left, 1)
    t = (idx[None, :] - left) / span
    both = np.isfinite(lv) & np.isfinite(rv)
    filled = np.where(both, lv + (rv - lv) * t, np.where(np.isfinite(lv), lv, rv))
    filled = np.where(np.isfinite(filled), filled, 0.0)
    return np.where(bad, filled, values)


def _harmonics_below_nyquist(f0: np.ndarray, sample_rate: int, n_harmonics: int) -> int:
    """How many harmonics of the lowest voiced f0 lie below Nyquist (at most n_harmonics)."""
    voiced = f0[f0 > 0]
    if voiced.size == 0:
        return n_harmonics
    return int(max(1, min(n_harmonics, math.ceil(sample_rate / 2.0 / float(voiced.min())))))


def _power_spectrum(frames: np.ndarray, kind: str = "hann") -> tuple[np.ndarray, np.ndarray, int]:
    """Windowed (Hann or Blackman-Harris), zero-padded power spectra of frames [G, length]."""
    n_group, length = frames.shape
    window = _window(length, kind)
    n_fft = scipy.fft.next_fast_len(_ZERO_PAD * length, real=True)
    buffer = np.zeros((n_group, n_fft), np.float32)
    np.multiply(frames, window, out=buffer[:, :length])
    spectrum = scipy.fft.rfft(buffer, axis=-1, workers=1)
    power = spectrum.real ** 2
    power += spectrum.imag ** 2
    return power, window, n_fft


def _harmonic_amplitudes(frames, f0, *, sample_rate, n_harmonics) -> np.ndarray:
    """Sinusoid amplitudes at k * f0 of frames [G, length] (0 where unvoiced), and f0 ratio.

    Returns:
        [G, n_harmonics + 1]: amplitudes of harmonics 1..n_harmonics, then the ratio of the f0
        measured from the peaks to the given f0 (1 where nothing was measured).
    """
    power, window, n_fft = _power_spectrum(frames)
    n_group, n_bins = power.shape
    bin_hz = sample_rate / n_fft
    voiced = f0 > 0
    out = np.zeros((n_group, n_harmonics + 1))
    out[:, n_harmonics] = 1.0  # f0 ratio
    if not voiced.any():
        return out
    # only harmonics below Nyquist for the lowest f0 of the group are searched
    k_max = _harmonics_below_nyquist(f0, sample_rate, n_harmonics)
    k = np.arange(1, k_max + 1, dtype=np.float64)
    centre = np.rint(k[None, :] * f0[:, None] / bin_hz).astype(np.int64)  # [G, K] in bins
    half = np.maximum(np.floor(_SEARCH_FRACTION * f0 / bin_hz), 1).astype(np.int64)  # [G]
    reach = int(half.max())
    offsets = np.arange(-reach, reach + 1)
    idx = centre[:, :, None] + offsets  # [G, K, W]
    ok = (np.abs(offsets)[None, None, :] <= half[:, None, None]) & (idx >= 1) \
        & (idx <= n_bins - 2)
    np.clip(idx, 1, n_bins - 2, out=idx)
    flat = power.reshape(-1)
    idx += (np.arange(n_group) * n_bins)[:, None, None]  # flat indices into power
    values = flat[idx]
    values[~ok] = -1.0
    best = np.argmax(values, axis=-1)  # [G, K]
    peak = np.take_along_axis(idx, best[..., None], axis=-1)[..., 0]
    tiny = _TINY_MAGNITUDE ** 2
    alpha = 10.0 * np.log10(np.maximum(flat[peak - 1], tiny).astype(np.float64))
    beta = 10.0 * np.log10(np.maximum(flat[peak], tiny).astype(np.float64))
    gamma = 10.0 * np.log10(np.maximum(flat[peak + 1], tiny).astype(np.float64))
    denom = alpha - 2.0 * beta + gamma
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(denom < 0, 0.5 * (alpha - gamma) / denom, 0.0)
    p = np.clip(p, -0.5, 0.5)
    peak_db = beta - 0.25 * (alpha - gamma) * p
    amplitude = 10.0 ** (peak_db / 20.0) * (2.0 / float(window.sum()))
    found = voiced[:, None] & ok.any(-1)
    amplitude = np.where(found, amplitude, 0.0)
    out[:, :k_max] = amplitude
    # f0 from the peak frequencies: power-weighted mean of f_k / (k f0), clamped
    peak_bin = (peak - np.arange(n_group)[:, None] * n_bins) + p
    ratio = peak_bin * bin_hz / (k[None, :] * np.where(voiced, f0, 1.0)[:, None])
    weight = np.where(found & (k[None, :] * f0[:, None] < sample_rate / 2.0), amplitude ** 2, 0.0)
    total = weight.sum(axis=1)
    mean_ratio = np.where(total > 0, (weight * ratio).sum(axis=1) / np.maximum(total, 1e-30), 1.0)
    limit = 2.0 ** (_MAX_REFINE_CENTS / 1200.0)
    out[:, n_harmonics] = np.clip(mean_ratio, 1.0 / limit, limit)
    return out


def _noise_bands(frames, f0, slope, *, sample_rate, n_harmonics, n_noise_bands) -> np.ndarray:
    """Residual (non-harmonic) level of frames [G, length] as filter magnitudes [G, n_noise_bands]."""
    power, window, n_fft = _power_spectrum(frames, "blackman_harris")
    n_group, n_bins = power.shape
    length = frames.shape[1]
    bin_hz = sample_rate / n_fft
    voiced = f0 > 0
    g_col = np.arange(n_group)[:, None]
    # ---- noise residual: zero the bins under each harmonic's main lobe -----------------------
    keep = np.ones((n_group, n_bins), np.float32)
    if voiced.any():
        window_s = length / sample_rate
        n_harmonics = _harmonics_below_nyquist(f0, sample_rate, n_harmonics)
        k = np.arange(1, n_harmonics + 1, dtype=np.float64)
        half_hz = np.maximum(_MASK_MAIN_LOBE_BINS * sample_rate / length,
                             _MASK_FRACTION * f0[:, None]) \
            + 0.5 * k[None, :] * slope[:, None] * window_s  # [G, K]
        half_hz = np.minimum(half_hz, _MAX_MASK_FRACTION * f0[:, None])
        lo = np.ceil((k[None, :] * f0[:, None] - half_hz) / bin_hz).astype(np.int64)
        hi = np.floor((k[None, :] * f0[:, None] + half_hz) / bin_hz).astype(np.int64)
        width = int(max(0, (hi - lo).max())) + 1
        if n_harmonics * width < n_bins:  # few, narrow lobes in a long spectrum: scatter zeros
            idx = lo[:, :, None] + np.arange(width)  # [G, K, width]
            inside = (idx <= hi[:, :, None]) & (idx >= 0) & (idx < n_bins) \
                & voiced[:, None, None]
            g_idx = np.broadcast_to(g_col[:, :, None], idx.shape)
            keep[g_idx[inside], idx[inside]] = 0.0
        else:  # dense: distance of every bin to its nearest harmonic
            bins = np.arange(n_bins, dtype=np.float32)[None, :]
            f0_bins = np.where(voiced, f0 / bin_hz, 1.0).astype(np.float32)[:, None]
            order = np.rint(bins / f0_bins)
            distance = np.abs(bins - order * f0_bins)
            k_near = np.clip(order, 1, n_harmonics).astype(np.int64) - 1
            half_bins = np.take_along_axis((half_hz / bin_hz).astype(np.float32), k_near, axis=1)
            masked = (distance <= half_bins) & (order >= 1) & (order <= n_harmonics) \
                & voiced[:, None]
            keep[masked] = 0.0
    weights = _band_weights(n_bins, n_noise_bands)
    num = (power * keep) @ weights
    den = keep @ weights
    with np.errstate(divide="ignore", invalid="ignore"):
        band_power = np.where(den > 1e-6, num / den, np.nan).astype(np.float64)
    band_power = _fill_empty_bands(band_power)
    scale = FILTERED_NOISE_VARIANCE * float(np.sum(window.astype(np.float64) ** 2))
    return np.sqrt(np.maximum(band_power, 0.0) / scale)


def _to_params(f0, amps, noise) -> SynthParams:
    total = amps.sum(axis=1)
    n_harmonics = amps.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        dist = np.where(total[:, None] > 0, amps / np.where(total > 0, total, 1.0)[:, None],
                        1.0 / n_harmonics)
    return SynthParams(f0_hz=f0.astype(np.float32), amplitude=total.astype(np.float32),
                       harmonic_distribution=dist.astype(np.float32),
                       noise_magnitudes=noise.astype(np.float32))
