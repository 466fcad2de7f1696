"""Tests of midi_ddsp.models.controls: network outputs -> synth controls -> SynthParams."""
import numpy as np
import pytest
import torch

from midi_ddsp.models.controls import (
    CONTROL_RANGES,
    amp_db_from_logits,
    f0_dev_from_logits,
    harmonic_distribution_from_logits,
    noise_db_from_logits,
    synth_params_from_controls,
)


def test_harmonic_distribution_from_logits_removes_above_nyquist():
    logits = torch.zeros(1, 2, 60, requires_grad=True)
    dist = harmonic_distribution_from_logits(logits, torch.tensor([[1568.0, 100.0]]),
                                             sample_rate=16000)
    np.testing.assert_allclose(dist[0, 0, :5].detach().numpy(), 0.2, rtol=1e-5)
    assert (dist[0, 0, 5:] == 0).all()
    np.testing.assert_allclose(dist[0, 1].detach().numpy(), 1 / 60, rtol=1e-5)
    (dist[..., 0].sum()).backward()
    assert logits.grad.abs().sum() > 0


def test_output_ranges():
    x = torch.linspace(-50, 50, 101)
    amp = amp_db_from_logits(x)
    r = CONTROL_RANGES["amp_db"]
    assert amp.min() >= r.low and amp.max() <= r.high
    assert amp_db_from_logits(torch.tensor([0.0])).item() == pytest.approx(0.5 * (r.low + r.high))
    assert f0_dev_from_logits(x).abs().max() <= 4.0
    assert torch.allclose(f0_dev_from_logits(torch.tensor([0.1])), torch.tensor([0.1]), atol=1e-3)
    noise = noise_db_from_logits(x)
    assert noise.min() >= CONTROL_RANGES["noise_db"].low and noise.max() <= CONTROL_RANGES["noise_db"].high


def test_synth_params_from_controls_are_linear_units():
    out = {"amp_db": torch.tensor([[0.0, -20.0]]), "noise_db": torch.full((1, 2, 65), -40.0),
           "harmonic_distribution": torch.full((1, 2, 60), 1 / 60)}
    params = synth_params_from_controls(out, np.array([220.0, 0.0]))
    np.testing.assert_allclose(params.amplitude, [1.0, 0.1], rtol=1e-6)
    np.testing.assert_allclose(params.noise_magnitudes, 0.01, rtol=1e-6)
    assert params.f0_hz.dtype == np.float32 and params.f0_hz.tolist() == [220.0, 0.0]
