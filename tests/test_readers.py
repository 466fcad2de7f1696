"""Tests of data_pipeline.readers on tiny URMP and wav+MIDI fixtures built here."""
from __future__ import annotations

import json

import numpy as np
import pretty_midi
import pytest
import soundfile

from midi_ddsp.data_pipeline.readers import (
    Recording,
    assign_split,
    build_shards_from_recordings,
    load_recording_notes,
    main,
    read_midi_pairs,
    read_urmp,
    read_urmp_notes,
)
from midi_ddsp.data_pipeline.shards import read_manifest, read_shard
from midi_ddsp.errors import InputFileError

SR = 16000


def _tone(notes, seconds, sample_rate=SR):
    """Harmonic tone playing (midi, onset_s, offset_s) notes; silence elsewhere."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    out = np.zeros_like(t)
    for midi, onset, offset in notes:
        f0 = 440.0 * 2 ** ((midi - 69) / 12)
        gate = (t >= onset) & (t < offset)
        for k in (1, 2, 3):
            out += gate * 0.3 / k * np.sin(2 * np.pi * k * f0 * t)
    return out.astype(np.float32)


def _write_midi(path, notes, program):
    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=program)
    for midi, onset, offset in notes:
        inst.notes.append(pretty_midi.Note(velocity=90, pitch=midi, start=onset, end=offset))
    pm.instruments.append(inst)
    pm.write(str(path))


VN_NOTES = [(69, 0.05, 0.45), (71, 0.55, 0.95)]
VC_NOTES = [(48, 0.1, 0.9)]


@pytest.fixture
def urmp_root(tmp_path):
    root = tmp_path / "urmp"
    piece = root / "01_Jupiter_vn_vc"
    piece.mkdir(parents=True)
    soundfile.write(piece / "AuSep_1_vn_01_Jupiter.wav", _tone(VN_NOTES, 1.0), SR)
    soundfile.write(piece / "AuSep_2_vc_01_Jupiter.wav", _tone(VC_NOTES, 1.0, 22050), 22050)
    soundfile.write(piece / "Mix_01_Jupiter_vn_vc.wav", _tone(VN_NOTES + VC_NOTES, 1.0), SR)
    (piece / "Notes_1_vn_01_Jupiter.txt").write_text(
        "0.0500000\t 440.000\t 0.4000000\n0.5500000\t 493.883\t 0.4000000\n")
    (piece / "Notes_2_vc_01_Jupiter.txt").write_text("0.1000000\t 130.813\t 0.8000000\n")
    return root


@pytest.fixture
def pairs_dir(tmp_path):
    folder = tmp_path / "pairs"
    folder.mkdir()
    soundfile.write(folder / "flute_take.wav", _tone([(72, 0.05, 0.7)], 0.8), SR)
    _write_midi(folder / "flute_take.mid", [(72, 0.05, 0.7)], program=73)
    soundfile.write(folder / "piano_take.wav", _tone([(60, 0.1, 0.6)], 0.8), SR)
    _write_midi(folder / "piano_take.mid", [(60, 0.1, 0.6)], program=0)
    (folder / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunk")
    _write_midi(folder / "corrupt.mid", [(60, 0.1, 0.6)], program=73)
    soundfile.write(folder / "orphan.wav", _tone([(60, 0.1, 0.6)], 0.5), SR)
    return folder


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


def test_build_urmp_training_windows(urmp_root, tmp_path):
    out = tmp_path / "out"
    report = build_shards_from_recordings(read_urmp(urmp_root), out, window_s=0.5, split="train")
    assert not report.errors and len(report.written) == 2 and report.n_examples == 4
    records = read_manifest(out / "manifest.jsonl")
    assert [r["status"] for r in records] == ["ok", "ok"]
    violin = read_shard(out / records[0]["shard"])
    assert [e.example_id for e in violin] == ["urmp-01_Jupiter_vn_vc-1-vn-000",
                                              "urmp-01_Jupiter_vn_vc-1-vn-001"]
    for ex in violin:
        assert ex.instrument == "violin" and ex.split == "train"
        assert ex.audio.shape == (8000,) and ex.n_frames == 125
        assert ex.f0_confidence.shape == ex.loudness_db.shape == ex.amplitude.shape == (125,)
        assert ex.harmonic_distribution.shape == (125, 60)
        assert ex.noise_magnitudes.shape == (125, 65)
        assert ex.controls == {}
    # notes relative to each window
    np.testing.assert_allclose(violin[0].notes, [[69, 0.05, 0.45, 100]], atol=1e-5)
    np.testing.assert_allclose(violin[1].notes, [[71, 0.05, 0.45, 100]], atol=1e-5)
    # measured f0 and analysed amplitude follow the tone (0.3 + 0.15 + 0.1 in the notes)
    mid = slice(40, 90)
    assert abs(np.median(1200 * np.log2(violin[0].f0_hz[mid] / 440.0))) < 20
    assert abs(np.median(1200 * np.log2(violin[1].f0_hz[mid] / 493.88))) < 20
    np.testing.assert_allclose(np.median(violin[0].amplitude[mid]), 0.55, rtol=0.1)
    # the 22.05 kHz cello was resampled to 16 kHz
    cello = read_shard(out / records[1]["shard"])
    assert cello[0].instrument == "cello" and cello[0].audio.shape == (8000,)
    assert abs(np.median(1200 * np.log2(cello[0].f0_hz[40:120] / 130.81))) < 30


def test_build_evaluation_keeps_whole_pieces_and_resumes(urmp_root, tmp_path):
    out = tmp_path / "out"
    recordings = read_urmp(urmp_root)
    first = build_shards_from_recordings(recordings[:1], out, split="test")
    assert len(first.written) == 1
    (example,) = read_shard(first.written[0])
    assert example.example_id.endswith("-full") and example.split == "test"
    assert example.n_frames == 250 and example.audio.shape == (16000,)
    np.testing.assert_allclose(example.notes[:, :3], [[69, 0.05, 0.45], [71, 0.55, 0.95]], atol=1e-5)
    again = build_shards_from_recordings(recordings, out, split="test")
    assert again.skipped == [recordings[0].name]
    assert len(again.written) == 1
    assert len(read_manifest(out / "manifest.jsonl")) == 2


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
    soundfile.write(tmp_path / "duo.wav", np.zeros(SR // 2, np.float32), SR)
    (recording,) = read_midi_pairs(tmp_path)
    notes, instrument = load_recording_notes(recording)
    assert instrument == "clarinet" and notes[0, 0] == 62


def test_bad_files_give_error_records_and_the_run_continues(pairs_dir, tmp_path):
    out = tmp_path / "out"
    report = build_shards_from_recordings(read_midi_pairs(pairs_dir), out, split="valid")
    assert [p.name for p in report.written] == ["flute_take.npz"]
    assert len(report.errors) == 3
    joined = "\n".join(report.errors)
    assert str(pairs_dir / "corrupt.wav") in joined  # unreadable audio, named
    assert str(pairs_dir / "orphan.wav") in joined and "no matching .mid" in joined
    assert str(pairs_dir / "piano_take.mid") in joined and "program 0" in joined
    assert all("\n" not in line for line in report.errors)
    records = read_manifest(out / "manifest.jsonl")
    assert sorted(r["status"] for r in records) == ["error", "error", "error", "ok"]
    (flute,) = read_shard(report.written[0])
    assert flute.instrument == "flute" and flute.split == "valid" and flute.n_frames == 200
    # errors are retried on the next run, finished work is skipped
    again = build_shards_from_recordings(read_midi_pairs(pairs_dir), out, split="valid")
    assert again.skipped == ["flute_take"] and len(again.errors) == 3


def test_splits():
    assert assign_split("piece-a") == assign_split("piece-a")
    drawn = [assign_split(f"piece-{i}") for i in range(300)]
    assert set(drawn) == {"train", "valid", "test"}
    assert 0.7 < drawn.count("train") / 300 < 0.9


def test_split_mapping_and_function(urmp_root, tmp_path):
    recordings = read_urmp(urmp_root)[:1]
    report = build_shards_from_recordings(recordings, tmp_path / "a",
                                          split={"urmp-01_Jupiter_vn_vc": "test"})
    assert read_shard(report.written[0])[0].split == "test"
    report = build_shards_from_recordings(recordings, tmp_path / "b", split=lambda source: "bogus")
    assert report.errors and "split" in report.errors[0]


def test_missing_folders_raise(tmp_path):
    with pytest.raises(InputFileError, match="not a folder"):
        read_urmp(tmp_path / "nope")
    with pytest.raises(InputFileError, match="AuSep"):
        read_urmp(tmp_path)
    with pytest.raises(InputFileError, match="no audio"):
        read_midi_pairs(tmp_path)


def test_cli_in_process(pairs_dir, tmp_path):
    out = tmp_path / "cli"
    code = main(["pairs", str(pairs_dir), str(out), "--instrument", "flute", "--split", "test",
                 "--window-s", "4"])
    assert code == 1  # some files failed (corrupt, orphan), the rest was written
    records = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    ok = {r["name"]: r for r in records if r["status"] == "ok"}
    assert set(ok) == {"flute_take", "piano_take"}
    assert ok["piano_take"]["instrument"] == "flute"


def test_recording_is_a_plain_dataclass(tmp_path):
    rec = Recording(name="x", audio_path=tmp_path / "x.wav", notes_path=None, notes_format="midi",
                    instrument=None, source="x")
    with pytest.raises(InputFileError, match="no matching"):
        load_recording_notes(rec)
