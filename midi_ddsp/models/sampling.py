"""What every runtime of the generators shares (numpy, torch-free): input checks, the seeded
draws and the chunk plan, so the torch modules and the ONNX graphs (``midi_ddsp.runtime``) give
the same NoteTable and SynthParams from the same seed.

- Expression Generator: note i's expressions are ``mean + temperature * exp(log_std) * z_i``,
  z_i the i-th standard-normal 6-vector of ``numpy.random.default_rng(seed)``, clipped to the
  generated ranges (``ExpressionRange.generated_low/high``).
- Synthesis Generator: the noise input is ``default_rng(seed).standard_normal((n_frames,
  n_noise))`` (float32); long parts run in chunks (``chunk_windows``) with the receptive radius
  of context on each side, so the result does not depend on the chunking.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from midi_ddsp.errors import ParameterError
from midi_ddsp.expression.definitions import (DEFAULT_VIBRATO_RATE_HZ, EXPRESSIONS,
                                              check_temperature)
from midi_ddsp.score import Note

__all__ = ["check_sampling", "NoteNoise", "sample_note", "synthesis_noise", "chunk_windows",
           "rate_to_unit", "unit_to_rate", "generated_values", "DEFAULT_CHUNK_FRAMES", "CLIP_LOW", "CLIP_HIGH",
           "GENERATED_RATE_HZ"]

DEFAULT_CHUNK_FRAMES = 7500
"""The Synthesis Generator runs parts longer than this (30 s at 250 Hz) in overlapping chunks."""

CLIP_LOW = np.array([e.generated_low for e in EXPRESSIONS], np.float32)
CLIP_HIGH = np.array([e.generated_high for e in EXPRESSIONS], np.float32)

_OVERLAP_TOLERANCE_S = 1e-6  # same tolerance as midi_ddsp.expression.validate_note_table

#: An Expression Generator that generates vibrato rates works on (rate - 5.5 Hz) / 1.5 Hz and
#: clips the rate to this range (Hz).
GENERATED_RATE_HZ = (3.5, 8.5)
_RATE_UNIT_HZ = 1.5


def rate_to_unit(rate_hz):
    """Vibrato rate in Hz -> the generator's unit ((rate - 5.5) / 1.5)."""
    return (np.asarray(rate_hz, np.float32) - np.float32(DEFAULT_VIBRATO_RATE_HZ)) / np.float32(_RATE_UNIT_HZ)


def unit_to_rate(unit):
    """The generator's rate unit -> Hz (inverse of ``rate_to_unit``)."""
    return np.asarray(unit, np.float32) * np.float32(_RATE_UNIT_HZ) + np.float32(DEFAULT_VIBRATO_RATE_HZ)


_CLIP_WITH_RATE = (np.append(CLIP_LOW, rate_to_unit(GENERATED_RATE_HZ[0])),
                   np.append(CLIP_HIGH, rate_to_unit(GENERATED_RATE_HZ[1])))


def check_sampling(notes: Sequence[Note], seed: "int | None", temperature: float
                   ) -> tuple[list[Note], "NoteNoise | None", float]:
    """Check the Expression Generator's inputs: one monophonic part of ``Note`` objects sorted
    by onset, an int seed or None, a temperature >= 0. Returns (notes, the sampling generator or
    None when the means are taken, temperature)."""
    notes = list(notes)
    for i, note in enumerate(notes):
        if not isinstance(note, Note):
            raise ParameterError(f"notes[{i}] must be a Note; got {type(note).__name__}")
    for i in range(1, len(notes)):
        if notes[i].onset_s < notes[i - 1].offset_s - _OVERLAP_TOLERANCE_S:
            raise ParameterError(
                f"notes must be one monophonic part sorted by onset: notes[{i}] starts at "
                f"{notes[i].onset_s:g} s, before notes[{i - 1}] ends ({notes[i - 1].offset_s:g} s)")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise ParameterError(f"seed must be None or an int; got {seed!r}")
    temperature = check_temperature(temperature)
    rng = NoteNoise(int(seed)) if seed is not None and temperature > 0 else None
    return notes, rng, temperature


class NoteNoise:
    """A part's sampling noise, note by note: the six expressions' normals are the draws of
    ``np.random.default_rng(seed)``, so a rate-generating model samples the same six expressions
    from a seed as the six-output model it was grown from. A seventh output's (the vibrato rate)
    is one draw of a stream of its own for the whole part: a player keeps one rate through a
    piece (the corpus draws it per piece), so the notes' rates differ only by their means."""

    def __init__(self, seed: int):
        self._expressions = np.random.default_rng(seed)
        self._rate = np.random.default_rng([seed, 7]).standard_normal(1)

    def normals(self, n_outputs: int) -> np.ndarray:
        """float32 [n_outputs] standard normals for the next note."""
        z = self._expressions.standard_normal(CLIP_LOW.shape[0])
        if n_outputs > z.shape[0]:
            z = np.concatenate([z, self._rate])
        return z.astype(np.float32)


def sample_note(mean: np.ndarray, log_std: np.ndarray, rng: "NoteNoise | None",
                temperature: float) -> np.ndarray:
    """One note's expressions from the decoder's mean and log_std [6] (or [7]: the seventh the
    vibrato rate in ``rate_to_unit``'s unit): float32 [6] (or [7], same units)."""
    value = np.asarray(mean, np.float32)
    if rng is not None:
        z = rng.normals(value.shape[0])
        value = value + np.float32(temperature) * np.exp(np.asarray(log_std, np.float32)) * z
    low, high = (CLIP_LOW, CLIP_HIGH) if value.shape[0] == CLIP_LOW.shape[0] else _CLIP_WITH_RATE
    return np.clip(value, low, high).astype(np.float32)


def generated_values(values: np.ndarray) -> np.ndarray:
    """A decoding loop's values [n_notes, 6 or 7] as the generators return them: the seventh
    column (a rate-generating model's) from ``rate_to_unit``'s unit to Hz, in place."""
    if values.shape[1] > CLIP_LOW.shape[0]:
        values[:, CLIP_LOW.shape[0]] = unit_to_rate(values[:, CLIP_LOW.shape[0]])
    return values


def synthesis_noise(seed: int, n_frames: int, n_noise: int) -> np.ndarray:
    """The Synthesis Generator's noise input: float32 [n_frames, n_noise]."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ParameterError(f"seed must be an int; got {seed!r}")
    return np.random.default_rng(int(seed)).standard_normal((int(n_frames), int(n_noise)),
                                                            dtype=np.float32)


def chunk_windows(n_frames: int, *, chunk_frames: int, context: int, stride: int = 1
                  ) -> list[tuple[int, int, int, int]]:
    """(a, b, lo, hi) per chunk: output frames [a, b) are computed from input frames [lo, hi)
    (``context`` frames each side, lo on the stride's grid)."""
    if isinstance(chunk_frames, bool) or not isinstance(chunk_frames, (int, np.integer)) \
            or chunk_frames < 1:
        raise ParameterError(f"chunk_frames must be an int >= 1; got {chunk_frames!r}")
    out = []
    for a in range(0, int(n_frames), int(chunk_frames)):
        b = min(a + int(chunk_frames), int(n_frames))
        lo, hi = max(0, a - context), min(int(n_frames), b + context)
        lo -= lo % int(stride)   # keep the low-rate grid aligned to 0
        out.append((a, b, lo, hi))
    return out
