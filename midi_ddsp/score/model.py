"""The score's object model: notes, monophonic parts, scores, and what belongs to a part alone
(the note-to-frame rule, range fitting)."""
from __future__ import annotations

import dataclasses
import logging

import numpy as np

from midi_ddsp.errors import InputFileError, ParameterError
from midi_ddsp.instruments import Instrument, get_instrument
from midi_ddsp.midi_controls import MidiControls

__all__ = ["DYNAMICS", "WEDGES", "ARTICULATIONS", "NoteMarks", "NO_MARKS", "Note", "Part", "Score", "note_frame_span", "require_pitched_parts", "fit_part_to_range",
           "program_name", "pitch_name"]

logger = logging.getLogger(__name__)


#: written dynamics, softest first (``NoteMarks.dynamic``)
DYNAMICS: tuple[str, ...] = ("ppp", "pp", "p", "mp", "mf", "f", "ff", "fff")
#: hairpins (``NoteMarks.wedge``)
WEDGES: tuple[str, ...] = ("crescendo", "diminuendo")
#: articulation marks in their canonical order (``NoteMarks.articulation``)
ARTICULATIONS: tuple[str, ...] = ("staccato", "staccatissimo", "tenuto", "accent", "marcato",
                                  "sforzando")


@dataclasses.dataclass(frozen=True)
class NoteMarks:
    """The score markings that apply to one note (all empty for MIDI input and plain notes).

    Attributes:
        dynamic: the dynamic in force at the note (one of ``DYNAMICS``), "" when the part has
            no dynamic mark up to it.
        wedge: "crescendo" or "diminuendo" when the note lies under that hairpin, else "".
        articulation: the note's articulation marks, "+"-joined in ``ARTICULATIONS`` order
            (e.g. "staccato+accent"), "" for none.
        slur: the note lies under a slur and is not its last note (legato into the next one).
        fermata: the note carries a fermata.
    """

    dynamic: str = ""
    wedge: str = ""
    articulation: str = ""
    slur: bool = False
    fermata: bool = False

    def __post_init__(self) -> None:
        if self.dynamic not in ("", *DYNAMICS):
            raise ParameterError(f"unknown dynamic {self.dynamic!r}; expected one of "
                                 f"{', '.join(DYNAMICS)} or ''")
        if self.wedge not in ("", *WEDGES):
            raise ParameterError(f"unknown wedge {self.wedge!r}; expected crescendo, diminuendo or ''")
        names = [a for a in self.articulation.split("+") if a]
        unknown = [a for a in names if a not in ARTICULATIONS]
        if unknown:
            raise ParameterError(f"unknown articulation {unknown[0]!r}; expected '+'-joined "
                                 f"names of {', '.join(ARTICULATIONS)}")
        object.__setattr__(self, "articulation",
                           "+".join(a for a in ARTICULATIONS if a in names))
        object.__setattr__(self, "slur", bool(self.slur))
        object.__setattr__(self, "fermata", bool(self.fermata))

    @property
    def articulations(self) -> tuple[str, ...]:
        return tuple(a for a in self.articulation.split("+") if a)

    def __bool__(self) -> bool:
        return bool(self.dynamic or self.wedge or self.articulation or self.slur or self.fermata)

    def codes(self) -> tuple[int, int, int, int, int]:
        """Integer codes (shards): dynamic (0 none, 1..8 ppp..fff), wedge (0 none, 1
        crescendo, 2 diminuendo), articulation bit mask (bit i = ``ARTICULATIONS[i]``), slur,
        fermata."""
        return (DYNAMICS.index(self.dynamic) + 1 if self.dynamic else 0,
                WEDGES.index(self.wedge) + 1 if self.wedge else 0,
                sum(1 << ARTICULATIONS.index(a) for a in self.articulations),
                int(self.slur), int(self.fermata))

    @classmethod
    def from_codes(cls, codes) -> "NoteMarks":
        """The inverse of ``codes``."""
        dynamic, wedge, mask, slur, fermata = (int(c) for c in codes)
        return cls(dynamic=DYNAMICS[dynamic - 1] if dynamic else "",
                   wedge=WEDGES[wedge - 1] if wedge else "",
                   articulation="+".join(a for i, a in enumerate(ARTICULATIONS) if mask >> i & 1),
                   slur=bool(slur), fermata=bool(fermata))


NO_MARKS = NoteMarks()


@dataclasses.dataclass(frozen=True)
class Note:
    """One note.

    Attributes:
        pitch: MIDI note number (0..127, 69 = A4 = 440 Hz).
        onset_s: start time in seconds, >= 0.
        offset_s: end time in seconds, > onset_s.
        velocity: MIDI velocity 1..127.
        marks: the score markings on the note (``NoteMarks``; none by default).
    """

    pitch: int
    onset_s: float
    offset_s: float
    velocity: int = 100
    marks: NoteMarks = NO_MARKS

    @property
    def duration_s(self) -> float:
        return self.offset_s - self.onset_s


@dataclasses.dataclass
class Part:
    """One monophonic voice: notes sorted by onset, none overlapping.

    Drum parts (``is_drum=True``) are the one exception: they keep all notes of the drum track
    unsplit (sorted by onset, possibly overlapping) and never carry an instrument.

    Attributes:
        notes: the notes, sorted by onset.
        instrument: the model instrument, or None when the program has none (e.g. piano, drums).
        program: 0-based General MIDI program of the source track.
        name: human-readable name (track name and voice), used for stem file names.
        is_drum: whether the source track is a percussion track (channel 10).
        track: index of the source track in the file.
        voice: index of the voice within the track (0 for a monophonic track).
        controls: MIDI performance controls of the source channel (pitch bend, CC7, CC11,
            CC1; ``midi_ddsp.midi_controls``), shared by the voices of a track; None if none.
    """

    notes: list[Note]
    instrument: "Instrument | None" = None
    program: int = 0
    name: str = ""
    is_drum: bool = False
    track: int = 0
    voice: int = 0
    controls: "MidiControls | None" = None

    @property
    def end_s(self) -> float:
        """Time of the last note offset in seconds (0 for an empty part)."""
        return max((n.offset_s for n in self.notes), default=0.0)


@dataclasses.dataclass
class Score:
    """A parsed score file: its parts (monophonic voices) and where it came from.

    Attributes:
        parts: the parts in file order (track, then voice), drum parts included.
        source: the file path, or ``"<PrettyMIDI>"`` / ``"<NoteSequence>"`` / ``"<notes>"``
            for in-memory input.
    """

    parts: list[Part]
    source: str = ""

    @property
    def end_s(self) -> float:
        return max((p.end_s for p in self.parts), default=0.0)

    @property
    def pitched_parts(self) -> list[Part]:
        """Parts a model can play: not drums, with an instrument."""
        return [p for p in self.parts if p.instrument is not None and not p.is_drum]

    @property
    def drum_parts(self) -> list[Part]:
        """Drum parts (never given to the pitched models; FluidSynth can render them)."""
        return [p for p in self.parts if p.is_drum]


def note_frame_span(onset_s: float, offset_s: float, *, frame_rate: int) -> tuple[int, int]:
    """Frames ``[start, stop)`` covered by a note; frame i is the instant ``i / frame_rate`` s.

    Every note covers at least one frame. This is the one note-to-frame rule of the package:
    the frame features, the expression extractor and the models all use it.
    """
    start = int(round(onset_s * frame_rate))
    stop = max(start + 1, int(round(offset_s * frame_rate)))
    return start, stop


def require_pitched_parts(score: Score) -> list[Part]:
    """The parts a model can play; raises when there are none (what the CLI wants).

    Raises:
        InputFileError: the score has only drum tracks, or no track maps to an instrument.
    """
    pitched = score.pitched_parts
    if pitched:
        return pitched
    label = score.source or "<score>"
    if not score.parts:
        raise InputFileError(label, "contains no notes")
    if all(p.is_drum for p in score.parts):
        raise InputFileError(label, "contains only drum tracks; nothing for the pitched models to play")
    programs = sorted({p.program for p in score.parts if not p.is_drum})
    names = ", ".join(f"{p} {program_name(p)}" for p in programs)
    raise InputFileError(
        label, f"no track maps to a model instrument (GM programs: {names}); "
               "assign one with an instrument override")


def fit_part_to_range(part: Part, instrument: "Instrument | str | None" = None
                      ) -> tuple[Part, int]:
    """Transpose a part by whole octaves so its notes fit the instrument's playable range.

    Chooses the octave shift with the fewest notes outside the range (ties: the smallest
    shift). Logs a warning naming the part and the shift when it transposes, and another when
    notes remain outside the range; never raises for range problems.

    Args:
        part: the part.
        instrument: the target instrument (name, alias or Instrument); default the part's own.

    Returns:
        ``(part, semitones)``: a new Part with the transposed notes and the instrument set
        (the same part when no shift is needed) and the shift in semitones (a multiple of 12).

    Raises:
        ParameterError: no instrument given and the part has none, or an unknown name.
    """
    inst = get_instrument(instrument) if instrument is not None else part.instrument
    if inst is None:
        raise ParameterError(f"part {part.name!r} has no instrument; pass one to fit_part_to_range")
    if not part.notes:
        return (part if part.instrument is inst else dataclasses.replace(part, instrument=inst)), 0
    pitches = np.array([n.pitch for n in part.notes])
    centre = 0.5 * (inst.lowest_midi + inst.highest_midi)
    best = None
    for octaves in range(-10, 11):
        shift = 12 * octaves
        shifted = pitches + shift
        if shifted.min() < 0 or shifted.max() > 127:
            continue
        outside = int(np.sum((shifted < inst.lowest_midi) | (shifted > inst.highest_midi)))
        key = (outside, abs(octaves), abs(float(np.median(shifted)) - centre))
        if best is None or key < best[0]:
            best = (key, shift)
    (outside, _, _), shift = best
    label = part.name or f"track {part.track} voice {part.voice}"
    range_text = f"{pitch_name(inst.lowest_midi)}-{pitch_name(inst.highest_midi)}"
    if shift:
        logger.warning("part %r: transposed %s %d octave%s (%+d semitones) to fit the %s range %s",
                       label, "up" if shift > 0 else "down", abs(shift) // 12,
                       "" if abs(shift) == 12 else "s", shift, inst.name, range_text)
    if outside:
        logger.warning("part %r: %d of %d notes remain outside the %s range %s",
                       label, outside, len(pitches), inst.name, range_text)
    if shift == 0 and part.instrument is inst:
        return part, 0
    notes = [dataclasses.replace(n, pitch=n.pitch + shift) for n in part.notes] if shift else part.notes
    return dataclasses.replace(part, notes=notes, instrument=inst), shift


def program_name(program: int) -> str:
    """The General MIDI name of a 0-based program, e.g. 40 -> "Violin"."""
    import pretty_midi

    return pretty_midi.program_to_instrument_name(program)


def pitch_name(pitch: int) -> str:
    """The name of a MIDI pitch, e.g. 69 -> "A4", 61 -> "C#4"."""
    octave, pitch_class = divmod(int(pitch), 12)
    return f"{_PITCH_CLASSES[pitch_class]}{octave - 1}"


_PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
