"""Signal conventions shared by every level of the stack (DESIGN §3).

One frozen dataclass, saved inside every checkpoint so a model always knows the
sample rate, frame rate and control sizes it was trained with.
"""
from __future__ import annotations

import dataclasses

__all__ = ["SignalConfig", "DEFAULT_SIGNAL_CONFIG", "RELEASE_TAIL_S", "config_from_dict"]


@dataclasses.dataclass(frozen=True)
class SignalConfig:
    """Sample rate, frame rate and control sizes.

    Attributes:
        sample_rate: audio samples per second (Hz).
        frame_rate: control frames per second (Hz); must divide ``sample_rate``.
        n_harmonics: number of harmonics in the harmonic distribution.
        n_noise_bands: number of filtered-noise magnitude bands (linearly spaced 0..Nyquist).
        reverb_length: reverb impulse-response length in samples.
    """

    sample_rate: int = 16000
    frame_rate: int = 250
    n_harmonics: int = 60
    n_noise_bands: int = 65
    reverb_length: int = 48000

    def __post_init__(self) -> None:
        if self.sample_rate % self.frame_rate:
            raise ValueError(
                f"frame_rate ({self.frame_rate} Hz) must divide sample_rate ({self.sample_rate} Hz)"
            )

    @property
    def hop_size(self) -> int:
        """Audio samples per control frame (64 at 16 kHz / 250 Hz)."""
        return self.sample_rate // self.frame_rate

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "SignalConfig":
        return config_from_dict(cls, values)


DEFAULT_SIGNAL_CONFIG = SignalConfig()

RELEASE_TAIL_S = 1.0
"""Seconds rendered after the last note so releases and the reverb decay (models and FluidSynth)."""


def config_from_dict(cls, values: dict):
    """Build the frozen config dataclass ``cls`` from a checkpoint's dict (JSON lists become
    tuples).

    Raises:
        ValueError: ``values`` has a field ``cls`` does not know.
    """
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s) {unknown}")
    return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in values.items()})
