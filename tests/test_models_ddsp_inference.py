"""Tests of midi_ddsp.models.ddsp_inference."""
import dataclasses

import numpy as np
import pytest
import torch

from midi_ddsp.errors import ParameterError
from midi_ddsp.models import DDSPInference, DDSPInferenceConfig


@pytest.fixture(scope="module")
def model(tiny_inference):
    return tiny_inference


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

    assert model.config.measured_features
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
              if k != "measured_features"}
    assert not DDSPInferenceConfig.from_dict(legacy).measured_features
    old = DDSPInference(DDSPInferenceConfig.from_dict(legacy))
    assert old.stack is not None and sum(p.numel() for p in old.parameters()) < \
        sum(p.numel() for p in DDSPInference().parameters())


def test_a_new_model_resynthesises_what_the_stft_measures():
    """Zero head: the amplitude is the heard harmonics' sum, the distribution their shares,
    the noise the measured floor (calibrated to the synth)."""
    from midi_ddsp.synth_params import SynthParams
    from midi_ddsp.dsp.blocks import render_synth_params

    n = 250
    hd = np.zeros((n, 60), np.float32)
    hd[:, [0, 1, 3]] = (0.6, 0.3, 0.1)
    noise = np.full((n, 65), 10 ** (-50 / 20), np.float32)
    source = SynthParams(np.full(n, 196.0, np.float32), np.full(n, 0.2, np.float32), hd, noise)
    audio = render_synth_params(source, seed=1)
    model = DDSPInference(DDSPInferenceConfig.tiny()).eval()
    got = model.infer(audio, source.f0_hz, np.full(n, -20.0), "violin")
    mid = slice(50, 200)
    assert abs(20 * np.log10(got.amplitude[mid].mean() / 0.2)) < 1.5
    np.testing.assert_allclose(got.harmonic_distribution[mid][:, [0, 1, 3]].mean(0),
                               (0.6, 0.3, 0.1), atol=0.03)
    noise_db = 20 * np.log10(got.noise_magnitudes[mid][:, 10:60].mean())
    assert abs(noise_db + 50) < 4
