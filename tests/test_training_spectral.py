"""Spectral-loss fine-tuning of the Synthesis Generator (midi_ddsp.training, issue 15)."""
import csv

import numpy as np
import pytest
import torch

from midi_ddsp.errors import InputFileError
from midi_ddsp.models import SynthesisGenerator, SynthesisGeneratorConfig
from midi_ddsp.training import CorpusPool, TrainConfig, train, write_synthetic_corpus
from midi_ddsp.training.datasets import synthesis_batch
from midi_ddsp.training.losses import SynthesisLossWeights, render_controls, synthesis_loss

TINY = dict(tiny=True, batch_size=3, crop_frames=100, save_every=2, log_every=1, refresh_every=0)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    write_synthetic_corpus(root, n_train=3, n_valid=1, n_test=1, seconds=1.0, seed=0)
    return root


@pytest.fixture(scope="module")
def records(corpus):
    pool = CorpusPool(corpus, split="train", keep_audio=True)
    pool.refresh()
    return pool.records


def test_audio_rows_are_the_corpus_audio_and_never_perturbed(records):
    rng = np.random.default_rng(0)
    b = synthesis_batch(records, rng, batch_size=3, crop_frames=100, n_noise=2, perturb_prob=1.0,
                        augment_prob=1.0, indices=[0, 1, 2], audio_examples=2)
    assert b["audio"].shape == (2, 100 * 64)
    rec = records[0]
    if rec.n_frames <= 100:   # no crop: the whole example from sample 0
        np.testing.assert_allclose(b["audio"][0, :rec.audio.shape[0]], rec.audio[:6400])
    # perturbed notes lose their regression target: never in the audio rows, always in the last
    assert torch.all(b["regress_mask"][:2] == 1)
    assert (b["regress_mask"][2] == 0).any()
    # the clean rows' conditioning is the expressions of the untouched analysed parameters
    again = synthesis_batch(records, np.random.default_rng(5), batch_size=3, crop_frames=100,
                            n_noise=2, perturb_prob=0.0, augment_prob=0.0, indices=[0, 1, 2])
    if rec.n_frames <= 100:
        torch.testing.assert_close(b["expressions"][0], again["expressions"][0])
    assert "audio" not in again


def test_audio_rows_need_audio(corpus):
    pool = CorpusPool(corpus, split="train", keep_audio=False)
    pool.refresh()
    with pytest.raises(InputFileError, match="keep their audio"):
        synthesis_batch(pool.records, np.random.default_rng(0), batch_size=2, crop_frames=50,
                        audio_examples=1)


def test_spectral_loss_reaches_the_model_but_not_f0(records):
    torch.manual_seed(0)
    model = SynthesisGenerator(SynthesisGeneratorConfig.tiny())
    b = synthesis_batch(records, np.random.default_rng(1), batch_size=2, crop_frames=100,
                        n_noise=2, audio_examples=2)
    zero = SynthesisLossWeights(**{k: 0.0 for k in ("f0", "f0_raw", "amp", "harmonics", "noise",
                                                    "expressions", "vibrato_high")})
    loss, parts = synthesis_loss(model, b, weights=zero, spectral_weight=1.0)
    assert parts["spectral"] > 0 and float(loss.detach()) == pytest.approx(parts["spectral"], rel=1e-5)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and sum(float(g.abs().sum()) for g in grads) > 0
    # gradient w.r.t. the controls: amplitude and harmonics get one, f0 (detached) does not
    out = model(b["note_features"], b["expressions"], b["instrument_weights"], b["noise"])
    out = {k: v.detach().requires_grad_(True) for k, v in out.items()}
    audio = render_controls(out, signal_config=model.signal_config, n_rows=1)
    assert audio.shape == (1, 100 * 64)
    audio.square().sum().backward()
    assert out["amp_db"].grad.abs().sum() > 0 and out["noise_db"].grad.abs().sum() > 0
    assert out["f0_hz"].grad is None or float(out["f0_hz"].grad.abs().sum()) == 0.0
    # without spectral_weight the batch's audio is ignored
    _, parts = synthesis_loss(model, b)
    assert "spectral" not in parts


def test_train_with_spectral_loss_logs_it_and_lowers_it(corpus, tmp_path):
    config = TrainConfig(steps=30, spectral_loss_weight=1.0, spectral_examples=3,
                         learning_rate=3e-3, warmup_steps=1, perturb_prob=0.0, augment_prob=0.0,
                         **{**TINY, "save_every": 30, "log_every": 1})
    result = train("synthesis", corpus, tmp_path, config=config, progress=False)
    assert result.step == 30 and np.isfinite(result.last_loss)
    rows = list(csv.DictReader(open(tmp_path / "log.csv")))
    spectral = np.array([float(r["spectral"]) for r in rows])
    assert spectral[-5:].mean() < spectral[:5].mean()
    assert result.model.model_card["train_config"]["spectral_loss_weight"] == 1.0
