"""Tests of midi_ddsp.models.layers."""
import numpy as np
import pytest
import torch

from midi_ddsp.errors import ParameterError
from midi_ddsp.instruments import get_instrument
from midi_ddsp.models.layers import (
    AMP_DB_MAX,
    AMP_DB_MIN,
    ConditionedDilatedStack,
    ReverbBank,
    amp_db_from_logits,
    f0_dev_from_logits,
    instrument_weights,
)


@pytest.mark.parametrize("spec, expected", [
    ("violin", {0: 1.0}),
    ("Double Bass", {3: 1.0}),
    (get_instrument("flute"), {4: 1.0}),
    ({"violin": 1, "flute": 3}, {0: 0.25, 4: 0.75}),
])
def test_instrument_weights(spec, expected):
    w = instrument_weights(spec)
    assert w.shape == (13,) and abs(w.sum() - 1) < 1e-6
    for i, v in expected.items():
        assert abs(w[i] - v) < 1e-6


@pytest.mark.parametrize("spec", ["kazoo", {}, {"violin": -1}, {"violin": 0}, {"violin": "x"}, 3])
def test_instrument_weights_errors(spec):
    with pytest.raises(ParameterError):
        instrument_weights(spec)


def test_reverb_bank_shapes_blend_and_decay():
    bank = ReverbBank(n_taps=16000, sample_rate=16000)
    a = bank.impulse_response(instrument_weights("violin"))
    b = bank.impulse_response(instrument_weights("flute"))
    with torch.no_grad():
        bank.gain_db[4] += 6.0
    b2 = bank.impulse_response(instrument_weights("flute"))
    assert a.shape == (16000,) and a.dtype == np.float32 and a[0] == 1 and b2[0] == 1
    np.testing.assert_allclose(b2[1:], b[1:] * 10 ** (6 / 20), rtol=1e-4, atol=1e-9)
    mix = bank.impulse_response(instrument_weights({"violin": 0.5, "flute": 0.5}))
    np.testing.assert_allclose(mix, 0.5 * a + 0.5 * b2, rtol=1e-4, atol=1e-9)
    with torch.no_grad():
        assert bank(torch.eye(13)[:1])[0, 0] == 0  # forward: wet tail only
    # RT60 0.8 s: energy in 0.7..0.8 s is ~60 dB * 0.7/0.8 below the first 100 ms
    early = np.sum(a[1:1600] ** 2)
    late = np.sum(a[11200:12800] ** 2)
    assert 10 * np.log10(early / late) > 40


def test_output_ranges():
    x = torch.linspace(-50, 50, 101)
    amp = amp_db_from_logits(x)
    assert amp.min() >= AMP_DB_MIN and amp.max() <= AMP_DB_MAX
    assert f0_dev_from_logits(x).abs().max() <= 4.0
    assert torch.allclose(f0_dev_from_logits(torch.tensor([0.1])), torch.tensor([0.1]), atol=1e-3)


def test_dilated_stack_shape_and_receptive_field():
    torch.manual_seed(0)
    stack = ConditionedDilatedStack(3, 2, channels=8, dilations=(1, 2, 4))
    x = torch.zeros(2, 3, 64, requires_grad=True)
    out = stack(x, torch.zeros(2, 2, 64))
    assert out.shape == (2, 8, 64)
    out[0, :, 32].sum().backward()
    touched = np.flatnonzero(x.grad[0].abs().sum(0).numpy() > 0)
    assert touched.min() == 32 - 7 and touched.max() == 32 + 7  # 1 + 2 * (1 + 2 + 4) frames
