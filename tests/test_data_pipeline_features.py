"""Tests of data_pipeline.features: frame features of recordings."""
from __future__ import annotations

import numpy as np
import pytest

from midi_ddsp.data_pipeline.features import (
    AudioFeatures,
    compute_features,
    notes_to_frame_pitch,
    voiced_f0,
)
from midi_ddsp.errors import ParameterError
from midi_ddsp.score import Note

FAST = {"f0_method": "pyin", "fmin_hz": 100.0, "fmax_hz": 1600.0}


def _sine(f0_hz, amplitude, seconds, sample_rate):
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    return (amplitude * np.sin(2 * np.pi * f0_hz * t)).astype(np.float32)


@pytest.mark.parametrize("sample_rate, seconds, n_frames", [(16000, 0.5, 125), (44100, 0.5, 125),
                                                            (22050, 0.3, 75)])
def test_shapes_and_resampling(sample_rate, seconds, n_frames):
    feats = compute_features(_sine(440.0, 0.5, seconds, sample_rate), sample_rate=sample_rate, **FAST)
    assert isinstance(feats, AudioFeatures)
    assert feats.sample_rate == 16000 and feats.frame_rate == 250
    assert feats.audio.shape == (int(seconds * 16000),)
    assert feats.f0_hz.shape == feats.f0_confidence.shape == feats.loudness_db.shape == (n_frames,)
    assert feats.n_frames == n_frames
    assert feats.audio.shape[0] // 64 == n_frames  # the analysis convention


def test_values_against_references():
    sample_rate = 16000
    audio = np.concatenate([_sine(1000.0, 0.5, 0.5, sample_rate), _sine(1000.0, 0.05, 0.5, sample_rate)])
    feats = compute_features(audio, sample_rate=sample_rate, **FAST)
    assert abs(np.median(1200 * np.log2(feats.f0_hz[20:100] / 1000.0))) < 20
    # a_weighted_loudness_db reads 20 log10(A) for a sine at 1 kHz: -6 dB, then -26 dB
    assert abs(np.median(feats.loudness_db[20:100]) - 20 * np.log10(0.5)) < 1.0
    assert abs(np.median(feats.loudness_db[150:230]) - 20 * np.log10(0.05)) < 1.0


def test_crepe_default_path_runs():
    audio = _sine(330.0, 0.5, 0.3, 16000)
    feats = compute_features(audio, sample_rate=16000)  # CREPE tiny, or pYIN if no weights
    assert feats.n_frames == 75
    assert abs(np.median(1200 * np.log2(feats.f0_hz[15:-15] / 330.0))) < 20


def test_voiced_f0():
    f0 = np.array([100.0, 200.0, 300.0])
    np.testing.assert_array_equal(voiced_f0(f0, np.array([0.9, 0.2, 0.5]), threshold=0.5),
                                  [100.0, 0.0, 300.0])
    with pytest.raises(ParameterError, match="equal shapes"):
        voiced_f0(f0, np.ones(2))


def test_notes_to_frame_pitch_from_array_and_notes():
    rows = np.array([[60, 0.0, 0.1, 100], [64, 0.2, 0.3, 80]], np.float32)
    pitch = notes_to_frame_pitch(rows, n_frames=100)
    expected = np.zeros(100, np.float32)
    expected[0:25] = 60
    expected[50:75] = 64
    np.testing.assert_array_equal(pitch, expected)
    notes = [Note(60, 0.0, 0.1, 100), Note(64, 0.2, 0.3, 80)]
    np.testing.assert_array_equal(notes_to_frame_pitch(notes, n_frames=100), expected)
    assert notes_to_frame_pitch(np.zeros((0, 4)), n_frames=5).shape == (5,)


@pytest.mark.parametrize("audio, kwargs, message", [
    (np.zeros((2, 100)), {}, "mono"),
    (np.full(100, np.inf), {}, "NaN"),
    (np.zeros(100), {"frame_rate": 300}, "frame_rate"),
    (np.zeros(100), {"sample_rate": -1}, "sample_rate"),
    (np.zeros(1600), {"f0_method": "nope"}, "method"),
])
def test_bad_input(audio, kwargs, message):
    args = {"sample_rate": 16000, **kwargs}
    with pytest.raises(ParameterError, match=message):
        compute_features(audio, **args)


def test_too_short_audio_gives_empty_features():
    feats = compute_features(np.zeros(10), sample_rate=16000)
    assert feats.n_frames == 0 and feats.loudness_db.shape == (0,)
