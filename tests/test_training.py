"""Tests of midi_ddsp.training (data, losses, the resumable loop) and cli/train.py."""
import csv

import numpy as np
import pytest
import torch

from midi_ddsp.cli.train import main as train_main
from midi_ddsp.errors import InputFileError
from midi_ddsp.models import load_model
from midi_ddsp.training import CorpusPool, TrainConfig, train, write_synthetic_corpus
from midi_ddsp.training.datasets import expression_batch, inference_batch, synthesis_batch

TINY = dict(tiny=True, batch_size=2, crop_frames=100, save_every=2, log_every=1, refresh_every=0)


def test_pool_and_batches(corpus):
    pool = CorpusPool(corpus, split="train", keep_audio=True)
    assert pool.refresh() == 4 and pool.refresh() == 0 and len(pool) == 4
    rng = np.random.default_rng(0)
    b = synthesis_batch(pool.records, rng, batch_size=2, crop_frames=100, n_noise=2)
    assert b["note_features"].shape == (2, 100, 14) and b["expressions"].shape == (2, 100, 6)
    assert b["harmonic_distribution"].shape == (2, 100, 60) and b["noise"].shape == (2, 100, 2)
    n = b["seg_batch"].shape[0]
    assert n > 0 and b["seg_expressions"].shape == (n, 6)
    # conditioning broadcast over each note's frames equals that note's expressions
    for i in range(n):
        row, s0 = int(b["seg_batch"][i]), int(b["seg_start"][i])
        np.testing.assert_allclose(b["expressions"][row, s0], b["seg_expressions"][i], atol=1e-6)
    e = expression_batch(pool.records, rng, batch_size=3)
    assert e["note_features"].shape[0] == 3 and e["targets"].shape[-1] == 6
    assert torch.all(e["previous"][:, 0] == 0)
    torch.testing.assert_close(e["previous"][:, 1:], e["targets"][:, :-1])
    # exposure-bias training: noisy previous expressions, or zeroed ones
    idx = [0, 1, 2]
    noisy = expression_batch(pool.records, rng, batch_size=3, indices=idx, previous_noise=0.1)
    clean = expression_batch(pool.records, rng, batch_size=3, indices=idx)
    diff = (noisy["previous"] - clean["previous"])[clean["mask"] > 0]
    assert 0.07 < float(diff.std()) < 0.13
    dropped = expression_batch(pool.records, rng, batch_size=3, indices=idx, previous_dropout=1.0)
    assert torch.all(dropped["previous"] == 0)
    # crops: runs of at least 8 notes cut from the records, features sliced from the whole
    cropped = expression_batch(pool.records, rng, batch_size=3, indices=idx, crop_prob=1.0,
                               min_crop_notes=2)
    assert cropped["mask"].sum(1).min() >= 2
    a = inference_batch(pool.records, rng, batch_size=2, crop_frames=50)
    assert a["audio"].shape == (2, 3200) and a["f0_hz"].shape == (2, 50)


@pytest.mark.parametrize("name", ["synthesis", "expression", "inference"])
def test_train_writes_checkpoints_and_logs(corpus, tmp_path, name):
    result = train(name, corpus, tmp_path, config=TrainConfig(steps=4, **TINY), progress=False)
    assert result.step == 4 and np.isfinite(result.last_loss)
    for f in ("state.pt", "model.pt", "best.pt", "log.csv", "loss.png"):
        assert (tmp_path / f).exists(), f
    model = load_model(tmp_path / "model.pt")
    assert model.model_card["steps"] == 4 and model.model_card["train_config"]["tiny"]
    rows = list(csv.DictReader(open(tmp_path / "log.csv")))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    assert rows[1]["valid_loss"] and not rows[0]["valid_loss"]


def test_resume_continues_exactly(corpus, tmp_path):
    straight = train("synthesis", corpus, tmp_path / "a", config=TrainConfig(steps=4, **TINY),
                     progress=False)
    train("synthesis", corpus, tmp_path / "b", config=TrainConfig(steps=2, **TINY), progress=False)
    resumed = train("synthesis", corpus, tmp_path / "b", config=TrainConfig(steps=4, **TINY),
                    resume=True, progress=False)
    assert resumed.step == 4
    for (k, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        torch.testing.assert_close(a, b, msg=k)
    rows = list(csv.DictReader(open(tmp_path / "b" / "log.csv")))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]


def test_expression_generator_learns(corpus, tmp_path):
    config = TrainConfig(steps=60, learning_rate=1e-2, warmup_steps=1, **{**TINY, "save_every": 60})
    result = train("expression", corpus, tmp_path, config=config, progress=False)
    rows = list(csv.DictReader(open(tmp_path / "log.csv")))
    first = np.mean([float(r["loss"]) for r in rows[:5]])
    last = np.mean([float(r["loss"]) for r in rows[-5:]])
    assert last < 0.5 * first


def test_no_data(tmp_path):
    with pytest.raises(InputFileError, match="no such data folder"):
        train("synthesis", tmp_path / "nothing", tmp_path / "out", config=TrainConfig(**TINY))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFileError, match="no usable training examples"):
        train("synthesis", tmp_path / "empty", tmp_path / "out", config=TrainConfig(**TINY))


def test_cli(corpus, tmp_path, capsys):
    status = train_main(["expression", "--data", str(corpus), "--out", str(tmp_path), "--steps", "2",
                         "--tiny", "--batch-size", "2", "--save-every", "1", "--no-progress"])
    assert status == 0 and (tmp_path / "model.pt").exists()
    assert "trained expression to step 2" in capsys.readouterr().out
    assert train_main(["synthesis", "--data", str(tmp_path / "none"), "--out", str(tmp_path)]) == 2
    assert "no such data folder" in capsys.readouterr().err


def test_export_run(corpus, tmp_path):
    from midi_ddsp.training.export import export_run
    train("expression", corpus, tmp_path / "run", config=TrainConfig(steps=2, **TINY), progress=False)
    pt, js, md = export_run(tmp_path / "run", tmp_path / "ckpt",
                            metrics={"eg_teacher_forced_rmse": {"rmse": 0.5}, "resynthesis": {}},
                            notes=["tiny test run"])
    assert pt.name == "expression_generator.pt" and js.suffix == ".json" and md.suffix == ".md"
    model = load_model(pt, kind="expression_generator")
    card = model.model_card
    assert card["steps"] == 2 and card["metrics"] == {"eg_teacher_forced_rmse": {"rmse": 0.5}}
    assert card["file_size_bytes"] > 0 and "optimizer" not in torch.load(pt, weights_only=True)
    assert "tiny test run" in md.read_text()


def test_torchrun_data_parallel(corpus, tmp_path):
    """Two processes under torchrun (gloo) train one model; rank 0 writes the files."""
    import os
    import subprocess
    import sys
    from pathlib import Path
    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists():
        pytest.skip("torchrun not installed next to the interpreter")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([str(torchrun), "--nproc_per_node", "2", "-m", "midi_ddsp.cli.train",
                           "expression", "--data", str(corpus), "--out", str(tmp_path), "--steps", "2",
                           "--tiny", "--batch-size", "2", "--save-every", "2", "--no-progress"],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("trained expression to step 2") == 1
    assert load_model(tmp_path / "model.pt").model_card["steps"] == 2


def test_pool_follows_rewritten_and_deleted_shards(tmp_path):
    import os
    paths = write_synthetic_corpus(tmp_path, n_train=4, n_valid=0, n_test=0, per_shard=2)
    pool = CorpusPool(tmp_path, split="train")
    assert pool.refresh() == 4
    os.remove(paths[1])
    assert pool.refresh() == 0 and len(pool) == 2
    write_synthetic_corpus(tmp_path, n_train=4, n_valid=0, n_test=0, per_shard=2, seed=5)
    assert pool.refresh() == 4 and len(pool) == 4
    assert CorpusPool(tmp_path, split="train", max_examples=3).refresh() == 3


def test_device_option(corpus, tmp_path):
    """Training runs on the device asked for; its checkpoints hold CPU tensors (load anywhere)."""
    import torch

    from midi_ddsp.errors import ParameterError
    from midi_ddsp.models.checkpoint import read_checkpoint

    device = "cuda" if torch.cuda.is_available() else "cpu"
    result = train("synthesis", corpus, tmp_path / "run",
                   config=TrainConfig(steps=2, device=device, amp=True, **TINY), progress=False)
    assert next(result.model.parameters()).device.type == device
    state = read_checkpoint(tmp_path / "run" / "model.pt")["state_dict"]
    assert all(t.device.type == "cpu" for t in state.values())
    if not torch.cuda.is_available():
        with pytest.raises(ParameterError, match="no CUDA GPU is available"):
            train("synthesis", corpus, tmp_path / "gpu", config=TrainConfig(steps=1, device="cuda",
                                                                            **TINY), progress=False)


def test_attack_augmentation_draws_the_onset_independently_of_the_sustain():
    """The attack control must not tell the Synthesis Generator how noisy the sustain is: the
    augmented onset level is drawn whatever the note's noise, and the sustain stays put."""
    from midi_ddsp.expression.definitions import ATTACK_DB_PER_UNIT, ATTACK_OFFSET
    from midi_ddsp.training.perturbation import onset_transient

    rng = np.random.default_rng(0)
    attacks, sustains, moved = [], [], []
    for _ in range(300):
        level = rng.uniform(-110.0, -60.0)
        noise_db = np.full((150, 65), level) + rng.normal(0.0, 2.0, (150, 65))
        out = onset_transient(noise_db, rng, frame_rate=250)
        attacks.append(out[:10].mean() / ATTACK_DB_PER_UNIT + ATTACK_OFFSET)
        sustains.append(level)
        moved.append(abs(out[30:].mean() - noise_db[30:].mean()))   # from 120 ms on
        # flat over the attack window (the attack is a mean of dB: a spike would be a click)
        assert np.ptp(out[:10].mean(1)) < 3.0
    assert abs(np.corrcoef(attacks, sustains)[0, 1]) < 0.15
    assert min(attacks) < 0.0 and max(attacks) > 1.1
    assert max(moved) < 1.0
