"""Tests of midi_ddsp.score.readers: MIDI/MusicXML/kern/abc/PrettyMIDI/NoteSequence input, tempo,
drums, score_from_notes, and one-line errors on bad input."""
from __future__ import annotations

import logging

import mido
import numpy as np
import pretty_midi
import pytest

from midi_ddsp.errors import InputFileError, ParameterError
from midi_ddsp.score import Note, load_score, require_pitched_parts, score_from_notes
from score_files import pitches_onsets, write_pm, write_type0_trio


# ------------------------------------------------------------------ MIDI loading, tempo

def test_tempo_change_puts_note_at_right_second(tmp_path):
    # 480 ticks per beat; tempo 120 bpm (0.5 s/beat), at beat 2 (t = 1 s) switch to 60 bpm
    # (1 s/beat). A note at beat 4 starts at 1 + 2 * 1 = 3 s and lasts one beat = 1 s.
    mid = mido.MidiFile(ticks_per_beat=480)
    conductor = mido.MidiTrack([
        mido.MetaMessage("set_tempo", tempo=500000, time=0),
        mido.MetaMessage("set_tempo", tempo=1000000, time=960),
    ])
    notes = mido.MidiTrack([
        mido.MetaMessage("track_name", name="Flute", time=0),
        mido.Message("program_change", program=73, time=0),
        mido.Message("note_on", note=72, velocity=80, time=0),
        mido.Message("note_off", note=72, velocity=0, time=480),  # beat 0..1: 0.0..0.5 s
        mido.Message("note_on", note=74, velocity=90, time=1440),  # beat 4: 3.0 s
        mido.Message("note_on", note=74, velocity=0, time=480),  # note_on vel 0 = off: 4.0 s
    ])
    mid.tracks += [conductor, notes]
    path = tmp_path / "tempo.mid"
    mid.save(str(path))

    score = load_score(path)
    assert score.source == str(path)
    assert len(score.parts) == 1
    part = score.parts[0]
    assert part.name == "Flute" and part.track == 1 and part.voice == 0
    assert part.program == 73 and part.instrument.name == "flute"
    assert pitches_onsets(part) == [(72, 0.0, 0.5), (74, 3.0, 4.0)]
    assert [n.velocity for n in part.notes] == [80, 90]
    # pretty_midi as an independent reference for the same file
    ref = pretty_midi.PrettyMIDI(str(path)).instruments[0].notes
    assert np.allclose([(n.start, n.end) for n in ref], [(n.onset_s, n.offset_s) for n in part.notes])


def test_pretty_midi_object_and_score_passthrough(tmp_path):
    path = write_pm(tmp_path / "a.mid", [(40, "Vln", False, [(67, 0.0, 0.5), (69, 0.5, 1.0)])])
    pm = pretty_midi.PrettyMIDI(str(path))
    score = load_score(pm)
    assert score.source == "<PrettyMIDI>"
    assert pitches_onsets(score.parts[0]) == [(67, 0.0, 0.5), (69, 0.5, 1.0)]
    assert score.parts[0].instrument.name == "violin"
    assert load_score(score) is score


# ------------------------------------------------------------------ drums

def test_drum_track_reported_and_kept_apart(tmp_path, caplog):
    path = write_pm(tmp_path / "band.mid", [
        (40, "Violin", False, [(67, 0.0, 1.0)]),
        (0, "Kit", True, [(36, 0.0, 0.1), (42, 0.0, 0.1), (38, 0.5, 0.6)]),
    ])
    with caplog.at_level(logging.WARNING, logger="midi_ddsp"):
        score = load_score(path)
    assert [p.name for p in score.pitched_parts] == ["Violin"]
    [drums] = score.drum_parts
    assert drums.is_drum and drums.instrument is None and drums.name == "Kit"
    assert len(drums.notes) == 3  # drums are not split into voices
    assert any("drum" in r.getMessage() and "Kit" in r.getMessage() for r in caplog.records)
    assert require_pitched_parts(score) == score.pitched_parts


def test_drums_only_is_an_error_only_for_require_pitched_parts(tmp_path):
    path = write_pm(tmp_path / "drums.mid", [(0, "Kit", True, [(36, 0.0, 0.1), (38, 0.5, 0.6)])])
    score = load_score(path)  # the API may render drums with FluidSynth
    assert len(score.drum_parts) == 1 and score.pitched_parts == []
    with pytest.raises(InputFileError) as info:
        require_pitched_parts(score)
    assert str(info.value) == f"{path}: contains only drum tracks; nothing for the pitched models to play"


def test_no_model_instrument_is_reported_by_require_pitched_parts(tmp_path):
    path = write_pm(tmp_path / "piano.mid", [(0, "", False, [(60, 0.0, 1.0)])])
    score = load_score(path)
    assert score.parts[0].instrument is None and score.parts[0].name == "Acoustic Grand Piano"
    with pytest.raises(InputFileError, match="Acoustic Grand Piano"):
        require_pitched_parts(score)


# ------------------------------------------------------------------ instruments

def test_nearby_program_maps_with_warning(tmp_path, caplog):
    path = write_pm(tmp_path / "sax.mid", [(65, "Alto", False, [(65, 0.0, 1.0)])])
    with caplog.at_level(logging.WARNING, logger="midi_ddsp"):
        score = load_score(path)
    assert score.parts[0].instrument.name == "saxophone"
    assert any("65" in r.getMessage() and "saxophone" in r.getMessage() for r in caplog.records)



# ------------------------------------------------------------------ other formats

def _music21_score():
    import music21

    s = music21.stream.Score()
    p = music21.stream.Part()
    p.partName = "Flute"
    p.insert(0, music21.instrument.Flute())
    p.append(music21.tempo.MetronomeMark(number=120))
    p.append(music21.note.Note("C5", quarterLength=1))
    p.append(music21.note.Note("D5", quarterLength=1))
    p.append(music21.tempo.MetronomeMark(number=60))
    p.append(music21.note.Note("E5", quarterLength=2))
    s.insert(0, p)
    return s


# Same music by hand: 120 bpm for two beats (0.5 s each), then 60 bpm.
_EXPECTED_XML = [(72, 0.0, 0.5), (74, 0.5, 1.0), (76, 1.0, 3.0)]


def test_musicxml_matches_equivalent_midi(tmp_path):
    xml_path = tmp_path / "tune.musicxml"
    _music21_score().write("musicxml", fp=str(xml_path))
    mxl_path = tmp_path / "packed.mxl"  # music21 removes a same-stem .musicxml
    _music21_score().write("mxl", fp=str(mxl_path))
    mid_path = write_pm(tmp_path / "tune.mid", [(73, "Flute", False, _EXPECTED_XML)])
    from_midi = load_score(mid_path)
    for path in (xml_path, mxl_path):
        score = load_score(path)
        assert len(score.parts) == 1
        part = score.parts[0]
        assert part.track == 0 and part.instrument.name == "flute"
        assert pitches_onsets(part) == _EXPECTED_XML == pitches_onsets(from_midi.parts[0])


def test_abc_matches_equivalent_midi(tmp_path):
    path = tmp_path / "tune.abc"
    path.write_text("X:1\nT:t\nM:4/4\nL:1/4\nQ:1/4=120\nK:C\nc d e f|\n")
    score = load_score(path)
    assert len(score.parts) == 1
    expected = [(72, 0.0, 0.5), (74, 0.5, 1.0), (76, 1.0, 1.5), (77, 1.5, 2.0)]
    assert pitches_onsets(score.parts[0]) == expected
    mid = write_pm(tmp_path / "tune.mid", [(0, "", False, expected)])
    assert pitches_onsets(load_score(mid).parts[0]) == expected


def test_kern_input(tmp_path):
    path = tmp_path / "tune.krn"
    path.write_text("**kern\n*M4/4\n4c\n4d\n2e\n*-\n")
    score = load_score(path)
    assert pitches_onsets(score.parts[0]) == [(60, 0.0, 0.5), (62, 0.5, 1.0), (64, 1.0, 2.0)]
    assert score.parts[0].track == 0


def test_note_sequence_input():
    note_seq = pytest.importorskip("note_seq")
    ns = note_seq.NoteSequence()
    ns.notes.add(pitch=60, start_time=0.0, end_time=0.5, velocity=80, program=42, instrument=0)
    ns.notes.add(pitch=64, start_time=0.0, end_time=0.5, velocity=80, program=42, instrument=0)
    ns.notes.add(pitch=62, start_time=0.5, end_time=1.0, velocity=90, program=42, instrument=0)
    ns.notes.add(pitch=79, start_time=0.25, end_time=1.0, velocity=70, program=73, instrument=1)
    ns.notes.add(pitch=36, start_time=0.0, end_time=0.1, velocity=100, is_drum=True, instrument=9)
    ns.total_time = 1.0
    info = ns.instrument_infos.add()
    info.instrument, info.name = 1, "Fl"
    score = load_score(ns)
    assert score.source == "<NoteSequence>"
    names = [p.name for p in score.parts]
    assert names == ["Cello v1", "Cello v2", "Fl", "Drums"]
    assert pitches_onsets(score.parts[0]) == [(64, 0.0, 0.5)]
    assert pitches_onsets(score.parts[1]) == [(60, 0.0, 0.5), (62, 0.5, 1.0)]
    assert score.parts[2].instrument.name == "flute" and score.parts[2].track == 1
    assert score.drum_parts[0].track == 9


# ------------------------------------------------------------------ bad input

def _valid_midi_bytes(tmp_path):
    path = write_pm(tmp_path / "ok_source.mid", [(40, "V", False, [(60, 0.0, 0.5), (62, 0.5, 1.0)])])
    return path.read_bytes()


def _bad_key_signature_midi(path):
    data = bytearray(_valid_midi_bytes(path.parent))
    mid = mido.MidiFile(ticks_per_beat=480)
    mid.tracks.append(mido.MidiTrack([mido.MetaMessage("key_signature", key="C", time=0)]))
    mid.save(str(path))
    raw = bytearray(path.read_bytes())
    at = raw.index(b"\xff\x59\x02")  # key signature meta: sharps/flats byte out of range
    raw[at + 3] = 0x20
    path.write_bytes(bytes(raw))
    del data


def _make_bad(kind, tmp_path):
    if kind == "missing":
        return tmp_path / "nope.mid", "file not found"
    if kind == "directory":
        d = tmp_path / "folder.mid"
        d.mkdir()
        return d, "is a directory"
    if kind == "empty":
        p = tmp_path / "empty.mid"
        p.write_bytes(b"")
        return p, "file is empty"
    if kind == "text":
        p = tmp_path / "notes.mid"
        p.write_text("this is not midi\n")
        return p, "not a MIDI file"
    if kind == "truncated":
        p = tmp_path / "cut.mid"
        p.write_bytes(_valid_midi_bytes(tmp_path)[:30])
        return p, "truncated MIDI file"
    if kind == "extension":
        p = tmp_path / "song.xyz"
        p.write_text("x")
        return p, ("unknown score format '.xyz'; expected .mid, .midi, .musicxml, .xml, .mxl, "
                   ".krn, .abc")
    if kind == "no_notes":
        p = tmp_path / "silent.mid"
        write_pm(p, [(40, "V", False, [])])
        return p, "contains no notes"
    if kind == "bad_key_signature":
        p = tmp_path / "badkey.mid"
        _bad_key_signature_midi(p)
        return p, "corrupt MIDI file"
    if kind == "corrupt_musicxml":
        p = tmp_path / "broken.musicxml"
        p.write_text('<?xml version="1.0"?><score-partwise><part-list><score-part id="P1">')
        return p, "cannot parse as musicxml"
    if kind == "text_mxl":
        p = tmp_path / "broken.mxl"
        p.write_text("not a zip archive")
        return p, "cannot parse as musicxml"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["missing", "directory", "empty", "text", "truncated", "extension",
                                  "no_notes", "bad_key_signature", "corrupt_musicxml", "text_mxl"])
def test_bad_input_is_one_line_input_file_error(tmp_path, kind):
    path, problem = _make_bad(kind, tmp_path)
    with pytest.raises(InputFileError) as info:
        load_score(path)
    err = info.value
    message = str(err)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert problem in message
    assert err.path == str(path)
    assert err.__cause__ is None and (err.__context__ is None or err.__suppress_context__)


def test_twenty_minute_file_loads_whole(tmp_path):
    # 2400 half-second notes = 20 minutes, plus a second part in chords.
    rng = np.random.default_rng(0)
    melody = [(int(p), 0.5 * k, 0.5 * (k + 1)) for k, p in enumerate(rng.integers(60, 84, 2400))]
    chords = [(p, 2.0 * k, 2.0 * (k + 1)) for k in range(600) for p in (48, 52, 55)]
    path = write_pm(tmp_path / "long.mid", [(73, "Fl", False, melody), (42, "Vc", False, chords)])
    score = load_score(path)
    assert score.end_s == pytest.approx(1200.0)
    assert [len(p.notes) for p in score.parts] == [2400, 600, 600, 600]


# ------------------------------------------------------------------ score_from_notes

def test_score_from_notes():
    score = score_from_notes({
        "violin": [Note(67, 0.0, 0.5), (69, 0.5, 1.0, 90)],
        "Cello 2": [(48, 0.0, 1.0), (52, 0.0, 1.0)],
        "Lead": [(72, 0.0, 1.0)],
    })
    assert [(p.name, p.instrument and p.instrument.name) for p in score.parts] == [
        ("violin", "violin"), ("Cello 2 v1", "cello"), ("Cello 2 v2", "cello"), ("Lead", None)]
    assert score.parts[0].notes[1] == Note(69, 0.5, 1.0, 90)
    assert [p.track for p in score.parts] == [0, 1, 1, 2]
    assert score.end_s == 1.0


@pytest.mark.parametrize("notes, match", [
    ([(128, 0.0, 1.0)], "pitch"),
    ([(60, 1.0, 1.0)], "onset_s < offset_s"),
    ([(60, 0.0, 1.0, 0)], "velocity"),
    ([(60, 0.0)], "3 or 4 items"),
    ([5], "Note objects"),
])
def test_score_from_notes_bad_notes(notes, match):
    with pytest.raises(ParameterError, match=match):
        score_from_notes({"violin": notes})


def test_type0_file_channels_become_separate_parts(tmp_path):
    path = write_type0_trio(tmp_path / "type0.mid")
    score = load_score(path)
    assert [(p.name, p.track, p.is_drum) for p in score.parts] == [
        ("Duo: Violin", 0, False), ("Duo: Cello", 0, False), ("Duo: Drums", 0, True)]
    assert [p.instrument.name for p in score.pitched_parts] == ["violin", "cello"]
    assert pitches_onsets(score.parts[0]) == [(76, 0.0, 0.5)]
