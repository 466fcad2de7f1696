"""Tests of the midi_ddsp_synthesize command (called in process through main(argv))."""
from __future__ import annotations

import json
from pathlib import Path

import mido
import numpy as np
import pretty_midi
import pytest
import soundfile
import torch

from midi_ddsp.cli.synthesize import build_parser, main, parse_instrument_option
from midi_ddsp.errors import ParameterError
from midi_ddsp.mixing import integrated_loudness
from midi_ddsp.models import (
    ExpressionGenerator,
    ExpressionGeneratorConfig,
    SynthesisGenerator,
    SynthesisGeneratorConfig,
)

UPSTREAM_FLAGS = ["--midi_path", "--midi_dir", "--pitch_offset", "--speed_rate", "--sf2_path",
                  "--output_dir", "--use_fluidsynth", "--synthesis_generator_weight_path",
                  "--expression_generator_weight_path", "--skip_existing_files", "--save_metadata"]
OUR_FLAGS = ["--instrument", "--list-tracks", "--seed", "--sample-rate", "--jobs", "--plot", "--float-wav",
             "--normalize", "--progress", "--quiet", "--verbose"]


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("ckpt")
    eg = ExpressionGenerator(ExpressionGeneratorConfig.tiny()).save_checkpoint(folder / "eg.pt")
    sg = SynthesisGenerator(SynthesisGeneratorConfig.tiny()).save_checkpoint(folder / "sg.pt")
    return ["--expression_generator_weight_path", str(eg), "--synthesis_generator_weight_path", str(sg)]


def write_midi(path: Path, tracks=((40, False, ((67, 0.0, 0.3), (69, 0.3, 0.6))),)) -> Path:
    pm = pretty_midi.PrettyMIDI()
    for program, is_drum, notes in tracks:
        inst = pretty_midi.Instrument(program=program, is_drum=is_drum, name=f"track{program}")
        inst.notes = [pretty_midi.Note(100, p, a, b) for p, a, b in notes]
        pm.instruments.append(inst)
    pm.write(str(path))
    return path


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error:")]


# ---------------------------------------------------------------------------------------------

def test_help_explains_every_flag(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for flag in UPSTREAM_FLAGS + OUR_FLAGS:
        assert flag in text
    assert "mix.wav" in text and "FluidSynth" in text


def test_upstream_flags_parse():
    args = build_parser().parse_args(
        ["--midi_path", "a.mid", "--midi_dir", "d", "--pitch_offset", "-2", "--speed_rate", "1.5",
         "--sf2_path", "x.sf2", "--output_dir", "o", "--use_fluidsynth",
         "--synthesis_generator_weight_path", "s.pt", "--expression_generator_weight_path", "e.pt",
         "--skip_existing_files", "--save_metadata", "b.mid"])
    assert args.midi_path == ["a.mid"] and args.midi_dir == ["d"] and args.files == ["b.mid"]
    assert args.pitch_offset == -2 and args.speed_rate == 1.5 and args.use_fluidsynth
    assert args.skip_existing_files and args.save_metadata and args.output_dir == "o"


def test_kebab_case_flags_are_the_same_options():
    snake = build_parser().parse_args(["--midi_path", "a.mid", "--pitch_offset", "3",
                                       "--expression_seed", "4", "--float_wav", "--list_tracks"])
    kebab = build_parser().parse_args(["--midi-path", "a.mid", "--pitch-offset", "3",
                                       "--expression-seed", "4", "--float-wav", "--list-tracks"])
    assert vars(snake) == vars(kebab)
    assert kebab.pitch_offset == 3 and kebab.float_wav and kebab.list_tracks


@pytest.mark.parametrize("text, expected", [
    ("2=flute", (2, "flute")),
    ("Alto=vn", ("Alto", "violin")),
    ("bassoon", ("*", "bassoon")),
    ("0=violin:0.25+flute:0.75", (0, {"violin": 0.25, "flute": 0.75})),
    ("violin+flute", ("*", {"violin": 0.5, "flute": 0.5})),
])
def test_parse_instrument_option(text, expected):
    assert parse_instrument_option(text) == expected


@pytest.mark.parametrize("text, message", [
    ("2=kazoo", "unknown instrument 'kazoo'"),
    ("=flute", "TRACK=INSTRUMENT"),
    ("2=", "TRACK=INSTRUMENT"),
    ("1=violin:x", "not a number"),
])
def test_parse_instrument_option_errors(text, message):
    with pytest.raises(ParameterError, match=message):
        parse_instrument_option(text)


def test_render_one_file(ckpt, tmp_path, capsys):
    song = write_midi(tmp_path / "song.mid")
    out = tmp_path / "out"
    code, stdout, err = run(capsys, song, "--output_dir", out, "--instrument", "1=flute",
                            "--save_metadata", "--seed", "5", *ckpt)
    assert code == 0, err
    folder = out / "song"
    assert stdout.strip().splitlines()[0] == str(folder / "mix.wav")
    audio, sr = soundfile.read(folder / "mix.wav")
    meta = json.loads((folder / "metadata.json").read_text())
    assert sr == 16000 and 0 < abs(audio).max() <= 10 ** (-1 / 20) + 1e-4
    # default --normalize loudness: -23 LUFS unless the -1 dBTP true-peak limit set the gain
    assert meta["settings"]["normalize"] == "loudness" and meta["mix"]["normalize"] == "loudness"
    assert meta["mix"]["true_peak_dbtp"] <= -1.0 + 1e-3 and meta["mix"]["limited"] is False
    if not meta["mix"]["peak_bound"]:
        assert integrated_loudness(audio, sample_rate=sr) == pytest.approx(-23.0, abs=0.5)
    assert meta["parts"][0]["instrument"] == "flute" and meta["settings"]["seed"] == 5
    assert (folder / "note_tables/00_track40.csv").exists()
    assert (folder / "params/00_track40.npz").exists()
    assert (folder / "stems/00_track40.wav").exists()
    assert (out / "manifest.jsonl").exists()


def test_normalize_flag(ckpt, tmp_path, capsys):
    song = write_midi(tmp_path / "song.mid")
    levels = {}
    for mode in ("peak", "none", "loudness"):
        out = tmp_path / mode
        code, _, err = run(capsys, song, "--output_dir", out, "--normalize", mode, "--float_wav", *ckpt)
        assert code == 0, err
        meta = json.loads((out / "song/metadata.json").read_text())
        assert meta["settings"]["normalize"] == mode and meta["mix"]["normalize"] == mode
        audio, _ = soundfile.read(out / "song/mix.wav", dtype="float32")
        levels[mode] = audio
        assert abs(audio).max() <= 1.0
    assert 20 * np.log10(abs(levels["peak"]).max()) == pytest.approx(-1.0, abs=1e-3)
    # "none" is the plain sum of the stems: the others are it times their gain
    meta_loud = json.loads((tmp_path / "loudness/song/metadata.json").read_text())
    np.testing.assert_allclose(levels["loudness"], levels["none"] * meta_loud["mix"]["gain"],
                               rtol=1e-4, atol=1e-6)
    with pytest.raises(SystemExit) as exit_info:
        main([str(song), "--output_dir", str(tmp_path / "bad"), "--normalize", "lufs", *ckpt])
    assert exit_info.value.code == 2 and "invalid choice: 'lufs'" in capsys.readouterr().err


def test_several_files_carry_on_after_a_failure(ckpt, tmp_path, capsys):
    good = write_midi(tmp_path / "good.mid")
    bad = tmp_path / "bad.mid"
    bad.write_text("hello")
    code, _, err = run(capsys, bad, "--midi_path", good, "--output_dir", tmp_path / "out", *ckpt)
    assert code == 2
    assert error_lines(err) == [f"error: {bad}: not a MIDI file (no MThd header)"]
    assert (tmp_path / "out/good/mix.wav").exists()


def _truncated(path: Path) -> Path:
    data = write_midi(path).read_bytes()
    path.write_bytes(data[: len(data) - 10])
    return path


BAD_FILES = {
    "empty": (lambda p: (p.write_bytes(b""), p)[1], "file is empty"),
    "text": (lambda p: (p.write_text("just some text"), p)[1], "not a MIDI file"),
    "truncated": (_truncated, "truncated|corrupt"),
    "drums": (lambda p: write_midi(p, ((0, True, ((36, 0.0, 0.1),)),)), "only drum"),
    "missing": (lambda p: p, "file not found"),
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_bad_input_files(kind, ckpt, tmp_path, capsys):
    make, message = BAD_FILES[kind]
    path = make(tmp_path / f"{kind}.mid")
    code, _, err = run(capsys, path, "--output_dir", tmp_path / "out", *ckpt)
    assert code == 2
    lines = error_lines(err)
    assert len(lines) == 1 and str(path) in lines[0]
    import re

    assert re.search(message, lines[0])
    assert not (tmp_path / "out" / kind).exists()


def test_unknown_instrument_name(ckpt, tmp_path, capsys):
    song = write_midi(tmp_path / "song.mid")
    code, _, err = run(capsys, song, "--instrument", "0=kazoo", "--output_dir", tmp_path / "out", *ckpt)
    assert code == 2
    assert error_lines(err) == [error_lines(err)[0]] and "unknown instrument 'kazoo'" in err
    assert not (tmp_path / "out").exists()  # nothing rendered, nothing created


def test_wrong_kind_checkpoint(ckpt, tmp_path, capsys):
    song = write_midi(tmp_path / "song.mid")
    sg = ckpt[3]
    code, _, err = run(capsys, song, "--expression_generator_weight_path", sg,
                       "--synthesis_generator_weight_path", sg, "--output_dir", tmp_path / "out")
    assert code == 2
    assert error_lines(err) == [f"error: {sg}: is a synthesis_generator checkpoint, expected "
                                "expression_generator"]


def test_unwritable_output_folder(ckpt, tmp_path, capsys):
    song = write_midi(tmp_path / "song.mid")
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    code, _, err = run(capsys, song, "--output_dir", blocker / "out", *ckpt)
    assert code == 2
    lines = error_lines(err)
    assert len(lines) == 1 and "file.txt/out" in lines[0] and "cannot be written" in lines[0]


def test_no_input_is_a_usage_error(capsys):
    code, _, err = run(capsys)
    assert code == 2 and "no input" in err


def test_notes_out_of_range_zero_length_and_overlaps(ckpt, tmp_path, capsys):
    """Awkward but valid files render, with one-line warnings naming what was changed."""
    low = write_midi(tmp_path / "low.mid", ((73, False, ((48, 0.0, 0.3), (50, 0.3, 0.6))),))  # flute
    # zero-length note and two overlapping notes of one pitch, written with mido directly
    mid = mido.MidiFile()
    track = mido.MidiTrack()
    track.append(mido.Message("program_change", program=40, time=0))
    track.append(mido.Message("note_on", note=67, velocity=90, time=0))
    track.append(mido.Message("note_off", note=67, velocity=0, time=0))    # zero length
    track.append(mido.Message("note_on", note=69, velocity=90, time=0))
    track.append(mido.Message("note_on", note=69, velocity=90, time=120))  # overlaps itself
    track.append(mido.Message("note_off", note=69, velocity=0, time=240))
    track.append(mido.Message("note_off", note=69, velocity=0, time=120))
    mid.tracks.append(track)
    odd = tmp_path / "odd.mid"
    mid.save(odd)
    code, _, err = run(capsys, low, odd, "--output_dir", tmp_path / "out", *ckpt)
    assert code == 0, err
    assert "transposed up 1 octave" in err
    assert "zero-length" in err
    meta = json.loads((tmp_path / "out/low/metadata.json").read_text())
    assert meta["parts"][0]["transposed_semitones"] == 12
    assert all(line.startswith(("warning:", "error:")) or not line.strip() or "rendered" in line
               for line in err.splitlines())


def test_skip_existing_files_resumes(ckpt, tmp_path, capsys):
    song = write_midi(tmp_path / "song.mid")
    out = tmp_path / "out"
    assert run(capsys, song, "--output_dir", out, *ckpt)[0] == 0
    mtime = (out / "song/mix.wav").stat().st_mtime_ns
    code, stdout, err = run(capsys, song, "--output_dir", out, "--skip_existing_files", *ckpt)
    assert code == 0 and "1 skipped" in err
    assert (out / "song/mix.wav").stat().st_mtime_ns == mtime


def test_midi_dir_recursive(ckpt, tmp_path, capsys):
    (tmp_path / "in/sub").mkdir(parents=True)
    write_midi(tmp_path / "in/a.mid")
    write_midi(tmp_path / "in/sub/b.midi")
    code, _, err = run(capsys, "--midi_dir", tmp_path / "in", "--output_dir", tmp_path / "out",
                       "--plot", *ckpt)
    assert code == 0, err
    assert (tmp_path / "out/a/mix.wav").exists() and (tmp_path / "out/sub/b/mix.wav").exists()
    assert (tmp_path / "out/sub/b/plots/00_track40.png").exists()


def test_list_tracks(tmp_path, capsys):
    song = write_midi(tmp_path / "song.mid", ((40, False, ((67, 0.0, 0.3),)), (0, True, ((36, 0.0, 0.1),))))
    code, out, err = run(capsys, song, "--list_tracks", "--output_dir", tmp_path / "out")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(str(song))
    assert "track  1" in lines[1] and "violin" in lines[1] and "1 notes" in lines[1]
    assert "drums" in lines[2]
    assert not (tmp_path / "out").exists()


def test_augmented_render_and_its_manifest_rerender(ckpt, tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    for k in range(2):
        pm = pretty_midi.PrettyMIDI()
        inst = pretty_midi.Instrument(program=40)
        inst.notes = [pretty_midi.Note(90, 67 + k + i, 0.2 * i, 0.2 * i + 0.18) for i in range(3)]
        pm.instruments.append(inst)
        pm.write(str(src / f"s{k}.mid"))
    common = [*ckpt, "--quiet"]
    assert main(["--midi-dir", str(src), "--output-dir", str(tmp_path / "a"), "--augment-speed",
                 "0.8,1.2", "--augment-reverb", "dry,hall", "--augment-seed", "3", *common]) == 0
    rows = [json.loads(line) for line in (tmp_path / "a/manifest.jsonl").read_text().splitlines()]
    assert all(0.8 <= r["options"]["speed_rate"] <= 1.2 for r in rows)
    assert main(["--from-manifest", str(tmp_path / "a/manifest.jsonl"), "--output-dir",
                 str(tmp_path / "b"), *common]) == 0
    for k in range(2):
        a, _ = soundfile.read(tmp_path / f"a/s{k}/mix.wav", dtype="int16")
        b, _ = soundfile.read(tmp_path / f"b/s{k}/mix.wav", dtype="int16")
        np.testing.assert_array_equal(a, b)
    assert main(["--midi-dir", str(src), "--output-dir", str(tmp_path / "c"), "--augment-speed",
                 "1.2,0.8", *common]) == 2
    assert "low must not exceed high" in capsys.readouterr().err


def test_device_flag(ckpt, tmp_path, capsys):
    path = write_midi(tmp_path / "d.mid")
    assert main([str(path), "--output-dir", str(tmp_path / "out"), "--device", "cpu", *ckpt]) == 0
    if not torch.cuda.is_available():
        assert main([str(path), "--output-dir", str(tmp_path / "out2"), "--device", "cuda", *ckpt]) == 2
        assert "no CUDA GPU is available" in capsys.readouterr().err
    assert main([str(path), "--output-dir", str(tmp_path / "out3"), "--device", "tpu", *ckpt]) == 2
