"""Tests of midi_ddsp.shards: the shard format (round trip, storage precision, atomic writes,
bad files) and the JSONL manifest (append, torn last line)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from midi_ddsp.errors import InputFileError
from midi_ddsp.shards import Example, append_manifest, read_manifest, read_shard, write_shard


def _example(rng, index, *, analysed=True, n_frames=20, hop=64):
    return Example(
        example_id=f"ex-{index}", instrument="violin", split="train", source=f"piece-{index}",
        audio=rng.standard_normal(n_frames * hop).astype(np.float32),
        notes=np.array([[60, 0.0, 0.04, 90], [62, 0.04, 0.08, 70]], np.float32),
        f0_hz=rng.uniform(100, 400, n_frames).astype(np.float32),
        f0_confidence=rng.uniform(0, 1, n_frames).astype(np.float32),
        loudness_db=rng.uniform(-80, 0, n_frames).astype(np.float32),
        amplitude=rng.uniform(0, 1, n_frames).astype(np.float32) if analysed else None,
        harmonic_distribution=rng.dirichlet(np.ones(60), n_frames).astype(np.float32)
        if analysed else None,
        noise_magnitudes=rng.uniform(0, 0.1, (n_frames, 65)).astype(np.float32) if analysed else None,
        controls={"expression_cc": rng.uniform(0, 127, n_frames).astype(np.float32)}
        if analysed else {})


def test_round_trip_keeps_every_field(tmp_path):
    rng = np.random.default_rng(0)
    examples = [_example(rng, 0), _example(rng, 1, analysed=False, n_frames=10)]
    path = write_shard(tmp_path / "sub" / "a.npz", examples)
    assert path == tmp_path / "sub" / "a.npz" and path.is_file()
    back = read_shard(path)
    assert [e.example_id for e in back] == ["ex-0", "ex-1"]
    first, second = back
    for name in ("example_id", "instrument", "split", "source"):
        assert getattr(first, name) == getattr(examples[0], name)
    for name in ("audio", "notes", "f0_hz", "f0_confidence", "loudness_db", "amplitude"):
        value = getattr(first, name)
        assert value.dtype == np.float32
        np.testing.assert_array_equal(value, getattr(examples[0], name))  # stored exactly
    # the two wide arrays are stored in half precision and read back as float32
    for name in ("harmonic_distribution", "noise_magnitudes"):
        value = getattr(first, name)
        assert value.dtype == np.float32 and value.shape == getattr(examples[0], name).shape
        np.testing.assert_allclose(value, getattr(examples[0], name), rtol=1e-3, atol=1e-4)
    assert set(first.controls) == {"expression_cc"}
    np.testing.assert_array_equal(first.controls["expression_cc"], examples[0].controls["expression_cc"])
    assert first.n_frames == 20 and second.n_frames == 10
    assert second.amplitude is None and second.harmonic_distribution is None
    assert second.noise_magnitudes is None and second.controls == {}
    assert first.note_marks is None


def test_note_marks_round_trip(tmp_path):
    from midi_ddsp.score import NoteMarks

    rng = np.random.default_rng(0)
    example = _example(rng, 0)
    marks = [NoteMarks("p", "crescendo", "staccato+accent", True), NoteMarks(fermata=True)]
    example.notes = example.notes[:2]
    example.note_marks = np.array([m.codes() for m in marks], np.int16)
    back, = read_shard(write_shard(tmp_path / "m.npz", [example]))
    assert [NoteMarks.from_codes(c) for c in back.note_marks] == marks


def test_write_is_atomic_and_leaves_no_temporary_file(tmp_path):
    rng = np.random.default_rng(1)
    write_shard(tmp_path / "a.npz", [_example(rng, 0)])
    write_shard(tmp_path / "a.npz", [_example(rng, 5)])  # replaced whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz"]
    assert [e.example_id for e in read_shard(tmp_path / "a.npz")] == ["ex-5"]


@pytest.mark.parametrize("content", [None, b"", b"not a zip file", b"PK\x03\x04truncated"])
def test_unreadable_shards_raise_naming_the_file(tmp_path, content):
    path = tmp_path / "bad.npz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputFileError, match="not a readable shard") as info:
        read_shard(path)
    assert str(path) in str(info.value)


def test_a_plain_npz_without_metadata_is_not_a_shard(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, audio=np.zeros(4, np.float32))
    with pytest.raises(InputFileError, match="KeyError"):
        read_shard(path)


def test_manifest_appends_lines_and_ignores_a_torn_last_line(tmp_path):
    path = tmp_path / "manifest.jsonl"
    assert read_manifest(path) == []
    append_manifest(path, {"b": 2, "a": 1})
    append_manifest(path, {"status": "ok"})
    assert path.read_text().splitlines() == [json.dumps({"a": 1, "b": 2}), '{"status": "ok"}']
    with open(path, "a", encoding="utf-8") as f:
        f.write('{"status": "o')  # a kill in the middle of a write
    assert read_manifest(path) == [{"a": 1, "b": 2}, {"status": "ok"}]
