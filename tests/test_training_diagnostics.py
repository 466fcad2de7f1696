"""Tests of midi_ddsp.training.diagnostics (parameter-space diagnostics) and cli/evaluate.py."""
import json

import numpy as np
import pytest
import scipy.stats
import torch

from midi_ddsp.cli.evaluate import main as evaluate_main
from midi_ddsp.training.diagnostics import (
    _pearson,
    evaluate,
    expression_teacher_forced_rmse,
    synthesis_expression_rmse,
)
from midi_ddsp.models import (
    DDSPInference,
    DDSPInferenceConfig,
    ExpressionGenerator,
    ExpressionGeneratorConfig,
    SynthesisGenerator,
    SynthesisGeneratorConfig,
)
from midi_ddsp.training import CorpusPool, write_synthetic_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    write_synthetic_corpus(root, n_train=1, n_valid=0, n_test=2, seconds=1.0, seed=1)
    return root


@pytest.fixture(scope="module")
def records(corpus):
    pool = CorpusPool(corpus, split="test", keep_audio=True)
    pool.refresh()
    return pool.records


@pytest.fixture(scope="module")
def tiny_models():
    torch.manual_seed(0)
    return (SynthesisGenerator(SynthesisGeneratorConfig.tiny()).eval(),
            ExpressionGenerator(ExpressionGeneratorConfig.tiny()).eval(),
            DDSPInference(DDSPInferenceConfig.tiny()).eval())


class _OracleSG(torch.nn.Module):
    """Returns the record's own analysed params: expression RMSE must be 0."""

    def __init__(self, record, template):
        super().__init__()
        self.rec = record
        self.config = template.config
        self.signal_config = template.signal_config

    def forward(self, feats, expr, weights, noise):
        r = self.rec
        midi = 69 + 12 * np.log2(np.maximum(r.f0_hz, 1e-3) / 440)
        held = 60 + 24 * feats[0, :, 0].numpy()
        dev = np.where(r.f0_hz > 0, midi - held, 0.0)
        hd = r.harmonic_distribution.astype(np.float32)
        return {"f0_dev": torch.tensor(dev, dtype=torch.float32)[None],
                "amp_db": torch.tensor(20 * np.log10(np.maximum(r.amplitude, 1e-6)))[None],
                "harmonic_distribution": torch.tensor(hd / hd.sum(1, keepdims=True))[None],
                "noise_db": torch.tensor(20 * np.log10(np.maximum(
                    r.noise_magnitudes.astype(np.float32), 1e-6)))[None]}


class _OracleEG(torch.nn.Module):
    def __init__(self, record):
        super().__init__()
        self.rec = record

    def forward(self, feats, weights, previous):
        return torch.tensor(self.rec.note_table)[None], torch.zeros(1, len(self.rec.notes), 6)


def test_pearson_matches_scipy():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=50), rng.normal(size=50)
    y = y + x
    assert abs(_pearson(x, y) - scipy.stats.pearsonr(x, y)[0]) < 1e-12
    assert _pearson(np.ones(5), np.arange(5)) == 0.0


def test_oracle_models_score_zero(records, tiny_models):
    rec = records[0]
    sg = _OracleSG(rec, tiny_models[0])
    result = synthesis_expression_rmse(sg, [rec])
    assert result["n_notes"] == len(rec.notes)
    assert result["rmse"] < 1e-3, result
    assert expression_teacher_forced_rmse(_OracleEG(rec), [rec])["rmse"] < 1e-6
    random_result = synthesis_expression_rmse(tiny_models[0], [rec])
    assert random_result["rmse"] > 0.05


def test_evaluate_writes_report(corpus, tiny_models, tmp_path):
    sg, eg, inf = tiny_models
    result = evaluate(corpus, tmp_path, synthesis_generator=sg, expression_generator=eg,
                      ddsp_inference=inf, max_examples=2, fidelity_notes=3, pitch_examples=1,
                      speed_seconds=1.0, speed_threads=1)
    m = result.metrics
    for key in ("sg_expression_rmse", "eg_teacher_forced_rmse", "control_fidelity", "resynthesis",
                "pitch", "speed"):
        assert key in m, key
    assert m["resynthesis"]["model"] > 0 and m["speed"]["x_realtime"] > 0
    overall = m["control_fidelity"]["overall"]
    assert set(overall) == {"volume", "vol_fluc", "vol_peak_pos", "vibrato", "brightness", "attack"}
    assert all(-1.0 <= r <= 1.0 for r in overall.values()), overall
    text = (tmp_path / "evaluation.md").read_text()
    assert "Synthesis Generator expression RMSE" in text and "control fidelity" in text
    assert json.loads((tmp_path / "metrics.json").read_text())["n_test_examples"] == 2


def test_cli_errors_name_the_bad_checkpoint(tmp_path, capsys):
    status = evaluate_main(["--out", str(tmp_path / "r2"),
                            "--synthesis_generator", str(tmp_path / "missing.pt")])
    assert status == 2 and "missing.pt: no such checkpoint file" in capsys.readouterr().err


def test_spread_over_instruments():
    from types import SimpleNamespace
    from midi_ddsp.training.diagnostics import _spread_over_instruments
    recs = [SimpleNamespace(instrument_index=i, k=k) for i, k in
            [(0, 0), (0, 1), (0, 2), (5, 0), (3, 0), (3, 1)]]
    out = _spread_over_instruments(recs, 4)
    assert [(r.instrument_index, r.k) for r in out] == [(0, 0), (3, 0), (5, 0), (0, 1)]
    assert len(_spread_over_instruments(recs, 100)) == 6


def test_evaluate_keeps_what_other_tools_wrote_into_metrics(tmp_path):
    from midi_ddsp.cli.evaluate import write_metrics
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"live_model": {"report": "causal"}, "audio": {"old": 1},
                                "stale": 2}))
    write_metrics(path, {"audio": {"new": 1}})
    assert json.loads(path.read_text()) == {"audio": {"new": 1}, "live_model": {"report": "causal"}}
