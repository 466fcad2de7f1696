"""Tests of midi_ddsp.mixing: mixer, levelling (loudness / peak / none), limiter, metering."""
from __future__ import annotations

import json

import numpy as np
import pyloudnorm
import pytest
import scipy.signal

from midi_ddsp.dsp.units import db_to_amplitude
from midi_ddsp.errors import ParameterError
from midi_ddsp.mixing import (
    DEFAULT_PEAK_DBFS,
    DEFAULT_TARGET_LUFS,
    DEFAULT_TRUE_PEAK_DBTP,
    integrated_loudness,
    mix_stems,
    normalize_mode,
    peak_normalize,
    soft_limit,
    true_peak,
)

SR = 16000


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def reference_true_peak_db(x) -> float:
    """An independent true-peak meter: 4x polyphase oversampling, then the largest magnitude."""
    up = scipy.signal.resample_poly(np.asarray(x, np.float64), 4, 1)
    return 20 * np.log10(max(np.max(np.abs(up)), np.max(np.abs(x))))


def reference_lufs(x) -> float:
    return pyloudnorm.Meter(SR).integrated_loudness(np.asarray(x, np.float64))


def level_db(x) -> float:
    return 10 * np.log10(np.mean(np.asarray(x, np.float64) ** 2))


def notes_signal(levels, *, note_s=0.5, rest_s=0.25, f0_hz=330.0, rng=None):
    """A synthetic melody: one harmonic tone per level (linear amplitude), rests between; returns
    the signal and the (start, stop) sample span of every note."""
    pieces, spans, t0 = [], [], 0
    n_note, n_rest = int(note_s * SR), int(rest_s * SR)
    t = np.arange(n_note) / SR
    fade = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.02)  # 20 ms fades: no clicks
    for i, level in enumerate(levels):
        f0 = f0_hz * 2 ** (i / 12)
        tone = sum(np.sin(2 * np.pi * k * f0 * t + k) / k for k in range(1, 6))
        pieces += [level * fade * tone / 1.5, np.zeros(n_rest)]
        spans.append((t0, t0 + n_note))
        t0 += n_note + n_rest
    return np.concatenate(pieces).astype(np.float32), spans


def test_mix_shapes_padding_and_sum(rng):
    a = rng.standard_normal(1000).astype(np.float32)
    b = rng.standard_normal(600).astype(np.float32)
    mixed = mix_stems({"a": a, "b": b}, sample_rate=SR)
    assert mixed.mix.shape == (1000,)
    assert set(mixed.stems) == {"a", "b"}
    assert all(s.shape == (1000,) and s.dtype == np.float32 for s in mixed.stems.values())
    np.testing.assert_allclose(mixed.stems["a"] + mixed.stems["b"], mixed.mix, atol=1e-6)
    assert np.all(mixed.stems["b"][600:] == 0)


def test_peak_mode_puts_the_peak_at_minus_1_dbfs_and_never_clips(rng):
    loud = 40.0 * rng.standard_normal(4000).astype(np.float32)  # far above full scale
    mixed = mix_stems({"x": loud, "y": loud}, normalize="peak")
    assert mixed.normalize == "peak" and not mixed.limited
    assert 20 * np.log10(mixed.peak) == pytest.approx(-1.0, abs=1e-4)
    ceiling = 10 ** (DEFAULT_PEAK_DBFS / 20)
    assert np.max(np.abs(mixed.mix)) <= ceiling
    assert np.max(np.abs(mixed.mix)) == pytest.approx(ceiling, rel=1e-5)
    # independent reference: the plain sum scaled to the ceiling
    ref = (loud + loud).astype(np.float64)
    ref *= ceiling / np.max(np.abs(ref))
    np.testing.assert_allclose(mixed.mix, ref, rtol=1e-5, atol=1e-6)
    quiet = mix_stems({"x": 1e-3 * loud}, normalize=True)  # True = "peak" (backwards compatible)
    assert np.max(np.abs(quiet.mix)) == pytest.approx(ceiling, rel=1e-5)  # quiet mixes come up
    assert quiet.normalize == "peak"


def test_gains_db_weight_the_parts():
    a = np.ones(10, np.float32)
    b = np.ones(10, np.float32)
    mixed = mix_stems({"a": a, "b": b}, gains_db={"b": -6.0}, sample_rate=SR)
    ratio = mixed.stems["b"][0] / mixed.stems["a"][0]
    assert ratio == pytest.approx(10 ** (-6 / 20), rel=1e-6)
    assert db_to_amplitude(-6.0) == pytest.approx(0.501187, rel=1e-5)


@pytest.mark.parametrize("normalize", ["none", False])
def test_none_mode_keeps_the_level_and_limits_only_above_full_scale(rng, normalize):
    x = 0.1 * rng.standard_normal(5000).astype(np.float32)
    x *= 0.95 / np.max(np.abs(x))  # samples under full scale: untouched, whatever the level
    mixed = mix_stems({"x": x}, normalize=normalize, sample_rate=SR)
    np.testing.assert_array_equal(mixed.mix, x)
    assert mixed.normalize == "none" and mixed.gain == 1.0 and mixed.gain_db == 0.0
    assert not mixed.limited and mixed.limiter_gain is None
    # -18 dB on the input is -18 dB on the output: no gain undoes it
    quieter = mix_stems({"x": x * np.float32(db_to_amplitude(-18.0))}, normalize=normalize, sample_rate=SR)
    assert level_db(quieter.mix) - level_db(mixed.mix) == pytest.approx(-18.0, abs=1e-3)
    loud = mix_stems({"x": 3 * x, "y": x}, normalize=normalize, sample_rate=SR)
    assert loud.limited and loud.limiter_reduction_db > 10
    assert np.max(np.abs(loud.mix)) <= 1.0
    assert reference_true_peak_db(loud.mix) <= DEFAULT_TRUE_PEAK_DBTP + 1e-3
    np.testing.assert_allclose(loud.stems["x"] + loud.stems["y"], loud.mix, atol=1e-6)
    assert loud.limiter_gain.shape == x.shape and loud.limiter_gain.dtype == np.float32
    assert np.all((loud.limiter_gain > 0) & (loud.limiter_gain <= 1))


@pytest.mark.parametrize("normalize", ["loudness", "peak", "none"])
def test_silence_stays_silent(normalize):
    mixed = mix_stems({"a": np.zeros(100, np.float32)}, normalize=normalize, sample_rate=SR)
    assert np.all(mixed.mix == 0) and np.all(np.isfinite(mixed.mix))
    assert mixed.gain == 1.0 and not mixed.limited and mixed.loudness_lufs is None
    json.dumps(mixed.describe())


@pytest.mark.parametrize("value, mode", [
    ("loudness", "loudness"), ("peak", "peak"), ("none", "none"), (" Loudness ", "loudness"),
    (True, "peak"), (False, "none"), (np.bool_(True), "peak"),
    ("lufs", None), ("", None), (1, None), (None, None), (0.0, None),
])
def test_normalize_mode(value, mode):
    if mode is None:
        with pytest.raises(ParameterError, match="normalize must be one of 'loudness', 'peak', 'none'"):
            normalize_mode(value)
    else:
        assert normalize_mode(value) == mode

# ---------------------------------------------------------------------------------------------
# Loudness mode and the meters


def test_integrated_loudness_of_a_full_scale_1khz_sine():
    # ITU-R BS.1770-4: a 0 dBFS 997 Hz sine in one channel reads -3.01 LKFS
    t = np.arange(3 * SR) / SR
    sine = np.sin(2 * np.pi * 997 * t).astype(np.float32)
    assert integrated_loudness(sine, sample_rate=SR) == pytest.approx(-3.01, abs=0.1)
    assert integrated_loudness(0.1 * sine, sample_rate=SR) == pytest.approx(-23.01, abs=0.1)
    assert integrated_loudness(np.zeros(SR), sample_rate=SR) == -np.inf
    # shorter than one 400 ms block: padded with silence, no error
    assert np.isfinite(integrated_loudness(sine[:1000], sample_rate=SR))


def test_true_peak_sees_peaks_between_samples():
    # a sine at a quarter of the rate, 45 degrees off: every sample is at 0.707, the wave at 1.0
    n = np.arange(4000)
    fade = np.minimum(1.0, np.minimum(n, n[::-1]) / 400)  # no Gibbs ringing at abrupt ends
    x = (fade * np.sin(np.pi / 2 * n + np.pi / 4)).astype(np.float32)
    assert np.max(np.abs(x)) == pytest.approx(np.sqrt(0.5), rel=1e-5)
    assert 20 * np.log10(true_peak(x)) == pytest.approx(0.0, abs=0.01)
    # a polyphase meter's FIR overshoots by ~0.015 dB here; ours is band-limited (FFT) and exact
    assert 20 * np.log10(true_peak(x)) == pytest.approx(reference_true_peak_db(x), abs=0.03)
    assert true_peak(np.zeros(0)) == 0.0


@pytest.mark.parametrize("target_lufs", [DEFAULT_TARGET_LUFS, -30.0, -16.0])
def test_loudness_mode_hits_the_target_within_the_true_peak_limit(rng, target_lufs):
    melody, _ = notes_signal([0.02, 0.05, 0.01, 0.03], rng=rng)
    noise = 0.003 * rng.standard_normal(melody.shape[0]).astype(np.float32)
    mixed = mix_stems({"melody": melody, "noise": noise}, sample_rate=SR, target_lufs=target_lufs)
    assert mixed.normalize == "loudness" and mixed.target_lufs == target_lufs
    lufs, tp_db = reference_lufs(mixed.mix), reference_true_peak_db(mixed.mix)
    assert tp_db <= DEFAULT_TRUE_PEAK_DBTP + 1e-3  # the true peak never exceeds the limit
    assert np.max(np.abs(mixed.mix)) <= 1.0        # nothing clips
    if mixed.peak_bound:  # the limit set the gain: true peak at the limit, quieter than target
        assert tp_db == pytest.approx(DEFAULT_TRUE_PEAK_DBTP, abs=0.01)
        assert lufs < target_lufs
    else:
        assert abs(lufs - target_lufs) <= 0.5
    assert mixed.loudness_lufs == pytest.approx(lufs, abs=0.01)
    assert mixed.gain_db == pytest.approx(20 * np.log10(mixed.gain))
    assert not mixed.limited  # a first render is levelled by its gain, not by the limiter
    np.testing.assert_allclose(mixed.stems["melody"] + mixed.stems["noise"], mixed.mix, atol=1e-6)


def test_loudness_mode_lets_the_peak_limit_bind_on_spiky_audio():
    clicks = np.zeros(2 * SR, np.float32)
    clicks[::4000] = 0.5  # almost no loudness, high peaks
    mixed = mix_stems({"clicks": clicks}, sample_rate=SR)
    assert mixed.peak_bound and not mixed.limited
    assert reference_true_peak_db(mixed.mix) == pytest.approx(DEFAULT_TRUE_PEAK_DBTP, abs=0.01)
    assert reference_lufs(mixed.mix) < DEFAULT_TARGET_LUFS - 0.5


def test_fixed_gain_makes_edits_heard_and_leaves_other_notes_alone(rng):
    """The defect: levelling every mix afresh cancels 'every note quieter' and makes 'one note
    louder' quieten the rest. With the first mix's gain kept, neither happens."""
    levels = [0.02, 0.03, 0.02, 0.025]
    first = mix_stems({"melody": notes_signal(levels)[0]}, sample_rate=SR)
    quieter = mix_stems({"melody": notes_signal([v * db_to_amplitude(-18) for v in levels])[0]},
                        sample_rate=SR, fixed_gain_db=first.gain_db)
    assert quieter.gain_db == first.gain_db and not quieter.limited
    assert level_db(quieter.mix) - level_db(first.mix) == pytest.approx(-18.0, abs=0.01)
    # one note 16 dB louder, so far that the limiter has to act on it
    raised_levels = list(levels)
    raised_levels[1] *= db_to_amplitude(16.0)
    raised_audio, spans = notes_signal(raised_levels)
    raised = mix_stems({"melody": raised_audio}, sample_rate=SR, fixed_gain_db=first.gain_db)
    assert raised.limited and raised.limiter_reduction_db > 0
    assert reference_true_peak_db(raised.mix) <= DEFAULT_TRUE_PEAK_DBTP + 1e-3
    for i, (a, b) in enumerate(spans):
        change = level_db(raised.mix[a:b]) - level_db(first.mix[a:b])
        if i == 1:
            assert change > 6.0  # the edit is heard (what the limiter leaves of +16 dB)
        else:
            assert abs(change) < 0.01  # the other notes do not move
    # measured afresh, the same edits are undone: the old behaviour the fixed gain avoids
    again = mix_stems({"melody": notes_signal([v * db_to_amplitude(-18) for v in levels])[0]},
                      sample_rate=SR)
    assert abs(level_db(again.mix) - level_db(first.mix)) < 0.5
    peak_first = mix_stems({"melody": notes_signal(levels)[0]}, normalize="peak")
    peak_raised = mix_stems({"melody": raised_audio}, normalize="peak")
    a, b = spans[0]
    assert level_db(peak_raised.mix[a:b]) - level_db(peak_first.mix[a:b]) < -6.0


def test_describe_is_json_and_records_mode_gain_and_limiter():
    audio, _ = notes_signal([0.02, 0.5])
    mixed = mix_stems({"m": audio}, sample_rate=SR, fixed_gain_db=20.0)
    info = json.loads(json.dumps(mixed.describe()))
    assert info["normalize"] == "loudness" and info["gain_db"] == pytest.approx(20.0)
    assert info["gain"] == pytest.approx(10.0) and info["target_lufs"] == DEFAULT_TARGET_LUFS
    assert info["limited"] is True and info["limiter_reduction_db"] > 10
    assert info["true_peak_dbtp"] <= DEFAULT_TRUE_PEAK_DBTP + 1e-3
    assert {"loudness_lufs", "peak_dbfs", "peak_bound"} <= set(info)


@pytest.mark.parametrize("stems, kwargs, message", [
    ({}, {}, "no stems"),
    ({"a": np.zeros((2, 10))}, {}, "mono"),
    ({"a": np.array([0.0, np.nan])}, {}, "NaN"),
    ({"a": np.zeros(10)}, {"gains_db": {"b": 1.0}}, "unknown part"),
    ({"a": np.zeros(10)}, {"peak_dbfs": 0.0}, "below 0 dBFS"),
    ({"a": np.zeros(10)}, {"true_peak_dbtp": 0.5}, "at most 0 dBTP"),
    ({"a": np.zeros(10)}, {"target_lufs": 0.0}, "below 0 LUFS"),
    ({"a": np.zeros(10)}, {"target_lufs": float("nan")}, "below 0 LUFS"),
    ({"a": np.zeros(10)}, {"normalize": "loud"}, "normalize must be one of"),
    ({"a": np.zeros(10)}, {"normalize": "peak", "fixed_gain_db": 3.0}, "fixed_gain_db"),
    ({"a": np.zeros(10)}, {"fixed_gain_db": float("inf")}, "finite"),
    ({"a": np.zeros(10)}, {"sample_rate": None}, "needs sample_rate"),
    ({"a": np.zeros(10)}, {"normalize": "none", "sample_rate": None}, "needs sample_rate"),
    ({"a": np.zeros(10)}, {"sample_rate": 0}, "sample_rate"),
])
def test_mix_errors(stems, kwargs, message):
    kwargs = dict({"sample_rate": SR}, **kwargs)
    with pytest.raises(ParameterError, match=message):
        mix_stems(stems, **kwargs)


@pytest.mark.parametrize("normalize", ["loudness", "peak", "none"])
def test_every_mode_accepts_good_input(normalize, rng):
    mixed = mix_stems({"a": 0.1 * rng.standard_normal(SR)}, normalize=normalize, sample_rate=SR)
    assert mixed.mix.shape == (SR,) and mixed.normalize == normalize


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


def test_in_place_reuses_full_length_float32_stems(rng):
    a = rng.standard_normal(100).astype(np.float32)
    b = rng.standard_normal(60)  # float64 and short: copied
    ref = mix_stems({"a": a.copy(), "b": b.copy()}, gains_db={"a": -3.0}, normalize="peak")
    original_b = b.copy()
    mixed = mix_stems({"a": a, "b": b}, gains_db={"a": -3.0}, normalize="peak", in_place=True)
    assert mixed.stems["a"] is a and mixed.stems["b"] is not b
    np.testing.assert_array_equal(b, original_b)
    np.testing.assert_allclose(mixed.mix, ref.mix, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(mixed.stems["a"], ref.stems["a"], rtol=1e-6, atol=1e-7)
