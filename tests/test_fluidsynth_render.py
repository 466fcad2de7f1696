"""Tests of midi_ddsp.fluidsynth_render (need libfluidsynth and a GM soundfont; skipped without)."""
from __future__ import annotations

import os
import shutil

import numpy as np
import pretty_midi
import pytest
import soundfile

from midi_ddsp.errors import InputFileError
from midi_ddsp.fluidsynth_render import (
    _channel_plan,
    default_soundfont_path,
    render_midi_file_fluidsynth,
    render_parts_fluidsynth,
    render_stems_fluidsynth,
    resolve_soundfont,
)
from midi_ddsp.score import Note, Part

SR = 16000


def _have_fluidsynth() -> bool:
    try:
        import fluidsynth

        return hasattr(fluidsynth, "Synth") and default_soundfont_path() is not None
    except (ImportError, OSError):
        return False


needs_fluidsynth = pytest.mark.skipif(not _have_fluidsynth(),
                                      reason="pyfluidsynth/libfluidsynth or FluidR3_GM.sf2 missing")


def test_channel_plan_puts_drums_on_channel_10_and_skips_it_for_programs():
    parts = [Part(notes=[], program=p) for p in range(12)] + [Part(notes=[], is_drum=True)]
    plan = _channel_plan(parts)
    assert plan[-1] == 9
    assert 9 not in plan[:-1] and len(set(plan[:-1])) == 12
    same = _channel_plan([Part(notes=[], program=40), Part(notes=[], program=40)])
    assert same[0] == same[1]


def test_resolve_soundfont_errors(tmp_path):
    with pytest.raises(InputFileError, match="soundfont not found"):
        resolve_soundfont(tmp_path / "missing.sf2")
    fake = tmp_path / "fake.sf2"
    fake.write_bytes(b"not a soundfont at all")
    with pytest.raises(InputFileError, match="fake.sf2.*SoundFont 2"):
        resolve_soundfont(fake)


def test_default_soundfont_env_var(monkeypatch, tmp_path):
    monkeypatch.setenv("MIDI_DDSP_SF2", str(tmp_path / "x.sf2"))
    assert default_soundfont_path() == str(tmp_path / "x.sf2")


@needs_fluidsynth
def test_single_note_pitch_timing_and_length():
    part = Part(notes=[Note(69, 0.5, 1.0, 100)], program=73)  # flute A4
    audio = render_parts_fluidsynth([part], sample_rate=SR)
    assert audio.dtype == np.float32 and audio.shape == (int(np.ceil(2.0 * SR)),)
    assert np.max(np.abs(audio)) <= 1.0
    assert np.max(np.abs(audio[: int(0.45 * SR)])) < 1e-3  # silent before the onset
    body = audio[int(0.6 * SR):int(0.95 * SR)].astype(np.float64)
    assert np.sqrt(np.mean(body ** 2)) > 1e-3
    spectrum = np.abs(np.fft.rfft(body * np.hanning(body.size)))
    freqs = np.fft.rfftfreq(body.size, 1 / SR)
    assert abs(freqs[np.argmax(spectrum)] - 440.0) < 8.0  # independent reference: A4 = 440 Hz


@needs_fluidsynth
def test_stems_are_separate_and_drums_sound():
    melody = Part(notes=[Note(60, 0.0, 0.3, 100)], program=0, name="piano")
    drums = Part(notes=[Note(38, 0.5, 0.6, 110)], is_drum=True, name="drums")
    stems = render_stems_fluidsynth([melody, drums], sample_rate=SR, n_samples=SR)
    assert [s.shape for s in stems] == [(SR,), (SR,)]
    assert np.max(np.abs(stems[1][int(0.5 * SR):])) > 1e-3       # the snare sounds
    assert np.max(np.abs(stems[1][: int(0.45 * SR)])) < 1e-4      # and nothing before it
    assert np.max(np.abs(stems[0][: int(0.3 * SR)])) > 1e-3
    # a render is reproducible up to FluidSynth's 16-bit dither (the cached synth is reset
    # between renders), and nothing of one render leaks into the next
    again = render_stems_fluidsynth([melody, drums], sample_rate=SR, n_samples=SR)
    np.testing.assert_allclose(again[0], stems[0], atol=5e-4)
    silent = render_parts_fluidsynth([Part(notes=[Note(60, 0.9, 1.0, 1)], program=0)],
                                     sample_rate=SR, n_samples=int(0.5 * SR))
    assert np.max(np.abs(silent)) < 5e-4


@needs_fluidsynth
def test_empty_parts_give_silence():
    assert render_parts_fluidsynth([], sample_rate=SR, n_samples=10).tolist() == [0.0] * 10


@needs_fluidsynth
@pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="fluidsynth program not installed")
def test_render_midi_file_with_program(tmp_path):
    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=40)
    inst.notes.append(pretty_midi.Note(100, 69, 0.0, 0.5))
    pm.instruments.append(inst)
    midi = tmp_path / "a.mid"
    pm.write(str(midi))
    out = render_midi_file_fluidsynth(midi, tmp_path / "a.wav", sample_rate=SR)
    audio, sr = soundfile.read(out)
    assert sr == SR and audio.shape[0] >= int(0.5 * SR)
    assert np.max(np.abs(audio)) > 1e-3
    assert sorted(os.listdir(tmp_path)) == ["a.mid", "a.wav"]
    with pytest.raises(InputFileError, match="missing.mid"):
        render_midi_file_fluidsynth(tmp_path / "missing.mid", tmp_path / "b.wav")
