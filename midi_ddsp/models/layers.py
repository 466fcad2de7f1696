"""Building blocks shared by the three models: instrument specs and embeddings, the reverb bank,
dilated convolution stacks and the conversions between network outputs and synth controls.

Conversions between network space and physical units live here, in one place (STYLE 5):

- amplitude: ``amp_db = AMP_DB_MIN + (AMP_DB_MAX - AMP_DB_MIN) * sigmoid(x)``, linear = 10^(dB/20);
- noise magnitudes: ``noise_db = NOISE_DB_MIN + (NOISE_DB_MAX - NOISE_DB_MIN) * sigmoid(x)``;
- harmonic distribution: ``softmax(x)`` over the harmonics (each frame sums to 1);
- f0 deviation from the written pitch, in semitones: ``F0_DEV_MAX * tanh(x / F0_DEV_MAX)``.
"""
from __future__ import annotations

import math
from typing import Mapping, Union

import numpy as np
import torch
from torch import nn

from midi_ddsp.errors import ParameterError
from midi_ddsp.instruments import INSTRUMENTS, Instrument, get_instrument

__all__ = [
    "InstrumentSpec",
    "N_INSTRUMENTS",
    "instrument_weights",
    "InstrumentEmbedding",
    "ReverbBank",
    "ConditionedDilatedStack",
    "AMP_DB_MIN",
    "AMP_DB_MAX",
    "NOISE_DB_MIN",
    "NOISE_DB_MAX",
    "F0_DEV_MAX",
    "amp_db_from_logits",
    "noise_db_from_logits",
    "f0_dev_from_logits",
]

InstrumentSpec = Union[str, Instrument, Mapping[str, float]]
"""A name/alias, an ``Instrument``, or a blend such as ``{"violin": 0.5, "flute": 0.5}``."""

N_INSTRUMENTS = len(INSTRUMENTS)

AMP_DB_MIN = -100.0   # harmonic amplitude range of the network output (dB re. 1.0)
AMP_DB_MAX = 10.0
NOISE_DB_MIN = -120.0  # noise-band magnitude range (dB); -120 dB = the MIN_AMPLITUDE floor
NOISE_DB_MAX = 0.0
F0_DEV_MAX = 4.0       # semitones: largest f0 deviation from the written pitch the SG can output


def instrument_weights(instrument: InstrumentSpec) -> np.ndarray:
    """Blend weights over the 13 instrument embedding rows, float32 [13], summing to 1.

    Raises:
        ParameterError: unknown name, empty blend, negative or all-zero weights.
    """
    out = np.zeros(N_INSTRUMENTS, np.float32)
    if isinstance(instrument, (str, Instrument)):
        out[get_instrument(instrument).index] = 1.0
        return out
    if not isinstance(instrument, Mapping) or not instrument:
        raise ParameterError(
            "instrument must be a name, an Instrument or a non-empty mapping name -> weight; "
            f"got {instrument!r}")
    for name, weight in instrument.items():
        try:
            weight = float(weight)
        except (TypeError, ValueError):
            raise ParameterError(f"instrument blend weight for {name!r} must be a number; "
                                 f"got {weight!r}") from None
        if not math.isfinite(weight) or weight < 0:
            raise ParameterError(f"instrument blend weight for {name!r} must be finite and >= 0; "
                                 f"got {weight}")
        out[get_instrument(name).index] += weight
    total = float(out.sum())
    if total <= 0:
        raise ParameterError(f"instrument blend weights sum to 0: {dict(instrument)}")
    return out / total


class InstrumentEmbedding(nn.Module):
    """A learned vector per instrument; a blend is the weighted mix of the rows.

    forward(weights [batch, 13]) -> [batch, dim].
    """

    def __init__(self, dim: int):
        super().__init__()
        self.table = nn.Parameter(torch.randn(N_INSTRUMENTS, dim) * 0.3)

    def forward(self, weights: torch.Tensor) -> torch.Tensor:
        return weights @ self.table


class ReverbBank(nn.Module):
    """A parametric reverb impulse response per instrument: exponentially decaying noise.

    Each instrument has three learnable numbers: the log decay time (RT60 in seconds), the wet
    gain in dB and a spectral tilt (a one-pole low-pass coefficient applied to the noise). The
    noise itself is a fixed seeded buffer, regenerated from the seed, so a checkpoint stores only
    3 x 13 numbers. ``forward`` returns the wet tail only (``ir[0] == 0``);
    ``impulse_response`` returns the full IR with the dry path as tap 0 (= 1).
    Blends mix the IRs with the blend weights.
    """

    def __init__(self, *, n_taps: int, sample_rate: int, seed: int = 1234,
                 rt60_s: float = 0.8, gain_db: float = -24.0):
        super().__init__()
        self.n_taps = int(n_taps)
        self.sample_rate = int(sample_rate)
        self.seed = int(seed)
        self.log_rt60 = nn.Parameter(torch.full((N_INSTRUMENTS,), math.log(rt60_s)))
        self.gain_db = nn.Parameter(torch.full((N_INSTRUMENTS,), float(gain_db)))
        self.tilt = nn.Parameter(torch.zeros(N_INSTRUMENTS))
        self._noise: torch.Tensor | None = None

    def _noise_buffer(self) -> torch.Tensor:
        if self._noise is None or self._noise.shape[0] != self.n_taps:
            gen = torch.Generator().manual_seed(self.seed)
            self._noise = torch.randn(self.n_taps, generator=gen)
        return self._noise

    def forward(self, weights: torch.Tensor) -> torch.Tensor:
        """Impulse responses for blend weights [batch, 13] -> [batch, n_taps] (differentiable)."""
        noise = self._noise_buffer()
        t_s = torch.arange(self.n_taps, dtype=torch.float32) / self.sample_rate
        rt60 = torch.exp(self.log_rt60).clamp(0.05, 10.0)                   # [13]
        envelope = torch.exp(-6.907755 * t_s[None, :] / rt60[:, None])      # ln(1000): -60 dB
        gain = torch.pow(10.0, self.gain_db / 20.0)[:, None]
        # spectral tilt: mix of white noise and its first difference (bright) or running mean
        alpha = torch.tanh(self.tilt)[:, None]
        shifted = torch.cat([noise[:1], noise[:-1]])
        coloured = noise[None, :] + alpha * shifted[None, :]
        irs = gain * envelope * coloured / math.sqrt(self.sample_rate * 0.05)
        irs = torch.cat([torch.zeros(N_INSTRUMENTS, 1), irs[:, 1:]], dim=1)
        return weights @ irs

    def impulse_response(self, weights: np.ndarray) -> np.ndarray:
        """Full numpy IR [n_taps] for blend weights [13]: tap 0 = 1 (the dry path) + the wet tail,
        the form ``midi_ddsp.dsp.render_synth_params(impulse_response=...)`` takes."""
        with torch.no_grad():
            ir = self.forward(torch.as_tensor(weights, dtype=torch.float32)[None])[0]
        ir = ir.numpy().astype(np.float32)
        ir[0] = 1.0
        return ir


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
