"""The note-expression extractor: SynthParams + notes -> NoteTable (the paper's six expressions,
DESIGN §4; formulas in ``midi_ddsp.expression`` and ``EXPRESSIONS``)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from midi_ddsp.dsp.core import get_controls
from midi_ddsp.dsp.units import amplitude_to_db, hz_to_midi
from midi_ddsp.errors import ParameterError
from midi_ddsp.expression.definitions import (ATTACK_DB_PER_UNIT, ATTACK_OFFSET, ATTACK_S,
                                              DEFAULT_VIBRATO_RATE_HZ, NOTE_TABLE_COLUMNS,
                                              VIBRATO_MIN_NOTE_S, VIBRATO_RATE_COLUMN,
                                              VIBRATO_RATE_HZ)
from midi_ddsp.score import Note, note_frame_span
from midi_ddsp.synth_params import SynthParams

__all__ = ["extract_note_expressions"]

_VOLUME_DB_SCALE = 60.0          # volume = mean(amp_dB) / 60 + 1.5
_VOLUME_OFFSET = 1.5
_VOL_FLUC_SCALE = 2.5 / 60.0     # vol_fluc = std(amp_dB) * 2.5 / 60
_VIBRATO_SCALE = 10.0
_VIBRATO_MAX_DEVIATION = 2.0     # semitones; frames further off are tracking errors/glides
_VIBRATO_MIN_FFT = 1024          # zero-padding: <= 0.25 Hz bins at 250 Hz
_BRIGHTNESS_SCALE = 5.0
_BRIGHTNESS_HARMONICS = 60.0     # centroid is divided by 60 whatever the number of harmonics


def _noise_level_db(noise_magnitudes: np.ndarray) -> float:
    """Mean noise level in dB of frames [n, B]: mean over frames and bands of the band dB."""
    if noise_magnitudes.shape[1] == 0:  # no noise bands: the floor
        return float(amplitude_to_db(0.0))
    return float(amplitude_to_db(noise_magnitudes.astype(np.float64)).mean())


def _vibrato(deviation: np.ndarray, *, frame_rate: float) -> tuple[float, float]:
    """``(vibrato, rate_hz)`` of one note from its pitch deviation in semitones (NaN = left
    out): the vibrato expression and the frequency of the spectral peak (parabolic
    interpolation between bins); ``(0, DEFAULT_VIBRATO_RATE_HZ)`` when no vibrato counts."""
    d = deviation[np.isfinite(deviation) & (np.abs(deviation) <= _VIBRATO_MAX_DEVIATION)]
    n = d.shape[0]
    if n < 3:
        return 0.0, DEFAULT_VIBRATO_RATE_HZ
    d = (d - d.mean()) * np.hanning(n)
    n_fft = max(_VIBRATO_MIN_FFT, 4 * (1 << (n - 1).bit_length()))
    spectrum = np.abs(np.fft.rfft(d, n=n_fft)) / n
    peak = int(np.argmax(spectrum))
    rate_hz = peak * frame_rate / n_fft
    if not VIBRATO_RATE_HZ[0] <= rate_hz <= VIBRATO_RATE_HZ[1]:
        return 0.0, DEFAULT_VIBRATO_RATE_HZ
    if 0 < peak < spectrum.shape[0] - 1:
        a, b, c = np.log(spectrum[peak - 1:peak + 2] + 1e-12)
        denom = a - 2 * b + c
        if denom < 0:
            rate_hz += 0.5 * (a - c) / denom * frame_rate / n_fft
    return float(_VIBRATO_SCALE * spectrum[peak]), float(rate_hz)


def _check_params(params: SynthParams) -> None:
    if not isinstance(params, SynthParams):
        raise ParameterError(f"params must be a SynthParams; got {type(params).__name__}")
    for name in ("f0_hz", "amplitude", "harmonic_distribution", "noise_magnitudes"):
        values = getattr(params, name)
        if not np.all(np.isfinite(values)):
            raise ParameterError(f"SynthParams.{name} contains NaN or inf")
        if values.size and values.min() < 0:
            raise ParameterError(f"SynthParams.{name} must be >= 0; got min {values.min():g}")


def extract_note_expressions(params: SynthParams, notes: Sequence[Note], *,
                             frame_rate: int = 250, sample_rate: int = 16000) -> pd.DataFrame:
    """The six note expressions of every note, measured on synthesis parameters.

    Args:
        params: frame-level parameters of one part (f0_hz [T], amplitude [T],
            harmonic_distribution [T, K], noise_magnitudes [T, B]), at ``frame_rate``.
        notes: the written notes of that part (``Note``: pitch, onset_s, offset_s, velocity).
            Each note's frames are ``note_frame_span(onset_s, offset_s)`` clipped to T; a note
            starting at or after the last frame is an error.
        frame_rate: frames per second of ``params`` (Hz).
        sample_rate: the model's sample rate (Hz); harmonics at or above its Nyquist do not
            count towards brightness (the synth does not play them).

    Returns:
        The NoteTable: one row per note, in the order given, columns ``NOTE_TABLE_COLUMNS``
        (pitch, onset_s, offset_s, velocity, volume, vol_fluc, vol_peak_pos, vibrato,
        brightness, attack) and ``vibrato_rate`` (Hz: the measured rate where vibrato counts,
        ``DEFAULT_VIBRATO_RATE_HZ`` elsewhere), float32. Formulas: module docstring and
        ``EXPRESSIONS``.

    Raises:
        ParameterError: params not a SynthParams or not finite/non-negative, a non-Note in
            ``notes``, a bad frame rate, or a note outside the parameters.
    """
    _check_params(params)
    if not (isinstance(frame_rate, (int, float)) and frame_rate > 0):
        raise ParameterError(f"frame_rate must be a positive number of Hz; got {frame_rate!r}")
    notes = list(notes)
    n_frames = params.n_frames

    # Frame-level quantities, computed once for the whole part.
    amp_db = amplitude_to_db(params.amplitude.astype(np.float64))
    noise = params.noise_magnitudes  # converted to dB only on attack frames (cost)
    harmonics = get_controls(params.f0_hz, params.amplitude, params.harmonic_distribution,
                             sample_rate=sample_rate).harmonic_distribution.astype(np.float64)
    total = harmonics.sum(axis=1)
    weighted = harmonics @ np.arange(1, harmonics.shape[1] + 1, dtype=np.float64)
    centroid = np.divide(weighted, total, out=np.zeros(n_frames), where=total > 0)
    f0_hz = params.f0_hz.astype(np.float64)
    f0_midi = np.where(f0_hz > 0, hz_to_midi(f0_hz), np.nan)  # unvoiced: left out

    n_attack = max(1, int(round(ATTACK_S * frame_rate)))
    min_vibrato_frames = VIBRATO_MIN_NOTE_S * frame_rate
    rows = np.zeros((len(notes), len(NOTE_TABLE_COLUMNS) + 1), dtype=np.float64)
    for i, note in enumerate(notes):
        if not isinstance(note, Note):
            raise ParameterError(f"notes[{i}] must be a Note; got {type(note).__name__}")
        start, stop = note_frame_span(note.onset_s, note.offset_s, frame_rate=frame_rate)
        stop = min(stop, n_frames)
        if start < 0 or start >= stop:
            raise ParameterError(
                f"notes[{i}] (onset {note.onset_s:g} s) lies outside the synth params "
                f"({n_frames} frames = {n_frames / frame_rate:g} s at {frame_rate} Hz)")
        length = stop - start
        level = amp_db[start:stop]
        vibrato, rate_hz = 0.0, DEFAULT_VIBRATO_RATE_HZ
        if length > min_vibrato_frames:
            vibrato, rate_hz = _vibrato(f0_midi[start:stop] - note.pitch, frame_rate=frame_rate)
        rows[i] = (
            note.pitch, note.onset_s, note.offset_s, note.velocity,
            level.mean() / _VOLUME_DB_SCALE + _VOLUME_OFFSET,
            level.std() * _VOL_FLUC_SCALE,
            int(np.argmax(level)) / length,
            vibrato,
            _BRIGHTNESS_SCALE * centroid[start:stop].mean() / _BRIGHTNESS_HARMONICS,
            _noise_level_db(noise[start:start + min(n_attack, length)]) / ATTACK_DB_PER_UNIT
            + ATTACK_OFFSET,
            rate_hz,
        )
    return pd.DataFrame(rows.astype(np.float32),
                        columns=list(NOTE_TABLE_COLUMNS) + [VIBRATO_RATE_COLUMN])
