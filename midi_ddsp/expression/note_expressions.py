"""A part's notes and their six expressions as arrays: the NoteTable without pandas.

The generators and the renderer work on this; ``midi_ddsp.expression.note_table_from_expressions``
turns it into the pandas NoteTable users edit, and ``write_note_table_csv`` writes the same CSV as the NoteTable's
``to_csv(index=False)`` without importing pandas (a render from the command line never does).
"""
from __future__ import annotations

import csv
import dataclasses
import os
from typing import Mapping, Sequence

import numpy as np

from midi_ddsp.errors import ParameterError
from midi_ddsp.expression.definitions import (DEFAULT_VIBRATO_RATE_HZ, EXPRESSION_NAMES,
                                              MARK_COLUMNS, MARK_TEXT_COLUMNS,
                                              NOTE_TABLE_COLUMNS, VIBRATO_RATE_COLUMN)
from midi_ddsp.score import NO_MARKS, Note, NoteMarks, note_frame_span

__all__ = ["NoteExpressions", "write_note_table_csv", "table_marks"]


def table_marks(table) -> list[NoteMarks]:
    """Each row's ``NoteMarks`` from a validated NoteTable's ``MARK_COLUMNS`` (none when the
    table has no mark columns)."""
    if not all(c in table for c in MARK_COLUMNS):
        return [NO_MARKS] * len(table)
    return [NoteMarks(d, w, a, bool(sl), bool(fe)) for d, w, a, sl, fe in
            table[list(MARK_COLUMNS)].itertuples(index=False, name=None)]


@dataclasses.dataclass
class NoteExpressions:
    """Notes of one monophonic part (sorted by onset) and their expressions.

    Attributes:
        notes: the ``Note`` objects.
        values: float32 [n_notes, 6], columns in ``EXPRESSION_NAMES`` order.
        vibrato_rate: float32 [n_notes] vibrato rates in Hz (the NoteTable's optional
            ``vibrato_rate`` column), or None when the part leaves the rate to the models.
    """

    notes: list[Note]
    values: np.ndarray
    vibrato_rate: "np.ndarray | None" = None

    def __post_init__(self) -> None:
        # times as the NoteTable holds them (float32), so a part rendered from its arrays and
        # one rendered from its table put every note on the same frames
        self.notes = [n if (np.float32(n.onset_s) == n.onset_s and np.float32(n.offset_s) == n.offset_s)
                      else dataclasses.replace(n, onset_s=float(np.float32(n.onset_s)),
                                               offset_s=float(np.float32(n.offset_s)))
                      for n in self.notes]
        self.values = np.asarray(self.values, np.float32).reshape(-1, len(EXPRESSION_NAMES))
        if self.values.shape[0] != len(self.notes):
            raise ParameterError(f"{len(self.notes)} notes but {self.values.shape[0]} rows of "
                                 "expressions")
        if self.vibrato_rate is not None:
            self.vibrato_rate = np.asarray(self.vibrato_rate, np.float32).reshape(-1)
            if self.vibrato_rate.shape[0] != len(self.notes):
                raise ParameterError(f"{len(self.notes)} notes but {self.vibrato_rate.shape[0]} "
                                     "vibrato rates")

    @classmethod
    def from_note_table(cls, table) -> "NoteExpressions":
        """From a validated NoteTable (``midi_ddsp.expression.validate_note_table``)."""
        notes = [Note(int(p), float(a), float(b), int(v), m) for p, a, b, v, m in
                 zip(table["pitch"], table["onset_s"], table["offset_s"], table["velocity"],
                     table_marks(table))]
        rate = (table[VIBRATO_RATE_COLUMN].to_numpy(np.float32) if VIBRATO_RATE_COLUMN in table
                else None)
        return cls(notes, table[list(EXPRESSION_NAMES)].to_numpy(np.float32), rate)

    @classmethod
    def from_generated(cls, notes: Sequence[Note], values: np.ndarray) -> "NoteExpressions":
        """From an Expression Generator's ``sample_expressions``: [n_notes, 6], or [n_notes, 7]
        whose seventh column is the vibrato rate in Hz."""
        values = np.asarray(values, np.float32)
        n_expr = len(EXPRESSION_NAMES)
        rate = values[:, n_expr] if values.shape[1] > n_expr else None
        return cls(list(notes), values[:, :n_expr], rate)

    def vibrato_rates(self) -> np.ndarray:
        """The part's vibrato rates, ``DEFAULT_VIBRATO_RATE_HZ`` for every note when it has
        none: float32 [n_notes] Hz (what a rate-reading Synthesis Generator plays)."""
        if self.vibrato_rate is None:
            return np.full(len(self.notes), DEFAULT_VIBRATO_RATE_HZ, np.float32)
        return self.vibrato_rate

    def columns(self) -> dict[str, np.ndarray]:
        """The NoteTable's columns (``NOTE_TABLE_COLUMNS``, then ``vibrato_rate`` when the part
        has rates), float32 [n_notes] each, then ``MARK_COLUMNS`` when a note has score marks
        (text columns as numpy str arrays, slur and fermata float32 0/1)."""
        out = {
            "pitch": np.array([n.pitch for n in self.notes], np.float32),
            "onset_s": np.array([n.onset_s for n in self.notes], np.float32),
            "offset_s": np.array([n.offset_s for n in self.notes], np.float32),
            "velocity": np.array([n.velocity for n in self.notes], np.float32),
        }
        out.update({name: self.values[:, j] for j, name in enumerate(EXPRESSION_NAMES)})
        ordered = {name: out[name] for name in NOTE_TABLE_COLUMNS}
        if self.vibrato_rate is not None:
            ordered[VIBRATO_RATE_COLUMN] = self.vibrato_rate
        if any(n.marks for n in self.notes):
            for name in MARK_COLUMNS:
                values = [getattr(n.marks, name) for n in self.notes]
                ordered[name] = (np.array(values, str) if name in MARK_TEXT_COLUMNS
                                 else np.array(values, np.float32))
        return ordered

    def frames(self, *, n_frames: int, frame_rate: int = 250) -> np.ndarray:
        """Each note's expressions broadcast over its frames (``note_frame_span``), rests 0:
        float32 [n_frames, 6]; notes (or parts of notes) past ``n_frames`` are dropped."""
        if isinstance(n_frames, bool) or not isinstance(n_frames, (int, np.integer)) or n_frames < 0:
            raise ParameterError(f"n_frames must be an int >= 0; got {n_frames!r}")
        if not (isinstance(frame_rate, (int, float)) and frame_rate > 0):
            raise ParameterError(f"frame_rate must be a positive number of Hz; got {frame_rate!r}")
        out = np.zeros((int(n_frames), len(EXPRESSION_NAMES)), dtype=np.float32)
        for note, expression in zip(self.notes, self.values):
            start, stop = note_frame_span(note.onset_s, note.offset_s, frame_rate=frame_rate)
            out[start:min(stop, int(n_frames))] = expression
        return out


def write_note_table_csv(path: "str | os.PathLike[str]",
                         columns: "Mapping[str, Sequence[float]]") -> None:
    """Write NoteTable columns (``NOTE_TABLE_COLUMNS`` order, then ``vibrato_rate`` and the
    ``MARK_COLUMNS`` when given) as CSV: a header, then one row per note, each number the
    shortest text that reads back as the same float32, mark text as is."""
    names = list(NOTE_TABLE_COLUMNS) + [c for c in (VIBRATO_RATE_COLUMN, *MARK_COLUMNS)
                                        if c in columns]
    data = [np.asarray(columns[name], str) if name in MARK_TEXT_COLUMNS
            else np.asarray(columns[name], np.float32) for name in names]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(names)
        for row in zip(*data):
            writer.writerow([str(value) for value in row])
