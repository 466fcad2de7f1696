"""Unit conversions, the one place they are written (STYLE 5): MIDI pitch <-> Hz, linear
amplitude <-> dB, power -> dB.

Each accepts torch tensors, numpy arrays or Python numbers and returns the same kind (tensor in
-> tensor out, anything else -> numpy float64 / float).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

__all__ = ["MIN_AMPLITUDE", "MIN_DB", "midi_to_hz", "hz_to_midi", "amplitude_to_db",
           "db_to_amplitude", "power_to_db"]

MIN_AMPLITUDE = 1e-6
"""Floor on linear amplitudes before taking dB: ``amplitude_to_db`` never goes below -120 dB."""

MIN_DB = -120.0
"""``amplitude_to_db(0) == MIN_DB`` (20 * log10(MIN_AMPLITUDE))."""


def midi_to_hz(midi: Any) -> Any:
    """MIDI note number (float, 69 = A4) to frequency in Hz: ``440 * 2 ** ((midi - 69) / 12)``."""
    if isinstance(midi, torch.Tensor):
        return 440.0 * torch.pow(2.0, (midi - 69.0) / 12.0)
    return 440.0 * np.power(2.0, (np.asarray(midi, dtype=np.float64) - 69.0) / 12.0)


def hz_to_midi(frequency_hz: Any) -> Any:
    """Frequency in Hz to (fractional) MIDI note number; <= 8.18 Hz (midi 0) maps to 0."""
    if isinstance(frequency_hz, torch.Tensor):
        midi = 12.0 * (torch.log2(torch.clamp(frequency_hz, min=1e-10)) - math.log2(440.0)) + 69.0
        return torch.clamp(midi, min=0.0)
    freq = np.asarray(frequency_hz, dtype=np.float64)
    with np.errstate(divide="ignore"):
        midi = 12.0 * (np.log2(np.maximum(freq, 1e-10)) - math.log2(440.0)) + 69.0
    return np.maximum(midi, 0.0)


def amplitude_to_db(amplitude: Any) -> Any:
    """Linear amplitude to dB: ``20 * log10(max(amplitude, MIN_AMPLITUDE))`` (>= -120 dB)."""
    if isinstance(amplitude, torch.Tensor):
        return 20.0 * torch.log10(torch.clamp(amplitude, min=MIN_AMPLITUDE))
    return 20.0 * np.log10(np.maximum(np.asarray(amplitude, dtype=np.float64), MIN_AMPLITUDE))


def db_to_amplitude(db: Any) -> Any:
    """dB to linear amplitude: ``10 ** (db / 20)``."""
    if isinstance(db, torch.Tensor):
        return torch.pow(10.0, db / 20.0)
    return np.power(10.0, np.asarray(db, dtype=np.float64) / 20.0)


def power_to_db(power: Any, *, floor: float = 1e-12) -> Any:
    """Power (a squared amplitude) to dB: ``10 * log10(max(power, floor))``."""
    if isinstance(power, torch.Tensor):
        return 10.0 * torch.log10(torch.clamp(power, min=floor))
    return 10.0 * np.log10(np.maximum(np.asarray(power, dtype=np.float64), floor))
