"""Shared fixtures: small randomly initialised models the tests build themselves."""
import pytest
import torch

from midi_ddsp.models import (
    ExpressionGenerator,
    ExpressionGeneratorConfig,
    SynthesisGenerator,
    SynthesisGeneratorConfig,
)
from midi_ddsp.synthesis import load_pretrained_model


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A ``MidiDDSP`` bundle of tiny untrained generators, loaded from checkpoints."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("ckpt")
    eg = ExpressionGenerator(ExpressionGeneratorConfig.tiny()).save_checkpoint(folder / "eg.pt")
    sg = SynthesisGenerator(SynthesisGeneratorConfig.tiny()).save_checkpoint(folder / "sg.pt")
    return load_pretrained_model(expression_generator_path=eg, synthesis_generator_path=sg)
