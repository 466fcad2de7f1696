"""DDSP Inference: audio + f0 + loudness + instrument -> SynthParams (the analysis direction).

Inputs per frame: a log-mel spectrogram of the audio (``midi_ddsp.dsp.log_mel``, 64 bands,
FFT 1024, at the frame rate), f0 as (MIDI - 60) / 24 with a voiced flag, loudness in dB / 60 and
the instrument embedding. A conditioned dilated convolution stack predicts the harmonic amplitude
(dB), harmonic distribution (softmax, then ``midi_ddsp.dsp.get_controls``: harmonics at or above
the model's Nyquist removed, renormalised) and noise-band magnitudes (dB); f0 passes through.

With ``measured_features`` (new models) the model also reads what the STFT measures (FFT 2048):
the amplitude heard at each harmonic of f0 (``harmonic_log_amplitudes``) and the noise floor at
each noise band (``noise_floor_log_amplitudes``), and predicts corrections to them: amplitude =
the heard harmonics' sum + 10 dB x its output, harmonic logits = log heard amplitude + output,
noise = the floor (calibrated to the synth) + 10 dB x output. Its head starts at zero, so an
untrained model resynthesises what it measures; training teaches it what measuring gets wrong
(rooms, background noise, pitch errors).

``impulse_response`` gives a parametric room (no reverb is learned).
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import nn

from midi_ddsp.config import DEFAULT_SIGNAL_CONFIG, SignalConfig, config_from_dict
from midi_ddsp.dsp.rooms import DEFAULT_REVERB
from midi_ddsp.dsp.spectral import (NOISE_FLOOR_OFFSET_DB, harmonic_log_amplitudes, log_mel,
                                    noise_floor_log_amplitudes)
from midi_ddsp.dsp.units import hz_to_midi
from midi_ddsp.errors import ParameterError
from midi_ddsp.instruments import InstrumentSpec, instrument_weights
from midi_ddsp.models.checkpoint import CheckpointMixin, register_model
from midi_ddsp.models.features import PITCH_CENTER, PITCH_SCALE
from midi_ddsp.models.controls import (
    CONTROL_RANGES,
    amp_db_from_logits,
    harmonic_distribution_from_logits,
    noise_db_from_logits,
    synth_params_from_controls,
)
from midi_ddsp.models.layers import (
    ConditionedDilatedStack,
    InstrumentEmbedding,
    ignore_legacy_reverb_state,
    instrument_impulse_response,
)
from midi_ddsp.synth_params import SynthParams

__all__ = ["DDSPInferenceConfig", "DDSPInference"]

_LOUDNESS_SCALE_DB = 60.0
_LOG_MEL_OFFSET = 5.0   # log-mel energies (natural log) are shifted/scaled to ~unit range
_LOG_MEL_SCALE = 5.0
_HEARD_FLOOR = 1e-5     # harmonic_log_amplitudes' floor (an inaudible harmonic)
_RESIDUAL_DB = 10.0     # dB per unit of the head's corrections to the measured levels


def _clamp_range(x: torch.Tensor, name: str) -> torch.Tensor:
    r = CONTROL_RANGES[name]
    return x.clamp(r.low, r.high)


@dataclasses.dataclass(frozen=True)
class DDSPInferenceConfig:
    """Hyper-parameters of DDSP Inference.

    Attributes:
        channels: width of the convolution stack.
        dilations: dilation of each residual block (kernel 3).
        embedding_dim: instrument embedding size.
        n_mels: mel bands of the audio features.
        n_fft: FFT size of the mel analysis.
        measured_features: also read the harmonics and the noise floor the STFT measures and
            predict corrections to them (see the module docstring; False in checkpoints from
            before it existed).
    """

    channels: int = 96
    dilations: tuple[int, ...] = (1, 2, 4, 8, 16, 1, 2, 4, 8, 16)
    embedding_dim: int = 16
    n_mels: int = 64
    n_fft: int = 1024
    measured_features: bool = True

    @classmethod
    def tiny(cls) -> "DDSPInferenceConfig":
        return cls(channels=16, dilations=(1, 2), embedding_dim=4, n_mels=16, n_fft=256)

    @classmethod
    def from_dict(cls, values: dict) -> "DDSPInferenceConfig":
        return config_from_dict(cls, {"measured_features": False, **values})


@register_model
class DDSPInference(CheckpointMixin, nn.Module):
    """Audio -> SynthParams estimator (see module docstring)."""

    kind = "ddsp_inference"
    config_class = DDSPInferenceConfig

    def __init__(self, config: "DDSPInferenceConfig | None" = None, *,
                 signal_config: SignalConfig = DEFAULT_SIGNAL_CONFIG):
        super().__init__()
        self.config = config or DDSPInferenceConfig()
        self.signal_config = signal_config
        self.model_card: dict = {}
        c = self.config
        cond_channels = c.n_mels + 3 + c.embedding_dim
        if c.measured_features:
            cond_channels += signal_config.n_harmonics + signal_config.n_noise_bands
        self.embedding = InstrumentEmbedding(c.embedding_dim)
        self.stack = ConditionedDilatedStack(cond_channels, cond_channels, channels=c.channels,
                                             dilations=tuple(c.dilations))
        k, b = signal_config.n_harmonics, signal_config.n_noise_bands
        self.head = nn.Conv1d(c.channels, 1 + k + b, 1)
        if c.measured_features:   # start from what the STFT measures
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)
        ignore_legacy_reverb_state(self)  # older checkpoints hold an (untrained) reverb bank

    def audio_features(self, audio: torch.Tensor, n_frames: int) -> torch.Tensor:
        """Scaled log-mel frames [batch, n_frames, n_mels] of audio [batch, n_samples]."""
        mel = log_mel(audio, sample_rate=self.signal_config.sample_rate,
                      frame_rate=self.signal_config.frame_rate, n_fft=self.config.n_fft,
                      n_mels=self.config.n_mels)
        mel = (mel + _LOG_MEL_OFFSET) / _LOG_MEL_SCALE
        if mel.shape[1] < n_frames:
            mel = torch.nn.functional.pad(mel, (0, 0, 0, n_frames - mel.shape[1]))
        return mel[:, :n_frames]

    def forward(self, audio: torch.Tensor, f0_hz: torch.Tensor, loudness_db: torch.Tensor,
                instrument_weights: torch.Tensor) -> dict:
        """Controls from audio.

        Args:
            audio: [batch, n_samples] at the signal config's sample rate.
            f0_hz: [batch, n_frames] in Hz (0 = unvoiced).
            loudness_db: [batch, n_frames] A-weighted loudness in dB.
            instrument_weights: [batch, 13].

        Returns:
            dict of ``amp_db`` [batch, n_frames], ``harmonic_logits`` and
            ``harmonic_distribution`` [batch, n_frames, 60], ``noise_db`` [batch, n_frames, 65].
        """
        n_frames = f0_hz.shape[1]
        mel = self.audio_features(audio, n_frames)
        voiced = (f0_hz > 0).float()
        midi = hz_to_midi(f0_hz.clamp(min=1.0))
        pitch = voiced * (midi - PITCH_CENTER) / PITCH_SCALE
        emb = self.embedding(instrument_weights)[:, :, None].expand(-1, -1, n_frames)
        features = [mel.transpose(1, 2)]
        if self.config.measured_features:
            heard, noise_floor = self._measured(audio, f0_hz)
            features += [((heard + _LOG_MEL_OFFSET) / _LOG_MEL_SCALE).transpose(1, 2),
                         ((noise_floor + _LOG_MEL_OFFSET) / _LOG_MEL_SCALE).transpose(1, 2)]
        cond = torch.cat([*features, pitch[:, None], voiced[:, None],
                          (loudness_db / _LOUDNESS_SCALE_DB)[:, None], emb], dim=1)
        out = self.head(self.stack(cond, cond)).transpose(1, 2)
        k = self.signal_config.n_harmonics
        logits = out[..., 1:1 + k]
        if self.config.measured_features:
            heard_amp = (torch.exp(heard) - _HEARD_FLOOR).clamp(min=0.0).sum(-1)
            heard_db = 20.0 * torch.log10(heard_amp + 1e-5)
            amp_db = _clamp_range(heard_db + _RESIDUAL_DB * out[..., 0], "amp_db")
            logits = logits + heard
            floor_db = 20.0 / np.log(10.0) * noise_floor + NOISE_FLOOR_OFFSET_DB
            noise_db = _clamp_range(floor_db + _RESIDUAL_DB * out[..., 1 + k:], "noise_db")
        else:
            amp_db = amp_db_from_logits(out[..., 0])
            noise_db = noise_db_from_logits(out[..., 1 + k:])
        return {"amp_db": amp_db, "harmonic_logits": logits,
                "harmonic_distribution": harmonic_distribution_from_logits(
                    logits, f0_hz, sample_rate=self.signal_config.sample_rate),
                "noise_db": noise_db}

    def _measured(self, audio: torch.Tensor, f0_hz: torch.Tensor) -> tuple:
        """(log heard harmonic amplitude [B, T, K], log noise floor [B, T, Nb]) of the audio."""
        signal = self.signal_config
        n_frames = f0_hz.shape[1]
        heard = harmonic_log_amplitudes(audio, f0_hz, n_harmonics=signal.n_harmonics,
                                        sample_rate=signal.sample_rate,
                                        frame_rate=signal.frame_rate, floor=_HEARD_FLOOR)
        floor = noise_floor_log_amplitudes(audio, n_bands=signal.n_noise_bands,
                                           sample_rate=signal.sample_rate,
                                           frame_rate=signal.frame_rate)
        if floor.shape[1] < n_frames:
            floor = torch.nn.functional.pad(floor, (0, 0, 0, n_frames - floor.shape[1]),
                                            value=float(np.log(1e-7)))
        return heard, floor[:, :n_frames]

    def infer(self, audio: np.ndarray, f0_hz: np.ndarray, loudness_db: np.ndarray,
              instrument: InstrumentSpec) -> SynthParams:
        """SynthParams of a mono recording.

        Args:
            audio: mono waveform in [-1, 1], float, shape [n_samples].
            f0_hz: f0 in Hz per frame (0 = unvoiced), shape [n_frames].
            loudness_db: A-weighted loudness in dB per frame, shape [n_frames].
            instrument: a name/alias, an ``Instrument`` or a blend ``{name: weight}``.

        Returns:
            SynthParams with the given f0 and the inferred amplitude, harmonic distribution and
            noise magnitudes, all [n_frames, ...].
        """
        audio = np.asarray(audio, dtype=np.float32)
        f0 = np.asarray(f0_hz, dtype=np.float32)
        loud = np.asarray(loudness_db, dtype=np.float32)
        if audio.ndim != 1 or audio.size == 0:
            raise ParameterError(f"audio must have shape [n_samples] with n_samples > 0; got {audio.shape}")
        if f0.ndim != 1 or loud.shape != f0.shape or f0.size == 0:
            raise ParameterError("f0_hz and loudness_db must both have shape [n_frames], n_frames > 0; "
                                 f"got {f0.shape} and {loud.shape}")
        if not (np.all(np.isfinite(audio)) and np.all(np.isfinite(f0)) and np.all(np.isfinite(loud))):
            raise ParameterError("audio, f0_hz and loudness_db must be finite")
        device = next(self.parameters()).device
        weights = torch.from_numpy(instrument_weights(instrument))[None].to(device)
        with torch.no_grad():
            out = self.forward(torch.from_numpy(audio)[None].to(device),
                               torch.from_numpy(f0)[None].to(device),
                               torch.from_numpy(loud)[None].to(device), weights)
        return synth_params_from_controls(out, np.maximum(f0, 0.0))

    def impulse_response(self, instrument: InstrumentSpec, *,
                         reverb: object = DEFAULT_REVERB) -> np.ndarray:
        """Full reverb IR at the model rate, float32 [reverb_length], tap 0 = 1 (dry): the
        parametric room ``reverb``, the same for every instrument."""
        return instrument_impulse_response(instrument,
                                           sample_rate=self.signal_config.sample_rate,
                                           n_taps=self.signal_config.reverb_length,
                                           reverb=reverb)

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
