"""Tests of data_pipeline.melodies: abc/music21 line export, monophony, splits, cache."""
from __future__ import annotations

import collections

import numpy as np
import pytest

from midi_ddsp.data_pipeline import melodies
from midi_ddsp.data_pipeline.melodies import MelodyLine, WorkRef
from midi_ddsp.errors import ParameterError

_TUNE = """X:1
T:test one
M:4/4
L:1/4
K:C
C D E2 | z G- G c | d e f g |]

X:2
T:test two
M:4/4
L:1/4
K:C
[CEG] F/ F/ A2 | B4 | c d e f |]
"""


@pytest.fixture()
def abc_file(tmp_path):
    path = tmp_path / "tunes.abc"
    path.write_text(_TUNE, encoding="latin-1")
    return path


def test_parse_tune_matches_hand_written_notes(abc_file):
    lines = melodies.parse_work(WorkRef("essen/tunes/X1", "essen", str(abc_file), 1))
    assert len(lines) == 1
    line = lines[0]
    assert line.line_id == "essen/tunes/X1#0" and line.work_id == "essen/tunes/X1"
    q = melodies.BASE_SECONDS_PER_QUARTER["essen"]
    # C D E2 | z G- G c | d e f g: the tie is merged, the rest leaves a gap, times in seconds
    expected = np.array([[60, 0, 1], [62, 1, 2], [64, 2, 4], [67, 5, 7], [72, 7, 8],
                         [74, 8, 9], [76, 9, 10], [77, 10, 11], [79, 11, 12]], float)
    expected[:, 1:] *= q
    np.testing.assert_allclose(line.notes, expected, atol=1e-6)
    assert line.notes.dtype == np.float32 and line.notes.shape == (9, 3)


def test_second_tune_chord_keeps_top_note(abc_file):
    line = melodies.parse_work(WorkRef("essen/tunes/X2", "essen", str(abc_file), 2))[0]
    q = melodies.BASE_SECONDS_PER_QUARTER["essen"]
    np.testing.assert_allclose(line.notes[:, 0], [67, 65, 65, 69, 71, 72, 74, 76, 77])
    np.testing.assert_allclose(line.notes[:, 1] / q, [0, 1, 1.5, 2, 4, 8, 9, 10, 11], atol=1e-6)


def test_unknown_tune_number_is_an_error(abc_file):
    with pytest.raises(ParameterError):
        melodies.parse_work(WorkRef("essen/tunes/X9", "essen", str(abc_file), 9))


@pytest.mark.parametrize("rows, expected", [
    # same onset: the highest note wins
    ([(0, 1, 60), (0, 1, 64), (1, 2, 62)], [[64, 0, 1], [62, 1, 2]]),
    # a note sounding into the next onset is cut there
    ([(0, 2, 60), (1, 2, 67)], [[60, 0, 1], [67, 1, 2]]),
    ([], np.zeros((0, 3))),
])
def test_monophonic(rows, expected):
    np.testing.assert_allclose(melodies._monophonic(rows), np.asarray(expected, float).reshape(-1, 3))


def test_split_is_deterministic_and_near_the_fractions():
    ids = [f"essen/file/X{i}" for i in range(4000)]
    splits = [melodies.split_for_work(i) for i in ids]
    assert splits == [melodies.split_for_work(i) for i in ids]
    counts = collections.Counter(splits)
    assert set(counts) == {"train", "valid", "test"}
    assert abs(counts["train"] / 4000 - 0.85) < 0.03
    assert abs(counts["valid"] / 4000 - 0.075) < 0.02
    assert abs(counts["test"] / 4000 - 0.075) < 0.02


def test_lines_of_one_work_share_a_split():
    lines = [MelodyLine(f"bach/bwv{w}#{v}", f"bach/bwv{w}", "bach", np.zeros((1, 3), np.float32))
             for w in range(50) for v in range(4)]
    grouped = melodies.lines_by_split(lines)
    for split, members in grouped.items():
        for line in members:
            assert melodies.split_for_work(line.work_id) == split
    works_per_split = [{line.work_id for line in members} for members in grouped.values()]
    assert sum(len(w) for w in works_per_split) == 50  # no work in two splits


def test_list_works_multi_tune_files_and_sorted_ids():
    works = melodies.list_works("oneill")
    assert len(works) > 1000
    assert all(w.tune is not None and w.work_id.startswith("oneill/") for w in works[:10])
    assert len({w.work_id for w in works}) == len(works)
    with pytest.raises(ParameterError):
        melodies.list_works("mozart")


def test_export_uses_the_cache(tmp_path, monkeypatch):
    lines = melodies.export_melodies(tmp_path, budget=3, shares={"essen": 1.0}, jobs=1)
    assert len(lines) >= 3
    assert all(line.collection == "essen" for line in lines)
    for line in lines:  # monophonic, sorted, starting at 0
        n = line.notes
        assert n[0, 1] == 0 and np.all(n[:, 2] > n[:, 1]) and np.all(n[1:, 1] >= n[:-1, 2] - 1e-6)

    def boom(work):
        raise AssertionError("parsed again despite the cache")

    monkeypatch.setattr(melodies, "parse_work", boom)
    again = melodies.export_melodies(tmp_path, budget=3, shares={"essen": 1.0}, jobs=1)
    assert [line.line_id for line in again] == [line.line_id for line in lines]
    for a, b in zip(again, lines):
        np.testing.assert_allclose(a.notes, b.notes, atol=1e-5)


@pytest.mark.parametrize("kwargs", [{"budget": 0}, {"budget": 2.5}, {"jobs": 0},
                                    {"shares": {"mozart": 1.0}}])
def test_export_rejects_bad_options(tmp_path, kwargs):
    with pytest.raises(ParameterError):
        melodies.export_melodies(tmp_path, **kwargs)
