"""Tests of midi_ddsp.synthesis: the pipeline and Python API, with randomly initialised tiny models."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.signal
import torch

from midi_ddsp import synthesis
from midi_ddsp.errors import CheckpointError, InputFileError, ParameterError
from midi_ddsp.expression import EXPRESSION_NAMES, NOTE_TABLE_COLUMNS, validate_note_table
from midi_ddsp.fluidsynth_render import default_soundfont_path
from midi_ddsp.mixing import DEFAULT_TARGET_LUFS, integrated_loudness, true_peak
from midi_ddsp.models import (
    ExpressionGenerator,
    ExpressionGeneratorConfig,
    SynthesisGenerator,
    SynthesisGeneratorConfig,
    shipped_checkpoint_path,
)
from midi_ddsp.score import Note, Score, score_from_notes
from midi_ddsp.synth_params import SynthParams
from midi_ddsp.synthesis import (
    ENSEMBLES,
    MidiDDSP,
    SynthesisResult,
    generate_synth_params,
    instrument_label,
    load_pretrained_model,
    render_params,
    rerender,
    synthesize_bach,
    synthesize_midi,
    write_result,
)

SR = 16000
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """Randomly initialised tiny models saved as checkpoints (no trained weights needed)."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("ckpt")
    eg = ExpressionGenerator(ExpressionGeneratorConfig.tiny()).save_checkpoint(folder / "eg.pt")
    sg = SynthesisGenerator(SynthesisGeneratorConfig.tiny()).save_checkpoint(folder / "sg.pt")
    return {"expression_generator": Path(eg), "synthesis_generator": Path(sg)}


@pytest.fixture(scope="module")
def model(checkpoints):
    return load_pretrained_model(expression_generator_path=checkpoints["expression_generator"],
                                 synthesis_generator_path=checkpoints["synthesis_generator"])


def duet() -> Score:
    return score_from_notes({
        "violin": [Note(67, 0.0, 0.3, 90), Note(69, 0.3, 0.6, 100)],
        "flute": [Note(72, 0.1, 0.5, 80)],
    })


@pytest.fixture(scope="module")
def duet_result(model):
    return synthesize_midi(duet(), model=model, seed=3)


# ---------------------------------------------------------------------------------------------
# Loading models

def test_load_custom_paths_ids_and_cache(model, checkpoints):
    assert isinstance(model, MidiDDSP)
    for kind, path in checkpoints.items():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        assert model.checkpoints[kind] == {"path": str(path), "id": f"sha256:{digest}"}
    again = load_pretrained_model(expression_generator_path=checkpoints["expression_generator"],
                                  synthesis_generator_path=checkpoints["synthesis_generator"])
    assert again is model
    assert model.frame_rate == 250 and model.model_sample_rate == 16000


def test_load_wrong_kind_and_missing_checkpoint(checkpoints, tmp_path):
    with pytest.raises(CheckpointError, match=r"sg\.pt.*expected expression_generator"):
        load_pretrained_model(expression_generator_path=checkpoints["synthesis_generator"],
                              synthesis_generator_path=checkpoints["synthesis_generator"])
    with pytest.raises(CheckpointError, match="nope.pt"):
        load_pretrained_model(expression_generator_path=tmp_path / "nope.pt",
                              synthesis_generator_path=checkpoints["synthesis_generator"])


# ---------------------------------------------------------------------------------------------
# synthesize_midi

def test_result_shapes_and_mix(duet_result):
    r = duet_result
    assert isinstance(r, SynthesisResult) and r.sample_rate == SR
    assert r.part_names == ["violin", "flute"]
    n = r.mix.shape[0]
    assert r.mix.dtype == np.float32 and r.mix.ndim == 1
    # the piece lasts 0.6 s plus the 1 s tail, at 250 Hz frames
    assert n == int(np.ceil(1.6 * 250)) * (SR // 250)
    assert all(s.shape == (n,) for s in r.stems.values())
    np.testing.assert_allclose(sum(r.stems.values()), r.mix, atol=1e-5)
    assert true_peak(r.mix) <= 10 ** (-1 / 20) * (1 + 1e-5)  # default loudness mode: <= -1 dBTP
    for name, params in r.synth_params.items():
        assert isinstance(params, SynthParams)
        assert params.n_frames * (SR // 250) == n
    assert r.duration_s == pytest.approx(n / SR)


def test_note_tables_are_valid_and_follow_the_notes(duet_result):
    table = duet_result.note_tables["violin"]
    assert list(table.columns) == list(NOTE_TABLE_COLUMNS)
    validate_note_table(table)
    np.testing.assert_array_equal(table["pitch"], [67, 69])
    np.testing.assert_allclose(table["onset_s"], [0.0, 0.3], atol=1e-6)
    np.testing.assert_array_equal(duet_result.note_tables["flute"]["pitch"], [72])


def test_metadata_is_json_and_complete(duet_result, model):
    meta = json.loads(json.dumps(duet_result.metadata))
    parts = {p["name"]: p for p in meta["parts"]}
    assert parts["violin"]["instrument"] == "violin" and parts["flute"]["instrument"] == "flute"
    assert parts["violin"]["seed"] == 3 and parts["flute"]["seed"] == 4
    assert parts["violin"]["renderer"] == "midi_ddsp"
    assert meta["checkpoints"] == model.checkpoints
    assert meta["settings"]["seed"] == 3
    assert {"expression_s", "synthesis_s", "render_s", "total_s"} <= set(meta["timings"])
    assert meta["settings"]["normalize"] == "loudness"
    mix = meta["mix"]
    assert mix["normalize"] == "loudness" and mix["target_lufs"] == DEFAULT_TARGET_LUFS
    assert mix["gain_db"] == pytest.approx(20 * np.log10(mix["gain"]))
    assert mix["limited"] is False and mix["limiter_reduction_db"] == 0.0
    assert mix["true_peak_dbtp"] <= -1.0 + 1e-4
    if not mix["peak_bound"]:
        assert mix["loudness_lufs"] == pytest.approx(DEFAULT_TARGET_LUFS, abs=0.5)


@pytest.mark.parametrize("normalize, mode", [("peak", "peak"), (True, "peak"), ("none", "none"),
                                             (False, "none")])
def test_normalize_modes_end_to_end(model, duet_result, normalize, mode):
    r = synthesize_midi(duet(), model=model, seed=3, normalize=normalize)
    assert r.metadata["settings"]["normalize"] == mode and r.metadata["mix"]["normalize"] == mode
    raw_default = duet_result.mix / duet_result.metadata["mix"]["gain"]
    if mode == "peak":  # the old behaviour: peak at -1 dBFS
        assert 20 * np.log10(np.max(np.abs(r.mix))) == pytest.approx(-1.0, abs=1e-3)
        assert r.metadata["mix"]["peak_dbfs"] == pytest.approx(-1.0, abs=1e-3)
    else:  # the models' own level: the raw sum of the parts
        assert r.metadata["mix"]["gain"] == 1.0 and r.metadata["mix"]["gain_db"] == 0.0
        np.testing.assert_allclose(r.mix, raw_default, rtol=1e-4, atol=1e-7)
    edited = rerender(r, gains_db={"flute": -6.0}, model=model)
    assert edited.metadata["settings"]["normalize"] == mode

def test_same_seed_same_audio_other_seed_differs(model, duet_result):
    again = synthesize_midi(duet(), model=model, seed=3)
    np.testing.assert_array_equal(again.mix, duet_result.mix)
    other = synthesize_midi(duet(), model=model, seed=4)
    assert not np.allclose(other.mix, duet_result.mix)


def test_pitch_offset_speed_rate_and_range_fitting(model, caplog):
    score = score_from_notes({"violin": [Note(67, 0.0, 0.4), Note(69, 0.4, 0.8)]})
    r = synthesize_midi(score, model=model, pitch_offset=2, speed_rate=2.0)
    table = r.note_tables["violin"]
    np.testing.assert_array_equal(table["pitch"], [69, 71])
    np.testing.assert_allclose(table["offset_s"], [0.2, 0.4], atol=1e-6)
    low = score_from_notes({"violin": [Note(43, 0.0, 0.3)]})  # G2: below the violin
    with caplog.at_level(logging.WARNING):
        r = synthesize_midi(low, model=model)
    assert r.note_tables["violin"]["pitch"].tolist() == [55]
    assert r.part_info("violin")["transposed_semitones"] == 12
    assert any("transposed up 1 octave" in m for m in caplog.messages)


def test_instrument_overrides_and_blend(model, duet_result):
    blend = {"violin": 0.5, "flute": 0.5}
    r = synthesize_midi(duet(), model=model, seed=3, instruments={"violin": blend})
    assert r.part_info("violin")["instrument"] == blend
    assert r.part_info("flute")["instrument"] == "flute"
    # a blend is neither of its ends
    raw_blend = r.stems["violin"] / r.metadata["mix"]["gain"]
    raw_violin = duet_result.stems["violin"] / duet_result.metadata["mix"]["gain"]
    assert not np.allclose(raw_blend, raw_violin, atol=1e-6)
    every = synthesize_midi(duet(), model=model, instruments={"*": "oboe", 1: "tuba"})
    assert every.part_info("violin")["instrument"] == "oboe"
    assert every.part_info("flute")["instrument"] == "tuba"
    assert instrument_label(blend) == "violin 50% + flute 50%"


@pytest.mark.parametrize("kwargs, error, message", [
    ({"instruments": {"violin": "kazoo"}}, ParameterError, "unknown instrument 'kazoo'"),
    ({"instruments": {"violin": {"violin": -1.0}}}, ParameterError, ">= 0"),
    ({"instruments": {"nosuchpart": "flute"}}, ParameterError, "nosuchpart"),
    ({"speed_rate": 0.0}, ParameterError, "speed_rate"),
    ({"pitch_offset": 1.5}, ParameterError, "pitch_offset"),
    ({"pitch_offset": 100}, ParameterError, "outside MIDI"),
    ({"sample_rate": 0}, ParameterError, "sample_rate"),
    ({"normalize": "lufs"}, ParameterError, "normalize must be one of"),
])
def test_bad_options(model, kwargs, error, message):
    with pytest.raises(error, match=message):
        synthesize_midi(duet(), model=model, **kwargs)


def _write_midi(path, tracks):
    import pretty_midi

    pm = pretty_midi.PrettyMIDI()
    for program, is_drum, notes in tracks:
        inst = pretty_midi.Instrument(program=program, is_drum=is_drum)
        inst.notes = [pretty_midi.Note(100, p, a, b) for p, a, b in notes]
        pm.instruments.append(inst)
    pm.write(str(path))
    return path


def test_unsupported_program_is_skipped_with_a_warning(model, tmp_path, caplog):
    path = _write_midi(tmp_path / "mixed.mid", [(40, False, [(67, 0.0, 0.4)]),
                                                (0, False, [(60, 0.0, 0.4)])])
    with caplog.at_level(logging.WARNING):
        r = synthesize_midi(path, model=model)
    assert r.part_names == ["Violin"]
    assert [p["name"] for p in r.metadata["skipped_parts"]] == ["Acoustic Grand Piano"]
    assert any("skipped" in m and "Acoustic Grand Piano" in m for m in caplog.messages)


def test_drums_only_is_an_input_error(model, tmp_path):
    path = _write_midi(tmp_path / "drums.mid", [(0, True, [(36, 0.0, 0.1), (38, 0.2, 0.3)])])
    with pytest.raises(InputFileError, match="drums.mid.*only drum"):
        synthesize_midi(path, model=model)


@pytest.mark.skipif(default_soundfont_path() is None, reason="no GM soundfont installed")
def test_use_fluidsynth_renders_unsupported_parts_and_drums(model, tmp_path):
    path = _write_midi(tmp_path / "band.mid", [(40, False, [(67, 0.0, 0.4)]),
                                               (0, False, [(60, 0.0, 0.4)]),
                                               (0, True, [(38, 0.1, 0.2)])])
    r = synthesize_midi(path, model=model, use_fluidsynth=True)
    assert len(r.part_names) == 3
    renderers = [p["renderer"] for p in r.metadata["parts"]]
    assert renderers == ["midi_ddsp", "fluidsynth", "fluidsynth"]
    assert all(np.max(np.abs(s)) > 0 for s in r.stems.values())
    assert set(r.note_tables) == {"Violin"}
    np.testing.assert_allclose(sum(r.stems.values()), r.mix, atol=1e-5)


@pytest.mark.skipif(default_soundfont_path() is None, reason="no GM soundfont installed")
def test_fluidsynth_renders_a_polyphonic_track_as_one_stem(model, tmp_path):
    chords = [(60, 0.0, 0.5), (64, 0.0, 0.5), (67, 0.0, 0.5), (62, 0.5, 1.0), (65, 0.5, 1.0)]
    path = _write_midi(tmp_path / "piano.mid", [(0, False, chords), (40, False, [(67, 0.0, 0.4)])])
    r = synthesize_midi(path, model=model, use_fluidsynth=True)
    assert r.part_names == ["Acoustic Grand Piano", "Violin"]
    piano = r.part_info("Acoustic Grand Piano")
    assert piano["renderer"] == "fluidsynth" and piano["n_notes"] == 5
    assert len(piano["voices"]) == 3


def test_the_source_file_is_never_modified(model, tmp_path):
    path = _write_midi(tmp_path / "keep.mid", [(40, False, [(67, 0.0, 0.4)])])
    before = path.read_bytes()
    synthesize_midi(path, model=model, pitch_offset=3, speed_rate=1.5)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["keep.mid"]


# ---------------------------------------------------------------------------------------------
# Rendering and editing one part

def test_render_params_matches_an_independent_reverb(model, duet_result):
    from midi_ddsp.dsp.synthesizer import render_synth_params

    params = duet_result.synth_params["violin"]
    dry = render_params(params, "violin", model=model, seed=5, reverb=False)
    np.testing.assert_allclose(dry, render_synth_params(params, seed=5), atol=1e-6)
    wet = render_params(params, "violin", model=model, seed=5)
    ir = model.synthesis_generator.impulse_response("violin")
    assert ir[0] == 1.0  # the full IR: dry path at tap 0, then the wet tail
    reference = scipy.signal.fftconvolve(dry, ir)[: dry.shape[0]]
    np.testing.assert_allclose(wet, reference, atol=2e-4 * np.max(np.abs(reference)) + 1e-6)


def test_rerender_unchanged_table_reproduces_the_part(model, duet_result):
    same = rerender(duet_result, note_tables={"violin": duet_result.note_tables["violin"]}, model=model)
    np.testing.assert_allclose(same.mix, duet_result.mix, atol=1e-5)
    assert same.part_info("violin")["edited"] is True


def test_rerender_edited_note_table(model, duet_result):
    table = duet_result.note_tables["violin"].copy()
    table["vibrato"] = 0.1           # every note
    table.loc[1, "volume"] += 0.3   # one note louder
    edited = rerender(duet_result, note_tables={"violin": table}, model=model)
    assert edited.note_tables["violin"]["vibrato"].tolist() == pytest.approx([0.1, 0.1])
    assert duet_result.note_tables["violin"]["vibrato"].tolist() != pytest.approx([0.1, 0.1])
    # the untouched part is reused as it was (same raw audio, same levelling gain)
    assert edited.metadata["mix"]["gain_db"] == duet_result.metadata["mix"]["gain_db"]
    np.testing.assert_allclose(_raw_stem(edited, "flute"), _raw_stem(duet_result, "flute"),
                               rtol=1e-4, atol=1e-7)
    assert not np.allclose(_raw_stem(edited, "violin"), _raw_stem(duet_result, "violin"), atol=1e-6)
    np.testing.assert_allclose(sum(edited.stems.values()), edited.mix, atol=1e-5)
    assert true_peak(edited.mix) <= 10 ** (-1 / 20) * (1 + 1e-5)


def _raw_stem(result, name):
    """A stem without the mix's levelling gain and limiter (the part's own audio)."""
    raw = result.stems[name] / np.float32(result.metadata["mix"]["gain"])
    return raw if result.limiter_gain is None else raw / result.limiter_gain


def test_rerender_keeps_the_level_through_the_limiter(model, duet_result):
    # a part 30 dB louder forces the limiter; untouched parts stay recoverable and the mix safe
    loud = rerender(duet_result, gains_db={"violin": 30.0}, model=model)
    assert loud.metadata["mix"]["limited"] is True and loud.limiter_gain is not None
    assert loud.metadata["mix"]["gain_db"] == duet_result.metadata["mix"]["gain_db"]
    assert true_peak(loud.mix) <= 10 ** (-1 / 20) * (1 + 1e-5) and np.max(np.abs(loud.mix)) <= 1
    np.testing.assert_allclose(sum(loud.stems.values()), loud.mix, atol=1e-5)
    back = rerender(loud, gains_db={"violin": 0.0}, model=model)
    assert back.metadata["mix"]["limited"] is False
    np.testing.assert_allclose(back.mix, duet_result.mix, rtol=1e-3, atol=1e-6)
    # asking for another mode re-levels: peak mode puts the new peak at -1 dBFS
    peak = rerender(loud, model=model, normalize="peak")
    assert 20 * np.log10(np.max(np.abs(peak.mix))) == pytest.approx(-1.0, abs=1e-3)
    assert peak.metadata["settings"]["normalize"] == "peak"


def test_rerender_edited_synth_params_pitch_bend(model, duet_result):
    params = duet_result.synth_params["violin"].copy()
    params.f0_hz[50:100] *= 2 ** (np.linspace(0, 1, 50) / 12)  # bend up a semitone
    bent = rerender(duet_result, synth_params={"violin": params}, model=model)
    np.testing.assert_array_equal(bent.synth_params["violin"].f0_hz, params.f0_hz)
    raw = _raw_stem(bent, "violin")
    seed = duet_result.part_info("violin")["seed"]
    np.testing.assert_allclose(raw, render_params(params, "violin", model=model, seed=seed),
                               rtol=1e-4, atol=1e-6)
    assert duet_result.synth_params["violin"].f0_hz[60] != params.f0_hz[60]  # original untouched


@pytest.mark.parametrize("kwargs, message", [
    ({"note_tables": {"cello": None}}, "no rendered part named 'cello'"),
    ({"note_tables": {"violin": pd.DataFrame({"pitch": [60]})}}, "missing|column"),
    ({"synth_params": {"violin": "f0"}}, "SynthParams"),
])
def test_rerender_errors(model, duet_result, kwargs, message):
    with pytest.raises(ParameterError, match=message):
        rerender(duet_result, model=model, **kwargs)


def test_rerender_refuses_table_and_params_for_one_part(model, duet_result):
    with pytest.raises(ParameterError, match="not both"):
        rerender(duet_result, model=model, note_tables={"violin": duet_result.note_tables["violin"]},
                 synth_params={"violin": duet_result.synth_params["violin"]})


# Long parts (one chunker, no seams): tests/test_long_parts.py


# ---------------------------------------------------------------------------------------------
# Bach and writing

@pytest.mark.parametrize("ensemble", sorted(ENSEMBLES))
def test_synthesize_bach_ensembles(model, ensemble, monkeypatch):
    import music21

    source = Path(str(music21.corpus.getWork("bach/bwv66.6")))
    before = hashlib.sha256(source.read_bytes()).hexdigest()
    calls = []
    real = synthesis.synthesize_midi

    def short(pm, **kwargs):  # render only the first two beats: the point is the line-up
        for inst in pm.instruments:
            inst.notes = [n for n in inst.notes if n.start < 1.0]
        calls.append(kwargs)
        return real(pm, **kwargs)

    monkeypatch.setattr(synthesis, "synthesize_midi", short)
    r = synthesize_bach("bwv66.6", ensemble=ensemble, model=model)
    assert [p["instrument"] for p in r.metadata["parts"]] == list(ENSEMBLES[ensemble])
    assert all(p["transposed_semitones"] == 0 for p in r.metadata["parts"])  # no octave jumps
    assert r.metadata["settings"]["ensemble"] == ensemble
    assert hashlib.sha256(source.read_bytes()).hexdigest() == before


def test_common_shift_keeps_voices_in_range():
    from midi_ddsp.instruments import get_instrument

    violin, cello = get_instrument("violin"), get_instrument("cello")
    # alto one semitone below the violin's G3 (55): up one semitone, not an octave
    assert synthesis._common_shift([[54, 60], [40, 50]], [violin, cello]) == 1
    assert synthesis._common_shift([[60], [40]], [violin, cello]) == 0
    assert synthesis._common_shift([[104, 70]], [violin]) == -1  # one above the top B7 (103)
    # nothing fits within a tritone: every shift is as bad, so none
    assert synthesis._common_shift([[20]], [violin]) == 0
    # fewest notes outside wins over the smallest shift
    assert synthesis._common_shift([[52, 53, 54, 60]], [violin]) == 3


def test_synthesize_bach_errors(model):
    with pytest.raises(ParameterError, match="unknown ensemble"):
        synthesize_bach("bwv66.6", ensemble="kazoo_band", model=model)
    with pytest.raises(InputFileError, match="bwv99999"):
        synthesize_bach("bwv99999", model=model)


def test_write_result_layout_and_atomic_replace(duet_result, tmp_path):
    out = tmp_path / "song"
    meta = write_result(duet_result, out, save_params=True, plot=True)
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert names == ["metadata.json", "mix.wav", "note_tables/00_violin.csv", "note_tables/01_flute.csv",
                     "params/00_violin.npz", "params/01_flute.npz", "plots/00_violin.png",
                     "plots/01_flute.png", "stems/00_violin.wav", "stems/01_flute.wav"]
    on_disk = json.loads((out / "metadata.json").read_text())
    assert on_disk["files"]["stems"]["violin"] == "stems/00_violin.wav" == meta["files"]["stems"]["violin"]
    csv = pd.read_csv(out / "note_tables/00_violin.csv")
    np.testing.assert_allclose(csv.to_numpy(), duet_result.note_tables["violin"].to_numpy(), atol=1e-5)
    npz = np.load(out / "params/00_violin.npz")
    np.testing.assert_array_equal(npz["f0_hz"], duet_result.synth_params["violin"].f0_hz)
    np.testing.assert_array_equal(npz["note_vibrato"], duet_result.note_tables["violin"]["vibrato"])
    (out / "stale.txt").write_text("old")
    write_result(duet_result, out)  # replaces the folder as a whole
    assert not (out / "stale.txt").exists() and not (out / "params").exists()
    assert sorted(os.listdir(tmp_path)) == ["song"]  # no temporary folders left


def test_write_result_unwritable_folder(duet_result, tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(InputFileError, match="file.txt"):
        write_result(duet_result, blocker / "song")


# ---------------------------------------------------------------------------------------------
# Shipped checkpoints and the README examples

_SHIPPED = all(shipped_checkpoint_path(k).exists() for k in ("expression_generator", "synthesis_generator"))


@pytest.mark.skipif(not _SHIPPED, reason="shipped checkpoints (checkpoints/*.pt) not present yet")
def test_shipped_checkpoints_smoke():
    model = load_pretrained_model()
    r = synthesize_midi(score_from_notes({"violin": [Note(67, 0.0, 0.5), Note(71, 0.5, 1.0)]}),
                        model=model)
    assert r.mix.shape[0] > SR and np.max(np.abs(r.mix)) > 0.1
    if not r.metadata["mix"]["peak_bound"]:
        assert integrated_loudness(r.mix, sample_rate=SR) == pytest.approx(DEFAULT_TARGET_LUFS, abs=0.5)
    assert set(r.metadata["checkpoints"]) == {"expression_generator", "synthesis_generator"}


# ---------------------------------------------------------------------------------------------
# Levelling with the shipped Synthesis Generator: edits of the NoteTable are heard as edits

_SHIPPED_SG = shipped_checkpoint_path("synthesis_generator").exists()
# One set of typical violin expressions for every note (the Expression Generator's medians on
# examples/solo_melody.mid, rounded), so these tests depend on the Synthesis Generator alone.
_TYPICAL = {"volume": 0.8, "vol_fluc": 0.15, "vol_peak_pos": 0.4, "vibrato": 0.2,
            "brightness": 0.22, "attack": 0.45}
# Four notes with rests between them: each note's span is measured on its own.
_MELODY = [Note(67, 0.0, 0.4, 90), Note(69, 0.6, 1.0, 90), Note(71, 1.2, 1.6, 90),
           Note(72, 1.8, 2.2, 90)]


class _TypicalExpressions:
    """Stands in for the Expression Generator: every note gets ``_TYPICAL``."""

    def generate(self, notes, instrument, *, seed=None, **options):
        from midi_ddsp.expression import note_table_from_notes

        return note_table_from_notes(notes, expressions=_TYPICAL)


@pytest.fixture(scope="module")
def shipped_sg():
    if not _SHIPPED_SG:
        pytest.skip("shipped Synthesis Generator (checkpoints/synthesis_generator.pt) not present")
    from midi_ddsp.models import load_model

    generator = load_model(shipped_checkpoint_path("synthesis_generator"), kind="synthesis_generator")
    return MidiDDSP(expression_generator=_TypicalExpressions(), synthesis_generator=generator)


def _level_db(x) -> float:
    return float(10 * np.log10(np.mean(np.asarray(x, np.float64) ** 2)))


def _edit_volume(result, model, delta, rows=None):
    table = result.note_tables["violin"].copy()
    table.loc[table.index if rows is None else rows, "volume"] += delta
    return rerender(result, note_tables={"violin": table}, model=model)


def _note_levels(result) -> list[float]:
    table = result.note_tables["violin"]
    return [_level_db(result.mix[int(a * SR):int(b * SR)])
            for a, b in zip(table["onset_s"], table["offset_s"])]


def test_none_mode_volume_down_by_0p3_lowers_the_mix_by_18_db(shipped_sg):
    # volume = mean(amp_dB) / 60 + 1.5, so -0.3 in volume is -18 dB of harmonic amplitude
    first = synthesize_midi(score_from_notes({"violin": _MELODY}), model=shipped_sg, normalize="none")
    quieter = _edit_volume(first, shipped_sg, -0.3)
    assert quieter.metadata["mix"]["gain"] == 1.0 and not quieter.metadata["mix"]["limited"]
    assert _level_db(quieter.mix) - _level_db(first.mix) == pytest.approx(-18.0, abs=3.0)


def test_loudness_mode_edits_are_heard_as_edits(shipped_sg):
    first = synthesize_midi(score_from_notes({"violin": _MELODY}), model=shipped_sg)
    assert first.metadata["mix"]["normalize"] == "loudness"
    # every note quieter: the mix is quieter (a fresh loudness gain would undo this)
    quieter = _edit_volume(first, shipped_sg, -0.3)
    assert _level_db(quieter.mix) - _level_db(first.mix) < -6.0
    assert quieter.metadata["mix"]["gain_db"] == first.metadata["mix"]["gain_db"]
    # one note louder: it is louder and the other notes keep their level
    raised = _edit_volume(first, shipped_sg, 0.1, rows=[1])
    before, after = _note_levels(first), _note_levels(raised)
    assert after[1] - before[1] > 4.0
    for i in (0, 2, 3):
        assert after[i] - before[i] == pytest.approx(0.0, abs=0.5)
    assert true_peak(raised.mix) <= 10 ** (-1 / 20) * (1 + 1e-5)
    # the old behaviour, for contrast: levelling the peak again quietens the other notes
    peak_first = synthesize_midi(score_from_notes({"violin": _MELODY}), model=shipped_sg,
                                 normalize="peak")
    peak_raised = _edit_volume(peak_first, shipped_sg, 0.1, rows=[1])
    assert 20 * np.log10(np.max(np.abs(peak_raised.mix))) == pytest.approx(-1.0, abs=1e-3)
    assert _note_levels(peak_raised)[0] - _note_levels(peak_first)[0] < -3.0


def _readme_api_blocks() -> list[str]:
    readme = REPO / "README.md"
    text = readme.read_text(encoding="utf-8") if readme.exists() else ""
    match = re.search(r"^## Python API\s*$(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    if not match:
        return []
    return re.findall(r"```python\n(.*?)```", match.group(1), flags=re.S)


def _run_api_examples(blocks, model, monkeypatch, tmp_path):
    """Run README code with the tiny models standing in for the shipped ones, in tmp_path."""
    monkeypatch.setattr(synthesis, "load_pretrained_model", lambda **kwargs: model)
    monkeypatch.setattr(synthesis, "_model_or_default", lambda m: model if m is None else m)

    real_reader = synthesis._chorale_to_pretty_midi

    def short_reader(work):  # the first bars only, to keep the test quick
        pm = real_reader(work)
        for inst in pm.instruments:
            inst.notes = [n for n in inst.notes if n.start < 1.0]
        return pm

    monkeypatch.setattr(synthesis, "_chorale_to_pretty_midi", short_reader)

    for name in ("solo_melody.mid", "chorale_4part.mid"):
        (tmp_path / "examples").mkdir(exist_ok=True)
        (tmp_path / "examples" / name).write_bytes((REPO / "examples" / name).read_bytes())
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "<README Python API>", "exec"), namespace)
    return namespace


# The README "Python API" examples, mirrored exactly (README.md is checked below once merged).
API_EXAMPLES = [
    '''
from midi_ddsp.synthesis import load_pretrained_model, synthesize_midi, write_result

model = load_pretrained_model()            # shipped checkpoints; or pass your own paths:
# model = load_pretrained_model(expression_generator_path="eg.pt",
#                               synthesis_generator_path="sg.pt")
result = synthesize_midi("examples/solo_melody.mid", model=model, seed=0)
print(result.part_names, result.mix.shape, result.sample_rate)
write_result(result, "out/solo")           # mix.wav, stems/, note_tables/, metadata.json
''',
    '''
from midi_ddsp.synthesis import rerender

part = result.part_names[0]
table = result.note_tables[part].copy()    # one row per note: pitch, onset_s, ..., attack
table["vibrato"] = 0.1                     # every note: a little vibrato
table.loc[3, "volume"] += 0.2              # the fourth note louder
edited = rerender(result, note_tables={part: table}, model=model)
write_result(edited, "out/solo_edited")
''',
    '''
import numpy as np

params = result.synth_params[part].copy()  # f0_hz, amplitude, harmonic_distribution, noise
frames = slice(100, 200)                   # 0.4 s .. 0.8 s at 250 frames per second
params.f0_hz[frames] *= 2 ** (np.linspace(0, 1, 100) / 12)   # bend up a semitone
bent = rerender(result, synth_params={part: params}, model=model)
''',
    '''
blend = synthesize_midi("examples/solo_melody.mid", model=model,
                        instruments={"*": {"violin": 0.5, "flute": 0.5}})
''',
    '''
from midi_ddsp.synthesis import synthesize_bach

for ensemble in ("string_quartet", "woodwind_quartet", "brass_quartet"):
    quartet = synthesize_bach("bwv66.6", ensemble=ensemble, model=model)
    write_result(quartet, f"out/bwv66.6_{ensemble}")
''',
    '''
from midi_ddsp.batch import render_dataset

report = render_dataset(["examples"], "out/dataset", model=model, jobs=1, save_params=True)
print(report.n_ok, "rendered,", report.n_failed, "failed; manifest:", report.manifest_path)
''',
]


def test_python_api_examples_run(model, monkeypatch, tmp_path):
    ns = _run_api_examples(API_EXAMPLES, model, monkeypatch, tmp_path)
    assert (tmp_path / "out/solo/mix.wav").exists()
    assert ns["edited"].note_tables[ns["part"]]["vibrato"].tolist() == pytest.approx(
        [0.1] * len(ns["table"]))
    assert ns["edited"].note_tables[ns["part"]].loc[3, "volume"] == pytest.approx(
        ns["result"].note_tables[ns["part"]].loc[3, "volume"] + 0.2, abs=1e-5)
    assert ns["blend"].metadata["parts"][0]["instrument"] == {"violin": 0.5, "flute": 0.5}
    for ensemble in ENSEMBLES:
        assert (tmp_path / f"out/bwv66.6_{ensemble}/mix.wav").exists()
    assert ns["report"].n_ok == 2 and (tmp_path / "out/dataset/manifest.jsonl").exists()
    assert (tmp_path / "out/dataset/chorale_4part/params").is_dir()


def test_readme_python_api_section_matches(model, monkeypatch, tmp_path):
    blocks = _readme_api_blocks()
    if not blocks:
        pytest.skip("README.md has no '## Python API' section yet")
    assert [b.strip() for b in blocks] == [b.strip() for b in API_EXAMPLES]


def test_rerender_regenerates_expressions_of_named_parts(tiny_model):
    result = synthesize_midi(duet(), model=tiny_model, seed=3)
    again = rerender(result, regenerate_expressions="violin", expression_seed=11, temperature=1.0,
                     model=tiny_model)
    changed = again.note_tables["violin"][list(EXPRESSION_NAMES)].to_numpy()
    before = result.note_tables["violin"][list(EXPRESSION_NAMES)].to_numpy()
    assert not np.allclose(changed, before)
    np.testing.assert_array_equal(again.stems["flute"], result.stems["flute"])
    assert again.metadata["settings"]["expression_seed"] == 11
    with pytest.raises(ParameterError, match="regenerate_expressions"):
        rerender(result, temperature=0.0, model=tiny_model)
