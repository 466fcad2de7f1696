"""Parametric rooms (named presets ``dry``, ``room``, ``hall``) and their impulse responses,
in numpy.

The rooms are **parametric, not learned**: the training audio is dry, so there is no room to
learn. A room is exponentially decaying Gaussian noise (decay time RT60), with a short gap
before it (pre-delay), a spectral tilt and a wet gain; tap 0 is the dry path (gain 1). Rooms are
drawn at the model rate (16 kHz) and resampled for other rates, so every rate hears the same room
below 8 kHz. ``midi_ddsp.dsp.blocks.convolve_room`` (numpy) and ``midi_ddsp.dsp.apply_reverb``
(torch, differentiable) play them.
"""
from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import numpy as np

from midi_ddsp.dsp.units import db_to_amplitude
from midi_ddsp.errors import ParameterError

__all__ = [
    "RoomPreset",
    "REVERB_PRESETS",
    "DEFAULT_REVERB",
    "ROOM_SAMPLE_RATE",
    "reverb_preset",
    "room_impulse_response",
    "resample_impulse_response",
]


def _check_positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ParameterError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)


# ---------------------------------------------------------------------------------------------
# parametric rooms
# ---------------------------------------------------------------------------------------------
ROOM_SAMPLE_RATE = 16000
"""Rate (Hz) rooms are drawn at: the model rate. Other rates get the room resampled."""

_ROOM_DURATION_S = 3.0      # default IR length (48 000 taps at 16 kHz, DESIGN §3)
_TILT_REFERENCE_HZ = 500.0  # the tilt leaves the tail's spectrum flat below this frequency
_ONSET_S = 0.005            # raised-cosine fade-in of the tail after the pre-delay
_LN_1000 = math.log(1000.0)  # 60 dB of amplitude decay


@dataclasses.dataclass(frozen=True)
class RoomPreset:
    """A parametric room (not learned).

    Attributes:
        name: label.
        rt60_s: time for the tail to fall by 60 dB, s (0 with ``wet_db=None``: dry).
        wet_db: energy of the wet tail relative to the dry path, dB (white input); None = dry.
        tilt_db_per_octave: slope of the tail's spectrum above 500 Hz, dB per octave (< 0:
            darker, as real rooms absorb highs).
        predelay_s: gap between the dry sound and the start of the tail, s.
    """

    name: str
    rt60_s: float = 0.0
    wet_db: "float | None" = None
    tilt_db_per_octave: float = 0.0
    predelay_s: float = 0.0

    def __post_init__(self) -> None:
        if self.wet_db is not None and not (self.rt60_s > 0 and self.predelay_s >= 0
                                            and math.isfinite(self.wet_db)
                                            and math.isfinite(self.tilt_db_per_octave)):
            raise ParameterError(f"RoomPreset {self.name!r}: expected rt60_s > 0, predelay_s >= 0 "
                                 f"and finite wet_db / tilt; got {self}")


REVERB_PRESETS: dict[str, RoomPreset] = {
    "dry": RoomPreset("dry"),
    "room": RoomPreset("room", rt60_s=0.8, wet_db=-23.0, tilt_db_per_octave=-1.5,
                       predelay_s=0.008),
    "hall": RoomPreset("hall", rt60_s=2.2, wet_db=-15.0, tilt_db_per_octave=-3.0,
                       predelay_s=0.02),
}
"""The named rooms. ``room`` (RT60 0.8 s, wet -23 dB) has the wet level of the reverb shipped
before the presets; ``hall`` is longer and wetter."""

DEFAULT_REVERB = "room"
"""The preset used when a render asks for reverb without naming one (``reverb=True``)."""


def reverb_preset(reverb: Any) -> RoomPreset:
    """The room a ``reverb=`` argument names: a preset name (``"dry"``, ``"room"``, ``"hall"``),
    True (``DEFAULT_REVERB``), False or None (``"dry"``), or a ``RoomPreset``.

    Raises:
        ParameterError: an unknown name or another type.
    """
    if isinstance(reverb, RoomPreset):
        return reverb
    if reverb is True:
        return REVERB_PRESETS[DEFAULT_REVERB]
    if reverb is False or reverb is None:
        return REVERB_PRESETS["dry"]
    if isinstance(reverb, str):
        key = reverb.strip().lower()
        if key in REVERB_PRESETS:
            return REVERB_PRESETS[key]
        raise ParameterError(f"unknown reverb {reverb!r}; choose one of "
                             f"{', '.join(REVERB_PRESETS)} (or True / False)")
    raise ParameterError(f"reverb: expected a preset name ({', '.join(REVERB_PRESETS)}), True, "
                         f"False or a RoomPreset; got {reverb!r}")


@functools.lru_cache(maxsize=16)
def _room_at_model_rate(preset: RoomPreset, n_taps: int, seed: int) -> np.ndarray:
    rate = ROOM_SAMPLE_RATE
    noise = np.random.default_rng(seed).standard_normal(n_taps)
    freqs = np.fft.rfftfreq(n_taps, 1.0 / rate)
    octaves = np.log2(np.maximum(freqs, _TILT_REFERENCE_HZ) / _TILT_REFERENCE_HZ)
    noise = np.fft.irfft(np.fft.rfft(noise) * db_to_amplitude(preset.tilt_db_per_octave * octaves),
                         n=n_taps)  # stationary noise: circular filtering leaves no seam
    t = np.arange(n_taps) / rate - preset.predelay_s
    envelope = np.exp(-_LN_1000 * np.maximum(t, 0.0) / preset.rt60_s)
    envelope *= np.where(t > 0, 0.5 - 0.5 * np.cos(np.pi * np.clip(t / _ONSET_S, 0.0, 1.0)), 0.0)
    tail = noise * envelope
    tail[0] = 0.0
    tail *= math.sqrt(10.0 ** (preset.wet_db / 10.0) / max(float(np.sum(tail ** 2)), 1e-30))
    tail[0] = 1.0  # the dry path
    tail.setflags(write=False)
    return tail


def room_impulse_response(preset: Any = DEFAULT_REVERB, sample_rate: int = ROOM_SAMPLE_RATE, *,
                          n_taps: "int | None" = None, seed: int = 0) -> np.ndarray:
    """Full impulse response of a parametric room: tap 0 = 1 (dry path), then the wet tail.

    The form ``render_synth_params(impulse_response=...)`` and ``apply_reverb`` take. Drawn at
    ``ROOM_SAMPLE_RATE`` and resampled (:func:`resample_impulse_response`) for other rates.

    Args:
        preset: a name (``"dry"``, ``"room"``, ``"hall"``), True / False, or a ``RoomPreset``.
        sample_rate: Hz.
        n_taps: length; default 3 s of samples (1 tap for ``"dry"``).
        seed: seed of the room's noise.

    Returns:
        float32 [n_taps].
    """
    room = reverb_preset(preset)
    sample_rate = _check_positive_int(sample_rate, "sample_rate")
    if n_taps is None:
        n_taps = 1 if room.wet_db is None else int(round(_ROOM_DURATION_S * sample_rate))
    n_taps = _check_positive_int(n_taps, "n_taps")
    if room.wet_db is None:
        out = np.zeros(n_taps, np.float32)
        out[0] = 1.0
        return out
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ParameterError(f"seed: expected an integer, got {seed!r}")
    n_model = int(math.ceil(n_taps * ROOM_SAMPLE_RATE / sample_rate))
    ir = _room_at_model_rate(room, n_model, int(seed))
    out = resample_impulse_response(ir, ROOM_SAMPLE_RATE, sample_rate)
    out = np.pad(out, (0, max(0, n_taps - out.shape[0])))[:n_taps]
    return out.astype(np.float32)


def resample_impulse_response(impulse_response: Any, ir_sample_rate: int,
                              sample_rate: int) -> np.ndarray:
    """An IR for another sample rate: tap 0 (the dry path) stays an exact gain; only the wet tail
    (taps 1..) is resampled (band-limited polyphase) and scaled by ``ir_sample_rate /
    sample_rate``, so the response below both Nyquists is unchanged.

    Args:
        impulse_response: shape [n_taps], tap 0 = dry gain, at ``ir_sample_rate`` Hz.

    Returns:
        float32 [round(n_taps * sample_rate / ir_sample_rate)] (at least 1 tap).
    """
    ir = np.asarray(impulse_response, dtype=np.float64)
    if ir.ndim != 1 or ir.size == 0:
        raise ParameterError(f"impulse_response: expected shape [n_taps], got {ir.shape}")
    ir_sample_rate = _check_positive_int(ir_sample_rate, "ir_sample_rate")
    sample_rate = _check_positive_int(sample_rate, "sample_rate")
    if ir_sample_rate == sample_rate:
        return ir.astype(np.float32)
    n_out = max(1, int(round(ir.size * sample_rate / ir_sample_rate)))
    out = np.zeros(n_out)
    if ir.size > 1:
        from scipy.signal import resample_poly

        g = math.gcd(sample_rate, ir_sample_rate)
        tail = ir.copy()
        tail[0] = 0.0
        wet = resample_poly(tail, sample_rate // g, ir_sample_rate // g)
        wet *= ir_sample_rate / sample_rate
        out[:min(n_out, wet.size)] = wet[:n_out]
    out[0] += ir[0]
    return out.astype(np.float32)
