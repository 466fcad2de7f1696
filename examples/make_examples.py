"""Write the two example scores next to this script (deterministic; the outputs are committed).

- ``solo_melody.mid``: a ~12 s violin melody (one track, GM program 40).
- ``chorale_4part.mid``: J. S. Bach, chorale BWV 66.6 from the music21 corpus, four tracks
  (Soprano, Alto, Tenor, Bass) set for string quartet (GM programs 40, 40, 41, 42), up a
  semitone so every voice lies in its instrument's range.

Run: ``python examples/make_examples.py``.
"""
from __future__ import annotations

import io
import pathlib

import pretty_midi

HERE = pathlib.Path(__file__).resolve().parent

# (MIDI pitch, beats) at 96 BPM; 0 = rest. A folk-like tune in G major.
_MELODY = [
    (67, 1), (71, 1), (74, 1.5), (72, 0.5), (71, 1), (69, 1), (67, 2),
    (69, 1), (71, 1), (72, 1), (74, 1), (76, 1.5), (74, 0.5), (72, 1), (0, 1),
    (71, 1), (72, 0.5), (71, 0.5), (69, 1), (67, 1), (66, 1), (67, 0.5), (69, 0.5), (71, 2),
    (74, 1), (72, 1), (71, 1), (69, 1), (67, 3),
]
_BPM = 96.0
_CHORALE = "bach/bwv66.6"
_QUARTET_PROGRAMS = (40, 40, 41, 42)  # violin, violin, viola, cello
_VOICE_NAMES = ("Soprano", "Alto", "Tenor", "Bass")
_CHORALE_SHIFT = 1  # F# minor -> G minor: the alto's F#3 lies below the violin's G3


def solo_melody() -> pretty_midi.PrettyMIDI:
    pm = pretty_midi.PrettyMIDI(initial_tempo=_BPM)
    violin = pretty_midi.Instrument(program=40, name="Violin")
    beat_s = 60.0 / _BPM
    t = 0.0
    for i, (pitch, beats) in enumerate(_MELODY):
        dur = beats * beat_s
        if pitch:
            velocity = 80 + (12 if i % 4 == 0 else 0)
            violin.notes.append(pretty_midi.Note(velocity, pitch, t, t + 0.95 * dur))
        t += dur
    pm.instruments.append(violin)
    return pm


def chorale() -> pretty_midi.PrettyMIDI:
    import music21

    stream = music21.corpus.parse(_CHORALE)
    data = music21.midi.translate.streamToMidiFile(stream).writestr()
    src = pretty_midi.PrettyMIDI(io.BytesIO(data))
    voices = [inst for inst in src.instruments if inst.notes][:4]
    pm = pretty_midi.PrettyMIDI(initial_tempo=_BPM)
    for voice, program, name in zip(voices, _QUARTET_PROGRAMS, _VOICE_NAMES):
        inst = pretty_midi.Instrument(program=program, name=name)
        inst.notes = [pretty_midi.Note(max(1, min(127, n.velocity)), n.pitch + _CHORALE_SHIFT,
                                       n.start, n.end)
                      for n in voice.notes]
        pm.instruments.append(inst)
    return pm


def main() -> None:
    solo_melody().write(str(HERE / "solo_melody.mid"))
    chorale().write(str(HERE / "chorale_4part.mid"))
    print(HERE / "solo_melody.mid")
    print(HERE / "chorale_4part.mid")


if __name__ == "__main__":
    main()
