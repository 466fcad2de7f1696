"""The onnxruntime runtime (midi_ddsp.runtime): the same NoteTables, SynthParams and audio as
the torch models from the same seed, and a command-line render that loads neither torch nor
pandas."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from midi_ddsp.cli.synthesize import main as synthesize_main
from midi_ddsp.export import export_models
from midi_ddsp.expression.note_expressions import NoteExpressions
from midi_ddsp.models.checkpoint import checkpoint_id, shipped_checkpoint_path
from midi_ddsp.runtime import OnnxMidiDDSP, load_onnx_models, onnx_dir
from midi_ddsp.score import Note
from score_files import write_pm

pytest.importorskip("onnxruntime")  # the onnx extra (make test installs it)

NOTES = [Note(67, 0.0, 0.45, 80), Note(69, 0.5, 1.2, 100), Note(64, 1.4, 1.6, 60),
         Note(72, 1.6, 3.0, 110)]
_SHIPPED = (onnx_dir() / "contract.json").is_file()


@pytest.fixture(scope="module")
def tiny_onnx(tiny_models, tmp_path_factory):
    folder = tmp_path_factory.mktemp("onnx")
    contract = export_models(folder, tiny_models)
    return OnnxMidiDDSP(folder, contract, dict(tiny_models.checkpoints))


@pytest.mark.parametrize("seed, temperature", [(3, 0.5), (None, 0.5), (7, 1.0)])
def test_onnx_expression_generator_samples_what_torch_samples(tiny_models, tiny_onnx, seed,
                                                              temperature):
    ours = tiny_onnx.expression_generator.sample_expressions(NOTES, "violin", seed=seed,
                                                             temperature=temperature)
    theirs = tiny_models.expression_generator.sample_expressions(NOTES, "violin", seed=seed,
                                                                 temperature=temperature)
    assert ours.shape == (4, 6)
    np.testing.assert_allclose(ours, theirs, atol=1e-4)
    if seed is not None:   # the seed draws a performance, not the means
        means = tiny_onnx.expression_generator.sample_expressions(NOTES, "violin", seed=None)
        assert np.abs(ours - means).max() > 1e-3


def test_onnx_synthesis_generator_gives_the_torch_params(tiny_models, tiny_onnx):
    values = np.random.default_rng(0).random((4, 6)).astype(np.float32)
    part = NoteExpressions(NOTES, values)
    for chunk in (7500, 300):   # chunked with context: the same frames
        ours = tiny_onnx.synthesis_generator.generate_from_expressions(
            part, {"violin": 0.5, "flute": 0.5}, seed=4, n_frames=1000, chunk_frames=chunk)
        theirs = tiny_models.synthesis_generator.generate_from_expressions(
            part, {"violin": 0.5, "flute": 0.5}, seed=4, n_frames=1000)
        for name in ("f0_hz", "amplitude", "harmonic_distribution", "noise_magnitudes"):
            a, b = getattr(ours, name), getattr(theirs, name)
            assert a.shape == b.shape
            assert np.abs(a - b).max() <= 1e-4 * max(1.0, np.abs(b).max()), name


def test_graphs_of_other_checkpoints_are_not_used(tiny_onnx):
    # the tiny graphs name the tiny checkpoints: not the shipped ones, so auto falls back
    assert load_onnx_models(tiny_onnx.folder) is None


@pytest.mark.skipif(not _SHIPPED, reason="no ONNX graphs of the shipped checkpoints")
def test_shipped_graphs_belong_to_the_shipped_checkpoints():
    # stale graphs would silently fall back to torch: re-export (STAGE=onnx scripts/train_shipped.sh)
    contract = json.loads((onnx_dir() / "contract.json").read_text())
    for kind in ("expression_generator", "synthesis_generator"):
        assert contract["checkpoints"][kind]["id"] == checkpoint_id(shipped_checkpoint_path(kind)), kind
    assert load_onnx_models() is not None


def _midi(tmp_path):
    return write_pm(tmp_path / "duet.mid", [
        (40, "Violin", False, [(67, 0.0, 0.5, 90), (71, 0.5, 1.5, 70), (74, 1.5, 2.5, 110)]),
        (42, "Cello", False, [(43, 0.0, 1.0, 80), (48, 1.0, 2.5, 90)])])


@pytest.mark.skipif(not _SHIPPED, reason="no ONNX graphs of the shipped checkpoints")
def test_cli_renders_the_same_on_both_runtimes(tmp_path):
    midi = _midi(tmp_path)
    outs = {}
    for runtime in ("onnx", "torch"):
        assert synthesize_main([str(midi), "--output-dir", str(tmp_path / runtime), "--runtime",
                                runtime, "-q", "--float-wav"]) == 0
        folder = tmp_path / runtime / "duet"
        outs[runtime] = (sf.read(folder / "mix.wav")[0],
                         json.loads((folder / "metadata.json").read_text()),
                         [np.loadtxt(p, delimiter=",", skiprows=1)
                          for p in sorted((folder / "note_tables").glob("*.csv"))])
    (mix_a, meta_a, tables_a), (mix_b, meta_b, tables_b) = outs["onnx"], outs["torch"]
    assert mix_a.shape == mix_b.shape and np.abs(mix_b).max() > 0.05
    assert np.abs(mix_a - mix_b).max() < 1e-3 * np.abs(mix_b).max()
    assert meta_a["checkpoints"] == meta_b["checkpoints"]
    assert (meta_a["runtime"], meta_b["runtime"]) == ("onnxruntime", "torch")
    for a, b in zip(tables_a, tables_b):
        np.testing.assert_allclose(a, b, atol=1e-4)


@pytest.mark.skipif(not _SHIPPED, reason="no ONNX graphs of the shipped checkpoints")
def test_a_command_line_render_imports_neither_torch_nor_pandas(tmp_path):
    midi = _midi(tmp_path)
    code = ("import sys\n"
            "from midi_ddsp.cli.synthesize import main\n"
            f"assert main([{str(midi)!r}, '--output-dir', {str(tmp_path / 'out')!r}, '-q']) == 0\n"
            "print(sorted(m for m in ('torch', 'pandas', 'music21', 'librosa', 'scipy', "
            "'pretty_midi', 'matplotlib') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
    assert (tmp_path / "out" / "duet" / "mix.wav").exists()
    assert len(list((tmp_path / "out" / "duet" / "note_tables").glob("*.csv"))) == 2


def test_onnx_runtime_asked_for_with_given_weights_is_one_clear_error(tiny_checkpoints, tmp_path,
                                                                      capsys):
    midi = _midi(tmp_path)
    status = synthesize_main([str(midi), "--output-dir", str(tmp_path / "o"), "--runtime", "onnx",
                              "--synthesis-generator-weight-path",
                              str(tiny_checkpoints["synthesis_generator"])])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and "ONNX" in err[0]


def test_onnx_runtime_plays_the_vibrato_rate_column_as_torch_does(tmp_path):
    """Rate-generating and rate-reading models: the seventh output and the rate-tuned
    oscillators survive the export."""
    import torch

    from midi_ddsp.models.expression_generator import ExpressionGenerator, ExpressionGeneratorConfig
    from midi_ddsp.models.synthesis_generator import SynthesisGenerator, SynthesisGeneratorConfig
    from midi_ddsp.pretrained import MidiDDSP

    torch.manual_seed(0)
    eg = ExpressionGenerator(ExpressionGeneratorConfig(encoder_hidden=8, decoder_hidden=8,
                                                       embedding_dim=4, vibrato_rate_output=True))
    sg = SynthesisGenerator(SynthesisGeneratorConfig(channels=16, dilations=(1, 2), embedding_dim=4,
                                                     n_noise=2, vibrato_rate_input=True))
    models = MidiDDSP(eg.eval(), sg.eval())
    contract = export_models(tmp_path, models)
    assert contract["expression_generator"]["n_outputs"] == 7
    assert contract["synthesis_generator"]["vibrato_rate_input"]
    onnx = OnnxMidiDDSP(tmp_path, contract, {})
    ours = onnx.expression_generator.sample_expressions(NOTES, "violin", seed=3)
    theirs = eg.sample_expressions(NOTES, "violin", seed=3)
    assert ours.shape == (4, 7)
    np.testing.assert_allclose(ours, theirs, atol=1e-4)
    part = NoteExpressions.from_generated(NOTES, theirs)
    a = onnx.synthesis_generator.generate_from_expressions(part, "violin", seed=1).f0_hz
    b = sg.generate_from_expressions(part, "violin", seed=1).f0_hz
    np.testing.assert_allclose(a, b, rtol=1e-4)
    slower = NoteExpressions(NOTES, part.values, np.full(4, 3.5, np.float32))
    assert np.abs(onnx.synthesis_generator.generate_from_expressions(slower, "violin", seed=1).f0_hz
                  - a).max() > 1e-3
