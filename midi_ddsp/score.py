"""Score front end: notes, monophonic parts and whole scores.

A ``Score`` holds ``Part`` objects; each part is one monophonic voice (no two notes overlap)
of one instrument. Times are in seconds, tempo changes already applied.
"""
from __future__ import annotations

import dataclasses

from midi_ddsp.instruments import Instrument

__all__ = ["Note", "Part", "Score", "note_frame_span"]


@dataclasses.dataclass(frozen=True)
class Note:
    """One note.

    Attributes:
        pitch: MIDI note number (0..127, 69 = A4 = 440 Hz).
        onset_s: start time in seconds, >= 0.
        offset_s: end time in seconds, > onset_s.
        velocity: MIDI velocity 1..127.
    """

    pitch: int
    onset_s: float
    offset_s: float
    velocity: int = 100

    @property
    def duration_s(self) -> float:
        return self.offset_s - self.onset_s


@dataclasses.dataclass
class Part:
    """One monophonic voice: notes sorted by onset, none overlapping.

    Attributes:
        notes: the notes, sorted by onset.
        instrument: the model instrument, or None when the program has none (e.g. piano, drums).
        program: 0-based General MIDI program of the source track.
        name: human-readable name (track name and voice), used for stem file names.
        is_drum: whether the source track is a percussion track (channel 10).
        track: index of the source track in the file.
        voice: index of the voice within the track (0 for a monophonic track).
    """

    notes: list[Note]
    instrument: "Instrument | None" = None
    program: int = 0
    name: str = ""
    is_drum: bool = False
    track: int = 0
    voice: int = 0

    @property
    def end_s(self) -> float:
        """Time of the last note offset in seconds (0 for an empty part)."""
        return max((n.offset_s for n in self.notes), default=0.0)


@dataclasses.dataclass
class Score:
    """A parsed score file: its parts (monophonic voices) and where it came from."""

    parts: list[Part]
    source: str = ""

    @property
    def end_s(self) -> float:
        return max((p.end_s for p in self.parts), default=0.0)


def note_frame_span(onset_s: float, offset_s: float, *, frame_rate: int) -> tuple[int, int]:
    """Frames ``[start, stop)`` covered by a note; frame i is the instant ``i / frame_rate`` s.

    Every note covers at least one frame. This is the one note-to-frame rule of the package:
    the frame features, the expression extractor and the models all use it.
    """
    start = int(round(onset_s * frame_rate))
    stop = max(start + 1, int(round(offset_s * frame_rate)))
    return start, stop
