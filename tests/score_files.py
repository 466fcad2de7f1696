"""Helpers the score tests share: writing small MIDI files, reading notes back."""
import pretty_midi


def write_pm(path, tracks, *, tempo=120.0):
    """Write a MIDI file; tracks: list of (program, name, is_drum, [(pitch, start_s, end_s[,
    velocity])]). Returns ``path``."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    for program, name, is_drum, notes in tracks:
        inst = pretty_midi.Instrument(program=program, name=name, is_drum=is_drum)
        for n in notes:
            pitch, start, end = n[:3]
            vel = n[3] if len(n) > 3 else 100
            inst.notes.append(pretty_midi.Note(velocity=vel, pitch=pitch, start=start, end=end))
        pm.instruments.append(inst)
    pm.write(str(path))
    return path


def pitches_onsets(part):
    """[(pitch, onset_s, offset_s)] of a part, times rounded to microseconds."""
    return [(n.pitch, round(n.onset_s, 6), round(n.offset_s, 6)) for n in part.notes]


def write_type0_trio(path):
    """A type-0 MIDI file: one track "Duo" whose channels hold a violin (E5, 0-0.5 s), a cello
    (C3, 0-0.5 s) and a drum hit. Returns ``path``."""
    import mido

    msgs = [mido.MetaMessage("track_name", name="Duo", time=0),
            mido.Message("program_change", channel=0, program=40, time=0),
            mido.Message("program_change", channel=1, program=42, time=0),
            mido.Message("note_on", channel=0, note=76, velocity=100, time=0),
            mido.Message("note_on", channel=1, note=48, velocity=100, time=0),
            mido.Message("note_on", channel=9, note=36, velocity=100, time=0),
            mido.Message("note_off", channel=9, note=36, velocity=0, time=120),
            mido.Message("note_off", channel=0, note=76, velocity=0, time=360),
            mido.Message("note_off", channel=1, note=48, velocity=0, time=0)]
    mid = mido.MidiFile(type=0, ticks_per_beat=480)
    mid.tracks.append(mido.MidiTrack(msgs))
    mid.save(str(path))
    return path
