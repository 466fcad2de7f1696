"""Building blocks shared by the three models: instrument specs and embeddings, dilated
convolution stacks and the conversions between network outputs and synth controls.

Conversions between network space and physical units live here, in one place (STYLE 5):

- amplitude: ``amp_db = AMP_DB_MIN + (AMP_DB_MAX - AMP_DB_MIN) * sigmoid(x)``, linear = 10^(dB/20);
- noise magnitudes: ``noise_db = NOISE_DB_MIN + (NOISE_DB_MAX - NOISE_DB_MIN) * sigmoid(x)``;
- harmonic distribution: ``softmax(x)`` over the harmonics, then
  ``midi_ddsp.dsp.get_controls`` (harmonics at or above the model's Nyquist removed, renormalised),
  see ``harmonic_distribution_from_logits``;
- f0 deviation from the written pitch, in semitones: ``F0_DEV_MAX * tanh(x / F0_DEV_MAX)``.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from midi_ddsp.dsp.core import get_controls
from midi_ddsp.dsp.effects import DEFAULT_REVERB, room_impulse_response
from midi_ddsp.errors import ParameterError
from midi_ddsp.instruments import INSTRUMENTS, InstrumentSpec, instrument_weights

__all__ = [
    "N_INSTRUMENTS",
    "InstrumentEmbedding",
    "instrument_impulse_response",
    "ignore_legacy_reverb_state",
    "ConditionedDilatedStack",
    "AMP_DB_MIN",
    "AMP_DB_MAX",
    "NOISE_DB_MIN",
    "NOISE_DB_MAX",
    "F0_DEV_MAX",
    "amp_db_from_logits",
    "noise_db_from_logits",
    "f0_dev_from_logits",
    "harmonic_distribution_from_logits",
]

N_INSTRUMENTS = len(INSTRUMENTS)

AMP_DB_MIN = -100.0   # harmonic amplitude range of the network output (dB re. 1.0)
AMP_DB_MAX = 10.0
NOISE_DB_MIN = -120.0  # noise-band magnitude range (dB); -120 dB = the MIN_AMPLITUDE floor
NOISE_DB_MAX = 0.0
F0_DEV_MAX = 4.0       # semitones: largest f0 deviation from the written pitch the SG can output


class InstrumentEmbedding(nn.Module):
    """A learned vector per instrument; a blend is the weighted mix of the rows.

    forward(weights [batch, 13]) -> [batch, dim].
    """

    def __init__(self, dim: int):
        super().__init__()
        self.table = nn.Parameter(torch.randn(N_INSTRUMENTS, dim) * 0.3)

    def forward(self, weights: torch.Tensor) -> torch.Tensor:
        return weights @ self.table


def instrument_impulse_response(instrument: InstrumentSpec, *, sample_rate: int, n_taps: int,
                                reverb: object = DEFAULT_REVERB) -> np.ndarray:
    """The reverb IR the models' ``impulse_response`` methods return, float32 [n_taps]: tap 0 = 1
    (dry), then the wet tail of a parametric room (``midi_ddsp.dsp.room_impulse_response``;
    ``reverb`` names the preset). No room is learned (the training audio is dry), so every
    instrument gets the same room; ``instrument`` is only validated."""
    instrument_weights(instrument)
    return room_impulse_response(reverb, sample_rate, n_taps=n_taps)


def _drop_legacy_reverb_keys(_module, state_dict, prefix, *_args) -> None:
    for key in [k for k in state_dict if k.startswith(prefix + "reverb.")]:
        del state_dict[key]


def ignore_legacy_reverb_state(module: nn.Module) -> None:
    """Let ``module`` load checkpoints that still hold the old per-instrument reverb bank
    (``reverb.log_rt60``, ``reverb.gain_db``, ``reverb.tilt``: untrained defaults): those
    entries are dropped on load (a module-level hook, so the model still pickles)."""
    module.register_load_state_dict_pre_hook(_drop_legacy_reverb_keys)


class _FrameNorm(nn.Module):
    """Layer norm over channels, per frame (no statistics across time: frames stay local)."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.transpose(1, 2)).transpose(1, 2)


class _ResidualBlock(nn.Module):
    def __init__(self, channels: int, cond_channels: int, dilation: int, kernel_size: int):
        super().__init__()
        self.conv = nn.Conv1d(channels, 2 * channels, kernel_size, dilation=dilation,
                              padding=dilation * (kernel_size - 1) // 2)
        self.cond = nn.Conv1d(cond_channels, 2 * channels, 1)
        self.out = nn.Conv1d(channels, channels, 1)
        self.norm = _FrameNorm(channels)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        a, b = (self.conv(self.norm(x)) + self.cond(cond)).chunk(2, dim=1)
        return x + self.out(torch.tanh(a) * torch.sigmoid(b))


class ConditionedDilatedStack(nn.Module):
    """Non-causal dilated 1-D convolutions, conditioned at every block (WaveNet-style gates).

    forward(x [batch, in_channels, n_frames], cond [batch, cond_channels, n_frames])
    -> [batch, channels, n_frames]. Frame-parallel: no recurrence.
    """

    def __init__(self, in_channels: int, cond_channels: int, *, channels: int,
                 dilations: tuple[int, ...], kernel_size: int = 3):
        super().__init__()
        self.inp = nn.Conv1d(in_channels, channels, 1)
        self.blocks = nn.ModuleList(
            _ResidualBlock(channels, cond_channels, d, kernel_size) for d in dilations)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = self.inp(x)
        for block in self.blocks:
            h = block(h, cond)
        return h


def amp_db_from_logits(x: torch.Tensor) -> torch.Tensor:
    """Harmonic amplitude in dB, in [AMP_DB_MIN, AMP_DB_MAX]."""
    return AMP_DB_MIN + (AMP_DB_MAX - AMP_DB_MIN) * torch.sigmoid(x)


def noise_db_from_logits(x: torch.Tensor) -> torch.Tensor:
    """Noise-band magnitudes in dB, in [NOISE_DB_MIN, NOISE_DB_MAX]."""
    return NOISE_DB_MIN + (NOISE_DB_MAX - NOISE_DB_MIN) * torch.sigmoid(x)


def f0_dev_from_logits(x: torch.Tensor) -> torch.Tensor:
    """f0 deviation from the written pitch in semitones, in (-F0_DEV_MAX, F0_DEV_MAX)."""
    return F0_DEV_MAX * torch.tanh(x / F0_DEV_MAX)


def harmonic_distribution_from_logits(logits: torch.Tensor, f0_hz: torch.Tensor, *,
                                      sample_rate: int) -> torch.Tensor:
    """The harmonic distribution a model outputs: ``softmax(logits)`` through ``get_controls``
    (harmonics at or above ``sample_rate / 2`` at that frame's f0 removed, renormalised).

    Args:
        logits: [batch, n_frames, n_harmonics].
        f0_hz: Hz, [batch, n_frames].

    Returns:
        [batch, n_frames, n_harmonics], each frame sums to 1 (0 if no harmonic is below Nyquist).
    """
    dist = torch.softmax(logits, dim=-1)
    return get_controls(f0_hz, None, dist, sample_rate=sample_rate).harmonic_distribution
