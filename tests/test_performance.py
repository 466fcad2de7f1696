"""Tests of data_pipeline.performance (the rule-based performance model) and its use in
data_pipeline.render.draw_performance."""
from __future__ import annotations

import numpy as np
import pytest

from midi_ddsp.data_pipeline import render
from midi_ddsp.data_pipeline.performance import (
    MARK_DB,
    MARKED_SHARE,
    PhrasedExpression,
    draw_rule_strengths,
    phrased_expression,
)
from midi_ddsp.score import NoteMarks
from midi_ddsp.score.marks import DYNAMIC_VELOCITY
from midi_ddsp.instruments import get_instrument
from midi_ddsp.phrasing import phrase_positions

# the strength ranges of the module docstring's table (uniform draws)
TABLE = {
    "dynamic_db": (-20.0, -2.0), "arch_depth_db": (0.0, 10.0), "arch_peak": (0.35, 0.7),
    "final_db": (0.0, 6.0), "high_loud_db_per_octave": (0.0, 4.0),
    "duration_contrast_db": (0.0, 3.0), "melodic_charge_db": (0.0, 0.8),
    "metrical_accent_db": (0.0, 4.0), "final_ritardando": (0.0, 0.35),
    "punctuation_s": (0.0, 0.08), "detached_fraction": (0.6, 0.95),
    "velocity_per_db": (2.0, 4.0), "vibrato_scale": (0.4, 1.6),
    "brightness_coupling": (0.5, 1.5),
}


def _strengths(**overrides) -> dict:
    """Drawn strengths with every rule off (a steady mezzo line), then ``overrides``."""
    k = draw_rule_strengths(np.random.default_rng(0))
    keys = set(k)
    k.update(dynamic_db=-15.0, arch_depth_db=0.0, arch_peak=0.5, final_db=0.0,
             high_loud_db_per_octave=0.0, duration_contrast_db=0.0, melodic_charge_db=0.0,
             metrical_accent_db=0.0, final_ritardando=0.0, punctuation_s=0.0, legato=True,
             velocity_per_db=3.0, vibrato_scale=1.0, brightness_coupling=1.0,
             filter_base_cents=-1000.0, marked=False)
    k.update(overrides)
    assert set(k) == keys, "overrides must name existing strengths"
    return k


def _phrases(sizes, *, ioi=0.5, dur=0.45, rest=0.6, pitch=60):
    """Phrases of regular notes with a rest between them: (pitch, onset_s, offset_s)."""
    onsets = []
    t = 0.0
    for size in sizes:
        for _ in range(size):
            onsets.append(t)
            t += ioi
        t += rest
    onsets = np.array(onsets)
    return np.full(onsets.size, float(pitch)), onsets, onsets + dur


def _perform(line, strengths, *, instrument="violin", seed=0) -> PhrasedExpression:
    pitch, onset_s, offset_s = line
    return phrased_expression(pitch, onset_s, offset_s, instrument=instrument,
                              family=get_instrument(instrument).family,
                              rng=np.random.default_rng(seed), strengths=strengths)


LINE = _phrases([9, 9])  # two phrases; positions 0, 1/8, ..., 1 in each


def test_shapes():
    perf = _perform(LINE, _strengths())
    n = LINE[0].size
    for name in ("ioi_scale", "fraction", "level_db", "depth_db", "peak_pos", "velocity",
                 "vibrato_cents", "vibrato_rate_hz", "vibrato_delay_s", "filter_cents"):
        assert getattr(perf, name).shape == (n,), name
    assert len(perf.shape) == n
    assert np.all(perf.level_db <= 0.0) and np.all(perf.level_db >= -30.0)
    assert np.all(perf.filter_cents <= 0.0)
    assert np.all((perf.velocity >= 1) & (perf.velocity <= 127))


# --------------------------------------------------------------------------------------------
# level rules
# --------------------------------------------------------------------------------------------
def test_phrase_arch_makes_the_middle_louder_than_the_ends():
    _, position, _ = phrase_positions(LINE[1], LINE[2])
    middle = (position >= 0.3) & (position <= 0.7)
    ends = (position == 0.0) | (position == 1.0)
    on = _perform(LINE, _strengths(arch_depth_db=8.0)).level_db
    off = _perform(LINE, _strengths()).level_db
    assert on[middle].mean() - on[ends].mean() > 5.0
    assert abs(off[middle].mean() - off[ends].mean()) < 1.5
    # same seed, same noise: the difference is the arch itself, depth dB at the ends, 0 at its peak
    arch = on - off
    np.testing.assert_allclose(arch[ends], -8.0, atol=1e-9)
    np.testing.assert_allclose(arch[position == 0.5], 0.0, atol=1e-9)
    assert np.all(arch <= 1e-9) and np.all(arch >= -8.0 - 1e-9)


@pytest.mark.parametrize("peak", [0.375, 0.625])
def test_phrase_arch_peaks_where_asked(peak):
    _, position, _ = phrase_positions(LINE[1], LINE[2])
    arch = (_perform(LINE, _strengths(arch_depth_db=8.0, arch_peak=peak)).level_db
            - _perform(LINE, _strengths(arch_peak=peak)).level_db)
    first = position[:9]
    assert first[int(np.argmax(arch[:9]))] == pytest.approx(peak)


def test_phrase_final_notes_are_softer():
    _, _, final = phrase_positions(LINE[1], LINE[2])
    final = final > 0
    on = _perform(LINE, _strengths(final_db=5.0)).level_db
    off = _perform(LINE, _strengths()).level_db
    assert on[final].mean() < on[~final].mean() - 3.0
    np.testing.assert_allclose((on - off)[final], -5.0, atol=1e-9)
    np.testing.assert_allclose((on - off)[~final], 0.0, atol=1e-9)


def test_high_loud():
    n = 17
    onsets = np.arange(n) * 0.5
    line = (48.0 + 1.5 * np.arange(n), onsets, onsets + 0.45)  # two octaves up
    pitch = line[0]
    on = _perform(line, _strengths(high_loud_db_per_octave=4.0)).level_db
    off = _perform(line, _strengths()).level_db
    slope_on = np.polyfit(pitch, on, 1)[0]
    slope_off = np.polyfit(pitch, off, 1)[0]
    assert slope_on == pytest.approx(4.0 / 12.0, abs=0.1)
    assert np.corrcoef(pitch, on)[0, 1] > 0.8
    assert abs(slope_off) < 0.1
    # louder per octave above the mean pitch, exactly
    np.testing.assert_allclose(on - off, 4.0 * (pitch - pitch.mean()) / 12.0, atol=1e-9)


def test_duration_contrast_makes_longer_notes_louder():
    durs = np.tile([0.2, 0.4, 0.8, 1.6], 4)
    onsets = np.concatenate([[0.0], np.cumsum(durs[:-1] + 0.05)])
    line = (np.full(durs.size, 62.0), onsets, onsets + durs)
    on = _perform(line, _strengths(duration_contrast_db=3.0))
    off = _perform(line, _strengths())
    assert on.level_db[durs == 1.6].mean() > on.level_db[durs == 0.2].mean() + 5.0
    slope = np.polyfit(np.log2(durs), on.level_db - off.level_db, 1)[0]
    assert slope == pytest.approx(3.0, rel=1e-6)  # dB per doubling
    assert abs(np.polyfit(np.log2(durs), off.level_db, 1)[0]) < 0.5
    # and short notes are played shorter
    short, long_ = durs < np.median(durs), durs > np.median(durs)
    assert on.fraction[short].max() < on.fraction[long_].min()
    assert off.fraction[short].min() == pytest.approx(off.fraction[long_].max())


def test_velocity_follows_the_level():
    k = _strengths(arch_depth_db=10.0, final_db=6.0, velocity_per_db=3.0)
    velocity, level = [], []
    for seed in range(5):
        perf = _perform(LINE, k, seed=seed)
        velocity.append(perf.velocity)
        level.append(perf.level_db)
    velocity, level = np.concatenate(velocity), np.concatenate(level)
    assert np.corrcoef(level, velocity)[0, 1] > 0.7
    assert np.polyfit(level, velocity, 1)[0] == pytest.approx(3.0, abs=1.0)
    steeper = np.concatenate([_perform(LINE, {**k, "velocity_per_db": 4.0}, seed=s).velocity
                              for s in range(5)])
    assert np.ptp(steeper) > np.ptp(velocity)


def test_dynamic_level_sets_the_level_and_base_velocity():
    soft = _perform(LINE, _strengths(dynamic_db=-18.0))
    loud = _perform(LINE, _strengths(dynamic_db=-4.0))
    np.testing.assert_allclose(loud.level_db - soft.level_db, 14.0, atol=1e-9)
    assert loud.velocity.mean() > soft.velocity.mean() + 30


# --------------------------------------------------------------------------------------------
# timing
# --------------------------------------------------------------------------------------------
def test_final_ritardando_stretches_the_last_phrase():
    line = _phrases([6, 6, 7])
    ids, _, _ = phrase_positions(line[1], line[2])
    last = ids == ids[-1]
    on = _perform(line, _strengths(final_ritardando=0.3))
    assert np.all(np.diff(on.ioi_scale[last]) > 0)
    assert np.all(on.ioi_scale[last] > 1.0)
    assert on.ioi_scale[last][-1] == pytest.approx(1.3)
    np.testing.assert_array_equal(on.ioi_scale[~last], 1.0)
    assert on.length_scale == pytest.approx(1.3)
    off = _perform(line, _strengths())
    np.testing.assert_array_equal(off.ioi_scale, 1.0)
    assert off.length_scale == 1.0


def test_punctuation_shortens_phrase_final_notes():
    line = _phrases([9, 9], rest=0.3)  # phrase-final slots of 0.8 s (0.45 s for the last)
    k = _strengths(legato=False, detached_fraction=0.95)
    _, _, final = phrase_positions(line[1], line[2])
    assert final.sum() == 2
    on = _perform(line, {**k, "punctuation_s": 0.08}).fraction  # at most 0.9 of the slot
    off = _perform(line, k).fraction  # 0.95 +- 0.04
    assert np.all(on[final > 0] < off[final > 0])
    np.testing.assert_array_equal(on[final == 0], off[final == 0])


# --------------------------------------------------------------------------------------------
# vibrato and brightness
# --------------------------------------------------------------------------------------------
VIB_DURS = np.tile([0.15, 0.9, 0.3, 0.9, 0.15, 0.3], 3)
VIB_ONSETS = np.concatenate([[0.0], np.cumsum(VIB_DURS[:-1] + 0.05)])
VIB_LINE = (np.full(VIB_DURS.size, 67.0), VIB_ONSETS, VIB_ONSETS + VIB_DURS)


def _vibrato(instrument, n_seeds=20):
    return np.stack([_perform(VIB_LINE, _strengths(), instrument=instrument, seed=s).vibrato_cents
                     for s in range(n_seeds)])


def test_vibrato_grows_with_note_length():
    cents = _vibrato("violin")
    short, medium, long_ = cents[:, VIB_DURS < 0.2], cents[:, VIB_DURS == 0.3], cents[:, VIB_DURS > 0.6]
    np.testing.assert_array_equal(short, 0.0)
    assert long_.mean() > 5.0
    assert long_.mean() > medium.mean() > short.mean()
    assert np.mean(long_ > 0) > 0.7  # violin: most long notes


def test_clarinet_gets_much_less_vibrato_than_violin():
    violin, clarinet = _vibrato("violin"), _vibrato("clarinet")
    assert clarinet.mean() < 0.25 * violin.mean()
    long_ = VIB_DURS > 0.6
    assert np.mean(clarinet[:, long_] > 0) < 0.5 * np.mean(violin[:, long_] > 0)


def test_vibrato_scale_scales_the_depth():
    base = _perform(VIB_LINE, _strengths(vibrato_scale=0.5)).vibrato_cents
    wide = _perform(VIB_LINE, _strengths(vibrato_scale=1.5)).vibrato_cents
    has = base > 0
    assert has.any()
    np.testing.assert_array_equal(wide > 0, has)
    np.testing.assert_allclose(wide[has], 3.0 * base[has], rtol=1e-9)


def test_brightness_coupling_is_strongest_for_brass():
    k = _strengths(arch_depth_db=10.0, final_db=4.0)
    strings = _perform(LINE, k, instrument="violin")
    brass = _perform(LINE, k, instrument="trumpet")
    np.testing.assert_array_equal(strings.level_db, brass.level_db)  # the same levels
    assert np.std(brass.filter_cents) > 1.8 * np.std(strings.filter_cents)
    assert np.corrcoef(brass.level_db, brass.filter_cents)[0, 1] > 0.8  # opens with the level
    # the families differ by their cents per dB (160 - 60) times the level below the loudest note
    level = strings.level_db
    np.testing.assert_allclose(brass.filter_cents - strings.filter_cents,
                               100.0 * (level - level.max()), atol=1e-6)


# --------------------------------------------------------------------------------------------
# a family of performances
# --------------------------------------------------------------------------------------------
def test_rule_strengths_lie_in_the_table_ranges():
    rng = np.random.default_rng(1)
    draws = [draw_rule_strengths(rng) for _ in range(400)]
    for name, (lo, hi) in TABLE.items():
        values = np.array([d[name] for d in draws])
        assert values.min() >= lo and values.max() <= hi, name
        assert values.min() < lo + 0.05 * (hi - lo) and values.max() > hi - 0.05 * (hi - lo), name
    legato = np.mean([d["legato"] for d in draws])
    assert 0.4 < legato < 0.6


def test_different_seeds_give_different_performances():
    a = draw_rule_strengths(np.random.default_rng(1))
    b = draw_rule_strengths(np.random.default_rng(2))
    assert a == draw_rule_strengths(np.random.default_rng(1))
    differ = [name for name in TABLE if a[name] != b[name]]
    assert len(differ) == len(TABLE)
    p1 = phrased_expression(*LINE, instrument="violin", family="strings", rng=np.random.default_rng(1))
    p1b = phrased_expression(*LINE, instrument="violin", family="strings", rng=np.random.default_rng(1))
    p2 = phrased_expression(*LINE, instrument="violin", family="strings", rng=np.random.default_rng(2))
    assert p1.strengths == p1b.strengths and np.array_equal(p1.level_db, p1b.level_db)
    assert p1.strengths != p2.strengths
    assert not np.allclose(p1.level_db, p2.level_db)


# --------------------------------------------------------------------------------------------
# draw_performance
# --------------------------------------------------------------------------------------------
DP_LINE = np.stack(_phrases([7, 7, 7], ioi=0.4, dur=0.36, rest=0.4, pitch=0), axis=1)
DP_LINE[:, 0] = 60 + np.array([0, 2, 4, 5, 7, 5, 4] * 3)


def test_share_of_phrased_lines():
    n = 400
    styles = [render.draw_performance(DP_LINE, "flute", seed=s).settings["style"] for s in range(n)]
    assert set(styles) == {"phrased", "independent"}
    count = styles.count("phrased")
    sd = np.sqrt(n * render.PHRASED_SHARE * (1 - render.PHRASED_SHARE))
    assert abs(count - n * render.PHRASED_SHARE) < 4 * sd


def test_style_records_the_rules():
    seen = set()
    for seed in range(20):
        settings = render.draw_performance(DP_LINE, "cello", seed=seed).settings
        seen.add(settings["style"])
        if settings["style"] == "phrased":
            assert set(settings["rules"]) == set(draw_rule_strengths(np.random.default_rng(0)))
            assert settings["volume_db"] == 0.0
        else:
            assert settings["rules"] is None
    assert seen == {"phrased", "independent"}


def _note_cc(perf):
    """Mean expression CC over each sounding note."""
    cc = perf.controls["expression_cc"]
    on_f = np.rint(perf.notes[:, 1] * perf.frame_rate).astype(int)
    off_f = np.rint(perf.notes[:, 2] * perf.frame_rate).astype(int)
    return np.array([cc[a:b].mean() for a, b in zip(on_f, off_f)])


def test_phrased_performances_shape_the_phrase():
    _, position, final = phrase_positions(DP_LINE[:, 1], DP_LINE[:, 2])
    middle = (position >= 0.3) & (position <= 0.7) & (final == 0)
    final = final > 0
    gaps = {"phrased": [], "independent": []}
    for seed in range(120):
        perf = render.draw_performance(DP_LINE, "violin", seed=seed)
        cc = _note_cc(perf)
        gaps[perf.settings["style"]].append(cc[middle].mean() - cc[final].mean())
    phrased, independent = np.array(gaps["phrased"]), np.array(gaps["independent"])
    assert phrased.size > 60 and independent.size > 15
    assert phrased.mean() > 20.0  # CC units
    assert np.mean(phrased > 0) > 0.8
    assert phrased.mean() > independent.mean() + 12.0


def _marked_performances(n_seeds=40, **overrides):
    line = _phrases([8, 8, 8, 8], ioi=0.4, dur=0.36, rest=0.4)
    line = (60 + np.array([0, 2, 4, 5, 7, 5, 4, 2] * 4, float), *line[1:])
    return line, [_perform(line, _strengths(marked=True, **overrides), seed=s) for s in range(n_seeds)]


def test_marked_lines_carry_marks_of_every_kind():
    _, perfs = _marked_performances()
    marks = [m for p in perfs for m in p.marks]
    assert all(isinstance(m, NoteMarks) and m.dynamic for m in marks)   # a dynamic from the start
    kinds = {a for m in marks for a in m.articulations} | {m.wedge for m in marks if m.wedge}
    assert kinds >= {"staccato", "accent", "crescendo", "diminuendo"}
    assert any(m.slur for m in marks) and any(m.fermata for m in marks)
    plain = _perform(_marked_performances(1)[0], _strengths(), seed=0)
    assert not any(plain.marks)


def test_the_performance_plays_its_dynamics():
    for perf in _marked_performances(velocity_follows_marks=True)[1]:
        plain = np.array([not (m.wedge or m.articulation) for m in perf.marks])
        target = np.array([MARK_DB[m.dynamic] for m in perf.marks])
        velocity = np.array([DYNAMIC_VELOCITY[m.dynamic] for m in perf.marks])
        # every other rule is off: the level is the mark's, give or take the 1 dB note noise
        assert np.all(np.abs(perf.level_db[plain] - target[plain]) < 4.0)
        assert np.all(np.abs(perf.velocity[plain] - velocity[plain]) < 16)


def test_in_half_the_marked_pieces_only_the_marks_tell_the_level():
    _, perfs = _marked_performances(velocity_follows_marks=False)
    spread = [np.ptp(np.array([MARK_DB[m.dynamic] for m in p.marks])) for p in perfs]
    for perf in perfs:
        assert np.std(perf.velocity) < 8.0                    # one velocity per piece
    levels = [np.corrcoef([MARK_DB[m.dynamic] for m in p.marks], p.level_db)[0, 1]
              for p, s in zip(perfs, spread) if s > 0]
    assert len(levels) >= 10 and np.mean(levels) > 0.8        # the level still follows the marks
    shares = [draw_rule_strengths(np.random.default_rng(s))["velocity_follows_marks"]
              for s in range(200)]
    assert 0.35 < np.mean(shares) < 0.65


def test_wedges_ramp_the_level():
    slopes = {"crescendo": [], "diminuendo": []}
    for perf in _marked_performances(60)[1]:
        for wedge in slopes:
            idx = np.flatnonzero([m.wedge == wedge and not m.articulation for m in perf.marks])
            runs = np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1)
            for run in runs:
                if run.size >= 3 and len({perf.marks[i].dynamic for i in run}) == 1:
                    slopes[wedge].append(np.polyfit(np.arange(run.size), perf.level_db[run], 1)[0])
    assert len(slopes["crescendo"]) >= 5 and len(slopes["diminuendo"]) >= 5
    assert np.mean(np.array(slopes["crescendo"]) > 0) > 0.9
    assert np.mean(np.array(slopes["diminuendo"]) < 0) > 0.9


def test_articulations_slurs_and_fermatas_shape_the_notes():
    for perf in _marked_performances()[1]:
        for i, m in enumerate(perf.marks):
            if "staccatissimo" in m.articulations:
                assert perf.fraction[i] == pytest.approx(0.35)
            elif "staccato" in m.articulations:
                assert perf.fraction[i] == pytest.approx(0.5)
            if "tenuto" in m.articulations or m.slur:
                assert perf.fraction[i] == 1.0
            if ("accent" in m.articulations or "marcato" in m.articulations) and not m.fermata:
                assert perf.shape[i] == "accent"
            if m.fermata and i + 1 < len(perf.marks):
                assert perf.ioi_scale[i] == pytest.approx(2.0)


def test_rendered_marks_sound_as_written():
    """Through ``draw_performance``: marks stored per note, slurred notes tied to the next onset,
    staccato notes sounding at most 60 % of their inter-onset interval."""
    seen = 0
    for seed in range(40):
        perf = render.draw_performance(DP_LINE, "violin", seed=seed)
        if perf.note_marks is None:
            continue
        seen += 1
        marks = [NoteMarks.from_codes(c) for c in perf.note_marks]
        assert len(marks) == len(perf.notes)
        on, off = perf.notes[:, 1], perf.notes[:, 2]
        for i, m in enumerate(marks[:-1]):
            if m.slur:
                assert off[i] == pytest.approx(on[i + 1])
            if m.articulations and m.articulations[0].startswith("staccat"):
                assert off[i] - on[i] <= 0.6 * (on[i + 1] - on[i]) + 0.02
    sd = np.sqrt(40 * render.PHRASED_SHARE * MARKED_SHARE)
    assert abs(seen - 40 * render.PHRASED_SHARE * MARKED_SHARE) < 4 * sd
