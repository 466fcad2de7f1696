"""The NoteTable: validation, CSV reading, building one from notes, and turning it into notes and
frame-level conditioning (column meanings: ``midi_ddsp.expression``)."""
from __future__ import annotations

import logging
import os
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from midi_ddsp.errors import InputFileError, ParameterError
from midi_ddsp.expression.definitions import (EXPRESSION_NAMES, EXPRESSIONS, MARK_COLUMNS,
                                              MARK_TEXT_COLUMNS, NOTE_COLUMNS,
                                              NOTE_TABLE_COLUMNS, VIBRATO_RATE_COLUMN)
from midi_ddsp.expression.note_expressions import NoteExpressions, table_marks
from midi_ddsp.score import Note, NoteMarks

__all__ = ["validate_note_table", "note_table_from_notes", "note_table_from_expressions",
           "notes_from_note_table", "note_table_arrays", "expressions_to_frames"]

logger = logging.getLogger(__name__)

_OVERLAP_TOLERANCE_S = 1e-6      # float32 times: ignore overlaps smaller than this
_MIDI_RANGE = (0, 127)
_VELOCITY_RANGE = (1, 127)
_VIBRATO_RATE_RANGE_HZ = (1.0, 12.0)


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
        A new DataFrame with exactly ``NOTE_TABLE_COLUMNS`` in that order, then the optional
        ``vibrato_rate`` (Hz) when the table has it, float32, then the ``MARK_COLUMNS`` when
        it has any of them (text, and slur / fermata float32 0/1), index 0..n-1. Other columns
        are dropped.

    Raises:
        InputFileError: the CSV file is missing or unreadable.
        ParameterError: one line naming the source, column and first bad row (index label)
            for: a missing column, a non-numeric value, NaN/inf, pitch or velocity not a whole
            MIDI number in range, onset_s < 0, offset_s <= onset_s, an expression outside its
            hard limits (``ExpressionRange.valid_low``/``valid_high``), a vibrato_rate outside
            1..12 Hz, an unknown mark (dynamic, wedge, articulation) or a slur / fermata
            not 0 or 1, or a note starting
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
    names = list(NOTE_TABLE_COLUMNS) + ([VIBRATO_RATE_COLUMN] if VIBRATO_RATE_COLUMN in df.columns
                                        else [])
    has_marks = any(c in df.columns for c in MARK_COLUMNS)
    extra = [c for c in df.columns if c not in names and c not in MARK_COLUMNS]
    if extra:
        logger.debug("%s: dropping extra columns %s", source, extra)

    labels = df.index
    columns: dict[str, np.ndarray] = {}
    for name in names:
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

    if VIBRATO_RATE_COLUMN in columns:
        lo, hi = _VIBRATO_RATE_RANGE_HZ
        v = columns[VIBRATO_RATE_COLUMN]
        first_bad(VIBRATO_RATE_COLUMN, (v < lo) | (v > hi), f"a rate in {lo:g}..{hi:g} Hz")

    onsets, offsets = columns["onset_s"], columns["offset_s"]
    overlap = np.flatnonzero(onsets[1:] < offsets[:-1] - _OVERLAP_TOLERANCE_S)
    if overlap.size:
        i = overlap[0] + 1
        raise ParameterError(
            f"{source}: column 'onset_s', row {labels[i]}: {onsets[i]:g} s starts before the "
            f"previous row ends ({offsets[i - 1]:g} s); a note table is one monophonic part, "
            "sorted by onset, without overlapping notes")

    out = pd.DataFrame({name: columns[name].astype(np.float32) for name in names})
    if has_marks:
        for name, values in _mark_columns(df, source).items():
            out[name] = values
    return out


def _mark_columns(df: pd.DataFrame, source: str) -> dict:
    """The ``MARK_COLUMNS`` of a table that has some of them, checked: a missing column is
    unmarked; text as str ("" for empty / NaN), slur and fermata float32 0/1."""
    n = len(df)
    out = {}
    for name in MARK_COLUMNS:
        raw = df[name] if name in df.columns else pd.Series([None] * n, index=df.index)
        if name in MARK_TEXT_COLUMNS:
            out[name] = np.array(["" if (v is None or (isinstance(v, float) and np.isnan(v)))
                                  else str(v).strip() for v in raw], object)
        else:
            values = pd.to_numeric(raw.fillna(0).astype(float), errors="coerce").to_numpy(np.float64)
            bad = np.flatnonzero(~np.isin(values, (0.0, 1.0)))
            if bad.size:
                raise ParameterError(f"{source}: column {name!r}, row {df.index[bad[0]]}: "
                                     f"{raw.iloc[bad[0]]!r} (expected 1 or 0)")
            out[name] = values.astype(np.float32)
    for i in range(n):
        try:
            NoteMarks(out["dynamic"][i], out["wedge"][i], out["articulation"][i])
        except ParameterError as error:
            raise ParameterError(f"{source}: row {df.index[i]}: {error}") from None
    return out


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


def note_table_from_expressions(part: NoteExpressions) -> pd.DataFrame:
    """The NoteTable (validated) of a part's notes and expressions (``NoteExpressions``)."""
    return validate_note_table(pd.DataFrame(part.columns()), source="note table")


def notes_from_note_table(df: "pd.DataFrame | str | os.PathLike[str]") -> list[Note]:
    """The notes (pitch, onset_s, offset_s, velocity, and the marks of its mark columns) of a
    NoteTable or NoteTable CSV."""
    table = validate_note_table(df)
    return [Note(int(p), float(a), float(b), int(v), m) for (p, a, b, v), m in
            zip(table[list(NOTE_COLUMNS)].itertuples(index=False, name=None), table_marks(table))]


def note_table_arrays(table: pd.DataFrame) -> dict[str, np.ndarray]:
    """A validated NoteTable's columns as numpy arrays: numbers float32, the mark text columns
    (``MARK_TEXT_COLUMNS``) str (what ``np.savez`` stores without pickling)."""
    return {c: table[c].to_numpy(str) if c in MARK_TEXT_COLUMNS else table[c].to_numpy(np.float32)
            for c in table.columns}


def expressions_to_frames(note_table: "pd.DataFrame | str | os.PathLike[str]", *, n_frames: int,
                          frame_rate: int = 250) -> np.ndarray:
    """Broadcast each note's six expressions over its frames; rests are 0.

    Args:
        note_table: a NoteTable (or a CSV path), validated with ``validate_note_table``.
        n_frames: number of output frames; notes (or parts of notes) beyond it are dropped.
        frame_rate: frames per second (Hz).

    Returns:
        float32 array [n_frames, 6], columns in ``EXPRESSION_NAMES`` order (an optional
        ``vibrato_rate`` column is not a frame expression: the Synthesis Generator reads it
        per note); frame t of a note spanning ``note_frame_span(onset_s, offset_s)`` holds
        that note's expressions, frames of no note hold 0.
    """
    table = validate_note_table(note_table)
    return NoteExpressions.from_note_table(table).frames(n_frames=n_frames, frame_rate=frame_rate)
