"""Tests for midi_ddsp.frames: part -> frame features and piano roll -> notes."""
from __future__ import annotations

import numpy as np
import pytest

from midi_ddsp.errors import ParameterError
from midi_ddsp.frames import PartFrames, frames_to_notes, part_to_frames
from midi_ddsp.score import Note, Part, note_frame_span

_FIELDS = ("pitch_midi", "onset", "offset", "note_position", "note_index", "velocity", "is_note",
           "note_length_s")


def _part(*notes):
    return Part(notes=[Note(*n) for n in notes])


def test_shapes_and_dtypes():
    part = _part((60, 0.0, 0.5, 100), (62, 0.6, 1.0, 64))
    frames = part_to_frames(part)
    assert isinstance(frames, PartFrames)
    assert frames.n_frames == 250 and frames.frame_rate == 250
    for name in _FIELDS:
        arr = getattr(frames, name)
        assert arr.shape == (250,), name
        assert arr.dtype == (np.int64 if name == "note_index" else np.float32), name
    longer = part_to_frames(part, n_frames=400)
    assert all(getattr(longer, name).shape == (400,) for name in _FIELDS)
    assert part_to_frames(Part(notes=[])).n_frames == 0


def test_hand_written_frames():
    # frame_rate 10: note A covers frames 0..2, rest at 3..4, note B frames 5..6
    part = _part((60, 0.0, 0.3, 127), (62, 0.5, 0.7, 64))
    f = part_to_frames(part, n_frames=8, frame_rate=10)
    np.testing.assert_array_equal(f.pitch_midi, [60, 60, 60, 0, 0, 62, 62, 0])
    np.testing.assert_array_equal(f.onset, [1, 0, 0, 0, 0, 1, 0, 0])
    np.testing.assert_array_equal(f.offset, [0, 0, 1, 0, 0, 0, 1, 0])
    np.testing.assert_array_equal(f.note_index, [0, 0, 0, -1, -1, 1, 1, -1])
    np.testing.assert_array_equal(f.is_note, [1, 1, 1, 0, 0, 1, 1, 0])
    np.testing.assert_allclose(f.note_position, [0, 0.5, 1, 0, 0, 0, 1, 0])
    np.testing.assert_allclose(f.velocity, [1, 1, 1, 0, 0, 64 / 127, 64 / 127, 0], rtol=1e-6)
    np.testing.assert_allclose(f.note_length_s, [0.3, 0.3, 0.3, 0, 0, 0.2, 0.2, 0], rtol=1e-6)


def test_spans_follow_note_frame_span():
    rng = np.random.default_rng(1)
    onsets = np.sort(rng.uniform(0, 2, 12))
    notes = [Note(int(rng.integers(50, 80)), float(a), float(a) + 0.05 + float(rng.uniform(0, 0.1)))
             for a in onsets[::2]]  # every other onset: notes do not overlap
    frames = part_to_frames(Part(notes=notes))
    for k, note in enumerate(notes):
        start, stop = note_frame_span(note.onset_s, note.offset_s, frame_rate=250)
        assert frames.onset[start] == 1 and frames.offset[stop - 1] == 1
        assert np.all(frames.note_index[start:stop] == k)
        assert np.all(frames.pitch_midi[start:stop] == note.pitch)
    assert frames.onset.sum() == len(notes) == frames.offset.sum()


def test_round_trip_with_repeated_pitches():
    fr = 250
    notes = [Note(60, 0.0, 0.2, 80), Note(60, 0.2, 0.4, 90), Note(64, 0.5, 0.9, 100),
             Note(65, 0.9, 1.0, 127), Note(67, 1.2, 1.204, 30)]
    frames = part_to_frames(Part(notes=notes), frame_rate=fr)
    back = frames_to_notes(frames.pitch_midi, onset=frames.onset, velocity=frames.velocity,
                           frame_rate=fr)
    assert len(back) == len(notes)
    for a, b in zip(back, notes):
        assert a.pitch == b.pitch and a.velocity == b.velocity
        assert a.onset_s == pytest.approx(b.onset_s) and a.offset_s == pytest.approx(b.offset_s)
    # without onsets, repeated notes of one pitch merge
    merged = frames_to_notes(frames.pitch_midi, frame_rate=fr)
    assert [(n.pitch, n.onset_s, n.offset_s) for n in merged[:1]] == [(60, 0.0, 0.4)]
    assert all(n.velocity == 100 for n in merged)


def test_frames_to_notes_hand_written():
    pitch = [0, 0, 60.2, 60, 59.8, 0, 62, 64, 64]
    notes = frames_to_notes(pitch, frame_rate=10)
    assert notes == [Note(60, 0.2, 0.5), Note(62, 0.6, 0.7), Note(64, 0.7, 0.9)]
    assert frames_to_notes(np.zeros(5)) == []


def test_truncation_and_hidden_notes():
    part = _part((60, 0.0, 0.4), (62, 0.4, 1.0))
    f = part_to_frames(part, n_frames=5, frame_rate=10)
    np.testing.assert_array_equal(f.pitch_midi, [60, 60, 60, 60, 62])
    np.testing.assert_array_equal(f.offset, [0, 0, 0, 1, 0])  # cut note: no offset flag
    np.testing.assert_allclose(f.note_length_s[4], 0.6)  # length of the whole note
    # a note shorter than a frame at the same frame as the next onset is hidden by it
    tiny = _part((60, 0.0, 0.01), (62, 0.02, 0.3))
    g = part_to_frames(tiny, frame_rate=10)
    np.testing.assert_array_equal(g.note_index, [1, 1, 1])
    assert g.onset.sum() == 1 and g.offset.sum() == 1


@pytest.mark.parametrize("kwargs, match", [
    ({"frame_rate": 0}, "frame_rate"),
    ({"frame_rate": 2.5}, "frame_rate"),
    ({"n_frames": -1}, "n_frames"),
    ({"n_frames": 3.0}, "n_frames"),
])
def test_part_to_frames_bad_arguments(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        part_to_frames(_part((60, 0.0, 0.1)), **kwargs)


@pytest.mark.parametrize("args, kwargs, match", [
    ([[[60, 60]]], {}, "shape"),
    ([[60, 200]], {}, "0..127"),
    ([[60, -3]], {}, "0..127"),
    ([[60, np.nan]], {}, "finite"),
    ([[60, 60]], {"onset": [1, 0, 0]}, "like pitch_midi"),
    ([[60, 60]], {"frame_rate": -250}, "frame_rate"),
])
def test_frames_to_notes_bad_arguments(args, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        frames_to_notes(*args, **kwargs)
