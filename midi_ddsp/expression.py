"""Note expressions: the extractor (SynthParams + notes -> NoteTable) and the NoteTable itself.

A **NoteTable** is a pandas DataFrame with one row per note of one monophonic part, sorted by
onset, columns in this order (all float32):

==============  =====================================================================
pitch           MIDI note number of the written note (whole number 0..127)
onset_s         note start in seconds (>= 0)
offset_s        note end in seconds (> onset_s)
velocity        MIDI velocity (whole number 1..127)
volume          mean level:            mean(amp_dB) / 60 + 1.5
vol_fluc        level fluctuation:     std(amp_dB) * 2.5 / 60  (how much the level moves
                within the note, any direction: 0 = steady, 1 = 24 dB RMS)
vol_peak_pos    where the loudest frame lies, as a fraction of the note:
                (argmax amp_dB - onset frame) / n frames; 0 = at the onset
                (decrescendo, accent), 0.5 = swell, ~1 = at the end (crescendo)
vibrato         vibrato extent:        10 * peak |rFFT| of the pitch deviation (3..9 Hz only)
brightness      harmonic centroid:     5 * mean_t(sum_k k * h_k) / 60
attack          noise at the onset:    mean noise dB over the first 40 ms / 40 + 2.625
==============  =====================================================================

The six expressions are the paper's (MIDI-DDSP, Wu et al. 2022, DESIGN §4), scaled so most values
fall in [0, 1]. Their exact definitions, units, typical and valid ranges are data: see
``EXPRESSIONS`` (one ``ExpressionRange`` each). In frame-level conditioning, rests are 0 in every
expression (``expressions_to_frames``).

Frame quantities used (all from ``SynthParams``, frame rate 250 Hz by default):

- ``amp_dB = 20 * log10(max(amplitude, MIN_AMPLITUDE))`` per frame (floor -120 dB);
- noise level per frame = mean over the noise bands of ``20 * log10(max(noise_magnitude,
  MIN_AMPLITUDE))``, i.e. the mean of the band levels in dB (upstream's definition, which the
  attack offset 2.625 was tuned for; a level of the summed noise would be ~10-20 dB higher);
- pitch deviation = ``hz_to_midi(f0_hz) - pitch`` in semitones; unvoiced frames (f0 = 0) and
  frames more than 2 semitones off the written pitch (octave errors, glides from the previous
  note; upstream masks these too) are left out;
- harmonic distribution as the synth plays it: ``midi_ddsp.dsp.get_controls`` removes the
  harmonics at or above the model's Nyquist (``sample_rate / 2``, 8 kHz) at each frame's f0 and
  renormalises to sum 1 (frames left summing to 0 count as centroid 0).

The frames of a note are ``midi_ddsp.score.note_frame_span`` (the one note-to-frame rule),
clipped to the length of the parameters.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import os
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from midi_ddsp.errors import InputFileError, ParameterError
from midi_ddsp.score import Note, note_frame_span
from midi_ddsp.synth_params import SynthParams

from midi_ddsp.dsp.core import MIN_AMPLITUDE as _MIN_AMPLITUDE
from midi_ddsp.dsp.core import get_controls, midi_to_hz

__all__ = [
    "DEFAULT_TEMPERATURE",
    "brightness_ceiling",
    "check_temperature",
    "ExpressionRange",
    "EXPRESSIONS",
    "EXPRESSION_NAMES",
    "NOTE_COLUMNS",
    "NOTE_TABLE_COLUMNS",
    "extract_note_expressions",
    "expressions_to_frames",
    "frames_of_valid_table",
    "notes_of_valid_table",
    "validate_note_table",
    "note_table_from_notes",
    "notes_from_note_table",
]

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ExpressionRange:
    """One note expression: its meaning, unit and ranges.

    Attributes:
        name: column name in the NoteTable.
        unit: what one unit of the value is, in words.
        low: low end of the typical range (where most extracted values fall).
        high: high end of the typical range. Documentation only: values outside are legal.
        valid_low: hard lower limit; ``validate_note_table`` rejects values below it.
        valid_high: hard upper limit; ``validate_note_table`` rejects values above it.
        generated_low, generated_high: the range the Expression Generator's outputs are clipped
            to: the span of the training corpus (lowest p5 .. highest p95 over the 13
            instruments in ``data_card/card.json``, rounded outward to 0.05).
        neutral: a middle-of-the-road value, used by ``note_table_from_notes`` when no
            expression is given.
        description: what it measures and the exact formula.
    """

    name: str
    unit: str
    low: float
    high: float
    valid_low: float
    valid_high: float
    neutral: float
    description: str
    generated_low: float = 0.0
    generated_high: float = 1.0


#: The six note expressions, in NoteTable column order. The hard limits contain every value the
#: extractor can produce from SynthParams with amplitudes and noise magnitudes up to ~30 (+30 dB).
EXPRESSIONS: tuple[ExpressionRange, ...] = (
    ExpressionRange(
        name="volume", unit="1 = 60 dB; 0 = -90 dB, 1 = -30 dB harmonic amplitude",
        low=0.0, high=1.0, valid_low=-1.0, valid_high=4.0, neutral=0.75,
        description=(
            "Mean loudness of the note: mean over its frames of the harmonic amplitude in dB, "
            "volume = mean(amp_dB) / 60 + 1.5. amp_dB = 20 log10(max(amplitude, 1e-6)), so the "
            "floor is -0.5; amplitude 0.01 (-40 dB) gives 0.833, amplitude 1 (0 dB) gives 1.5."),
        generated_low=-0.5, generated_high=1.25,
    ),
    ExpressionRange(
        name="vol_fluc", unit="1 = 24 dB standard deviation of the level",
        low=0.0, high=1.0, valid_low=0.0, valid_high=4.0, neutral=0.0,
        description=(
            "Volume fluctuation: how much the level moves within the note (tremolo, swells, "
            "accents, a decaying tail), regardless of direction. vol_fluc = std(amp_dB) * 2.5 / 60 "
            "(population std over the note's frames). 0 = perfectly steady level; 0.5 = the level "
            "deviates ~12 dB RMS from its mean."),
        generated_low=0.0, generated_high=0.6,
    ),
    ExpressionRange(
        name="vol_peak_pos", unit="fraction of the note length",
        low=0.0, high=1.0, valid_low=0.0, valid_high=1.0, neutral=0.5,
        description=(
            "Volume peak position: where in the note the loudest frame lies, "
            "(argmax amp_dB - onset frame) / note length in frames. 0 = loudest at the onset "
            "(decrescendo, plucked/accented notes), 0.5 = swell to the middle, close to 1 = "
            "loudest at the end (crescendo). Ties go to the earliest frame."),
        generated_low=0.0, generated_high=1.0,
    ),
    ExpressionRange(
        name="vibrato", unit="1 = 40 cents sinusoidal half-extent (±40 cents)",
        low=0.0, high=1.0, valid_low=0.0, valid_high=20.0, neutral=0.0,
        description=(
            "Vibrato extent: 10 * max_f |rFFT(w * (d - mean d))|(f) / n, with d the pitch "
            "deviation in semitones from the written pitch over the note's voiced frames (n of "
            "them), w a Hann window of length n, the FFT zero-padded to >= 1024 points "
            "(<= 0.25 Hz bins at 250 Hz). Counted only when the spectral peak lies in 3..9 Hz "
            "and the note is longer than 200 ms, else 0. The Hann window's coherent gain is "
            "1/2, so a sinusoidal vibrato of ±c cents gives about 2.5 * c / 100 = c / 40: "
            "±10 cents -> 0.25, ±30 cents -> 0.75, ±50 cents -> 1.25. Hard limit: |d| <= 2 "
            "semitones bounds it below 20."),
        generated_low=0.0, generated_high=0.8,
    ),
    ExpressionRange(
        name="brightness", unit="1 = harmonic centroid at harmonic 12",
        low=0.0, high=1.0, valid_low=0.0, valid_high=5.0, neutral=0.5,
        description=(
            "Brightness: harmonic centroid of the normalised harmonic distribution h, "
            "brightness = 5 * mean over frames of sum_k k * h_k / 60 (k = 1..60; the 60 is "
            "fixed, not the number of harmonics). All energy in harmonic 1 gives 5/60 = 0.083, "
            "in harmonic 6 gives 0.5, in harmonic 12 gives 1. Harmonics at or above 8 kHz "
            "(the 16 kHz model's Nyquist) are removed before normalising, as in the audio, so "
            "high notes cannot reach high values (G6, 1568 Hz: at most 5 harmonics, 0.42)."),
        generated_low=0.05, generated_high=1.3,
    ),
    ExpressionRange(
        name="attack", unit="1 = 40 dB; 0 = -105 dB, 1 = -65 dB mean noise-band level",
        low=0.0, high=1.0, valid_low=-1.0, valid_high=4.0, neutral=0.5,
        description=(
            "Attack noise: how noisy the note's onset is (bow scratch, breath, tonguing). Mean "
            "over the first 40 ms of the note (10 frames at 250 Hz; all frames if shorter) of the "
            "noise level in dB (mean over bands of 20 log10(max(noise_magnitude, 1e-6))), "
            "attack = level / 40 + 2.625. Floor -0.375 (all bands at -120 dB)."),
        generated_low=-0.4, generated_high=1.3,
    ),
)

EXPRESSION_NAMES: tuple[str, ...] = tuple(e.name for e in EXPRESSIONS)
NOTE_COLUMNS: tuple[str, ...] = ("pitch", "onset_s", "offset_s", "velocity")
NOTE_TABLE_COLUMNS: tuple[str, ...] = NOTE_COLUMNS + EXPRESSION_NAMES

# Paper constants of the extractor (DESIGN §4).
_VOLUME_DB_SCALE = 60.0          # volume = mean(amp_dB) / 60 + 1.5
_VOLUME_OFFSET = 1.5
_VOL_FLUC_SCALE = 2.5 / 60.0     # vol_fluc = std(amp_dB) * 2.5 / 60
_VIBRATO_SCALE = 10.0
_VIBRATO_RATE_MIN_HZ = 3.0
_VIBRATO_RATE_MAX_HZ = 9.0
_VIBRATO_MIN_NOTE_S = 0.2        # notes must be longer than this to carry vibrato
_VIBRATO_MAX_DEVIATION = 2.0     # semitones; frames further off are tracking errors/glides
_VIBRATO_MIN_FFT = 1024          # zero-padding: <= 0.25 Hz bins at 250 Hz
_BRIGHTNESS_SCALE = 5.0
_BRIGHTNESS_HARMONICS = 60.0     # centroid is divided by 60 whatever the number of harmonics
_ATTACK_S = 0.04                 # attack window: first 40 ms
_ATTACK_DB_SCALE = 40.0
_ATTACK_OFFSET = 2.625
_OVERLAP_TOLERANCE_S = 1e-6      # float32 times: ignore overlaps smaller than this

_MIDI_RANGE = (0, 127)
_VELOCITY_RANGE = (1, 127)


# ----------------------------------------------------------------------------------------------
# Extraction
# ----------------------------------------------------------------------------------------------

def _amplitude_to_db(x: np.ndarray) -> np.ndarray:
    """numpy twin of ``midi_ddsp.dsp.core.amplitude_to_db``: 20 log10(max(x, MIN_AMPLITUDE))."""
    return 20.0 * np.log10(np.maximum(x, _MIN_AMPLITUDE))


def _hz_to_midi(f0_hz: np.ndarray) -> np.ndarray:
    """MIDI pitch of ``f0_hz`` (69 = 440 Hz); NaN where f0 <= 0 (unvoiced)."""
    out = np.full(f0_hz.shape, np.nan)
    voiced = f0_hz > 0
    out[voiced] = 69.0 + 12.0 * np.log2(f0_hz[voiced] / 440.0)
    return out


def _noise_level_db(noise_magnitudes: np.ndarray) -> float:
    """Mean noise level in dB of frames [n, B]: mean over frames and bands of the band dB."""
    if noise_magnitudes.shape[1] == 0:  # no noise bands: the floor
        return float(_amplitude_to_db(np.float64(0.0)))
    return float(_amplitude_to_db(noise_magnitudes.astype(np.float64)).mean())


def _vibrato(deviation: np.ndarray, *, frame_rate: float) -> float:
    """Vibrato expression of one note from its pitch deviation in semitones (NaN = left out)."""
    d = deviation[np.isfinite(deviation) & (np.abs(deviation) <= _VIBRATO_MAX_DEVIATION)]
    n = d.shape[0]
    if n < 3:
        return 0.0
    d = (d - d.mean()) * np.hanning(n)
    n_fft = max(_VIBRATO_MIN_FFT, 4 * (1 << (n - 1).bit_length()))
    spectrum = np.abs(np.fft.rfft(d, n=n_fft)) / n
    peak = int(np.argmax(spectrum))
    rate_hz = peak * frame_rate / n_fft
    if _VIBRATO_RATE_MIN_HZ <= rate_hz <= _VIBRATO_RATE_MAX_HZ:
        return float(_VIBRATO_SCALE * spectrum[peak])
    return 0.0


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
        brightness, attack), float32. Formulas: module docstring and ``EXPRESSIONS``.

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
    amp_db = _amplitude_to_db(params.amplitude.astype(np.float64))
    noise = params.noise_magnitudes  # converted to dB only on attack frames (cost)
    harmonics = get_controls(params.f0_hz, params.amplitude, params.harmonic_distribution,
                             sample_rate=sample_rate).harmonic_distribution.astype(np.float64)
    total = harmonics.sum(axis=1)
    weighted = harmonics @ np.arange(1, harmonics.shape[1] + 1, dtype=np.float64)
    centroid = np.divide(weighted, total, out=np.zeros(n_frames), where=total > 0)
    f0_midi = _hz_to_midi(params.f0_hz.astype(np.float64))

    n_attack = max(1, int(round(_ATTACK_S * frame_rate)))
    min_vibrato_frames = _VIBRATO_MIN_NOTE_S * frame_rate
    rows = np.zeros((len(notes), len(NOTE_TABLE_COLUMNS)), dtype=np.float64)
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
        vibrato = 0.0
        if length > min_vibrato_frames:
            vibrato = _vibrato(f0_midi[start:stop] - note.pitch, frame_rate=frame_rate)
        rows[i] = (
            note.pitch, note.onset_s, note.offset_s, note.velocity,
            level.mean() / _VOLUME_DB_SCALE + _VOLUME_OFFSET,
            level.std() * _VOL_FLUC_SCALE,
            int(np.argmax(level)) / length,
            vibrato,
            _BRIGHTNESS_SCALE * centroid[start:stop].mean() / _BRIGHTNESS_HARMONICS,
            _noise_level_db(noise[start:start + min(n_attack, length)]) / _ATTACK_DB_SCALE
            + _ATTACK_OFFSET,
        )
    return pd.DataFrame(rows.astype(np.float32), columns=list(NOTE_TABLE_COLUMNS))


def expressions_to_frames(note_table: "pd.DataFrame | str | os.PathLike[str]", *, n_frames: int,
                          frame_rate: int = 250) -> np.ndarray:
    """Broadcast each note's six expressions over its frames; rests are 0.

    Args:
        note_table: a NoteTable (or a CSV path), validated with ``validate_note_table``.
        n_frames: number of output frames; notes (or parts of notes) beyond it are dropped.
        frame_rate: frames per second (Hz).

    Returns:
        float32 array [n_frames, 6], columns in ``EXPRESSION_NAMES`` order; frame t of a note
        spanning ``note_frame_span(onset_s, offset_s)`` holds that note's expressions, frames
        of no note hold 0.
    """
    if isinstance(n_frames, bool) or not isinstance(n_frames, (int, np.integer)) or n_frames < 0:
        raise ParameterError(f"n_frames must be an int >= 0; got {n_frames!r}")
    if not (isinstance(frame_rate, (int, float)) and frame_rate > 0):
        raise ParameterError(f"frame_rate must be a positive number of Hz; got {frame_rate!r}")
    return frames_of_valid_table(validate_note_table(note_table), n_frames=int(n_frames),
                                 frame_rate=frame_rate)


def frames_of_valid_table(table: pd.DataFrame, *, n_frames: int, frame_rate: int = 250) -> np.ndarray:
    """``expressions_to_frames`` for a table that ``validate_note_table`` has just returned.

    For callers that validate once at their own public boundary (the Synthesis Generator);
    everyone else calls ``expressions_to_frames``. Shape [n_frames, 6], float32.
    """
    out = np.zeros((n_frames, len(EXPRESSION_NAMES)), dtype=np.float32)
    onsets = table["onset_s"].to_numpy(np.float64)
    offsets = table["offset_s"].to_numpy(np.float64)
    values = table[list(EXPRESSION_NAMES)].to_numpy(np.float32)
    for onset_s, offset_s, expression in zip(onsets, offsets, values):
        start, stop = note_frame_span(onset_s, offset_s, frame_rate=frame_rate)
        out[start:min(stop, n_frames)] = expression
    return out


# ----------------------------------------------------------------------------------------------
# NoteTable validation and conversion
# ----------------------------------------------------------------------------------------------

def _read_csv(path: "str | os.PathLike[str]") -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except FileNotFoundError:
        raise InputFileError(path, "no such file") from None
    except IsADirectoryError:
        raise InputFileError(path, "is a directory, not a CSV note table") from None
    except pd.errors.EmptyDataError:
        raise InputFileError(path, "empty file, not a CSV note table") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as error:
        problem = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InputFileError(path, f"cannot read as CSV ({problem})") from None


def validate_note_table(df: "pd.DataFrame | str | os.PathLike[str]", *,
                        source: str = "note table") -> pd.DataFrame:
    """Check a NoteTable and return a clean copy.

    Args:
        df: a DataFrame, or the path of a CSV file holding one (header row of column names).
        source: how to name the table in error messages; a path given as ``df`` names itself.

    Returns:
        A new DataFrame with exactly ``NOTE_TABLE_COLUMNS`` in that order, float32, index
        0..n-1. Extra columns are dropped.

    Raises:
        InputFileError: the CSV file is missing or unreadable.
        ParameterError: one line naming the source, column and first bad row (index label)
            for: a missing column, a non-numeric value, NaN/inf, pitch or velocity not a whole
            MIDI number in range, onset_s < 0, offset_s <= onset_s, an expression outside its
            hard limits (``ExpressionRange.valid_low``/``valid_high``), or a note starting
            before the previous row ends (a NoteTable is one monophonic part sorted by onset).
    """
    if isinstance(df, (str, os.PathLike)):
        if source == "note table":
            source = os.fspath(df)
        df = _read_csv(df)
    if not isinstance(df, pd.DataFrame):
        raise ParameterError(
            f"{source}: expected a pandas DataFrame or a CSV path; got {type(df).__name__}")

    missing = [c for c in NOTE_TABLE_COLUMNS if c not in df.columns]
    if missing:
        raise ParameterError(
            f"{source}: missing column(s) {', '.join(repr(c) for c in missing)}; "
            f"a note table has {', '.join(NOTE_TABLE_COLUMNS)}")
    extra = [c for c in df.columns if c not in NOTE_TABLE_COLUMNS]
    if extra:
        logger.debug("%s: dropping extra columns %s", source, extra)

    labels = df.index
    columns: dict[str, np.ndarray] = {}
    for name in NOTE_TABLE_COLUMNS:
        raw = df[name]
        if raw.dtype == bool:
            raise ParameterError(f"{source}: column {name!r} is boolean, expected numbers")
        numeric = pd.to_numeric(raw, errors="coerce")
        bad = np.flatnonzero(numeric.isna().to_numpy() & raw.notna().to_numpy())
        if bad.size:
            i = bad[0]
            raise ParameterError(f"{source}: column {name!r}, row {labels[i]}: "
                                 f"{raw.iloc[i]!r} is not a number")
        values = numeric.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            i = bad[0]
            raise ParameterError(f"{source}: column {name!r}, row {labels[i]}: "
                                 f"{values[i]} (expected a finite number)")
        columns[name] = values

    def first_bad(name: str, mask: np.ndarray, expected: str) -> None:
        bad = np.flatnonzero(mask)
        if bad.size:
            i = bad[0]
            raise ParameterError(f"{source}: column {name!r}, row {labels[i]}: "
                                 f"{columns[name][i]:g} (expected {expected})")

    for name, (lo, hi) in (("pitch", _MIDI_RANGE), ("velocity", _VELOCITY_RANGE)):
        v = columns[name]
        first_bad(name, (v != np.round(v)) | (v < lo) | (v > hi),
                  f"a whole MIDI number in {lo}..{hi}")
    first_bad("onset_s", columns["onset_s"] < 0, "a time in seconds >= 0")
    first_bad("offset_s", columns["offset_s"] <= columns["onset_s"],
              "offset_s > onset_s: a note needs a positive duration")
    for expression in EXPRESSIONS:
        v = columns[expression.name]
        first_bad(expression.name, (v < expression.valid_low) | (v > expression.valid_high),
                  f"a value in the valid range [{expression.valid_low:g}, "
                  f"{expression.valid_high:g}]; typical values lie in "
                  f"[{expression.low:g}, {expression.high:g}]")

    onsets, offsets = columns["onset_s"], columns["offset_s"]
    overlap = np.flatnonzero(onsets[1:] < offsets[:-1] - _OVERLAP_TOLERANCE_S)
    if overlap.size:
        i = overlap[0] + 1
        raise ParameterError(
            f"{source}: column 'onset_s', row {labels[i]}: {onsets[i]:g} s starts before the "
            f"previous row ends ({offsets[i - 1]:g} s); a note table is one monophonic part, "
            "sorted by onset, without overlapping notes")

    return pd.DataFrame({name: columns[name].astype(np.float32) for name in NOTE_TABLE_COLUMNS})


def note_table_from_notes(notes: Sequence[Note], *,
                          expressions: "Mapping[str, float] | None" = None) -> pd.DataFrame:
    """A NoteTable for ``notes`` with every expression set to one value per column.

    Args:
        notes: the notes of one monophonic part, sorted by onset.
        expressions: value per expression name for every note; names left out (or all, when
            None) get ``ExpressionRange.neutral``.

    Returns:
        A validated NoteTable (``NOTE_TABLE_COLUMNS``, float32), one row per note.
    """
    values = {e.name: e.neutral for e in EXPRESSIONS}
    if expressions is not None:
        unknown = sorted(set(expressions) - set(values))
        if unknown:
            raise ParameterError(f"unknown expression name(s) {unknown}; "
                                 f"expected some of {', '.join(EXPRESSION_NAMES)}")
        values.update({k: float(v) for k, v in expressions.items()})
    notes = list(notes)
    for i, note in enumerate(notes):
        if not isinstance(note, Note):
            raise ParameterError(f"notes[{i}] must be a Note; got {type(note).__name__}")
    data = {
        "pitch": [n.pitch for n in notes],
        "onset_s": [n.onset_s for n in notes],
        "offset_s": [n.offset_s for n in notes],
        "velocity": [n.velocity for n in notes],
    }
    data.update({name: [values[name]] * len(notes) for name in EXPRESSION_NAMES})
    return validate_note_table(pd.DataFrame(data, columns=list(NOTE_TABLE_COLUMNS)),
                               source="notes")


def brightness_ceiling(pitch: float, *, sample_rate: int = 16000) -> float:
    """The largest brightness a note can show: all harmonic energy in the highest harmonic
    below Nyquist, ``5 K / 60`` (K harmonics of the pitch's f0 lie below ``sample_rate / 2``)."""
    f0 = float(midi_to_hz(float(pitch)))
    n_below = max(1, int(math.ceil(sample_rate / 2.0 / f0)) - 1)
    return 5.0 * n_below / 60.0


DEFAULT_TEMPERATURE = 0.5
"""Default spread of the Expression Generator's sampling in the rendering API and CLIs (0 = the
most likely expressions, 1 = the full predicted spread): at 1 a part's level wanders by several
dB between phrases; 0.5 keeps the variety of the performance with a steady level."""


def check_temperature(temperature) -> float:
    """``temperature`` as a float >= 0, or ParameterError."""
    ok = not isinstance(temperature, bool) and isinstance(temperature, (int, float, np.floating,
                                                                        np.integer))
    if not ok or not math.isfinite(float(temperature)) or temperature < 0:
        raise ParameterError(f"temperature must be a number >= 0; got {temperature!r}")
    return float(temperature)



def notes_from_note_table(df: "pd.DataFrame | str | os.PathLike[str]") -> list[Note]:
    """The notes (pitch, onset_s, offset_s, velocity) of a NoteTable or NoteTable CSV."""
    return notes_of_valid_table(validate_note_table(df))


def notes_of_valid_table(table: pd.DataFrame) -> list[Note]:
    """``notes_from_note_table`` for a table that ``validate_note_table`` has just returned."""
    return [Note(pitch=int(p), onset_s=float(on), offset_s=float(off), velocity=int(v))
            for p, on, off, v in table[list(NOTE_COLUMNS)].itertuples(index=False, name=None)]

