"""Tests of midi_ddsp.augmentation: per-file draws that are reproducible, inside their ranges,
and onset jitter that keeps parts playable."""
from __future__ import annotations

import numpy as np
import pytest

from midi_ddsp.augmentation import Augmentation, jitter_onsets
from midi_ddsp.errors import ParameterError
from midi_ddsp.instruments import ENSEMBLES, get_instrument
from midi_ddsp.score import Note, score_from_notes


def _chorale():
    line = lambda base: [Note(base + (k % 3), 0.5 * k, 0.5 * k + 0.45, 80) for k in range(16)]  # noqa: E731
    return score_from_notes({"S": line(72), "A": line(65), "T": line(57), "B": line(45)})


FULL = Augmentation(ensembles=("string_quartet", "brass_quartet"), speed_range=(0.8, 1.25),
                    timing_jitter_ms=15.0, temperature_range=(0.2, 0.8),
                    pitch_offset_range=(-3, 3), reverbs=("room", "hall"), seed=5)


def test_draws_are_a_function_of_the_seed_and_the_file():
    score = _chorale()
    assert FULL.draw("a/song1", score) == FULL.draw("a/song1", score)
    draws = [FULL.draw(f"song{k}", score) for k in range(40)]
    assert len({d["expression_seed"] for d in draws}) == 40
    other = Augmentation(**dict(FULL.describe(), seed=6))
    assert other.draw("a/song1", score) != FULL.draw("a/song1", score)


def test_draws_stay_in_their_ranges_and_cover_them():
    draws = [FULL.draw(f"song{k}", _chorale()) for k in range(60)]
    speeds = [d["speed_rate"] for d in draws]
    assert 0.8 <= min(speeds) < 0.9 and 1.15 < max(speeds) <= 1.25
    temps = [d["temperature"] for d in draws]
    assert 0.2 <= min(temps) and max(temps) <= 0.8
    assert {d["pitch_offset"] for d in draws} == set(range(-3, 4))
    assert {d["reverb"] for d in draws} == {"room", "hall"}
    assert {d["ensemble"] for d in draws} == {"string_quartet", "brass_quartet"}
    for d in draws:  # the ensemble's instruments go to the parts soprano to bass
        assert list(d["instruments"].values()) == list(ENSEMBLES[d["ensemble"]])
        assert d["timing_jitter_ms"] == 15.0


def test_random_instruments_fit_the_part():
    score = score_from_notes({"low": [Note(30, 0.0, 1.0), Note(33, 1.0, 2.0)],
                              "high": [Note(96, 0.0, 1.0), Note(98, 1.0, 2.0)]})
    aug = Augmentation(random_instruments=True, seed=1)
    for k in range(20):
        drawn = aug.draw(f"f{k}", score)["instruments"]
        assert get_instrument(drawn["low"]).contains(30) and get_instrument(drawn["low"]).contains(33)
        assert get_instrument(drawn["high"]).contains(98)


def test_nothing_drawn_by_default():
    assert not Augmentation(seed=3).active and FULL.active
    assert set(Augmentation().draw("x", _chorale())) == {"expression_seed"}


def test_jitter_moves_onsets_by_the_asked_spread_and_keeps_parts_monophonic():
    score = _chorale()
    jittered = jitter_onsets(score, timing_jitter_ms=10.0, jitter_seed=2)
    shifts = np.array([b.onset_s - a.onset_s for pa, pb in zip(score.parts, jittered.parts)
                       for a, b in zip(pa.notes, pb.notes)])
    assert 0.007 < shifts.std() < 0.013 and np.abs(shifts).max() <= 0.020 + 1e-9
    for part in jittered.parts:
        for prev, note in zip(part.notes, part.notes[1:]):
            assert prev.offset_s <= note.onset_s + 1e-12 and note.offset_s > note.onset_s
    again = jitter_onsets(score, timing_jitter_ms=10.0, jitter_seed=2)
    assert again.parts[0].notes == jittered.parts[0].notes


@pytest.mark.parametrize("kwargs, match", [
    ({"ensembles": ("kazoo_band",)}, "unknown ensemble"),
    ({"ensembles": ("string_quartet",), "random_instruments": True}, "not both"),
    ({"speed_range": (1.2, 0.8)}, "low must not exceed high"),
    ({"speed_range": (0.0, 1.0)}, "speed_range must be > 0"),
    ({"temperature_range": (-1, 1)}, ">= 0"),
    ({"reverbs": ("cathedral",)}, "cathedral"),
    ({"timing_jitter_ms": -1.0}, "timing_jitter_ms"),
])
def test_bad_settings_are_one_line_errors(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        Augmentation(**kwargs)
