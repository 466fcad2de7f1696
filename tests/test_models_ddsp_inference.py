"""Tests of midi_ddsp.models.ddsp_inference."""
import numpy as np
import pytest
import torch

from midi_ddsp.errors import ParameterError
from midi_ddsp.models import DDSPInference, DDSPInferenceConfig


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return DDSPInference(DDSPInferenceConfig.tiny()).eval()


def test_infer_shapes(model):
    rng = np.random.default_rng(0)
    audio = 0.1 * rng.standard_normal(8000).astype(np.float32)
    f0 = np.full(125, 220.0, np.float32)
    f0[100:] = 0
    params = model.infer(audio, f0, np.full(125, -30.0), "oboe")
    assert params.n_frames == 125
    np.testing.assert_array_equal(params.f0_hz, f0)
    assert params.harmonic_distribution.shape == (125, 60)
    np.testing.assert_allclose(params.harmonic_distribution.sum(1), 1, atol=1e-5)
    assert params.noise_magnitudes.shape == (125, 65)
    assert model.impulse_response("oboe").shape == (48000,)


def test_gradients_reach_inputs(model):
    audio = torch.randn(2, 3200, requires_grad=True)
    loud = torch.full((2, 50), -30.0, requires_grad=True)
    out = model(audio, torch.full((2, 50), 200.0), loud, torch.eye(13)[:2])
    out["amp_db"].sum().backward()
    assert audio.grad.abs().sum() > 0 and loud.grad.abs().sum() > 0


@pytest.mark.parametrize("audio, f0, loud", [
    (np.zeros((2, 100)), np.zeros(10), np.zeros(10)),
    (np.zeros(0), np.zeros(10), np.zeros(10)),
    (np.zeros(640), np.zeros(10), np.zeros(9)),
    (np.full(640, np.nan), np.zeros(10), np.zeros(10)),
])
def test_infer_errors(model, audio, f0, loud):
    with pytest.raises(ParameterError):
        model.infer(audio, f0, loud, "violin")
