"""``SynthParams``: the frame-level synthesis parameters at the boundary between models and DSP."""
from __future__ import annotations

import dataclasses

import numpy as np

from midi_ddsp.errors import ParameterError

__all__ = ["SynthParams"]


@dataclasses.dataclass
class SynthParams:
    """Synthesis parameters of one part at the frame rate (250 Hz by default).

    Attributes:
        f0_hz: fundamental frequency in Hz, >= 0, shape [n_frames].
        amplitude: overall linear amplitude of the harmonic part, >= 0, shape [n_frames].
        harmonic_distribution: relative harmonic amplitudes, >= 0, each frame sums to 1,
            shape [n_frames, n_harmonics].
        noise_magnitudes: linear magnitudes of the filtered-noise bands, linearly spaced over
            0..8 kHz (the model rate's Nyquist, at every output rate), >= 0,
            shape [n_frames, n_noise_bands].
    """

    f0_hz: np.ndarray
    amplitude: np.ndarray
    harmonic_distribution: np.ndarray
    noise_magnitudes: np.ndarray

    def __post_init__(self) -> None:
        self.f0_hz = np.asarray(self.f0_hz, dtype=np.float32)
        self.amplitude = np.asarray(self.amplitude, dtype=np.float32)
        self.harmonic_distribution = np.asarray(self.harmonic_distribution, dtype=np.float32)
        self.noise_magnitudes = np.asarray(self.noise_magnitudes, dtype=np.float32)
        n = self.f0_hz.shape[0] if self.f0_hz.ndim == 1 else -1
        if (self.f0_hz.ndim != 1 or self.amplitude.shape != (n,)
                or self.harmonic_distribution.ndim != 2 or self.harmonic_distribution.shape[0] != n
                or self.noise_magnitudes.ndim != 2 or self.noise_magnitudes.shape[0] != n):
            raise ParameterError(
                "SynthParams expects f0_hz [T], amplitude [T], harmonic_distribution [T, K], "
                f"noise_magnitudes [T, B]; got {self.f0_hz.shape}, {self.amplitude.shape}, "
                f"{self.harmonic_distribution.shape}, {self.noise_magnitudes.shape}"
            )

    @property
    def n_frames(self) -> int:
        return int(self.f0_hz.shape[0])

    def copy(self) -> "SynthParams":
        return SynthParams(self.f0_hz.copy(), self.amplitude.copy(),
                           self.harmonic_distribution.copy(), self.noise_magnitudes.copy())
