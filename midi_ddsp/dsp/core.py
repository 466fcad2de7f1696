"""Pure DSP helpers (torch/numpy only): unit conversions, upsampling, harmonic helpers and
:func:`get_controls`, the one place where a harmonic distribution becomes what the synth plays.

Conventions (DESIGN §3): float32; frame controls ``[batch, n_frames, channels]`` (f0 and amplitude
``[batch, n_frames]``); frame ``i`` is the instant ``i / frame_rate``, i.e. sample ``i * hop_size``.

Unit conversions live in :mod:`midi_ddsp.dsp.units`.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch

from midi_ddsp.errors import ParameterError

__all__ = [
    "SAFE_DIVIDE_EPS",
    "upsample_linear",
    "harmonic_frequencies",
    "remove_above_nyquist",
    "normalize_harmonics",
    "HarmonicControls",
    "get_controls",
]

SAFE_DIVIDE_EPS = 1e-7
"""Added to denominators when normalising distributions so an all-zero frame stays all-zero."""


# ---------------------------------------------------------------------------------------------
# validation helpers (package-internal)
# ---------------------------------------------------------------------------------------------
def _as_tensor(value: Any, name: str, *, ndims: tuple[int, ...] | None = None) -> torch.Tensor:
    """Convert an array-like to a float32 tensor once, raising ParameterError on bad input.

    Tensors keep their device and autograd graph (cast to float32 if needed).
    """
    if isinstance(value, torch.Tensor):
        tensor = value if value.dtype == torch.float32 else value.float()
    else:
        try:
            tensor = torch.as_tensor(np.asarray(value, dtype=np.float32))
        except (TypeError, ValueError) as exc:
            raise ParameterError(
                f"{name}: expected a numeric array, got {type(value).__name__} ({exc})")
    if ndims is not None and tensor.ndim not in ndims:
        raise ParameterError(
            f"{name}: expected {' or '.join(str(n) for n in ndims)} dimensions, got shape "
            f"{tuple(tensor.shape)}"
        )
    return tensor


def _check_positive_int(value: Any, name: str) -> int:
    if isinstance(value, torch.Tensor) and value.ndim == 0 and not value.is_floating_point():
        value = int(value)   # a size read while a graph is traced for export
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ParameterError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)


def _hop_size(n_frames: int, n_samples: int) -> int:
    if n_frames <= 0 or n_samples % n_frames:
        raise ParameterError(
            f"n_samples ({n_samples}) must be a positive multiple of n_frames ({n_frames}): "
            "n_samples = n_frames * hop_size"
        )
    return n_samples // n_frames


# ---------------------------------------------------------------------------------------------
# frame -> sample upsampling
# ---------------------------------------------------------------------------------------------
def _frames_3d(frames: Any, name: str) -> tuple[torch.Tensor, bool]:
    frames = _as_tensor(frames, name, ndims=(2, 3))
    squeeze = frames.ndim == 2
    return (frames.unsqueeze(-1) if squeeze else frames), squeeze


def upsample_linear(frames: Any, n_samples: int) -> torch.Tensor:
    """Linear interpolation of frame controls to the sample rate.

    Frame ``i`` sits at sample ``i * hop`` (``hop = n_samples // n_frames``); samples after the last
    frame hold its value.

    Args:
        frames: controls, shape [batch, n_frames, channels] or [batch, n_frames].
        n_samples: output length, a multiple of n_frames.

    Returns:
        shape [batch, n_samples, channels] or [batch, n_samples] (same rank as ``frames``).
    """
    x, squeeze = _frames_3d(frames, "frames")
    n_samples = _check_positive_int(n_samples, "n_samples")
    hop = _hop_size(x.shape[1], n_samples)
    nxt = torch.cat([x[:, 1:], x[:, -1:]], dim=1)
    w = (torch.arange(hop, dtype=x.dtype, device=x.device) / hop)[None, None, :, None]
    out = x[:, :, None, :] + (nxt - x)[:, :, None, :] * w  # [B, T, hop, C]
    out = out.reshape(x.shape[0], n_samples, x.shape[2])
    return out.squeeze(-1) if squeeze else out



# ---------------------------------------------------------------------------------------------
# harmonic helpers
# ---------------------------------------------------------------------------------------------
def harmonic_frequencies(f0_hz: Any, *, n_harmonics: int) -> torch.Tensor:
    """Frequencies of harmonics 1..n_harmonics.

    Args:
        f0_hz: fundamental frequency in Hz, shape [batch, n_frames].

    Returns:
        ``k * f0_hz`` in Hz, shape [batch, n_frames, n_harmonics].
    """
    f0 = _as_tensor(f0_hz, "f0_hz")
    n_harmonics = _check_positive_int(n_harmonics, "n_harmonics")
    k = torch.arange(1, n_harmonics + 1, dtype=f0.dtype, device=f0.device)
    return f0[..., None] * k


def remove_above_nyquist(frequencies_hz: Any, amplitudes: Any, *,
                         sample_rate: int = 16000) -> torch.Tensor:
    """Zero the amplitudes of components at or above Nyquist (``sample_rate / 2``).

    Args:
        frequencies_hz: component frequencies in Hz, any shape.
        amplitudes: amplitudes, same shape as ``frequencies_hz``.

    Returns:
        amplitudes with those at ``frequency >= sample_rate / 2`` set to 0, same shape.
    """
    freqs = _as_tensor(frequencies_hz, "frequencies_hz")
    amps = _as_tensor(amplitudes, "amplitudes")
    return torch.where(freqs < sample_rate / 2.0, amps, torch.zeros_like(amps))


def normalize_harmonics(harmonic_distribution: Any, f0_hz: Any = None, *,
                        sample_rate: int = 16000) -> torch.Tensor:
    """Remove harmonics at or above Nyquist (when ``f0_hz`` is given) and renormalise to sum 1.

    Done per frame, at that frame's f0. An all-zero frame stays all-zero (denominator + 1e-7).

    Args:
        harmonic_distribution: relative harmonic amplitudes, >= 0,
            shape [batch, n_frames, n_harmonics].
        f0_hz: fundamental frequency in Hz, shape [batch, n_frames], or None (no Nyquist removal).

    Returns:
        normalised distribution, shape [batch, n_frames, n_harmonics], each frame sums to 1 (or 0).
    """
    dist = _as_tensor(harmonic_distribution, "harmonic_distribution", ndims=(3,))
    if f0_hz is not None:
        f0 = _as_tensor(f0_hz, "f0_hz", ndims=(2,))
        if f0.shape != dist.shape[:2]:
            raise ParameterError(
                f"f0_hz shape {tuple(f0.shape)} does not match harmonic_distribution "
                f"{tuple(dist.shape)} (expected [batch, n_frames] and "
                "[batch, n_frames, n_harmonics])"
            )
        dist = remove_above_nyquist(harmonic_frequencies(f0, n_harmonics=dist.shape[-1]), dist,
                                    sample_rate=sample_rate)
    return dist / (dist.sum(dim=-1, keepdim=True) + SAFE_DIVIDE_EPS)


class HarmonicControls(NamedTuple):
    """Harmonic-synth controls as the synth plays them (see :func:`get_controls`)."""

    f0_hz: Any  # Hz, >= 0, [..., n_frames]
    amplitude: Any  # linear, >= 0, [..., n_frames]
    harmonic_distribution: Any  # [..., n_frames, n_harmonics], sums to 1 (or 0) per frame


def get_controls(f0_hz: Any, amplitude: Any, harmonic_distribution: Any, *,
                 sample_rate: int = 16000) -> HarmonicControls:
    """The harmonic controls the synth plays: harmonics at or above ``sample_rate / 2`` removed
    (per frame, at that frame's f0) and the distribution renormalised to sum 1.

    The model's outputs, the synthesizer and the expression extractor all go through this one
    function, so a distribution's brightness is the brightness of its audio. ``sample_rate`` is
    the model's rate (16 kHz), whatever the output rate of a render.

    Args:
        f0_hz: Hz, >= 0, shape [n_frames] or [batch, n_frames].
        amplitude: linear amplitude, same shape as ``f0_hz``, or None (passed through).
        harmonic_distribution: relative harmonic amplitudes, >= 0, shape
            [n_frames, n_harmonics] or [batch, n_frames, n_harmonics].

    Returns:
        ``HarmonicControls`` of the same shapes, torch tensors if ``harmonic_distribution`` is a
        tensor (differentiable), else numpy float32. An all-silent frame stays all-zero.
    """
    as_numpy = not isinstance(harmonic_distribution, torch.Tensor)
    dist = _as_tensor(harmonic_distribution, "harmonic_distribution", ndims=(2, 3))
    f0 = _as_tensor(f0_hz, "f0_hz", ndims=(1, 2)).to(dist.device)
    squeeze = dist.ndim == 2
    if squeeze:
        dist, f0 = dist[None], f0[None]
    out = normalize_harmonics(dist, f0, sample_rate=_check_positive_int(sample_rate, "sample_rate"))
    if squeeze:
        out = out[0]
    if as_numpy:
        amp = None if amplitude is None else np.asarray(amplitude, dtype=np.float32)
        return HarmonicControls(np.asarray(f0_hz, dtype=np.float32), amp, out.numpy())
    return HarmonicControls(f0_hz, amplitude, out)
