"""Tests of midi_ddsp.export and midi_ddsp_export: exported graphs give the models' outputs."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from midi_ddsp.cli.export import main as export_main
from midi_ddsp.export import example_inputs, export_models, run_exported
from midi_ddsp.models.features import note_sequence_features
from midi_ddsp.score import Note

pytest.importorskip("onnxruntime")  # the onnx extra (make test installs it)


@pytest.fixture(scope="module")
def strided_models(tiny_models):
    """The tiny bundle with a Synthesis Generator on a low-rate (stride 4) stack, as shipped."""
    from midi_ddsp.models.synthesis_generator import SynthesisGenerator, SynthesisGeneratorConfig
    from midi_ddsp.pretrained import MidiDDSP

    torch.manual_seed(1)
    sg = SynthesisGenerator(SynthesisGeneratorConfig(channels=16, dilations=(1, 2), embedding_dim=4,
                                                     n_noise=2, frame_stride=4)).eval()
    return MidiDDSP(tiny_models.expression_generator, sg)


@pytest.fixture(scope="module", params=["onnx", "torchscript"])
def exported(strided_models, tmp_path_factory, request):
    folder = tmp_path_factory.mktemp(request.param)
    return folder, export_models(folder, strided_models, format=request.param)


def _reference(models, name, inputs):
    from midi_ddsp.export import _module

    with torch.no_grad():
        out = _module(models, name)(*inputs)
    return [o.numpy() for o in (out if isinstance(out, tuple) else (out,))]


@pytest.mark.parametrize("name, lengths", [("synthesis_generator", (64, 37, 501, 9)),
                                           ("expression_generator_encoder", (64, 5, 130)),
                                           ("expression_generator_step", (1,)),
                                           ("ddsp_synth", (64, 9, 300))])
def test_exported_graphs_match_torch_at_any_length(exported, strided_models, name, lengths):
    folder, contract = exported
    assert all(f.endswith("." + contract["format"]) for f in contract["files"].values())
    for k, length in enumerate(lengths):
        inputs = example_inputs(strided_models, name, length, seed=k + 1)
        got = run_exported(folder, name, inputs)
        want = _reference(strided_models, name, inputs)
        assert [g.shape for g in got] == [w.shape for w in want]
        for g, w in zip(got, want):
            assert np.abs(g - w).max() <= 1e-4, (name, length)
    assert contract["graphs"][name]["inputs"]


def test_the_exported_decoder_loop_plays_the_expression_generator(exported, tiny_models):
    folder, contract = exported
    notes = [Note(60 + i, 0.3 * i, 0.3 * i + 0.25, 80 + i) for i in range(7)]
    weights = torch.zeros(1, 13)
    weights[0, 4] = 1.0  # flute
    width = contract["expression_generator"]["n_note_features"]   # the model's note inputs
    features = torch.from_numpy(note_sequence_features(notes))[None, :, :width]
    [context] = run_exported(folder, "expression_generator_encoder", (features, weights))
    low = np.array(contract["expression_generator"]["generated_low"], np.float32)
    high = np.array(contract["expression_generator"]["generated_high"], np.float32)
    previous = np.zeros((1, 1, 6), np.float32)
    hidden = np.zeros((1, 1, contract["expression_generator"]["decoder_hidden"]), np.float32)
    values = []
    for i in range(len(notes)):
        mean, _, hidden = run_exported(folder, "expression_generator_step",
                                       (context[:, i:i + 1], previous, weights.numpy(), hidden))
        previous = np.clip(mean, low, high).astype(np.float32)
        values.append(previous[0, 0])
    table = tiny_models.expression_generator.generate(notes, "flute", seed=None)
    np.testing.assert_allclose(np.array(values), table[contract["expression_generator"][
        "expressions"]].to_numpy(), atol=1e-4)


def test_cli_writes_the_contract_and_names_a_bad_checkpoint(tiny_checkpoints, tmp_path, capsys):
    assert export_main(["--out", str(tmp_path / "onnx"), "--format", "onnx",
                        "--synthesis-generator", str(tiny_checkpoints["synthesis_generator"]),
                        "--expression-generator", str(tiny_checkpoints["expression_generator"])]) == 0
    contract = json.loads((tmp_path / "onnx/contract.json").read_text())
    from midi_ddsp.models.checkpoint import shipped_file

    live = ["causal_synthesis_generator_step"] if shipped_file(
        "causal_synthesis_generator.pt").exists() else []   # the shipped live model joins in
    assert sorted(contract["files"]) == live + ["ddsp_synth", "expression_generator_encoder",
                                                "expression_generator_step", "synthesis_generator"]
    assert export_main(["--out", str(tmp_path / "x"), "--synthesis-generator",
                        str(tmp_path / "nope.pt")]) == 2
    assert "nope.pt: no such checkpoint file" in capsys.readouterr().err


@pytest.mark.parametrize("fmt, V", [("onnx", 2), ("onnx", 1), ("torchscript", 3)])
def test_the_exported_causal_step_streams_the_frame_parallel_model(tiny_models, tmp_path, fmt, V):
    from midi_ddsp.export import causal_state_shapes
    from midi_ddsp.models.synthesis_generator import SynthesisGenerator, SynthesisGeneratorConfig

    torch.manual_seed(3)
    causal = SynthesisGenerator(SynthesisGeneratorConfig(
        channels=16, dilations=(1, 2, 4), embedding_dim=4, n_noise=2, causal=True)).eval()
    contract = export_models(tmp_path, tiny_models, causal_model=causal, format=fmt)
    assert contract["files"]["causal_synthesis_generator_step"] == \
        f"causal_synthesis_generator_step.{fmt}"
    assert contract["causal_synthesis_generator"]["state_shapes"] == [[16, 2], [16, 4], [16, 8]]
    rng = np.random.default_rng(0)
    T = 60
    feats = rng.standard_normal((V, T, 14)).astype(np.float32)
    expr = rng.random((V, T, 6)).astype(np.float32)
    noise = rng.standard_normal((V, T, 2)).astype(np.float32)
    weights = np.eye(13, dtype=np.float32)[[1, 7, 4][:V]]
    with torch.no_grad():
        want = causal(torch.from_numpy(feats), torch.from_numpy(expr), torch.from_numpy(weights),
                      torch.from_numpy(noise))
    states = [np.zeros(shape, np.float32) for shape in causal_state_shapes(causal, V)]
    got, t = [], 0
    for size in (1, 5, 1, 13, 40):       # blocks of any number of frames
        outs = run_exported(tmp_path, "causal_synthesis_generator_step",
                            (feats[:, t:t + size], expr[:, t:t + size], weights,
                             noise[:, t:t + size], *states))
        got.append(outs[:4])
        states = outs[4:]
        t += size
    for k, key in enumerate(("f0_dev", "amp_db", "harmonic_distribution", "noise_db")):
        joined = np.concatenate([g[k] for g in got], axis=1)
        assert np.abs(joined - want[key].numpy()).max() <= 1e-4, key


def test_the_exported_synth_is_the_synthesizer(exported, strided_models):
    """The synth graph of a long part (past the torch synth's chunk size) plays what
    DDSPSynthesizer plays from the same controls and noise seed."""
    from midi_ddsp.dsp.synthesizer import DDSPSynthesizer
    from midi_ddsp.dsp.synths import white_noise

    folder, contract = exported
    f0, amp, dist, mags, _ = example_inputs(strided_models, "ddsp_synth", 2000, seed=5)
    [audio] = run_exported(folder, "ddsp_synth", (f0, amp, dist, mags,
                                                  white_noise(1, 2000 * 64, seed=9)))
    with torch.no_grad():
        want = DDSPSynthesizer()(f0, amp, dist, mags, seed=9).numpy()
    assert audio.shape == want.shape == (1, 128000)
    assert np.abs(audio - want).max() <= 1e-4 * np.abs(want).max()
    assert contract["ddsp_synth"]["hop"] == 64
