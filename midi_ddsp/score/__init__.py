"""Score front end: notes, monophonic parts and whole scores, and reading them from files.

- ``model``: ``Note`` and its ``NoteMarks``, ``Part``, ``Score``, the note-to-frame rule, range fitting;
- ``readers``: ``load_score`` (MIDI, MusicXML/.mxl, kern, abc, PrettyMIDI, NoteSequence) and
  ``score_from_notes``;
- ``voices``: splitting polyphonic tracks into monophonic voices;
- ``marks``: score markings (dynamics, wedges, articulations, slurs, fermatas) applied to notes.

A ``Score`` holds ``Part`` objects; each pitched part is one monophonic voice (no two notes
overlap). Times are in seconds, tempo changes already applied. Which instrument finally plays a
part is decided by ``midi_ddsp.casting``.
"""
from midi_ddsp.score.model import (
    ARTICULATIONS,
    DYNAMICS,
    NO_MARKS,
    WEDGES,
    Note,
    NoteMarks,
    Part,
    Score,
    fit_part_to_range,
    note_frame_span,
    require_pitched_parts,
)
from midi_ddsp.score.readers import SCORE_EXTENSIONS, load_score, score_from_notes

__all__ = [
    "DYNAMICS",
    "WEDGES",
    "ARTICULATIONS",
    "NoteMarks",
    "NO_MARKS",
    "Note",
    "Part",
    "Score",
    "note_frame_span",
    "SCORE_EXTENSIONS",
    "load_score",
    "score_from_notes",
    "require_pitched_parts",
    "fit_part_to_range",
]
