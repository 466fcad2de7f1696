"""Tests of midi_ddsp.models.synthesis_generator."""
import numpy as np
import pytest
import torch

from midi_ddsp.errors import ParameterError
from midi_ddsp.expression import note_table_from_notes
from midi_ddsp.models import SynthesisGenerator, SynthesisGeneratorConfig
from midi_ddsp.config import RELEASE_TAIL_S
from midi_ddsp.score import Note
from midi_ddsp.synth_params import SynthParams

NOTES = [Note(60, 0.0, 0.3, 100), Note(62, 0.3, 0.5, 90), Note(65, 0.6, 0.9, 80)]


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return SynthesisGenerator(SynthesisGeneratorConfig.tiny()).eval()


def test_generate_shapes_and_ranges(model):
    params = model.generate(note_table_from_notes(NOTES), "violin", seed=0)
    assert isinstance(params, SynthParams)
    n = int(round(0.9 * 250)) + int(round(RELEASE_TAIL_S * 250))
    assert params.n_frames == n
    assert params.harmonic_distribution.shape == (n, 60)
    assert params.noise_magnitudes.shape == (n, 65)
    np.testing.assert_allclose(params.harmonic_distribution.sum(1), 1.0, atol=1e-5)
    assert np.all(params.amplitude > 0) and np.all(params.noise_magnitudes >= 0)
    # f0 stays within 4 semitones of the written (held) pitch
    midi = 69 + 12 * np.log2(params.f0_hz / 440)
    assert np.all(np.abs(midi[:75] - 60) < 4) and np.all(np.abs(midi[150:] - 65) < 4)


def test_generate_n_frames_and_seed(model):
    table = note_table_from_notes(NOTES)
    a = model.generate(table, "flute", seed=3, n_frames=100)
    b = model.generate(table, "flute", seed=3, n_frames=100)
    c = model.generate(table, "flute", seed=4, n_frames=100)
    assert a.n_frames == 100
    np.testing.assert_array_equal(a.amplitude, b.amplitude)
    assert not np.allclose(a.amplitude, c.amplitude)


def test_frame_parallel_outputs_are_local(model):
    """Frames far beyond the receptive field do not change earlier outputs (no global state)."""
    table = note_table_from_notes(NOTES)
    long = model.generate(table, "violin", seed=1, n_frames=300)
    short = model.generate(table, "violin", seed=1, n_frames=200)
    rf = sum(model.config.dilations)
    np.testing.assert_allclose(long.amplitude[:200 - rf], short.amplitude[:200 - rf], rtol=1e-5)


def test_expressions_and_instruments_change_output(model):
    low = model.generate(note_table_from_notes(NOTES, expressions={"volume": 0.2}), "violin")
    high = model.generate(note_table_from_notes(NOTES, expressions={"volume": 0.9}), "violin")
    other = model.generate(note_table_from_notes(NOTES, expressions={"volume": 0.2}), "tuba")
    assert not np.allclose(low.amplitude, high.amplitude)
    assert not np.allclose(low.amplitude, other.amplitude)


def test_blend_lies_between_its_instruments(model):
    table = note_table_from_notes(NOTES)
    violin, flute = model.generate(table, "violin"), model.generate(table, "flute")
    blend = model.generate(table, {"violin": 0.5, "flute": 0.5})
    assert not np.allclose(violin.harmonic_distribution, flute.harmonic_distribution, atol=1e-4)
    for params in (violin, flute):  # the blend is neither instrument ...
        assert not np.allclose(blend.harmonic_distribution, params.harmonic_distribution, atol=1e-4)
    # ... and it moves continuously from one to the other with the weights
    near_violin = model.generate(table, {"violin": 0.99, "flute": 0.01})
    assert (np.abs(near_violin.amplitude - violin.amplitude).max()
            < np.abs(blend.amplitude - violin.amplitude).max())


def test_impulse_response_is_the_room_preset(model):
    from midi_ddsp.dsp.rooms import room_impulse_response

    ir = model.impulse_response({"violin": 0.5, "flute": 0.5})
    assert ir.shape == (48000,) and ir.dtype == np.float32 and ir[0] == 1.0
    np.testing.assert_array_equal(ir, room_impulse_response("room", 16000, n_taps=48000))
    hall = model.impulse_response("violin", reverb="hall")
    assert np.sum(hall[1:] ** 2) > 2 * np.sum(ir[1:] ** 2)  # a wetter, longer room


def test_forward_shapes_and_gradients(model):
    feats = torch.zeros(2, 50, 14, requires_grad=True)
    expr = torch.zeros(2, 50, 6, requires_grad=True)
    w = torch.zeros(2, 13)
    w[:, 0] = 1
    out = model(feats, expr, w, torch.randn(2, 50, model.config.n_noise))
    assert out["f0_dev"].shape == (2, 50) and out["amp_db"].shape == (2, 50)
    assert out["harmonic_distribution"].shape == (2, 50, 60) and out["noise_db"].shape == (2, 50, 65)
    (out["amp_db"].sum() + out["f0_dev"].sum()).backward()
    assert feats.grad.abs().sum() > 0 and expr.grad.abs().sum() > 0


@pytest.mark.parametrize("kwargs", [{"seed": 1.5}, {"n_frames": 0}, {"n_frames": "10"}])
def test_generate_errors(model, kwargs):
    with pytest.raises(ParameterError):
        model.generate(note_table_from_notes(NOTES), "violin", **kwargs)


def test_generate_unknown_instrument(model):
    with pytest.raises(ParameterError, match="unknown instrument"):
        model.generate(note_table_from_notes(NOTES), "kazoo")


def test_chunked_generation_equals_whole(model):
    notes = [Note(60 + i % 5, 0.2 * i, 0.2 * i + 0.18, 90) for i in range(10)]
    table = note_table_from_notes(notes)
    whole = model.generate(table, "viola", seed=5)
    chunked = model.generate(table, "viola", seed=5, chunk_frames=64)
    for name in ("f0_hz", "amplitude", "harmonic_distribution", "noise_magnitudes"):
        np.testing.assert_allclose(getattr(chunked, name), getattr(whole, name), rtol=1e-4, atol=1e-6)
    with pytest.raises(ParameterError):
        model.generate(table, "viola", chunk_frames=0)
