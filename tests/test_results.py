"""Tests of midi_ddsp.results: the result type and writing it to a folder atomically."""
import json
import os

import numpy as np
import pandas as pd
import pytest

from midi_ddsp.errors import InputFileError, ParameterError
from midi_ddsp.pipeline import synthesize_midi
from midi_ddsp.results import SynthesisResult, write_result
from midi_ddsp.score import Note, score_from_notes


@pytest.fixture(scope="module")
def duet_result(tiny_models):
    return synthesize_midi(score_from_notes({
        "violin": [Note(67, 0.0, 0.3, 90), Note(69, 0.3, 0.6, 100)],
        "flute": [Note(72, 0.1, 0.5, 80)],
    }), models=tiny_models, seed=3)


def test_write_result_layout_and_atomic_replace(duet_result, tmp_path):
    out = tmp_path / "song"
    meta = write_result(duet_result, out, save_params=True, plot=True)
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert names == ["metadata.json", "mix.wav", "note_tables/00_violin.csv", "note_tables/01_flute.csv",
                     "params/00_violin.npz", "params/01_flute.npz", "plots/00_violin.png",
                     "plots/01_flute.png", "stems/00_violin.wav", "stems/01_flute.wav"]
    on_disk = json.loads((out / "metadata.json").read_text())
    assert on_disk["files"]["stems"]["violin"] == "stems/00_violin.wav" == meta["files"]["stems"]["violin"]
    csv = pd.read_csv(out / "note_tables/00_violin.csv")
    np.testing.assert_allclose(csv.to_numpy(), duet_result.note_tables["violin"].to_numpy(), atol=1e-5)
    npz = np.load(out / "params/00_violin.npz")
    np.testing.assert_array_equal(npz["f0_hz"], duet_result.synth_params["violin"].f0_hz)
    np.testing.assert_array_equal(npz["note_vibrato"], duet_result.note_tables["violin"]["vibrato"])
    (out / "stale.txt").write_text("old")
    write_result(duet_result, out)  # replaces the folder as a whole
    assert not (out / "stale.txt").exists() and not (out / "params").exists()
    assert sorted(os.listdir(tmp_path)) == ["song"]  # no temporary folders left


def test_write_result_unwritable_folder(duet_result, tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(InputFileError, match="file.txt"):
        write_result(duet_result, blocker / "song")




def test_part_info_names_the_missing_part(duet_result):
    assert isinstance(duet_result, SynthesisResult)
    assert duet_result.part_info("flute")["index"] == 1
    with pytest.raises(ParameterError, match="no rendered part named 'oboe'; parts: violin, flute"):
        duet_result.part_info("oboe")


def test_an_edited_table_is_the_one_written_and_csv_reads_back_exactly(duet_result, tmp_path):
    import dataclasses

    result = dataclasses.replace(duet_result, note_tables=duet_result.note_tables.copy())
    assert "violin" in result.note_tables and len(result.note_tables) == 2
    table = result.note_tables["violin"].copy()
    table.loc[1, "volume"] = 0.123
    table["comment"] = "mine"                  # a column of the user's: not a NoteTable column
    result.note_tables["violin"] = table
    write_result(result, tmp_path / "e")
    back = pd.read_csv(tmp_path / "e" / "note_tables/00_violin.csv")
    assert list(back.columns) == list(duet_result.note_tables["violin"].columns)
    assert back.loc[1, "volume"] == pytest.approx(0.123, abs=1e-7)
    flute = pd.read_csv(tmp_path / "e" / "note_tables/01_flute.csv").to_numpy(np.float32)
    np.testing.assert_array_equal(flute, duet_result.note_tables["flute"].to_numpy(np.float32))
    del result.note_tables["flute"]
    assert list(result.note_tables) == ["violin"]
