"""Tests of data_pipeline.fluidsynth_player: playing a performance with FluidSynth."""
from __future__ import annotations

import numpy as np
import pytest

from midi_ddsp.data_pipeline.fluidsynth_player import LineRenderer, Performance
from midi_ddsp.errors import ParameterError

FRAME_RATE = 250


@pytest.fixture(scope="module")
def renderer():
    return LineRenderer()


def _flat_performance(notes, n_frames, frame_rate=FRAME_RATE):
    controls = {"expression_cc": 127.0, "volume_cc": 127.0, "velocity": 100.0, "bend_cents": 0.0,
                "filter_cents": 0.0, "gate": 0.0}
    curves = {k: np.full(n_frames, v, np.float32) for k, v in controls.items()}
    return Performance(np.asarray(notes, np.float32), n_frames, frame_rate, curves, {})


@pytest.mark.parametrize("name", ["flute", "clarinet", "trumpet"])
def test_onsets_of_detached_notes(renderer, name):
    notes = [[62, 0.1, 0.3, 100], [69, 0.8, 1.0, 100]]
    audio = renderer.render(_flat_performance(notes, 400), name)
    blocks = audio[: audio.shape[0] // 16 * 16].reshape(-1, 16)  # 1-ms energy
    level_db = 10 * np.log10((blocks ** 2).mean(axis=1) + 1e-20)
    for _, onset, offset, _ in notes:
        start = int((onset - 0.08) * 1000)
        segment = level_db[start:int(offset * 1000)]
        rise = int(np.argmax(segment > segment.max() - 30.0))
        assert rise > 0, "already loud before the onset"
        assert abs((start + rise) / 1000.0 - onset) <= 0.020


def test_a_render_is_mono_float32_of_the_performance_length(renderer):
    audio = renderer.render(_flat_performance([[69, 0.1, 0.5, 100]], 200), "oboe")
    assert audio.dtype == np.float32 and audio.shape == (200 * 64,)
    assert 0 < np.abs(audio).max() < 1 and np.abs(audio[:64 * 20]).max() < 1e-4  # silent before


def test_rates_must_agree(renderer):
    with pytest.raises(ParameterError, match="must divide"):
        LineRenderer(sample_rate=16000, frame_rate=300)
    with pytest.raises(ParameterError, match="performance at 200 Hz"):
        renderer.render(_flat_performance([[69, 0.1, 0.5, 100]], 100, frame_rate=200), "oboe")
