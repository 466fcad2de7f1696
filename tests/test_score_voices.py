"""Tests of midi_ddsp.score.voices: polyphonic tracks split into monophonic voices."""
from __future__ import annotations

import logging

import pretty_midi
import pytest

from midi_ddsp.score import load_score
from score_files import pitches_onsets, write_pm


# ------------------------------------------------------------------ voice splitting

def test_chord_in_one_track_becomes_simultaneous_voices(tmp_path):
    chord1 = [(72, 0.0, 1.0), (67, 0.0, 1.0), (64, 0.0, 1.0)]
    chord2 = [(74, 1.0, 2.0), (67, 1.0, 2.0), (65, 1.0, 2.0)]
    path = write_pm(tmp_path / "chords.mid", [(40, "Strings", False, chord1 + chord2)])
    score = load_score(path)
    assert [p.name for p in score.parts] == ["Strings v1", "Strings v2", "Strings v3"]
    assert [p.voice for p in score.parts] == [0, 1, 2]
    # pretty_midi writes a type-1 file: track 0 holds the tempo map, the notes are track 1
    assert all(p.track == 1 and p.instrument.name == "violin" for p in score.parts)
    assert pitches_onsets(score.parts[0]) == [(72, 0.0, 1.0), (74, 1.0, 2.0)]
    assert pitches_onsets(score.parts[1]) == [(67, 0.0, 1.0), (67, 1.0, 2.0)]
    assert pitches_onsets(score.parts[2]) == [(64, 0.0, 1.0), (65, 1.0, 2.0)]
    for part in score.parts:  # monophonic
        for a, b in zip(part.notes, part.notes[1:]):
            assert a.offset_s <= b.onset_s


def test_chorale_texture_stays_four_voices(tmp_path):
    # Four lines that come close to each other (soprano dips to the alto's old pitch) but never
    # cross: the splitter must give back exactly these lines.
    soprano = [72, 71, 67, 69, 72, 74, 72]
    alto = [67, 67, 64, 65, 67, 67, 64]
    tenor = [64, 62, 60, 60, 64, 62, 60]
    bass = [48, 55, 52, 53, 45, 43, 48]
    lines = [soprano, alto, tenor, bass]
    notes = []
    for line in lines:
        for k, pitch in enumerate(line):
            notes.append((pitch, 0.5 * k, 0.5 * (k + 1)))
    path = write_pm(tmp_path / "chorale.mid", [(52, "Choir", False, notes)])
    score = load_score(path)
    assert len(score.parts) == 4
    for part, line in zip(score.parts, lines):
        assert [n.pitch for n in part.notes] == line
        assert [n.onset_s for n in part.notes] == pytest.approx([0.5 * k for k in range(len(line))])


def test_legato_and_same_pitch_overlaps_are_trimmed_not_split(tmp_path):
    notes = [(60, 0.0, 0.52), (62, 0.5, 1.02), (64, 1.0, 1.5),  # 20 ms legato overlaps
             (64, 1.5, 2.4), (64, 2.0, 2.5)]  # same pitch restruck while sounding
    path = write_pm(tmp_path / "legato.mid", [(71, "Clarinet", False, notes)])
    score = load_score(path)
    assert len(score.parts) == 1
    part = score.parts[0]
    assert part.name == "Clarinet"
    assert pitches_onsets(part) == [(60, 0.0, 0.5), (62, 0.5, 1.0), (64, 1.0, 1.5),
                                     (64, 1.5, 2.0), (64, 2.0, 2.5)]


def test_zero_length_notes_dropped_with_warning(caplog):
    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=73)
    inst.notes += [pretty_midi.Note(100, 72, 0.0, 0.5), pretty_midi.Note(100, 74, 0.5, 0.5),
                   pretty_midi.Note(100, 76, 0.5, 1.0)]
    pm.instruments.append(inst)
    with caplog.at_level(logging.WARNING, logger="midi_ddsp"):
        score = load_score(pm)
    assert [n.pitch for n in score.parts[0].notes] == [72, 76]
    assert any("zero-length" in r.getMessage() for r in caplog.records)

