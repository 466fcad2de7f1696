"""Note-level parts as frame-level arrays (250 Hz by default), and back.

``part_to_frames`` gives the per-frame note conditioning the Synthesis Generator and the data
readers use; ``frames_to_notes`` turns a simple piano roll (one pitch per frame) back into notes.
Both use ``midi_ddsp.score.note_frame_span``, the one note-to-frame rule of the package.
"""
from __future__ import annotations

import dataclasses
import logging

import numpy as np

from midi_ddsp.errors import ParameterError
from midi_ddsp.score import Note, Part, note_frame_span

__all__ = ["PartFrames", "part_to_frames", "frames_to_notes"]

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class PartFrames:
    """Frame-level description of one monophonic part; every array has shape [n_frames].

    Frame i is the instant ``i / frame_rate`` seconds.

    Attributes:
        pitch_midi: written MIDI pitch of the sounding note, 0 in rests; float32.
        onset: 1.0 at the first frame of each note, else 0; float32.
        offset: 1.0 at the last frame of each note, else 0; float32.
        note_position: position inside the note, 0 at its first frame to 1 at its last
            (0 for one-frame notes and in rests); float32.
        note_index: index of the note in ``part.notes``, -1 in rests; int64.
        velocity: MIDI velocity / 127 (0..1), 0 in rests; float32.
        is_note: 1.0 while a note sounds, 0 in rests; float32.
        note_length_s: duration in seconds of the current note (its frame span / frame_rate),
            0 in rests; float32.
        frame_rate: frames per second (Hz).
    """

    pitch_midi: np.ndarray
    onset: np.ndarray
    offset: np.ndarray
    note_position: np.ndarray
    note_index: np.ndarray
    velocity: np.ndarray
    is_note: np.ndarray
    note_length_s: np.ndarray
    frame_rate: int = 250

    @property
    def n_frames(self) -> int:
        return int(self.pitch_midi.shape[0])


def part_to_frames(part: Part, *, n_frames: "int | None" = None, frame_rate: int = 250) -> PartFrames:
    """Per-frame note features of a monophonic part.

    Each note covers the frames ``note_frame_span(onset_s, offset_s)``; when two spans overlap
    (a note shorter than a frame, or overlapping notes) the later note starts where it starts
    and the earlier one is cut there (a note cut to nothing is absent from the frames). Notes
    running past ``n_frames`` are cut (their offset flag is then absent).

    Args:
        part: a ``Part`` (or anything with ``.notes``, a list of ``Note``).
        n_frames: number of frames; default the stop frame of the last note.
        frame_rate: frames per second (Hz), > 0.

    Returns:
        A ``PartFrames`` whose arrays all have shape [n_frames].

    Raises:
        ParameterError: bad ``n_frames`` / ``frame_rate``.
    """
    if isinstance(frame_rate, bool) or not isinstance(frame_rate, (int, np.integer)) or frame_rate <= 0:
        raise ParameterError(f"frame_rate must be a positive integer (Hz), got {frame_rate!r}")
    notes = list(part.notes)
    spans = [note_frame_span(n.onset_s, n.offset_s, frame_rate=frame_rate) for n in notes]
    if n_frames is None:
        n_frames = max((stop for _, stop in spans), default=0)
    elif isinstance(n_frames, bool) or not isinstance(n_frames, (int, np.integer)) or n_frames < 0:
        raise ParameterError(f"n_frames must be an integer >= 0, got {n_frames!r}")
    n_frames = int(n_frames)

    pitch = np.zeros(n_frames, np.float32)
    onset = np.zeros(n_frames, np.float32)
    offset = np.zeros(n_frames, np.float32)
    position = np.zeros(n_frames, np.float32)
    index = np.full(n_frames, -1, np.int64)
    velocity = np.zeros(n_frames, np.float32)
    is_note = np.zeros(n_frames, np.float32)
    length_s = np.zeros(n_frames, np.float32)

    order = sorted(range(len(notes)), key=lambda k: (spans[k][0], k))
    n_hidden = 0
    for rank, k in enumerate(order):
        start, stop = spans[k]
        if rank + 1 < len(order):
            stop = min(stop, spans[order[rank + 1]][0])
        if stop <= start:
            n_hidden += 1
            continue
        full_stop = stop
        start_c, stop_c = min(start, n_frames), min(stop, n_frames)
        if stop_c <= start_c:
            continue
        note = notes[k]
        length = full_stop - start
        sl = slice(start_c, stop_c)
        pitch[sl] = note.pitch
        index[sl] = k
        velocity[sl] = note.velocity / 127.0
        is_note[sl] = 1.0
        length_s[sl] = length / frame_rate
        position[sl] = (np.arange(start_c, stop_c) - start) / max(length - 1, 1)
        onset[start_c] = 1.0
        if full_stop <= n_frames:
            offset[full_stop - 1] = 1.0
    if n_hidden:
        logger.debug("%d note(s) shorter than the frame grid allows were hidden by the next note",
                     n_hidden)
    return PartFrames(pitch_midi=pitch, onset=onset, offset=offset, note_position=position,
                      note_index=index, velocity=velocity, is_note=is_note,
                      note_length_s=length_s, frame_rate=int(frame_rate))


def frames_to_notes(pitch_midi, *, onset=None, velocity=None, frame_rate: int = 250) -> list[Note]:
    """Notes from a piano roll with one pitch per frame (the inverse of ``part_to_frames``).

    A note is a run of frames with the same non-zero (rounded) pitch; ``onset`` frames split
    runs of repeated notes of one pitch.

    Args:
        pitch_midi: MIDI pitch per frame, 0 (or below 0.5) in rests, 0..127, shape [n_frames].
        onset: optional, > 0.5 at the first frame of each note, shape [n_frames].
        velocity: optional, MIDI velocity / 127 (0..1) per frame, shape [n_frames]; a note takes
            the value at its first frame (default velocity 100).
        frame_rate: frames per second (Hz), > 0.

    Returns:
        Notes sorted by onset, ``onset_s = start / frame_rate``, ``offset_s = stop / frame_rate``.

    Raises:
        ParameterError: arrays not 1-D, of different lengths, non-finite, or pitch outside 0..127.
    """
    if isinstance(frame_rate, bool) or not isinstance(frame_rate, (int, np.integer)) or frame_rate <= 0:
        raise ParameterError(f"frame_rate must be a positive integer (Hz), got {frame_rate!r}")
    pitch = _as_1d("pitch_midi", pitch_midi)
    if np.any(pitch < 0) or np.any(pitch > 127.5):
        raise ParameterError("pitch_midi must lie in 0..127 (0 = rest), got values from "
                             f"{pitch.min()} to {pitch.max()}")
    n = pitch.shape[0]
    onset_arr = _as_1d("onset", onset, n) if onset is not None else np.zeros(n)
    velocity_arr = _as_1d("velocity", velocity, n) if velocity is not None else None
    rounded = np.rint(pitch).astype(np.int64)
    rounded[pitch < 0.5] = 0
    sounding = rounded > 0
    previous = np.concatenate([[0], rounded[:-1]])
    starts_mask = sounding & ((rounded != previous) | (onset_arr > 0.5))
    starts = np.flatnonzero(starts_mask)
    notes = []
    for s_idx, start in enumerate(starts):
        limit = starts[s_idx + 1] if s_idx + 1 < len(starts) else n
        run = np.flatnonzero(~sounding[start:limit] | (rounded[start:limit] != rounded[start]))
        stop = start + (int(run[0]) if run.size else limit - start)
        vel = 100
        if velocity_arr is not None:
            vel = int(np.clip(np.rint(velocity_arr[start] * 127), 1, 127))
        notes.append(Note(int(rounded[start]), start / frame_rate, stop / frame_rate, vel))
    return notes


def _as_1d(name: str, value, length: "int | None" = None) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a 1-D array of numbers, got {type(value).__name__}") from None
    if arr.ndim != 1:
        raise ParameterError(f"{name} must have shape [n_frames], got shape {arr.shape}")
    if length is not None and arr.shape[0] != length:
        raise ParameterError(f"{name} must have shape [{length}] like pitch_midi, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ParameterError(f"{name} must be finite")
    return arr
