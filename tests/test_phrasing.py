"""Tests of midi_ddsp.phrasing: phrase boundaries, positions and metrical weights from note timing."""
from __future__ import annotations

import numpy as np
import pytest

from midi_ddsp.phrasing import (
    LONG_NOTE,
    MAX_PHRASE_S,
    REST_BOUNDARY,
    metrical_weights,
    phrase_ids,
    phrase_positions,
)

IOI = 0.5   # the regular inter-onset interval of the test lines (s)
DUR = 0.45  # the regular note length (s): a 0.05 s gap, 0.1 IOI, never a boundary by itself


def _line(iois, durs=None):
    """Onsets and offsets from inter-onset intervals (one per note; the last one is unused)."""
    iois = np.asarray(iois, np.float64)
    onsets = np.concatenate([[0.0], np.cumsum(iois[:-1])])
    durs = np.full(iois.size, DUR) if durs is None else np.asarray(durs, np.float64)
    return onsets, onsets + durs


def _boundaries(ids):
    """Indices of the notes that end a phrase (except the last note)."""
    return list(np.nonzero(np.diff(ids))[0])


# --------------------------------------------------------------------------------------------
# boundaries
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rest_iois, is_boundary", [
    (REST_BOUNDARY + 0.01, True),    # just over the threshold (in median IOIs): a phrase ends
    (REST_BOUNDARY + 0.5, True),
    (REST_BOUNDARY - 0.05, False),   # a shorter rest is a breath inside the phrase
    (0.1, False),                    # the regular gap of the line
])
def test_rest_boundary(rest_iois, is_boundary):
    n, k = 10, 4  # the rest follows note k
    iois = np.full(n, IOI)
    iois[k] = DUR + rest_iois * IOI  # the rest after note k, in median IOIs (median stays IOI)
    onsets, offsets = _line(iois)
    rest = onsets[k + 1] - offsets[k]
    assert np.isclose(rest, rest_iois * IOI)
    ids = phrase_ids(onsets, offsets)
    assert ids.dtype == np.int64 and ids.shape == (n,)
    assert _boundaries(ids) == ([k] if is_boundary else [])


def test_long_note_followed_by_shorter_one_ends_a_phrase():
    # note 3 is long (>= LONG_NOTE median durations) and followed by a regular note; the gap
    # after it stays a regular 0.05 s, so only the long-note rule can end the phrase there
    durs = np.full(12, DUR)
    iois = np.full(12, IOI)
    durs[3], iois[3] = 0.95, 1.0
    assert durs[3] >= LONG_NOTE * np.median(durs)
    ids = phrase_ids(*_line(iois, durs))
    assert _boundaries(ids) == [3]


def test_long_notes_in_a_row_end_a_phrase_only_at_the_last_one():
    # notes 3 and 4 are equally long: 3 is followed by a note that is not shorter, so the
    # phrase goes on; 4 is followed by a shorter one and ends it
    durs = np.full(12, DUR)
    iois = np.full(12, IOI)
    durs[3:5], iois[3:5] = 0.95, 1.0
    assert _boundaries(phrase_ids(*_line(iois, durs))) == [4]


def test_moderately_long_note_is_no_boundary():
    durs = np.full(12, DUR)
    iois = np.full(12, IOI)
    durs[3], iois[3] = 0.7, 0.75  # longer, but under LONG_NOTE median durations
    assert durs[3] < LONG_NOTE * np.median(durs)
    assert _boundaries(phrase_ids(*_line(iois, durs))) == []


def test_over_long_phrase_is_split_near_its_middle():
    n = 24  # 12 s without a rest or a long note
    onsets, offsets = _line(np.full(n, IOI))
    assert offsets[-1] - onsets[0] > MAX_PHRASE_S
    ids = phrase_ids(onsets, offsets)
    sizes = np.bincount(ids)
    assert sizes.size == 2  # one cut is enough: both halves are under MAX_PHRASE_S
    assert abs(int(sizes[0]) - int(sizes[1])) <= 2
    cut = _boundaries(ids)[0]
    middle = 0.5 * (onsets[0] + onsets[-1])
    assert abs(onsets[cut] - middle) <= IOI


def test_very_long_phrase_is_split_recursively_into_real_phrases():
    n = 100  # 50 s without a rest
    onsets, offsets = _line(np.full(n, IOI))
    ids = phrase_ids(onsets, offsets)
    assert np.all(np.diff(ids) >= 0) and ids[0] == 0
    sizes = np.bincount(ids)
    assert sizes.size >= 7  # 50 s in pieces of at most 8 s
    for k in range(sizes.size):
        idx = np.nonzero(ids == k)[0]
        assert offsets[idx[-1]] - onsets[idx[0]] <= MAX_PHRASE_S
    # halving keeps the pieces balanced: no 2-note fragments
    assert sizes.min() >= 8
    assert sizes.max() - sizes.min() <= 4


def test_over_long_phrase_is_cut_after_its_longest_inner_note():
    n = 24
    durs = np.full(n, DUR)
    iois = np.full(n, IOI)
    durs[9], iois[9] = 0.6, 0.65  # the longest note, but no long-note boundary by itself
    assert durs[9] < LONG_NOTE * np.median(durs)
    onsets, offsets = _line(iois, durs)
    assert _boundaries(phrase_ids(onsets, offsets)) == [9]
    # the same line under MAX_PHRASE_S (twice as fast) is one phrase
    assert _boundaries(phrase_ids(onsets / 2, offsets / 2)) == []


def test_edge_cases():
    assert phrase_ids([], []).shape == (0,)
    assert phrase_ids([0.0], [0.5]).tolist() == [0]
    ids, position, final = phrase_positions([0.0], [0.5])
    assert position.tolist() == [0.5] and final.tolist() == [1.0]


# --------------------------------------------------------------------------------------------
# positions and finals
# --------------------------------------------------------------------------------------------
def test_positions_run_from_zero_to_one_and_final_marks_the_last_note():
    iois = np.full(15, IOI)
    iois[[4, 9]] = 1.2  # rests after notes 4 and 9: three phrases of 5 notes
    onsets, offsets = _line(iois)
    ids, position, final = phrase_positions(onsets, offsets)
    assert ids.tolist() == [0] * 5 + [1] * 5 + [2] * 5
    assert position.shape == final.shape == (15,)
    for k in range(3):
        idx = np.nonzero(ids == k)[0]
        assert position[idx[0]] == 0.0 and position[idx[-1]] == 1.0
        assert np.all(np.diff(position[idx]) > 0)
        # evenly spaced onsets: evenly spaced positions
        np.testing.assert_allclose(position[idx], np.linspace(0.0, 1.0, idx.size))
        assert final[idx].tolist() == [0.0] * (idx.size - 1) + [1.0]
    assert final.sum() == 3


def test_positions_follow_onset_times_not_note_counts():
    iois = np.array([0.3, 0.3, 0.7, IOI, IOI, IOI])  # uneven onsets, 0.05 s gaps
    onsets, offsets = _line(iois, iois - 0.05)
    ids, position, _ = phrase_positions(onsets, offsets)
    assert np.all(ids == 0)
    np.testing.assert_allclose(position, onsets / onsets[-1])


# --------------------------------------------------------------------------------------------
# metre
# --------------------------------------------------------------------------------------------
def test_metrical_weights_alternate_on_a_regular_line():
    onsets = np.arange(9) * IOI
    w = metrical_weights(onsets)
    assert w.shape == (9,)
    assert w.tolist() == [1.0, 0.5] * 4 + [1.0]


def test_metrical_weights_off_beat_onsets_get_zero():
    # beats at 0, .5, 1, ...; extra onsets half-way between beats 2 and 3 and 5 and 6
    onsets = np.array([0.0, 0.5, 1.0, 1.25, 1.5, 2.0, 2.5, 2.75, 3.0, 3.5, 4.0])
    w = metrical_weights(onsets)
    assert w[[3, 7]].tolist() == [0.0, 0.0]
    on_beat = np.delete(np.arange(onsets.size), [3, 7])
    expected = np.where(np.rint(onsets[on_beat] / IOI) % 2 == 0, 1.0, 0.5)
    np.testing.assert_array_equal(w[on_beat], expected)


def test_metrical_weights_tolerate_small_timing_deviations():
    onsets = np.arange(12) * IOI
    onsets[[3, 5, 7]] += np.array([0.12, -0.12, 0.12]) * IOI  # within 15 % of a beat
    assert np.median(np.diff(onsets)) == IOI
    assert metrical_weights(onsets).tolist() == [1.0, 0.5] * 6
    onsets[5] -= 0.08 * IOI  # now 20 % early: off the beat
    assert metrical_weights(onsets)[5] == 0.0


def test_metrical_weights_count_short_notes_in_groups():
    # 0.1 s notes: the beat becomes 4 of them (0.4 s >= 0.3 s)
    onsets = np.arange(17) * 0.1
    w = metrical_weights(onsets)
    expected = np.zeros(17)
    expected[0::8] = 1.0
    expected[4::8] = 0.5
    np.testing.assert_array_equal(w, expected)


def test_metrical_weights_short_inputs():
    assert metrical_weights([]).shape == (0,)
    assert metrical_weights([1.0]).tolist() == [1.0]


# --------------------------------------------------------------------------------------------
# locality
# --------------------------------------------------------------------------------------------
def _long_line(seed: int = 3, n_phrases: int = 14):
    """A line of phrases of 4..14 notes with rests between, some with a long note inside a
    phrase (a long-note boundary) and one over-long phrase (split); most notes are regular
    (IOI 0.5 s, 0.45 s long), so any stretch of whole phrases has the same medians."""
    rng = np.random.default_rng(seed)
    iois, durs = [], []
    for p in range(n_phrases):
        size = 22 if p == 6 else int(rng.integers(4, 15))
        ph_ioi, ph_dur = np.full(size, IOI), np.full(size, DUR)
        if size >= 8 and rng.random() < 0.5:  # a held note in the middle of the phrase
            j = int(rng.integers(2, size - 3))
            ph_ioi[j], ph_dur[j] = 1.0, 0.95
        ph_ioi[-1] = DUR + rng.uniform(0.6, 1.0) * IOI  # rest to the next phrase
        iois.append(ph_ioi)
        durs.append(ph_dur)
    return _line(np.concatenate(iois), np.concatenate(durs))


def test_phrases_of_a_window_equal_those_of_the_whole_line():
    onsets, offsets = _long_line()
    ids = phrase_ids(onsets, offsets)
    starts = [0] + [i + 1 for i in _boundaries(ids)]
    assert len(starts) > 15  # rests, long notes and the split over-long phrase
    checked = 0
    for a_k, b_k in [(0, 5), (3, 9), (6, 12), (8, len(starts))]:
        a = starts[a_k]
        b = starts[b_k] if b_k < len(starts) else onsets.size
        window = phrase_ids(onsets[a:b], offsets[a:b])
        np.testing.assert_array_equal(window, ids[a:b] - ids[a])
        _, pos_w, final_w = phrase_positions(onsets[a:b], offsets[a:b])
        _, pos, final = phrase_positions(onsets, offsets)
        np.testing.assert_allclose(pos_w, pos[a:b])
        np.testing.assert_array_equal(final_w, final[a:b])
        checked += 1
    assert checked == 4
