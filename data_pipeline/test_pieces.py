"""Whole test pieces for the audio-domain evaluation: MIDI files at their real length.

Built from the test split of the melody export (works never seen in training; the split is by
work, ``melodies.split_for_work``), at constant velocity so that any change of level across a
piece is the renderer's:

* **solo**: for each instrument one piece of at least ``min_solo_s`` seconds: test lines of one
  collection played one after another (a medley, 1 s apart), transposed into the instrument's
  range (the whole-octave shift that puts the line's middle nearest the range's middle, then
  notes still outside folded by octaves);
* **ensemble**: test-split Bach chorales with four voices, played as a string quartet and as a
  wind quartet (flute, oboe, clarinet, bassoon), repeated (da capo) until at least
  ``min_ensemble_s`` long.

``write_test_pieces`` writes ``<out_dir>/<name>.mid`` and returns ``PieceSpec`` objects for
``midi_ddsp.audio_evaluation``.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from midi_ddsp.audio_evaluation import PieceSpec
from midi_ddsp.data_pipeline.melodies import export_melodies, lines_by_split
from midi_ddsp.errors import InputFileError
from midi_ddsp.instruments import INSTRUMENT_NAMES, get_instrument

__all__ = ["VELOCITY", "ENSEMBLES", "write_test_pieces"]

VELOCITY = 90
ENSEMBLES = {
    "string_quartet": ("violin", "violin", "viola", "cello"),
    "wind_quartet": ("flute", "oboe", "clarinet", "bassoon"),
}
_SOLO_COLLECTIONS = ("oneill", "ryan", "essen")


def _octave_shift(pitches: np.ndarray, instrument: str) -> int:
    inst = get_instrument(instrument)
    middle = (inst.lowest_midi + inst.highest_midi) / 2.0
    shifts = 12 * np.arange(-5, 6)
    fits = [s for s in shifts if pitches.min() + s >= inst.lowest_midi and pitches.max() + s <= inst.highest_midi]
    pool = fits or list(shifts)
    centre = (pitches.min() + pitches.max()) / 2.0
    return int(min(pool, key=lambda s: abs(centre + s - middle)))


def _write_midi(path: Path, parts: list) -> None:
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    for name, instrument, notes in parts:
        track = pretty_midi.Instrument(program=get_instrument(instrument).program, name=name)
        track.notes = [pretty_midi.Note(velocity=VELOCITY, pitch=int(p), start=float(a), end=float(b))
                       for p, a, b in notes]
        pm.instruments.append(track)
    pm.write(str(path))


def _fold_into_range(pitches: np.ndarray, instrument: str) -> np.ndarray:
    """Whole-octave shift that centres the line in the range, then outlying notes folded by
    octaves (so every note is playable)."""
    inst = get_instrument(instrument)
    p = pitches + _octave_shift(pitches, instrument)
    while (p < inst.lowest_midi).any():
        p = np.where(p < inst.lowest_midi, p + 12, p)
    while (p > inst.highest_midi).any():
        p = np.where(p > inst.highest_midi, p - 12, p)
    return p


def _solo_notes(lines, instrument: str, min_s: float) -> np.ndarray:
    """Lines one after another (1 s apart), cycling through them, until ``min_s`` is reached."""
    out, t, k = [], 0.5, 0
    while (float(out[-1][-1, 2]) if out else 0.0) < min_s and lines:
        notes = np.asarray(lines[k % len(lines)].notes, np.float64).copy()
        notes[:, 0] = _fold_into_range(notes[:, 0], instrument)
        notes[:, 1:] += t - notes[0, 1]
        out.append(notes)
        t = float(notes[-1, 2]) + 1.0
        k += 1
    return np.concatenate(out)


def write_test_pieces(out_dir: "str | os.PathLike[str]", *, cache_dir: "str | os.PathLike[str]",
                      instruments=INSTRUMENT_NAMES, min_solo_s: float = 60.0,
                      min_ensemble_s: float = 60.0, n_chorales: int = 1,
                      melody_budget: int = 300, seed: int = 0) -> list[PieceSpec]:
    """Write the test pieces (module docstring) and return their specs."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    test = lines_by_split(export_melodies(cache_dir, budget=melody_budget, seed=seed, jobs=1))["test"]
    if not test:
        raise InputFileError(cache_dir, "the melody export has no test-split lines to build "
                                        "test pieces from")
    rng = np.random.default_rng(seed)
    specs = []
    for k, instrument in enumerate(instruments):
        collection = _SOLO_COLLECTIONS[k % len(_SOLO_COLLECTIONS)]
        pool = [line for line in test if line.collection == collection] or test
        order = rng.permutation(len(pool))
        notes = _solo_notes([pool[i] for i in order], instrument, min_solo_s)
        name = f"solo_{instrument}"
        _write_midi(out_dir / f"{name}.mid", [(instrument, instrument, notes)])
        specs.append(PieceSpec(name, str(out_dir / f"{name}.mid"), "solo"))
    works: dict = {}
    for line in test:
        if line.collection == "bach":
            works.setdefault(line.work_id, []).append(line)
    chorales = [lines for _, lines in sorted(works.items()) if len(lines) == 4][:n_chorales]
    for c, lines in enumerate(chorales):
        for ensemble, members in ENSEMBLES.items():
            parts = []
            for v, (line, instrument) in enumerate(zip(lines, members)):
                notes = np.asarray(line.notes, np.float64).copy()
                length = max(float(line_.notes[-1, 2]) for line_ in lines) + 1.0
                repeats = int(np.ceil(min_ensemble_s / length))
                notes[:, 0] = _fold_into_range(notes[:, 0], instrument)
                tiled = np.concatenate([notes + [0.0, r * length, r * length] for r in range(repeats)])
                tiled[:, 1:] += 0.5
                parts.append((f"{instrument}_{v + 1}", instrument, tiled))
            name = f"chorale{c + 1}_{ensemble}"
            _write_midi(out_dir / f"{name}.mid", parts)
            specs.append(PieceSpec(name, str(out_dir / f"{name}.mid"), "ensemble"))
    return specs
