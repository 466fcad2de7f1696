"""Tests for midi_ddsp.dsp.core."""
import math

import librosa
import numpy as np
import pytest
import torch

from midi_ddsp.dsp import core
from midi_ddsp.errors import ParameterError


def test_midi_hz_conversions_match_librosa():
    midi = np.array([21.0, 60.0, 69.0, 69.5, 108.0])
    np.testing.assert_allclose(core.midi_to_hz(midi), librosa.midi_to_hz(midi), rtol=1e-9)
    np.testing.assert_allclose(core.hz_to_midi(librosa.midi_to_hz(midi)), midi, atol=1e-9)
    t = core.midi_to_hz(torch.tensor([69.0]))
    assert isinstance(t, torch.Tensor) and abs(t.item() - 440.0) < 1e-3
    assert isinstance(core.hz_to_midi(torch.tensor([440.0])), torch.Tensor)
    assert core.hz_to_midi(np.array([0.0]))[0] == 0.0  # no -inf for unvoiced frames


def test_amplitude_db_conversions():
    amp = np.array([0.0, 1e-9, 1e-6, 0.1, 1.0, 2.0])
    db = core.amplitude_to_db(amp)
    np.testing.assert_allclose(db, [-120, -120, -120, -20, 0, 20 * math.log10(2)], atol=1e-9)
    assert core.MIN_DB == 20 * math.log10(core.MIN_AMPLITUDE)
    np.testing.assert_allclose(core.db_to_amplitude(db[2:]), amp[2:], rtol=1e-9)
    t = core.amplitude_to_db(torch.tensor([0.0, 0.01]))
    assert isinstance(t, torch.Tensor)
    np.testing.assert_allclose(t.numpy(), [-120, -40], atol=1e-4)


def test_exp_sigmoid_formula():
    x = np.linspace(-10, 10, 21)
    expected = 2.0 / (1 + np.exp(-x)) ** math.log(10.0) + 1e-7
    out = core.exp_sigmoid(torch.tensor(x, dtype=torch.float32))
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5)
    out2 = core.exp_sigmoid(torch.zeros(1), exponent=2.0, max_value=1.0, threshold=0.5)
    assert abs(out2.item() - (0.5 ** math.log(2.0) + 0.5)) < 1e-6


@pytest.mark.parametrize("shape", [(2, 5, 3), (2, 5)])
def test_upsample_linear_matches_interp(shape):
    rng = np.random.default_rng(0)
    frames = rng.standard_normal(shape).astype(np.float32)
    out = core.upsample_linear(frames, 40).numpy()
    assert out.shape == (shape[0], 40) + shape[2:]
    hop = 8
    s = np.arange(40) / hop
    flat = frames.reshape(shape[0], shape[1], -1)
    out_flat = out.reshape(shape[0], 40, -1)
    for b in range(shape[0]):
        for c in range(flat.shape[2]):
            ref = np.interp(s, np.arange(shape[1]), flat[b, :, c])  # holds after the last frame
            np.testing.assert_allclose(out_flat[b, :, c], ref, atol=1e-6)


def test_upsample_with_windows_hits_frames_and_preserves_constants():
    frames = torch.tensor([[0.0, 1.0, 3.0, -2.0]])
    out = core.upsample_with_windows(frames, 16)
    assert out.shape == (1, 16)
    np.testing.assert_allclose(out[0, ::4].numpy(), frames[0].numpy(), atol=1e-6)
    assert abs(out[0, 2].item() - 0.5) < 1e-6  # half-way: raised-cosine midpoint
    assert abs(out[0, 1].item() - (0.5 - 0.5 * math.cos(math.pi / 4))) < 1e-6
    const = core.upsample_with_windows(torch.full((2, 3, 4), 0.7), 30)
    assert const.shape == (2, 30, 4)
    np.testing.assert_allclose(const.numpy(), 0.7, atol=1e-6)


def test_normalize_harmonics_removes_above_nyquist():
    dist = torch.ones(2, 3, 60)
    f0 = torch.tensor([[1000.0, 100.0, 0.0], [4000.0, 8000.0, 1100.0]])
    out = core.normalize_harmonics(dist, f0, sample_rate=16000)
    assert out.shape == (2, 3, 60)
    nonzero = (out > 0).sum(-1)
    assert nonzero.tolist() == [[7, 60, 60], [1, 0, 7]]  # k*f0 < 8000 strictly
    sums = out.sum(-1)
    np.testing.assert_allclose(sums[nonzero > 0].numpy(), 1.0, atol=1e-6)
    assert sums[1, 1].item() == 0.0  # nothing audible stays silent, no NaN
    np.testing.assert_allclose(core.normalize_harmonics(dist)[0, 0].numpy(), 1 / 60, rtol=1e-5)


def test_remove_above_nyquist_and_harmonic_frequencies():
    freqs = core.harmonic_frequencies(torch.tensor([[3000.0]]), n_harmonics=4)
    np.testing.assert_allclose(freqs.numpy(), [[[3000, 6000, 9000, 12000]]])
    amps = core.remove_above_nyquist(freqs, torch.ones(1, 1, 4), sample_rate=16000)
    assert amps.tolist() == [[[1.0, 1.0, 0.0, 0.0]]]


@pytest.mark.parametrize("call", [
    lambda: core.upsample_linear(torch.zeros(1, 3, 2), 10),  # not a multiple
    lambda: core.upsample_linear(torch.zeros(3), 9),  # wrong rank
    lambda: core.upsample_with_windows(torch.zeros(1, 3), 0),
    lambda: core.normalize_harmonics(torch.ones(1, 3, 4), torch.ones(1, 2)),
    lambda: core.normalize_harmonics(torch.ones(3, 4)),
    lambda: core.exp_sigmoid("abc"),
    lambda: core.harmonic_frequencies(torch.ones(1, 2), n_harmonics=0),
])
def test_errors(call):
    with pytest.raises(ParameterError):
        call()


def test_valid_calls_of_error_table_pass():
    assert core.upsample_linear(torch.zeros(1, 3, 2), 9).shape == (1, 9, 2)
    assert core.normalize_harmonics(torch.ones(1, 2, 4), torch.ones(1, 2)).shape == (1, 2, 4)
