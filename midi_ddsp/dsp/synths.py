"""Synthesisers: additive harmonic synth and filtered noise (pure functions).

Frame ``i`` of a control is the instant ``i * hop`` samples, ``hop = sample_rate // frame_rate``;
``n_samples = n_frames * hop``. Between frames, f0 and amplitudes are interpolated linearly; after
the last frame they hold.

Harmonic synthesis (fast and phase-accurate):

* phase is kept in cycles. The phase at the start of every frame is an exclusive cumulative sum of
  exact per-frame increments in float64, wrapped to [0, 1); inside a frame the phase is the closed
  form of the linearly rising frequency, in float32. So the error does not grow with duration (a
  10-minute tone is as accurate as a 1-second one);
* the synth works on chunks of frames that stay in cache: ``sin(2 pi k phase)`` for the chunk's
  samples and harmonics, then one batched matmul per frame with the two frames' amplitudes
  (linear crossfade), instead of upsampling ``[n_samples, n_harmonics]`` amplitude tensors;
* everything is plain torch, differentiable w.r.t. f0, amplitude and the harmonic distribution.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from midi_ddsp.dsp.blocks import NOISE_BLOCK_SAMPLES, noise_block
from midi_ddsp.dsp.core import _as_tensor, _check_positive_int, get_controls
from midi_ddsp.errors import ParameterError

__all__ = [
    "harmonic_synth",
    "filtered_noise",
    "frequency_impulse_response",
    "white_noise",
]

_SYNTH_CHUNK_ELEMENTS = 1 << 19
"""Samples x harmonics computed at once by the harmonic synth (~2 MB of float32: fits in cache)."""



def _resolve_n_samples(n_frames: int, n_samples: int | None, sample_rate: int,
                       frame_rate: int) -> tuple[int, int]:
    sample_rate = _check_positive_int(sample_rate, "sample_rate")
    frame_rate = _check_positive_int(frame_rate, "frame_rate")
    if n_samples is None:
        if sample_rate % frame_rate:
            raise ParameterError(
                f"frame_rate ({frame_rate}) must divide sample_rate ({sample_rate}) when n_samples "
                "is not given")
        n_samples = n_frames * (sample_rate // frame_rate)
    n_samples = _check_positive_int(n_samples, "n_samples")
    if n_frames <= 0 or n_samples % n_frames:
        raise ParameterError(f"n_samples ({n_samples}) must be a positive multiple of n_frames "
                             f"({n_frames})")
    return n_samples, n_samples // n_frames


# ---------------------------------------------------------------------------------------------
# harmonic synth
# ---------------------------------------------------------------------------------------------
def _harmonic_intervals(f0_hz: torch.Tensor, harmonic_amplitudes: torch.Tensor, *, hop: int,
                        sample_rate: int, phase0_cycles: torch.Tensor,
                        max_hz: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Core of the harmonic synth over ``n = n_points - 1`` frame intervals.

    Args:
        f0_hz: [batch, n_points] f0 at the interval end points (frame instants).
        harmonic_amplitudes: [batch, n_points, n_harmonics] linear amplitude of every harmonic
            (amplitude * normalised distribution) at the end points.
        phase0_cycles: [batch] float64 phase (cycles) at the first point.
        max_hz: harmonics reaching this frequency are silent; default ``sample_rate / 2``.

    Returns:
        audio [batch, (n_points - 1) * hop] and the phase (cycles, float64, [batch]) at the last
        point.
    """
    batch, n_points, n_harm = harmonic_amplitudes.shape
    n_int = n_points - 1
    dtype, device = harmonic_amplitudes.dtype, harmonic_amplitudes.device
    f_a, f_b = f0_hz[:, :-1], f0_hz[:, 1:]
    # exact phase increment of each interval (cycles), accumulated in float64
    inc = (hop * f_a.double() + (f_b - f_a).double() * ((hop - 1) / 2.0)) / sample_rate
    cum = torch.cumsum(inc, dim=1)
    starts = torch.remainder(phase0_cycles[:, None] + cum - inc, 1.0).to(dtype)  # [B, n_int]
    final_phase = torch.remainder(phase0_cycles + cum[:, -1], 1.0).detach()
    # harmonics reaching max_hz (Nyquist) anywhere in an interval are silent in that interval
    max_hz = sample_rate / 2.0 if max_hz is None else min(float(max_hz), sample_rate / 2.0)
    k = torch.arange(1, n_harm + 1, dtype=dtype, device=device)
    f_max = torch.maximum(f_a, f_b)
    audible = (f_max[..., None] * k < max_hz).to(dtype)  # [B, n_int, K]
    coeff = torch.stack([harmonic_amplitudes[:, :-1] * audible,
                         harmonic_amplitudes[:, 1:] * audible], dim=-1)  # [B, n_int, K, 2]
    n = torch.arange(hop, dtype=dtype, device=device)
    ramp = n / hop
    quad = n * (n - 1) / (2.0 * hop)
    two_pi_k = k * (2.0 * math.pi)
    def intervals(starts, fa, fb, coeff):   # [B, C] (x2, +K x 2) -> [B, C * hop]
        fa, fb = fa[..., None], fb[..., None]
        phase = starts[..., None] + (n * fa + (fb - fa) * quad) / sample_rate  # [B, C, hop]
        phase = phase - torch.floor(phase).detach()
        basis = torch.sin(phase[..., None] * two_pi_k)  # [B, C, hop, K]
        ends = basis @ coeff  # [B, C, hop, 2]
        return (ends[..., 0] + ramp * (ends[..., 1] - ends[..., 0])).reshape(batch, -1)

    chunk = max(1, _SYNTH_CHUNK_ELEMENTS // (hop * n_harm))
    if n_int <= chunk:   # one piece: also the shape-free path a traced graph records
        return intervals(starts, f_a, f_b, coeff), final_phase
    pieces = [intervals(starts[:, c0:c0 + chunk], f_a[:, c0:c0 + chunk], f_b[:, c0:c0 + chunk],
                        coeff[:, c0:c0 + chunk]) for c0 in range(0, n_int, chunk)]
    return torch.cat(pieces, dim=1), final_phase


def _validate_harmonic_inputs(f0_hz: Any, amplitude: Any, harmonic_distribution: Any
                              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    f0 = _as_tensor(f0_hz, "f0_hz", ndims=(2,))
    amp = _as_tensor(amplitude, "amplitude", ndims=(2, 3))
    if amp.ndim == 3:
        if amp.shape[-1] != 1:
            raise ParameterError(f"amplitude: expected [batch, n_frames] or [batch, n_frames, 1], "
                                 f"got {tuple(amp.shape)}")
        amp = amp[..., 0]
    dist = _as_tensor(harmonic_distribution, "harmonic_distribution", ndims=(3,))
    if f0.shape != amp.shape or dist.shape[:2] != f0.shape:
        raise ParameterError(
            "expected f0_hz [batch, n_frames], amplitude [batch, n_frames], harmonic_distribution "
            f"[batch, n_frames, n_harmonics]; got {tuple(f0.shape)}, {tuple(amp.shape)}, "
            f"{tuple(dist.shape)}")
    if f0.shape[1] == 0:
        raise ParameterError("f0_hz: expected at least one frame")
    if bool((f0.detach() < 0).any()):
        raise ParameterError("f0_hz: expected frequencies >= 0 Hz")
    return f0, amp, dist


def _initial_phase_cycles(initial_phase: Any, batch: int, device: torch.device) -> torch.Tensor:
    if initial_phase is None:
        return torch.zeros(batch, dtype=torch.float64, device=device)
    phase = torch.as_tensor(initial_phase, dtype=torch.float64, device=device).detach()
    if phase.ndim == 0:
        phase = phase.expand(batch)
    if phase.shape != (batch,):
        raise ParameterError(f"initial_phase: expected a scalar or shape [{batch}], got "
                             f"{tuple(phase.shape)}")
    return torch.remainder(phase / (2.0 * math.pi), 1.0)


def harmonic_synth(f0_hz: Any, amplitude: Any, harmonic_distribution: Any, *,
                   n_samples: int | None = None, sample_rate: int = 16000, frame_rate: int = 250,
                   initial_phase: Any = None) -> torch.Tensor:
    """Additive synthesis of harmonics 1..n_harmonics of a time-varying f0.

    ``audio[s] = amplitude(s) * sum_k h_k(s) * sin(k * phi(s))`` with ``phi(0) = initial_phase``
    and ``d phi / ds = 2 pi f0(s) / sample_rate``; f0, amplitude and the harmonic amplitudes are
    interpolated linearly between frames.

    Nyquist: the distribution is renormalised **per frame**: harmonics with ``k * f0 >=
    sample_rate / 2`` at that frame are removed and the rest rescaled to sum 1
    (:func:`midi_ddsp.dsp.core.get_controls`). In addition, within each frame interval a harmonic
    is silenced if it reaches Nyquist at either end of the interval (no renormalisation for this
    edge case), so no component ever lies at or above Nyquist.

    Args:
        f0_hz: fundamental frequency in Hz, >= 0, shape [batch, n_frames].
        amplitude: overall linear amplitude, >= 0, shape [batch, n_frames] (or
            [batch, n_frames, 1]).
        harmonic_distribution: relative harmonic amplitudes, >= 0, shape
            [batch, n_frames, n_harmonics] (normalised here).
        n_samples: output length, a multiple of n_frames; default
            n_frames * sample_rate // frame_rate.
        sample_rate: output sample rate in Hz (a parameter of rendering, not of the model).
        frame_rate: control frame rate in Hz (used only when ``n_samples`` is None).
        initial_phase: phase of the fundamental at sample 0 in radians, scalar or shape [batch];
            default 0 (every harmonic starts as sin(0)).

    Returns:
        audio, shape [batch, n_samples], float32.
    """
    f0, amp, dist = _validate_harmonic_inputs(f0_hz, amplitude, harmonic_distribution)
    n_samples, hop = _resolve_n_samples(f0.shape[1], n_samples, sample_rate, frame_rate)
    controls = get_controls(f0, amp, dist, sample_rate=sample_rate)
    harm_amps = amp[..., None] * controls.harmonic_distribution
    # hold the last frame for the final interval
    f0_ext = torch.cat([f0, f0[:, -1:]], dim=1)
    amps_ext = torch.cat([harm_amps, harm_amps[:, -1:]], dim=1)
    phase0 = _initial_phase_cycles(initial_phase, f0.shape[0], f0.device)
    audio, _ = _harmonic_intervals(f0_ext, amps_ext, hop=hop, sample_rate=sample_rate,
                                   phase0_cycles=phase0)
    return audio


# ---------------------------------------------------------------------------------------------
# filtered noise
# ---------------------------------------------------------------------------------------------
def white_noise(batch: int, n_samples: int, *, seed: int | None = None,
                generator: torch.Generator | None = None, sample_offset: int = 0,
                device: torch.device | str | None = None) -> torch.Tensor:
    """Uniform white noise in [-1, 1), shape [batch, n_samples].

    With an integer ``seed`` the noise is drawn in blocks of 16384 samples, block ``b`` of batch row
    ``r`` from a generator seeded by (seed, r, b), so samples ``[sample_offset, sample_offset +
    n_samples)`` are the same whatever the chunking of a render, and row ``r`` does not depend on
    the batch size (rows differ from each other). Otherwise ``generator`` (or torch's global
    generator when None) is used directly.
    """
    batch = _check_positive_int(batch, "batch")
    n_samples = _check_positive_int(n_samples, "n_samples")
    if seed is None:
        return torch.rand(batch, n_samples, generator=generator, device=device) * 2.0 - 1.0
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ParameterError(f"seed: expected an integer or None, got {seed!r}")
    if sample_offset < 0:
        raise ParameterError(f"sample_offset: expected >= 0, got {sample_offset}")
    block = NOISE_BLOCK_SAMPLES
    first, last = sample_offset // block, (sample_offset + n_samples - 1) // block
    rows = []
    for row in range(batch):
        rows.append(torch.cat([torch.from_numpy(noise_block(int(seed), row, block))
                               for block in range(first, last + 1)]))
    noise = torch.stack(rows)
    start = sample_offset - first * block
    return (noise[:, start:start + n_samples] * 2.0 - 1.0).to(device)


def frequency_impulse_response(magnitudes: Any) -> torch.Tensor:
    """Linear-phase FIR filter from band magnitudes (ddsp's frequency sampling method).

    ``irfft`` of the (real, zero-phase) magnitudes, shifted to be centred (causal, delay
    ``ir_size // 2``) and tapered with a periodic Hann window.

    Args:
        magnitudes: linear magnitudes of ``n_bands`` bands evenly spaced from 0 Hz to Nyquist,
            shape [..., n_bands].

    Returns:
        impulse responses, shape [..., 2 * (n_bands - 1)], centre tap at index n_bands - 1.
    """
    mags = _as_tensor(magnitudes, "magnitudes")
    if mags.ndim < 1 or mags.shape[-1] < 2:
        raise ParameterError(f"magnitudes: expected [..., n_bands >= 2], got {tuple(mags.shape)}")
    ir_size = 2 * (mags.shape[-1] - 1)
    ir = torch.fft.irfft(mags.to(torch.complex64), n=ir_size)
    ir = torch.roll(ir, shifts=ir_size // 2, dims=-1)
    window = torch.hann_window(ir_size, dtype=ir.dtype, device=ir.device)
    return ir * window


def _filter_noise(noise: torch.Tensor, magnitudes: torch.Tensor, hop: int) -> torch.Tensor:
    """Filter [B, T*hop] noise frame by frame with the FIRs of magnitudes [B, T, F] (overlap-add).

    Output sample s is aligned with input sample s (the FIR delay is compensated).
    """
    batch = magnitudes.shape[0]
    ir = frequency_impulse_response(magnitudes)  # [B, T, L]
    ir_size = int(ir.shape[-1])   # a model constant (also in a traced graph)
    conv_len = hop + ir_size - 1
    n_fft = 1 << (conv_len - 1).bit_length()
    frames = noise.reshape(batch, -1, hop)
    spec = torch.fft.rfft(frames, n=n_fft) * torch.fft.rfft(ir, n=n_fft)
    pieces = torch.fft.irfft(spec, n=n_fft)[..., :conv_len]  # [B, T, conv_len]
    # overlap-add: piece t starts at t * hop and spans `span` hops (pads and sums only, so the
    # lengths stay free in a traced graph)
    span = -(-conv_len // hop)
    parts = torch.nn.functional.pad(pieces, (0, span * hop - conv_len)).reshape(batch, -1, span, hop)
    out = sum(torch.nn.functional.pad(parts[:, :, j], (0, 0, j, span - 1 - j)) for j in range(span))
    out = out.reshape(batch, -1)   # [B, (T + span - 1) * hop]
    delay = ir_size // 2
    cut = (span - 1) * hop - delay   # >= 0: the tail past the last frame
    return out[:, delay:-cut] if cut else out[:, delay:]


def filtered_noise(noise_magnitudes: Any, *, n_samples: int | None = None,
                   sample_rate: int = 16000, frame_rate: int = 250, seed: int | None = None,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Uniform noise filtered by a time-varying linear-phase FIR (one filter per frame).

    The bands are evenly spaced from 0 Hz to Nyquist at ``sample_rate``; frame ``i``'s filter is
    applied to samples ``[i * hop, (i + 1) * hop)`` and its tail overlap-adds into the next frames.

    Args:
        noise_magnitudes: linear band magnitudes, >= 0, shape [batch, n_frames, n_bands] (65 bands
            -> 128-tap FIRs).
        n_samples: output length, a multiple of n_frames; default
            n_frames * sample_rate // frame_rate.
        seed: integer seed (chunk-invariant, see :func:`white_noise`); None uses ``generator``
            or torch's global generator.

    Returns:
        audio, shape [batch, n_samples], float32.
    """
    mags = _as_tensor(noise_magnitudes, "noise_magnitudes", ndims=(3,))
    n_samples, hop = _resolve_n_samples(mags.shape[1], n_samples, sample_rate, frame_rate)
    noise = white_noise(mags.shape[0], n_samples, seed=seed, generator=generator,
                        device=mags.device)
    return _filter_noise(noise, mags, hop)
