"""Writing WAV files atomically: a file appears complete or not at all."""
from __future__ import annotations

import os
import struct
import tempfile

import numpy as np

from midi_ddsp.errors import InputFileError, ParameterError

__all__ = ["write_wav", "wav_bytes"]

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
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim != 1:
        raise ParameterError(f"{path}: expected mono audio of shape [n_samples], got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ParameterError(f"{path}: audio contains NaN or infinite samples")
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


def wav_bytes(samples: np.ndarray, sample_rate: int, format_tag: int) -> bytes:
    """A mono WAV file in memory (downloads): RIFF header, ``fmt`` chunk (``format_tag`` 1 = PCM
    for int16 ``samples``, 3 = IEEE float for float32), ``data`` chunk. No ``PEAK`` chunk
    (libsndfile's carries a time stamp, so equal audio would give unequal files)."""
    data = samples.tobytes()
    width = samples.dtype.itemsize
    fmt = struct.pack("<HHIIHH", format_tag, 1, int(sample_rate), int(sample_rate) * width,
                      width, 8 * width)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + \
        struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body
