"""Tests of midi_ddsp.pretrained: loading the model bundle, checkpoint ids, the cache, errors."""
import hashlib

import numpy as np
import pytest

from midi_ddsp.errors import CheckpointError, ParameterError
from midi_ddsp.mixing import DEFAULT_TARGET_LUFS, integrated_loudness
from midi_ddsp.models import shipped_checkpoint_path
from midi_ddsp.pipeline import synthesize_midi
from midi_ddsp.pretrained import MidiDDSP, load_pretrained_model, models_or_default
from midi_ddsp.score import Note, score_from_notes

SR = 16000


# ---------------------------------------------------------------------------------------------
# Loading models

def test_load_custom_paths_ids_and_cache(tiny_models, tiny_checkpoints):
    assert isinstance(tiny_models, MidiDDSP)
    for kind, path in tiny_checkpoints.items():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        assert tiny_models.checkpoints[kind] == {"path": str(path), "id": f"sha256:{digest}"}
    again = load_pretrained_model(expression_generator_path=tiny_checkpoints["expression_generator"],
                                  synthesis_generator_path=tiny_checkpoints["synthesis_generator"])
    assert again is tiny_models
    assert tiny_models.frame_rate == 250 and tiny_models.model_sample_rate == 16000


def test_load_wrong_kind_and_missing_checkpoint(tiny_checkpoints, tmp_path):
    with pytest.raises(CheckpointError, match=r"sg\.pt.*expected expression_generator"):
        load_pretrained_model(expression_generator_path=tiny_checkpoints["synthesis_generator"],
                              synthesis_generator_path=tiny_checkpoints["synthesis_generator"])
    with pytest.raises(CheckpointError, match="nope.pt"):
        load_pretrained_model(expression_generator_path=tmp_path / "nope.pt",
                              synthesis_generator_path=tiny_checkpoints["synthesis_generator"])


# ---------------------------------------------------------------------------------------------
# Shipped checkpoints and the README examples

_SHIPPED = all(shipped_checkpoint_path(k).exists() for k in ("expression_generator", "synthesis_generator"))


@pytest.mark.skipif(not _SHIPPED, reason="shipped checkpoints (checkpoints/*.pt) not present yet")
def test_shipped_checkpoints_smoke():
    models = load_pretrained_model()
    r = synthesize_midi(score_from_notes({"violin": [Note(67, 0.0, 0.5), Note(71, 0.5, 1.0)]}),
                        models=models)
    assert r.mix.shape[0] > SR and np.max(np.abs(r.mix)) > 0.1
    if not r.metadata["mix"]["peak_bound"]:
        assert integrated_loudness(r.mix, sample_rate=SR) == pytest.approx(DEFAULT_TARGET_LUFS, abs=0.5)
    assert set(r.metadata["checkpoints"]) == {"expression_generator", "synthesis_generator"}




def test_models_or_default_refuses_a_bare_module(tiny_models):
    assert models_or_default(tiny_models) is tiny_models
    with pytest.raises(ParameterError, match="models must be a MidiDDSP"):
        models_or_default(tiny_models.synthesis_generator)
