"""Tests of midi_ddsp.models.expression_generator."""
import numpy as np
import pytest
import torch

from midi_ddsp.errors import ParameterError
from midi_ddsp.expression import EXPRESSION_NAMES, EXPRESSIONS, NOTE_TABLE_COLUMNS
from midi_ddsp.models import ExpressionGenerator, ExpressionGeneratorConfig
from midi_ddsp.score import Note, NoteMarks

NOTES = [Note(60 + i, 0.25 * i, 0.25 * i + 0.2, 90) for i in range(6)]


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return ExpressionGenerator(ExpressionGeneratorConfig.tiny()).eval()


def test_generate_note_table(model):
    table = model.generate(NOTES, "violin")
    assert list(table.columns) == list(NOTE_TABLE_COLUMNS)
    assert len(table) == 6
    np.testing.assert_array_equal(table["pitch"], [n.pitch for n in NOTES])
    np.testing.assert_allclose(table["onset_s"], [n.onset_s for n in NOTES], atol=1e-6)
    assert np.all(table["vol_peak_pos"].between(0, 1))


def test_deterministic_and_seeded_sampling(model):
    a = model.generate(NOTES, "violin")
    b = model.generate(NOTES, "violin")
    s1 = model.generate(NOTES, "violin", seed=1)
    s1b = model.generate(NOTES, "violin", seed=1)
    s2 = model.generate(NOTES, "violin", seed=2)
    cols = list(EXPRESSION_NAMES)
    np.testing.assert_array_equal(a[cols], b[cols])
    np.testing.assert_array_equal(s1[cols], s1b[cols])
    assert not np.allclose(s1[cols], s2[cols])
    assert not np.allclose(a[cols], s1[cols])


def test_teacher_forced_equals_generation(model):
    """The autoregressive loop and the teacher-forced pass agree when fed the same history."""
    from midi_ddsp.models.features import note_sequence_features
    table = model.generate(NOTES, "cello")
    values = torch.tensor(table[list(EXPRESSION_NAMES)].to_numpy())[None]
    previous = torch.cat([torch.zeros(1, 1, 6), values[:, :-1]], dim=1)
    w = torch.zeros(1, 13)
    w[0, 2] = 1
    with torch.no_grad():
        mean, _ = model(torch.from_numpy(note_sequence_features(NOTES))[None], w, previous)
    # generation clips every expression to its generated range; so must the comparison
    low = np.array([e.generated_low for e in EXPRESSIONS], np.float32)
    high = np.array([e.generated_high for e in EXPRESSIONS], np.float32)
    np.testing.assert_allclose(np.clip(mean[0].numpy(), low, high), values[0].numpy(), atol=1e-5)


def test_empty_and_errors(model):
    assert len(model.generate([], "violin")) == 0
    with pytest.raises(ParameterError):
        model.generate([(60, 0, 1, 100)], "violin")
    with pytest.raises(ParameterError):
        model.generate(NOTES, "violin", seed="x")
    with pytest.raises(ParameterError, match="monophonic"):
        model.generate([Note(60, 0, 1, 90), Note(62, 0.5, 1.5, 90)], "violin")


MARKED = [Note(n.pitch, n.onset_s, n.offset_s, n.velocity,
               NoteMarks("pp" if i < 3 else "ff", articulation="staccato" if i % 2 else ""))
          for i, n in enumerate(NOTES)]


def test_grown_mark_inputs_start_as_the_model_and_then_read_the_marks(model):
    grown = model.with_mark_inputs().eval()
    assert grown.config.mark_inputs and not model.config.mark_inputs
    cols = list(EXPRESSION_NAMES)
    want = model.generate(MARKED, "violin")[cols].to_numpy()
    np.testing.assert_array_equal(grown.generate(MARKED, "violin")[cols].to_numpy(), want)
    # a model without mark inputs ignores the marks entirely
    np.testing.assert_array_equal(model.generate(NOTES, "violin")[cols].to_numpy(), want)
    with torch.no_grad():   # once the new input weights are non-zero, the marks move the output
        for weight in (grown.encoder.weight_ih_l0, grown.encoder.weight_ih_l0_reverse):
            weight[:, 10:19] = 0.5
    assert not np.allclose(grown.generate(MARKED, "violin")[cols].to_numpy(), want)
    assert np.allclose(grown.generate(NOTES, "violin")[cols].to_numpy(), want)   # unmarked: as before


def test_mark_input_checkpoints_round_trip(model, tmp_path):
    from midi_ddsp.models.checkpoint import load_model

    grown = model.with_mark_inputs()
    path = grown.save_checkpoint(tmp_path / "eg.pt")
    back = load_model(path)
    assert back.config.mark_inputs and back.n_note_features == 19
    cols = list(EXPRESSION_NAMES)
    np.testing.assert_array_equal(back.generate(MARKED, "cello")[cols].to_numpy(),
                                  grown.generate(MARKED, "cello")[cols].to_numpy())


def test_training_the_marks_alone_leaves_unmarked_notes_as_they_were(model):
    from midi_ddsp.models.features import note_sequence_features

    grown = model.with_mark_inputs()
    grown.train_marks_only()
    before = {k: v.clone() for k, v in grown.state_dict().items()}
    optimizer = torch.optim.Adam(grown.parameters(), lr=0.05)
    w = torch.zeros(1, 13)
    w[0, 0] = 1
    feats = torch.from_numpy(note_sequence_features(MARKED))[None]
    for _ in range(5):
        mean, _ = grown(feats, w, torch.zeros(1, len(MARKED), 6))
        loss = (mean[..., 0] - 1.0).pow(2).mean()      # louder, please
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = grown.state_dict()
    changed = {k for k in after if not torch.equal(after[k], before[k])}
    assert changed == {"encoder.weight_ih_l0", "encoder.weight_ih_l0_reverse"}
    for name in changed:   # only the mark columns moved
        diff = (after[name] - before[name]).abs().sum(0)
        assert diff[10:19].sum() > 0 and diff[:10].sum() == 0 and diff[19:].sum() == 0
    grown.eval()
    cols = list(EXPRESSION_NAMES)
    np.testing.assert_array_equal(grown.generate(NOTES, "violin")[cols].to_numpy(),
                                  model.generate(NOTES, "violin")[cols].to_numpy())
    assert (grown.generate(MARKED, "violin")["volume"].mean()
            > model.generate(MARKED, "violin")["volume"].mean())
    with pytest.raises(ParameterError, match="mark_inputs"):
        ExpressionGenerator(ExpressionGeneratorConfig.tiny()).train_marks_only()
