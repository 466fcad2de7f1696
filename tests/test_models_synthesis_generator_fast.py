"""Tests of the reduced-frame-rate Synthesis Generator (``SynthesisGeneratorConfig.fast()`` and the
``frame_stride`` / ``head_*`` fields of midi_ddsp.models.synthesis_generator)."""
import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from midi_ddsp.cli.train import main as train_main
from midi_ddsp.errors import ParameterError
from midi_ddsp.expression import note_table_from_notes
from midi_ddsp.models import SynthesisGenerator, SynthesisGeneratorConfig, load_model
from midi_ddsp.models.checkpoint import save_checkpoint_dict
from midi_ddsp.score import Note
from midi_ddsp.training import CorpusPool, write_synthetic_corpus
from midi_ddsp.training.datasets import synthesis_batch
from midi_ddsp.training.losses import synthesis_loss

NOTES = [Note(60, 0.0, 0.3, 100), Note(62, 0.3, 0.5, 90), Note(65, 0.6, 0.9, 80)]
NEW_FIELDS = ("frame_stride", "head_channels", "head_kernel", "head_layers")


def _tiny_fast(**kw) -> SynthesisGeneratorConfig:
    return SynthesisGeneratorConfig(**{**dict(channels=12, dilations=(1, 2), embedding_dim=4,
                                              n_noise=2, frame_stride=4, head_channels=8,
                                              head_kernel=3, head_layers=2), **kw})


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return SynthesisGenerator(_tiny_fast()).eval()


def _inputs(n_frames: int, n_noise: int, *, batch: int = 2, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    w = torch.zeros(batch, 13)
    w[:, 3] = 1.0
    return (torch.randn(batch, n_frames, 14, generator=gen), torch.rand(batch, n_frames, 6, generator=gen),
            w, torch.randn(batch, n_frames, n_noise, generator=gen))


@pytest.mark.parametrize("n_frames", [1, 7, 100, 203])
def test_forward_shapes_any_length(model, n_frames):
    out = model(*_inputs(n_frames, 2))
    assert out["f0_dev"].shape == (2, n_frames) and out["amp_db"].shape == (2, n_frames)
    assert out["harmonic_distribution"].shape == (2, n_frames, 60)
    assert out["noise_db"].shape == (2, n_frames, 65)
    # rows sum to 1 while the fundamental is below the 8 kHz Nyquist (random pitch features
    # reach far above it), else nothing is audible
    audible = (out["f0_hz"] < 8000.0).float()
    torch.testing.assert_close(out["harmonic_distribution"].sum(-1), audible)


def test_generate_shapes_and_seed(model):
    table = note_table_from_notes(NOTES)
    a = model.generate(table, "violin", seed=3, n_frames=101)
    b = model.generate(table, "violin", seed=3, n_frames=101)
    c = model.generate(table, "violin", seed=4, n_frames=101)
    assert a.n_frames == 101 and a.harmonic_distribution.shape == (101, 60)
    np.testing.assert_array_equal(a.amplitude, b.amplitude)
    np.testing.assert_array_equal(a.f0_hz, b.f0_hz)
    assert not np.allclose(a.amplitude, c.amplitude)
    midi = 69 + 12 * np.log2(a.f0_hz / 440)
    assert np.all(np.abs(midi[:75] - 60) < 4)


def test_output_is_local_within_receptive_radius(model):
    """Changing one input frame changes no output farther than ``receptive_radius`` away, and the
    radius is not a loose guess: some output near it does change."""
    feats, expr, w, noise = _inputs(400, 2, batch=1)
    base = model(feats, expr, w, noise)["amp_db"][0]
    k = 201
    feats2 = feats.clone()
    feats2[0, k] += 5.0
    moved = model(feats2, expr, w, noise)["amp_db"][0]
    changed = torch.nonzero((moved - base).abs() > 1e-6).flatten()
    r = model.receptive_radius
    assert r == 4 * (1 + 2 + 2) + 1
    assert changed.numel() > 0
    assert int(changed.min()) >= k - r and int(changed.max()) <= k + r
    assert int(changed.max()) - int(changed.min()) > 2 * 4 * 3   # the low-rate stack spreads it


def test_chunked_generation_matches_one_pass(model):
    table = note_table_from_notes(NOTES)
    whole = model.generate(table, "flute", seed=1, n_frames=290)
    for chunk in (37, 64, 150):
        part = model.generate(table, "flute", seed=1, n_frames=290, chunk_frames=chunk)
        np.testing.assert_allclose(part.amplitude, whole.amplitude, rtol=1e-4, atol=1e-7)
        np.testing.assert_allclose(part.harmonic_distribution, whole.harmonic_distribution,
                                   rtol=1e-4, atol=1e-7)


def test_save_load_roundtrip(model, tmp_path):
    path = model.save_checkpoint(tmp_path / "fast.pt")
    loaded = load_model(path)
    assert loaded.config == model.config and loaded.config.frame_stride == 4
    table = note_table_from_notes(NOTES)
    a = model.generate(table, "cello", seed=2)
    b = loaded.eval().generate(table, "cello", seed=2)
    np.testing.assert_array_equal(a.amplitude, b.amplitude)
    np.testing.assert_array_equal(a.noise_magnitudes, b.noise_magnitudes)


def test_old_checkpoint_without_new_fields_loads_unchanged(tmp_path):
    """A checkpoint whose config dict predates the new fields builds the original architecture."""
    torch.manual_seed(1)
    old = SynthesisGenerator(SynthesisGeneratorConfig.tiny()).eval()
    payload = old.checkpoint_payload()
    for name in NEW_FIELDS:
        payload["config"].pop(name)
    path = save_checkpoint_dict(tmp_path / "old.pt", payload)
    loaded = load_model(path).eval()
    assert loaded.config == SynthesisGeneratorConfig.tiny()
    assert [k for k in loaded.state_dict()] == [k for k in old.state_dict()]
    table = note_table_from_notes(NOTES)
    np.testing.assert_array_equal(loaded.generate(table, "horn").amplitude,
                                  old.generate(table, "horn").amplitude)
    # the default head is the original one: conv1x1 (channels+cond -> channels), GELU, conv1x1
    assert [type(m) for m in loaded.head] == [nn.Conv1d, nn.GELU, nn.Conv1d]
    assert loaded.head[0].kernel_size == (1,) and loaded.head[0].out_channels == 16


def test_config_defaults_and_validation():
    default = SynthesisGeneratorConfig()
    assert (default.frame_stride, default.head_channels, default.head_kernel,
            default.head_layers) == (1, 0, 1, 1)
    fast = SynthesisGeneratorConfig.fast()
    assert fast.frame_stride == 4 and SynthesisGeneratorConfig.from_dict(dataclasses.asdict(fast)) == fast
    with pytest.raises(ParameterError, match="frame_stride"):
        SynthesisGeneratorConfig(frame_stride=0)
    with pytest.raises(ParameterError, match="head_kernel"):
        SynthesisGeneratorConfig(head_kernel=2)
    with pytest.raises(ParameterError, match="head_channels"):
        SynthesisGeneratorConfig(head_channels=-1)


def _conv_macs_per_frame(model: SynthesisGenerator, n_frames: int = 400) -> float:
    """Multiply-adds of every Conv1d in one forward pass, counted with hooks, per output frame."""
    total = [0]

    def hook(module, inputs, output):
        k = module.kernel_size[0] * module.in_channels // module.groups
        total[0] += output.shape[0] * output.shape[1] * output.shape[2] * k

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv1d)]
    with torch.no_grad():
        model(*_inputs(n_frames, model.config.n_noise, batch=1))
    for h in handles:
        h.remove()
    return total[0] / n_frames


def test_fast_config_is_much_cheaper_per_frame():
    default = SynthesisGenerator(SynthesisGeneratorConfig())
    fast = SynthesisGenerator(SynthesisGeneratorConfig.fast())
    macs_default, macs_fast = _conv_macs_per_frame(default), _conv_macs_per_frame(fast)
    assert 800_000 < macs_default < 1_000_000       # 12 blocks x ~71k + head
    assert macs_fast < macs_default / 4.5
    assert fast.n_parameters() < 0.7 * default.n_parameters()
    # the low-rate stack's receptive field still covers >= 1 s on each side
    assert fast.receptive_radius / fast.signal_config.frame_rate > 1.0


def test_loss_falls_on_tiny_data(tmp_path):
    write_synthetic_corpus(tmp_path, n_train=3, n_valid=0, n_test=0, seconds=1.0, seed=0)
    pool = CorpusPool(tmp_path, split="train")
    pool.refresh()
    batch = synthesis_batch(pool.records, np.random.default_rng(0), batch_size=3, crop_frames=200,
                            n_noise=2, perturb_prob=0.0, augment_prob=0.0)
    torch.manual_seed(0)
    net = SynthesisGenerator(_tiny_fast(channels=16, head_channels=16))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(60):
        loss, _ = synthesis_loss(net, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert np.isfinite(losses).all()
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:3])


def test_cli_model_config_fast(tmp_path, capsys):
    write_synthetic_corpus(tmp_path / "data", n_train=2, n_valid=1, n_test=0, seconds=1.0, seed=0)
    common = ["--data", str(tmp_path / "data"), "--steps", "1", "--batch-size", "2",
              "--crop-frames", "100", "--save-every", "1", "--no-progress", "--refresh-every", "0"]
    assert train_main(["synthesis", "--out", str(tmp_path / "run"), "--model-config", "fast",
                       *common]) == 0
    assert load_model(tmp_path / "run" / "model.pt").config == SynthesisGeneratorConfig.fast()
    assert train_main(["expression", "--out", str(tmp_path / "e"), "--model-config", "fast",
                       *common]) == 2
    assert "only for synthesis" in capsys.readouterr().err
