"""Tests of midi_ddsp.pipeline: synthesize_midi, rerender and the one-part functions, with tiny
untrained models (conftest.py), plus the README's Python API run as written."""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.signal

from midi_ddsp.errors import InputFileError, ParameterError
from midi_ddsp.expression import EXPRESSION_NAMES, NOTE_TABLE_COLUMNS, validate_note_table
from midi_ddsp.fluidsynth_render import default_soundfont_path
from midi_ddsp.mixing import DEFAULT_TARGET_LUFS, integrated_loudness, true_peak
from midi_ddsp.models import shipped_checkpoint_path
from midi_ddsp.score import Note, Score, score_from_notes
from midi_ddsp.synth_params import SynthParams
from midi_ddsp import chorales, pretrained
from midi_ddsp.instruments import ENSEMBLES
from midi_ddsp.editing import rerender
from midi_ddsp.pipeline import render_audio, synthesize_midi
from midi_ddsp.casting import instrument_label
from midi_ddsp.pretrained import MidiDDSP
from midi_ddsp.results import SynthesisResult

SR = 16000
REPO = Path(__file__).resolve().parents[1]


def duet() -> Score:
    return score_from_notes({
        "violin": [Note(67, 0.0, 0.3, 90), Note(69, 0.3, 0.6, 100)],
        "flute": [Note(72, 0.1, 0.5, 80)],
    })


@pytest.fixture(scope="module")
def duet_result(tiny_models):
    return synthesize_midi(duet(), models=tiny_models, seed=3)


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


def test_metadata_is_json_and_complete(duet_result, tiny_models):
    meta = json.loads(json.dumps(duet_result.metadata))
    parts = {p["name"]: p for p in meta["parts"]}
    assert parts["violin"]["instrument"] == "violin" and parts["flute"]["instrument"] == "flute"
    assert parts["violin"]["seed"] == 3 and parts["flute"]["seed"] == 4
    assert parts["violin"]["renderer"] == "midi_ddsp"
    assert meta["checkpoints"] == tiny_models.checkpoints
    assert meta["settings"]["seed"] == 3
    assert {"expression_s", "synthesis_s", "render_s", "total_s"} <= set(meta["timings"])
    assert meta["settings"]["normalize"] == "loudness"
    mix = meta["mix"]
    assert mix["normalize"] == "loudness" and mix["target_lufs"] == DEFAULT_TARGET_LUFS
    assert mix["gain_db"] == pytest.approx(20 * np.log10(mix["gain"]))
    assert mix["limited"] is False and mix["limiter_reduction_db"] == 0.0
    # measured again on the audio: the gain either reached -23 LUFS or stopped at -1 dBTP
    lufs = integrated_loudness(duet_result.mix, sample_rate=SR)
    peak_dbtp = 20 * np.log10(true_peak(duet_result.mix))
    assert mix["loudness_lufs"] == pytest.approx(lufs, abs=0.05)
    assert mix["true_peak_dbtp"] == pytest.approx(peak_dbtp, abs=0.05) and peak_dbtp <= -1.0 + 1e-4
    if mix["peak_bound"]:
        assert peak_dbtp == pytest.approx(-1.0, abs=0.05) and lufs < DEFAULT_TARGET_LUFS
    else:
        assert lufs == pytest.approx(DEFAULT_TARGET_LUFS, abs=0.5)


@pytest.mark.parametrize("normalize, mode", [("peak", "peak"), (True, "peak"), ("none", "none"),
                                             (False, "none")])
def test_normalize_modes_end_to_end(tiny_models, duet_result, normalize, mode):
    r = synthesize_midi(duet(), models=tiny_models, seed=3, normalize=normalize)
    assert r.metadata["settings"]["normalize"] == mode and r.metadata["mix"]["normalize"] == mode
    raw_default = duet_result.mix / duet_result.metadata["mix"]["gain"]
    if mode == "peak":  # the old behaviour: peak at -1 dBFS
        assert 20 * np.log10(np.max(np.abs(r.mix))) == pytest.approx(-1.0, abs=1e-3)
        assert r.metadata["mix"]["peak_dbfs"] == pytest.approx(-1.0, abs=1e-3)
    else:  # the models' own level: the raw sum of the parts
        assert r.metadata["mix"]["gain"] == 1.0 and r.metadata["mix"]["gain_db"] == 0.0
        np.testing.assert_allclose(r.mix, raw_default, rtol=1e-4, atol=1e-7)
    edited = rerender(r, gains_db={"flute": -6.0}, models=tiny_models)
    assert edited.metadata["settings"]["normalize"] == mode

def test_same_seed_same_audio_other_seed_differs(tiny_models, duet_result):
    again = synthesize_midi(duet(), models=tiny_models, seed=3)
    np.testing.assert_array_equal(again.mix, duet_result.mix)
    other = synthesize_midi(duet(), models=tiny_models, seed=4)
    assert not np.allclose(other.mix, duet_result.mix)


def test_a_worker_thread_renders_on_the_bundles_torch_thread_count(tiny_models):
    """OpenMP and MKL keep torch's thread count per thread: a pooled worker (a server's, a
    batch's) left on another count by an earlier job renders on the bundle's count, and the
    same audio (the studio's save-and-reopen test diffed by 2e-5 before)."""
    import threading

    import torch

    seen = []

    class Recording:   # the Synthesis Generator, noting the thread count each call runs on
        def __getattr__(self, name):
            return getattr(tiny_models.synthesis_generator, name)

        def generate_from_expressions(self, *args, **kwargs):
            seen.append(torch.get_num_threads())
            return tiny_models.synthesis_generator.generate_from_expressions(*args, **kwargs)

    models = dataclasses.replace(tiny_models, synthesis_generator=Recording(), threads=2)
    want = synthesize_midi(duet(), models=models, seed=3).mix
    got = {}

    def worker():
        torch.set_num_threads(1)    # this thread's count, left by some earlier job
        got["mix"] = synthesize_midi(duet(), models=models, seed=3).mix

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [2] * 4          # two parts, in the main thread and in the worker
    np.testing.assert_array_equal(got["mix"], want)


def test_pitch_offset_speed_rate_and_range_fitting(tiny_models, caplog):
    score = score_from_notes({"violin": [Note(67, 0.0, 0.4), Note(69, 0.4, 0.8)]})
    r = synthesize_midi(score, models=tiny_models, pitch_offset=2, speed_rate=2.0)
    table = r.note_tables["violin"]
    np.testing.assert_array_equal(table["pitch"], [69, 71])
    np.testing.assert_allclose(table["offset_s"], [0.2, 0.4], atol=1e-6)
    low = score_from_notes({"violin": [Note(43, 0.0, 0.3)]})  # G2: below the violin
    with caplog.at_level(logging.WARNING):
        r = synthesize_midi(low, models=tiny_models)
    assert r.note_tables["violin"]["pitch"].tolist() == [55]
    assert r.part_info("violin")["transposed_semitones"] == 12
    assert any("transposed up 1 octave" in m for m in caplog.messages)


def test_instrument_overrides_and_blend(tiny_models, duet_result):
    blend = {"violin": 0.5, "flute": 0.5}
    r = synthesize_midi(duet(), models=tiny_models, seed=3, instruments={"violin": blend})
    assert r.part_info("violin")["instrument"] == blend
    assert r.part_info("flute")["instrument"] == "flute"
    # a blend is neither of its ends
    raw_blend = r.stems["violin"] / r.metadata["mix"]["gain"]
    raw_violin = duet_result.stems["violin"] / duet_result.metadata["mix"]["gain"]
    assert not np.allclose(raw_blend, raw_violin, atol=1e-6)
    every = synthesize_midi(duet(), models=tiny_models, instruments={"*": "oboe", 1: "tuba"})
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
def test_bad_options(tiny_models, kwargs, error, message):
    with pytest.raises(error, match=message):
        synthesize_midi(duet(), models=tiny_models, **kwargs)


def _write_midi(path, tracks):
    import pretty_midi

    pm = pretty_midi.PrettyMIDI()
    for program, is_drum, notes in tracks:
        inst = pretty_midi.Instrument(program=program, is_drum=is_drum)
        inst.notes = [pretty_midi.Note(100, p, a, b) for p, a, b in notes]
        pm.instruments.append(inst)
    pm.write(str(path))
    return path


def test_unsupported_program_is_skipped_with_a_warning(tiny_models, tmp_path, caplog):
    path = _write_midi(tmp_path / "mixed.mid", [(40, False, [(67, 0.0, 0.4)]),
                                                (0, False, [(60, 0.0, 0.4)])])
    with caplog.at_level(logging.WARNING):
        r = synthesize_midi(path, models=tiny_models)
    assert r.part_names == ["Violin"]
    assert [p["name"] for p in r.metadata["skipped_parts"]] == ["Acoustic Grand Piano"]
    assert any("skipped" in m and "Acoustic Grand Piano" in m for m in caplog.messages)


def test_drums_only_is_an_input_error(tiny_models, tmp_path):
    path = _write_midi(tmp_path / "drums.mid", [(0, True, [(36, 0.0, 0.1), (38, 0.2, 0.3)])])
    with pytest.raises(InputFileError, match="drums.mid.*only drum"):
        synthesize_midi(path, models=tiny_models)


@pytest.mark.skipif(default_soundfont_path() is None, reason="no GM soundfont installed")
def test_use_fluidsynth_renders_unsupported_parts_and_drums(tiny_models, tmp_path):
    path = _write_midi(tmp_path / "band.mid", [(40, False, [(67, 0.0, 0.4)]),
                                               (0, False, [(60, 0.0, 0.4)]),
                                               (0, True, [(38, 0.1, 0.2)])])
    r = synthesize_midi(path, models=tiny_models, use_fluidsynth=True)
    assert len(r.part_names) == 3
    renderers = [p["renderer"] for p in r.metadata["parts"]]
    assert renderers == ["midi_ddsp", "fluidsynth", "fluidsynth"]
    assert all(np.max(np.abs(s)) > 0 for s in r.stems.values())
    assert set(r.note_tables) == {"Violin"}
    np.testing.assert_allclose(sum(r.stems.values()), r.mix, atol=1e-5)


@pytest.mark.skipif(default_soundfont_path() is None, reason="no GM soundfont installed")
def test_fluidsynth_renders_a_polyphonic_track_as_one_stem(tiny_models, tmp_path):
    chords = [(60, 0.0, 0.5), (64, 0.0, 0.5), (67, 0.0, 0.5), (62, 0.5, 1.0), (65, 0.5, 1.0)]
    path = _write_midi(tmp_path / "piano.mid", [(0, False, chords), (40, False, [(67, 0.0, 0.4)])])
    r = synthesize_midi(path, models=tiny_models, use_fluidsynth=True)
    assert r.part_names == ["Acoustic Grand Piano", "Violin"]
    piano = r.part_info("Acoustic Grand Piano")
    assert piano["renderer"] == "fluidsynth" and piano["n_notes"] == 5
    assert len(piano["voices"]) == 3


def test_the_source_file_is_never_modified(tiny_models, tmp_path):
    path = _write_midi(tmp_path / "keep.mid", [(40, False, [(67, 0.0, 0.4)])])
    before = path.read_bytes()
    synthesize_midi(path, models=tiny_models, pitch_offset=3, speed_rate=1.5)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["keep.mid"]


# ---------------------------------------------------------------------------------------------
# Rendering and editing one part

def test_render_audio_matches_an_independent_reverb(tiny_models, duet_result):
    from midi_ddsp.dsp.blocks import render_synth_params

    params = duet_result.synth_params["violin"]
    dry = render_audio(params, "violin", models=tiny_models, seed=5, reverb=False)
    np.testing.assert_allclose(dry, render_synth_params(params, seed=5), atol=1e-6)
    wet = render_audio(params, "violin", models=tiny_models, seed=5)
    ir = tiny_models.synthesis_generator.impulse_response("violin")
    assert ir[0] == 1.0  # the full IR: dry path at tap 0, then the wet tail
    reference = scipy.signal.fftconvolve(dry, ir)[: dry.shape[0]]
    np.testing.assert_allclose(wet, reference, atol=2e-4 * np.max(np.abs(reference)) + 1e-6)


def test_rerender_unchanged_table_reproduces_the_part(tiny_models, duet_result):
    same = rerender(duet_result, note_tables={"violin": duet_result.note_tables["violin"]}, models=tiny_models)
    np.testing.assert_allclose(same.mix, duet_result.mix, atol=1e-5)
    assert same.part_info("violin")["edited"] is True


def test_rerender_edited_note_table(tiny_models, duet_result):
    table = duet_result.note_tables["violin"].copy()
    table["vibrato"] = 0.1           # every note
    table.loc[1, "volume"] += 0.3   # one note louder
    edited = rerender(duet_result, note_tables={"violin": table}, models=tiny_models)
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


def test_rerender_keeps_the_level_through_the_limiter(tiny_models, duet_result):
    # a part 30 dB louder forces the limiter; untouched parts stay recoverable and the mix safe
    loud = rerender(duet_result, gains_db={"violin": 30.0}, models=tiny_models)
    assert loud.metadata["mix"]["limited"] is True and loud.limiter_gain is not None
    assert loud.metadata["mix"]["gain_db"] == duet_result.metadata["mix"]["gain_db"]
    assert true_peak(loud.mix) <= 10 ** (-1 / 20) * (1 + 1e-5) and np.max(np.abs(loud.mix)) <= 1
    np.testing.assert_allclose(sum(loud.stems.values()), loud.mix, atol=1e-5)
    back = rerender(loud, gains_db={"violin": 0.0}, models=tiny_models)
    assert back.metadata["mix"]["limited"] is False
    np.testing.assert_allclose(back.mix, duet_result.mix, rtol=1e-3, atol=1e-6)
    # asking for another mode re-levels: peak mode puts the new peak at -1 dBFS
    peak = rerender(loud, models=tiny_models, normalize="peak")
    assert 20 * np.log10(np.max(np.abs(peak.mix))) == pytest.approx(-1.0, abs=1e-3)
    assert peak.metadata["settings"]["normalize"] == "peak"


def test_rerender_edited_synth_params_pitch_bend(tiny_models, duet_result):
    params = duet_result.synth_params["violin"].copy()
    params.f0_hz[50:100] *= 2 ** (np.linspace(0, 1, 50) / 12)  # bend up a semitone
    bent = rerender(duet_result, synth_params={"violin": params}, models=tiny_models)
    np.testing.assert_array_equal(bent.synth_params["violin"].f0_hz, params.f0_hz)
    raw = _raw_stem(bent, "violin")
    seed = duet_result.part_info("violin")["seed"]
    np.testing.assert_allclose(raw, render_audio(params, "violin", models=tiny_models, seed=seed),
                               rtol=1e-4, atol=1e-6)
    assert duet_result.synth_params["violin"].f0_hz[60] != params.f0_hz[60]  # original untouched


@pytest.mark.parametrize("kwargs, message", [
    ({"note_tables": {"cello": None}}, "no rendered part named 'cello'"),
    ({"note_tables": {"violin": pd.DataFrame({"pitch": [60]})}}, "missing|column"),
    ({"synth_params": {"violin": "f0"}}, "SynthParams"),
])
def test_rerender_errors(tiny_models, duet_result, kwargs, message):
    with pytest.raises(ParameterError, match=message):
        rerender(duet_result, models=tiny_models, **kwargs)


def test_rerender_refuses_table_and_params_for_one_part(tiny_models, duet_result):
    with pytest.raises(ParameterError, match="not both"):
        rerender(duet_result, models=tiny_models, note_tables={"violin": duet_result.note_tables["violin"]},
                 synth_params={"violin": duet_result.synth_params["violin"]})


# Long parts (one chunker, no seams): tests/test_long_parts.py


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

    def sample_expressions(self, notes, instrument, *, seed=None, **options):
        from midi_ddsp.expression import EXPRESSION_NAMES

        return np.tile(np.float32([_TYPICAL[name] for name in EXPRESSION_NAMES]), (len(notes), 1))


@pytest.fixture(scope="module")
def shipped_sg():
    if not _SHIPPED_SG:
        pytest.skip("shipped Synthesis Generator (checkpoints/synthesis_generator.pt) not present")
    from midi_ddsp.models import load_model

    generator = load_model(shipped_checkpoint_path("synthesis_generator"), kind="synthesis_generator")
    return MidiDDSP(expression_generator=_TypicalExpressions(), synthesis_generator=generator)


def _level_db(x) -> float:
    return float(10 * np.log10(np.mean(np.asarray(x, np.float64) ** 2)))


def _edit_volume(result, models, delta, rows=None):
    table = result.note_tables["violin"].copy()
    table.loc[table.index if rows is None else rows, "volume"] += delta
    return rerender(result, note_tables={"violin": table}, models=models)


def _note_levels(result) -> list[float]:
    table = result.note_tables["violin"]
    return [_level_db(result.mix[int(a * SR):int(b * SR)])
            for a, b in zip(table["onset_s"], table["offset_s"])]


def test_none_mode_volume_down_by_0p3_lowers_the_mix_by_18_db(shipped_sg):
    # volume = mean(amp_dB) / 60 + 1.5, so -0.3 in volume is -18 dB of harmonic amplitude
    first = synthesize_midi(score_from_notes({"violin": _MELODY}), models=shipped_sg, normalize="none")
    quieter = _edit_volume(first, shipped_sg, -0.3)
    assert quieter.metadata["mix"]["gain"] == 1.0 and not quieter.metadata["mix"]["limited"]
    assert _level_db(quieter.mix) - _level_db(first.mix) == pytest.approx(-18.0, abs=3.0)


def test_loudness_mode_edits_are_heard_as_edits(shipped_sg):
    first = synthesize_midi(score_from_notes({"violin": _MELODY}), models=shipped_sg)
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
    peak_first = synthesize_midi(score_from_notes({"violin": _MELODY}), models=shipped_sg,
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


def _run_api_examples(blocks, checkpoints, monkeypatch, tmp_path):
    """Run README code with the tiny checkpoints standing in for the shipped ones, in tmp_path."""
    monkeypatch.setattr(pretrained, "shipped_checkpoint_path", lambda kind: checkpoints[kind])
    real_reader = chorales._chorale_to_pretty_midi

    def short_reader(work):  # the first bars only, to keep the test quick
        pm = real_reader(work)
        for inst in pm.instruments:
            inst.notes = [n for n in inst.notes if n.start < 1.0]
        return pm

    monkeypatch.setattr(chorales, "_chorale_to_pretty_midi", short_reader)

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
from midi_ddsp import load_pretrained_model, synthesize_midi, write_result

models = load_pretrained_model()           # shipped checkpoints; or pass your own paths:
# models = load_pretrained_model(expression_generator_path="eg.pt",
#                                synthesis_generator_path="sg.pt")
result = synthesize_midi("examples/solo_melody.mid", models=models, seed=0)
print(result.part_names, result.mix.shape, result.sample_rate)
write_result(result, "out/solo")           # mix.wav, stems/, note_tables/, metadata.json
''',
    '''
from midi_ddsp import rerender

part = result.part_names[0]
table = result.note_tables[part].copy()    # one row per note: pitch, onset_s, ..., attack
table["vibrato"] = 0.1                     # every note: a little vibrato
table.loc[3, "volume"] += 0.2              # the fourth note louder
edited = rerender(result, note_tables={part: table}, models=models)
write_result(edited, "out/solo_edited")
''',
    '''
table["vibrato_rate"] = 4.0                # a slow vibrato on every note
table["vibrato"] = 0.8
slow = rerender(result, note_tables={part: table}, models=models)
''',
    '''
from midi_ddsp.expression import notes_from_note_table

marked = table.assign(dynamic="pp", wedge="", articulation="", slur=0.0, fermata=0.0)
notes = notes_from_note_table(marked)      # the notes, each with its NoteMarks
softer = models.expression_generator.generate(notes, "violin", seed=0)   # a new NoteTable
quiet = rerender(result, note_tables={part: softer}, models=models)
''',
    '''
import numpy as np

params = result.synth_params[part].copy()  # f0_hz, amplitude, harmonic_distribution, noise
frames = slice(100, 200)                   # 0.4 s .. 0.8 s at 250 frames per second
params.f0_hz[frames] *= 2 ** (np.linspace(0, 1, 100) / 12)   # bend up a semitone
bent = rerender(result, synth_params={part: params}, models=models)
''',
    '''
blend = synthesize_midi("examples/solo_melody.mid", models=models,
                        instruments={"*": {"violin": 0.5, "flute": 0.5}})
''',
    '''
from midi_ddsp import synthesize_bach

for ensemble in ("string_quartet", "woodwind_quartet", "brass_quartet"):
    quartet = synthesize_bach("bwv66.6", ensemble=ensemble, models=models)
    write_result(quartet, f"out/bwv66.6_{ensemble}")
''',
    '''
from midi_ddsp.batch import render_dataset

report = render_dataset(["examples"], "out/dataset", models=models, jobs=1, save_params=True)
print(report.n_ok, "rendered,", report.n_failed, "failed; manifest:", report.manifest_path)
''',
]


def test_python_api_examples_run(tiny_checkpoints, monkeypatch, tmp_path):
    ns = _run_api_examples(API_EXAMPLES, tiny_checkpoints, monkeypatch, tmp_path)
    assert (tmp_path / "out/solo/mix.wav").exists()
    assert ns["edited"].note_tables[ns["part"]]["vibrato"].tolist() == pytest.approx(
        [0.1] * len(ns["table"]))
    assert ns["slow"].note_tables[ns["part"]]["vibrato_rate"].tolist() == pytest.approx(
        [4.0] * len(ns["table"]))
    assert ns["edited"].note_tables[ns["part"]].loc[3, "volume"] == pytest.approx(
        ns["result"].note_tables[ns["part"]].loc[3, "volume"] + 0.2, abs=1e-5)
    assert list(ns["softer"]["dynamic"]) == ["pp"] * len(ns["table"])
    assert len(ns["quiet"].note_tables[ns["part"]]) == len(ns["table"])
    assert ns["blend"].metadata["parts"][0]["instrument"] == {"violin": 0.5, "flute": 0.5}
    for ensemble in ENSEMBLES:
        assert (tmp_path / f"out/bwv66.6_{ensemble}/mix.wav").exists()
    assert ns["report"].n_ok == 2 and (tmp_path / "out/dataset/manifest.jsonl").exists()
    assert (tmp_path / "out/dataset/chorale_4part/params").is_dir()


def test_readme_python_api_section_matches():
    blocks = _readme_api_blocks()
    if not blocks:
        pytest.skip("README.md has no '## Python API' section yet")
    assert [b.strip() for b in blocks] == [b.strip() for b in API_EXAMPLES]


def test_rerender_regenerates_expressions_of_named_parts(tiny_models):
    result = synthesize_midi(duet(), models=tiny_models, seed=3)
    again = rerender(result, regenerate_expressions="violin", expression_seed=11, temperature=1.0,
                     models=tiny_models)
    changed = again.note_tables["violin"][list(EXPRESSION_NAMES)].to_numpy()
    before = result.note_tables["violin"][list(EXPRESSION_NAMES)].to_numpy()
    assert not np.allclose(changed, before)
    np.testing.assert_array_equal(again.stems["flute"], result.stems["flute"])
    assert again.metadata["settings"]["expression_seed"] == 11
    with pytest.raises(ParameterError, match="regenerate_expressions"):
        rerender(result, temperature=0.0, models=tiny_models)

