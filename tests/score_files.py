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
