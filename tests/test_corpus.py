"""Tests of data_pipeline.corpus: planning, splits by work, determinism, kill-and-resume."""
from __future__ import annotations

import json

import numpy as np
import pytest

from midi_ddsp.cli import build_corpus as cli
from midi_ddsp.data_pipeline import corpus, melodies
from midi_ddsp.data_pipeline.melodies import MelodyLine
from midi_ddsp.errors import ParameterError
from midi_ddsp.shards import read_manifest, read_shard

INSTRUMENTS = ["flute", "cello"]
MINUTES = {"train": 0.1, "valid": 0.03, "test": 0.03}


def _work_ids(per_split: int) -> list[str]:
    """Made-up work ids, ``per_split`` of each split (splits come from the id hash)."""
    found: dict[str, list[str]] = {"train": [], "valid": [], "test": []}
    i = 0
    while any(len(v) < per_split for v in found.values()):
        work_id = f"essen/fake/X{i}"
        split = melodies.split_for_work(work_id)
        if len(found[split]) < per_split:
            found[split].append(work_id)
        i += 1
    return [w for ids in found.values() for w in ids]


def _lines(per_split: int = 2) -> list[MelodyLine]:
    rng = np.random.default_rng(0)
    lines = []
    for work_id in _work_ids(per_split):
        pitches = 60 + np.cumsum(rng.integers(-3, 4, 8))
        onsets = np.arange(8) * 0.3
        notes = np.stack([pitches, onsets, onsets + 0.3], axis=1).astype(np.float32)
        lines.append(MelodyLine(f"{work_id}#0", work_id, "essen", notes))
    return lines


@pytest.fixture()
def fake_lines(monkeypatch):
    lines = _lines()
    monkeypatch.setattr(corpus.melodies, "export_melodies", lambda *a, **k: list(lines))
    return lines


def _build(out, **kwargs):
    options = dict(seed=0, minutes_per_instrument=MINUTES, instruments=INSTRUMENTS, jobs=1,
                   progress=False)
    options.update(kwargs)
    return corpus.build_corpus(out, **options)


def _all_arrays(out) -> dict:
    arrays = {}
    for record in read_manifest(out / "manifest.jsonl"):
        for ex in read_shard(out / record["shard"]):
            for name in ("audio", "notes", "f0_hz", "loudness_db", "amplitude",
                         "harmonic_distribution", "noise_magnitudes"):
                arrays[(ex.example_id, name)] = getattr(ex, name)
            for name, curve in ex.controls.items():
                arrays[(ex.example_id, name)] = curve
    return arrays


def test_plan_is_deterministic_and_splits_by_work():
    lines = _lines(per_split=3)
    plan = corpus.plan_jobs(lines, seed=0, minutes_per_instrument={"train": 1, "valid": 0.2,
                                                                   "test": 0.2},
                            instruments=INSTRUMENTS)
    again = corpus.plan_jobs(lines, seed=0, minutes_per_instrument={"train": 1, "valid": 0.2,
                                                                    "test": 0.2},
                             instruments=INSTRUMENTS)
    assert plan == again
    assert len({job.job_id for job in plan}) == len(plan)
    split_of_work: dict[str, str] = {}
    for job in plan:
        assert split_of_work.setdefault(job.work_id, job.split) == job.split
        assert melodies.split_for_work(job.work_id) == job.split
    for name in INSTRUMENTS:
        train_s = sum(j.estimated_s for j in plan if j.instrument == name and j.split == "train")
        assert 60.0 <= train_s < 60.0 + 4.0
    other_seed = corpus.plan_jobs(lines, seed=1, minutes_per_instrument={"train": 1},
                                  instruments=INSTRUMENTS)
    assert [j.seed for j in other_seed] != [j.seed for j in plan if j.split == "train"]


def test_segments_cut_at_long_rests():
    notes = np.array([[60 + i, i * 0.5, i * 0.5 + 0.4] for i in range(8)]
                     + [[70 + i, 10 + i * 0.5, 10 + i * 0.5 + 0.4] for i in range(8)], np.float32)
    segments = corpus.segment_lines([MelodyLine("a/b#0", "a/b", "essen", notes)])
    assert [s[0] for s in segments] == ["a/b#0@0", "a/b#0@1"]
    assert all(seg[2][0, 1] == 0 for seg in segments)
    np.testing.assert_allclose(segments[1][2][:, 0], 70 + np.arange(8))


def test_build_writes_shards_manifest_and_no_source_in_two_splits(tmp_path, fake_lines):
    out = tmp_path / "corpus"
    summary = _build(out, window_s=4.0)
    records = read_manifest(out / "manifest.jsonl")
    assert summary.n_jobs == len(records) > 0 and summary.n_rendered == len(records)
    assert {r["split"] for r in records} == {"train", "valid", "test"}
    sources = {}
    for record in records:
        examples = read_shard(out / record["shard"])
        assert len(examples) == record["n_examples"] > 0
        for ex in examples:
            assert sources.setdefault(ex.source, ex.split) == ex.split
            assert ex.instrument == record["instrument"] and ex.split == record["split"]
            n = ex.n_frames
            assert ex.audio.shape == (n * 64,)
            assert ex.loudness_db.shape == ex.amplitude.shape == ex.f0_confidence.shape == (n,)
            assert ex.harmonic_distribution.shape == (n, 60)
            assert ex.noise_magnitudes.shape == (n, 65)
            assert set(ex.controls) >= {"expression_cc", "bend_cents"}
            if ex.split == "train":
                assert n == 1000  # 4-s windows at 250 Hz
            assert np.all(ex.notes[:, 2] > ex.notes[:, 1])
            assert ex.notes[:, 2].max() <= n / 250 + 1e-4
    assert not list(out.rglob(".*tmp*"))


def test_kill_and_resume_gives_the_same_corpus(tmp_path, fake_lines, monkeypatch):
    reference = tmp_path / "reference"
    _build(reference)
    # the default (corpus v2) stores every training segment whole: one example per job
    assert {r["n_examples"] for r in read_manifest(reference / "manifest.jsonl")} == {1}

    out = tmp_path / "killed"
    real_run_job = corpus.run_job
    calls = {"n": 0}

    def dying_run_job(job, out_dir, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt("killed")
        return real_run_job(job, out_dir, **kwargs)

    monkeypatch.setattr(corpus, "run_job", dying_run_job)
    with pytest.raises(KeyboardInterrupt):
        _build(out)
    assert len(read_manifest(out / "manifest.jsonl")) == 3
    # what a hard kill can leave: a torn manifest line, a half-written temp shard, and a shard
    # written but not yet recorded
    with open(out / "manifest.jsonl", "a", encoding="utf-8") as f:
        f.write('{"job_id": "train-flu')
    (out / "shards" / ".train-flute-00009.npz.tmp-12345").write_bytes(b"partial")
    plan = [json.loads(line)["job_id"] for line in (reference / "manifest.jsonl").read_text().splitlines()]
    real_run_job(next(j for j in corpus.plan_jobs(fake_lines, seed=0, minutes_per_instrument=MINUTES,
                                                  instruments=INSTRUMENTS)
                      if j.job_id == plan[4]), out)

    monkeypatch.setattr(corpus, "run_job", real_run_job)
    summary = _build(out)
    assert summary.n_done_before == 3
    assert summary.n_rendered == summary.n_jobs - 4  # the unrecorded shard was not rendered again
    assert (out / "manifest.jsonl").read_text() == (reference / "manifest.jsonl").read_text()
    assert not list(out.rglob(".*tmp*"))
    assert sorted(p.name for p in (out / "shards").iterdir()) == \
        sorted(p.name for p in (reference / "shards").iterdir())
    a, b = _all_arrays(reference), _all_arrays(out)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=str(key))

    again = _build(out)  # a finished build is a no-op
    assert again.n_rendered == 0 and again.n_done_before == again.n_jobs


def test_same_seed_same_arrays_in_two_processes_different_seed_differs(tmp_path, fake_lines):
    minutes = {"train": 0.12}  # 3 jobs: the process pool runs
    _build(tmp_path / "a", minutes_per_instrument=minutes, instruments=["flute"])
    _build(tmp_path / "b", minutes_per_instrument=minutes, instruments=["flute"], jobs=2)
    _build(tmp_path / "c", minutes_per_instrument=minutes, instruments=["flute"], seed=1)
    a, b, c = (_all_arrays(tmp_path / name) for name in "abc")
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=str(key))
    common = [k for k in a if k in c and k[1] == "audio"]
    assert not common or any(a[k].shape != c[k].shape or not np.array_equal(a[k], c[k])
                             for k in common)


def test_other_settings_in_the_same_folder_are_refused(tmp_path, fake_lines):
    _build(tmp_path, minutes_per_instrument={"train": 0.02}, instruments=["flute"])
    with pytest.raises(ParameterError, match="other settings"):
        _build(tmp_path, minutes_per_instrument={"train": 0.02}, instruments=["flute"], seed=3)


@pytest.mark.parametrize("kwargs", [{"minutes_per_instrument": {"training": 1}},
                                    {"minutes_per_instrument": {"train": -1}},
                                    {"jobs": 0}, {"window_s": -1}, {"instruments": ["banjo"]}])
def test_bad_settings_are_rejected(tmp_path, kwargs):
    with pytest.raises(ParameterError):
        _build(tmp_path, **kwargs)


def test_cli_runs_in_process(tmp_path, fake_lines, capsys):
    rc = cli.main(["--out", str(tmp_path / "c"), "--train-minutes", "0.02", "--valid-minutes", "0",
                   "--test-minutes", "0", "--instruments", "tuba", "--jobs", "1", "--no-progress"])
    assert rc == 0
    assert "jobs" in capsys.readouterr().out
    assert len(read_manifest(tmp_path / "c" / "manifest.jsonl")) >= 1
    assert cli.main(["--out", str(tmp_path / "c"), "--seed", "4", "--train-minutes", "0.02",
                     "--instruments", "tuba", "--jobs", "1", "--no-progress"]) == 2
