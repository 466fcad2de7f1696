"""The differentiable DDSP synthesizer (torch, for training): ``audio = reverb(harmonic + noise)``
from frame-level controls. Renders go through its numpy twin, ``midi_ddsp.dsp.blocks`` (tested
equal).

Long inputs render in chunks of frames (phase carried across chunks in float64, noise drawn
chunk-invariantly from the seed, filtered-noise tails overlapping), so memory stays flat apart from
the output itself and a chunked render equals an unchunked one.

Other output rates (DESIGN §3): the models run at ``config.sample_rate`` (16 kHz). At any output
rate the harmonics are synthesised exactly at that rate but masked at the model's Nyquist (as
trained); the filtered noise is rendered at the model rate (its bands span 0..8 kHz) and resampled
band-limited; the reverb's dry tap is an exact gain and only its wet tail is resampled. So every
rate renders the same sound below 8 kHz.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from midi_ddsp.config import DEFAULT_SIGNAL_CONFIG, SignalConfig
from midi_ddsp.dsp.core import _as_tensor, _check_positive_int, get_controls
from midi_ddsp.dsp.blocks import resampling_kernel
from midi_ddsp.dsp.effects import apply_reverb
from midi_ddsp.dsp.rooms import reverb_preset, room_impulse_response
from midi_ddsp.dsp.synths import (
    _filter_noise,
    _harmonic_intervals,
    _initial_phase_cycles,
    _validate_harmonic_inputs,
    white_noise,
)
from midi_ddsp.errors import ParameterError

__all__ = ["DEFAULT_CHUNK_FRAMES", "DDSPSynthesizer"]

DEFAULT_CHUNK_FRAMES = 2500
"""Frames rendered per chunk (10 s at 250 Hz) when an input is longer than that."""

_FIR_REACH_FRAMES = 1  # a 128-tap noise FIR reaches at most one hop before/after its frame

def _resample_frames(x: torch.Tensor, kernel: torch.Tensor, reach: int, hop_in: int
                     ) -> torch.Tensor:
    """x [B, n_frames * hop_in + 2 * reach] (``reach`` samples of context on each side) ->
    [B, n_frames * hop_out]."""
    windows = x.unfold(1, hop_in + 2 * reach, hop_in)  # [B, n_frames, hop_in + 2 reach]
    out = windows @ kernel.to(x.device, x.dtype).T  # [B, n_frames, hop_out]
    return out.reshape(x.shape[0], -1)


class DDSPSynthesizer(nn.Module):
    """Harmonic + filtered noise, then reverb. Signal flow is :meth:`forward`.

    Args:
        config: signal conventions of the model (its sample rate, frame rate, sizes).
        reverb: a room preset (``"dry"``, ``"room"``, ``"hall"``, True / False or a
            ``RoomPreset``, see ``midi_ddsp.dsp.rooms``) used when ``forward`` gets no explicit
            ``impulse_response``; default None (dry).
    """

    def __init__(self, config: SignalConfig = DEFAULT_SIGNAL_CONFIG, *,
                 reverb: Any = None) -> None:
        super().__init__()
        self.config = config
        self.reverb = reverb_preset(reverb)

    def forward(self, f0_hz: Any, amplitude: Any, harmonic_distribution: Any,
                noise_magnitudes: Any, *, impulse_response: Any = None,
                seed: int | None = None, sample_rate: int | None = None,
                chunk_frames: int | None = None) -> torch.Tensor:
        """Render controls to audio.

        Args:
            f0_hz: Hz, >= 0, shape [batch, n_frames].
            amplitude: linear harmonic amplitude, >= 0, shape [batch, n_frames].
            harmonic_distribution: >= 0, shape [batch, n_frames, n_harmonics] (``get_controls``
                at the model rate: harmonics at or above its Nyquist removed, renormalised).
            noise_magnitudes: linear magnitudes of bands evenly spaced over 0..Nyquist of the
                model rate, >= 0, shape [batch, n_frames, n_bands].
            impulse_response: full IR (tap 0 = dry gain) [batch, n_taps] or [n_taps], at
                ``sample_rate``; overrides ``self.reverb``.
            seed: noise seed (chunk-invariant); None: torch's global generator.
            sample_rate: output sample rate, default ``config.sample_rate``; must be a multiple
                of the frame rate (hop = sample_rate // frame_rate).
            chunk_frames: frames per chunk; default DEFAULT_CHUNK_FRAMES. Results do not depend
                on it (up to float rounding).

        Returns:
            audio, shape [batch, n_frames * hop], float32 (the reverb tail after the end is cut).
        """
        model_rate = self.config.sample_rate
        sample_rate = model_rate if sample_rate is None else sample_rate
        sample_rate = _check_positive_int(sample_rate, "sample_rate")
        if sample_rate % self.config.frame_rate:
            raise ParameterError(
                f"sample_rate ({sample_rate}) must be a multiple of the frame rate "
                f"({self.config.frame_rate} Hz); use render_synth_params for other rates")
        hop = sample_rate // self.config.frame_rate
        hop_model = self.config.hop_size
        f0, amp, dist = _validate_harmonic_inputs(f0_hz, amplitude, harmonic_distribution)
        mags = _as_tensor(noise_magnitudes, "noise_magnitudes", ndims=(3,))
        if mags.shape[:2] != f0.shape:
            raise ParameterError(f"noise_magnitudes: expected [batch, n_frames, n_bands] with "
                                 f"[batch, n_frames] = {tuple(f0.shape)}, got {tuple(mags.shape)}")
        chunk = _check_positive_int(DEFAULT_CHUNK_FRAMES if chunk_frames is None else chunk_frames,
                                    "chunk_frames")
        batch, n_frames = f0.shape
        # harmonics as trained: removed at the model's Nyquist (and silent above the output's)
        controls = get_controls(f0, amp, dist, sample_rate=model_rate)
        harm_amps = amp[..., None] * controls.harmonic_distribution
        max_hz = min(model_rate, sample_rate) / 2.0
        f0_ext = torch.cat([f0, f0[:, -1:]], dim=1)
        amps_ext = torch.cat([harm_amps, harm_amps[:, -1:]], dim=1)
        phase = _initial_phase_cycles(None, batch, f0.device)
        if hop != hop_model:
            kernel, reach = resampling_kernel(hop_model, hop)
            kernel = torch.from_numpy(kernel.copy())
        else:
            kernel, reach = None, 0
        ctx = _FIR_REACH_FRAMES + int(math.ceil(reach / hop_model))
        pieces = []
        for a in range(0, n_frames, chunk):
            b = min(a + chunk, n_frames)
            harmonic, phase = _harmonic_intervals(f0_ext[:, a:b + 1], amps_ext[:, a:b + 1], hop=hop,
                                                  sample_rate=sample_rate, phase0_cycles=phase,
                                                  max_hz=max_hz)
            # noise at the model rate, exact on [a, b) plus `reach` samples each side
            lo, hi = max(0, a - ctx), min(n_frames, b + ctx)
            noise = white_noise(batch, (hi - lo) * hop_model, seed=seed,
                                sample_offset=lo * hop_model, device=mags.device)
            filtered = _filter_noise(noise, mags[:, lo:hi], hop_model)
            if kernel is None:
                filtered = filtered[:, (a - lo) * hop_model:(b - lo) * hop_model]
            else:
                filtered = torch.nn.functional.pad(filtered, (reach, reach))
                start = (a - lo) * hop_model
                filtered = _resample_frames(
                    filtered[:, start:start + (b - a) * hop_model + 2 * reach], kernel, reach,
                    hop_model)
            pieces.append(harmonic + filtered)
        audio = torch.cat(pieces, dim=1) if len(pieces) > 1 else pieces[0]
        if impulse_response is None and self.reverb.wet_db is not None:
            impulse_response = torch.from_numpy(
                room_impulse_response(self.reverb, sample_rate)).to(audio.device)
        if impulse_response is not None:
            return apply_reverb(audio, impulse_response)
        return audio
