"""Tests for midi_ddsp.expression: the note-expression extractor and the NoteTable."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from midi_ddsp.errors import InputFileError, ParameterError
from midi_ddsp.expression import (
    EXPRESSION_NAMES,
    EXPRESSIONS,
    NOTE_TABLE_COLUMNS,
    expressions_to_frames,
    extract_note_expressions,
    note_table_from_notes,
    notes_from_note_table,
    validate_note_table,
)
from midi_ddsp.score import Note
from midi_ddsp.synth_params import SynthParams

FRAME_RATE = 250
A4_HZ = 440.0


def make_params(n_frames, *, f0_hz=A4_HZ, amplitude=0.01, harmonic=1, noise=1e-3,
                n_harmonics=60, n_noise_bands=65):
    """SynthParams built by hand: scalars broadcast; ``harmonic`` = the one harmonic (1-based)."""
    f0 = np.broadcast_to(np.asarray(f0_hz, dtype=np.float64), (n_frames,)).copy()
    amp = np.broadcast_to(np.asarray(amplitude, dtype=np.float64), (n_frames,)).copy()
    hd = np.zeros((n_frames, n_harmonics))
    hd[:, harmonic - 1] = 1.0
    noise = np.broadcast_to(np.asarray(noise, dtype=np.float64),
                            (n_frames, n_noise_bands)).copy()
    return SynthParams(f0, amp, hd, noise)


def vibrato_f0(n_frames, *, cents, rate_hz, base_hz=A4_HZ):
    t = np.arange(n_frames) / FRAME_RATE
    return base_hz * 2.0 ** (cents / 1200.0 * np.sin(2 * np.pi * rate_hz * t))


def one_note(params, duration_s, pitch=69):
    table = extract_note_expressions(params, [Note(pitch, 0.0, duration_s)],
                                     frame_rate=FRAME_RATE)
    return table.iloc[0]


# ---------------------------------------------------------------------------------------------
# Ranges as data
# ---------------------------------------------------------------------------------------------

def test_expressions_table_order_and_ranges():
    assert EXPRESSION_NAMES == ("volume", "vol_fluc", "vol_peak_pos", "vibrato", "brightness",
                                "attack")
    assert NOTE_TABLE_COLUMNS == ("pitch", "onset_s", "offset_s", "velocity") + EXPRESSION_NAMES
    for e in EXPRESSIONS:
        assert e.valid_low <= e.low < e.high <= e.valid_high
        assert e.valid_low <= e.neutral <= e.valid_high
        assert e.unit and e.description
    with pytest.raises(Exception):
        EXPRESSIONS[0].low = 5.0  # frozen


# ---------------------------------------------------------------------------------------------
# Extractor: shape and formulas against hand computations
# ---------------------------------------------------------------------------------------------

def test_extract_shape_and_dtype():
    params = make_params(200)
    notes = [Note(69, 0.0, 0.3, 80), Note(71, 0.3, 0.5, 90), Note(72, 0.6, 0.8, 100)]
    table = extract_note_expressions(params, notes, frame_rate=FRAME_RATE)
    assert list(table.columns) == list(NOTE_TABLE_COLUMNS) + ["vibrato_rate"]
    assert table.shape == (3, 11)
    assert all(table.dtypes == np.float32)
    np.testing.assert_array_equal(table["pitch"], [69, 71, 72])
    np.testing.assert_array_equal(table["velocity"], [80, 90, 100])
    np.testing.assert_allclose(table["offset_s"], [0.3, 0.5, 0.8], rtol=1e-6)


def test_vibrato_6hz_30_cents():
    n = 250  # 1 s note
    row = one_note(make_params(n, f0_hz=vibrato_f0(n, cents=30, rate_hz=6)), 1.0)
    # Independent: Hann coherent gain (n-1)/(2n), |rFFT| peak = A/2 * sum(w), divided by n.
    expected = 10 * 0.30 / 2 * (n - 1) / (2 * n)
    assert row["vibrato"] > 0
    assert row["vibrato"] == pytest.approx(expected, rel=0.02)


def test_vibrato_scales_with_extent():
    n = 250
    small = one_note(make_params(n, f0_hz=vibrato_f0(n, cents=10, rate_hz=5)), 1.0)["vibrato"]
    large = one_note(make_params(n, f0_hz=vibrato_f0(n, cents=50, rate_hz=5)), 1.0)["vibrato"]
    assert large / small == pytest.approx(5.0, rel=0.02)


@pytest.mark.parametrize("f0_hz, duration_s, why", [
    (A4_HZ, 1.0, "flat note"),
    (vibrato_f0(250, cents=30, rate_hz=2), 1.0, "2 Hz wobble is below 3 Hz"),
    (vibrato_f0(250, cents=30, rate_hz=12), 1.0, "12 Hz is above 9 Hz"),
    (vibrato_f0(250, cents=30, rate_hz=6), 0.15, "150 ms note is too short"),
    (vibrato_f0(250, cents=30, rate_hz=6), 0.2, "200 ms is not longer than 200 ms"),
])
def test_vibrato_zero(f0_hz, duration_s, why):
    assert one_note(make_params(250, f0_hz=f0_hz), duration_s)["vibrato"] == 0.0, why


def test_vibrato_ignores_unvoiced_frames():
    n = 250
    f0 = vibrato_f0(n, cents=30, rate_hz=6)
    f0[:20] = 0.0  # unvoiced onset
    f0[-10:] = 0.0
    voiced = n - 30
    row = one_note(make_params(n, f0_hz=f0), 1.0)
    assert np.isfinite(row["vibrato"])
    assert row["vibrato"] == pytest.approx(10 * 0.15 * (voiced - 1) / (2 * voiced), rel=0.03)


def test_vibrato_ignores_octave_errors():
    n = 250
    f0 = vibrato_f0(n, cents=30, rate_hz=6)
    clean = one_note(make_params(n, f0_hz=f0), 1.0)["vibrato"]
    f0[100:104] *= 2.0  # pitch-tracker octave jump: 12 semitones off, left out (> 2 semitones)
    jumped = one_note(make_params(n, f0_hz=f0), 1.0)["vibrato"]
    assert jumped == pytest.approx(clean, rel=0.05)


def test_vibrato_measured_against_written_pitch():
    # The same vibrato around a pitch 1 semitone off the written one is still vibrato:
    # the mean deviation is removed before the FFT.
    n = 250
    f0 = vibrato_f0(n, cents=30, rate_hz=6, base_hz=A4_HZ * 2 ** (1 / 12))
    on_pitch = one_note(make_params(n, f0_hz=vibrato_f0(n, cents=30, rate_hz=6)), 1.0)
    off_pitch = one_note(make_params(n, f0_hz=f0), 1.0)
    assert off_pitch["vibrato"] == pytest.approx(on_pitch["vibrato"], rel=1e-3)


def test_volume_constant_amplitude():
    row = one_note(make_params(100, amplitude=0.01), 0.4)
    assert row["volume"] == pytest.approx(-40.0 / 60 + 1.5, abs=1e-5)  # 0.8333
    assert row["vol_fluc"] == pytest.approx(0.0, abs=1e-6)


def test_volume_floor_at_zero_amplitude():
    row = one_note(make_params(50, amplitude=0.0), 0.2)
    assert row["volume"] == pytest.approx(-120.0 / 60 + 1.5, abs=1e-5)


def test_vol_fluc_two_level_square():
    n = 100
    amplitude = np.where(np.arange(n) % 20 < 10, 0.01, 0.1)  # -40 dB / -20 dB, 50 % each
    row = one_note(make_params(n, amplitude=amplitude), 0.4)
    assert row["vol_fluc"] == pytest.approx(10.0 * 2.5 / 60, abs=1e-5)  # std = 10 dB
    assert row["volume"] == pytest.approx(-30.0 / 60 + 1.5, abs=1e-5)


def test_vol_peak_pos_crescendo_and_decrescendo():
    n = 100
    rising = 10.0 ** (np.linspace(-60, -20, n) / 20)
    crescendo = one_note(make_params(n, amplitude=rising), 0.4)
    decrescendo = one_note(make_params(n, amplitude=rising[::-1]), 0.4)
    assert crescendo["vol_peak_pos"] == pytest.approx((n - 1) / n, abs=1e-6)
    assert decrescendo["vol_peak_pos"] == pytest.approx(0.0, abs=1e-6)


def test_vol_peak_pos_relative_to_onset_frame():
    amplitude = np.full(200, 0.01)
    amplitude[100 + 25] = 0.1  # peak at frame 25 of a 50-frame note starting at frame 100
    amplitude[10] = 1.0  # louder peak outside the note must not count
    table = extract_note_expressions(make_params(200, amplitude=amplitude),
                                     [Note(69, 0.4, 0.6)], frame_rate=FRAME_RATE)
    assert table["vol_peak_pos"][0] == pytest.approx(0.5, abs=1e-6)


@pytest.mark.parametrize("harmonic, expected", [(1, 5 / 60), (6, 0.5), (12, 1.0), (60, 5.0)])
def test_brightness_single_harmonic(harmonic, expected):
    # f0 110 Hz: all 60 harmonics lie below the 8 kHz Nyquist
    row = one_note(make_params(50, f0_hz=110.0, harmonic=harmonic), 0.2, pitch=45)
    assert row["brightness"] == pytest.approx(expected, rel=1e-6)


def test_brightness_renormalises_and_averages_frames():
    n = 50
    hd = np.zeros((n, 60))
    hd[:25, 0] = 3.0  # not normalised: still harmonic 1 only
    hd[25:, 11] = 0.5  # harmonic 12
    params = SynthParams(np.full(n, A4_HZ), np.full(n, 0.01), hd, np.full((n, 65), 1e-3))
    row = one_note(params, 0.2)
    assert row["brightness"] == pytest.approx(5 * (1 + 12) / 2 / 60, rel=1e-6)


def test_attack_constant_noise():
    row = one_note(make_params(100, noise=1e-3), 0.4)  # -60 dB in every band
    assert row["attack"] == pytest.approx(-60.0 / 40 + 2.625, abs=1e-5)  # 1.125


def test_attack_is_mean_of_band_levels_in_db():
    noise = np.full(65, 1e-4)  # -80 dB
    noise[:13] = 1e-2  # -40 dB in 13 of 65 bands
    row = one_note(make_params(100, noise=noise), 0.4)
    level_db = (13 * -40.0 + 52 * -80.0) / 65  # -72 dB (the dB of the mean would be ~-54 dB)
    assert row["attack"] == pytest.approx(level_db / 40 + 2.625, abs=1e-5)


def test_attack_uses_first_40_ms_only():
    noise = np.full((100, 65), 1e-5)  # -100 dB
    noise[:10] = 1e-3  # -60 dB in the first 10 frames = 40 ms
    row = one_note(make_params(100, noise=noise), 0.4)
    assert row["attack"] == pytest.approx(-60.0 / 40 + 2.625, abs=1e-5)
    noise[:5] = 1e-1  # short note: 5 frames, all at -20 dB
    short = one_note(make_params(100, noise=noise), 0.02)
    assert short["attack"] == pytest.approx(-20.0 / 40 + 2.625, abs=1e-5)


def test_each_note_uses_its_own_frames():
    amplitude = np.concatenate([np.full(50, 0.001), np.full(50, 0.1)])  # -60 dB, then -20 dB
    table = extract_note_expressions(make_params(100, amplitude=amplitude),
                                     [Note(69, 0.0, 0.2), Note(69, 0.2, 0.4)],
                                     frame_rate=FRAME_RATE)
    np.testing.assert_allclose(table["volume"], [-60 / 60 + 1.5, -20 / 60 + 1.5], atol=1e-5)
    np.testing.assert_allclose(table["vol_fluc"], [0.0, 0.0], atol=1e-5)


def test_note_past_the_end_is_clipped_or_rejected():
    params = make_params(100)
    clipped = extract_note_expressions(params, [Note(69, 0.2, 1.0)], frame_rate=FRAME_RATE)
    assert clipped["volume"][0] == pytest.approx(-40 / 60 + 1.5, abs=1e-5)
    with pytest.raises(ParameterError, match=r"notes\[1\].*outside the synth params"):
        extract_note_expressions(params, [Note(69, 0.0, 0.2), Note(69, 0.4, 0.6)],
                                 frame_rate=FRAME_RATE)


def test_extract_rejects_bad_inputs():
    params = make_params(50)
    with pytest.raises(ParameterError, match="SynthParams"):
        extract_note_expressions({"f0_hz": np.zeros(3)}, [Note(60, 0, 0.1)])
    bad = params.copy()
    bad.amplitude[3] = np.nan
    with pytest.raises(ParameterError, match="amplitude contains NaN"):
        extract_note_expressions(bad, [Note(60, 0, 0.1)])
    with pytest.raises(ParameterError, match=r"notes\[0\] must be a Note"):
        extract_note_expressions(params, [(60, 0, 0.1)])
    with pytest.raises(ParameterError, match="frame_rate"):
        extract_note_expressions(params, [Note(60, 0, 0.1)], frame_rate=0)


def test_extractor_output_validates():
    rng = np.random.default_rng(0)
    n = 500
    params = SynthParams(vibrato_f0(n, cents=40, rate_hz=5.5) * rng.uniform(0.99, 1.01, n),
                         rng.uniform(0, 2, n), rng.dirichlet(np.ones(60), n),
                         rng.uniform(0, 2, (n, 65)))
    notes = [Note(69, 0.0, 0.5), Note(70, 0.5, 1.3), Note(68, 1.4, 2.0)]
    table = extract_note_expressions(params, notes, frame_rate=FRAME_RATE)
    pd.testing.assert_frame_equal(validate_note_table(table), table)


def test_extract_empty_notes():
    table = extract_note_expressions(make_params(10), [], frame_rate=FRAME_RATE)
    assert list(table.columns) == list(NOTE_TABLE_COLUMNS) + ["vibrato_rate"] and len(table) == 0


# ---------------------------------------------------------------------------------------------
# expressions_to_frames
# ---------------------------------------------------------------------------------------------

def test_expressions_to_frames_rests_are_zero():
    notes = [Note(60, 0.0, 0.1), Note(62, 0.2, 0.3), Note(64, 0.38, 0.6)]
    table = note_table_from_notes(notes)
    table.loc[0, list(EXPRESSION_NAMES)] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    table.loc[1, list(EXPRESSION_NAMES)] = [1.1, 1.2, 0.7, 1.4, 1.5, 1.6]
    frames = expressions_to_frames(table, n_frames=100, frame_rate=FRAME_RATE)
    assert frames.shape == (100, 6) and frames.dtype == np.float32
    np.testing.assert_allclose(frames[0:25], np.tile([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], (25, 1)))
    np.testing.assert_array_equal(frames[25:50], 0.0)  # rest 0.1..0.2 s
    np.testing.assert_allclose(frames[50:75], np.tile([1.1, 1.2, 0.7, 1.4, 1.5, 1.6], (25, 1)))
    np.testing.assert_array_equal(frames[75:95], 0.0)  # rest 0.3..0.38 s
    np.testing.assert_allclose(frames[95:100], np.tile(table.loc[2, list(EXPRESSION_NAMES)]
                                                       .to_numpy(np.float32), (5, 1)))
    assert expressions_to_frames(table, n_frames=0).shape == (0, 6)
    with pytest.raises(ParameterError, match="n_frames"):
        expressions_to_frames(table, n_frames=-1)


# ---------------------------------------------------------------------------------------------
# Validation: every error path in one table
# ---------------------------------------------------------------------------------------------

def good_table():
    return note_table_from_notes([Note(60, 0.0, 0.5, 90), Note(62, 0.5, 1.0, 100),
                                  Note(64, 1.2, 1.5, 110)])


def _set(column, row, value):
    def edit(df):
        df = df.astype({column: object}) if isinstance(value, str) else df
        df.loc[row, column] = value
        return df
    return edit


@pytest.mark.parametrize("edit, pattern", [
    (lambda df: df.drop(columns=["vibrato", "attack"]),
     r"my table: missing column\(s\) 'vibrato', 'attack'"),
    (_set("volume", 1, "loud"), r"my table: column 'volume', row 1: 'loud' is not a number"),
    (_set("brightness", 2, np.nan), r"my table: column 'brightness', row 2: nan"),
    (_set("attack", 0, np.inf), r"my table: column 'attack', row 0: inf"),
    (lambda df: df.assign(vibrato=[False, True, False]), r"column 'vibrato' is boolean"),
    (_set("pitch", 1, 60.5), r"column 'pitch', row 1: 60.5 \(expected a whole MIDI number"),
    (_set("pitch", 2, 128), r"column 'pitch', row 2: 128"),
    (_set("velocity", 0, 0), r"column 'velocity', row 0: 0 \(expected a whole MIDI number in 1"),
    (_set("onset_s", 0, -0.1), r"column 'onset_s', row 0: -0.1 \(expected a time"),
    (_set("offset_s", 1, 0.4), r"column 'offset_s', row 1: 0.4 \(expected offset_s > onset_s"),
    (_set("offset_s", 2, 1.2), r"column 'offset_s', row 2: 1.2 \(expected offset_s > onset_s"),
    (_set("volume", 2, 4.5), r"column 'volume', row 2: 4.5 \(expected a value in the valid "
                             r"range \[-1, 4\]"),
    (_set("vol_peak_pos", 1, 1.2), r"column 'vol_peak_pos', row 1: 1.2"),
    (_set("vibrato", 0, -0.1), r"column 'vibrato', row 0: -0.1"),
    (_set("vol_fluc", 1, -0.01), r"column 'vol_fluc', row 1: -0.01"),
    (_set("offset_s", 0, 0.7), r"column 'onset_s', row 1: 0.5 s starts before the previous "
                               r"row ends \(0.7 s\)"),
    (lambda df: df.iloc[[0, 2, 1]], r"column 'onset_s', row 1: 0.5 s starts before"),
])
def test_validate_note_table_errors(edit, pattern):
    table = edit(good_table())
    with pytest.raises(ParameterError, match=pattern):
        validate_note_table(table, source="my table")


def test_validate_note_table_clean_copy():
    table = good_table()[list(reversed(NOTE_TABLE_COLUMNS))].astype(np.float64)
    table["comment"] = "x"
    table.index = [5, 6, 7]
    clean = validate_note_table(table)
    assert list(clean.columns) == list(NOTE_TABLE_COLUMNS)
    assert all(clean.dtypes == np.float32)
    assert list(clean.index) == [0, 1, 2]
    clean.loc[0, "volume"] = 0.0
    assert table.loc[5, "volume"] != 0.0  # a copy
    # Touching notes and tiny float32 overlaps are fine.
    touching = good_table()
    touching.loc[0, "offset_s"] = 0.5 + 1e-7
    validate_note_table(touching)


def test_validate_note_table_rejects_non_tables():
    with pytest.raises(ParameterError, match="expected a pandas DataFrame or a CSV path"):
        validate_note_table([[60, 0, 1]])


def test_validate_note_table_unreadable_files(tmp_path):
    with pytest.raises(InputFileError, match="no such file"):
        validate_note_table(tmp_path / "missing.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputFileError, match="empty.csv: empty file"):
        validate_note_table(empty)
    with pytest.raises(InputFileError, match="is a directory"):
        validate_note_table(tmp_path)


def test_validate_csv_errors_name_the_file(tmp_path):
    path = tmp_path / "notes.csv"
    good_table().drop(columns=["attack"]).to_csv(path, index=False)
    with pytest.raises(ParameterError, match=r"notes.csv: missing column\(s\) 'attack'"):
        validate_note_table(path)


# ---------------------------------------------------------------------------------------------
# Conversions and CSV round trip
# ---------------------------------------------------------------------------------------------

def test_note_table_csv_round_trip(tmp_path):
    n = 400
    params = make_params(n, f0_hz=vibrato_f0(n, cents=25, rate_hz=6),
                         amplitude=10 ** (np.linspace(-50, -30, n) / 20))
    notes = [Note(69, 0.0, 0.7, 64), Note(69, 0.75, 1.6, 100)]
    table = extract_note_expressions(params, notes, frame_rate=FRAME_RATE)
    path = tmp_path / "table.csv"
    table.to_csv(path, index=False)
    back = validate_note_table(str(path))
    pd.testing.assert_frame_equal(back, table)
    assert notes_from_note_table(path) == notes_from_note_table(table)


def test_notes_round_trip_through_table():
    notes = [Note(60, 0.0, 0.5, 90), Note(62, 0.5, 1.0, 100), Note(64, 1.25, 1.5, 110)]
    back = notes_from_note_table(note_table_from_notes(notes))
    assert [(n.pitch, n.velocity) for n in back] == [(60, 90), (62, 100), (64, 110)]
    assert all(isinstance(n.pitch, int) and isinstance(n.velocity, int) for n in back)
    np.testing.assert_allclose([(n.onset_s, n.offset_s) for n in back],
                               [(n.onset_s, n.offset_s) for n in notes], atol=1e-6)


def test_note_table_from_notes_defaults_and_overrides():
    notes = [Note(60, 0.0, 0.5)]
    table = note_table_from_notes(notes)
    assert [table[e.name][0] for e in EXPRESSIONS] == pytest.approx([e.neutral
                                                                     for e in EXPRESSIONS])
    table = note_table_from_notes(notes, expressions={"vibrato": 0.8})
    assert table["vibrato"][0] == pytest.approx(0.8)
    with pytest.raises(ParameterError, match="unknown expression name"):
        note_table_from_notes(notes, expressions={"loudness": 1.0})
