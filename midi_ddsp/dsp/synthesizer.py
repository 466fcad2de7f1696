"""The DDSP synthesizer: ``audio = reverb(harmonic + noise)`` from frame-level controls.

Long inputs render in chunks of frames (phase carried across chunks in float64, noise drawn
chunk-invariantly from the seed, filtered-noise tails overlapping), so memory stays flat apart from
the output itself and a chunked render equals an unchunked one.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from midi_ddsp.config import DEFAULT_SIGNAL_CONFIG, SignalConfig
from midi_ddsp.dsp.core import _as_tensor, _check_positive_int, normalize_harmonics
from midi_ddsp.dsp.effects import Reverb, apply_reverb
from midi_ddsp.dsp.synths import (
    _filter_noise,
    _harmonic_intervals,
    _initial_phase_cycles,
    _validate_harmonic_inputs,
    white_noise,
)
from midi_ddsp.errors import ParameterError
from midi_ddsp.synth_params import SynthParams

__all__ = ["DEFAULT_CHUNK_FRAMES", "DDSPSynthesizer", "render_synth_params"]

DEFAULT_CHUNK_FRAMES = 2500
"""Frames rendered per chunk (10 s at 250 Hz) when an input is longer than that."""

_NOISE_CONTEXT_FRAMES = 2  # a 128-tap FIR reaches at most one hop before/after its frame


class DDSPSynthesizer(nn.Module):
    """Harmonic + filtered noise, then reverb. Signal flow is :meth:`forward`.

    Args:
        config: signal conventions (sample rate of training, frame rate, sizes).
        reverb: optional learned :class:`Reverb` (per-instrument IR bank); used when ``forward``
            gets no explicit ``impulse_response``.
    """

    def __init__(self, config: SignalConfig = DEFAULT_SIGNAL_CONFIG, *,
                 reverb: Reverb | None = None) -> None:
        super().__init__()
        self.config = config
        self.reverb = reverb

    def forward(self, f0_hz: Any, amplitude: Any, harmonic_distribution: Any,
                noise_magnitudes: Any, *, impulse_response: Any = None,
                instrument_ids: Any = None, instrument_weights: Any = None,
                seed: int | None = None, sample_rate: int | None = None,
                chunk_frames: int | None = None) -> torch.Tensor:
        """Render controls to audio.

        Args:
            f0_hz: Hz, >= 0, shape [batch, n_frames].
            amplitude: linear harmonic amplitude, >= 0, shape [batch, n_frames].
            harmonic_distribution: >= 0, shape [batch, n_frames, n_harmonics] (normalised per
                frame after Nyquist removal).
            noise_magnitudes: linear band magnitudes 0..Nyquist, >= 0, shape
                [batch, n_frames, n_bands].
            impulse_response: full IR (tap 0 = dry gain) [batch, n_taps] or [n_taps], at
                ``sample_rate``; overrides the reverb module. None: use ``self.reverb`` if any
                (with ``instrument_ids`` / ``instrument_weights``), else no reverb.
            seed: noise seed (chunk-invariant); None: torch's global generator.
            sample_rate: output sample rate, default ``config.sample_rate``; must be a multiple
                of the frame rate (hop = sample_rate // frame_rate).
            chunk_frames: frames per chunk; default DEFAULT_CHUNK_FRAMES. Results do not depend
                on it (up to float rounding).

        Returns:
            audio, shape [batch, n_frames * hop], float32 (the reverb tail after the end is cut).
        """
        sample_rate = self.config.sample_rate if sample_rate is None else sample_rate
        sample_rate = _check_positive_int(sample_rate, "sample_rate")
        if sample_rate % self.config.frame_rate:
            raise ParameterError(
                f"sample_rate ({sample_rate}) must be a multiple of the frame rate "
                f"({self.config.frame_rate} Hz); use render_synth_params for other rates")
        hop = sample_rate // self.config.frame_rate
        f0, amp, dist = _validate_harmonic_inputs(f0_hz, amplitude, harmonic_distribution)
        mags = _as_tensor(noise_magnitudes, "noise_magnitudes", ndims=(3,))
        if mags.shape[:2] != f0.shape:
            raise ParameterError(f"noise_magnitudes: expected [batch, n_frames, n_bands] with "
                                 f"[batch, n_frames] = {tuple(f0.shape)}, got {tuple(mags.shape)}")
        chunk = _check_positive_int(DEFAULT_CHUNK_FRAMES if chunk_frames is None else chunk_frames,
                                    "chunk_frames")
        batch, n_frames = f0.shape
        harm_amps = amp[..., None] * normalize_harmonics(dist, f0, sample_rate=sample_rate)
        f0_ext = torch.cat([f0, f0[:, -1:]], dim=1)
        amps_ext = torch.cat([harm_amps, harm_amps[:, -1:]], dim=1)
        phase = _initial_phase_cycles(None, batch, f0.device)
        ctx = _NOISE_CONTEXT_FRAMES
        pieces = []
        for a in range(0, n_frames, chunk):
            b = min(a + chunk, n_frames)
            harmonic, phase = _harmonic_intervals(f0_ext[:, a:b + 1], amps_ext[:, a:b + 1], hop=hop,
                                                  sample_rate=sample_rate, phase0_cycles=phase)
            lo, hi = max(0, a - ctx), min(n_frames, b + ctx)
            noise = white_noise(batch, (hi - lo) * hop, seed=seed, sample_offset=lo * hop,
                                device=mags.device)
            filtered = _filter_noise(noise, mags[:, lo:hi], hop)[:, (a - lo) * hop:(b - lo) * hop]
            pieces.append(harmonic + filtered)
        audio = torch.cat(pieces, dim=1) if len(pieces) > 1 else pieces[0]
        if impulse_response is not None:
            return apply_reverb(audio, impulse_response)
        if self.reverb is not None:
            return self.reverb(audio, instrument_ids=instrument_ids,
                               instrument_weights=instrument_weights)
        return audio


def _resample_ir(ir: np.ndarray, ir_sample_rate: int, sample_rate: int) -> np.ndarray:
    if ir_sample_rate == sample_rate:
        return ir
    from scipy.signal import resample_poly

    g = math.gcd(sample_rate, ir_sample_rate)
    # resample_poly keeps amplitude of tones; a unit tap stays a (band-limited) unit tap
    return resample_poly(ir, sample_rate // g, ir_sample_rate // g).astype(np.float32)


def render_synth_params(params: SynthParams, *, sample_rate: int = 16000,
                        impulse_response: Any = None, ir_sample_rate: int = 16000,
                        seed: int = 0, frame_rate: int = 250) -> np.ndarray:
    """Render one part's :class:`SynthParams` to a mono numpy waveform (no gradients).

    Any ``sample_rate`` works: the frame rate stays ``frame_rate``; when ``sample_rate`` is not a
    multiple of it, the part is rendered at the next multiple and resampled (polyphase).

    Args:
        params: frame controls at ``frame_rate``.
        sample_rate: output sample rate in Hz.
        impulse_response: full reverb IR (tap 0 = dry), shape [n_taps], sampled at
            ``ir_sample_rate`` (resampled if different); None: dry.
        seed: noise seed.

    Returns:
        audio, float32, shape [round(n_frames * sample_rate / frame_rate)].
    """
    if not isinstance(params, SynthParams):
        raise ParameterError(f"params: expected SynthParams, got {type(params).__name__}")
    sample_rate = _check_positive_int(sample_rate, "sample_rate")
    frame_rate = _check_positive_int(frame_rate, "frame_rate")
    render_rate = math.ceil(sample_rate / frame_rate) * frame_rate
    config = SignalConfig(sample_rate=render_rate, frame_rate=frame_rate,
                          n_harmonics=params.harmonic_distribution.shape[1],
                          n_noise_bands=params.noise_magnitudes.shape[1])
    if params.n_frames == 0:
        return np.zeros(0, dtype=np.float32)
    ir = None
    if impulse_response is not None:
        ir = np.asarray(impulse_response, dtype=np.float32)
        if ir.ndim != 1 or ir.size == 0:
            raise ParameterError(f"impulse_response: expected shape [n_taps], got {ir.shape}")
        ir = torch.from_numpy(_resample_ir(ir, ir_sample_rate, render_rate).copy())
    with torch.no_grad():
        audio = DDSPSynthesizer(config)(
            params.f0_hz[None], params.amplitude[None], params.harmonic_distribution[None],
            params.noise_magnitudes[None], impulse_response=ir, seed=seed)[0].numpy()
    if render_rate != sample_rate:
        from scipy.signal import resample_poly

        g = math.gcd(sample_rate, render_rate)
        audio = resample_poly(audio, sample_rate // g, render_rate // g)
        audio = audio[:round(params.n_frames * sample_rate / frame_rate)]
    return audio.astype(np.float32)
