"""Shared fixtures the tests build themselves: small randomly initialised models, tiny datasets of
recordings (URMP layout, wav + MIDI pairs)."""
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import soundfile
import torch

from midi_ddsp import load_pretrained_model
from midi_ddsp.models import (
    DDSPInference,
    DDSPInferenceConfig,
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


# ------------------------------------------------------------------ recordings

RECORDING_SR = 16000


def _tone(notes, seconds, sample_rate=RECORDING_SR):
    """Harmonic tone playing (midi, onset_s, offset_s) notes; silence elsewhere."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    out = np.zeros_like(t)
    for midi, onset, offset in notes:
        f0 = 440.0 * 2 ** ((midi - 69) / 12)
        gate = (t >= onset) & (t < offset)
        for k in (1, 2, 3):
            out += gate * 0.3 / k * np.sin(2 * np.pi * k * f0 * t)
    return out.astype(np.float32)


def _write_midi(path, notes, program):
    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=program)
    for midi, onset, offset in notes:
        inst.notes.append(pretty_midi.Note(velocity=90, pitch=midi, start=onset, end=offset))
    pm.instruments.append(inst)
    pm.write(str(path))


VN_NOTES = [(69, 0.05, 0.45), (71, 0.55, 0.95)]
VC_NOTES = [(48, 0.1, 0.9)]


@pytest.fixture
def urmp_root(tmp_path):
    root = tmp_path / "urmp"
    piece = root / "01_Jupiter_vn_vc"
    piece.mkdir(parents=True)
    soundfile.write(piece / "AuSep_1_vn_01_Jupiter.wav", _tone(VN_NOTES, 1.0), RECORDING_SR)
    soundfile.write(piece / "AuSep_2_vc_01_Jupiter.wav", _tone(VC_NOTES, 1.0, 22050), 22050)
    soundfile.write(piece / "Mix_01_Jupiter_vn_vc.wav", _tone(VN_NOTES + VC_NOTES, 1.0), RECORDING_SR)
    (piece / "Notes_1_vn_01_Jupiter.txt").write_text(
        "0.0500000\t 440.000\t 0.4000000\n0.5500000\t 493.883\t 0.4000000\n")
    (piece / "Notes_2_vc_01_Jupiter.txt").write_text("0.1000000\t 130.813\t 0.8000000\n")
    return root


@pytest.fixture
def pairs_dir(tmp_path):
    folder = tmp_path / "pairs"
    folder.mkdir()
    soundfile.write(folder / "flute_take.wav", _tone([(72, 0.05, 0.7)], 0.8), RECORDING_SR)
    _write_midi(folder / "flute_take.mid", [(72, 0.05, 0.7)], program=73)
    soundfile.write(folder / "piano_take.wav", _tone([(60, 0.1, 0.6)], 0.8), RECORDING_SR)
    _write_midi(folder / "piano_take.mid", [(60, 0.1, 0.6)], program=0)
    (folder / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunk")
    _write_midi(folder / "corrupt.mid", [(60, 0.1, 0.6)], program=73)
    soundfile.write(folder / "orphan.wav", _tone([(60, 0.1, 0.6)], 0.5), RECORDING_SR)
    return folder


@pytest.fixture(scope="module")
def tiny_inference():
    """A tiny DDSP Inference with a random head (a new model's head starts at zero, i.e. at the
    STFT's measurement), in eval mode."""
    torch.manual_seed(0)
    model = DDSPInference(DDSPInferenceConfig.tiny()).eval()
    torch.nn.init.normal_(model.head.weight, std=0.3)
    return model


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A tiny synthetic shard corpus (4 train, 1 valid, 1 test examples of 1 s)."""
    from midi_ddsp.training import write_synthetic_corpus

    root = tmp_path_factory.mktemp("corpus")
    write_synthetic_corpus(root, n_train=4, n_valid=1, n_test=1, seconds=1.0, seed=0)
    return root
