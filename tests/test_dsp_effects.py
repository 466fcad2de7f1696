"""Tests for midi_ddsp.dsp.effects."""

import numpy as np
import pytest
import scipy.signal
import torch

from midi_ddsp.config import SignalConfig
from midi_ddsp.dsp import effects
from midi_ddsp.errors import ParameterError

SMALL = SignalConfig(reverb_length=2000)


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


def test_reverb_module_free_bank_selection_and_blend():
    reverb = effects.Reverb(SMALL, n_instruments=3)
    with torch.no_grad():
        reverb.impulse_responses.copy_(torch.randn(3, 2000) * 0.01)
    bank = reverb.bank()
    assert bank.shape == (3, 2000) and (bank[:, 0] == 0).all()
    ir = reverb.get_impulse_response(instrument_ids=[2, 0])
    assert torch.equal(ir, bank[[2, 0]])
    audio = _audio(n=3000)
    out = reverb(audio, instrument_ids=torch.tensor([2, 0]))
    assert out.shape == (2, 3000)
    expected = audio + effects.apply_reverb(audio, bank[[2, 0]])
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), atol=1e-5)
    w = torch.tensor([[0.25, 0.75, 0.0], [0.0, 0.0, 1.0]])
    blended = reverb(audio, instrument_weights=w)
    one = reverb(audio, instrument_ids=[0, 2])
    two = reverb(audio, instrument_ids=[1, 2])
    np.testing.assert_allclose(blended[0].detach().numpy(),
                               (0.25 * one[0] + 0.75 * two[0]).detach().numpy(), atol=1e-5)


def test_reverb_gradients_reach_parameters():
    for parameterization in ("free", "exp_decay"):
        reverb = effects.Reverb(SMALL, n_instruments=2, parameterization=parameterization)
        reverb(_audio(n=2500), instrument_ids=[0, 1]).pow(2).sum().backward()
        for name, p in reverb.named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, (parameterization, name)


def test_exp_decay_falls_60_db_at_decay_time():
    noise = torch.ones(16000)
    ir = effects.exp_decay_impulse_response(torch.tensor([0.5]), torch.tensor([0.5]), noise,
                                            sample_rate=16000)
    assert ir.shape == (1, 16000) and ir[0, 0] == 0
    assert ir[0, 8000].item() == pytest.approx(0.5 * 1e-3, rel=1e-3)
    assert ir[0, 4000].item() == pytest.approx(0.5 * 10 ** -1.5, rel=1e-3)


def test_default_reverb_length_from_config():
    reverb = effects.Reverb()
    assert reverb.bank().shape == (1, 48000)
    assert reverb.get_impulse_response(batch=3).shape == (3, 48000)


@pytest.mark.parametrize("call", [
    lambda: effects.apply_reverb(torch.zeros(2, 2, 10), torch.zeros(5)),
    lambda: effects.apply_reverb(torch.zeros(3, 10), torch.zeros(2, 5)),
    lambda: effects.apply_reverb(torch.zeros(1, 10), torch.zeros(0)),
    lambda: effects.Reverb(SMALL, parameterization="plate"),
    lambda: effects.Reverb(SMALL, n_instruments=2)(torch.zeros(1, 10)),
    lambda: effects.Reverb(SMALL, n_instruments=2).get_impulse_response(instrument_ids=[2]),
    lambda: effects.Reverb(SMALL, n_instruments=2).get_impulse_response(
        instrument_ids=[0], instrument_weights=[[1.0, 0.0]]),
    lambda: effects.Reverb(SMALL, n_instruments=2).get_impulse_response(
        instrument_weights=[[1.0, 0.0, 0.0]]),
])
def test_errors(call):
    with pytest.raises(ParameterError):
        call()
