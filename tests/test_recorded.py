"""Recording augmentation (room, noise, a pitch tracker's errors) and DDSP Inference's training
batches and loss built on it."""
import numpy as np
import pytest
import torch

from midi_ddsp.dsp.spectral import a_weighted_loudness_db
from midi_ddsp.models import DDSPInference, DDSPInferenceConfig
from midi_ddsp.recorded import degrade_audio, pitch_tracker_f0, revoice_params
from midi_ddsp.training import CorpusPool, write_synthetic_corpus
from midi_ddsp.training.datasets import inference_batch
from midi_ddsp.training.losses import inference_loss

SR = 16000


def _tone(seconds=1.0, stop_s=0.5, hz=440.0):
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * hz * t) * (t < stop_s)).astype(np.float32)


def test_the_room_leaves_a_tail_after_the_note():
    dry = _tone()
    wet = degrade_audio(dry, np.random.default_rng(0), noise_prob=0.0)
    assert wet.shape == dry.shape and wet.dtype == np.float32
    tail = slice(int(0.55 * SR), int(0.65 * SR))        # 50-150 ms after the note stops
    assert np.sqrt(np.mean(wet[tail] ** 2)) > 1e-3 > np.sqrt(np.mean(dry[tail] ** 2))


@pytest.mark.parametrize("seed", range(4))
def test_the_noise_sits_25_to_50_db_under_the_signal(seed):
    dry = _tone(stop_s=1.0)
    noisy = degrade_audio(dry, np.random.default_rng(seed), reverb_prob=0.0)
    snr = 20 * np.log10(np.sqrt(np.mean(dry ** 2)) / np.sqrt(np.mean((noisy - dry) ** 2)))
    assert 24.5 < snr < 50.5


def test_pitch_tracker_errors_look_like_crepe_tiny():
    rng = np.random.default_rng(0)
    f0 = np.full(250 * 8, 330.0, np.float32)
    f0[:100] = 0.0                                           # leading silence
    cents = []
    for _ in range(20):
        out = pitch_tracker_f0(f0, rng)
        assert out.shape == f0.shape and np.all(out > 0)     # a pitch everywhere, as CREPE's
        cents.append(1200 * np.log2(out[100:] / 330.0))
    err = np.abs(np.concatenate(cents))
    assert 2.0 < np.median(err) < 10.0                       # measured on CREPE: 4.9 cents
    assert 10.0 < np.percentile(err, 90) < 35.0              # 21 cents
    assert 0.003 < np.mean(err > 600) < 0.05                 # 1.6 % octave slips


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    write_synthetic_corpus(root, n_train=3, n_valid=1, n_test=1, seconds=1.0, seed=0)
    pool = CorpusPool(root, split="train", keep_audio=True)
    pool.refresh()
    return pool.records


def test_inference_batch_gain_moves_input_and_targets_together(records):
    plain = inference_batch(records, np.random.default_rng(1), batch_size=3, crop_frames=100,
                            indices=[0, 1, 2])
    gained = inference_batch(records, np.random.default_rng(1), batch_size=3, crop_frames=100,
                             indices=[0, 1, 2], gain_db=12.0)
    assert torch.equal(plain["audio"], plain["target_audio"])
    ratio = (gained["audio"].abs().amax(1) / plain["audio"].abs().amax(1)).numpy()
    shift_db = 20 * np.log10(ratio)
    assert np.all(np.abs(shift_db) <= 12.0) and np.ptp(shift_db) > 0.5
    audible = plain["amp_db"] > -60
    moved = (gained["amp_db"] - plain["amp_db"])[audible].numpy()
    rows = np.broadcast_to(shift_db[:, None], audible.shape)[audible.numpy()]
    np.testing.assert_allclose(moved, rows, atol=0.05)
    # the loudness input is measured from the scaled audio
    expected = a_weighted_loudness_db(gained["audio"][0].numpy(), sample_rate=SR, frame_rate=250)
    np.testing.assert_allclose(gained["loudness_db"][0].numpy(), np.asarray(expected)[:100],
                               atol=1e-3)


def test_recorded_rows_are_resynthesised_as_heard_and_skip_the_regression(records):
    rng = np.random.default_rng(2)
    b = inference_batch(records, rng, batch_size=2, crop_frames=100, indices=[0, 1],
                        recorded_prob=1.0, f0_error_prob=1.0)
    clean = inference_batch(records, np.random.default_rng(2), batch_size=2, crop_frames=100,
                            indices=[0, 1])
    assert not torch.allclose(b["audio"], clean["audio"])
    torch.testing.assert_close(b["target_audio"], b["audio"])    # resynthesise what is heard
    assert b["exact"].tolist() == [0.0, 0.0] and clean["exact"].tolist() == [1.0, 1.0]
    torch.testing.assert_close(b["amp_db"], clean["amp_db"])
    assert not torch.allclose(b["f0_hz"], clean["f0_hz"]) and bool(torch.all(b["f0_hz"] > 0))


def test_inference_loss_adds_a_spectral_term_that_reaches_the_model(records):
    torch.manual_seed(0)
    model = DDSPInference(DDSPInferenceConfig.tiny())
    batch = inference_batch(records, np.random.default_rng(3), batch_size=2, crop_frames=100)
    plain, parts = inference_loss(model, batch)
    total, parts_spectral = inference_loss(model, batch, spectral_weight=0.5, spectral_rows=2)
    assert "spectral" not in parts and parts_spectral["spectral"] > 0
    assert float(total.detach()) == pytest.approx(float(plain.detach())
                                                  + 0.5 * parts_spectral["spectral"], rel=1e-4)
    total.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_revoicing_moves_noise_and_harmonics_and_keeps_pitch_and_level():
    from midi_ddsp.synth_params import SynthParams

    n = 50
    hd = np.tile(1.0 / np.arange(1, 61), (n, 1))
    hd /= hd.sum(1, keepdims=True)
    params = SynthParams(np.full(n, 220.0, np.float32), np.full(n, 0.1, np.float32),
                         hd.astype(np.float32), np.full((n, 65), 1e-3, np.float32))
    moved = [revoice_params(params, np.random.default_rng(s)) for s in range(8)]
    for m in moved:
        np.testing.assert_array_equal(m.f0_hz, params.f0_hz)
        np.testing.assert_array_equal(m.amplitude, params.amplitude)
        np.testing.assert_allclose(m.harmonic_distribution.sum(1), 1.0, atol=1e-5)
    noise_db = [20 * np.log10(m.noise_magnitudes[0].mean() / 1e-3) for m in moved]
    assert np.ptp(noise_db) > 6.0 and all(-25 < d < 20 for d in noise_db)
    centroid = [(m.harmonic_distribution[0] * np.arange(1, 61)).sum() for m in moved]
    assert np.ptp(centroid) > 0.5


def test_revoiced_rows_sound_like_their_targets(records):
    from midi_ddsp.analysis import analyse_audio

    b = inference_batch(records, np.random.default_rng(4), batch_size=2, crop_frames=100,
                        indices=[0, 1], revoice_prob=1.0)
    clean = inference_batch(records, np.random.default_rng(4), batch_size=2, crop_frames=100,
                            indices=[0, 1])
    assert not torch.allclose(b["target_audio"], clean["target_audio"])
    assert not torch.allclose(b["noise_db"], clean["noise_db"])
    for row in range(2):
        measured = analyse_audio(b["audio"][row].numpy(), b["f0_hz"][row].numpy(),
                                 sample_rate=SR, frame_rate=250)
        audible = (b["amp_db"][row] > -40).numpy()
        audible[:10] = audible[-10:] = False                 # the crop's edges
        amp_db = 20 * np.log10(np.maximum(measured.amplitude[audible], 1e-7))
        assert np.median(np.abs(amp_db - b["amp_db"][row].numpy()[audible])) < 1.5


def test_inexact_rows_leave_the_regression(records):
    torch.manual_seed(0)
    model = DDSPInference(DDSPInferenceConfig.tiny())
    torch.nn.init.normal_(model.head.weight, std=0.3)
    batch = inference_batch(records, np.random.default_rng(5), batch_size=2, crop_frames=100)
    _, both = inference_loss(model, batch)
    first_only = {k: v[:1] for k, v in batch.items()}
    _, first = inference_loss(model, first_only)
    batch["exact"] = torch.tensor([1.0, 0.0])
    _, masked = inference_loss(model, batch)
    assert masked["amp"] == pytest.approx(first["amp"], rel=1e-4)
    assert masked["amp"] != pytest.approx(both["amp"], rel=1e-3)
    assert masked["noise"] == pytest.approx(first["noise"], rel=1e-4)
