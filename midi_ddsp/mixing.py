"""Mixing stems into one signal: part gains, levelling (loudness / peak / none), a true-peak limiter.

The mixer sums the stems of a piece with a gain per part, then levels the sum with one gain
chosen by ``normalize``:

``"loudness"`` (default)
    the gain that brings the mix to ``target_lufs`` of integrated loudness per ITU-R BS.1770-4
    (K-weighting, 400 ms blocks, absolute and relative gates; pyloudnorm's filters, numpy
    only: equal to pyloudnorm to 1e-4 LU), but never more than the gain that puts the true peak
    (4x band-limited oversampling) at ``true_peak_dbtp``.
    The defaults, -23 LUFS and -1 dBTP, are EBU R128's programme loudness and maximum true
    peak. A louder target such as the -14 to -18 LUFS of streaming would let the peak limit set
    the gain of nearly every render: the models' renders have peak-to-loudness ratios of about
    18 dB (a solo violin line) to 25 dB (the Bach quartets), so the loudness mode would turn
    into peak normalisation. ``Mix.peak_bound`` says when the peak limit set the gain.
``"peak"``
    the gain that puts the sample peak at ``peak_dbfs`` (-1 dBFS); the only behaviour before
    the loudness mode existed. Every mix then has the same peak, whatever was played.
``"none"``
    no gain: the mix is the sum of the stems at the models' own level, so an edit that turns
    every note down by 0.3 in volume (18 dB) turns the mix down by about 18 dB.

``normalize=True`` still means ``"peak"`` and ``normalize=False`` means ``"none"``.

**Edits are heard as edits.** A gain measured on every mix undoes edits: turning every note down
is turned back up, and raising one note lowers all the others. So in loudness mode the gain is
chosen once, from the first render of a piece, and then stays with the piece: ``Mix.gain_db``
is recorded in the result's metadata (``metadata["mix"]["gain_db"]``) and
``midi_ddsp.editing.rerender`` passes it back as ``fixed_gain_db``. Re-rendered edits keep the
level of everything that was not edited.

**Never clipping.** A true-peak limiter acts only where an over would occur: under
``"loudness"`` where the true peak would exceed ``true_peak_dbtp`` (this happens only with a
fixed gain, when an edit made a passage louder than the first render's loudest), under
``"none"`` where a sample would exceed full scale (+-1); it then brings the true peak to
``true_peak_dbtp``. It is local in time: the gain reduction an over needs is held for
``_LIMITER_HOLD_S`` (20 ms) and smoothed over as long, so it fades out linearly within
``2 * _LIMITER_HOLD_S`` of the over and notes away from it keep their level. ``Mix.limited`` and ``Mix.limiter_reduction_db`` say whether and how
much it acted; ``Mix.limiter_gain`` is its gain per sample.

Stems are returned at the scale they sit in the mix (part gain, levelling gain and limiter gain
applied), so ``sum(stems) == mix`` and a rendered corpus has stems that add up to its mixture.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Mapping

import numpy as np

from midi_ddsp.dsp.units import amplitude_to_db, db_to_amplitude
from midi_ddsp.errors import ParameterError
from midi_ddsp.loudness import (LOUDNESS_BLOCK_S, as_mono_audio, block_powers, check_sample_rate,
                                gated_loudness, integrated_loudness, true_peak,
                                true_peak_envelope)

__all__ = [
    "DEFAULT_PEAK_DBFS",
    "DEFAULT_TARGET_LUFS",
    "DEFAULT_TRUE_PEAK_DBTP",
    "NORMALIZE_MODES",
    "Mix",
    "integrated_loudness",
    "mix_stems",
    "normalize_mode",
    "peak_normalize",
    "soft_limit",
    "true_peak",
]

#: Peak level of a peak-normalised mix: 1 dB of headroom under full scale.
DEFAULT_PEAK_DBFS = -1.0
#: Integrated loudness of a loudness-normalised mix, in LUFS (EBU R128's programme level).
DEFAULT_TARGET_LUFS = -23.0
#: Ceiling of the true-peak limiter, in dBTP (dB of the 4x-oversampled peak re full scale).
DEFAULT_TRUE_PEAK_DBTP = -1.0
#: The values of ``normalize`` (besides the booleans True = "peak", False = "none").
NORMALIZE_MODES = ("loudness", "peak", "none")

# Peaks below this are treated as silence (no gain is applied to silent mixes): -200 dBFS.
_SILENCE_PEAK = 1e-10
# Soft limiter: below knee_start * ceiling the signal passes unchanged.
_LIMITER_KNEE = 0.5
# Limiter timing: an over's gain reduction is held this long before and after it (a moving
# minimum), then smoothed by a moving average as wide, so it fades out within twice this; the
# 40 ms window also irons out the ripple of tones down to 25 Hz.
_LIMITER_HOLD_S = 0.02
# The limiter aims this far under its ceiling (0.01 dB), so one pass nearly always suffices.
_LIMITER_AIM = 0.9989
_LIMITER_PASSES = 4
# A level trimmed back under its ceiling lands this far (relative) below it, clear of rounding.
_ROUNDING_MARGIN = 1e-6
# The loudness gain is re-measured (at most this often) until within this many LU of the target.
_LOUDNESS_PASSES = 3
_LOUDNESS_TOLERANCE_LU = 0.01


def _gain(db: float) -> float:
    """Linear amplitude gain of ``db`` decibels."""
    return float(db_to_amplitude(float(db)))


def _to_db(gain: float) -> "float | None":
    return round(float(amplitude_to_db(gain)), 3) if gain > 0 and math.isfinite(gain) else None


def normalize_mode(normalize: "str | bool") -> str:
    """The normalisation mode of a ``normalize`` argument: ``"loudness"``, ``"peak"`` or ``"none"``.

    ``True`` means ``"peak"`` and ``False`` means ``"none"`` (the meanings before loudness
    normalisation existed).

    Raises:
        ParameterError: any other value.
    """
    if isinstance(normalize, (bool, np.bool_)):
        return "peak" if normalize else "none"
    if isinstance(normalize, str) and normalize.strip().lower() in NORMALIZE_MODES:
        return normalize.strip().lower()
    raise ParameterError(f"normalize must be one of {', '.join(repr(m) for m in NORMALIZE_MODES)} "
                         f"(or True = 'peak', False = 'none'), got {normalize!r}")


@dataclasses.dataclass
class Mix:
    """A mixed piece.

    Attributes:
        mix: the mixture, float32, shape [n_samples]; no sample beyond +-1.
        stems: each part's signal as it sits in the mix (part gain, levelling gain and limiter
            gain applied), float32, shape [n_samples] each; they sum to ``mix``.
        gain: the levelling gain applied after the part gains (linear; 1.0 under ``"none"``).
        peak: the peak absolute sample of ``mix``.
        limited: whether the limiter changed the mix.
        peak_bound: ``"loudness"`` only: the true-peak limit set the gain (the gain to the
            loudness target would have put the true peak above ``true_peak_dbtp``), so the mix
            is quieter than the target.
        normalize: the mode used, ``"loudness"``, ``"peak"`` or ``"none"``.
        gain_db: ``gain`` in dB; under ``"loudness"`` pass it back as ``fixed_gain_db`` to keep a
            piece's level when re-mixing edits.
        true_peak: the 4x-oversampled peak of ``mix`` (linear).
        loudness_lufs: integrated loudness of ``mix`` in LUFS (None: silent, or no sample rate
            given under ``"peak"``).
        target_lufs: the loudness target (``"loudness"`` only, else None).
        limiter_gain: the limiter's gain per sample, float32, shape [n_samples], in (0, 1]
            (already applied to ``mix`` and ``stems``); None when the limiter did not act.
        limiter_reduction_db: the largest gain reduction of the limiter, dB >= 0.
    """

    mix: np.ndarray
    stems: dict[str, np.ndarray]
    gain: float
    peak: float
    limited: bool = False
    peak_bound: bool = False
    normalize: str = "peak"
    gain_db: float = 0.0
    true_peak: float = 0.0
    loudness_lufs: "float | None" = None
    target_lufs: "float | None" = None
    limiter_gain: "np.ndarray | None" = None
    limiter_reduction_db: float = 0.0

    def describe(self) -> dict:
        """A JSON-friendly summary: mode, gain (linear and dB), levels, whether the limiter acted."""
        return {"normalize": self.normalize, "gain": float(self.gain),
                "gain_db": float(self.gain_db), "target_lufs": self.target_lufs,
                "loudness_lufs": (None if self.loudness_lufs is None
                                  else round(float(self.loudness_lufs), 3)),
                "peak_dbfs": _to_db(self.peak), "true_peak_dbtp": _to_db(self.true_peak),
                "peak_bound": bool(self.peak_bound), "limited": bool(self.limited),
                "limiter_reduction_db": round(float(self.limiter_reduction_db), 3)}


def _loudness_gain(x: np.ndarray, *, sample_rate: int, target_lufs: float, ceiling: float
                   ) -> tuple[float, bool, "float | None", "np.ndarray | None"]:
    """The gain that brings ``x`` to ``target_lufs``, at most the gain that puts its true peak at
    ``ceiling``; whether that cap set it; the true peak of ``x``; its block powers (so the
    loudness at any gain needs no second pass). ``(1.0, False, None, None)`` for silence."""
    block = int(math.ceil(LOUDNESS_BLOCK_S * sample_rate)) + 1
    padded = np.pad(x, (0, max(0, block - x.shape[0])))
    powers = block_powers(padded, sample_rate)
    lufs = gated_loudness(powers)
    if not math.isfinite(lufs):
        return 1.0, False, None, None
    gain_db = target_lufs - lufs
    # BS.1770's absolute gate (-70 LUFS) is not scale-free: blocks of a quiet tail pass it or
    # not depending on the level, so measure again at the new level and correct (the filters
    # are linear: the block powers just scale).
    for _ in range(_LOUDNESS_PASSES):
        lufs = gated_loudness(powers, _gain(gain_db))
        if not math.isfinite(lufs) or abs(target_lufs - lufs) < _LOUDNESS_TOLERANCE_LU:
            break
        gain_db += target_lufs - lufs
    gain = _gain(gain_db)
    peak = true_peak(x)
    cap = ceiling / peak
    return (cap, True, peak, powers) if cap < gain else (gain, False, peak, powers)


def _limiter_gain(x: np.ndarray, *, ceiling: float, sample_rate: int
                  ) -> "tuple[np.ndarray | None, float]":
    """Gain per sample, float32 [n_samples] in (0, 1], that keeps the true peak of ``x * gain``
    at or under ``ceiling``, changing only the neighbourhood of the overs (None when no gain is
    needed); and the true peak of ``x * gain``."""
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    env = true_peak_envelope(x)
    if not env.size or float(np.max(env)) <= ceiling:
        return None, float(np.max(env)) if env.size else 0.0
    size = 2 * max(1, int(round(_LIMITER_HOLD_S * sample_rate))) + 1
    gain = np.ones(x.shape[0], dtype=np.float32)
    for _ in range(_LIMITER_PASSES):
        need = np.minimum(np.float32(1.0),
                          np.float32(ceiling * _LIMITER_AIM) / np.maximum(env, np.float32(_SILENCE_PEAK)))
        # The moving minimum holds each sample's need over +-hold; the moving average of that
        # (same width) ramps in and out and stays <= the need at every sample, since each
        # window of the average contains only minima taken over windows that include it.
        smooth = uniform_filter1d(minimum_filter1d(need, size, mode="nearest"), size, mode="nearest")
        gain *= np.minimum(smooth, need)  # float rounding of the average: never above the need
        env = true_peak_envelope(x * gain)
        if float(np.max(env)) <= ceiling:
            return gain, float(np.max(env))
    trim = ceiling / float(np.max(env)) * (1.0 - _ROUNDING_MARGIN)
    gain *= np.float32(trim)  # not reached in practice: one static trim
    return gain, float(np.max(env)) * trim


def peak_normalize(audio, *, peak_dbfs: float = DEFAULT_PEAK_DBFS) -> np.ndarray:
    """Scale ``audio`` [n_samples] so its absolute peak is ``peak_dbfs`` (silence stays silent)."""
    x = as_mono_audio(audio, "audio")
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak < _SILENCE_PEAK:
        return x.copy()
    return (x * np.float32(_gain(peak_dbfs) / peak)).astype(np.float32)


def soft_limit(audio, *, ceiling_dbfs: float = DEFAULT_PEAK_DBFS) -> np.ndarray:
    """A memoryless soft limiter: identity below half the ceiling, tanh-shaped above it.

    ``|output| <= ceiling`` for any input; samples under ``0.5 * ceiling`` pass unchanged, and
    the curve is continuous with slope 1 at the knee. (``mix_stems`` uses a true-peak limiter
    instead, which leaves the waveform's shape alone.)

    Args:
        audio: signal, shape [n_samples].
        ceiling_dbfs: level the output never reaches, in dBFS (<= 0).
    """
    x = as_mono_audio(audio, "audio")
    ceiling = _gain(ceiling_dbfs)
    knee = _LIMITER_KNEE * ceiling
    span = ceiling - knee
    mag = np.abs(x)
    over = mag > knee
    out = x.copy()
    out[over] = np.sign(x[over]) * (knee + span * np.tanh((mag[over] - knee) / span))
    return out.astype(np.float32)


def _scale(total: np.ndarray, stems: Mapping[str, np.ndarray], factor) -> None:
    total *= factor
    for stem in stems.values():
        stem *= factor


def mix_stems(stems: Mapping[str, "np.ndarray"], *, gains_db: "Mapping[str, float] | None" = None,
              normalize: "str | bool" = "loudness", sample_rate: "int | None" = None,
              target_lufs: float = DEFAULT_TARGET_LUFS,
              true_peak_dbtp: float = DEFAULT_TRUE_PEAK_DBTP,
              peak_dbfs: float = DEFAULT_PEAK_DBFS, fixed_gain_db: "float | None" = None,
              in_place: bool = False) -> Mix:
    """Sum stems (padded with silence to the longest) with per-part gains, then level the sum.

    Args:
        stems: part name -> mono audio, shape [n_samples] (lengths may differ).
        gains_db: part name -> gain in dB applied before summing (missing names: 0 dB).
        normalize: ``"loudness"`` (default): the gain to ``target_lufs`` integrated loudness,
            at most the gain that puts the true peak at ``true_peak_dbtp`` (``peak_bound``);
            with ``fixed_gain_db`` that gain, then the true-peak limiter wherever the true peak
            would exceed ``true_peak_dbtp``. ``"peak"``: sample peak at ``peak_dbfs``, no
            limiter. ``"none"``: no gain, the limiter only where a sample would exceed +-1 (it
            then brings the true peak to ``true_peak_dbtp``). ``True`` means ``"peak"``,
            ``False`` means ``"none"``.
        sample_rate: Hz; needed for ``"loudness"`` and ``"none"`` (loudness meter, limiter
            timing). Under ``"peak"`` it only adds ``loudness_lufs`` to the result.
        target_lufs: loudness target of ``"loudness"`` in LUFS, < 0.
        true_peak_dbtp: the limiter's ceiling in dBTP, <= 0.
        peak_dbfs: target peak of ``"peak"`` in dBFS, < 0.
        fixed_gain_db: ``"loudness"`` only: apply this levelling gain (dB) instead of measuring
            one, e.g. the ``gain_db`` of an earlier mix of the same piece, so edits keep their
            level (``midi_ddsp.editing.rerender`` does this).
        in_place: reuse (overwrite) the given float32 stems of full length as the returned
            stems instead of copying them (saves memory on long pieces).

    Returns:
        A ``Mix``; ``mix`` and every stem have the length of the longest stem.

    Raises:
        ParameterError: no stems, a stem that is not 1-D or not finite, a gain for an unknown
            part, a bad ``normalize`` value, no ``sample_rate`` where it is needed, out-of-range
            levels, or ``fixed_gain_db`` outside ``"loudness"``.
    """
    mode = normalize_mode(normalize)
    if not stems:
        raise ParameterError("mix_stems: no stems to mix")
    if not float(peak_dbfs) < 0.0:
        raise ParameterError(f"peak_dbfs must be below 0 dBFS (headroom), got {peak_dbfs}")
    if not float(true_peak_dbtp) <= 0.0:
        raise ParameterError(f"true_peak_dbtp must be at most 0 dBTP (no clipping), got {true_peak_dbtp}")
    if not (math.isfinite(float(target_lufs)) and float(target_lufs) < 0.0):
        raise ParameterError(f"target_lufs must be a loudness below 0 LUFS, got {target_lufs}")
    if fixed_gain_db is not None:
        if mode != "loudness":
            raise ParameterError(f"fixed_gain_db is for normalize='loudness', not {mode!r}")
        if not math.isfinite(float(fixed_gain_db)):
            raise ParameterError(f"fixed_gain_db must be a finite number of dB, got {fixed_gain_db}")
    if sample_rate is not None or mode != "peak":
        if sample_rate is None:
            raise ParameterError(f"mix_stems: normalize={mode!r} needs sample_rate (Hz) for the "
                                 "loudness meter and the limiter")
        sample_rate = check_sample_rate(sample_rate)
    gains_db = dict(gains_db or {})
    unknown = [k for k in gains_db if k not in stems]
    if unknown:
        raise ParameterError(f"gains_db names unknown part {unknown[0]!r}; parts: {', '.join(stems)}")
    arrays = {name: as_mono_audio(audio, f"stem {name!r}") for name, audio in stems.items()}
    n_samples = max(a.shape[0] for a in arrays.values())
    scaled: dict[str, np.ndarray] = {}
    total = np.zeros(n_samples, dtype=np.float32)
    for name, audio in arrays.items():
        gain_part = np.float32(_gain(gains_db.get(name, 0.0)))
        if in_place and audio.shape[0] == n_samples and audio is stems[name] and audio.flags.writeable:
            stem = audio
            if gain_part != 1.0:
                stem *= gain_part
        else:
            stem = np.zeros(n_samples, dtype=np.float32)
            stem[: audio.shape[0]] = audio * gain_part
        scaled[name] = stem
        total += stem

    peak = float(np.max(np.abs(total))) if n_samples else 0.0
    gain, peak_bound = 1.0, False
    source_tp, powers = None, None   # true peak and block powers of the unscaled sum
    if mode == "peak" and peak >= _SILENCE_PEAK:
        gain = _gain(peak_dbfs) / peak
    elif mode == "loudness":
        if fixed_gain_db is not None:
            gain = _gain(fixed_gain_db)
        elif peak >= _SILENCE_PEAK:
            gain, peak_bound, source_tp, powers = _loudness_gain(
                total, sample_rate=sample_rate, target_lufs=float(target_lufs),
                ceiling=_gain(true_peak_dbtp))
    if gain != 1.0:
        _scale(total, scaled, np.float32(gain))

    limiter, tp = None, None
    tp_ceiling = _gain(true_peak_dbtp)
    if source_tp is not None and source_tp * gain <= tp_ceiling:
        tp = source_tp * gain   # the gain kept the true peak under the ceiling: no limiter
    elif mode == "loudness" or (mode == "none" and n_samples and float(np.max(np.abs(total))) > 1.0):
        limiter, tp = _limiter_gain(total, ceiling=tp_ceiling, sample_rate=sample_rate)
        if limiter is not None:
            _scale(total, scaled, limiter)
            tp = true_peak(total)  # as float32 rounding left it
    # float32 rounding may put the level a hair above its ceiling; pull it back under.
    if mode == "peak":
        level, ceiling = (float(np.max(np.abs(total))) if n_samples else 0.0), _gain(peak_dbfs)
    elif tp is not None:
        level, ceiling = tp, tp_ceiling
    else:
        level, ceiling = 0.0, 1.0
    if level > ceiling:
        trim = ceiling / level * (1.0 - _ROUNDING_MARGIN)
        _scale(total, scaled, np.float32(trim))
        gain *= trim
        tp = None if tp is None else tp * trim
    final_peak = float(np.max(np.abs(total))) if n_samples else 0.0
    if tp is None:
        tp = true_peak(total) if n_samples else 0.0
    loudness = None
    if sample_rate is not None and final_peak >= _SILENCE_PEAK:
        lufs = (gated_loudness(powers, gain) if powers is not None and limiter is None
                else integrated_loudness(total, sample_rate=sample_rate))
        loudness = lufs if math.isfinite(lufs) else None
    return Mix(mix=total, stems=scaled, gain=float(gain), peak=final_peak,
               limited=limiter is not None, normalize=mode, peak_bound=peak_bound,
               gain_db=float(amplitude_to_db(gain)) if gain > 0 else 0.0,
               true_peak=tp, loudness_lufs=loudness,
               target_lufs=float(target_lufs) if mode == "loudness" else None,
               limiter_gain=limiter,
               limiter_reduction_db=(-float(amplitude_to_db(float(np.min(limiter))))
                                     if limiter is not None else 0.0))
