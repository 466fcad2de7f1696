"""Tests of midi_ddsp.models.ddsp_inference."""
import dataclasses

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


def test_harmonic_features_make_the_output_follow_the_audio_and_old_configs_load(model,
                                                                                   monkeypatch):
    """The amplitude heard at each harmonic is an input: with the log-mel blanked, changing one
    harmonic of the audio still changes the output; a checkpoint config from before the
    feature loads without it."""
    from midi_ddsp.models import ddsp_inference

    assert model.config.harmonic_features
    monkeypatch.setattr(ddsp_inference, "log_mel",
                        lambda audio, **kw: torch.zeros(audio.shape[0], audio.shape[1] // 64,
                                                        kw["n_mels"]))
    t = np.arange(8000) / 16000
    base = 0.3 * np.sin(2 * np.pi * 220 * t)
    louder_5th = base + 0.2 * np.sin(2 * np.pi * 1100 * t)
    f0 = np.full(125, 220.0, np.float32)
    a = model.infer(base.astype(np.float32), f0, np.full(125, -20.0), "oboe")
    b = model.infer(louder_5th.astype(np.float32), f0, np.full(125, -20.0), "oboe")
    assert not np.allclose(a.harmonic_distribution, b.harmonic_distribution)
    legacy = {k: v for k, v in dataclasses.asdict(DDSPInferenceConfig()).items()
              if k != "harmonic_features"}
    assert not DDSPInferenceConfig.from_dict(legacy).harmonic_features
    old = DDSPInference(DDSPInferenceConfig.from_dict(legacy))
    assert old.stack is not None and sum(p.numel() for p in old.parameters()) < \
        sum(p.numel() for p in DDSPInference().parameters())
