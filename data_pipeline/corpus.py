"""Build the rendered training corpus: melody lines x instruments -> analysed shards (DESIGN §6-7).

Layout of ``out_dir``::

    build.json          the settings of the build (a resumed build must use the same)
    manifest.jsonl      one record per finished job, in plan order
    shards/<job_id>.npz one shard per job (``midi_ddsp.shards`` format)

A *job* renders one line segment for one instrument with drawn expression
(``data_pipeline.render``), measures A-weighted loudness (``midi_ddsp.dsp.spectral``) and the
DDSP synthesis parameters with the ground-truth f0 (``midi_ddsp.analysis``), and writes one
shard atomically. Training jobs are stored whole when ``window_s <= 0`` (the default of the CLI), else cut into non-overlapping ``window_s`` windows (the last one
zero-padded to full length; windows without a voiced frame are dropped); valid/test jobs are
stored whole. The parent process appends the manifest records in plan order.

The plan is a pure function of the settings (seed, minutes, instruments, melody budget): each
instrument walks its own seeded permutation of the segments of each collection in each split,
taking the next segment from the collection furthest below its target share of the duration
(``_COLLECTION_SHARES``: bach 30 %, essen 20 %, O'Neill 15 %, Ryan 15 %, Palestrina 20 %), cycling
with a new variant number when a collection's pool is exhausted, until the target minutes
(estimated at the base tempo) are reached. Every job has its own seed, so shards are identical
whatever the number of processes or interruptions. Resuming after a kill skips jobs whose
record is in the manifest, turns shards written but not yet recorded into records without
re-rendering, drops a torn last manifest line and removes leftover temporary files.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from midi_ddsp.config import DEFAULT_SIGNAL_CONFIG
from midi_ddsp.data_pipeline import melodies
from midi_ddsp.data_pipeline.shard_builder import window_note_marks, window_notes
from midi_ddsp.engines import WorkerLost, check_engine, run_tasks
from midi_ddsp.errors import MidiDDSPError, ParameterError
from midi_ddsp.instruments import INSTRUMENT_NAMES, get_instrument
from midi_ddsp.shards import Example, append_manifest, read_manifest, read_shard, write_shard

__all__ = ["FORMAT_VERSION", "CORPUS_VERSION", "DEFAULT_MINUTES", "Job", "segment_lines", "plan_jobs", "run_job",
           "build_corpus", "BuildSummary"]

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
CORPUS_VERSION = 4
"""4: as 3, with written score marks (dynamics, wedges, articulations, slurs, fermatas) drawn for
``performance.MARKED_SHARE`` of the phrased lines, played by the performance and stored per note
(``Example.note_marks``). 3: as 2, with the written rests of phrased lines kept (2 held phrased notes to the next onset).
2: expression drawn by the rule-based performance model (``data_pipeline.performance``) for
``render.PHRASED_SHARE`` of the lines, the rest independently per note (version 1: all
independent, with a level random walk that drifted to the clip); ``window_s <= 0`` stores
training segments whole."""
DEFAULT_MINUTES: dict[str, float] = {"train": 45.0, "valid": 4.0, "test": 4.0}

_SPLITS = ("train", "valid", "test")
_MAX_SEGMENT_S = 40.0     # segments longer than this (base tempo) are cut at a note boundary
_MAX_REST_S = 2.0         # a rest longer than this (base tempo) starts a new segment
_MIN_SEGMENT_NOTES = 6
_OVERHEAD_S = 0.6         # lead-in + release tail added by the renderer (for the plan estimate)
_DEFAULT_BUDGET = 300
_COLLECTION_SHARES = {"bach": 0.3, "essen": 0.2, "oneill": 0.15, "ryan": 0.15, "palestrina": 0.2}
"""Target share of each collection in the audio of every instrument and split."""


@dataclasses.dataclass(frozen=True)
class Job:
    """One planned rendering.

    Attributes:
        job_id: ``"<split>-<instrument>-<index:05d>"``; also the shard file stem.
        split, instrument: where it goes.
        segment_id: ``"<line_id>@<segment index>"``.
        work_id, collection: the source work.
        variant: how many times this instrument already used the segment in this split.
        seed: the render seed (derived from the build seed and the job id).
        notes: the segment, tuple of (pitch, onset_s, offset_s) at the base tempo.
    """

    job_id: str
    split: str
    instrument: str
    segment_id: str
    work_id: str
    collection: str
    variant: int
    seed: int
    notes: tuple

    @property
    def estimated_s(self) -> float:
        return float(self.notes[-1][2] - self.notes[0][1]) + _OVERHEAD_S


@dataclasses.dataclass
class BuildSummary:
    """What ``build_corpus`` did.

    Attributes:
        out_dir: the corpus folder.
        n_jobs: jobs in the plan; n_done_before: already done when the call started.
        n_rendered: rendered in this call; seconds: wall-clock seconds of this call.
        audio_s: seconds of audio rendered in this call.
    """

    out_dir: str
    n_jobs: int
    n_done_before: int
    n_rendered: int
    seconds: float
    audio_s: float

    @property
    def realtime_factor(self) -> float:
        return self.audio_s / self.seconds if self.seconds > 0 else float("inf")


# --------------------------------------------------------------------------------------------
# planning
# --------------------------------------------------------------------------------------------
def segment_lines(lines: Sequence[melodies.MelodyLine]) -> list[tuple[str, melodies.MelodyLine, np.ndarray]]:
    """Cut lines at long rests and to at most ``_MAX_SEGMENT_S``: (segment_id, line, notes) rows."""
    out = []
    for line in lines:
        notes = np.asarray(line.notes, np.float64)
        pieces, start = [], 0
        for i in range(1, len(notes) + 1):
            end_here = i == len(notes)
            if not end_here:
                gap = notes[i, 1] - notes[i - 1, 2]
                too_long = notes[i, 2] - notes[start, 1] > _MAX_SEGMENT_S
                end_here = gap > _MAX_REST_S or too_long
            if end_here:
                pieces.append(notes[start:i])
                start = i
        for k, piece in enumerate(p for p in pieces if len(p) >= _MIN_SEGMENT_NOTES):
            piece = piece.copy()
            piece[:, 1:] -= piece[0, 1]
            out.append((f"{line.line_id}@{k}", line, piece))
    return out


def _job_seed(seed: int, job_id: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{job_id}".encode()).digest()[:4], "big")


def plan_jobs(lines: Sequence[melodies.MelodyLine], *, seed: int = 0,
              minutes_per_instrument: "dict[str, float] | None" = None,
              instruments: "Sequence[str] | None" = None) -> list[Job]:
    """The deterministic job list: per instrument and split, segments of that split's works in a
    seeded order until the split's minutes are reached (estimated at the base tempo)."""
    minutes = dict(DEFAULT_MINUTES if minutes_per_instrument is None else minutes_per_instrument)
    names = [get_instrument(n).name for n in (INSTRUMENT_NAMES if instruments is None else instruments)]
    segments = segment_lines(lines)
    pools = {split: [s for s in segments if melodies.split_for_work(s[1].work_id) == split]
             for split in _SPLITS}
    jobs: list[Job] = []
    for name in names:
        inst = get_instrument(name)
        for s_index, split in enumerate(_SPLITS):
            target_s = 60.0 * float(minutes.get(split, 0.0))
            pool = pools[split]
            if target_s <= 0:
                continue
            if not pool:
                logger.warning("no melody lines in split %s: nothing planned for %s", split, name)
                continue
            rng = np.random.default_rng([seed, inst.index, s_index])
            # one seeded order per collection; the next segment comes from the collection
            # furthest below its share of the duration so far (Palestrina's long voices would
            # otherwise fill most of the corpus)
            by_collection = {}
            for seg in pool:
                by_collection.setdefault(seg[1].collection, []).append(seg)
            names_c = sorted(by_collection, key=lambda c: melodies.COLLECTIONS.index(c)
                             if c in melodies.COLLECTIONS else len(melodies.COLLECTIONS))
            orders = {c: rng.permutation(len(by_collection[c])) for c in names_c}
            used = {c: 0 for c in names_c}
            filled = {c: 0.0 for c in names_c}
            total, k = 0.0, 0
            while total < target_s:
                c = min(names_c, key=lambda c: (filled[c] / _COLLECTION_SHARES.get(c, 0.1),
                                                names_c.index(c)))
                members = by_collection[c]
                seg_id, line, notes = members[orders[c][used[c] % len(members)]]
                job_id = f"{split}-{name}-{k:05d}"
                job = Job(job_id, split, name, seg_id, line.work_id, line.collection,
                          used[c] // len(members), _job_seed(seed, job_id),
                          tuple(tuple(float(v) for v in row[:3]) for row in notes))
                jobs.append(job)
                used[c] += 1
                filled[c] += job.estimated_s
                total += job.estimated_s
                k += 1
    return jobs


# --------------------------------------------------------------------------------------------
# one job
# --------------------------------------------------------------------------------------------
def _examples_for_job(job: Job, *, window_s: float) -> list[Example]:
    import torch

    from midi_ddsp.analysis import analyse_audio
    from midi_ddsp.data_pipeline.render import render_line
    from midi_ddsp.dsp.spectral import a_weighted_loudness_db

    torch.set_num_threads(1)
    cfg = DEFAULT_SIGNAL_CONFIG
    rendering = render_line(np.asarray(job.notes, np.float64), job.instrument, seed=job.seed,
                            sample_rate=cfg.sample_rate, frame_rate=cfg.frame_rate)
    audio = rendering.audio
    hop = cfg.hop_size
    loudness = np.asarray(a_weighted_loudness_db(audio, sample_rate=cfg.sample_rate,
                                                 frame_rate=cfg.frame_rate), np.float32)
    params = analyse_audio(audio, rendering.f0_hz, sample_rate=cfg.sample_rate,
                           frame_rate=cfg.frame_rate, n_harmonics=cfg.n_harmonics,
                           n_noise_bands=cfg.n_noise_bands)
    frames = {"f0_hz": rendering.f0_hz, "f0_confidence": rendering.f0_confidence,
              "loudness_db": loudness, "amplitude": params.amplitude,
              "harmonic_distribution": params.harmonic_distribution,
              "noise_magnitudes": params.noise_magnitudes}
    n_frames = rendering.f0_hz.shape[0]

    def make(example_id, a, b):
        def cut(x):
            part = x[a:min(b, n_frames)]
            if b > n_frames:  # zero-pad the last window
                pad = np.zeros((b - n_frames,) + part.shape[1:], part.dtype)
                if part.ndim == 2 and x is frames["harmonic_distribution"]:
                    pad[:] = 1.0 / part.shape[1]
                if x is frames["loudness_db"]:
                    pad[:] = float(loudness.min())
                part = np.concatenate([part, pad])
            return part

        audio_part = audio[a * hop:min(b, n_frames) * hop]
        if b > n_frames:
            audio_part = np.concatenate([audio_part, np.zeros((b - n_frames) * hop, np.float32)])
        return Example(
            example_id=example_id, instrument=job.instrument, split=job.split, source=job.work_id,
            audio=audio_part, notes=window_notes(rendering.notes, a / cfg.frame_rate, b / cfg.frame_rate),
            note_marks=window_note_marks(rendering.notes, rendering.note_marks, a / cfg.frame_rate,
                                         b / cfg.frame_rate),
            controls={name: cut(curve) for name, curve in rendering.controls.items()},
            **{name: cut(value) for name, value in frames.items()})

    if job.split != "train" or window_s <= 0:
        return [make(job.job_id, 0, n_frames)]
    win = int(round(window_s * cfg.frame_rate))
    examples = []
    for w, a in enumerate(range(0, n_frames, win)):
        if not np.any(rendering.f0_hz[a:a + win] > 0):
            continue
        examples.append(make(f"{job.job_id}-w{w:03d}", a, a + win))
    return examples


def _record(job: Job, examples: Sequence[Example], shard_rel: str) -> dict:
    frame_rate = DEFAULT_SIGNAL_CONFIG.frame_rate
    return {
        "job_id": job.job_id, "shard": shard_rel, "split": job.split,
        "instrument": job.instrument, "source": job.work_id, "collection": job.collection,
        "segment_id": job.segment_id, "variant": job.variant, "seed": job.seed,
        "n_examples": len(examples),
        "n_frames": int(sum(ex.n_frames for ex in examples)),
        "duration_s": round(sum(ex.n_frames for ex in examples) / frame_rate, 3),
        "voiced_s": round(sum(int((ex.f0_hz > 0).sum()) for ex in examples) / frame_rate, 3),
        "n_notes": int(len(job.notes)),
    }


def run_job(job: Job, out_dir: "str | os.PathLike[str]", *, window_s: float = 0.0) -> dict:
    """Render, analyse and write the shard of one job; returns its manifest record."""
    out_dir = Path(out_dir)
    shard_rel = f"shards/{job.job_id}.npz"
    examples = _examples_for_job(job, window_s=window_s)
    write_shard(out_dir / shard_rel, examples)
    return _record(job, examples, shard_rel)


def _worker_init() -> None:
    """Per-worker state of the build: none; one torch thread per worker."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)


def _run_job_task(_state, args) -> dict:
    job, out_dir, window_s = args
    return run_job(job, out_dir, window_s=window_s)


# --------------------------------------------------------------------------------------------
# the build
# --------------------------------------------------------------------------------------------
def _settings(seed, minutes, instruments, window_s, melody_budget) -> dict:
    from midi_ddsp.data_pipeline.render import PHRASED_SHARE

    return {"format_version": FORMAT_VERSION, "corpus_version": CORPUS_VERSION,
            "phrased_share": PHRASED_SHARE, "seed": int(seed),
            "minutes_per_instrument": {k: float(v) for k, v in sorted(minutes.items())},
            "instruments": list(instruments), "window_s": float(window_s),
            "melody_budget": int(melody_budget),
            "signal_config": DEFAULT_SIGNAL_CONFIG.to_dict()}


def _clean(out_dir: Path, manifest_path: Path) -> list[dict]:
    """Remove leftover temp files and a torn manifest line; return the complete records."""
    for folder in (out_dir, out_dir / "shards"):
        if folder.is_dir():
            for tmp in folder.glob(".*.tmp-*"):
                tmp.unlink(missing_ok=True)
    records = read_manifest(manifest_path)
    if manifest_path.exists():
        text = manifest_path.read_text(encoding="utf-8")
        expected = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
        if text != expected:  # torn or garbled line from a kill: rewrite atomically
            tmp = manifest_path.with_name(f".{manifest_path.name}.tmp-{os.getpid()}")
            tmp.write_text(expected, encoding="utf-8")
            os.replace(tmp, manifest_path)
    return records


def build_corpus(out_dir: "str | os.PathLike[str]", *, seed: int = 0,
                 minutes_per_instrument: "dict[str, float] | None" = None,
                 instruments: "Sequence[str] | None" = None, jobs: int = 2, window_s: float = 0.0,
                 cache_dir: "str | os.PathLike[str] | None" = None,
                 melody_budget: int = _DEFAULT_BUDGET, progress: bool = True,
                 engine: str = "local", ray_address: "str | None" = None) -> BuildSummary:
    """Build (or resume) a rendered corpus in ``out_dir``.

    Args:
        out_dir: corpus folder (created); see the module docstring for its layout.
        seed: seed of the plan and of every render; same seed -> identical shards.
        minutes_per_instrument: split -> minutes of audio per instrument (estimated at the
            base tempo; default train 45, valid 4, test 4).
        instruments: instrument names (default: all 13).
        jobs: workers (processes, or Ray actors; local 1 = run in this process).
        engine: ``"local"`` (process pool) or ``"ray"`` (``midi_ddsp.engines``).
        ray_address: an existing Ray cluster for ``engine="ray"`` (default: start a local one).
        window_s: length of the training windows in seconds (valid/test stay whole).
        cache_dir: melody export cache (default ``out_dir/melody_cache``).
        melody_budget: number of music21 works to export.
        progress: show tqdm bars.

    Returns:
        a ``BuildSummary``.

    Raises:
        ParameterError: bad settings, or ``out_dir`` holds a build with other settings.
    """
    t_start = time.monotonic()
    minutes = dict(DEFAULT_MINUTES if minutes_per_instrument is None else minutes_per_instrument)
    bad = set(minutes) - set(_SPLITS)
    if bad or any(not np.isfinite(v) or v < 0 for v in minutes.values()):
        raise ParameterError(f"minutes_per_instrument: expected non-negative minutes for "
                             f"{_SPLITS}, got {minutes_per_instrument!r}")
    names = [get_instrument(n).name for n in (INSTRUMENT_NAMES if instruments is None else instruments)]
    if isinstance(jobs, bool) or not isinstance(jobs, (int, np.integer)) or jobs < 1:
        raise ParameterError(f"jobs: expected a positive integer, got {jobs!r}")
    check_engine(engine, jobs=int(jobs))
    if not (isinstance(window_s, (int, float)) and np.isfinite(window_s) and window_s >= 0):
        raise ParameterError(f"window_s: expected seconds >= 0 (0 = whole segments), got {window_s!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "shards").mkdir(exist_ok=True)
    settings = _settings(seed, minutes, names, window_s, melody_budget)
    settings_path = out_dir / "build.json"
    if settings_path.exists():
        old = json.loads(settings_path.read_text(encoding="utf-8"))
        if old != settings:
            raise ParameterError(f"{out_dir} holds a build with other settings ({old}); "
                                 "use a new folder or the same settings")
    else:
        tmp = settings_path.with_name(f".{settings_path.name}.tmp-{os.getpid()}")
        tmp.write_text(json.dumps(settings, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, settings_path)

    cache = Path(cache_dir) if cache_dir is not None else out_dir / "melody_cache"
    lines = melodies.export_melodies(cache, budget=melody_budget, seed=seed, jobs=jobs,
                                     progress=progress)
    plan = plan_jobs(lines, seed=seed, minutes_per_instrument=minutes, instruments=names)
    manifest_path = out_dir / "manifest.jsonl"
    records = _clean(out_dir, manifest_path)
    done = {r["job_id"] for r in records}
    plan_ids = [j.job_id for j in plan]
    if any(r["job_id"] not in set(plan_ids) for r in records):
        raise ParameterError(f"{manifest_path} has records of jobs outside this plan")
    todo = [j for j in plan if j.job_id not in done]
    n_done_before = len(plan) - len(todo)
    logger.info("corpus plan: %d jobs (%d done before), %d lines", len(plan), n_done_before, len(lines))

    # shards written but not yet recorded (killed between write and append): read, don't redo
    def ready(job: Job) -> "dict | None":
        shard = out_dir / "shards" / f"{job.job_id}.npz"
        if not shard.exists():
            return None
        try:
            return _record(job, read_shard(shard), f"shards/{job.job_id}.npz")
        except Exception:  # noqa: BLE001 - unreadable: render again
            shard.unlink(missing_ok=True)
            return None

    pre = {j.job_id: ready(j) for j in todo}
    to_render = [j for j in todo if pre[j.job_id] is None]
    args = [(j, str(out_dir), float(window_s)) for j in to_render]
    outcomes = run_tasks(_run_job_task, args, init=_worker_init, engine=engine,
                         jobs=min(int(jobs), max(1, len(args))), address=ray_address)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), desc="corpus", unit="job")
    audio_s = 0.0
    rendered: dict[str, dict] = {}
    next_job = 0

    def flush() -> None:  # plan order: the manifest never depends on timing
        nonlocal next_job, audio_s
        while next_job < len(todo):
            job = todo[next_job]
            record = pre[job.job_id] if pre[job.job_id] is not None else rendered.pop(job.job_id, None)
            if record is None:
                return
            if pre[job.job_id] is None:
                audio_s += record["duration_s"]
            append_manifest(manifest_path, record)
            next_job += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(x_realtime=f"{audio_s / max(time.monotonic() - t_start, 1e-9):.0f}")

    try:
        flush()
        for index, record in outcomes:
            if isinstance(record, WorkerLost):
                raise MidiDDSPError(f"corpus job {to_render[index].job_id}: {record.reason} "
                                    f"{record.attempts} times; rerun the same command to resume")
            rendered[record["job_id"]] = record
            flush()
    finally:
        if bar is not None:
            bar.close()
    seconds = time.monotonic() - t_start
    summary = BuildSummary(str(out_dir), len(plan), n_done_before, len(to_render), seconds, audio_s)
    logger.info("corpus: %d jobs rendered in %.0f s (%.0fx real time)", summary.n_rendered,
                seconds, summary.realtime_factor)
    return summary
