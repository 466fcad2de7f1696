"""Tests of midi_ddsp.models.features: note features and the differentiable expression extractor."""
import numpy as np
import pytest
import torch

from midi_ddsp.dsp.core import get_controls
from midi_ddsp.expression import extract_note_expressions
from midi_ddsp.models.features import (
    N_NOTE_FEATURES,
    N_PLAIN_NOTE_FEATURES,
    note_mark_features,
    clip_notes,
    note_frame_features,
    note_sequence_features,
    note_spans,
)
from midi_ddsp.score import Note, NoteMarks
from midi_ddsp.training.losses import note_expressions_torch
from midi_ddsp.synth_params import SynthParams


@pytest.fixture
def rng():
    return np.random.default_rng(0)


NOTES = [Note(60, 0.0, 0.4, 100), Note(64, 0.4, 0.5, 80), Note(67, 0.6, 0.96, 90)]


def test_note_frame_features_shapes_and_values():
    feats, held = note_frame_features(NOTES, n_frames=250)
    assert feats.shape == (250, 14) and held.shape == (250,)
    assert held[0] == 60 and held[110] == 64 and held[130] == 64  # rest holds the last pitch
    assert held[160] == 67 and held[249] == 67
    assert feats[0, 2] == 1 and feats[100, 2] == 1 and feats[150, 2] == 1   # onsets
    assert feats[99, 3] == 1 and feats[124, 3] == 1                        # offsets
    assert feats[130, 1] == 0 and feats[0, 1] == 1                         # rest / note
    np.testing.assert_allclose(feats[0:100, 4], np.linspace(0, 1, 100), atol=1e-6)
    np.testing.assert_allclose(feats[10, 6], 10 / 250, atol=1e-6)          # time since onset
    np.testing.assert_allclose(feats[160, 10], np.sin(2 * np.pi * 5.5 * 10 / 250), atol=1e-5)
    assert np.all(feats[130, 8:] == 0)                                     # rest: no oscillator


def test_clip_notes_and_spans():
    clipped = clip_notes(NOTES, start_s=0.2, end_s=0.7)
    assert [n.pitch for n in clipped] == [60, 64, 67]
    assert clipped[0].onset_s == 0.0 and abs(clipped[0].offset_s - 0.2) < 1e-9
    assert abs(clipped[2].offset_s - 0.5) < 1e-9
    spans = note_spans(clipped, n_frames=125)
    assert spans.tolist() == [[0, 50], [50, 75], [100, 125]]


def test_note_sequence_features():
    f = note_sequence_features(NOTES)
    assert f.shape == (3, N_NOTE_FEATURES)
    assert f[0, 7] == 1 and f[1, 7] == 0            # first note of a phrase
    assert f[2, 8] == 1 and f[0, 8] == 0            # last note of a phrase
    np.testing.assert_allclose(f[:, 5], [0, 0.4 / 0.6, 1], atol=1e-6)  # onset time in the phrase
    np.testing.assert_allclose(f[2, 3], np.log(0.1 + 0.05), rtol=1e-5)  # 100 ms rest


def test_note_sequence_features_do_not_depend_on_part_length():
    """A note's features are the same in a part of 40 notes and in the same part repeated
    (no absolute-position feature): the windowed Expression Generator relies on it."""
    phrase = [Note(60 + i % 5, 0.5 * i, 0.5 * i + 0.45, 90) for i in range(8)]
    def repeat(k):
        return [Note(n.pitch, n.onset_s + 5.0 * r, n.offset_s + 5.0 * r, n.velocity)
                for r in range(k) for n in phrase]
    short, long_ = note_sequence_features(repeat(2)), note_sequence_features(repeat(10))
    # the second repetition (its last note has no next note in the short part: left out)
    np.testing.assert_allclose(long_[8:15], short[8:15], atol=1e-6)
    np.testing.assert_allclose(long_[72:79], short[8:15], atol=1e-6)


def test_torch_extractor_matches_numpy(rng):
    n = 250
    f0 = 440 * 2 ** ((np.interp(np.arange(n), [0, n], [60, 60]) - 69
                      + 0.3 * np.sin(2 * np.pi * 5.5 * np.arange(n) / 250)) / 12)
    amp = 10 ** (rng.uniform(-50, -10, n) / 20)
    hd = rng.uniform(0, 1, (n, 60))
    hd /= hd.sum(1, keepdims=True)
    noise = 10 ** (rng.uniform(-90, -30, (n, 65)) / 20)
    params = SynthParams(f0, amp, hd, noise)
    notes = [Note(60, 0.0, 0.6, 100), Note(60, 0.6, 1.0, 100)]
    ref = extract_note_expressions(params, notes).iloc[:, 4:].to_numpy()
    amp_db = torch.tensor(20 * np.log10(amp), dtype=torch.float32)[None]
    dev = torch.tensor(69 + 12 * np.log2(f0 / 440) - 60, dtype=torch.float32)[None]
    # the SG's output path plays the distribution through get_controls (Nyquist removed)
    played = get_controls(f0, amp, hd, sample_rate=16000).harmonic_distribution
    out = note_expressions_torch(amp_db, dev, torch.tensor(played, dtype=torch.float32)[None],
                                 torch.tensor(20 * np.log10(noise), dtype=torch.float32)[None],
                                 torch.tensor([0, 0]), torch.tensor([0, 150]), torch.tensor([150, 100]))
    out = out.numpy()
    for j in (0, 1, 3, 4, 5):   # exact formulas (vibrato: same peak in band)
        np.testing.assert_allclose(out[:, j], ref[:, j], rtol=2e-3, atol=2e-3)
    assert np.all((out[:, 2] >= 0) & (out[:, 2] <= 1))


def test_torch_extractor_gradients_reach_every_input():
    g = torch.Generator().manual_seed(0)
    amp = torch.randn(1, 100, generator=g).mul(5).sub(30).requires_grad_()
    dev = torch.randn(1, 100, generator=g).mul(0.1).requires_grad_()
    logits = torch.randn(1, 100, 60, generator=g).requires_grad_()
    noise = torch.randn(1, 100, 65, generator=g).sub(60).requires_grad_()
    out = note_expressions_torch(amp, dev, torch.softmax(logits, -1), noise, torch.tensor([0]),
                                 torch.tensor([10]), torch.tensor([80]))
    out.sum().backward()
    for t in (amp, dev, logits, noise):
        assert t.grad is not None and t.grad.abs().sum() > 0


def test_note_mark_features():
    marks = [NoteMarks("ppp"), NoteMarks("fff", "crescendo"), NoteMarks("fff", "crescendo", "marcato"),
             NoteMarks("p", "crescendo", "staccato", slur=True), NoteMarks(articulation="accent+tenuto"),
             NoteMarks(wedge="diminuendo", fermata=True)]
    notes = [Note(60, 0.5 * i, 0.5 * i + 0.4, 80, m) for i, m in enumerate(marks)]
    f = note_mark_features(notes)
    np.testing.assert_allclose(f[:, 0], [0, 1, 1, 2 / 7, 0, 0], atol=1e-6)     # ppp .. fff
    np.testing.assert_array_equal(f[:, 1], [1, 1, 1, 1, 0, 0])                 # dynamic in force
    np.testing.assert_array_equal(f[:, 2], [0, 1, 1, 1, 0, -1])                # wedge direction
    np.testing.assert_allclose(f[:, 3], [0, 0, 0.5, 1, 0, 0.5])                # progress in a run
    np.testing.assert_array_equal(f[:, 4], [0, 0, 1, 0, 0.5, 0])               # accent strength
    np.testing.assert_array_equal(f[:, 5:], [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [1, 0, 1, 0],
                                             [0, 1, 0, 0], [0, 0, 0, 1]])
    # the plain columns do not see marks; unmarked notes have all-zero mark columns
    plain = [Note(n.pitch, n.onset_s, n.offset_s, n.velocity) for n in notes]
    full, bare = note_sequence_features(notes), note_sequence_features(plain)
    np.testing.assert_array_equal(full[:, :N_PLAIN_NOTE_FEATURES], bare[:, :N_PLAIN_NOTE_FEATURES])
    np.testing.assert_array_equal(full[:, N_PLAIN_NOTE_FEATURES:], f)
    assert not bare[:, N_PLAIN_NOTE_FEATURES:].any()


def test_clip_notes_keeps_the_marks():
    notes = [Note(60, 0.0, 0.5, 80, NoteMarks("f", articulation="accent")), Note(62, 0.5, 1.0, 80)]
    assert [n.marks for n in clip_notes(notes, start_s=0.25, end_s=1.0)] == [n.marks for n in notes]
