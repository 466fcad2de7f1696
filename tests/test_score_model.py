"""Tests of midi_ddsp.score.model: the note-to-frame rule and range fitting."""
from __future__ import annotations

import logging

import pytest

from midi_ddsp.errors import ParameterError
from midi_ddsp.instruments import get_instrument
from midi_ddsp.score import Note, Part, fit_part_to_range, note_frame_span


# ------------------------------------------------------------------ note_frame_span

def test_note_frame_span_rule():
    assert note_frame_span(0.0, 0.5, frame_rate=250) == (0, 125)
    assert note_frame_span(1.0, 1.001, frame_rate=250) == (250, 251)  # at least one frame


# ------------------------------------------------------------------ fit_part_to_range

def test_fit_part_to_range_transposes_by_octaves_with_warning(caplog):
    part = Part(notes=[Note(43, 0.0, 0.5), Note(48, 0.5, 1.0), Note(52, 1.0, 1.5)], name="low line")
    violin = get_instrument("violin")  # G3 (55) .. G7 (103)
    with caplog.at_level(logging.WARNING, logger="midi_ddsp"):
        fitted, semitones = fit_part_to_range(part, "violin")
    assert semitones == 12
    assert [n.pitch for n in fitted.notes] == [55, 60, 64]
    assert all(violin.contains(n.pitch) for n in fitted.notes)
    assert fitted.instrument is violin and part.notes[0].pitch == 43  # input untouched
    text = " ".join(r.getMessage() for r in caplog.records)
    assert "low line" in text and "+12" in text


def test_fit_part_to_range_no_shift_and_leftover_warning(caplog):
    inside = Part(notes=[Note(60, 0.0, 1.0)], instrument=get_instrument("flute"), name="fl")
    with caplog.at_level(logging.WARNING, logger="midi_ddsp"):
        same, semitones = fit_part_to_range(inside)
    assert semitones == 0 and same is inside and not caplog.records
    # spans 4 octaves: cannot fit the flute's 3 octaves, never raises
    wide = Part(notes=[Note(48, 0.0, 0.5), Note(96, 0.5, 1.0), Note(72, 1.0, 1.5)], name="wide")
    with caplog.at_level(logging.WARNING, logger="midi_ddsp"):
        fitted, semitones = fit_part_to_range(wide, "flute")
    assert semitones == 0
    assert any("1 of 3 notes remain outside" in r.getMessage() for r in caplog.records)
    with pytest.raises(ParameterError):
        fit_part_to_range(Part(notes=[Note(60, 0.0, 1.0)]))

