"""Network outputs -> synth controls: the one scaling layer of the three models, with the ranges
declared once as data (``CONTROL_RANGES``).

- amplitude: ``amp_db = low + (high - low) * sigmoid(x)`` over ``CONTROL_RANGES["amp_db"]``;
- noise magnitudes: the same over ``CONTROL_RANGES["noise_db"]``;
- f0 deviation from the written pitch, in semitones: ``m * tanh(x / m)``, m = the range's high;
- harmonic distribution: ``softmax(x)`` over the harmonics, then ``midi_ddsp.dsp.get_controls``
  (harmonics at or above the model's Nyquist removed, renormalised): what the synth plays.

``synth_params_from_controls`` turns one batch row into ``SynthParams`` (numpy, linear units).
The scaling functions take torch tensors (the models) or numpy arrays (the streaming engine).
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch

from midi_ddsp.dsp.core import SAFE_DIVIDE_EPS, get_controls
from midi_ddsp.dsp.units import db_to_amplitude
from midi_ddsp.synth_params import SynthParams

__all__ = [
    "ControlRange",
    "CONTROL_RANGES",
    "amp_db_from_logits",
    "noise_db_from_logits",
    "f0_dev_from_logits",
    "harmonic_distribution_from_logits",
    "synth_params_from_controls",
]


@dataclasses.dataclass(frozen=True)
class ControlRange:
    """The range of one network output in physical units."""

    low: float
    high: float
    unit: str


CONTROL_RANGES: dict[str, ControlRange] = {
    "amp_db": ControlRange(-100.0, 10.0, "dB re. 1.0 (harmonic amplitude)"),
    "noise_db": ControlRange(-120.0, 0.0, "dB (noise-band magnitude; -120 dB = the MIN_AMPLITUDE floor)"),
    "f0_dev": ControlRange(-4.0, 4.0, "semitones from the written pitch"),
}


def _sigmoid(x):
    if isinstance(x, np.ndarray):
        return 0.5 * (1.0 + np.tanh(0.5 * x))   # = 1 / (1 + e^-x), without overflow
    return torch.sigmoid(x)


def _sigmoid_range(x, name: str):
    r = CONTROL_RANGES[name]
    return r.low + (r.high - r.low) * _sigmoid(x)


def amp_db_from_logits(x):
    """Harmonic amplitude in dB, in ``CONTROL_RANGES["amp_db"]``."""
    return _sigmoid_range(x, "amp_db")


def noise_db_from_logits(x):
    """Noise-band magnitudes in dB, in ``CONTROL_RANGES["noise_db"]``."""
    return _sigmoid_range(x, "noise_db")


def f0_dev_from_logits(x):
    """f0 deviation from the written pitch in semitones, in ``CONTROL_RANGES["f0_dev"]``."""
    m = CONTROL_RANGES["f0_dev"].high
    return m * (np.tanh(x / m) if isinstance(x, np.ndarray) else torch.tanh(x / m))


def harmonic_distribution_from_logits(logits, f0_hz, *, sample_rate: int):
    """The harmonic distribution a model outputs: ``softmax(logits)`` through ``get_controls``
    (harmonics at or above ``sample_rate / 2`` at that frame's f0 removed, renormalised).

    Args:
        logits: [batch, n_frames, n_harmonics].
        f0_hz: Hz, [batch, n_frames].

    Returns:
        [batch, n_frames, n_harmonics], each frame sums to 1 (0 if no harmonic is below Nyquist).
        Torch tensors in, torch out; numpy arrays in (the streaming engine), numpy out, by the
        same rule as ``get_controls``.
    """
    if not isinstance(logits, np.ndarray):
        dist = torch.softmax(logits, dim=-1)
        return get_controls(f0_hz, None, dist, sample_rate=sample_rate).harmonic_distribution
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    k = np.arange(1, logits.shape[-1] + 1, dtype=logits.dtype)
    dist = e * (np.asarray(f0_hz)[..., None] * k < sample_rate / 2.0) / e.sum(-1, keepdims=True)
    return dist / (dist.sum(axis=-1, keepdims=True) + SAFE_DIVIDE_EPS)


def synth_params_from_controls(out: dict, f0_hz: np.ndarray, *, index: int = 0) -> SynthParams:
    """SynthParams (numpy, linear units, float32) of batch row ``index`` of a model's controls
    (``amp_db`` [B, T], ``harmonic_distribution`` [B, T, K], ``noise_db`` [B, T, N]) with the
    frame f0 ``f0_hz`` [T] (Hz)."""
    amp = db_to_amplitude(out["amp_db"][index].detach().cpu().numpy())
    noise = db_to_amplitude(out["noise_db"][index].detach().cpu().numpy())
    hd = out["harmonic_distribution"][index].detach().cpu().numpy()
    return SynthParams(np.asarray(f0_hz, np.float32), amp.astype(np.float32), hd.astype(np.float32),
                       noise.astype(np.float32))
