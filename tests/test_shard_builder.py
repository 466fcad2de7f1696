"""Tests of data_pipeline.shard_builder: note windows, training windows and whole pieces from
recordings, error records, resuming, splits and the ``midi_ddsp_build_shards`` command."""
from __future__ import annotations

import json

import numpy as np
import pytest

from midi_ddsp.cli.build_shards import main as build_shards_main
from midi_ddsp.data_pipeline.readers import read_midi_pairs, read_urmp
from midi_ddsp.data_pipeline.shard_builder import assign_split, build_shards_from_recordings, window_notes
from midi_ddsp.shards import read_manifest, read_shard


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_window_notes_clips_shifts_and_drops(dtype):
    notes = np.array([[60, 0.0, 0.5, 80],    # ends before the window
                      [62, 0.5, 1.2, 90],    # starts before it: onset clipped to 0
                      [64, 1.2, 1.2, 70],    # no duration: dropped
                      [65, 1.5, 2.5, 100],   # ends after it: offset clipped to the length
                      [67, 2.0, 2.4, 60]],   # starts at its end: outside
                     dtype)
    out = window_notes(notes, 1.0, 2.0)
    assert out.dtype == np.float32 and out.shape == (2, 4)
    np.testing.assert_allclose(out, [[62, 0.0, 0.2, 90], [65, 0.5, 1.0, 100]], atol=1e-6)
    assert window_notes(notes, 3.0, 4.0).shape == (0, 4)
    whole = window_notes(notes, 0.0, 3.0)
    np.testing.assert_array_equal(whole, notes[[0, 1, 3, 4]].astype(np.float32))


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

def test_cli_in_process(pairs_dir, tmp_path):
    out = tmp_path / "cli"
    code = build_shards_main(["pairs", str(pairs_dir), str(out), "--instrument", "flute", "--split", "test",
                 "--window-s", "4"])
    assert code == 1  # some files failed (corrupt, orphan), the rest was written
    records = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    ok = {r["name"]: r for r in records if r["status"] == "ok"}
    assert set(ok) == {"flute_take", "piano_take"}
    assert ok["piano_take"]["instrument"] == "flute"


def test_cli_bad_folder_exits_2(tmp_path, caplog):
    code = build_shards_main(["urmp", str(tmp_path / "nope"), str(tmp_path / "out")])
    assert code == 2 and "not a folder" in caplog.text
    assert not (tmp_path / "out" / "manifest.jsonl").exists()
