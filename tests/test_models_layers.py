"""Tests of midi_ddsp.models.layers."""
import numpy as np
import pytest
import torch

from midi_ddsp.errors import ParameterError
from midi_ddsp.instruments import get_instrument
from midi_ddsp.instruments import instrument_weights
from midi_ddsp.models.layers import (
    ConditionedDilatedStack,
    ignore_legacy_reverb_state,
    instrument_impulse_response,
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


def test_instrument_impulse_response_is_the_parametric_room():
    from midi_ddsp.dsp.rooms import room_impulse_response

    ir = instrument_impulse_response("violin", sample_rate=16000, n_taps=16000)
    assert ir.shape == (16000,) and ir.dtype == np.float32 and ir[0] == 1
    np.testing.assert_array_equal(ir, room_impulse_response("room", 16000, n_taps=16000))
    hall = instrument_impulse_response({"violin": 0.5, "flute": 0.5}, sample_rate=16000,
                                       n_taps=16000, reverb="hall")
    np.testing.assert_array_equal(hall, room_impulse_response("hall", 16000, n_taps=16000))
    with pytest.raises(ParameterError):
        instrument_impulse_response("kazoo", sample_rate=16000, n_taps=100)


def test_legacy_reverb_state_is_ignored_on_load():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2))
    ignore_legacy_reverb_state(model)
    state = dict(model.state_dict())
    state.update({"reverb.log_rt60": torch.zeros(13), "reverb.gain_db": torch.zeros(13),
                  "reverb.tilt": torch.zeros(13)})
    model.load_state_dict(state)  # strict: would fail on the unexpected keys
    assert "reverb.tilt" in state  # the caller's dict is left alone


def test_dilated_stack_shape_and_receptive_field():
    torch.manual_seed(0)
    stack = ConditionedDilatedStack(3, 2, channels=8, dilations=(1, 2, 4))
    x = torch.zeros(2, 3, 64, requires_grad=True)
    out = stack(x, torch.zeros(2, 2, 64))
    assert out.shape == (2, 8, 64)
    out[0, :, 32].sum().backward()
    touched = np.flatnonzero(x.grad[0].abs().sum(0).numpy() > 0)
    assert touched.min() == 32 - 7 and touched.max() == 32 + 7  # 1 + 2 * (1 + 2 + 4) frames
