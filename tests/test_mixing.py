"""Tests of midi_ddsp.mixing: mixer, normalisation, limiter, atomic WAV writing."""
from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile

from midi_ddsp.errors import InputFileError, ParameterError
from midi_ddsp.mixing import (
    DEFAULT_PEAK_DBFS,
    db_to_gain,
    mix_stems,
    peak_normalize,
    soft_limit,
    write_wav,
)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def test_mix_shapes_padding_and_sum(rng):
    a = rng.standard_normal(1000).astype(np.float32)
    b = rng.standard_normal(600).astype(np.float32)
    mixed = mix_stems({"a": a, "b": b})
    assert mixed.mix.shape == (1000,)
    assert set(mixed.stems) == {"a", "b"}
    assert all(s.shape == (1000,) and s.dtype == np.float32 for s in mixed.stems.values())
    np.testing.assert_allclose(mixed.stems["a"] + mixed.stems["b"], mixed.mix, atol=1e-6)
    assert np.all(mixed.stems["b"][600:] == 0)


def test_mix_is_normalised_to_peak_and_never_clips(rng):
    loud = 40.0 * rng.standard_normal(4000).astype(np.float32)  # far above full scale
    mixed = mix_stems({"x": loud, "y": loud})
    ceiling = 10 ** (DEFAULT_PEAK_DBFS / 20)
    assert np.max(np.abs(mixed.mix)) <= ceiling
    assert np.max(np.abs(mixed.mix)) == pytest.approx(ceiling, rel=1e-5)
    # independent reference: the plain sum scaled to the ceiling
    ref = (loud + loud).astype(np.float64)
    ref *= ceiling / np.max(np.abs(ref))
    np.testing.assert_allclose(mixed.mix, ref, rtol=1e-5, atol=1e-6)
    quiet = mix_stems({"x": 1e-3 * loud})
    assert np.max(np.abs(quiet.mix)) == pytest.approx(ceiling, rel=1e-5)  # quiet mixes come up


def test_gains_db_weight_the_parts():
    a = np.ones(10, np.float32)
    b = np.ones(10, np.float32)
    mixed = mix_stems({"a": a, "b": b}, gains_db={"b": -6.0})
    ratio = mixed.stems["b"][0] / mixed.stems["a"][0]
    assert ratio == pytest.approx(10 ** (-6 / 20), rel=1e-6)
    assert db_to_gain(-6.0) == pytest.approx(0.501187, rel=1e-5)


def test_without_normalize_quiet_mix_is_untouched_and_loud_mix_is_limited(rng):
    x = 0.1 * rng.standard_normal(500).astype(np.float32)
    x /= np.max(np.abs(x)) * 4  # peak 0.25
    mixed = mix_stems({"x": x}, normalize=False)
    np.testing.assert_array_equal(mixed.mix, x)
    assert mixed.gain == 1.0 and not mixed.limited
    loud = mix_stems({"x": 3 * x / np.max(np.abs(x))}, normalize=False)
    assert loud.limited
    assert np.max(np.abs(loud.mix)) <= np.float32(10 ** (DEFAULT_PEAK_DBFS / 20))


def test_silence_stays_silent():
    mixed = mix_stems({"a": np.zeros(100, np.float32)})
    assert np.all(mixed.mix == 0) and np.all(np.isfinite(mixed.mix))
    assert mixed.gain == 1.0


@pytest.mark.parametrize("stems, kwargs, message", [
    ({}, {}, "no stems"),
    ({"a": np.zeros((2, 10))}, {}, "mono"),
    ({"a": np.array([0.0, np.nan])}, {}, "NaN"),
    ({"a": np.zeros(10)}, {"gains_db": {"b": 1.0}}, "unknown part"),
    ({"a": np.zeros(10)}, {"peak_dbfs": 0.0}, "below 0 dBFS"),
])
def test_mix_errors(stems, kwargs, message):
    with pytest.raises(ParameterError, match=message):
        mix_stems(stems, **kwargs)


def test_soft_limit_curve():
    ceiling = 10 ** (-1 / 20)
    x = np.linspace(-100, 100, 20001, dtype=np.float32)
    y = soft_limit(x)
    assert np.max(np.abs(y)) <= np.float32(ceiling)
    small = np.abs(x) <= 0.5 * ceiling
    np.testing.assert_array_equal(y[small], x[small])  # identity under the knee
    assert np.all(np.diff(y) >= 0)  # monotone
    knee = 0.5 * ceiling  # continuous at the knee with slope ~1
    eps = 1e-4
    above = soft_limit(np.array([knee + eps], np.float32))[0]
    assert above == pytest.approx(knee + eps, abs=1e-5)


def test_peak_normalize():
    x = np.array([0.0, 0.5, -2.0], np.float32)
    y = peak_normalize(x, peak_dbfs=-6.0)
    np.testing.assert_allclose(y, x * (10 ** (-6 / 20) / 2.0), rtol=1e-6)
    assert np.all(peak_normalize(np.zeros(3)) == 0)


def test_write_wav_roundtrip_pcm16_and_float(tmp_path, rng):
    x = (0.5 * rng.uniform(-1, 1, 1600)).astype(np.float32)
    path = write_wav(tmp_path / "a.wav", x, sample_rate=16000)
    y, sr = soundfile.read(path, dtype="float32")
    assert sr == 16000 and soundfile.info(path).subtype == "PCM_16"
    np.testing.assert_allclose(y, x, atol=1.0 / 32768 + 1e-7)
    path = write_wav(tmp_path / "b.wav", 3 * x, sample_rate=8000, subtype="FLOAT")
    y, sr = soundfile.read(path, dtype="float32")
    assert sr == 8000
    np.testing.assert_array_equal(y, 3 * x)
    assert sorted(os.listdir(tmp_path)) == ["a.wav", "b.wav"]  # no temporary files left


def test_write_wav_refuses_to_clip_and_bad_folders(tmp_path):
    with pytest.raises(ParameterError, match="clip"):
        write_wav(tmp_path / "c.wav", np.array([0.0, 1.5]), sample_rate=16000)
    assert not (tmp_path / "c.wav").exists()
    with pytest.raises(ParameterError, match="subtype"):
        write_wav(tmp_path / "d.wav", np.zeros(3), sample_rate=16000, subtype="MP3")
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(InputFileError, match="file.txt"):
        write_wav(blocker / "e.wav", np.zeros(3), sample_rate=16000)
    assert os.listdir(tmp_path) == ["file.txt"]


def test_in_place_reuses_full_length_float32_stems(rng):
    a = rng.standard_normal(100).astype(np.float32)
    b = rng.standard_normal(60)  # float64 and short: copied
    ref = mix_stems({"a": a.copy(), "b": b.copy()}, gains_db={"a": -3.0})
    original_b = b.copy()
    mixed = mix_stems({"a": a, "b": b}, gains_db={"a": -3.0}, in_place=True)
    assert mixed.stems["a"] is a and mixed.stems["b"] is not b
    np.testing.assert_array_equal(b, original_b)
    np.testing.assert_allclose(mixed.mix, ref.mix, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(mixed.stems["a"], ref.stems["a"], rtol=1e-6, atol=1e-7)
