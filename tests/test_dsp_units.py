"""Tests of midi_ddsp.dsp.units: the unit conversions."""
import math

import librosa
import numpy as np
import torch

from midi_ddsp.dsp import units


def test_midi_hz_conversions_match_librosa():
    midi = np.array([21.0, 60.0, 69.0, 69.5, 108.0])
    np.testing.assert_allclose(units.midi_to_hz(midi), librosa.midi_to_hz(midi), rtol=1e-9)
    np.testing.assert_allclose(units.hz_to_midi(librosa.midi_to_hz(midi)), midi, atol=1e-9)
    t = units.midi_to_hz(torch.tensor([69.0]))
    assert isinstance(t, torch.Tensor) and abs(t.item() - 440.0) < 1e-3
    assert isinstance(units.hz_to_midi(torch.tensor([440.0])), torch.Tensor)
    assert units.hz_to_midi(np.array([0.0]))[0] == 0.0  # no -inf for unvoiced frames


def test_amplitude_db_conversions():
    amp = np.array([0.0, 1e-9, 1e-6, 0.1, 1.0, 2.0])
    db = units.amplitude_to_db(amp)
    np.testing.assert_allclose(db, [-120, -120, -120, -20, 0, 20 * math.log10(2)], atol=1e-9)
    assert units.MIN_DB == 20 * math.log10(units.MIN_AMPLITUDE)
    np.testing.assert_allclose(units.db_to_amplitude(db[2:]), amp[2:], rtol=1e-9)
    t = units.amplitude_to_db(torch.tensor([0.0, 0.01]))
    assert isinstance(t, torch.Tensor)
    np.testing.assert_allclose(t.numpy(), [-120, -40], atol=1e-4)


def test_power_to_db():
    np.testing.assert_allclose(units.power_to_db(np.array([1.0, 0.01, 0.0])), [0.0, -20.0, -120.0])
    assert units.power_to_db(np.array([0.0]), floor=1e-6)[0] == -60.0
    assert isinstance(units.power_to_db(torch.tensor([4.0])), torch.Tensor)
