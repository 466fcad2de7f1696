"""Tests of midi_ddsp.casting: the one resolver of which instrument plays each part."""
from __future__ import annotations

import logging

import pytest

from midi_ddsp.casting import cast_score, dominant_instrument, instrument_label, instrument_spec
from midi_ddsp.errors import ParameterError
from midi_ddsp.score import Note, load_score, score_from_notes
from score_files import write_pm, write_type0_trio


@pytest.fixture
def two_tracks(tmp_path):
    return load_score(write_pm(tmp_path / "two.mid", [
        (0, "Piano", False, [(60, 0.0, 1.0), (64, 0.0, 1.0)]),
        (40, "Melody", False, [(72, 0.0, 1.0)]),
    ]))


def _specs(cast):
    return [(c.part.name, c.spec) for c in cast]


def test_programs_by_default_and_overrides_by_number(two_tracks):
    assert _specs(cast_score(two_tracks)) == [("Piano v1", None), ("Piano v2", None),
                                              ("Melody", "violin")]
    # track numbers as in the file: pretty_midi wrote the tempo map as track 0
    assert _specs(cast_score(two_tracks, {1: "cello", 2: "fl"})) == [
        ("Piano v1", "cello"), ("Piano v2", "cello"), ("Melody", "flute")]


def test_part_name_beats_track_name_beats_number_beats_wildcard(two_tracks):
    cast = cast_score(two_tracks, {"piano": "Double Bass", "Piano v1": "viola", 2: "oboe",
                                   "*": "tuba"})
    assert _specs(cast) == [("Piano v1", "viola"), ("Piano v2", "double_bass"), ("Melody", "oboe")]
    assert _specs(cast_score(two_tracks, {"*": "horn"})) == [
        ("Piano v1", "horn"), ("Piano v2", "horn"), ("Melody", "horn")]
    # None: no model plays the part, whatever its program
    assert cast_score(two_tracks, {"melody": None})[2].spec is None


def test_blends_fit_the_range_of_their_heaviest_instrument():
    score = score_from_notes({"line": [Note(40, 0.0, 0.5), Note(43, 0.5, 1.0)]})
    [cast] = cast_score(score, {"line": {"violin": 1, "cello": 3}})
    assert cast.spec == {"violin": 0.25, "cello": 0.75}
    assert cast.instrument.name == "cello" and cast.semitones == 0
    [cast] = cast_score(score, {"line": {"violin": 3, "cello": 1}})
    assert cast.semitones == 24 and [n.pitch for n in cast.part.notes] == [64, 67]
    assert cast.part.instrument.name == "violin"
    assert instrument_label(cast.spec) == "violin 75% + cello 25%"


def test_pitch_offset_and_speed_apply_before_range_fitting():
    score = score_from_notes({"violin": [Note(60, 0.0, 1.0), Note(62, 1.0, 2.0)]})
    [cast] = cast_score(score, pitch_offset=-7, speed_rate=2.0)
    # 53 is below the violin's G3: fitted up an octave after the offset
    assert [(n.pitch, n.onset_s, n.offset_s) for n in cast.part.notes] == [(65, 0.0, 0.5),
                                                                          (67, 0.5, 1.0)]
    assert cast.semitones == 12
    with pytest.raises(ParameterError, match="outside MIDI 0..127"):
        cast_score(score, pitch_offset=100)


def test_drums_are_never_cast(tmp_path, caplog):
    score = load_score(write_pm(tmp_path / "band.mid", [
        (40, "Violin", False, [(67, 0.0, 1.0)]), (0, "Kit", True, [(36, 0.0, 0.1)])]))
    with caplog.at_level(logging.WARNING, logger="midi_ddsp"):
        cast = cast_score(score, {"*": "flute", "kit": "tuba"})
    assert _specs(cast) == [("Violin", "flute"), ("Kit", None)]
    assert any("drum part" in r.getMessage() and "Kit" in r.getMessage() for r in caplog.records)


def test_channels_of_a_type0_track_are_cast_by_their_names(tmp_path):
    score = load_score(write_type0_trio(tmp_path / "type0.mid"))
    assert _specs(cast_score(score, {"Duo: Cello": "bassoon"})) == [("Duo: Violin", "violin"),
                                                                   ("Duo: Cello", "bassoon"), ("Duo: Drums", None)]
    with pytest.raises(ParameterError, match="no track or part"):
        cast_score(score, {"Duo: Violin v3": "viola"})


def test_tracks_of_the_same_name_answer_to_it(tmp_path):
    score = load_score(write_pm(tmp_path / "same.mid", [
        (40, "Strings", False, [(67, 0.0, 1.0)]), (42, "Strings", False, [(48, 0.0, 1.0)])]))
    assert [c.part.name for c in cast_score(score)] == ["Strings (track 1)", "Strings (track 2)"]
    assert [c.spec for c in cast_score(score, {"strings": "viola"})] == ["viola", "viola"]
    assert [c.spec for c in cast_score(score, {"Strings (track 2)": "tuba"})] == ["violin", "tuba"]


@pytest.mark.parametrize("overrides, match", [
    ({0: "kazoo"}, "known instruments: violin, viola"),
    ({7: "cello"}, "no track 7"),
    ({"Tuba part": "tuba"}, "no track or part named 'Tuba part'"),
    ({1.5: "cello"}, "keys must be track numbers"),
    ({1: {"violin": -1}}, "finite and >= 0"),
])
def test_bad_entries_are_one_parameter_error(tmp_path, overrides, match):
    score = load_score(write_pm(tmp_path / "one.mid", [(40, "Violin", False, [(67, 0.0, 1.0)])]))
    with pytest.raises(ParameterError, match=match):
        cast_score(score, overrides)
    assert cast_score(score, {1: "cello"})[0].spec == "cello"


def test_instrument_spec_canonical_forms():
    assert instrument_spec("Vn") == "violin"
    assert instrument_spec({"fl": 1, "flute": 1}) == "flute"  # one instrument: its name
    assert instrument_spec({"violin": 2, "flute": 2}) == {"violin": 0.5, "flute": 0.5}
    assert dominant_instrument({"violin": 0.4, "oboe": 0.6}).name == "oboe"
    with pytest.raises(ParameterError, match="a name, an Instrument or a blend"):
        instrument_spec(42)


def test_instrument_from_text():
    from midi_ddsp.casting import instrument_from_text

    assert instrument_from_text(" Vn ") == "violin"
    assert instrument_from_text("violin:1+flute:3") == {"violin": 0.25, "flute": 0.75}
    assert instrument_from_text("violin+fl") == {"violin": 0.5, "flute": 0.5}
    assert instrument_from_text({"oboe": 2}) == "oboe"
    for bad, match in [("violin:x", "not a number"), ("violin:-1+flute:1", ">= 0"),
                       ("violin:0", "positive weight"), ("kazoo+flute", "kazoo")]:
        with pytest.raises(ParameterError, match=match):
            instrument_from_text(bad)


def test_transposing_and_speeding_up_keep_the_score_marks():
    from midi_ddsp.casting import _shift_part
    from midi_ddsp.score import Note, NoteMarks, Part

    marks = NoteMarks("p", "crescendo", "staccato")
    part = Part(notes=[Note(60, 0.0, 0.5, 80, marks)])
    note = _shift_part(part, semitones=2, speed_rate=2.0, label="x").notes[0]
    assert (note.pitch, note.offset_s, note.marks) == (62, 0.25, marks)
