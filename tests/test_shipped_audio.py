"""The shipped checkpoints, listened to: default renders of whole constant-velocity pieces keep
their level, sound every note at the right pitch, and keep the parts of an ensemble balanced
(measured from the audio with ``midi_ddsp.audio_evaluation``)."""
import numpy as np
import pretty_midi
import pytest

from midi_ddsp.audio_evaluation import activity_metrics, dynamics_metrics, pitch_metrics
from midi_ddsp.score import Note
from midi_ddsp import load_pretrained_model, synthesize_midi


def _walk(rng, low, high, seconds, beat=0.42, start=0.5):
    """Random-walk line in [low, high] of quarter and half notes, velocity 90."""
    pitch, t, notes = (low + high) // 2, start, []
    while t < seconds:
        pitch = int(np.clip(pitch + rng.choice([-2, -1, 1, 2, 3, -3]), low, high))
        dur = beat * rng.choice([1, 1, 1, 2])
        notes.append(pretty_midi.Note(velocity=90, pitch=pitch, start=t, end=t + 0.95 * dur))
        t += dur
    return notes


def _write(path, parts):
    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    for program, name, notes in parts:
        inst = pretty_midi.Instrument(program=program, name=name)
        inst.notes = notes
        pm.instruments.append(inst)
    pm.write(str(path))
    return str(path)


def _notes(table):
    return [Note(int(r.pitch), float(r.onset_s), float(r.offset_s), int(r.velocity))
            for r in table.itertuples()]


@pytest.fixture(scope="module")
def model():
    return load_pretrained_model()


def test_long_solo_keeps_its_level_and_pitch(model, tmp_path):
    rng = np.random.default_rng(3)
    path = _write(tmp_path / "solo.mid", [(68, "oboe", _walk(rng, 62, 84, 60.0))])
    result = synthesize_midi(path, models=model)
    (name, table), = result.note_tables.items()
    notes = _notes(table)
    stem = result.stems[name]
    dyn = dynamics_metrics({name: stem}, {name: notes}, sample_rate=result.sample_rate)
    drift = dyn["parts"][name]["last_minus_first_fifth_db"]
    assert abs(drift) <= 4.0, dyn["parts"][name]["fifths_db"]
    activity = activity_metrics(stem, notes, sample_rate=result.sample_rate)
    assert activity["in_note_active"] >= 0.95
    pitch = pitch_metrics(stem, notes, sample_rate=result.sample_rate)
    assert pitch["raw_pitch_accuracy"] >= 0.90


def test_chorale_parts_stay_balanced(model, tmp_path):
    """Bach's BWV 66.6 (examples/chorale_4part.mid) as a string quartet, every note at velocity
    90: the parts' mean A-weighted loudness within 6 dB (FluidSynth on the same MIDI: 5.3 dB,
    the bass lowest, as A-weighting hears low notes)."""
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / "examples" / "chorale_4part.mid"
    pm = pretty_midi.PrettyMIDI(str(example))
    for inst in pm.instruments:
        for note in inst.notes:
            note.velocity = 90
    path = tmp_path / "chorale.mid"
    pm.write(str(path))
    result = synthesize_midi(str(path), models=model)
    notes = {name: _notes(t) for name, t in result.note_tables.items()}
    assert len(notes) == 4
    dyn = dynamics_metrics(result.stems, notes, sample_rate=result.sample_rate)
    assert dyn["part_spread_db"] <= 6.0, {k: v["mean_db"] for k, v in dyn["parts"].items()}


def test_expression_generator_holds_its_level_over_a_long_part(model):
    """The same 8-bar phrase repeated 16 times (~8 minutes): the repetitions get the same volume
    (no drift with the part's length), sampled at the default temperature."""
    phrase = [Note(60 + p, 0.6 * i, 0.6 * i + 0.55, 90)
              for i, p in enumerate([0, 2, 4, 5, 7, 5, 4, 2, 0, 4, 7, 12, 7, 4, 2, 0])]
    length = 0.6 * len(phrase) + 1.0
    notes = [Note(n.pitch, n.onset_s + k * length, n.offset_s + k * length, 90)
             for k in range(16) for n in phrase]
    table = model.expression_generator.generate(notes, "violin", seed=0, temperature=0.5)
    per_repeat = table["volume"].to_numpy().reshape(16, -1).mean(1)
    assert abs(per_repeat[-3:].mean() - per_repeat[:3].mean()) * 60 <= 3.0, per_repeat



def test_live_model_plays_a_melody_in_time_and_at_pitch():
    """The shipped causal model through the streaming engine, block by block (block 128): every
    note at its pitch, sounding through its length, the level steady, silence after the tail."""
    from midi_ddsp.streaming import StreamingSynth

    rng = np.random.default_rng(5)
    line = _walk(rng, 60, 79, 12.0, beat=0.4)
    notes = [Note(n.pitch, n.start, n.end, n.velocity) for n in line]
    events = [(n.onset_s, "note_on", n.pitch, n.velocity) for n in notes]
    events += [(n.offset_s, "note_off", n.pitch) for n in notes]
    engine = StreamingSynth("flute", block_size=128, max_voices=4)
    duration = notes[-1].offset_s + 2.0
    audio = engine.play(events, duration)[engine.latency_samples:]
    sr = engine.sample_rate
    pitch = pitch_metrics(audio, notes, sample_rate=sr)
    assert pitch["raw_pitch_accuracy"] >= 0.90, pitch
    activity = activity_metrics(audio, notes, sample_rate=sr)
    assert activity["in_note_active"] >= 0.95, activity
    dyn = dynamics_metrics({"flute": audio}, {"flute": notes}, sample_rate=sr)
    assert abs(dyn["parts"]["flute"]["last_minus_first_fifth_db"]) <= 4.0, dyn["parts"]["flute"]
    tail = audio[int((notes[-1].offset_s + 1.5) * sr):]
    assert np.sqrt(np.mean(tail ** 2)) < 1e-3 * np.abs(audio).max()   # -60 dB after the room
