"""Monophonic melody lines from the music21 corpus (offline), with a per-work export cache.

Sources (DESIGN §6), each a *collection*:

* ``bach``: Bach chorales (``music21/corpus/bach``), every part a line (4 per chorale);
* ``essen``: Essen folk songs (``essenFolksong/*.abc``, one tune per ``X:`` entry);
* ``oneill``: O'Neill's 1850 fiddle tunes (``oneills1850/*.abc``, one tune per ``X:`` entry);
* ``ryan``: Ryan's Mammoth Collection (``ryansMammoth/*.abc``);
* ``palestrina``: Palestrina mass movements (``palestrina/*.krn``), every voice a line.

A *work* is one chorale / tune / movement; its id (``"bach/bwv1.6"``, ``"essen/altdeu10/X12"``)
decides its split (:func:`split_for_work`), so the voices of one chorale never land in two splits.

Lines are read straight from the music21 stream (no MIDI round trip, so the repeat-expansion
crash of ``write('midi')`` cannot happen): ties are merged, repeats are *not* expanded (each
written bar is played once), chords keep their top note, grace notes are dropped, and
overlapping voices inside one part are made monophonic (at equal onsets the highest note wins,
a note sounding into the next onset is cut there). Times are seconds at the collection's base
tempo (``BASE_SECONDS_PER_QUARTER``); the renderer scales the tempo further.

Parsing is slow (0.1-2 s per work), so :func:`export_melodies` parses only as many works as its
budget asks, in a process pool, and caches each work as a small JSON file under ``cache_dir``;
a later call with the same or a smaller budget reads the cache only.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from midi_ddsp.errors import ParameterError

__all__ = [
    "COLLECTIONS",
    "BASE_SECONDS_PER_QUARTER",
    "SPLIT_FRACTIONS",
    "MelodyLine",
    "WorkRef",
    "list_works",
    "split_for_work",
    "parse_work",
    "export_melodies",
    "lines_by_split",
]

logger = logging.getLogger(__name__)

COLLECTIONS: tuple[str, ...] = ("bach", "essen", "oneill", "ryan", "palestrina")

BASE_SECONDS_PER_QUARTER: dict[str, float] = {
    "bach": 0.75,        # chorale crotchet at 80 bpm
    "essen": 0.5,        # folk song crotchet at 120 bpm
    "oneill": 0.4,       # fiddle tunes: crotchet at 150 bpm (jig/reel quavers at 0.2 s)
    "ryan": 0.4,
    "palestrina": 0.5,   # minim (the tactus) at 60 bpm
}
"""Seconds per quarter length at the base tempo of each collection."""

SPLIT_FRACTIONS: dict[str, float] = {"train": 0.85, "valid": 0.075, "test": 0.075}
"""Share of works in each split (by hash of the work id, not of lines or notes)."""

_DEFAULT_SHARES: dict[str, float] = {"bach": 0.35, "essen": 0.2, "oneill": 0.15, "ryan": 0.15,
                                     "palestrina": 0.15}
"""Share of the work budget given to each collection by :func:`export_melodies`."""

_MIN_NOTES = 8          # lines with fewer notes are dropped
_MIN_DURATION_QL = 1e-3  # notes shorter than this (grace notes) are dropped
_CACHE_VERSION = 1
_TUNE_START = re.compile(r"^X:\s*(\d+)", re.MULTILINE)


@dataclasses.dataclass(frozen=True)
class WorkRef:
    """One source work to export.

    Attributes:
        work_id: unique id, ``"<collection>/<file stem>"`` or ``"<collection>/<file stem>/X<n>"``
            for one tune of a multi-tune abc file.
        collection: one of ``COLLECTIONS``.
        path: the corpus file.
        tune: the abc ``X:`` number inside a multi-tune file, else None.
    """

    work_id: str
    collection: str
    path: str
    tune: "int | None" = None


@dataclasses.dataclass
class MelodyLine:
    """One monophonic line of one work.

    Attributes:
        line_id: ``"<work_id>#<voice index>"``.
        work_id: the source work (the unit of the train/valid/test split).
        collection: one of ``COLLECTIONS``.
        notes: float32 [n_notes, 3]: written MIDI pitch, onset_s, offset_s at the base tempo;
            sorted, non-overlapping, the first onset at 0.
    """

    line_id: str
    work_id: str
    collection: str
    notes: np.ndarray

    @property
    def duration_s(self) -> float:
        return float(self.notes[-1, 2]) if len(self.notes) else 0.0

    @property
    def split(self) -> str:
        return split_for_work(self.work_id)

    def to_json(self) -> dict:
        return {"line_id": self.line_id, "work_id": self.work_id, "collection": self.collection,
                "notes": np.round(self.notes.astype(np.float64), 6).tolist()}

    @classmethod
    def from_json(cls, entry: dict) -> "MelodyLine":
        notes = np.asarray(entry["notes"], np.float32).reshape(-1, 3)
        return cls(entry["line_id"], entry["work_id"], entry["collection"], notes)


# --------------------------------------------------------------------------------------------
# listing and splitting
# --------------------------------------------------------------------------------------------
def _corpus_root() -> Path:
    import music21

    return Path(music21.__file__).parent / "corpus"


def _abc_tunes(path: Path) -> list[int]:
    text = path.read_text(encoding="latin-1")
    return [int(m.group(1)) for m in _TUNE_START.finditer(text)]


def list_works(collection: str) -> list[WorkRef]:
    """All works of one collection, in a fixed (sorted) order; reads files but parses nothing."""
    if collection not in COLLECTIONS:
        raise ParameterError(f"unknown collection {collection!r}; known: {', '.join(COLLECTIONS)}")
    root = _corpus_root()
    works: list[WorkRef] = []
    if collection == "bach":
        for path in sorted((root / "bach").glob("bwv*")):
            if path.suffix in (".mxl", ".xml", ".krn"):
                works.append(WorkRef(f"bach/{path.stem}", collection, str(path)))
    elif collection == "palestrina":
        for path in sorted((root / "palestrina").glob("*.krn")):
            works.append(WorkRef(f"palestrina/{path.stem}", collection, str(path)))
    else:
        folder = {"essen": "essenFolksong", "oneill": "oneills1850", "ryan": "ryansMammoth"}[collection]
        for path in sorted((root / folder).glob("*.abc")):
            if collection == "essen" and path.stem.startswith("test"):
                continue  # music21's own parser test files
            tunes = _abc_tunes(path)
            if len(tunes) <= 1:
                works.append(WorkRef(f"{collection}/{path.stem}", collection, str(path)))
            else:
                for tune in dict.fromkeys(tunes):  # unique, in file order
                    works.append(WorkRef(f"{collection}/{path.stem}/X{tune}", collection,
                                         str(path), tune))
    return works


def split_for_work(work_id: str) -> str:
    """``"train"``, ``"valid"`` or ``"test"`` for a work id: a hash, stable across runs and
    machines (md5 of the id mapped to [0, 1) against the cumulative ``SPLIT_FRACTIONS``)."""
    digest = hashlib.md5(str(work_id).encode("utf-8")).digest()
    u = int.from_bytes(digest[:8], "big") / 2.0 ** 64
    cumulative = 0.0
    for split, fraction in SPLIT_FRACTIONS.items():
        cumulative += fraction
        if u < cumulative:
            return split
    return "test"


# --------------------------------------------------------------------------------------------
# parsing
# --------------------------------------------------------------------------------------------
def _tune_text(path: str, tune: int) -> str:
    text = Path(path).read_text(encoding="latin-1")
    starts = [(m.start(), int(m.group(1))) for m in _TUNE_START.finditer(text)]
    for i, (pos, number) in enumerate(starts):
        if number == tune:
            end = starts[i + 1][0] if i + 1 < len(starts) else len(text)
            return text[pos:end]
    raise ParameterError(f"{path}: no tune X:{tune}")


def _monophonic(rows: list[tuple[float, float, int]]) -> np.ndarray:
    """(onset_ql, offset_ql, pitch) rows -> [n, 3] (pitch, onset, offset), monophonic."""
    if not rows:
        return np.zeros((0, 3))
    rows = sorted(rows, key=lambda r: (r[0], -r[2]))
    kept: list[list[float]] = []
    for onset, offset, pitch in rows:
        if kept and abs(kept[-1][1] - onset) < 1e-9:
            continue  # same onset: the highest note (sorted first) wins
        if kept and kept[-1][2] > onset:
            kept[-1][2] = onset
        kept.append([float(pitch), float(onset), float(offset)])
    return np.asarray(kept, np.float64).reshape(-1, 3)


def _stream_lines(stream) -> list[np.ndarray]:
    """Lines [n, 3] in quarter lengths, one per part of a parsed music21 stream."""
    from music21 import stream as m21stream

    parts = list(stream.parts) if hasattr(stream, "parts") and len(stream.parts) else [stream]
    lines = []
    for part in parts:
        try:
            part = part.stripTies()
        except Exception:  # noqa: BLE001 - malformed ties: use the part as written
            pass
        rows = []
        for element in part.flatten().notes:
            duration = float(element.duration.quarterLength)
            if duration < _MIN_DURATION_QL:
                continue
            if element.isChord:
                pitch = max(p.midi for p in element.pitches)
            else:
                pitch = element.pitch.midi
            onset = float(element.offset)
            rows.append((onset, onset + duration, int(pitch)))
        line = _monophonic(rows)
        if isinstance(part, m21stream.Stream) and line.shape[0] >= _MIN_NOTES:
            lines.append(line)
    return lines


def parse_work(work: WorkRef) -> list[MelodyLine]:
    """Parse one work into its monophonic lines (notes in seconds at the base tempo).

    Raises whatever music21 raises for a file it cannot read (``export_melodies`` logs and
    skips such works).
    """
    from music21 import converter

    if work.tune is not None:
        stream = converter.parse(_tune_text(work.path, work.tune), format="abc")
    else:
        stream = converter.parse(work.path)
    if hasattr(stream, "scores") and not hasattr(stream, "parts"):  # an Opus: first score
        stream = stream.scores[0]
    if type(stream).__name__ == "Opus":
        stream = stream.scores[0]
    seconds_per_ql = BASE_SECONDS_PER_QUARTER[work.collection]
    lines = []
    for voice, line in enumerate(_stream_lines(stream)):
        notes = line.copy()
        notes[:, 1:] -= notes[0, 1]
        notes[:, 1:] *= seconds_per_ql
        lines.append(MelodyLine(f"{work.work_id}#{voice}", work.work_id, work.collection,
                                notes.astype(np.float32)))
    return lines


# --------------------------------------------------------------------------------------------
# export with cache
# --------------------------------------------------------------------------------------------
def _cache_path(cache_dir: Path, work_id: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", work_id)
    return cache_dir / "works" / f"{safe}.json"


def _export_one(args: tuple[WorkRef, str]) -> tuple[str, "list[dict] | None", str]:
    work, cache_dir = args
    path = _cache_path(Path(cache_dir), work.work_id)
    if path.exists():
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            if entry.get("version") == _CACHE_VERSION:
                return work.work_id, entry["lines"], ""
        except (OSError, ValueError):
            pass
    try:
        lines = [line.to_json() for line in parse_work(work)]
        error = ""
    except Exception as exc:  # noqa: BLE001 - one unreadable work must not stop the export
        lines, error = [], f"{type(exc).__name__}: {exc}"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps({"version": _CACHE_VERSION, "work_id": work.work_id,
                               "lines": lines, "error": error}), encoding="utf-8")
    os.replace(tmp, path)
    return work.work_id, lines, error


def _select_works(budget: int, shares: dict[str, float], seed: int) -> list[WorkRef]:
    total = sum(shares.values())
    chosen: list[WorkRef] = []
    for collection in COLLECTIONS:
        share = shares.get(collection, 0.0)
        if share <= 0:
            continue
        works = list_works(collection)
        count = min(len(works), int(round(budget * share / total)))
        rng = np.random.default_rng([seed, COLLECTIONS.index(collection)])
        order = rng.permutation(len(works))[:count]
        chosen.extend(works[i] for i in sorted(order))
    return chosen


def export_melodies(cache_dir: "str | os.PathLike[str]", *, budget: int = 300,
                    shares: "dict[str, float] | None" = None, seed: int = 0, jobs: int = 2,
                    progress: bool = False) -> list[MelodyLine]:
    """Export monophonic lines of ``budget`` works (parsed in parallel, cached per work).

    Args:
        cache_dir: folder for the per-work JSON cache (created).
        budget: number of works to export, shared between collections by ``shares``.
        shares: collection -> relative share of the budget (default: bach 0.35, essen 0.2,
            oneill 0.15, ryan 0.15, palestrina 0.15).
        seed: which works of each collection are picked (a seeded permutation).
        jobs: parsing processes (1 = in this process).
        progress: show a tqdm bar.

    Returns:
        the lines of all exported works, sorted by line id (works that failed to parse are
        logged and left out).
    """
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 1:
        raise ParameterError(f"budget: expected a positive integer number of works, got {budget!r}")
    if isinstance(jobs, bool) or not isinstance(jobs, (int, np.integer)) or jobs < 1:
        raise ParameterError(f"jobs: expected a positive integer, got {jobs!r}")
    shares = dict(_DEFAULT_SHARES if shares is None else shares)
    unknown = set(shares) - set(COLLECTIONS)
    if unknown:
        raise ParameterError(f"shares: unknown collections {sorted(unknown)}; known: {COLLECTIONS}")
    cache_dir = Path(cache_dir)
    works = _select_works(int(budget), shares, seed)
    tasks = [(w, str(cache_dir)) for w in works]
    results = []
    if jobs == 1 or len(tasks) <= 1:
        iterator = map(_export_one, tasks)
        pool = None
    else:
        import multiprocessing

        pool = multiprocessing.get_context("spawn").Pool(int(jobs))
        iterator = pool.imap(_export_one, tasks, chunksize=4)
    try:
        if progress:
            from tqdm import tqdm

            iterator = tqdm(iterator, total=len(tasks), desc="melodies", unit="work")
        for work_id, lines, error in iterator:
            if error:
                logger.warning("skipping %s: %s", work_id, error)
            results.extend(MelodyLine.from_json(entry) for entry in (lines or []))
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    results.sort(key=lambda line: line.line_id)
    return results


def lines_by_split(lines: Sequence[MelodyLine]) -> dict[str, list[MelodyLine]]:
    """Group lines by the split of their work (keys ``train``, ``valid``, ``test``)."""
    out: dict[str, list[MelodyLine]] = {split: [] for split in SPLIT_FRACTIONS}
    for line in lines:
        out[line.split].append(line)
    return out

