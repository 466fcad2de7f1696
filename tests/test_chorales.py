"""Tests of midi_ddsp.chorales: Bach chorales from the music21 corpus as quartets."""
import hashlib
from pathlib import Path

import pytest

from midi_ddsp import chorales
from midi_ddsp.chorales import synthesize_bach
from midi_ddsp.instruments import ENSEMBLES
from midi_ddsp.errors import InputFileError, ParameterError


@pytest.mark.parametrize("ensemble", sorted(ENSEMBLES))
def test_synthesize_bach_ensembles(tiny_models, ensemble, monkeypatch):
    import music21

    source = Path(str(music21.corpus.getWork("bach/bwv66.6")))
    before = hashlib.sha256(source.read_bytes()).hexdigest()
    calls = []
    real = chorales.synthesize_midi

    def short(pm, **kwargs):  # render only the first two beats: the point is the line-up
        for inst in pm.instruments:
            inst.notes = [n for n in inst.notes if n.start < 1.0]
        calls.append(kwargs)
        return real(pm, **kwargs)

    monkeypatch.setattr(chorales, "synthesize_midi", short)
    r = synthesize_bach("bwv66.6", ensemble=ensemble, models=tiny_models)
    assert [p["instrument"] for p in r.metadata["parts"]] == list(ENSEMBLES[ensemble])
    assert all(p["transposed_semitones"] == 0 for p in r.metadata["parts"])  # no octave jumps
    assert r.metadata["settings"]["ensemble"] == ensemble
    assert hashlib.sha256(source.read_bytes()).hexdigest() == before


def test_common_shift_keeps_voices_in_range():
    from midi_ddsp.instruments import get_instrument

    violin, cello = get_instrument("violin"), get_instrument("cello")
    # alto one semitone below the violin's G3 (55): up one semitone, not an octave
    assert chorales._common_shift([[54, 60], [40, 50]], [violin, cello]) == 1
    assert chorales._common_shift([[60], [40]], [violin, cello]) == 0
    assert chorales._common_shift([[104, 70]], [violin]) == -1  # one above the top B7 (103)
    # nothing fits within a tritone: every shift is as bad, so none
    assert chorales._common_shift([[20]], [violin]) == 0
    # fewest notes outside wins over the smallest shift
    assert chorales._common_shift([[52, 53, 54, 60]], [violin]) == 3


def test_synthesize_bach_errors(tiny_models):
    with pytest.raises(ParameterError, match="unknown ensemble"):
        synthesize_bach("bwv66.6", ensemble="kazoo_band", models=tiny_models)
    with pytest.raises(InputFileError, match="bwv99999"):
        synthesize_bach("bwv99999", models=tiny_models)


