"""The audio-domain evaluation end to end with tiny models: pieces rendered by the default
pipeline and by FluidSynth, the control sweep from audio, and the report files."""
import json

import pretty_midi
import pytest

from midi_ddsp.audio_evaluation import PieceSpec, evaluate_piece
from midi_ddsp.control_sweeps import control_sweep
from midi_ddsp.audio_report import run_audio_evaluation, summary_lines
from midi_ddsp.expression import EXPRESSION_NAMES


@pytest.fixture(scope="module")
def model(tiny_models):
    return tiny_models


def _piece(path, parts):
    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    for program, name, pitches in parts:
        inst = pretty_midi.Instrument(program=program, name=name)
        inst.notes = [pretty_midi.Note(velocity=90, pitch=p, start=0.3 + 0.5 * i,
                                       end=0.3 + 0.5 * i + 0.4) for i, p in enumerate(pitches)]
        pm.instruments.append(inst)
    pm.write(str(path))
    return str(path)


def test_fluidsynth_beside_the_model_on_the_same_midi(model, tmp_path):
    path = _piece(tmp_path / "duo.mid", [(40, "violin", [67, 69, 71, 72, 74, 72, 71, 69]),
                                         (42, "cello", [48, 50, 52, 53, 55, 53, 52, 50])])
    result = evaluate_piece(PieceSpec("duo", path, "ensemble"), models=model)
    assert result["n_parts"] == 2 and result["n_notes"] == 16
    fs = result["fluidsynth"]
    # the soundfont plays every note at its pitch: the measures must see that
    assert fs["raw_pitch_accuracy"] > 0.9 and fs["in_note_active"] > 0.95
    assert set(result["midi_ddsp"]["parts"]) == set(fs["parts"]) == {"violin", "cello"}
    assert result["midi_ddsp"]["dynamics"]["part_spread_db"] >= 0.0


def test_control_sweep_measures_from_audio(model):
    sweep = control_sweep(model, "flute", "middle", "volume")
    n = len(sweep["requested"])
    assert n == 33 and min(sweep["requested"]) == 0.0 and max(sweep["requested"]) == 1.0
    assert set(sweep["measured"]) == set(EXPRESSION_NAMES)
    assert all(len(v) == n for v in sweep["measured"].values())
    assert all(len(v) == n for v in sweep["extras"].values())


def test_report_files_and_summary(model, tmp_path):
    path = _piece(tmp_path / "solo.mid", [(73, "flute", [72, 74, 76, 77, 79, 77, 76, 74, 72])])
    metrics = run_audio_evaluation([PieceSpec("solo_flute", path, "solo")], models=model,
                                   out_dir=tmp_path / "r", registers=("middle",))
    for name in ("audio_metrics.json", "audio_evaluation.md", "audio_control_fidelity.png",
                 "audio_solo_flute.png"):
        assert (tmp_path / "r" / name).is_file(), name
    saved = json.loads((tmp_path / "r" / "audio_metrics.json").read_text())
    assert saved["summary"]["fluidsynth"]["raw_pitch_accuracy"] > 0.9
    assert set(saved["control_fidelity"]) == set(EXPRESSION_NAMES)
    lines = summary_lines(metrics)
    assert any("FluidSynth" in line for line in lines)
    report = (tmp_path / "r" / "audio_evaluation.md").read_text()
    assert "solo_flute" in report and "Cross-effects" in report
