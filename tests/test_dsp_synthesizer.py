"""Tests for midi_ddsp.dsp.synthesizer."""
import numpy as np
import pytest
import torch

from midi_ddsp.config import SignalConfig
from midi_ddsp.dsp import synths
from midi_ddsp.dsp.effects import Reverb, apply_reverb
from midi_ddsp.dsp.synthesizer import DDSPSynthesizer, render_synth_params
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


def test_unit_impulse_response_and_reverb_module():
    f0, amp, dist, mags = _controls()
    synth = DDSPSynthesizer()
    dry = synth(f0, amp, dist, mags, seed=2)
    unit = torch.zeros(100)
    unit[0] = 1.0
    np.testing.assert_allclose(synth(f0, amp, dist, mags, seed=2, impulse_response=unit).numpy(),
                               dry.numpy(), atol=1e-5)
    reverb = Reverb(SignalConfig(reverb_length=500), n_instruments=2)
    wet = DDSPSynthesizer(reverb=reverb)(f0, amp, dist, mags, seed=2, instrument_ids=[1, 0])
    ir = reverb.get_impulse_response(instrument_ids=[1, 0])
    np.testing.assert_allclose(wet.detach().numpy(), (dry + apply_reverb(dry, ir)).detach().numpy(),
                               atol=1e-5)


def test_gradients_reach_every_control():
    f0, amp, dist, mags = (t.clone().requires_grad_() for t in _controls(n_frames=20))
    reverb = Reverb(SignalConfig(reverb_length=300))
    with torch.no_grad():
        reverb.impulse_responses.normal_(0, 0.01)
    audio = DDSPSynthesizer(reverb=reverb)(f0, amp, dist, mags, seed=0)
    (audio * torch.linspace(-1, 1, audio.shape[1])).pow(2).sum().backward()
    for t in (f0, amp, dist, mags, reverb.impulse_responses):
        assert t.grad is not None and torch.isfinite(t.grad).all() and t.grad.abs().sum() > 0


def test_other_sample_rate_in_forward():
    # harmonic 20 of 440 Hz (8800 Hz) is above Nyquist at 16 kHz but audible at 48 kHz
    f0 = torch.full((1, 250), 440.0)
    dist = torch.zeros(1, 250, 60)
    dist[..., 19] = 1.0
    args = (f0, torch.full((1, 250), 0.5), dist, torch.zeros(1, 250, 65))
    audio = DDSPSynthesizer()(*args, seed=0, sample_rate=48000)
    assert audio.shape == (1, 48000)
    assert abs(_peak_hz(audio[0].numpy(), 48000) - 8800.0) < 1.0
    assert DDSPSynthesizer()(*args, seed=0).abs().max().item() == 0.0


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
    # an IR at 16 kHz used for a 32 kHz render is resampled: the echo moves to sample 400
    wet32 = render_synth_params(params, seed=1, sample_rate=32000, impulse_response=ir)
    dry32 = render_synth_params(params, seed=1, sample_rate=32000)
    echo = wet32 - dry32
    assert np.argmax(np.abs(np.correlate(echo[:3000], dry32[:3000], "full"))) - 2999 == 400


@pytest.mark.parametrize("call", [
    lambda: render_synth_params({"f0_hz": [1.0]}),
    lambda: render_synth_params(_params(10), impulse_response=np.zeros((2, 3))),
    lambda: DDSPSynthesizer()(*_controls(), sample_rate=44100),
    lambda: DDSPSynthesizer()(*_controls()[:3], torch.zeros(2, 49, 65)),
    lambda: DDSPSynthesizer()(*_controls(), chunk_frames=0),
])
def test_errors(call):
    with pytest.raises(ParameterError):
        call()
