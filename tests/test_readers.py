"""Tests of data_pipeline.readers on tiny URMP and wav+MIDI fixtures (``urmp_root``, ``pairs_dir``:
tests/conftest.py)."""
from __future__ import annotations

import numpy as np
import pretty_midi
import pytest
import soundfile

from midi_ddsp.data_pipeline.readers import (
    Recording,
    load_recording_notes,
    read_midi_pairs,
    read_urmp,
    read_urmp_notes,
)
from midi_ddsp.errors import InputFileError

# ------------------------------------------------------------------------------ URMP
def test_read_urmp_layout(urmp_root):
    recordings = read_urmp(urmp_root)
    assert [r.name for r in recordings] == ["urmp-01_Jupiter_vn_vc-1-vn", "urmp-01_Jupiter_vn_vc-2-vc"]
    assert {r.source for r in recordings} == {"urmp-01_Jupiter_vn_vc"}
    assert all(r.notes_format == "urmp" and r.notes_path.is_file() for r in recordings)
    notes, instrument = load_recording_notes(recordings[0])
    assert instrument == "violin"
    np.testing.assert_allclose(notes, [[69, 0.05, 0.45, 100], [71, 0.55, 0.95, 100]], atol=1e-5)
    assert load_recording_notes(recordings[1])[1] == "cello"


def test_read_urmp_notes_format(tmp_path):
    path = tmp_path / "Notes_1_fl_02_x.txt"
    path.write_text("# comment\n\n1.0  261.626  0.5\n0.25\t440\t0.25\n")
    notes = read_urmp_notes(path)
    np.testing.assert_allclose(notes, [[69, 0.25, 0.5, 100], [60, 1.0, 1.5, 100]], atol=1e-5)
    path.write_text("1.0 60 0.5\n")
    assert read_urmp_notes(path, pitch_unit="midi")[0, 0] == 60


@pytest.mark.parametrize("text, message", [
    ("0.1 440\n", "line 1"),
    ("0.1 440 0.5\n0.2 abc 0.3\n", "line 2"),
    ("0.1 440 -0.5\n", "invalid note"),
    ("\n# nothing\n", "no notes"),
])
def test_read_urmp_notes_errors_name_the_file(tmp_path, text, message):
    path = tmp_path / "Notes_1_vn_01_x.txt"
    path.write_text(text)
    with pytest.raises(InputFileError, match=message) as info:
        read_urmp_notes(path)
    assert str(path) in str(info.value)


# ------------------------------------------------------------------------------ wav + MIDI pairs
def test_read_midi_pairs(pairs_dir):
    recordings = read_midi_pairs(pairs_dir)
    by_name = {r.name: r for r in recordings}
    assert set(by_name) == {"corrupt", "flute_take", "orphan", "piano_take"}
    assert by_name["orphan"].notes_path is None
    notes, instrument = load_recording_notes(by_name["flute_take"])
    assert instrument == "flute"
    np.testing.assert_allclose(notes, [[72, 0.05, 0.7, 90]], atol=1e-3)
    forced = read_midi_pairs(pairs_dir, instrument="ob")
    assert load_recording_notes({r.name: r for r in forced}["piano_take"])[1] == "oboe"


def test_first_pitched_part_of_a_multi_track_midi(tmp_path):
    pm = pretty_midi.PrettyMIDI()
    for program, pitch in ((71, 62), (42, 40)):
        inst = pretty_midi.Instrument(program=program)
        inst.notes.append(pretty_midi.Note(velocity=80, pitch=pitch, start=0.1, end=0.4))
        pm.instruments.append(inst)
    pm.write(str(tmp_path / "duo.mid"))
    soundfile.write(tmp_path / "duo.wav", np.zeros(16000 // 2, np.float32), 16000)
    (recording,) = read_midi_pairs(tmp_path)
    notes, instrument = load_recording_notes(recording)
    assert instrument == "clarinet" and notes[0, 0] == 62


def test_missing_folders_raise(tmp_path):
    with pytest.raises(InputFileError, match="not a folder"):
        read_urmp(tmp_path / "nope")
    with pytest.raises(InputFileError, match="AuSep"):
        read_urmp(tmp_path)
    with pytest.raises(InputFileError, match="no audio"):
        read_midi_pairs(tmp_path)


def test_recording_is_a_plain_dataclass(tmp_path):
    rec = Recording(name="x", audio_path=tmp_path / "x.wav", notes_path=None, notes_format="midi",
                    instrument=None, source="x")
    with pytest.raises(InputFileError, match="no matching"):
        load_recording_notes(rec)
