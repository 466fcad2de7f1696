"""Unit conversions, the one place they are written (STYLE 5): MIDI pitch <-> Hz, linear
amplitude <-> dB, power -> dB.

Each accepts torch tensors, numpy arrays or Python numbers and returns the same kind (tensor in
-> tensor out, anything else -> numpy float64 / float). Torch is not imported here (a tensor can
only be given once torch is loaded), so score reading and mixing stay torch-free.
"""
from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np

__all__ = ["MIN_AMPLITUDE", "MIN_DB", "midi_to_hz", "hz_to_midi", "amplitude_to_db",
           "db_to_amplitude", "power_to_db"]

MIN_AMPLITUDE = 1e-6
"""Floor on linear amplitudes before taking dB: ``amplitude_to_db`` never goes below -120 dB."""

MIN_DB = -120.0
"""``amplitude_to_db(0) == MIN_DB`` (20 * log10(MIN_AMPLITUDE))."""



def _is_tensor(x: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)

def midi_to_hz(midi: Any) -> Any:
    """MIDI note number (float, 69 = A4) to frequency in Hz: ``440 * 2 ** ((midi - 69) / 12)``."""
    if _is_tensor(midi):
        return 440.0 * (2.0 ** ((midi - 69.0) / 12.0))
    return 440.0 * np.power(2.0, (np.asarray(midi, dtype=np.float64) - 69.0) / 12.0)


def hz_to_midi(frequency_hz: Any) -> Any:
    """Frequency in Hz to (fractional) MIDI note number; <= 8.18 Hz (midi 0) maps to 0."""
    if _is_tensor(frequency_hz):
        midi = 12.0 * (frequency_hz.clamp(min=1e-10).log2() - math.log2(440.0)) + 69.0
        return midi.clamp(min=0.0)
    freq = np.asarray(frequency_hz, dtype=np.float64)
    with np.errstate(divide="ignore"):
        midi = 12.0 * (np.log2(np.maximum(freq, 1e-10)) - math.log2(440.0)) + 69.0
    return np.maximum(midi, 0.0)


def amplitude_to_db(amplitude: Any) -> Any:
    """Linear amplitude to dB: ``20 * log10(max(amplitude, MIN_AMPLITUDE))`` (>= -120 dB)."""
    if _is_tensor(amplitude):
        return 20.0 * amplitude.clamp(min=MIN_AMPLITUDE).log10()
    return 20.0 * np.log10(np.maximum(np.asarray(amplitude, dtype=np.float64), MIN_AMPLITUDE))


def db_to_amplitude(db: Any) -> Any:
    """dB to linear amplitude: ``10 ** (db / 20)``."""
    if _is_tensor(db):
        return 10.0 ** (db / 20.0)
    return np.power(10.0, np.asarray(db, dtype=np.float64) / 20.0)


def power_to_db(power: Any, *, floor: float = 1e-12) -> Any:
    """Power (a squared amplitude) to dB: ``10 * log10(max(power, floor))``."""
    if _is_tensor(power):
        return 10.0 * power.clamp(min=floor).log10()
    return 10.0 * np.log10(np.maximum(np.asarray(power, dtype=np.float64), floor))
