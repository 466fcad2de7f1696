"""Building blocks shared by the three models: the instrument embedding, the room reverb they
report, and conditioned dilated convolution stacks. (Network outputs become synth controls in
``midi_ddsp.models.controls``.)"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from midi_ddsp.dsp.rooms import DEFAULT_REVERB, room_impulse_response
from midi_ddsp.instruments import INSTRUMENTS, InstrumentSpec, instrument_weights

__all__ = [
    "N_INSTRUMENTS",
    "InstrumentEmbedding",
    "instrument_impulse_response",
    "ignore_legacy_reverb_state",
    "ConditionedDilatedStack",
]

N_INSTRUMENTS = len(INSTRUMENTS)



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
    def __init__(self, channels: int, cond_channels: int, dilation: int, kernel_size: int,
                 causal: bool = False):
        super().__init__()
        reach = dilation * (kernel_size - 1)
        self.left_pad = reach if causal else 0
        self.conv = nn.Conv1d(channels, 2 * channels, kernel_size, dilation=dilation,
                              padding=0 if causal else reach // 2)
        self.cond = nn.Conv1d(cond_channels, 2 * channels, 1)
        self.out = nn.Conv1d(channels, channels, 1)
        self.norm = _FrameNorm(channels)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = self.norm(x)
        if self.left_pad:
            h = F.pad(h, (self.left_pad, 0))
        a, b = (self.conv(h) + self.cond(cond)).chunk(2, dim=1)
        return x + self.out(torch.tanh(a) * torch.sigmoid(b))


class ConditionedDilatedStack(nn.Module):
    """Dilated 1-D convolutions, conditioned at every block (WaveNet-style gates); centred
    (non-causal) or, with ``causal``, looking only at the current and past frames (zero padding
    on the left), so frame t of the output depends on input frames <= t.

    forward(x [batch, in_channels, n_frames], cond [batch, cond_channels, n_frames])
    -> [batch, channels, n_frames]. Frame-parallel: no recurrence.
    """

    def __init__(self, in_channels: int, cond_channels: int, *, channels: int,
                 dilations: tuple[int, ...], kernel_size: int = 3, causal: bool = False):
        super().__init__()
        self.inp = nn.Conv1d(in_channels, channels, 1)
        self.blocks = nn.ModuleList(
            _ResidualBlock(channels, cond_channels, d, kernel_size, causal) for d in dilations)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = self.inp(x)
        for block in self.blocks:
            h = block(h, cond)
        return h
