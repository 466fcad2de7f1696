"""Frame features of recordings: f0, its confidence and A-weighted loudness at the frame rate.

``compute_features`` resamples the audio to 16 kHz, tracks f0 (CREPE on the shipped weights, or
pYIN; see ``midi_ddsp.crepe``) and measures loudness with
``midi_ddsp.dsp.spectral.a_weighted_loudness_db``. All frame arrays share one length,
``n_frames = n_samples_16k // hop`` (hop = 64 at 16 kHz / 250 Hz), frame ``i`` at the instant
``i / frame_rate`` — the convention of ``analyse_audio`` and the shards.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from midi_ddsp.config import DEFAULT_SIGNAL_CONFIG
from midi_ddsp.crepe import (
    DEFAULT_FMAX_HZ,
    DEFAULT_FMIN_HZ,
    estimate_f0,
    resample_audio,
)
from midi_ddsp.errors import ParameterError

__all__ = [
    "AudioFeatures",
    "DEFAULT_VOICING_THRESHOLD",
    "compute_features",
    "notes_to_frame_pitch",
    "voiced_f0",
]

DEFAULT_VOICING_THRESHOLD = 0.5
"""Frames whose f0 confidence is below this are treated as unvoiced (f0 = 0) for analysis."""


@dataclasses.dataclass
class AudioFeatures:
    """Frame features of one mono recording.

    Attributes:
        audio: the recording resampled to ``sample_rate``, float32, shape [n_samples].
        f0_hz: fundamental frequency in Hz (a best estimate in every frame, > 0), shape [n_frames].
        f0_confidence: 0..1 per frame (CREPE peak activation or pYIN voicing probability),
            shape [n_frames].
        loudness_db: A-weighted loudness in dB re. a full-scale sine, >= -120, shape [n_frames].
        sample_rate: sample rate of ``audio`` in Hz (16 000).
        frame_rate: frames per second (250).
    """

    audio: np.ndarray
    f0_hz: np.ndarray
    f0_confidence: np.ndarray
    loudness_db: np.ndarray
    sample_rate: int = DEFAULT_SIGNAL_CONFIG.sample_rate
    frame_rate: int = DEFAULT_SIGNAL_CONFIG.frame_rate

    @property
    def n_frames(self) -> int:
        return int(self.f0_hz.shape[0])


def compute_features(audio, *, sample_rate: int, f0_method: str = "crepe", model: str = "tiny",
                     frame_rate: int = DEFAULT_SIGNAL_CONFIG.frame_rate, viterbi: bool = False,
                     fmin_hz: float = DEFAULT_FMIN_HZ, fmax_hz: float = DEFAULT_FMAX_HZ
                     ) -> AudioFeatures:
    """f0, f0 confidence and loudness of a mono recording, at 16 kHz / ``frame_rate``.

    Args:
        audio: mono waveform, shape [n_samples], at ``sample_rate``.
        sample_rate: sample rate of ``audio`` in Hz (any; resampled to 16 kHz).
        f0_method: ``"crepe"`` (falls back to pYIN when the weights are missing) or ``"pyin"``.
        model: CREPE size, ``"tiny"`` or ``"full"``.
        frame_rate: frames per second; must divide 16 000.
        viterbi: Viterbi-smooth the CREPE pitch path.
        fmin_hz, fmax_hz: f0 search range in Hz.

    Returns:
        ``AudioFeatures`` with ``n_frames = n_samples_16k // (16000 // frame_rate)``, where
        ``n_samples_16k = n_samples * 16000 // sample_rate``.

    Raises:
        ParameterError: bad audio or options.
    """
    from midi_ddsp.dsp.spectral import a_weighted_loudness_db

    target_rate = DEFAULT_SIGNAL_CONFIG.sample_rate
    if isinstance(frame_rate, bool) or not isinstance(frame_rate, (int, np.integer)) \
            or frame_rate <= 0 or target_rate % frame_rate:
        raise ParameterError(f"frame_rate: expected a positive divisor of {target_rate}, got {frame_rate!r}")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise ParameterError(f"sample_rate: expected a positive integer, got {sample_rate!r}")
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim != 1:
        raise ParameterError(f"audio: expected mono audio of shape [n_samples], got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ParameterError("audio: contains NaN or inf")
    x16 = resample_audio(x, sample_rate=sample_rate, target_rate=target_rate)
    n_frames = x16.shape[0] // (target_rate // frame_rate)
    if n_frames == 0:
        empty = np.zeros(0, np.float32)
        return AudioFeatures(x16, empty, empty.copy(), empty.copy(), target_rate, frame_rate)
    f0, confidence = estimate_f0(x16, sample_rate=target_rate, frame_rate=frame_rate,
                                 method=f0_method, model=model, viterbi=viterbi,
                                 fmin_hz=fmin_hz, fmax_hz=fmax_hz)
    loudness = np.asarray(a_weighted_loudness_db(x16, sample_rate=target_rate,
                                                 frame_rate=frame_rate), np.float32)
    # estimate_f0 counts frame_count(n_samples_16k) = n_samples_16k // hop frames: the same grid
    return AudioFeatures(audio=x16, f0_hz=f0[:n_frames], f0_confidence=confidence[:n_frames],
                         loudness_db=loudness[:n_frames], sample_rate=target_rate,
                         frame_rate=frame_rate)


def voiced_f0(f0_hz, f0_confidence, *, threshold: float = DEFAULT_VOICING_THRESHOLD) -> np.ndarray:
    """f0 with unconfident frames set to 0 (unvoiced), as ``analyse_audio`` expects.

    Args:
        f0_hz: shape [n_frames], Hz.
        f0_confidence: shape [n_frames], 0..1.

    Returns:
        float32, shape [n_frames]: ``f0_hz`` where ``f0_confidence >= threshold``, else 0.
    """
    f0 = np.asarray(f0_hz, np.float32)
    confidence = np.asarray(f0_confidence, np.float32)
    if f0.shape != confidence.shape or f0.ndim != 1:
        raise ParameterError(f"f0_hz and f0_confidence: expected equal shapes [n_frames], got "
                             f"{f0.shape} and {confidence.shape}")
    return np.where(confidence >= threshold, f0, 0.0).astype(np.float32)


def notes_to_frame_pitch(notes, *, n_frames: int, frame_rate: int = DEFAULT_SIGNAL_CONFIG.frame_rate
                         ) -> np.ndarray:
    """Written MIDI pitch per frame of a monophonic note list (0 in rests).

    Uses ``midi_ddsp.frames.part_to_frames`` (hence ``midi_ddsp.score.note_frame_span``), the
    package's one note-to-frame rule.

    Args:
        notes: float array [n_notes, 4] of (pitch MIDI, onset_s, offset_s, velocity) — the shard
            layout — or a sequence of ``midi_ddsp.score.Note``.
        n_frames: number of frames.
        frame_rate: frames per second.

    Returns:
        float32, shape [n_frames].
    """
    from midi_ddsp.frames import part_to_frames
    from midi_ddsp.score import Note, Part

    if len(notes) and not isinstance(notes[0], Note):
        rows = np.asarray(notes, np.float64).reshape(-1, 4)
        notes = [Note(pitch=int(round(p)), onset_s=float(on), offset_s=float(off),
                      velocity=int(np.clip(round(v), 1, 127))) for p, on, off, v in rows]
    return part_to_frames(Part(notes=list(notes)), n_frames=n_frames,
                          frame_rate=frame_rate).pitch_midi
