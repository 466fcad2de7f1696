"""Differentiable FFT convolution reverb (torch): ``apply_reverb``. The rooms it plays are the
parametric presets of ``midi_ddsp.dsp.rooms``; ``midi_ddsp.dsp.blocks.convolve_room`` is the
same convolution in numpy for rendering."""
from __future__ import annotations

import math
from typing import Any

import torch

from midi_ddsp.dsp.core import _as_tensor
from midi_ddsp.errors import ParameterError

__all__ = ["apply_reverb"]


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
    dropped). Tap 0 (the dry path) is applied as an exact gain, the other taps by FFT, so a unit
    impulse ``[1, 0, 0, ...]`` returns the input unchanged. Long inputs are
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
    dry = ir[:, :1] * x
    if ir.shape[-1] == 1:
        return dry[0] if squeeze else dry
    ir = torch.nn.functional.pad(ir[:, 1:], (1, 0))  # the wet taps; tap 0 is `dry`
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
    out = dry + out
    return out[0] if squeeze else out
