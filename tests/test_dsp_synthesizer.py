"""Tests for midi_ddsp.dsp.synthesizer."""
import numpy as np
import pytest
import scipy.signal
import torch

from midi_ddsp.dsp import synths
from midi_ddsp.dsp.effects import apply_reverb
from midi_ddsp.dsp.rooms import room_impulse_response
from midi_ddsp.dsp.blocks import render_synth_params
from midi_ddsp.dsp.synthesizer import DDSPSynthesizer
from midi_ddsp.errors import ParameterError
from midi_ddsp.synth_params import SynthParams


def _controls(batch=2, n_frames=50, seed=0):
    g = torch.Generator().manual_seed(seed)
    f0 = 220.0 + 200.0 * torch.rand(batch, n_frames, generator=g)
    amp = torch.rand(batch, n_frames, generator=g)
    dist = torch.rand(batch, n_frames, 60, generator=g)
    mags = 0.05 * torch.rand(batch, n_frames, 65, generator=g)
    return f0, amp, dist, mags


def _params(n_frames=250, f0=440.0):
    dist = np.zeros((n_frames, 60), np.float32)
    dist[:, 0] = 1.0
    return SynthParams(np.full(n_frames, f0), np.full(n_frames, 0.5), dist,
                       np.full((n_frames, 65), 1e-4))


def _peak_hz(audio, sr):
    spec = np.abs(np.fft.rfft(audio * np.hanning(len(audio)), n=8 * len(audio)))
    return np.argmax(spec) * sr / (8 * len(audio))


def test_forward_is_harmonic_plus_noise():
    f0, amp, dist, mags = _controls()
    audio = DDSPSynthesizer()(f0, amp, dist, mags, seed=4)
    assert audio.shape == (2, 50 * 64) and audio.dtype == torch.float32
    expected = synths.harmonic_synth(f0, amp, dist) + synths.filtered_noise(mags, seed=4)
    np.testing.assert_allclose(audio.numpy(), expected.numpy(), atol=1e-5)


def test_chunked_render_equals_unchunked():
    f0, amp, dist, mags = _controls(n_frames=103)
    synth = DDSPSynthesizer()
    whole = synth(f0, amp, dist, mags, seed=1, chunk_frames=10_000)
    for chunk in (1, 7, 50):
        np.testing.assert_allclose(synth(f0, amp, dist, mags, seed=1, chunk_frames=chunk).numpy(),
                                   whole.numpy(), atol=2e-5)


def test_unit_impulse_response_and_reverb_preset():
    f0, amp, dist, mags = _controls()
    synth = DDSPSynthesizer()
    dry = synth(f0, amp, dist, mags, seed=2)
    unit = torch.zeros(100)
    unit[0] = 1.0
    np.testing.assert_allclose(synth(f0, amp, dist, mags, seed=2, impulse_response=unit).numpy(),
                               dry.numpy(), atol=1e-5)
    wet = DDSPSynthesizer(reverb="hall")(f0, amp, dist, mags, seed=2)
    ir = torch.from_numpy(room_impulse_response("hall", 16000))
    np.testing.assert_allclose(wet.numpy(), apply_reverb(dry, ir).numpy(), atol=1e-5)
    assert not np.allclose(wet.numpy(), dry.numpy(), atol=1e-3)
    unreverbed = DDSPSynthesizer(reverb=False)(f0, amp, dist, mags, seed=2)
    np.testing.assert_array_equal(unreverbed.numpy(), dry.numpy())


def test_gradients_reach_every_control():
    f0, amp, dist, mags = (t.clone().requires_grad_() for t in _controls(n_frames=20))
    ir = (0.01 * torch.randn(300)).requires_grad_()
    for sample_rate in (16000, 48000):
        audio = DDSPSynthesizer()(f0, amp, dist, mags, seed=0, impulse_response=ir,
                                  sample_rate=sample_rate)
        (audio * torch.linspace(-1, 1, audio.shape[1])).pow(2).sum().backward()
        for t in (f0, amp, dist, mags, ir):
            assert t.grad is not None and torch.isfinite(t.grad).all() and t.grad.abs().sum() > 0
            t.grad = None


def test_other_sample_rate_masks_harmonics_at_the_model_nyquist():
    """At 48 kHz harmonic 20 of 440 Hz (8800 Hz) stays silent, as in training at 16 kHz."""
    f0 = torch.full((1, 250), 440.0)
    dist = torch.zeros(1, 250, 60)
    dist[..., 19] = 1.0
    args = (f0, torch.full((1, 250), 0.5), dist, torch.zeros(1, 250, 65))
    audio = DDSPSynthesizer()(*args, seed=0, sample_rate=48000)
    assert audio.shape == (1, 48000) and audio.abs().max().item() == 0.0
    assert DDSPSynthesizer()(*args, seed=0).abs().max().item() == 0.0
    dist[..., 9] = 1.0  # harmonic 10 (4400 Hz) plays alone, at full amplitude
    audio = DDSPSynthesizer()(*args, seed=0, sample_rate=48000)[0].numpy()
    assert abs(_peak_hz(audio, 48000) - 4400.0) < 1.0
    assert np.sqrt(np.mean(audio ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=1e-3)


def test_harmonics_are_synthesised_exactly_at_the_output_rate():
    n_frames, sample_rate = 100, 48000
    dist = np.zeros((n_frames, 60), np.float32)
    dist[:, [0, 9, 18]] = [0.5, 0.3, 0.2]  # harmonic 19 (8360 Hz) is above the model Nyquist
    params = SynthParams(np.full(n_frames, 440.0), np.full(n_frames, 0.4), dist,
                         np.zeros((n_frames, 65)))
    audio = render_synth_params(params, sample_rate=sample_rate)
    t = np.arange(n_frames * 192) / sample_rate
    expected = 0.4 * (0.625 * np.sin(2 * np.pi * 440 * t) + 0.375 * np.sin(2 * np.pi * 4400 * t))
    np.testing.assert_allclose(audio, expected, atol=2e-5)


def test_chunked_render_equals_unchunked_at_48_khz():
    f0, amp, dist, mags = _controls(n_frames=53)
    synth = DDSPSynthesizer()
    whole = synth(f0, amp, dist, mags, seed=1, sample_rate=48000, chunk_frames=10_000)
    assert whole.shape == (2, 53 * 192)
    for chunk in (1, 7):
        np.testing.assert_allclose(
            synth(f0, amp, dist, mags, seed=1, sample_rate=48000, chunk_frames=chunk).numpy(),
            whole.numpy(), atol=2e-5)


def _rich_params(n_frames=500):
    """Harmonics (60, falling 1.3 dB each), noise in every band, a little vibrato."""
    t = np.arange(n_frames) / 250
    f0 = 330.0 * 2 ** (0.3 / 12 * np.sin(2 * np.pi * 5.5 * t))
    dist = np.exp(-0.15 * np.arange(60))[None].repeat(n_frames, 0)
    noise = np.full((n_frames, 65), 0.01) * np.linspace(1.0, 0.3, 65)
    return SynthParams(f0, np.full(n_frames, 0.3), dist / dist.sum(1, keepdims=True), noise)


def _band_db(audio, sample_rate, lo_hz, hi_hz):
    """Energy per second in [lo_hz, hi_hz), dB (Welch, 4 Hz bins: rate-independent)."""
    f, p = scipy.signal.welch(audio.astype(np.float64), sample_rate, nperseg=sample_rate // 4)
    return 10 * np.log10(np.sum(p[(f >= lo_hz) & (f < hi_hz)]) * (f[1] - f[0]) + 1e-300)


_BANDS_HZ = ((0, 1000), (1000, 2000), (2000, 4000), (4000, 8000))


@pytest.mark.parametrize("sample_rate", [22050, 44100, 48000])
def test_other_rates_sound_the_same_below_8_khz(sample_rate):
    """Harmonics + noise + room at another rate: bands below 8 kHz within 1 dB of the 16 kHz
    render; the noise adds nothing above 8.5 kHz (bands fixed in Hz, not spread to 24 kHz)."""
    params = _rich_params()
    ir = room_impulse_response("room", 16000)
    ref = render_synth_params(params, sample_rate=16000, impulse_response=ir, seed=0)
    out = render_synth_params(params, sample_rate=sample_rate, impulse_response=ir, seed=0)
    assert out.shape == (2 * sample_rate,)
    for lo, hi in _BANDS_HZ:
        diff = _band_db(out, sample_rate, lo, hi) - _band_db(ref, 16000, lo, hi)
        assert abs(diff) < 0.25, (lo, hi, diff)
    total = _band_db(out, sample_rate, 0, sample_rate / 2)
    noise_only = params.copy()
    noise_only.amplitude[:] = 0.0
    noise = render_synth_params(noise_only, sample_rate=sample_rate, reverb="room", seed=0)
    assert _band_db(noise, sample_rate, 8500, sample_rate / 2) < total - 60.0
    assert _band_db(out, sample_rate, 8500, sample_rate / 2) < total - 60.0
    # the same through the preset argument
    np.testing.assert_allclose(render_synth_params(params, sample_rate=sample_rate,
                                                   reverb="room", seed=0), out, atol=1e-5)


@pytest.mark.parametrize("sample_rate", [16000, 22050, 44100, 48000])
def test_render_synth_params_any_sample_rate(sample_rate):
    audio = render_synth_params(_params(), sample_rate=sample_rate)
    assert isinstance(audio, np.ndarray) and audio.dtype == np.float32
    assert audio.shape == (sample_rate,)
    assert abs(_peak_hz(audio, sample_rate) - 440.0) < 1.0
    assert np.sqrt(np.mean(audio[2000:-2000] ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.02)


def test_render_synth_params_seed_and_impulse_response():
    params = _params(n_frames=100)
    params.noise_magnitudes[:] = 0.1
    a, b = render_synth_params(params, seed=1), render_synth_params(params, seed=1)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, render_synth_params(params, seed=2))
    ir = np.zeros(400, np.float32)
    ir[0], ir[200] = 1.0, 0.5
    wet = render_synth_params(params, seed=1, impulse_response=ir)
    expected = a.copy()
    expected[200:] += 0.5 * a[:-200]
    np.testing.assert_allclose(wet, expected, atol=1e-5)
    # an IR at 16 kHz used for a 32 kHz render is resampled: the echo moves to sample 400 and
    # keeps its gain; the dry path stays exact
    wet32 = render_synth_params(params, seed=1, sample_rate=32000, impulse_response=ir)
    dry32 = render_synth_params(params, seed=1, sample_rate=32000)
    echo = wet32 - dry32
    assert np.argmax(np.abs(np.correlate(echo[:3000], dry32[:3000], "full"))) - 2999 == 400
    gain_db = 10 * np.log10(np.sum(echo[400:] ** 2) / np.sum(dry32[:-400] ** 2))
    assert gain_db == pytest.approx(20 * np.log10(0.5), abs=0.5)  # not x2 (+6 dB) as before


@pytest.mark.parametrize("call", [
    lambda: render_synth_params({"f0_hz": [1.0]}),
    lambda: render_synth_params(_params(10), impulse_response=np.zeros((2, 3))),
    lambda: render_synth_params(_params(10), impulse_response=np.ones(3), reverb="room"),
    lambda: render_synth_params(_params(10), reverb="plate"),
    lambda: DDSPSynthesizer(reverb="plate"),
    lambda: DDSPSynthesizer()(*_controls(), sample_rate=44100),
    lambda: DDSPSynthesizer()(*_controls()[:3], torch.zeros(2, 49, 65)),
    lambda: DDSPSynthesizer()(*_controls(), chunk_frames=0),
])
def test_errors(call):
    with pytest.raises(ParameterError):
        call()
