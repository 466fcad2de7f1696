"""midi_ddsp.batch at scale: Ray and the local pool render the same dataset, augmented datasets
re-render from their manifest alone, a killed run resumes with every file exactly once."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import soundfile

from midi_ddsp.augmentation import Augmentation
from midi_ddsp.batch import MANIFEST_NAME, render_dataset, render_from_manifest

_TIMING_KEYS = ("render_s",)


def _write_midi(path: Path, k: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pm = pretty_midi.PrettyMIDI()
    for j, program in enumerate((40, 73) if k % 2 else (42,)):
        inst = pretty_midi.Instrument(program=program)
        inst.notes = [pretty_midi.Note(90, 60 + 7 * j + (k + i) % 5, 0.15 * i, 0.15 * i + 0.14)
                      for i in range(3 + k % 3)]
        pm.instruments.append(inst)
    pm.write(str(path))
    return path


def _corpus(folder: Path, n: int) -> Path:
    for k in range(n):
        _write_midi(folder / f"piece{k:02d}.mid", k)
    return folder


def _manifest(root: Path) -> list[dict]:
    rows = [json.loads(line) for line in (root / MANIFEST_NAME).read_text().splitlines()]
    for row in rows:
        for key in _TIMING_KEYS:
            row.pop(key)
        row["output_dir"] = os.path.relpath(row["output_dir"], root)
    return rows


def _mixes(root: Path) -> dict:
    return {p.parent.relative_to(root).as_posix(): soundfile.read(p, dtype="int16")[0]
            for p in sorted(root.rglob("mix.wav"))}


def test_ray_and_local_render_the_same_dataset(tiny_models, tmp_path):
    pytest.importorskip("ray")
    src = _corpus(tmp_path / "in", 12)
    local = render_dataset([src], tmp_path / "local", models=tiny_models, jobs=2, seed=4,
                           save_params=False)
    ray = render_dataset([src], tmp_path / "ray", models=tiny_models, jobs=2, engine="ray", seed=4,
                         save_params=False)
    assert local.n_ok == ray.n_ok == 12
    assert _manifest(tmp_path / "local") == _manifest(tmp_path / "ray")
    a, b = _mixes(tmp_path / "local"), _mixes(tmp_path / "ray")
    assert sorted(a) == sorted(b) and len(a) == 12
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])


def test_an_augmented_dataset_renders_again_from_its_manifest(tiny_models, tmp_path):
    src = _corpus(tmp_path / "in", 5)
    aug = Augmentation(ensembles=("string_quartet", "woodwind_quartet"), speed_range=(0.8, 1.2),
                       timing_jitter_ms=10.0, temperature_range=(0.3, 0.9),
                       pitch_offset_range=(-2, 2), reverbs=("dry", "room", "hall"), seed=7)
    first = render_dataset([src], tmp_path / "a", models=tiny_models, augmentation=aug,
                           save_params=False, normalize="peak")
    assert first.n_ok == 5
    options = [r["options"] for r in first.rows]
    assert len({json.dumps(o, sort_keys=True) for o in options}) == 5  # every file its own draw
    meta = json.loads((tmp_path / "a/piece00/metadata.json").read_text())
    assert meta["render_options"] == options[0] and meta["settings"]["speed_rate"] == options[0]["speed_rate"]
    again = render_from_manifest(tmp_path / "a" / MANIFEST_NAME, tmp_path / "b", models=tiny_models,
                                 save_params=False)
    assert again.n_ok == 5 and [r["options"] for r in again.rows] == options
    a, b = _mixes(tmp_path / "a"), _mixes(tmp_path / "b")
    assert sorted(a) == sorted(b) and len(a) == 5
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    # the draws are what was played: another augmentation seed sounds different
    other = render_dataset([src / "piece00.mid"], tmp_path / "c", models=tiny_models,
                           augmentation=Augmentation(**dict(aug.describe(), seed=8)),
                           save_params=False, normalize="peak")
    assert other.rows[0]["options"] != options[0]


def test_a_killed_run_resumes_with_every_file_exactly_once(tiny_checkpoints, tmp_path):
    src = _corpus(tmp_path / "in", 8)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "midi_ddsp.cli.synthesize", "--midi-dir", str(src),
               "--output-dir", str(out), "--skip-existing-files", "--quiet",
               "--synthesis-generator-weight-path", str(tiny_checkpoints["synthesis_generator"]),
               "--expression-generator-weight-path", str(tiny_checkpoints["expression_generator"])]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(out.glob("*/metadata.json"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(list(out.glob("*/metadata.json")))
    assert 2 <= done_before < 8, "the run should be killed part way"
    for folder in out.iterdir():  # what carries a final name is complete
        assert folder.name.startswith(".") or folder.name == MANIFEST_NAME or \
            (folder / "metadata.json").exists()
    status = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert status.returncode == 0, status.stderr
    rows = [json.loads(line) for line in (out / MANIFEST_NAME).read_text().splitlines()]
    assert sorted(Path(r["file"]).name for r in rows) == [f"piece{k:02d}.mid" for k in range(8)]
    assert sum(r["status"] == "skipped" for r in rows) >= done_before
    assert all(r["status"] in ("ok", "skipped") for r in rows)
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no temporary folders
