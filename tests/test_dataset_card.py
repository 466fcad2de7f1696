"""Tests of data_pipeline.dataset_card on a tiny corpus built here."""
from __future__ import annotations

import json

import numpy as np
import pytest

from midi_ddsp.data_pipeline import corpus, dataset_card, melodies
from midi_ddsp.data_pipeline.melodies import MelodyLine
from midi_ddsp.errors import InputFileError, ParameterError
from midi_ddsp.shards import read_manifest, read_shard


def _lines() -> list[MelodyLine]:
    lines, i = [], 0
    wanted = {"train": 1, "valid": 1, "test": 1}
    while any(wanted.values()):
        work_id = f"essen/card/X{i}"
        split = melodies.split_for_work(work_id)
        if wanted[split]:
            wanted[split] -= 1
            onsets = np.arange(8) * 0.3
            notes = np.stack([60 + (np.arange(8) % 5), onsets, onsets + 0.3], 1).astype(np.float32)
            lines.append(MelodyLine(f"{work_id}#0", work_id, "essen", notes))
        i += 1
    return lines


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    lines = _lines()
    original = corpus.melodies.export_melodies
    corpus.melodies.export_melodies = lambda *a, **k: list(lines)
    try:
        corpus.build_corpus(out, minutes_per_instrument={"train": 0.05, "valid": 0.05, "test": 0.05},
                            instruments=["flute"], jobs=1, progress=False)
    finally:
        corpus.melodies.export_melodies = original
    return out


def test_card_files_and_numbers(tiny_corpus, tmp_path):
    card = dataset_card.write_dataset_card(tiny_corpus, tmp_path, n_floor_examples=1,
                                           max_expression_shards=2)
    assert {p.name for p in tmp_path.iterdir()} == {"card.json", "README.md", "expressions.png"}
    assert json.loads((tmp_path / "card.json").read_text()) == json.loads(json.dumps(card))
    records = read_manifest(tiny_corpus / "manifest.jsonl")
    stats = card["statistics"]
    for split in ("train", "valid", "test"):
        expected = sum(r["duration_s"] for r in records if r["split"] == split) / 3600
        assert stats["per_instrument"]["flute"][split]["hours"] == pytest.approx(expected, abs=1e-4)
        assert stats["per_instrument"]["flute"][split]["n_sources"] == 1
    assert stats["sources_in_two_splits"] == 0
    floor = card["resynthesis_floor"]["flute"]
    assert floor["n_clips"] == 1 and np.isfinite(floor["mean"]) and floor["mean"] > 0
    expr = card["expressions"]["flute"]
    assert expr["n_notes"] == 16  # 8 notes in each of the valid and test pieces
    assert set(expr) == {"n_notes", *dataset_card.EXPRESSION_NAMES}
    readme = (tmp_path / "README.md").read_text()
    assert "| flute |" in readme and "expressions.png" in readme
    assert card["marks"]["n_pieces"] == 2 and 0.0 <= card["marks"]["marked_pieces"] <= 1.0
    assert set(card["marks"]["note_share"]) >= {"dynamic", "wedge", "staccato", "slur", "fermata"}


def test_mark_shares_count_the_stored_marks(tmp_path):
    from midi_ddsp.score import NoteMarks
    from midi_ddsp.shards import Example, append_manifest, write_shard

    marks = [NoteMarks("p", articulation="staccato"), NoteMarks("p", slur=True), NoteMarks("f")]
    for i, note_marks in enumerate([marks, None]):
        ex = Example(example_id=f"e{i}", instrument="flute", split="test", source=f"w{i}",
                     audio=np.zeros(640, np.float32),
                     notes=np.array([[60, 0.0, 0.01, 80]] * 3, np.float32),
                     f0_hz=np.zeros(10, np.float32), f0_confidence=np.zeros(10, np.float32),
                     loudness_db=np.zeros(10, np.float32),
                     note_marks=None if note_marks is None else np.array([m.codes() for m in marks]))
        write_shard(tmp_path / f"s{i}.npz", [ex])
        append_manifest(tmp_path / "manifest.jsonl", {"shard": f"s{i}.npz", "instrument": "flute",
                                                      "split": "test", "duration_s": 0.04})
    shares = dataset_card.mark_shares(tmp_path)
    assert shares["n_pieces"] == 2 and shares["marked_pieces"] == 0.5
    assert shares["note_share"]["dynamic"] == pytest.approx(3 / 6)
    assert shares["note_share"]["staccato"] == pytest.approx(1 / 6, abs=1e-4)
    assert shares["note_share"]["slur"] == pytest.approx(1 / 6, abs=1e-4)
    assert shares["note_share"]["fermata"] == 0.0


def test_floor_is_below_the_loss_of_wrong_parameters(tiny_corpus):
    from midi_ddsp.analysis import resynthesis_floor
    from midi_ddsp.synth_params import SynthParams

    floors = dataset_card.resynthesis_floors(tiny_corpus, n_examples=1, clip_s=1.0)
    record = next(r for r in read_manifest(tiny_corpus / "manifest.jsonl") if r["split"] == "valid")
    ex = read_shard(tiny_corpus / record["shard"])[0]
    start = int(np.nonzero(ex.f0_hz > 0)[0][0])
    stop = start + 250
    wrong = SynthParams(ex.f0_hz[start:stop] * 2 ** (1 / 12), ex.amplitude[start:stop] * 0.25,
                        ex.harmonic_distribution[start:stop], ex.noise_magnitudes[start:stop])
    wrong_loss = resynthesis_floor(ex.audio[start * 64:stop * 64], wrong)
    assert floors["flute"]["mean"] < wrong_loss


def test_missing_corpus_and_bad_options(tmp_path):
    with pytest.raises(InputFileError):
        dataset_card.write_dataset_card(tmp_path / "nothing", tmp_path / "card")
    with pytest.raises(ParameterError):
        dataset_card.write_dataset_card(tmp_path, tmp_path / "card", n_floor_examples=0)
