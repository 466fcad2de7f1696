"""Tests of data_pipeline.render: drawn performances, rendered lines and their ground truth."""
from __future__ import annotations

import librosa
import numpy as np
import pytest

from midi_ddsp.data_pipeline import render
from midi_ddsp.data_pipeline.fluidsynth_player import BEND_RANGE_SEMITONES
from midi_ddsp.errors import ParameterError
from midi_ddsp.instruments import INSTRUMENT_NAMES, get_instrument

FRAME_RATE = 250
HOP = 64
LINE = np.array([[60, 0.0, 0.3], [64, 0.3, 0.6], [67, 0.6, 0.9], [65, 1.0, 1.2],
                 [62, 1.2, 1.5], [60, 1.5, 2.0]], float)


def test_shapes_and_ranges():
    perf = render.draw_performance(LINE, "cello", seed=0)
    n = perf.n_frames
    assert perf.notes.shape == (len(LINE), 4) and perf.notes.dtype == np.float32
    assert set(perf.controls) == {"expression_cc", "volume_cc", "velocity", "bend_cents",
                                  "filter_cents", "gate"}
    for curve in perf.controls.values():
        assert curve.shape == (n,) and curve.dtype == np.float32
    assert perf.controls["expression_cc"].min() >= 0 and perf.controls["expression_cc"].max() <= 127
    assert np.abs(perf.controls["bend_cents"]).max() < 100 * BEND_RANGE_SEMITONES
    f0, conf = render.performance_f0(perf)
    assert f0.shape == conf.shape == (n,)
    np.testing.assert_array_equal(conf, (f0 > 0).astype(np.float32))


@pytest.mark.parametrize("name", INSTRUMENT_NAMES)
def test_performance_notes_are_playable_monophonic_and_on_the_grid(name):
    inst = get_instrument(name)
    wide = np.array([[40 + 3 * i, 0.25 * i, 0.25 * i + 0.2] for i in range(20)], float)  # 57 semitones
    for line in (LINE, wide):
        perf = render.draw_performance(line, name, seed=1)
        p, on, off = perf.notes[:, 0], perf.notes[:, 1], perf.notes[:, 2]
        assert p.min() >= inst.lowest_midi and p.max() <= inst.highest_midi
        assert np.all(off > on) and np.all(on[1:] >= off[:-1] - 1e-6)
        np.testing.assert_allclose(on * FRAME_RATE, np.rint(on * FRAME_RATE), atol=1e-3)
        assert perf.n_frames > off[-1] * FRAME_RATE


def test_f0_ground_truth_is_pitch_plus_bend():
    perf = render.draw_performance(LINE, "violin", seed=5)
    f0, _ = render.performance_f0(perf)
    bend = perf.controls["bend_cents"]
    for pitch, on, off, _ in perf.notes:
        a, b = int(round(on * FRAME_RATE)), int(round(off * FRAME_RATE))
        expected = librosa.midi_to_hz(pitch + bend[a:b] / 100.0)
        np.testing.assert_allclose(f0[a:b], expected, rtol=1e-5)
    assert np.all(f0[:int(round(perf.notes[0, 1] * FRAME_RATE))] == 0)  # silence before the line
    assert f0[-1] == 0  # silence after the release hold


def test_transpose_keeps_intervals_when_the_line_fits():
    rng = np.random.default_rng(0)
    out = render.transpose_into_range([60, 64, 67, 72], "tuba", rng)
    inst = get_instrument("tuba")
    np.testing.assert_array_equal(np.diff(out), [4, 3, 5])
    assert out.min() >= inst.lowest_midi and out.max() <= inst.highest_midi


def test_same_seed_same_audio_different_seed_different():
    a = render.render_line(LINE, "flute", seed=3)
    other = LINE.copy()
    other[:, 0] = LINE[::-1, 0]
    render.render_line(other, "tuba", seed=9)  # something else in between
    b = render.render_line(LINE, "flute", seed=3)
    c = render.render_line(LINE, "flute", seed=4)
    np.testing.assert_array_equal(a.audio, b.audio)
    np.testing.assert_array_equal(a.f0_hz, b.f0_hz)
    assert a.audio.shape != c.audio.shape or not np.array_equal(a.audio, c.audio)
    assert a.audio.shape == (a.f0_hz.shape[0] * HOP,) and a.audio.dtype == np.float32
    assert 0 < np.abs(a.audio).max() < 1


@pytest.mark.parametrize("name", ["violin", "clarinet", "double_bass"])
def test_measured_f0_matches_ground_truth(name):
    r = render.render_line(LINE[:4], name, seed=11)
    low, high = r.notes[:, 0].min() - 3, r.notes[:, 0].max() + 3
    f0 = librosa.yin(r.audio, fmin=librosa.midi_to_hz(low), fmax=librosa.midi_to_hz(high), sr=16000,
                     frame_length=2048, hop_length=HOP, center=True)
    n = min(f0.shape[0], r.f0_hz.shape[0])
    ok = (r.controls["gate"][:n] > 0) & (r.f0_hz[:n] > 0)
    assert ok.sum() > 50
    cents = 1200 * np.log2(f0[:n][ok] / r.f0_hz[:n][ok])
    assert abs(np.median(cents)) < 20
    assert np.median(np.abs(cents)) < 20


@pytest.mark.parametrize("notes", [np.zeros((0, 3)), [[60, 0.5, 0.5]], [[60, 0.0, np.nan]],
                                   [60, 0.0, 1.0]])
def test_bad_lines_are_rejected(notes):
    with pytest.raises(ParameterError):
        render.draw_performance(notes, "violin", seed=0)


def test_unknown_instrument_is_rejected():
    with pytest.raises(ParameterError):
        render.draw_performance(LINE, "banjo", seed=0)
