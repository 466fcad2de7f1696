"""Tests of midi_ddsp.devices and of the generators on a chosen device."""
import numpy as np
import pytest
import torch

from midi_ddsp.devices import resolve_device
from midi_ddsp.errors import ParameterError
from midi_ddsp.expression import note_table_from_notes
from midi_ddsp.pretrained import load_pretrained_model
from midi_ddsp.score import Note


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("AUTO").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ParameterError, match="device must be one of auto, cpu, cuda"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ParameterError, match="no CUDA GPU is available"):
            resolve_device("cuda")


def test_generators_give_the_same_output_on_every_available_device(tiny_checkpoints):
    notes = [Note(67, 0.0, 0.4, 90), Note(71, 0.4, 0.8, 90)]
    outputs = {}
    for device in ["cpu"] + (["cuda"] if torch.cuda.is_available() else []):
        models = load_pretrained_model(
            expression_generator_path=tiny_checkpoints["expression_generator"],
            synthesis_generator_path=tiny_checkpoints["synthesis_generator"], device=device)
        assert models.device.type == device
        table = models.expression_generator.generate(notes, "violin", seed=1, temperature=1.0)
        params = models.synthesis_generator.generate(note_table_from_notes(notes), "violin", seed=2)
        outputs[device] = (table["volume"].to_numpy(), params.amplitude)
    for table_volume, amplitude in outputs.values():
        np.testing.assert_allclose(table_volume, outputs["cpu"][0], atol=1e-4)
        np.testing.assert_allclose(amplitude, outputs["cpu"][1], rtol=1e-3, atol=1e-6)
