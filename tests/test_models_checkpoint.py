"""Tests of midi_ddsp.models.checkpoint."""
import numpy as np
import pytest
import torch

from midi_ddsp.errors import CheckpointError, ParameterError
from midi_ddsp.expression import note_table_from_notes
from midi_ddsp.models import (
    DDSPInference,
    DDSPInferenceConfig,
    ExpressionGenerator,
    ExpressionGeneratorConfig,
    SynthesisGenerator,
    SynthesisGeneratorConfig,
    load_model,
    shipped_checkpoint_path,
)
from midi_ddsp.score import Note


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    return {"synthesis_generator": SynthesisGenerator(SynthesisGeneratorConfig.tiny()),
            "expression_generator": ExpressionGenerator(ExpressionGeneratorConfig.tiny()),
            "ddsp_inference": DDSPInference(DDSPInferenceConfig.tiny())}


@pytest.mark.parametrize("kind", ["synthesis_generator", "expression_generator", "ddsp_inference"])
def test_round_trip(models, kind, tmp_path):
    model = models[kind]
    path = model.save_checkpoint(tmp_path / "m.pt", model_card={"steps": 3})
    loaded = load_model(path)
    assert type(loaded) is type(model) and loaded.config == model.config
    assert loaded.model_card == {"steps": 3}
    for (k, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), k
    again = type(model).from_checkpoint(path)
    assert again.config == model.config
    payload = torch.load(path, weights_only=True)
    assert payload["format_version"] == 1 and payload["kind"] == kind
    assert payload["signal_config"]["sample_rate"] == 16000


def test_loaded_synthesis_generator_generates_the_same(models, tmp_path):
    sg = models["synthesis_generator"].eval()
    table = note_table_from_notes([Note(60, 0, 0.3, 90)])
    loaded = load_model(sg.save_checkpoint(tmp_path / "sg.pt"))
    np.testing.assert_array_equal(sg.generate(table, "violin", seed=2).amplitude,
                                  loaded.generate(table, "violin", seed=2).amplitude)


def _bad_files(tmp_path, models):
    good = models["synthesis_generator"].save_checkpoint(tmp_path / "good.pt")
    payload = torch.load(good, weights_only=True)
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint at all")
    (tmp_path / "empty.pt").write_bytes(b"")
    torch.save({**payload, "format_version": 99}, tmp_path / "v99.pt")
    torch.save({**payload, "kind": "vocoder"}, tmp_path / "kind.pt")
    torch.save({"state_dict": {}}, tmp_path / "nokeys.pt")
    torch.save({**payload, "state_dict": {"x": torch.zeros(1)}}, tmp_path / "state.pt")
    raw = good.read_bytes()
    (tmp_path / "truncated.pt").write_bytes(raw[: len(raw) // 2])
    return good


@pytest.mark.parametrize("name, kind, message", [
    ("missing.pt", None, "no such checkpoint"),
    ("garbage.pt", None, "not a readable checkpoint"),
    ("empty.pt", None, "not a readable checkpoint"),
    ("truncated.pt", None, "not a readable checkpoint"),
    ("v99.pt", None, "format_version 99"),
    ("kind.pt", None, "unknown model kind"),
    ("nokeys.pt", None, "not a midi_ddsp checkpoint"),
    ("state.pt", None, "does not fit"),
    ("good.pt", "expression_generator", "expected expression_generator"),
])
def test_errors(models, tmp_path, name, kind, message):
    _bad_files(tmp_path, models)
    path = tmp_path / name
    with pytest.raises(CheckpointError, match=message) as info:
        load_model(path, kind=kind)
    text = str(info.value)
    assert "\n" not in text and str(path) in text


def test_wrong_class_from_checkpoint(models, tmp_path):
    path = models["ddsp_inference"].save_checkpoint(tmp_path / "inf.pt")
    with pytest.raises(CheckpointError, match="expected synthesis_generator"):
        SynthesisGenerator.from_checkpoint(path)


def test_atomic_save_leaves_no_temporary_files(models, tmp_path):
    models["expression_generator"].save_checkpoint(tmp_path / "eg.pt")
    assert [p.name for p in tmp_path.iterdir()] == ["eg.pt"]


def test_shipped_checkpoint_path():
    path = shipped_checkpoint_path("synthesis_generator")
    assert path.name == "synthesis_generator.pt" and path.parent.name == "checkpoints"
    with pytest.raises(ParameterError):
        shipped_checkpoint_path("vocoder")
