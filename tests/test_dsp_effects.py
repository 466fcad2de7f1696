"""Tests for midi_ddsp.dsp.effects (the reverb) and midi_ddsp.dsp.rooms (the presets)."""

import numpy as np
import pytest
import scipy.signal
import torch

from midi_ddsp.dsp import effects, rooms
from midi_ddsp.errors import ParameterError


def _audio(batch=2, n=6000, seed=0):
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.uniform(-1, 1, (batch, n)).astype(np.float32))


@pytest.mark.parametrize("n_samples,n_taps", [(3000, 500), (40000, 1000)])  # one FFT / blocks
def test_unit_impulse_returns_dry(n_samples, n_taps):
    audio = _audio(n=n_samples)
    ir = torch.zeros(n_taps)
    ir[0] = 1.0
    out = effects.apply_reverb(audio, ir)
    assert out.shape == audio.shape
    np.testing.assert_allclose(out.numpy(), audio.numpy(), atol=1e-5)


@pytest.mark.parametrize("n_samples,n_taps", [(3000, 500), (40000, 1000), (300, 1000)])
def test_apply_reverb_matches_scipy(n_samples, n_taps):
    audio = _audio(n=n_samples)
    ir = _audio(batch=2, n=n_taps, seed=1) * torch.exp(-torch.arange(n_taps) / 200.0)
    out = effects.apply_reverb(audio, ir)
    assert out.shape == (2, n_samples)
    for b in range(2):
        ref = scipy.signal.fftconvolve(audio[b].double().numpy(), ir[b].double().numpy())
        ref = ref[:n_samples]
        np.testing.assert_allclose(out[b].numpy(), ref, atol=2e-4)
    one_d = effects.apply_reverb(audio[0].numpy(), ir[0].numpy())
    assert one_d.shape == (n_samples,)


def test_grouped_long_convolution_matches_scipy(monkeypatch):
    monkeypatch.setattr(effects, "_GROUP_SAMPLES", 5000)  # many groups with carried tails
    audio = _audio(n=40000)
    ir = _audio(batch=1, n=1000, seed=3)[0]
    out = effects.apply_reverb(audio, ir)
    ref = scipy.signal.fftconvolve(audio[1].double().numpy(), ir.double().numpy())[:40000]
    np.testing.assert_allclose(out[1].numpy(), ref, atol=2e-4)


def test_apply_reverb_gradients():
    audio = _audio(n=1000).requires_grad_()
    ir = torch.rand(2, 300, requires_grad=True)
    effects.apply_reverb(audio, ir).pow(2).sum().backward()
    for t in (audio, ir):
        assert torch.isfinite(t.grad).all() and t.grad.abs().sum() > 0


def test_dry_tap_is_an_exact_gain():
    audio = _audio(n=5000)
    ir = torch.zeros(700)
    ir[0], ir[300] = 0.7, 0.2
    out = effects.apply_reverb(audio, ir)
    expected = 0.7 * audio.clone()
    expected[:, 300:] += 0.2 * audio[:, :-300]
    np.testing.assert_allclose(out.numpy(), expected.numpy(), atol=1e-6)
    unit = torch.ones(1)
    assert torch.equal(effects.apply_reverb(audio, unit), audio)  # exactly, no FFT rounding


def _decay_db_per_s(tail, sample_rate):
    """Slope of the smoothed energy envelope in dB/s (least squares over 0.1 .. 0.6 s)."""
    win = int(0.02 * sample_rate)
    energy = np.convolve(tail.astype(np.float64) ** 2, np.ones(win) / win, mode="same")
    t = np.arange(tail.size) / sample_rate
    sel = (t > 0.1) & (t < 0.6)
    return np.polyfit(t[sel], 10 * np.log10(energy[sel]), 1)[0]


@pytest.mark.parametrize("name", ["room", "hall"])
def test_room_presets_follow_their_parameters(name):
    preset = rooms.REVERB_PRESETS[name]
    ir = rooms.room_impulse_response(name, 16000)
    assert ir.shape == (48000,) and ir.dtype == np.float32 and ir[0] == 1.0
    tail = ir[1:].astype(np.float64)
    assert 10 * np.log10(np.sum(tail ** 2)) == pytest.approx(preset.wet_db, abs=0.01)
    # -60 dB in rt60_s
    assert _decay_db_per_s(ir[1:], 16000) == pytest.approx(-60.0 / preset.rt60_s, rel=0.1)
    # nothing before the pre-delay
    assert np.all(ir[1:int(preset.predelay_s * 16000)] == 0)
    # tilt: the tail is darker above 500 Hz (tilt dB per octave)
    f, p = scipy.signal.welch(tail, 16000, nperseg=1024)
    lo = 10 * np.log10(p[(f > 600) & (f < 1200)].mean())
    hi = 10 * np.log10(p[(f > 2400) & (f < 4800)].mean())
    assert hi - lo == pytest.approx(2 * preset.tilt_db_per_octave, abs=1.5)


def test_room_presets_differ_and_dry_is_a_unit_impulse():
    room, hall = (rooms.room_impulse_response(n) for n in ("room", "hall"))
    assert np.sum(hall[1:] ** 2) > 4 * np.sum(room[1:] ** 2)
    assert rooms.DEFAULT_REVERB == "room"
    np.testing.assert_array_equal(rooms.room_impulse_response("dry"), [1.0])
    dry = rooms.room_impulse_response(False, n_taps=10)
    assert dry.shape == (10,) and dry[0] == 1 and not dry[1:].any()
    np.testing.assert_array_equal(rooms.room_impulse_response(True), room)
    assert rooms.reverb_preset("Hall") is rooms.REVERB_PRESETS["hall"]
    assert rooms.reverb_preset(None).wet_db is None
    custom = rooms.RoomPreset("small", rt60_s=0.3, wet_db=-30.0, predelay_s=0.002)
    assert 10 * np.log10(np.sum(rooms.room_impulse_response(custom)[1:] ** 2.0)) == \
        pytest.approx(-30.0, abs=0.01)
    other_seed = rooms.room_impulse_response("room", seed=1)
    assert not np.allclose(other_seed, room)
    # the returned array is a copy: editing it does not change the next one
    room[5000] = 9.0
    assert rooms.room_impulse_response("room")[5000] != 9.0


@pytest.mark.parametrize("sample_rate", [22250, 44250, 48000])
def test_room_sounds_the_same_at_other_rates(sample_rate):
    """Same wet response below 8 kHz at any rate; the dry tap stays exactly 1."""
    base = rooms.room_impulse_response("hall", 16000)
    other = rooms.room_impulse_response("hall", sample_rate)
    assert other.shape == (3 * sample_rate,) and other[0] == 1.0
    n = 1 << 17
    freqs = np.fft.rfftfreq(n, 1 / 16000)
    h16 = np.abs(np.fft.rfft(base[1:], n))
    h_other = np.abs(np.fft.rfft(other[1:], n * sample_rate // 16000))[:freqs.size]
    for lo, hi in ((100, 1000), (1000, 4000), (4000, 7000)):
        sel = (freqs >= lo) & (freqs < hi)
        ratio_db = 10 * np.log10(np.sum(h_other[sel] ** 2) / np.sum(h16[sel] ** 2))
        assert abs(ratio_db) < 0.1, (lo, hi, ratio_db)


def test_resample_impulse_response_keeps_the_dry_tap():
    ir = np.zeros(400, np.float32)
    ir[0], ir[200] = 0.8, 0.5
    out = rooms.resample_impulse_response(ir, 16000, 48000)
    assert out.shape == (1200,) and out[0] == pytest.approx(0.8, abs=1e-6)
    assert np.argmax(np.abs(out[1:])) + 1 == 600
    # the echo's response below 8 kHz is unchanged (gain 0.5), not x3
    assert np.sum(out[550:650]) == pytest.approx(0.5, rel=1e-3)
    np.testing.assert_array_equal(rooms.resample_impulse_response(ir, 16000, 16000), ir)


@pytest.mark.parametrize("call", [
    lambda: effects.apply_reverb(torch.zeros(2, 2, 10), torch.zeros(5)),
    lambda: effects.apply_reverb(torch.zeros(3, 10), torch.zeros(2, 5)),
    lambda: effects.apply_reverb(torch.zeros(1, 10), torch.zeros(0)),
    lambda: rooms.room_impulse_response("plate"),
    lambda: rooms.room_impulse_response(3),
    lambda: rooms.room_impulse_response("room", 0),
    lambda: rooms.room_impulse_response("room", n_taps=0),
    lambda: rooms.room_impulse_response("room", seed=1.5),
    lambda: rooms.RoomPreset("bad", rt60_s=0.0, wet_db=-20.0),
    lambda: rooms.resample_impulse_response(np.zeros((2, 3)), 16000, 48000),
    lambda: rooms.resample_impulse_response(np.zeros(3), 16000, 0),
])
def test_errors(call):
    with pytest.raises(ParameterError):
        call()
