"""MIDI performance controls honoured at render time: pitch bend (with the RPN bend range), CC11
and CC7, the mod wheel and the sustain pedal (``midi_ddsp.midi_controls``), measured on audio
rendered by the shipped checkpoints."""
import mido
import numpy as np
import pytest

from midi_ddsp.audio_evaluation import note_loudness_db
from midi_ddsp.crepe import CrepePitchTracker
from midi_ddsp.midi_controls import MidiControls, sustain_offsets
from midi_ddsp.score import Note, load_score
from midi_ddsp import load_pretrained_model, synthesize_midi

TPB = 480  # ticks per beat; 120 bpm -> 960 ticks per second


def _ticks(seconds: float) -> int:
    return int(round(seconds * 2 * TPB))


def _write(path, events, program=40):
    """events: (time_s, mido.Message) on channel 0 of one track."""
    mid = mido.MidiFile(ticks_per_beat=TPB)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.Message("program_change", program=program, channel=0, time=0))
    now = 0
    for t, msg in sorted(events, key=lambda e: e[0]):
        tick = _ticks(t)
        track.append(msg.copy(time=tick - now))
        now = tick
    mid.save(str(path))
    return str(path)


def _note(pitch, on, off, velocity=90):
    return [(on, mido.Message("note_on", note=pitch, velocity=velocity)),
            (off, mido.Message("note_off", note=pitch, velocity=0))]


@pytest.fixture(scope="module")
def model():
    return load_pretrained_model()


def _median_cents(stem, sr, start, stop, pitch):
    f0, conf = CrepePitchTracker("tiny").track(stem, sample_rate=sr, frame_rate=50)
    a, b = int(start * 50), int(stop * 50)
    ok = conf[a:b] > 0.5
    cents = 1200 * np.log2(f0[a:b][ok] / (440 * 2 ** ((pitch - 69) / 12)))
    return float(np.median(cents))


def test_pitch_bend_with_rpn_range_raises_f0_while_held(model, tmp_path):
    events = _note(69, 0.2, 3.0)
    events += [(0.0, mido.Message("control_change", control=101, value=0)),
               (0.0, mido.Message("control_change", control=100, value=0)),
               (0.0, mido.Message("control_change", control=6, value=2)),
               (1.5, mido.Message("pitchwheel", pitch=8191))]
    result = synthesize_midi(_write(tmp_path / "bend.mid", events), models=model)
    stem = next(iter(result.stems.values()))
    before = _median_cents(stem, result.sample_rate, 0.5, 1.4, 69)
    held = _median_cents(stem, result.sample_rate, 1.7, 2.9, 69)
    assert abs(before) < 25
    assert abs(held - before - 200) <= 10


def test_bend_range_from_rpn_scales_the_bend(tmp_path):
    events = _note(60, 0.0, 1.0) + [
        (0.0, mido.Message("control_change", control=101, value=0)),
        (0.0, mido.Message("control_change", control=100, value=0)),
        (0.0, mido.Message("control_change", control=6, value=12)),
        (0.5, mido.Message("pitchwheel", pitch=-8192))]
    part = load_score(_write(tmp_path / "octave.mid", events)).parts[0]
    assert part.controls.pitch_bend[-1][1] == pytest.approx(-12.0)


def test_cc11_lowers_the_loudness(model, tmp_path):
    events = _note(67, 0.2, 1.2) + _note(67, 1.4, 2.4)
    events += [(0.0, mido.Message("control_change", control=11, value=127)),
               (1.3, mido.Message("control_change", control=11, value=40))]
    result = synthesize_midi(_write(tmp_path / "cc11.mid", events), models=model, normalize="none")
    stem = next(iter(result.stems.values()))
    loud = note_loudness_db(stem, [Note(67, 0.3, 1.1), Note(67, 1.5, 2.3)],
                            sample_rate=result.sample_rate)
    assert loud[0] - loud[1] >= 10.0


def test_sustain_pedal_holds_a_released_note_until_pedal_up(model, tmp_path):
    events = _note(64, 0.2, 0.8)
    events += [(0.1, mido.Message("control_change", control=64, value=127)),
               (2.0, mido.Message("control_change", control=64, value=0))]
    path = _write(tmp_path / "pedal.mid", events)
    note = load_score(path).parts[0].notes[0]
    assert note.offset_s == pytest.approx(2.0, abs=0.01)
    result = synthesize_midi(path, models=model, normalize="none")
    stem = next(iter(result.stems.values()))
    loud = note_loudness_db(stem, [Note(64, 0.3, 0.7), Note(64, 1.5, 1.9)],
                            sample_rate=result.sample_rate)
    assert loud[1] > loud[0] - 12.0  # still sounding 1 s after the key was released


def test_mod_wheel_adds_vibrato(model, tmp_path):
    plain = _note(69, 0.2, 2.2)
    wheel = plain + [(0.0, mido.Message("control_change", control=1, value=127))]
    a = synthesize_midi(_write(tmp_path / "a.mid", plain), models=model, temperature=0)
    b = synthesize_midi(_write(tmp_path / "b.mid", wheel), models=model, temperature=0)
    va = next(iter(a.note_tables.values()))["vibrato"].iloc[0]
    vb = next(iter(b.note_tables.values()))["vibrato"].iloc[0]
    assert vb == pytest.approx(va + 1.0, abs=1e-5)


def test_sustain_holds_until_the_next_note_so_a_line_stays_one_part():
    rows = [[60, 0, 100, 90], [62, 300, 400, 90], [64, 600, 700, 90]]
    out = sustain_offsets(rows, [(50, 127), (1000, 0)])
    assert [r[2] for r in out] == [300, 600, 1000]


def test_controls_apply_gain_and_bend():
    from midi_ddsp.synth_params import SynthParams

    params = SynthParams(np.full(250, 220.0, np.float32), np.full(250, 0.1, np.float32),
                         np.full((250, 60), 1 / 60, np.float32), np.full((250, 65), 0.01, np.float32))
    controls = MidiControls(pitch_bend=((0.5, 1.0),), expression=((0.0, 127.0), (0.5, 64.0)))
    out = controls.apply(params, frame_rate=250)
    assert out.f0_hz[0] == pytest.approx(220.0) and out.f0_hz[200] == pytest.approx(220 * 2 ** (1 / 12))
    assert 20 * np.log10(out.amplitude[200] / out.amplitude[0]) == pytest.approx(40 * np.log10(64 / 127))
