"""Mixing stems into one signal and writing WAV files atomically.

The mixer sums the stems of a piece with a gain per part, then scales the sum so its peak sits
at ``peak_dbfs`` (-1 dBFS by default): the mix always has headroom and never clips. Stems are
returned at the same scale as they sit in the mix (``sum(stems) == mix``), so a rendered corpus
has stems that add up to its mixture. When normalisation is turned off, a soft limiter keeps
peaks under the ceiling instead of letting them clip.
"""
from __future__ import annotations

import dataclasses
import os
import tempfile
from typing import Mapping

import numpy as np

from midi_ddsp.errors import InputFileError, ParameterError

__all__ = [
    "DEFAULT_PEAK_DBFS",
    "Mix",
    "db_to_gain",
    "mix_stems",
    "peak_normalize",
    "soft_limit",
    "write_wav",
]

#: Peak level of a normalised mix: 1 dB of headroom under full scale.
DEFAULT_PEAK_DBFS = -1.0
# Peaks below this are treated as silence (no gain is applied to silent mixes): -200 dBFS.
_SILENCE_PEAK = 1e-10
# Soft limiter: below knee_start * ceiling the signal passes unchanged.
_LIMITER_KNEE = 0.5


def db_to_gain(db: float) -> float:
    """Linear amplitude gain of ``db`` decibels (``10 ** (db / 20)``)."""
    return float(10.0 ** (float(db) / 20.0))


@dataclasses.dataclass
class Mix:
    """A mixed piece.

    Attributes:
        mix: the mixture, float32, shape [n_samples], peak <= the ceiling.
        stems: each part's signal as it sits in the mix (part gain and normalisation gain
            applied), float32, shape [n_samples] each; they sum to ``mix`` (unless the limiter
            acted, see ``limited``).
        gain: the normalisation gain applied after the part gains (linear).
        peak: the peak absolute sample of ``mix``.
        limited: whether the soft limiter changed the mix (only when ``normalize=False``).
    """

    mix: np.ndarray
    stems: dict[str, np.ndarray]
    gain: float
    peak: float
    limited: bool = False


def _as_audio(audio, name: str) -> np.ndarray:
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim != 1:
        raise ParameterError(f"{name}: expected mono audio of shape [n_samples], got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ParameterError(f"{name}: audio contains NaN or infinite samples")
    return x


def peak_normalize(audio, *, peak_dbfs: float = DEFAULT_PEAK_DBFS) -> np.ndarray:
    """Scale ``audio`` [n_samples] so its absolute peak is ``peak_dbfs`` (silence stays silent)."""
    x = _as_audio(audio, "audio")
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak < _SILENCE_PEAK:
        return x.copy()
    return (x * np.float32(db_to_gain(peak_dbfs) / peak)).astype(np.float32)


def soft_limit(audio, *, ceiling_dbfs: float = DEFAULT_PEAK_DBFS) -> np.ndarray:
    """A memoryless soft limiter: identity below half the ceiling, tanh-shaped above it.

    ``|output| <= ceiling`` for any input; samples under ``0.5 * ceiling`` pass unchanged, and
    the curve is continuous with slope 1 at the knee.

    Args:
        audio: signal, shape [n_samples].
        ceiling_dbfs: level the output never reaches, in dBFS (<= 0).
    """
    x = _as_audio(audio, "audio")
    ceiling = db_to_gain(ceiling_dbfs)
    knee = _LIMITER_KNEE * ceiling
    span = ceiling - knee
    mag = np.abs(x)
    over = mag > knee
    out = x.copy()
    out[over] = np.sign(x[over]) * (knee + span * np.tanh((mag[over] - knee) / span))
    return out.astype(np.float32)


def mix_stems(stems: Mapping[str, "np.ndarray"], *, gains_db: "Mapping[str, float] | None" = None,
              normalize: bool = True, peak_dbfs: float = DEFAULT_PEAK_DBFS,
              in_place: bool = False) -> Mix:
    """Sum stems (padded with silence to the longest) with per-part gains, then level the sum.

    Args:
        stems: part name -> mono audio, shape [n_samples] (lengths may differ).
        gains_db: part name -> gain in dB applied before summing (missing names: 0 dB).
        normalize: scale the sum so its peak is exactly ``peak_dbfs``. When False the sum
            is kept as is, except that peaks above ``peak_dbfs`` go through ``soft_limit``.
        peak_dbfs: target peak / ceiling in dBFS, < 0 (headroom under full scale).
        in_place: reuse (overwrite) the given float32 stems of full length as the returned
            stems instead of copying them (saves memory on long pieces).

    Returns:
        A ``Mix``; ``mix`` and every stem have the length of the longest stem.

    Raises:
        ParameterError: no stems, a stem that is not 1-D or not finite, a gain for an unknown
            part, or ``peak_dbfs`` >= 0.
    """
    if not stems:
        raise ParameterError("mix_stems: no stems to mix")
    if not float(peak_dbfs) < 0.0:
        raise ParameterError(f"peak_dbfs must be below 0 dBFS (headroom), got {peak_dbfs}")
    gains_db = dict(gains_db or {})
    unknown = [k for k in gains_db if k not in stems]
    if unknown:
        raise ParameterError(f"gains_db names unknown part {unknown[0]!r}; parts: {', '.join(stems)}")
    arrays = {name: _as_audio(audio, f"stem {name!r}") for name, audio in stems.items()}
    n_samples = max(a.shape[0] for a in arrays.values())
    scaled: dict[str, np.ndarray] = {}
    total = np.zeros(n_samples, dtype=np.float32)
    for name, audio in arrays.items():
        gain_part = np.float32(db_to_gain(gains_db.get(name, 0.0)))
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
    ceiling = db_to_gain(peak_dbfs)
    gain, limited = 1.0, False
    if normalize and peak >= _SILENCE_PEAK:
        gain = ceiling / peak
    elif not normalize and peak > ceiling:
        total = soft_limit(total, ceiling_dbfs=peak_dbfs)
        limited = True
    if gain != 1.0:
        total *= np.float32(gain)
        for stem in scaled.values():
            stem *= np.float32(gain)
    # float32 rounding may put the peak a hair above the target; pull it back under.
    final_peak = float(np.max(np.abs(total))) if n_samples else 0.0
    if final_peak > ceiling:
        fix = np.float32(ceiling / final_peak)
        total *= fix
        for stem in scaled.values():
            stem *= fix
        final_peak = float(np.max(np.abs(total)))
    return Mix(mix=total, stems=scaled, gain=float(gain), peak=final_peak, limited=limited)


_SUBTYPES = ("PCM_16", "PCM_24", "FLOAT")


def write_wav(path: "str | os.PathLike[str]", audio, *, sample_rate: int,
              subtype: str = "PCM_16") -> str:
    """Write mono audio to a WAV file atomically (temporary file in the same folder, then rename).

    Args:
        path: destination; its folder must exist.
        audio: signal, shape [n_samples], float in [-1, 1] for integer subtypes.
        sample_rate: samples per second (Hz).
        subtype: ``"PCM_16"`` (default), ``"PCM_24"`` or ``"FLOAT"`` (32-bit float).

    Returns:
        The path written.

    Raises:
        ParameterError: an integer subtype and a peak above full scale (it would clip), a
            non-positive sample rate or an unknown subtype.
        InputFileError: the file cannot be written (names the path).
    """
    import soundfile

    path = os.fspath(path)
    x = _as_audio(audio, path)
    if subtype not in _SUBTYPES:
        raise ParameterError(f"subtype must be one of {', '.join(_SUBTYPES)}, got {subtype!r}")
    if int(sample_rate) <= 0:
        raise ParameterError(f"sample_rate must be a positive number of Hz, got {sample_rate}")
    if subtype != "FLOAT" and x.size and float(np.max(np.abs(x))) > 1.0:
        raise ParameterError(f"{path}: peak {float(np.max(np.abs(x))):.3f} exceeds full scale; "
                             "it would clip as integer PCM (normalise it or write FLOAT)")
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".wav", dir=folder)
    except OSError as exc:
        raise InputFileError(path, f"cannot write here ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            soundfile.write(f, x, int(sample_rate), subtype=subtype, format="WAV")
        os.replace(tmp, path)
    except OSError as exc:
        _remove_quietly(tmp)
        raise InputFileError(path, f"cannot write ({exc.strerror or exc})") from None
    except BaseException:
        _remove_quietly(tmp)
        raise
    return path


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass
