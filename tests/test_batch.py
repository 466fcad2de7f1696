"""Tests of midi_ddsp.batch: file discovery, output planning, manifest, resume, failures, jobs."""
from __future__ import annotations

import json
from pathlib import Path

import pretty_midi
import pytest

from midi_ddsp import wav
from midi_ddsp.batch import (
    MANIFEST_NAME,
    check_output_root,
    find_score_files,
    plan_outputs,
    render_dataset,
)
from midi_ddsp.errors import InputFileError, ParameterError


@pytest.fixture(scope="module")
def model(tiny_models):
    return tiny_models


def write_midi(path: Path, pitches=(67, 69), program=40) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=program)
    inst.notes = [pretty_midi.Note(100, p, 0.2 * i, 0.2 * i + 0.2) for i, p in enumerate(pitches)]
    pm.instruments.append(inst)
    pm.write(str(path))
    return path


def read_manifest(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / MANIFEST_NAME).read_text().splitlines()]


def test_find_score_files_recursive_and_filtered(tmp_path):
    write_midi(tmp_path / "in/b.mid")
    write_midi(tmp_path / "in/sub/a.midi")
    (tmp_path / "in/sub/c.mxl").write_bytes(b"x")
    (tmp_path / "in/notes.txt").write_text("not a score")
    (tmp_path / "in/.hidden").mkdir()
    write_midi(tmp_path / "in/.hidden/h.mid")
    found = find_score_files([tmp_path / "in", tmp_path / "loose.mid"])
    assert [rel for _, rel in found] == ["b.mid", "sub/a.midi", "sub/c.mxl", "loose.mid"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFileError, match="empty.*no score files"):
        find_score_files([tmp_path / "empty"])


def test_plan_outputs_mirrors_folders_and_dedupes(tmp_path):
    items = plan_outputs([("x/a.mid", "a.mid"), ("y/a.mxl", "a.mxl"), ("d/s/b.mid", "s/b.mid"),
                          ("z/A.mid", "A.mid")], tmp_path)
    assert [Path(i.output_dir).relative_to(tmp_path).as_posix() for i in items] == [
        "a", "a_2", "s/b", "A_3"]


def test_check_output_root(tmp_path):
    assert check_output_root(tmp_path / "new/deeper") == str(tmp_path / "new/deeper")
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(InputFileError, match="file.txt.*cannot be written"):
        check_output_root(blocker / "out")


def test_render_dataset_manifest_failures_and_resume(model, tmp_path):
    src = tmp_path / "corpus"
    write_midi(src / "one.mid")
    write_midi(src / "deep/two.mid", pitches=(72, 74, 76))
    (src / "bad.mid").write_text("this is text, not MIDI")
    out = tmp_path / "out"
    report = render_dataset([src], out, models=model, seed=7)
    assert (report.n_ok, report.n_failed, report.n_skipped) == (2, 1, 0)
    rows = {Path(r["file"]).name: r for r in read_manifest(out)}
    assert rows["one.mid"]["status"] == "ok" and rows["one.mid"]["error"] == ""
    assert rows["one.mid"]["parts"] == ["Violin"] and rows["one.mid"]["instruments"] == ["violin"]
    assert rows["one.mid"]["seed"] == 7 and rows["one.mid"]["duration_s"] > 0.4
    assert rows["bad.mid"]["status"] == "failed"
    assert "bad.mid" in rows["bad.mid"]["error"] and "not a MIDI file" in rows["bad.mid"]["error"]
    for name in ("one", "deep/two"):
        folder = out / name
        assert (folder / "mix.wav").exists() and (folder / "metadata.json").exists()
        assert len(list((folder / "params").glob("*.npz"))) == 1  # datasets: params by default
    assert not (out / "bad").exists()
    assert not [p for p in out.rglob(".*") if p.name != MANIFEST_NAME]  # no temporary leftovers

    # resume: finished files are skipped (not rewritten), the failed one is tried again
    mtime = (out / "one/mix.wav").stat().st_mtime_ns
    again = render_dataset([src], out, models=model, seed=7)
    assert (again.n_ok, again.n_failed, again.n_skipped) == (0, 1, 2)
    assert (out / "one/mix.wav").stat().st_mtime_ns == mtime
    assert [r["status"] for r in read_manifest(out)] == ["failed", "skipped", "skipped"]
    fresh = render_dataset([src / "one.mid"], out, models=model, skip_existing=False)
    assert fresh.n_ok == 1 and (out / "one/mix.wav").stat().st_mtime_ns != mtime


def test_interrupted_file_leaves_no_half_written_folder(model, tmp_path, monkeypatch):
    write_midi(tmp_path / "a.mid")
    write_midi(tmp_path / "b.mid")
    real = wav.write_wav
    calls = {"n": 0}

    def flaky(path, audio, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # dies after mix.wav of the first file was written
            raise OSError(28, "No space left on device")
        return real(path, audio, **kwargs)

    monkeypatch.setattr("midi_ddsp.results.write_wav", flaky)
    out = tmp_path / "out"
    report = render_dataset([tmp_path / "a.mid", tmp_path / "b.mid"], out, models=model)
    assert [r["status"] for r in report.rows] == ["failed", "ok"]
    assert "No space left" in report.rows[0]["error"]
    assert not (out / "a").exists() and (out / "b/metadata.json").exists()
    assert sorted(p.name for p in out.iterdir()) == ["b", MANIFEST_NAME]
    monkeypatch.setattr("midi_ddsp.results.write_wav", real)
    resumed = render_dataset([tmp_path / "a.mid", tmp_path / "b.mid"], out, models=model)
    assert [r["status"] for r in resumed.rows] == ["ok", "skipped"]


def test_missing_input_is_recorded_not_raised(model, tmp_path):
    report = render_dataset([tmp_path / "nope.mid"], tmp_path / "out", models=model)
    assert report.n_failed == 1 and "nope.mid: file not found" in report.rows[0]["error"]


def test_jobs_validation(model, tmp_path):
    with pytest.raises(ParameterError, match="jobs"):
        render_dataset([tmp_path], tmp_path / "out", models=model, jobs=0)


def test_normalize_is_passed_to_every_file(model, tmp_path):
    song = write_midi(tmp_path / "in/song.mid")
    levels = {}
    for mode in ("loudness", "peak", "none", False):
        out = tmp_path / f"out_{mode}"
        report = render_dataset([song], out, models=model, normalize=mode, subtype="FLOAT")
        assert report.n_ok == 1
        meta = json.loads((out / "song/metadata.json").read_text())
        expected = "none" if mode is False else mode
        assert meta["settings"]["normalize"] == expected and meta["mix"]["normalize"] == expected
        levels[mode] = meta["mix"]
    assert levels["peak"]["peak_dbfs"] == pytest.approx(-1.0, abs=1e-3)
    assert levels["none"]["gain_db"] == 0.0 and levels[False]["gain_db"] == 0.0
    assert levels["loudness"]["true_peak_dbtp"] <= -1.0 + 1e-3
    # a bad mode fails once, before any file is rendered
    with pytest.raises(ParameterError, match="normalize must be one of"):
        render_dataset([song], tmp_path / "bad", models=model, normalize="lufs")
    assert not (tmp_path / "bad" / "song").exists()


def test_parallel_jobs_match_serial(model, tmp_path):
    files = [write_midi(tmp_path / f"in/{n}.mid", pitches=p) for n, p in
             (("a", (67,)), ("b", (72, 71)))]
    serial = render_dataset(files, tmp_path / "serial", models=model, save_params=False)
    assert serial.n_ok == 2
    parallel = render_dataset(files, tmp_path / "parallel", models=model, jobs=2, save_params=False)
    assert [r["status"] for r in parallel.rows] == ["ok", "ok"]
    import soundfile

    for name in ("a", "b"):
        x, _ = soundfile.read(tmp_path / f"serial/{name}/mix.wav")
        y, _ = soundfile.read(tmp_path / f"parallel/{name}/mix.wav")
        assert x.shape == y.shape and abs(x - y).max() < 1e-3
