"""Tests for midi_ddsp.dsp.spectral."""
import librosa
import numpy as np
import pytest
import torch

from midi_ddsp.dsp import spectral
from midi_ddsp.errors import ParameterError

SR = 16000


def _sine(freq_hz, amp=1.0, n=SR, sr=SR, phase=0.3):
    return (amp * np.sin(2 * np.pi * freq_hz * np.arange(n) / sr + phase)).astype(np.float32)


@pytest.mark.parametrize("amp,expected_db", [(1.0, 0.0), (0.1, -20.0), (0.01, -40.0)])
def test_loudness_1khz_sine_calibration(amp, expected_db):
    loud = spectral.a_weighted_loudness_db(_sine(1000.0, amp))
    assert loud.shape == (250,)
    middle = loud[20:-20]  # frames whose window lies inside the signal
    assert np.all(np.abs(middle - expected_db) < 0.5), (middle.min(), middle.max())


def test_loudness_applies_a_weighting():
    for freq in (100.0, 4000.0):
        loud = spectral.a_weighted_loudness_db(_sine(freq))[20:-20]
        expected = librosa.A_weighting(freq)
        assert np.all(np.abs(loud - expected) < 0.5), (freq, loud.mean(), expected)


def test_loudness_kinds_shapes_and_floor():
    batch = np.stack([_sine(1000.0, 1.0, n=1000), np.zeros(1000, np.float32)])
    out = spectral.a_weighted_loudness_db(torch.from_numpy(batch))
    assert isinstance(out, torch.Tensor) and out.shape == (2, 15) and out.dtype == torch.float32
    assert torch.all(out[1] == -120.0)
    np_out = spectral.a_weighted_loudness_db(batch)
    assert isinstance(np_out, np.ndarray) and np_out.shape == (2, 15)
    np.testing.assert_allclose(np_out, out.numpy(), atol=1e-4)
    # other sample rate: hop = 48000 / 250 = 192; calibration still holds
    loud48 = spectral.a_weighted_loudness_db(_sine(1000.0, 0.5, n=48000, sr=48000),
                                             sample_rate=48000, n_fft=4096)
    assert loud48.shape == (250,)
    assert np.all(np.abs(loud48[20:-20] - 20 * np.log10(0.5)) < 0.5)


def test_loudness_is_differentiable():
    audio = torch.from_numpy(_sine(1000.0, 0.5, n=640)).requires_grad_()
    spectral.a_weighted_loudness_db(audio).sum().backward()
    assert torch.isfinite(audio.grad).all() and audio.grad.abs().sum() > 0


def test_a_weighting_matches_librosa():
    freqs = np.array([20.0, 100.0, 1000.0, 3000.0, 7999.0])
    np.testing.assert_allclose(spectral.a_weighting_db(freqs), librosa.A_weighting(freqs),
                               atol=1e-6)


@pytest.mark.parametrize("sr,n_fft,n_mels,fmin,fmax", [(16000, 2048, 128, 0.0, None),
                                                       (22050, 1024, 64, 40.0, 8000.0)])
def test_mel_filterbank_matches_librosa(sr, n_fft, n_mels, fmin, fmax):
    ours = spectral.mel_filterbank(sample_rate=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    assert ours.shape == (n_mels, n_fft // 2 + 1)
    np.testing.assert_allclose(ours, ref, atol=1e-7)


def test_log_mel_matches_librosa():
    rng = np.random.default_rng(0)
    audio = rng.uniform(-0.5, 0.5, 4000).astype(np.float32)
    ours = spectral.log_mel(audio, n_fft=512, n_mels=40)
    assert ours.shape == (4000 // 64, 40)
    ref = librosa.feature.melspectrogram(y=audio, sr=SR, n_fft=512, hop_length=64, n_mels=40,
                                         center=True, pad_mode="constant")
    np.testing.assert_allclose(ours.numpy(), np.log(ref[:, :ours.shape[0]].T + spectral.LOG_EPS),
                               atol=1e-3)
    assert spectral.log_mel(np.stack([audio] * 2), n_fft=512, n_mels=40).shape == (2, 62, 40)


def test_stft_magnitude_shape_and_values():
    audio = _sine(500.0, n=4096)
    mag = spectral.stft_magnitude(np.stack([audio] * 3), n_fft=256)
    assert mag.shape == (3, 4096 // 64, 129)
    frame = 10  # centred on sample 640 -> window covers [512, 768)
    ref = np.abs(np.fft.rfft(audio[512:768] * np.hanning(257)[:-1]))
    np.testing.assert_allclose(mag[1, frame].numpy(), ref, atol=1e-3)
    assert spectral.stft_magnitude(audio, n_fft=256, hop_size=100).shape == (40, 129)


def test_multiscale_loss_zero_for_identical_and_grows_with_detuning():
    target = torch.from_numpy(_sine(440.0, 0.5, n=8000))[None]
    assert spectral.multiscale_spectral_loss(target, target).item() == 0.0
    losses = [spectral.multiscale_spectral_loss(
        target, torch.from_numpy(_sine(440.0 + d, 0.5, n=8000))[None]).item()
        for d in (1.0, 5.0, 20.0, 80.0)]
    assert all(a < b for a, b in zip(losses, losses[1:])), losses
    assert losses[0] > 0


def test_multiscale_loss_gradient():
    target = torch.from_numpy(_sine(440.0, 0.5, n=2000))[None]
    pred = torch.from_numpy(_sine(450.0, 0.4, n=2000))[None].requires_grad_()
    spectral.multiscale_spectral_loss(target, pred).backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


@pytest.mark.parametrize("call", [
    lambda: spectral.a_weighted_loudness_db(np.zeros((2, 2, 100))),
    lambda: spectral.a_weighted_loudness_db(np.zeros(0)),
    lambda: spectral.a_weighted_loudness_db(np.zeros(100), n_fft=0),
    lambda: spectral.multiscale_spectral_loss(torch.zeros(1, 100), torch.zeros(1, 99)),
    lambda: spectral.multiscale_spectral_loss(torch.zeros(1, 100), torch.zeros(1, 100),
                                              overlap=1.0),
    lambda: spectral.mel_filterbank(sample_rate=16000, fmin=9000.0),
    lambda: spectral.stft_magnitude(["a"]),
])
def test_errors(call):
    with pytest.raises(ParameterError):
        call()


def test_harmonic_log_amplitudes_read_each_harmonic_of_f0():
    sr, f0 = 16000, 220.0
    t = np.arange(sr) / sr
    levels = {1: 0.5, 3: 0.1, 7: 0.02}
    x = sum(a * np.sin(2 * np.pi * k * f0 * t) for k, a in levels.items()).astype(np.float32)
    f0_track = torch.full((1, 250), f0)
    f0_track[0, 200:] = 0.0                                        # unvoiced at the end
    heard = np.exp(spectral.harmonic_log_amplitudes(torch.from_numpy(x)[None], f0_track,
                                                    n_harmonics=60).numpy()[0])
    assert heard.shape == (250, 60)
    mid = heard[100]
    for k, a in levels.items():                                    # within 1.5 dB (scalloping)
        assert abs(20 * np.log10(mid[k - 1] / a)) < 1.5, k
    assert mid[1] < 1e-3 and mid[4] < 1e-3                         # absent harmonics
    assert np.all(mid[int(8000 // f0):] <= 1.1e-5)                 # at or above Nyquist
    assert np.all(heard[210] <= 1.1e-5)                            # unvoiced frames
    # a pitch estimate 15 cents off still finds the 7th harmonic's peak
    off = torch.full((1, 250), f0 * 2 ** (15 / 1200))
    near = np.exp(spectral.harmonic_log_amplitudes(torch.from_numpy(x)[None], off,
                                                   n_harmonics=60).numpy()[0, 100])
    assert abs(20 * np.log10(near[6] / 0.02)) < 1.5
