"""Shared fixtures: small randomly initialised models the tests build themselves."""
from pathlib import Path

import pytest
import torch

from midi_ddsp import load_pretrained_model
from midi_ddsp.models import (
    ExpressionGenerator,
    ExpressionGeneratorConfig,
    SynthesisGenerator,
    SynthesisGeneratorConfig,
)


@pytest.fixture(scope="module")
def tiny_checkpoints(tmp_path_factory) -> dict:
    """kind -> path of a tiny untrained generator's checkpoint (no trained weights needed)."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("ckpt")
    eg = ExpressionGenerator(ExpressionGeneratorConfig.tiny()).save_checkpoint(folder / "eg.pt")
    sg = SynthesisGenerator(SynthesisGeneratorConfig.tiny()).save_checkpoint(folder / "sg.pt")
    return {"expression_generator": Path(eg), "synthesis_generator": Path(sg)}


@pytest.fixture(scope="module")
def tiny_models(tiny_checkpoints):
    """A ``MidiDDSP`` bundle of the tiny untrained generators, loaded from their checkpoints."""
    return load_pretrained_model(expression_generator_path=tiny_checkpoints["expression_generator"],
                                 synthesis_generator_path=tiny_checkpoints["synthesis_generator"])
