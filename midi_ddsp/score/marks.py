"""Score markings of MusicXML / kern / abc, turned into what the notes play.

Applied to the music21 score before it is written as MIDI (``midi_ddsp.score.readers`` reads MusicXML,
kern and abc that way), so every later layer sees their effect in the notes:

=================================  ==============================================================
mark                               effect
=================================  ==============================================================
dynamics ppp pp p mp mf f ff fff   velocity 30 36 50 64 78 96 112 124 from the mark on (per
                                   part); the Expression Generator plays velocity as loudness
sfz, sf, sffz, rfz                 that note's velocity +24 (at most 127)
fp                                 that note forte (96), the following notes piano (50)
crescendo / diminuendo wedge       velocity ramps over the wedge's notes to the next dynamic
                                   (or +-2 steps of the table when none follows)
accent, strong accent (marcato)    velocity +12, +18
staccato, staccatissimo            sounds for 50 %, 35 % of the written length
tenuto                             full written length (no articulation gap)
slur                               legato: each note but the last lasts until the next one starts
fermata                            the tempo halves over the note (all parts stay together)
=================================  ==============================================================

Notes without any dynamic mark keep music21's velocity.

The marks are also kept on each note (``collect_marks``; ``Note.marks``, a ``NoteMarks``), so the
NoteTable lists them (columns ``dynamic``, ``wedge``, ``articulation``, ``slur``, ``fermata``)
and the Expression Generator reads them (``midi_ddsp.models.features.note_mark_features``).
"""
from __future__ import annotations

import logging

from midi_ddsp.score.model import DYNAMICS, NoteMarks

__all__ = ["DYNAMIC_VELOCITY", "apply_marks", "collect_marks"]

logger = logging.getLogger(__name__)

DYNAMIC_VELOCITY = dict(zip(DYNAMICS, (30, 36, 50, 64, 78, 96, 112, 124)))
_SFORZANDO = {"sfz", "sf", "sffz", "rfz", "sfp", "rf"}
_SFORZANDO_BOOST = 24
_ACCENT_BOOST = {"Accent": 12, "StrongAccent": 18}
_SHORTEN = {"Staccato": 0.5, "Staccatissimo": 0.35, "Spiccato": 0.5}
_ARTICULATION_NAMES = {"Staccato": "staccato", "Spiccato": "staccato",
                       "Staccatissimo": "staccatissimo", "Tenuto": "tenuto", "Accent": "accent",
                       "StrongAccent": "marcato"}
_FERMATA_TEMPO = 0.5
_LEVELS = list(DYNAMIC_VELOCITY.values())


def _step(velocity: float, steps: int) -> int:
    """The velocity ``steps`` levels of ``DYNAMIC_VELOCITY`` away from the nearest level."""
    nearest = min(range(len(_LEVELS)), key=lambda i: abs(_LEVELS[i] - velocity))
    return _LEVELS[max(0, min(len(_LEVELS) - 1, nearest + steps))]


def _dynamic_events(part, music21) -> list[tuple[float, str]]:
    """(offset in quarters, value) of the part's dynamic marks, in time order."""
    return sorted(((d.getOffsetInHierarchy(part), d.value) for d in
                   part.recurse().getElementsByClass(music21.dynamics.Dynamic)),
                  key=lambda e: e[0])


def _dynamics_in_force(part, notes, music21) -> list[tuple[str, bool]]:
    """Per note of ``notes`` (the part's, in order): the dynamic in force ("" before the first)
    and whether a sforzando is written at it; fp is forte on its note, piano after."""
    events = _dynamic_events(part, music21)
    out, current, k, pending_fp = [], "", 0, None
    for note in notes:
        t = note.getOffsetInHierarchy(part)
        sforzando = False
        while k < len(events) and events[k][0] <= t + 1e-9:
            value = events[k][1]
            if value in DYNAMIC_VELOCITY:
                current = value
            elif value in _SFORZANDO and abs(events[k][0] - t) < 1e-9:
                sforzando = True
            elif value == "fp":
                current, pending_fp = "f", t
            k += 1
        if pending_fp is not None and t > pending_fp + 1e-9:
            current, pending_fp = "p", None
        out.append((current, sforzando))
    return out


def _part_velocities(part, music21) -> dict:
    """id(note) -> velocity from dynamics, sforzandi, fp and wedges of one part."""
    notes = [n for n in part.recurse().notes if not n.duration.isGrace]
    position = {id(n): i for i, n in enumerate(notes)}   # by identity: equal notes are common
    events = _dynamic_events(part, music21)
    out = {}
    for note, (dynamic, sforzando) in zip(notes, _dynamics_in_force(part, notes, music21)):
        if dynamic:
            out[id(note)] = min(127, DYNAMIC_VELOCITY[dynamic] + (_SFORZANDO_BOOST if sforzando else 0))
    for wedge in part.recurse().getElementsByClass(music21.dynamics.DynamicWedge):
        spanned = [n for n in wedge.getSpannedElements() if id(n) in position]
        if len(spanned) < 2:
            continue
        start = out.get(id(spanned[0]), spanned[0].volume.velocity or DYNAMIC_VELOCITY["mf"])
        end_t = spanned[-1].getOffsetInHierarchy(part)
        following = [v for t, v in events if t > end_t + 1e-9 and v in DYNAMIC_VELOCITY]
        rising = isinstance(wedge, music21.dynamics.Crescendo)
        target = (DYNAMIC_VELOCITY[following[0]] if following
                  else _step(start, 2 if rising else -2))
        first, last = position[id(spanned[0])], position[id(spanned[-1])]
        if last <= first:
            continue
        for i in range(first, last + 1):
            out[id(notes[i])] = int(round(start + (target - start) * (i - first) / (last - first)))
    return out


def apply_marks(score, music21) -> int:
    """Apply the markings (module docstring) to a parsed music21 ``Score`` in place; returns the
    number of marks applied."""
    n_marks = 0
    for part in score.parts:
        velocities = _part_velocities(part, music21)
        n_marks += len(velocities)
        notes = [n for n in part.recurse().notes if not n.duration.isGrace]
        position = {id(n): i for i, n in enumerate(notes)}
        for note in notes:
            velocity = velocities.get(id(note))
            for art in note.articulations:
                name = type(art).__name__
                if name in _ACCENT_BOOST:
                    base = velocity if velocity is not None else (note.volume.velocity or 80)
                    velocity = min(127, base + _ACCENT_BOOST[name])
                    n_marks += 1
                elif name in _SHORTEN:
                    note.duration.quarterLength = note.duration.quarterLength * _SHORTEN[name]
                    n_marks += 1
            if velocity is not None:
                note.volume.velocityIsRelative = False   # the velocity, not music21's scaling
                note.volume.velocity = int(velocity)
        for _, first, last in _spanned_runs(part, notes, position, music21, music21.spanner.Slur):
            spanned = notes[first:last + 1]
            for a, b in zip(spanned[:-1], spanned[1:]):
                gap = b.getOffsetInHierarchy(part) - a.getOffsetInHierarchy(part)
                if gap > 0:
                    a.duration.quarterLength = gap
                    n_marks += 1
    n_marks += _apply_fermatas(score, music21)
    return n_marks


def _apply_fermatas(score, music21) -> int:
    """Halve the tempo over every fermata note (a metronome mark before it, the old tempo back
    after it), once per time position."""
    spots = {}
    for part in score.parts:
        for note in part.recurse().notes:
            if any(isinstance(e, music21.expressions.Fermata) for e in note.expressions):
                start = float(note.getOffsetInHierarchy(score))
                spots[round(start, 6)] = max(spots.get(round(start, 6), 0.0),
                                            float(note.duration.quarterLength))
    if not spots:
        return 0
    boundaries = score.metronomeMarkBoundaries()
    first = score.parts[0]

    def tempo_at(offset):
        for start, end, mark in boundaries:
            if start <= offset < end:
                return mark.getQuarterBPM()
        return boundaries[-1][2].getQuarterBPM() if boundaries else 120.0

    for start, length in sorted(spots.items()):
        bpm = tempo_at(start)
        first.insert(start, music21.tempo.MetronomeMark(number=bpm * _FERMATA_TEMPO))
        first.insert(start + length, music21.tempo.MetronomeMark(number=bpm))
    return len(spots)


def _spanned_runs(part, notes, position, music21, kind) -> list[tuple[object, int, int]]:
    """(spanner, first, last) note positions of each spanner of ``kind`` in the part (MusicXML
    keeps only a spanner's end notes: it covers every note between)."""
    runs = []
    for spanner in part.recurse().getElementsByClass(kind):
        ends = [position[id(n)] for n in spanner.getSpannedElements() if id(n) in position]
        if len(ends) >= 2 and max(ends) > min(ends):
            runs.append((spanner, min(ends), max(ends)))
    return runs


def _part_marks(part, music21) -> dict:
    """id(note) -> NoteMarks of one part (before ``apply_marks`` changes the notes)."""
    notes = [n for n in part.recurse().notes if not n.duration.isGrace]
    position = {id(n): i for i, n in enumerate(notes)}
    fields = [dict(dynamic="", wedge="", articulation=set(), slur=False, fermata=False)
              for _ in notes]
    for i, (note, (dynamic, sforzando)) in enumerate(
            zip(notes, _dynamics_in_force(part, notes, music21))):
        fields[i]["dynamic"] = dynamic
        if sforzando:
            fields[i]["articulation"].add("sforzando")
        fields[i]["articulation"].update(_ARTICULATION_NAMES[type(a).__name__]
                                         for a in note.articulations
                                         if type(a).__name__ in _ARTICULATION_NAMES)
        fields[i]["fermata"] = any(isinstance(e, music21.expressions.Fermata)
                                   for e in note.expressions)
    for wedge, first, last in _spanned_runs(part, notes, position, music21,
                                            music21.dynamics.DynamicWedge):
        name = "crescendo" if isinstance(wedge, music21.dynamics.Crescendo) else "diminuendo"
        for i in range(first, last + 1):
            fields[i]["wedge"] = name
    for _, first, last in _spanned_runs(part, notes, position, music21, music21.spanner.Slur):
        for i in range(first, last):
            fields[i]["slur"] = True
    return {id(note): NoteMarks(dynamic=f["dynamic"], wedge=f["wedge"],
                                articulation="+".join(sorted(f["articulation"])),
                                slur=f["slur"], fermata=f["fermata"])
            for note, f in zip(notes, fields)}


def collect_marks(score, music21) -> list[list[tuple[float, int, NoteMarks]]]:
    """The marks of every note of a parsed music21 ``Score``, per part (in part order):
    ``(offset in quarters from the score's start, MIDI pitch, NoteMarks)``, one entry per
    pitch of a chord; notes without marks are left out. Call it before ``apply_marks``."""
    out = []
    for part in score.parts:
        marks = _part_marks(part, music21)
        entries = []
        for note in part.recurse().notes:
            m = marks.get(id(note))
            if m:
                offset = float(note.getOffsetInHierarchy(score))
                entries.extend((offset, int(p.midi), m) for p in note.pitches)
        out.append(entries)
    return out
