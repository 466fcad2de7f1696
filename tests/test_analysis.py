"""Tests of midi_ddsp.analysis: sinusoidal analysis with known f0 (numpy references)."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch

from midi_ddsp.analysis import (
    FILTERED_NOISE_VARIANCE,
    analyse_audio,
    resynthesis_floor,
)
from midi_ddsp.dsp.synths import filtered_noise
from midi_ddsp.errors import ParameterError
from midi_ddsp.synth_params import SynthParams

SR = 16000
HOP = 64
N_SAMPLES = SR // 2  # 0.5 s
N_FRAMES = N_SAMPLES // HOP
CORE = slice(25, N_FRAMES - 25)  # frames away from the zero-padded edges


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def _harmonic_tone(f0_frames: np.ndarray, amps: np.ndarray) -> np.ndarray:
    """Numpy sum of sines: harmonic k has amplitude amps[k-1], f0 held per frame (phase-continuous)."""
    f0_samples = np.repeat(f0_frames, HOP)
    phase = 2 * np.pi * np.cumsum(f0_samples) / SR
    out = np.zeros_like(phase)
    for k, a in enumerate(amps, start=1):
        if k * f0_samples.max() < SR / 2:  # no aliased partials
            out += a * np.sin(k * phase + 0.3 * k)
    return out


def _expected(amps: np.ndarray, f0: float):
    k = np.arange(1, len(amps) + 1)
    audible = np.where(k * f0 < SR / 2, amps, 0.0)
    return audible.sum(), audible / audible.sum()


def test_shapes_and_dtypes(rng):
    audio = rng.standard_normal(N_SAMPLES) * 0.1
    params = analyse_audio(audio, np.full(N_FRAMES, 220.0))
    assert isinstance(params, SynthParams)
    assert params.f0_hz.shape == (N_FRAMES,)
    assert params.amplitude.shape == (N_FRAMES,)
    assert params.harmonic_distribution.shape == (N_FRAMES, 60)
    assert params.noise_magnitudes.shape == (N_FRAMES, 65)
    assert params.amplitude.dtype == np.float32
    np.testing.assert_allclose(params.harmonic_distribution.sum(1), 1.0, atol=1e-5)
    small = analyse_audio(audio[:6400], np.full(100, 220.0), n_harmonics=10, n_noise_bands=17)
    assert small.harmonic_distribution.shape == (100, 10)
    assert small.noise_magnitudes.shape == (100, 17)


@pytest.mark.parametrize("f0", [41.2, 98.0, 220.0, 440.0, 1046.5])
def test_steady_harmonic_tone_is_recovered(f0):
    k = np.arange(1, 61)
    amps = 0.4 / k ** 1.3 * (1 + 0.5 * np.cos(k))  # uneven spectrum, not monotone
    audio = _harmonic_tone(np.full(N_FRAMES, f0), amps)
    params = analyse_audio(audio, np.full(N_FRAMES, f0))
    amp_true, dist_true = _expected(amps, f0)
    amp_db_error = 20 * np.log10(params.amplitude[CORE] / amp_true)
    assert np.abs(amp_db_error).max() < 1.0
    l1 = np.abs(params.harmonic_distribution[CORE] - dist_true).sum(1)
    assert l1.max() < 0.05
    # harmonics at or above Nyquist are exactly zero
    assert np.all(params.harmonic_distribution[:, k * f0 >= SR / 2] == 0)


def test_single_sine_reads_its_amplitude():
    audio = 0.25 * np.sin(2 * np.pi * 330.0 * np.arange(N_SAMPLES) / SR)
    params = analyse_audio(audio, np.full(N_FRAMES, 330.0))
    np.testing.assert_allclose(params.amplitude[CORE], 0.25, rtol=0.03)
    assert np.all(params.harmonic_distribution[CORE, 0] > 0.97)


def test_vibrato_tone_is_recovered():
    t = np.arange(N_FRAMES) / 250.0
    f0 = 392.0 * 2 ** (0.5 / 12 * np.sin(2 * np.pi * 5.5 * t))  # +-50 cents at 5.5 Hz
    k = np.arange(1, 61)
    amps = 0.3 / k ** 1.5
    audio = _harmonic_tone(f0, amps)
    params = analyse_audio(audio, f0)
    amp_true, _ = _expected(amps, f0.max())
    amp_db_error = 20 * np.log10(params.amplitude[CORE] / amp_true)
    assert np.abs(amp_db_error).max() < 1.0
    dist_true = amps[:10] / amp_true  # the strong low harmonics
    l1 = np.abs(params.harmonic_distribution[CORE, :10] - dist_true).sum(1)
    assert np.median(l1) < 0.05


@pytest.mark.parametrize("cents", [-30.0, 12.0])
def test_refine_f0_measures_a_detuned_tone(cents):
    f0_true = 330.0 * 2 ** (cents / 1200)
    k = np.arange(1, 21)
    audio = _harmonic_tone(np.full(N_FRAMES, f0_true), 0.3 / k)
    given = np.full(N_FRAMES, 330.0)
    given[:10] = 0.0  # unvoiced frames stay unvoiced
    refined = analyse_audio(audio, given, refine_f0=True)
    assert np.all(refined.f0_hz[:10] == 0)
    error_cents = 1200 * np.log2(refined.f0_hz[CORE] / f0_true)
    assert np.abs(error_cents).max() < 2.0
    plain = analyse_audio(audio, given)
    np.testing.assert_array_equal(plain.f0_hz, given.astype(np.float32))
    # the amplitudes do not depend on the option
    np.testing.assert_allclose(refined.amplitude, plain.amplitude)


def test_unvoiced_and_silent_frames(rng):
    audio = np.zeros(N_SAMPLES)
    audio[: N_SAMPLES // 2] = 0.05 * rng.standard_normal(N_SAMPLES // 2)
    f0 = np.zeros(N_FRAMES)
    params = analyse_audio(audio, f0)
    assert np.all(params.amplitude == 0)
    np.testing.assert_allclose(params.harmonic_distribution, 1 / 60)
    assert np.all(params.noise_magnitudes[10:40] > 0.01)  # the noise half
    assert np.all(params.noise_magnitudes[-20:] == 0)  # digital silence


def test_white_noise_level_is_calibrated(rng):
    """White noise of variance s**2 is a flat filter of gain s / sqrt(FILTERED_NOISE_VARIANCE)."""
    std = 0.05
    audio = std * rng.standard_normal(N_SAMPLES)
    params = analyse_audio(audio, np.zeros(N_FRAMES))
    expected = std / np.sqrt(FILTERED_NOISE_VARIANCE)
    rms = np.sqrt(np.mean(params.noise_magnitudes[CORE] ** 2, axis=0))
    error_db = 20 * np.log10(rms[1:-1] / expected)
    assert abs(np.median(error_db)) < 0.3  # no bias
    assert np.abs(error_db).max() < 1.5  # estimation noise of 0.5 s


def test_band_limited_noise_lands_in_its_bands(rng):
    sos = scipy.signal.butter(8, [2000, 3000], btype="bandpass", fs=SR, output="sos")
    audio = scipy.signal.sosfilt(sos, rng.standard_normal(N_SAMPLES))
    params = analyse_audio(audio, np.zeros(N_FRAMES))
    level_db = 20 * np.log10(np.mean(params.noise_magnitudes[CORE], axis=0) + 1e-12)
    band_hz = np.linspace(0, SR / 2, 65)
    inside = (band_hz > 2150) & (band_hz < 2850)
    outside = (band_hz < 1000) | (band_hz > 4500)
    assert level_db[inside].min() > level_db[outside].max() + 30
    assert np.argmax(level_db) in np.nonzero((band_hz >= 2000) & (band_hz <= 3000))[0]


def test_harmonic_leakage_is_not_read_as_noise():
    k = np.arange(1, 61)
    amps = 0.5 / k
    audio = _harmonic_tone(np.full(N_FRAMES, 220.0), amps)
    params = analyse_audio(audio, np.full(N_FRAMES, 220.0))
    tone_power = np.sum(np.where(k * 220.0 < SR / 2, amps, 0.0) ** 2 / 2)
    # power the filtered-noise synth would produce from these magnitudes (bands share 0..Nyquist)
    noise_power = FILTERED_NOISE_VARIANCE * np.mean(params.noise_magnitudes[CORE] ** 2, axis=1)
    assert 10 * np.log10(noise_power.max() / tone_power) < -70


def test_tone_plus_noise_separates(rng):
    sos = scipy.signal.butter(4, [3000, 6000], btype="bandpass", fs=SR, output="sos")
    noise = 0.02 * scipy.signal.sosfilt(sos, rng.standard_normal(N_SAMPLES))
    k = np.arange(1, 61)
    amps = 0.3 / k ** 2
    tone = _harmonic_tone(np.full(N_FRAMES, 261.6), amps)
    alone = analyse_audio(noise, np.zeros(N_FRAMES))
    mixed = analyse_audio(tone + noise, np.full(N_FRAMES, 261.6))
    band_hz = np.linspace(0, SR / 2, 65)
    in_band = (band_hz > 3500) & (band_hz < 5500)
    ratio_db = 20 * np.log10(mixed.noise_magnitudes[CORE][:, in_band].mean(0)
                             / alone.noise_magnitudes[CORE][:, in_band].mean(0))
    assert abs(np.mean(ratio_db)) < 1.0  # no bias from the tone
    assert np.abs(ratio_db).max() < 3.0  # per band: estimation noise from fewer residual bins
    amp_true, _ = _expected(amps, 261.6)
    assert abs(20 * np.log10(np.median(mixed.amplitude[CORE]) / amp_true)) < 1.0


def test_high_note_noise_bands_are_filled_between_harmonics(rng):
    """At f0 = 1500 Hz the harmonic mask covers whole bands; they take their neighbours' level."""
    noise = 0.01 * rng.standard_normal(N_SAMPLES)
    k = np.arange(1, 6)
    tone = _harmonic_tone(np.full(N_FRAMES, 1500.0), 0.3 / k)
    mixed = analyse_audio(tone + noise, np.full(N_FRAMES, 1500.0))
    alone = analyse_audio(noise, np.zeros(N_FRAMES))
    assert np.all(np.isfinite(mixed.noise_magnitudes)) and np.all(mixed.noise_magnitudes[CORE] > 0)
    ratio_db = 20 * np.log10(mixed.noise_magnitudes[CORE].mean(0)
                             / alone.noise_magnitudes[CORE].mean(0))
    assert abs(np.mean(ratio_db)) < 1.0 and np.abs(ratio_db).max() < 3.0


def test_filtered_noise_synth_round_trip():
    """Noise rendered by the project's filtered-noise synth is analysed back to its magnitudes."""
    bands = np.arange(65)
    mags = (0.002 + 0.02 * np.exp(-0.5 * ((bands - 20) / 6.0) ** 2)).astype(np.float32)
    n_frames = 250
    audio = filtered_noise(torch.tensor(np.tile(mags, (1, n_frames, 1))), seed=3)[0].numpy()
    params = analyse_audio(audio, np.zeros(n_frames))
    rms = np.sqrt(np.mean(params.noise_magnitudes[10:-10] ** 2, axis=0))
    error_db = 20 * np.log10(rms / mags)
    assert np.abs(error_db[1:]).max() < 1.5
    assert abs(error_db[0]) < 2.0  # the DC band is a half band


def test_resynthesis_floor_is_low_for_own_analysis():
    k = np.arange(1, 61)
    f0 = np.full(N_FRAMES, 220.0)
    audio = _harmonic_tone(f0, 0.3 / k ** 1.5).astype(np.float32)
    params = analyse_audio(audio, f0)
    floor = resynthesis_floor(audio, params)
    assert isinstance(floor, float) and floor >= 0
    wrong = params.copy()
    wrong.f0_hz = wrong.f0_hz * 1.06  # a semitone off
    assert floor < 0.5 * resynthesis_floor(audio, wrong)


@pytest.mark.parametrize("audio, f0, kwargs, message", [
    (np.zeros((2, 640)), np.zeros(10), {}, "n_samples"),
    (np.zeros(640), np.zeros((10, 1)), {}, "n_frames"),
    (np.zeros(640), np.zeros(11), {}, "11 frames"),
    (np.full(640, np.nan), np.zeros(10), {}, "finite"),
    (np.zeros(640), np.zeros(10), {"frame_rate": 300}, "divide"),
    (np.zeros(640), np.zeros(10), {"n_harmonics": 0}, "n_harmonics"),
    (np.zeros(640), np.zeros(10), {"n_noise_bands": 1}, "n_noise_bands"),
])
def test_bad_input_raises(audio, f0, kwargs, message):
    with pytest.raises(ParameterError, match=message):
        analyse_audio(audio, f0, **kwargs)


def test_good_input_counterpart_passes():
    params = analyse_audio(np.zeros(640), np.zeros(10))
    assert params.n_frames == 10


def test_resynthesis_floor_rejects_non_params():
    with pytest.raises(ParameterError, match="SynthParams"):
        resynthesis_floor(np.zeros(640), {"f0_hz": np.zeros(10)})
