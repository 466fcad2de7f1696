"""Tests for midi_ddsp.dsp.synths (independent numpy float64 references)."""
import numpy as np
import pytest
import torch

from midi_ddsp.dsp import synths
from midi_ddsp.errors import ParameterError

SR, HOP = 16000, 64


def _numpy_harmonic_reference(f0, amp, dist, hop=HOP, sr=SR, initial_phase=0.0):
    """Per-sample float64 reference: linear interpolation, exclusive cumsum phase."""
    n_frames, n_harm = dist.shape
    n = n_frames * hop
    pos = np.arange(n) / hop
    points = np.arange(n_frames + 1)
    f0e = np.append(f0, f0[-1]).astype(np.float64)
    f = np.interp(pos, points, f0e)
    phase = initial_phase + 2 * np.pi * np.concatenate([[0.0], np.cumsum(f)[:-1]]) / sr
    k = np.arange(1, n_harm + 1)
    d = np.where(f0[:, None] * k < sr / 2, dist, 0.0).astype(np.float64)
    d = d / (d.sum(1, keepdims=True) + 1e-7)
    ha = np.vstack([amp[:, None] * d, amp[-1] * d[-1:]])
    audible = np.maximum(f0e[:-1], f0e[1:])[:, None] * k < sr / 2
    out = np.zeros(n)
    for j in range(n_harm):
        a = np.interp(pos, points, ha[:, j]) * np.repeat(audible[:, j], hop)
        out += a * np.sin(k[j] * phase)
    return out


def _peak_frequency(audio, sr=SR, pad=16):
    """Frequency of the strongest spectral peak (zero-padded FFT + parabolic interpolation)."""
    n = len(audio)
    spec = np.abs(np.fft.rfft(audio * np.hanning(n), n=pad * n))
    i = int(np.argmax(spec))
    a, b, c = np.log(spec[i - 1:i + 2])
    return (i + 0.5 * (a - c) / (a - 2 * b + c)) * sr / (pad * n)


def test_harmonic_synth_matches_numpy_reference():
    rng = np.random.default_rng(1)
    n_frames, n_harm = 60, 20
    f0 = np.stack([np.linspace(200, 900, n_frames), np.full(n_frames, 523.25)]).astype(np.float32)
    amp = rng.uniform(0.1, 0.9, (2, n_frames)).astype(np.float32)
    dist = rng.uniform(0, 1, (2, n_frames, n_harm)).astype(np.float32)
    out = synths.harmonic_synth(f0, amp, dist, initial_phase=torch.tensor([0.0, 1.0]))
    assert out.shape == (2, n_frames * HOP) and out.dtype == torch.float32
    for b, phase in enumerate((0.0, 1.0)):
        ref = _numpy_harmonic_reference(f0[b], amp[b], dist[b], initial_phase=phase)
        np.testing.assert_allclose(out[b].numpy(), ref, atol=2e-5)


def test_440_hz_request_peaks_at_440():
    f0 = np.full((1, 250), 440.0, np.float32)
    dist = np.zeros((1, 250, 60), np.float32)
    dist[..., 0], dist[..., 1] = 1.0, 0.3
    audio = synths.harmonic_synth(f0, np.full((1, 250), 0.5, np.float32), dist)[0].numpy()
    assert abs(_peak_frequency(audio) - 440.0) < 0.05


def test_ten_minute_tone_stays_in_phase():
    f0_hz, seconds = 440.25, 600  # exactly representable in float32
    n_frames = seconds * 250
    f0 = torch.full((1, n_frames), f0_hz)
    audio = synths.harmonic_synth(f0, torch.ones(1, n_frames), torch.ones(1, n_frames, 1))[0]
    last = audio[-SR:].double().numpy()
    s = np.arange(len(audio) - SR, len(audio), dtype=np.float64)
    exact = np.sin(2 * np.pi * np.mod(f0_hz * s / SR, 1.0))  # exact phase in float64
    assert np.max(np.abs(last - exact)) < 2e-3
    assert abs(_peak_frequency(last) - f0_hz) < 0.1


def test_no_energy_above_nyquist():
    # f0 1100 Hz: harmonics 1..7 < 8 kHz; harmonic 8 (8800 Hz) would alias to 7200 Hz, harmonic 9
    # to 6100 Hz: frequencies that are not multiples of 1100, so aliasing is measurable.
    n_frames = 250
    f0 = np.full((1, n_frames), 1100.0, np.float32)
    dist = np.ones((1, n_frames, 60), np.float32)
    audio = synths.harmonic_synth(f0, np.ones((1, n_frames), np.float32), dist)[0].numpy()
    k = np.arange(1, 8)
    s = np.arange(n_frames * HOP)
    ref = (np.sin(2 * np.pi * np.outer(s, k) * 1100.0 / SR) / 7.0).sum(1)  # renormalised
    np.testing.assert_allclose(audio, ref, atol=1e-4)
    spec = np.abs(np.fft.rfft(audio)) ** 2  # 1 s -> 1 Hz bins
    harmonic_bins = np.zeros_like(spec, bool)
    for kk in k:
        harmonic_bins[kk * 1100 - 3:kk * 1100 + 4] = True
    assert spec[~harmonic_bins].sum() < 1e-8 * spec.sum()


def test_harmonic_crossing_nyquist_between_frames_is_silenced():
    f0 = torch.tensor([[1000.0, 1200.0, 1000.0]])  # harmonic 7: 7000 -> 8400 Hz
    dist = torch.zeros(1, 3, 7)
    dist[..., 6] = 1.0
    audio = synths.harmonic_synth(f0, torch.ones(1, 3), dist)
    assert audio[0, :2 * HOP].abs().max().item() < 1e-6  # intervals touching frame 1 are silent
    assert audio[0, 2 * HOP + 1:].abs().max().item() > 0.5  # the held last frame (7 kHz) sounds


def test_unvoiced_frames_are_silent_and_phase_continues():
    f0 = torch.tensor([[0.0, 0.0, 500.0, 500.0]])
    audio = synths.harmonic_synth(f0, torch.ones(1, 4), torch.ones(1, 4, 3))
    assert audio[0, :HOP + 1].abs().max().item() == 0.0
    assert audio[0, 2 * HOP:].abs().max().item() > 0.5


def test_harmonic_synth_sample_rate_and_n_samples():
    f0 = torch.full((2, 10), 300.0)
    args = (f0, torch.ones(2, 10), torch.ones(2, 10, 5))
    assert synths.harmonic_synth(*args).shape == (2, 640)
    assert synths.harmonic_synth(*args, sample_rate=48000).shape == (2, 1920)
    assert synths.harmonic_synth(*args, n_samples=1000).shape == (2, 1000)
    audio = synths.harmonic_synth(torch.full((1, 250), 440.0), torch.ones(1, 250),
                                  torch.ones(1, 250, 1), sample_rate=44000, frame_rate=250)
    assert abs(_peak_frequency(audio[0].numpy(), sr=44000) - 440.0) < 0.05


def test_harmonic_synth_gradients_reach_every_control():
    f0 = torch.full((2, 8), 330.0, requires_grad=True)
    amp = torch.full((2, 8), 0.5, requires_grad=True)
    dist = torch.rand(2, 8, 10, generator=torch.Generator().manual_seed(0)).requires_grad_()
    audio = synths.harmonic_synth(f0, amp, dist)
    (audio * torch.linspace(-1, 1, audio.shape[1])).pow(2).sum().backward()
    for t in (f0, amp, dist):
        assert torch.isfinite(t.grad).all() and t.grad.abs().sum() > 0


def test_filtered_noise_energy_in_requested_band():
    mags = torch.zeros(2, 250, 65)
    mags[..., 16:33] = 1.0  # bands are 125 Hz apart: 2000..4000 Hz
    audio = synths.filtered_noise(mags, seed=3)
    assert audio.shape == (2, 16000)
    spec = np.abs(np.fft.rfft(audio.numpy(), axis=-1)) ** 2  # 1 Hz bins
    in_band = spec[:, 1800:4200].sum()
    assert in_band > 0.97 * spec.sum()
    assert spec[:, 2200:3800].mean() > 100 * spec[:, 5000:].mean()


def test_filtered_noise_seeds():
    mags = torch.ones(2, 20, 65)
    a = synths.filtered_noise(mags, seed=1)
    assert torch.equal(a, synths.filtered_noise(mags, seed=1))
    assert not torch.allclose(a, synths.filtered_noise(mags, seed=2))
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(synths.filtered_noise(mags, generator=g1),
                       synths.filtered_noise(mags, generator=g2))


def test_white_noise_is_chunk_invariant_and_uniform():
    full = synths.white_noise(2, 40000, seed=7)
    part = synths.white_noise(2, 1000, seed=7, sample_offset=16000)
    assert torch.equal(part, full[:, 16000:17000])
    assert full.min() >= -1 and full.max() < 1 and abs(full.mean().item()) < 0.01
    assert torch.equal(synths.white_noise(1, 500, seed=7)[0], full[0, :500])  # batch-independent
    assert not torch.allclose(full[0], full[1])  # rows differ


def test_frequency_impulse_response_is_linear_phase():
    ir = synths.frequency_impulse_response(torch.ones(3, 65))
    assert ir.shape == (3, 128)
    np.testing.assert_allclose(ir[0, 64].item(), 1.0, atol=1e-6)  # flat -> centred unit tap
    assert ir[0].abs().sum().item() == pytest.approx(1.0, abs=1e-5)
    rng = np.random.default_rng(0)
    ir = synths.frequency_impulse_response(rng.uniform(0, 1, 65)).numpy()
    np.testing.assert_allclose(ir[65:], ir[63:0:-1], atol=1e-6)  # symmetric about tap 64


def test_filtered_noise_matches_direct_convolution():
    rng = np.random.default_rng(2)
    mags = rng.uniform(0, 1, (1, 4, 65)).astype(np.float32)
    audio = synths.filtered_noise(mags, seed=9)[0].numpy()
    noise = synths.white_noise(1, 256, seed=9)[0].numpy().astype(np.float64)
    irs = synths.frequency_impulse_response(mags)[0].numpy().astype(np.float64)
    ref = np.zeros(256 + 127)
    for i in range(4):
        ref[i * HOP:i * HOP + HOP + 127] += np.convolve(noise[i * HOP:(i + 1) * HOP], irs[i])
    np.testing.assert_allclose(audio, ref[64:64 + 256], atol=1e-5)


def test_filtered_noise_gradient():
    mags = torch.full((2, 5, 65), 0.5, requires_grad=True)
    synths.filtered_noise(mags, seed=0).pow(2).sum().backward()
    assert torch.isfinite(mags.grad).all() and mags.grad.abs().sum() > 0


@pytest.mark.parametrize("call", [
    lambda: synths.harmonic_synth(torch.ones(2, 5), torch.ones(2, 4), torch.ones(2, 5, 3)),
    lambda: synths.harmonic_synth(torch.ones(5), torch.ones(5), torch.ones(5, 3)),
    lambda: synths.harmonic_synth(-torch.ones(1, 5), torch.ones(1, 5), torch.ones(1, 5, 3)),
    lambda: synths.harmonic_synth(torch.ones(1, 5), torch.ones(1, 5), torch.ones(1, 5, 3),
                                  n_samples=321),
    lambda: synths.harmonic_synth(torch.ones(1, 5), torch.ones(1, 5), torch.ones(1, 5, 3),
                                  initial_phase=torch.zeros(3)),
    lambda: synths.filtered_noise(torch.ones(5, 65)),
    lambda: synths.filtered_noise(torch.ones(1, 5, 65), seed="x"),
    lambda: synths.frequency_impulse_response(torch.ones(1, 1)),
])
def test_errors(call):
    with pytest.raises(ParameterError):
        call()


def test_numpy_noise_filters_equal_the_torch_ones():
    from midi_ddsp.dsp.blocks import frequency_impulse_response_numpy

    mags = np.random.default_rng(0).random((2, 5, 65)).astype(np.float32)
    expected = synths.frequency_impulse_response(torch.from_numpy(mags)).numpy()
    assert np.abs(frequency_impulse_response_numpy(mags) - expected).max() < 1e-6
