"""Tests for midi_ddsp.dsp.core."""
import numpy as np
import pytest
import torch

from midi_ddsp.dsp import core
from midi_ddsp.errors import ParameterError


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


@pytest.mark.parametrize("as_numpy", [False, True])
def test_get_controls_removes_harmonics_at_or_above_nyquist(as_numpy):
    f0 = np.array([[1568.0, 2000.0, 0.0]], np.float32)  # G6: harmonics 1..5 below 8 kHz
    dist = np.full((1, 3, 60), 1 / 60, np.float32)
    amp = np.full((1, 3), 0.5, np.float32)
    args = (f0, amp, dist) if as_numpy else tuple(torch.from_numpy(x) for x in (f0, amp, dist))
    out = core.get_controls(*args, sample_rate=16000)
    hd = out.harmonic_distribution
    assert isinstance(hd, np.ndarray if as_numpy else torch.Tensor)
    assert tuple(hd.shape) == (1, 3, 60)
    hd = np.asarray(hd)
    np.testing.assert_allclose(hd[0, 0, :5], 0.2, rtol=1e-5)  # 5 * 1568 < 8000 <= 6 * 1568
    np.testing.assert_allclose(hd[0, 1, :3], 1 / 3, rtol=1e-5)  # 4 * 2000 = 8000: removed
    assert not hd[0, 0, 5:].any() and not hd[0, 1, 3:].any()
    np.testing.assert_allclose(hd[0, 2], 1 / 60, rtol=1e-5)  # unvoiced: nothing removed
    np.testing.assert_allclose(np.asarray(out.amplitude), amp)
    # unbatched [n_frames, n_harmonics] and idempotent
    single = core.get_controls(f0[0], None, dist[0], sample_rate=16000).harmonic_distribution
    np.testing.assert_allclose(single, hd[0], atol=1e-7)
    again = core.get_controls(f0[0], None, single, sample_rate=16000).harmonic_distribution
    np.testing.assert_allclose(again, single, atol=1e-6)


def test_get_controls_is_differentiable():
    dist = torch.rand(2, 4, 60, requires_grad=True)
    out = core.get_controls(torch.full((2, 4), 400.0), None, dist, sample_rate=16000)
    (out.harmonic_distribution * torch.arange(60.0)).sum().backward()
    assert torch.isfinite(dist.grad).all() and dist.grad[..., :19].abs().sum() > 0
    assert (dist.grad[..., 20:] == 0).all()  # 20 * 400 Hz = 8 kHz and above: removed


@pytest.mark.parametrize("call", [
    lambda: core.upsample_linear(torch.zeros(1, 3, 2), 10),  # not a multiple
    lambda: core.upsample_linear(torch.zeros(3), 9),  # wrong rank
    lambda: core.get_controls(torch.ones(1, 3), None, torch.ones(1, 2, 4)),
    lambda: core.get_controls(np.ones(3), None, np.ones((3, 4)), sample_rate=0),
    lambda: core.get_controls(np.ones(3), None, np.ones(4)),
    lambda: core.normalize_harmonics(torch.ones(1, 3, 4), torch.ones(1, 2)),
    lambda: core.normalize_harmonics(torch.ones(3, 4)),
    lambda: core.harmonic_frequencies(torch.ones(1, 2), n_harmonics=0),
])
def test_errors(call):
    with pytest.raises(ParameterError):
        call()


def test_valid_calls_of_error_table_pass():
    assert core.upsample_linear(torch.zeros(1, 3, 2), 9).shape == (1, 9, 2)
    assert core.normalize_harmonics(torch.ones(1, 2, 4), torch.ones(1, 2)).shape == (1, 2, 4)
