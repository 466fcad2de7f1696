"""Synthesis Generator: notes + six note expressions + instrument -> frame-level SynthParams.

Non-autoregressive and frame-parallel (DESIGN §5): a stack of conditioned dilated 1-D
convolutions sees the whole part at once; stochastic detail comes from a seeded Gaussian noise
input, so a seed reproduces a render. Inputs per frame: the note conditioning of
``features.note_frame_features`` (held pitch, note flags, position, length, time since onset and
to offset), the six expressions broadcast over each note (``expressions_to_frames``, rests 0),
the instrument embedding (a blend is the weighted mix of rows) and the noise. Outputs per frame:
f0 deviation from the written pitch (semitones, |dev| < 4), harmonic amplitude (dB), harmonic
distribution (softmax over 60, then harmonics at or above the 8 kHz Nyquist removed and the rest
renormalised: ``midi_ddsp.dsp.get_controls``, so the distribution is what the synth plays) and
noise-band magnitudes (dB); see ``layers`` for the ranges. ``impulse_response`` gives a parametric
room (``midi_ddsp.dsp.room_impulse_response``); no reverb is learned.
"""
from __future__ import annotations

import dataclasses
import logging
import math

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from midi_ddsp.config import DEFAULT_SIGNAL_CONFIG, SignalConfig, config_from_dict
from midi_ddsp.errors import ParameterError
from midi_ddsp.expression import EXPRESSION_NAMES, validate_note_table
from midi_ddsp.expression.note_expressions import NoteExpressions
from midi_ddsp.instruments import InstrumentSpec, instrument_weights
from midi_ddsp.models.checkpoint import CheckpointMixin, register_model
from midi_ddsp.dsp.units import midi_to_hz
from midi_ddsp.dsp.rooms import DEFAULT_REVERB
from midi_ddsp.models.features import (N_NOTE_FRAME_FEATURES, PITCH_CENTER, PITCH_SCALE,
                                       default_n_frames, note_frame_features)
from midi_ddsp.models.controls import (
    amp_db_from_logits,
    f0_dev_from_logits,
    harmonic_distribution_from_logits,
    noise_db_from_logits,
    synth_params_from_controls,
)
from midi_ddsp.models.sampling import DEFAULT_CHUNK_FRAMES, chunk_windows, synthesis_noise
from midi_ddsp.models.layers import (
    ConditionedDilatedStack,
    InstrumentEmbedding,
    ignore_legacy_reverb_state,
    instrument_impulse_response,
)
from midi_ddsp.synth_params import SynthParams

__all__ = ["SynthesisGeneratorConfig", "SynthesisGenerator", "DEFAULT_CHUNK_FRAMES",
           "controls_from_outputs"]

logger = logging.getLogger(__name__)



@dataclasses.dataclass(frozen=True)
class SynthesisGeneratorConfig:
    """Hyper-parameters of the Synthesis Generator.

    Attributes:
        channels: width of the convolution stack.
        dilations: dilation of each residual block (kernel 3); the receptive field is
            1 + 2 * sum(dilations) frames.
        embedding_dim: instrument embedding size.
        n_noise: channels of the seeded Gaussian noise input.
        expression_gain: the expressions are multiplied by this before entering the network.
        frame_stride: the residual stack runs at frame_rate / frame_stride (its inputs are
            average-pooled over frame_stride frames; its output is linearly interpolated back
            to the full rate, where the head also sees the full-rate conditioning so note
            boundaries stay sharp). 1 = the whole stack at the full frame rate (the original
            architecture); dilations then count low-rate frames.
        head_channels: hidden width of the full-rate head; 0 = ``channels``.
        head_kernel: kernel size (odd) of the head's first convolution; 1 = per frame.
        head_layers: hidden layers of the head (each a convolution + GELU).
        causal: the causal variant for live playing (``midi_ddsp.streaming``): the stack
            looks only at past frames and the note conditioning holds only what is known so far
            (``features.causal_note_frame_features``: no note length, position or time to the
            offset). Needs frame_stride 1 and head_kernel 1.
        vibrato_rate_input: the NoteTable's optional ``vibrato_rate`` (Hz) tunes each note's
            vibrato oscillators (``features.note_frame_features``); parts without rates play
            ``DEFAULT_VIBRATO_RATE_HZ``. Not with ``causal``.

    The defaults of the last six fields reproduce the original architecture, so checkpoints
    whose config predates them load unchanged. ``fast()`` is the ~6x cheaper variant,
    ``streaming()`` the causal one.
    """

    channels: int = 96
    dilations: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 1, 2, 4, 8, 16)
    embedding_dim: int = 16
    n_noise: int = 4
    expression_gain: float = 2.0
    frame_stride: int = 1
    head_channels: int = 0
    head_kernel: int = 1
    head_layers: int = 1
    causal: bool = False
    vibrato_rate_input: bool = False

    def __post_init__(self):
        for name in ("channels", "embedding_dim", "n_noise", "frame_stride", "head_kernel",
                     "head_layers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ParameterError(f"SynthesisGeneratorConfig.{name} must be an int >= 1; "
                                     f"got {value!r}")
        if isinstance(self.head_channels, bool) or not isinstance(self.head_channels, (int, np.integer)) \
                or self.head_channels < 0:
            raise ParameterError("SynthesisGeneratorConfig.head_channels must be an int >= 0; "
                                 f"got {self.head_channels!r}")
        if self.head_kernel % 2 != 1:
            raise ParameterError(f"SynthesisGeneratorConfig.head_kernel must be odd; "
                                 f"got {self.head_kernel}")
        if self.causal and self.vibrato_rate_input:
            raise ParameterError("SynthesisGeneratorConfig.vibrato_rate_input does not work with "
                                 "causal=True (a live note's rate is not known)")
        if self.causal and (self.frame_stride != 1 or self.head_kernel != 1):
            raise ParameterError("SynthesisGeneratorConfig.causal needs frame_stride=1 and "
                                 f"head_kernel=1; got {self.frame_stride} and {self.head_kernel}")

    @classmethod
    def fast(cls) -> "SynthesisGeneratorConfig":
        """The fast variant: the residual stack at 62.5 Hz (stride 4, 80 channels, 10 blocks,
        receptive radius ~1.3 s) and a light two-layer full-rate head (kernel 3, 64 channels);
        about 5x fewer multiply-adds per frame and ~8x faster than the default."""
        return cls(channels=80, dilations=(1, 2, 4, 8, 16, 32, 1, 2, 4, 8), frame_stride=4,
                   head_channels=64, head_kernel=3, head_layers=2)

    @classmethod
    def streaming(cls) -> "SynthesisGeneratorConfig":
        """The causal variant for live playing: 64 channels, 13 causal blocks (each output
        frame sees the last 1.5 s), a one-frame head."""
        return cls(channels=64, dilations=(1, 2, 4, 8, 16, 32, 64, 1, 2, 4, 8, 16, 32),
                   causal=True)

    @classmethod
    def tiny(cls) -> "SynthesisGeneratorConfig":
        """A few thousand parameters: builds and trains in seconds (tests)."""
        return cls(channels=16, dilations=(1, 2, 4), embedding_dim=4, n_noise=2)

    @classmethod
    def from_dict(cls, values: dict) -> "SynthesisGeneratorConfig":
        return config_from_dict(cls, values)


@register_model
class SynthesisGenerator(CheckpointMixin, nn.Module):
    """Frame-parallel generator of SynthParams from a NoteTable (see module docstring)."""

    kind = "synthesis_generator"
    config_class = SynthesisGeneratorConfig

    def __init__(self, config: "SynthesisGeneratorConfig | None" = None, *,
                 signal_config: SignalConfig = DEFAULT_SIGNAL_CONFIG):
        super().__init__()
        self.config = config or SynthesisGeneratorConfig()
        self.signal_config = signal_config
        self.model_card: dict = {}
        c = self.config
        n_expr = len(EXPRESSION_NAMES)
        cond_channels = N_NOTE_FRAME_FEATURES + n_expr + c.embedding_dim
        self.embedding = InstrumentEmbedding(c.embedding_dim)
        self.stack = ConditionedDilatedStack(cond_channels + c.n_noise, cond_channels,
                                             channels=c.channels, dilations=tuple(c.dilations),
                                             causal=bool(c.causal))
        self.n_outputs = 2 + signal_config.n_harmonics + signal_config.n_noise_bands
        head_channels = c.head_channels or c.channels
        head: list[nn.Module] = [nn.Conv1d(c.channels + cond_channels, head_channels, c.head_kernel,
                                           padding=c.head_kernel // 2), nn.GELU()]
        for _ in range(c.head_layers - 1):
            head += [nn.Conv1d(head_channels, head_channels, 1), nn.GELU()]
        self.head = nn.Sequential(*head, nn.Conv1d(head_channels, self.n_outputs, 1))
        ignore_legacy_reverb_state(self)  # older checkpoints hold an (untrained) reverb bank

    # ------------------------------------------------------------------------------------------
    def forward(self, note_features: torch.Tensor, expressions: torch.Tensor,
                instrument_weights: torch.Tensor, noise: torch.Tensor) -> dict:
        """Network outputs as controls.

        Args:
            note_features: [batch, n_frames, 14] from ``note_frame_features``.
            expressions: [batch, n_frames, 6] from ``expressions_to_frames`` (rests 0).
            instrument_weights: [batch, 13] blend weights (rows sum to 1).
            noise: [batch, n_frames, n_noise] standard Gaussian.

        Returns:
            dict of ``f0_dev`` (semitones, [batch, n_frames]), ``f0_hz`` (held pitch of
            ``note_features`` + f0_dev, Hz, [batch, n_frames]), ``amp_db`` ([batch, n_frames]),
            ``harmonic_distribution`` ([batch, n_frames, 60]: ``get_controls`` at the model
            rate, rows sum to 1), ``harmonic_logits`` (same shape, before softmax) and
            ``noise_db`` ([batch, n_frames, 65]).
        """
        n_frames = note_features.shape[1]
        emb = self.embedding(instrument_weights)[:, :, None].expand(-1, -1, n_frames)
        cond = torch.cat([note_features.transpose(1, 2),
                          self.config.expression_gain * expressions.transpose(1, 2), emb], dim=1)
        stride = int(self.config.frame_stride)
        if stride == 1:
            h = self.stack(torch.cat([cond, noise.transpose(1, 2)], dim=1), cond)
        else:
            # low-rate stack: zero-pad to a whole number of low-rate frames (zeros = rest),
            # average-pool (noise rescaled to unit variance), interpolate back (centred frames)
            pad = (-n_frames) % stride
            x = F.pad(torch.cat([cond, noise.transpose(1, 2) * math.sqrt(stride)], dim=1), (0, pad))
            x_low = F.avg_pool1d(x, stride, stride)
            h_low = self.stack(x_low, x_low[:, :cond.shape[1]])
            h = F.interpolate(h_low, scale_factor=stride, mode="linear",
                              align_corners=False)[:, :, :n_frames]
        out = self.head(torch.cat([h, cond], dim=1)).transpose(1, 2)   # [B, T, n_outputs]
        return controls_from_outputs(out, note_features[..., 0], signal_config=self.signal_config)

    # ------------------------------------------------------------------------------------------
    @property
    def receptive_radius(self) -> int:
        """Frames on each side that can influence one output frame (an upper bound): the sum of
        dilations at stride 1 (causal: twice that, all on the left); with a stride, stride * (sum of dilations + 2) for the pooling
        and interpolation; plus the head kernel's radius."""
        c = self.config
        radius = int(sum(c.dilations))
        if c.causal:
            return 2 * radius   # all of it on the left (the causal stack's kernel-3 taps)
        if c.frame_stride > 1:
            radius = int(c.frame_stride) * (radius + 2)
        return radius + int(c.head_kernel) // 2

    def generate(self, note_table: pd.DataFrame, instrument: InstrumentSpec, *, seed: int = 0,
                 n_frames: "int | None" = None,
                 chunk_frames: int = DEFAULT_CHUNK_FRAMES) -> SynthParams:
        """SynthParams of one part from its NoteTable, in one frame-parallel pass.

        Args:
            note_table: NoteTable (``midi_ddsp.expression``) of one monophonic part, or a CSV path.
            instrument: a name/alias, an ``Instrument`` or a blend ``{name: weight}``.
            seed: seed of the noise input (``midi_ddsp.models.sampling.synthesis_noise``); the
                same seed gives the same output.
            n_frames: number of frames; default the last note's stop frame plus
                ``midi_ddsp.config.RELEASE_TAIL_S`` of release.
            chunk_frames: long parts run in chunks of this many frames (plus the receptive
                radius of context on each side), so memory stays flat; the result does not
                depend on it (up to float rounding).

        Returns:
            SynthParams with f0_hz = midi_to_hz(held written pitch + deviation) [n_frames],
            amplitude [n_frames], harmonic_distribution [n_frames, 60], noise_magnitudes
            [n_frames, 65] (linear).
        """
        table = validate_note_table(note_table)
        return self.generate_from_expressions(NoteExpressions.from_note_table(table), instrument,
                                              seed=seed, n_frames=n_frames,
                                              chunk_frames=chunk_frames)

    def generate_from_expressions(self, part: NoteExpressions, instrument: InstrumentSpec, *,
                                  seed: int = 0, n_frames: "int | None" = None,
                                  chunk_frames: int = DEFAULT_CHUNK_FRAMES) -> SynthParams:
        """``generate`` on a part's notes and expressions as arrays (``NoteExpressions``)."""
        notes = part.notes
        weights = instrument_weights(instrument)
        frame_rate = self.signal_config.frame_rate
        n_frames = default_n_frames(notes, n_frames, frame_rate=frame_rate)
        feats, held = note_frame_features(notes, n_frames=n_frames, frame_rate=frame_rate,
                                          causal=self.config.causal,
                                          vibrato_rates=part.vibrato_rates()
                                          if self.config.vibrato_rate_input else None)
        expr = part.frames(n_frames=n_frames, frame_rate=frame_rate)
        noise = synthesis_noise(seed, n_frames, self.config.n_noise)
        windows = chunk_windows(n_frames, chunk_frames=chunk_frames, context=self.receptive_radius,
                                stride=int(self.config.frame_stride))
        device = next(self.parameters()).device
        feats_t, expr_t, noise_t = (torch.from_numpy(x)[None].to(device)
                                    for x in (feats, expr, noise))
        weights_t = torch.from_numpy(weights)[None].to(device)
        pieces: dict[str, list] = {}
        with torch.inference_mode():
            for a, b, lo, hi in windows:
                out = self.forward(feats_t[:, lo:hi], expr_t[:, lo:hi], weights_t, noise_t[:, lo:hi])
                for key, value in out.items():
                    pieces.setdefault(key, []).append(value[:, a - lo:b - lo])
        out = {key: torch.cat(values, dim=1) for key, values in pieces.items()}
        return synthesis_generator_params(out, held)

    def impulse_response(self, instrument: InstrumentSpec, *,
                         reverb: object = DEFAULT_REVERB) -> np.ndarray:
        """Full reverb IR at the model rate, float32 [reverb_length] (tap 0 = 1, the dry path,
        then the wet tail; ``render_synth_params(impulse_response=...)`` form): the parametric
        room ``reverb`` (``"room"``, ``"hall"``, ``"dry"``), the same for every instrument."""
        return instrument_impulse_response(instrument,
                                           sample_rate=self.signal_config.sample_rate,
                                           n_taps=self.signal_config.reverb_length,
                                           reverb=reverb)

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def controls_from_outputs(out: torch.Tensor, pitch_feature: torch.Tensor, *,
                          signal_config: SignalConfig) -> dict:
    """The controls of the Synthesis Generator's raw outputs (``forward``'s dict).

    Args:
        out: [batch, n_frames, 2 + n_harmonics + n_noise_bands]: f0 deviation, amplitude,
            harmonic logits and noise logits.
        pitch_feature: [batch, n_frames], the held-pitch feature (pitch - 60) / 24.
    """
    k = signal_config.n_harmonics
    logits = out[..., 2:2 + k]
    f0_dev = f0_dev_from_logits(out[..., 0])
    f0_hz = midi_to_hz(PITCH_CENTER + PITCH_SCALE * pitch_feature + f0_dev)
    return {
        "f0_dev": f0_dev,
        "f0_hz": f0_hz,
        "amp_db": amp_db_from_logits(out[..., 1]),
        "harmonic_logits": logits,
        "harmonic_distribution": harmonic_distribution_from_logits(
            logits, f0_hz, sample_rate=signal_config.sample_rate),
        "noise_db": noise_db_from_logits(out[..., 2 + k:]),
    }


def synthesis_generator_params(out: dict, held_pitch: np.ndarray, *, index: int = 0) -> SynthParams:
    """SynthParams of batch row ``index`` of ``SynthesisGenerator.forward``: f0 is the held
    written pitch [T] (MIDI) plus the deviation, computed in float64."""
    dev = out["f0_dev"][index].detach().cpu().numpy().astype(np.float64)
    return synth_params_from_controls(out, midi_to_hz(held_pitch[:dev.shape[0]] + dev), index=index)
