"""Effects: FFT convolution reverb with a learned impulse-response bank (one IR per instrument)."""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from midi_ddsp.config import DEFAULT_SIGNAL_CONFIG, SignalConfig
from midi_ddsp.dsp.core import _as_tensor, _check_positive_int
from midi_ddsp.errors import ParameterError

__all__ = ["apply_reverb", "exp_decay_impulse_response", "Reverb"]


def _next_pow2(n: int) -> int:
    return 1 << max(0, n - 1).bit_length()


_GROUP_SAMPLES = 1 << 21
"""Long convolutions process about this many samples at a time (~2 min at 16 kHz)."""


def _overlap_add_blocks(x: torch.Tensor, ir_spec: torch.Tensor, n_fft: int,
                        block: int) -> torch.Tensor:
    """Full linear convolution of x [B, n] by blocks.

    Returns [B, n_blocks * block + n_fft - block].
    """
    n_blocks = math.ceil(x.shape[-1] / block)
    frames = torch.nn.functional.pad(x, (0, n_blocks * block - x.shape[-1]))
    frames = frames.reshape(x.shape[0], n_blocks, block)
    pieces = torch.fft.irfft(torch.fft.rfft(frames, n=n_fft) * ir_spec, n=n_fft)  # [B, nb, n_fft]
    total = (n_blocks - 1) * block + n_fft
    out = torch.nn.functional.fold(pieces.transpose(1, 2), output_size=(1, total),
                                   kernel_size=(1, n_fft), stride=(1, block))
    return out.reshape(pieces.shape[0], total)


def apply_reverb(audio: Any, impulse_response: Any) -> torch.Tensor:
    """Convolve audio with an impulse response (FFT, overlap-add), trimmed to the input length.

    ``out[s] = sum_j ir[j] * audio[s - j]`` for ``s < n_samples`` (the tail after the end is
    dropped). A unit impulse ``[1, 0, 0, ...]`` returns the input unchanged. Long inputs are
    processed in blocks of about ``2 * ir_length`` samples, a group of blocks (~2**21 samples) at a
    time, so the FFT size and the temporaries stay bounded.
    Differentiable w.r.t. both inputs.

    Args:
        audio: waveform, shape [batch, n_samples] or [n_samples].
        impulse_response: IR (tap 0 = direct sound), shape [batch, n_taps] or [n_taps] (shared).

    Returns:
        reverberated audio, shape [batch, n_samples] (or [n_samples] if both inputs are 1-D).
    """
    x = _as_tensor(audio, "audio", ndims=(1, 2))
    ir = _as_tensor(impulse_response, "impulse_response", ndims=(1, 2))
    squeeze = x.ndim == 1 and ir.ndim == 1
    x = x.reshape(-1, x.shape[-1]) if x.ndim == 2 else x[None]
    ir = ir if ir.ndim == 2 else ir[None]
    if ir.shape[0] not in (1, x.shape[0]) and x.shape[0] != 1:
        raise ParameterError(f"impulse_response batch {ir.shape[0]} does not match audio batch "
                             f"{x.shape[0]}")
    n_samples, n_taps = x.shape[-1], ir.shape[-1]
    if n_samples == 0 or n_taps == 0:
        raise ParameterError(f"apply_reverb: empty input (audio {tuple(x.shape)}, "
                             f"impulse_response {tuple(ir.shape)})")
    ir = ir[:, :n_samples]  # taps beyond the signal length cannot contribute
    n_taps = ir.shape[-1]
    n_fft = _next_pow2(n_samples + n_taps - 1)
    if n_fft <= 2 * _next_pow2(2 * n_taps):  # short: one FFT
        y = torch.fft.irfft(torch.fft.rfft(x, n=n_fft) * torch.fft.rfft(ir, n=n_fft), n=n_fft)
        out = y[:, :n_samples]
    else:  # long: overlap-add of blocks, a group of blocks at a time (bounded temporaries)
        n_fft = 2 * _next_pow2(n_taps)
        block = n_fft - n_taps + 1
        ir_spec = torch.fft.rfft(ir, n=n_fft)[:, None, :]
        group = block * max(1, _GROUP_SAMPLES // block)
        pieces, carry = [], None
        for start in range(0, n_samples, group):
            y = _overlap_add_blocks(x[:, start:start + group], ir_spec, n_fft, block)
            if carry is not None:
                y = torch.cat([y[:, :carry.shape[1]] + carry, y[:, carry.shape[1]:]], dim=1)
            length = min(group, n_samples - start)
            pieces.append(y[:, :length])
            carry = y[:, length:]
        out = torch.cat(pieces, dim=1)
    return out[0] if squeeze else out


def exp_decay_impulse_response(gain: torch.Tensor, decay: torch.Tensor, noise: torch.Tensor, *,
                               sample_rate: int = 16000) -> torch.Tensor:
    """Exponentially decaying noise IR: ``gain * 1000 ** (-t / decay) * noise`` (t in seconds).

    Args:
        gain: linear wet gain, >= 0, shape [n].
        decay: RT60-like decay time in seconds (level falls 60 dB in ``decay`` s), > 0, shape [n].
        noise: fixed noise in [-1, 1], shape [n_taps] or [n, n_taps].

    Returns:
        IRs, shape [n, n_taps]; tap 0 is 0 (the dry path is added separately).
    """
    n_taps = noise.shape[-1]
    t = torch.arange(n_taps, dtype=noise.dtype, device=noise.device) / sample_rate
    envelope = torch.exp(-t[None, :] * (math.log(1000.0) / decay[:, None]))
    ir = gain[:, None] * envelope * noise
    return torch.nn.functional.pad(ir[:, 1:], (1, 0))


class Reverb(nn.Module):
    """Learned reverb: a bank of impulse responses, one per instrument, blended per batch item.

    ``forward(audio) = audio + apply_reverb(audio, wet_ir)`` (dry path + wet tail), where the wet
    IR of batch item b is ``sum_i instrument_weights[b, i] * bank[i]`` (or
    ``bank[instrument_ids[b]]``), with tap 0 forced to 0 (the dry path is the unit tap).

    Parameterisations:
        ``"free"``: every tap is a parameter (ddsp ``Reverb``), initialised to N(0, 1e-6).
        ``"exp_decay"``: per instrument a gain and a decay time applied to fixed noise (ddsp
        ``ExpDecayReverb``-like): ``gain = softplus(gain_raw)``, ``decay_s = softplus(decay_raw)
        + 0.05``; few parameters, always a plausible room.
    """

    def __init__(self, config: SignalConfig = DEFAULT_SIGNAL_CONFIG, *, n_instruments: int = 1,
                 parameterization: str = "free", reverb_length: int | None = None,
                 seed: int = 0) -> None:
        super().__init__()
        self.config = config
        self.n_instruments = _check_positive_int(n_instruments, "n_instruments")
        self.reverb_length = _check_positive_int(
            config.reverb_length if reverb_length is None else reverb_length, "reverb_length")
        if parameterization not in ("free", "exp_decay"):
            raise ParameterError(f"parameterization: expected 'free' or 'exp_decay', got "
                                 f"{parameterization!r}")
        self.parameterization = parameterization
        gen = torch.Generator().manual_seed(seed)
        if parameterization == "free":
            self.impulse_responses = nn.Parameter(
                1e-6 * torch.randn(self.n_instruments, self.reverb_length, generator=gen))
        else:
            self.register_buffer(
                "noise", torch.rand(self.reverb_length, generator=gen) * 2.0 - 1.0)
            # softplus(-3) ~ 0.05 wet gain; softplus(0.5) + 0.05 ~ 1.0 s decay
            self.gain_raw = nn.Parameter(torch.full((self.n_instruments,), -3.0))
            self.decay_raw = nn.Parameter(torch.full((self.n_instruments,), 0.5))

    def bank(self) -> torch.Tensor:
        """The wet IRs of all instruments, shape [n_instruments, reverb_length], tap 0 = 0."""
        if self.parameterization == "free":
            return torch.nn.functional.pad(self.impulse_responses[:, 1:], (1, 0))
        gain = torch.nn.functional.softplus(self.gain_raw)
        decay = torch.nn.functional.softplus(self.decay_raw) + 0.05
        return exp_decay_impulse_response(gain, decay, self.noise,
                                          sample_rate=self.config.sample_rate)

    def get_impulse_response(self, *, instrument_ids: Any = None, instrument_weights: Any = None,
                             batch: int = 1) -> torch.Tensor:
        """Wet IR per batch item, shape [batch, reverb_length] (tap 0 = 0; add the dry path).

        Args:
            instrument_ids: integer instrument rows (``Instrument.index``), shape [batch].
            instrument_weights: blend weights over instruments, shape [batch, n_instruments]
                (e.g. one-hot, or a mix of two instruments).
            batch: batch size when neither is given (only with a single-instrument bank).
        """
        bank = self.bank()
        if instrument_ids is not None and instrument_weights is not None:
            raise ParameterError("give instrument_ids or instrument_weights, not both")
        if instrument_weights is not None:
            w = _as_tensor(instrument_weights, "instrument_weights", ndims=(2,))
            if w.shape[1] != self.n_instruments:
                raise ParameterError(f"instrument_weights: expected [batch, {self.n_instruments}]"
                                     f", got {tuple(w.shape)}")
            return w.to(bank.device) @ bank
        if instrument_ids is not None:
            ids = torch.as_tensor(instrument_ids, device=bank.device).long().reshape(-1)
            if ids.numel() and (ids.min() < 0 or ids.max() >= self.n_instruments):
                raise ParameterError(f"instrument_ids: expected values in [0, "
                                     f"{self.n_instruments}), got {ids.tolist()}")
            return bank[ids]
        if self.n_instruments != 1:
            raise ParameterError(f"this reverb has {self.n_instruments} instruments: pass "
                                 "instrument_ids or instrument_weights")
        return bank.expand(batch, -1)

    def forward(self, audio: torch.Tensor, *, instrument_ids: Any = None,
                instrument_weights: Any = None) -> torch.Tensor:
        """Dry + wet. ``audio``: [batch, n_samples] -> [batch, n_samples]."""
        x = _as_tensor(audio, "audio", ndims=(2,))
        ir = self.get_impulse_response(instrument_ids=instrument_ids,
                                       instrument_weights=instrument_weights, batch=x.shape[0])
        return x + apply_reverb(x, ir)
