"""Batch rendering of many score files: one output folder per file plus a manifest.

``render_dataset(inputs, output_root, ...)`` renders every score file (folders are searched
recursively for .mid/.midi/.musicxml/.xml/.mxl/.krn/.abc) into ``output_root/<relative path
without extension>/`` with ``midi_ddsp.results.write_result`` and writes
``output_root/manifest.jsonl``: one JSON object per input file with ``file``, ``output_dir``,
``status`` (``ok`` / ``skipped`` / ``failed``), ``error``, ``parts``, ``instruments``,
``duration_s``, ``seed``, ``options`` and ``render_s``.

- Parallel: ``jobs`` workers, local processes (spawned) or Ray actors (``engine="ray"``,
  ``midi_ddsp.engines``); each loads the models once and gets its share of the threads. A
  worker that dies is replaced and its file tried again.
- Augmentation (``augmentation=midi_ddsp.augmentation.Augmentation(...)``): per file, drawn
  instruments, tempo, onset jitter, temperature, expression seed, pitch offset and reverb. What
  each file was rendered with (drawn or given) is its ``render_options``: in its metadata.json
  and its manifest row (``options``), and ``render_from_manifest`` renders a dataset again from
  them, bit-identically.
- Resumable: a file whose folder already holds ``metadata.json`` is skipped when
  ``skip_existing``; folders are written under a temporary name and renamed when complete, so
  a half-written folder never carries the final name.
- A file that fails is recorded (one line, also logged as a warning) and the run carries on;
  ``BatchReport.n_failed`` says whether any failed.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from midi_ddsp.augmentation import Augmentation, jitter_onsets
from midi_ddsp.dsp.rooms import reverb_preset
from midi_ddsp.engines import WorkerLost, check_engine, run_tasks
from midi_ddsp.errors import InputFileError, MidiDDSPError, ParameterError
from midi_ddsp.expression import check_temperature
from midi_ddsp.mixing import normalize_mode
from midi_ddsp.score import SCORE_EXTENSIONS, load_score

__all__ = [
    "MANIFEST_NAME",
    "BatchItem",
    "BatchReport",
    "find_score_files",
    "plan_outputs",
    "check_output_root",
    "render_dataset",
    "render_from_manifest",
]

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.jsonl"
_METADATA_NAME = "metadata.json"
_MANIFEST_EVERY_S = 5.0  # rewrite the manifest at most this often while running


@dataclasses.dataclass(frozen=True)
class BatchItem:
    """One input file and the folder its outputs go to."""

    source: str
    output_dir: str


@dataclasses.dataclass
class BatchReport:
    """What a batch run did.

    Attributes:
        rows: one manifest row (dict) per input file, in input order.
        manifest_path: the manifest written at the output root.
    """

    rows: list[dict]
    manifest_path: str

    def _count(self, status: str) -> int:
        return sum(1 for r in self.rows if r["status"] == status)

    @property
    def n_ok(self) -> int:
        return self._count("ok")

    @property
    def n_skipped(self) -> int:
        return self._count("skipped")

    @property
    def n_failed(self) -> int:
        return self._count("failed")


def find_score_files(inputs: "Iterable[str | os.PathLike[str]]") -> list[tuple[str, str]]:
    """Expand inputs into score files.

    Args:
        inputs: files and folders; folders are searched recursively for ``SCORE_EXTENSIONS``
            (hidden files and folders skipped), in sorted order.

    Returns:
        ``(path, relative name)`` pairs: the relative name is the path below the folder it was
        found in (for a file given directly, its base name). Paths that do not exist are kept
        (they fail when rendered, with a clear error), so nothing the user named is dropped.

    Raises:
        InputFileError: a folder that holds no score files.
    """
    found: list[tuple[str, str]] = []
    for item in inputs:
        path = os.fspath(item)
        if os.path.isdir(path):
            before = len(found)
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if name.startswith(".") or os.path.splitext(name)[1].lower() not in SCORE_EXTENSIONS:
                        continue
                    full = os.path.join(root, name)
                    found.append((full, os.path.relpath(full, path)))
            if len(found) == before:
                raise InputFileError(path, "folder contains no score files "
                                           f"({', '.join(SCORE_EXTENSIONS)})")
        else:
            found.append((path, os.path.basename(path)))
    return found


def plan_outputs(files: Sequence[tuple[str, str]], output_root: "str | os.PathLike[str]"
                 ) -> list[BatchItem]:
    """One output folder per file: ``output_root/<relative name without extension>``; names that
    collide (``a.mid`` and ``a.mxl``, or the same name from two folders) get ``_2``, ``_3``..."""
    root = Path(output_root)
    used: dict[str, int] = {}
    items = []
    for source, rel in files:
        stem = os.path.splitext(rel)[0] or "score"
        key = stem.lower()
        if key in used:
            used[key] += 1
            stem = f"{stem}_{used[key]}"
        else:
            used[key] = 1
        items.append(BatchItem(source=source, output_dir=str(root / stem)))
    return items


def check_output_root(output_root: "str | os.PathLike[str]") -> str:
    """Create the output root if needed and check that files can be written there.

    Raises:
        InputFileError: the folder cannot be created or written (names it).
    """
    root = os.fspath(output_root)
    try:
        os.makedirs(root, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=root)
        os.close(fd)
        os.remove(probe)
    except OSError as exc:
        raise InputFileError(root, f"output folder cannot be written ({exc.strerror or exc})") from None
    return root


def _done(item: BatchItem) -> "dict | None":
    meta_path = os.path.join(item.output_dir, _METADATA_NAME)
    if not os.path.isfile(meta_path):
        return None
    try:
        with open(meta_path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _row(item: BatchItem, *, status: str, error: str = "", metadata: "Mapping | None" = None,
         render_s: "float | None" = None, seed: "int | None" = None) -> dict:
    meta = metadata or {}
    parts = meta.get("parts", [])
    return {
        "file": item.source,
        "output_dir": item.output_dir,
        "status": status,
        "error": error,
        "parts": [p["name"] for p in parts],
        "instruments": [p.get("instrument") or (f"fluidsynth:{p.get('program')}") for p in parts],
        "skipped_parts": [p["name"] for p in meta.get("skipped_parts", [])],
        "duration_s": meta.get("duration_s"),
        "seed": meta.get("settings", {}).get("seed", seed),
        "options": meta.get("render_options"),
        "render_s": None if render_s is None else round(render_s, 3),
    }


def _write_manifest(root: str, rows: Sequence[dict]) -> str:
    path = os.path.join(root, MANIFEST_NAME)
    fd, tmp = tempfile.mkstemp(prefix=".manifest-", suffix=".jsonl", dir=root)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


# --------------------------------------------------------------------------------------------
# Rendering one file (in this process or in a worker)

# what a file's render options may hold besides synthesize_midi's own (see Augmentation.draw)
_JITTER_KEYS = ("timing_jitter_ms", "jitter_seed")
_INFO_KEYS = ("ensemble",)
_WRITE_KEYS = ("save_params", "plot", "subtype")
_RUN_KEYS = _WRITE_KEYS + ("progress",)   # how the run goes, not what a file sounds like


@dataclasses.dataclass(frozen=True)
class _Job:
    """One file to render: where it goes, the options of the run, and either the augmentation to
    draw from or (re-rendering from a manifest) the options it was rendered with."""

    item: BatchItem
    key: str
    options: dict
    augmentation: "Augmentation | None" = None
    recorded: "dict | None" = None


class _OneLine(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {' '.join(record.getMessage().split())}"


def _worker_models(models, threads: "int | None", log_level: "int | None"):
    """Per-worker state: the models (in a worker process, also its share of the threads and
    one-line logs)."""
    if threads is not None:
        models.limit_threads(threads)
    if log_level is not None:
        handler = logging.StreamHandler()
        handler.setFormatter(_OneLine())
        root = logging.getLogger()
        root.handlers[:] = [handler]
        root.setLevel(log_level)
    return models


def _render_options(job: _Job, score) -> dict:
    """The options this file is rendered with: the run's, overridden by what was drawn (or
    recorded)."""
    drawn = job.recorded
    if drawn is None:
        drawn = job.augmentation.draw(job.key, score) if job.augmentation is not None else {}
    synth = {k: v for k, v in job.options.items() if k not in _RUN_KEYS}
    return dict(synth, **drawn)


def _render_one(models, job: _Job) -> tuple[str, str, "dict | None", float]:
    """Render and write one file; returns (status, error, metadata, seconds). Never raises for
    problems with the file."""
    from midi_ddsp.pipeline import synthesize_midi
    from midi_ddsp.results import write_result

    t0 = time.perf_counter()
    item = job.item
    write_opts = {k: job.options[k] for k in _WRITE_KEYS if k in job.options}
    try:
        score = load_score(item.source)
        options = _render_options(job, score)
        synth = {k: v for k, v in options.items() if k not in _JITTER_KEYS + _INFO_KEYS}
        if options.get("timing_jitter_ms"):
            score = jitter_onsets(score, timing_jitter_ms=options["timing_jitter_ms"],
                                  jitter_seed=options["jitter_seed"])
        result = synthesize_midi(score, models=models, progress=job.options.get("progress", False),
                                 **synth)
        metadata = write_result(result, item.output_dir, **write_opts,
                                extra_metadata={"source_file": item.source,
                                                "render_options": _options_to_json(options)})
        return "ok", "", _slim(metadata), time.perf_counter() - t0
    except MidiDDSPError as exc:
        message = str(exc)
        if item.source not in message:
            message = f"{item.source}: {message}"
        return "failed", message, None, time.perf_counter() - t0
    except MemoryError:
        return "failed", f"{item.source}: out of memory", None, time.perf_counter() - t0
    except Exception as exc:  # a bug or an unforeseen library error: record it, carry on
        logger.debug("%s", traceback.format_exc())
        return ("failed", f"{item.source}: unexpected {type(exc).__name__}: "
                f"{' '.join(str(exc).split())[:200]}", None, time.perf_counter() - t0)


def _options_to_json(options: Mapping) -> dict:
    """Render options as JSON: ``instruments`` as [key, spec] pairs (track numbers stay ints)."""
    out = {k: v for k, v in options.items() if k != "instruments"}
    if options.get("instruments") is not None:
        out["instruments"] = [[k, v] for k, v in dict(options["instruments"]).items()]
    return out


def _options_from_json(options: Mapping) -> dict:
    out = dict(options)
    if out.get("instruments") is not None:
        out["instruments"] = {k: v for k, v in out["instruments"]}
    return out


def _slim(metadata: Mapping) -> dict:
    """Just what the manifest needs (keeps inter-process traffic small)."""
    return {"parts": [{"name": p["name"], "instrument": p.get("instrument"), "program": p.get("program")}
                      for p in metadata.get("parts", [])],
            "skipped_parts": [{"name": p["name"]} for p in metadata.get("skipped_parts", [])],
            "duration_s": metadata.get("duration_s"),
            "settings": {"seed": metadata.get("settings", {}).get("seed")},
            "render_options": metadata.get("render_options")}


def _check_options(options: dict) -> dict:
    """Bad options fail once, before any file, not once per file."""
    if "normalize" in options:
        options["normalize"] = normalize_mode(options["normalize"])
    if "temperature" in options:
        options["temperature"] = check_temperature(options["temperature"])
    if "reverb" in options:
        options["reverb"] = reverb_preset(options["reverb"]).name
    return options


def render_dataset(inputs: "Iterable[str | os.PathLike[str]]", output_root: "str | os.PathLike[str]",
                   *, models=None, jobs: int = 1, engine: str = "local",
                   ray_address: "str | None" = None,
                   augmentation: "Augmentation | None" = None, skip_existing: bool = True,
                   save_params: bool = True, plot: bool = False, subtype: str = "PCM_16",
                   progress: bool = False, **synthesis_options: Any) -> BatchReport:
    """Render score files (or folders of them) into one folder each, plus a manifest.

    Args:
        inputs: score files and/or folders (searched recursively).
        output_root: where the per-file folders and ``manifest.jsonl`` go (created if needed).
        models: a ``midi_ddsp.MidiDDSP`` (default: the shipped checkpoints).
        jobs: workers; with the local engine 1 renders in this process.
        engine: ``"local"`` (process pool) or ``"ray"`` (Ray actors; ``pip install
            'midi_ddsp[ray]'``); the same files, folders, manifest and audio either way.
        ray_address: with ``engine="ray"``, a running cluster (default: start a local Ray).
        augmentation: what to draw per file (``midi_ddsp.augmentation.Augmentation``); drawn
            values override ``synthesis_options``.
        skip_existing: skip files whose output folder is complete (resume an interrupted run).
        save_params: write per-part ``params/*.npz`` (expressions + synthesis parameters).
        plot: write a PNG per part.
        subtype: WAV sample format (``"PCM_16"`` or ``"FLOAT"``).
        progress: show a progress bar over files.
        **synthesis_options: passed to ``synthesize_midi`` (instruments, pitch_offset,
            speed_rate, seed, sample_rate, use_fluidsynth, sf2_path, normalize, ...).
            ``normalize`` (``"loudness"`` by default, ``"peak"``, ``"none"``; see
            ``midi_ddsp.mixing.mix_stems``) levels each file's mix on its own; the mode and the
            gain applied are in each folder's metadata.json under ``"mix"``.

    Returns:
        A ``BatchReport`` (rows in input order; also written to ``manifest.jsonl``).

    Raises:
        InputFileError: the output root cannot be written, or a folder holds no score files.
        ParameterError: bad ``jobs``, ``engine`` or option values. CheckpointError: the default
            models cannot be loaded.
        Problems with single files never raise: they are recorded as ``failed`` rows.
    """
    check_engine(engine, jobs=jobs)
    if augmentation is not None and not isinstance(augmentation, Augmentation):
        raise ParameterError(f"augmentation must be an Augmentation, got {type(augmentation).__name__}")
    options = dict(_check_options(dict(synthesis_options)), save_params=save_params, plot=plot,
                   subtype=subtype)
    root = check_output_root(output_root)
    files = find_score_files(inputs)
    items = plan_outputs(files, root)
    work = [_Job(item, key=os.path.relpath(item.output_dir, root), options=options,
                  augmentation=augmentation if augmentation is not None and augmentation.active
                  else None) for item in items]
    return _run(work, root, models=models, jobs=jobs, engine=engine, ray_address=ray_address,
                skip_existing=skip_existing, progress=progress)


def render_from_manifest(manifest: "str | os.PathLike[str]", output_root: "str | os.PathLike[str]",
                         *, models=None, jobs: int = 1, engine: str = "local",
                         ray_address: "str | None" = None, skip_existing: bool = True,
                         save_params: bool = True, plot: bool = False, subtype: str = "PCM_16",
                         progress: bool = False) -> BatchReport:
    """Render a dataset again from its manifest alone: every ``ok`` row's file with the options it
    was rendered with (``options``), into the same relative folder under ``output_root``.

    Raises:
        InputFileError: the manifest is missing or unreadable, or has no rows with options.
    """
    check_engine(engine, jobs=jobs)
    path = os.fspath(manifest)
    try:
        with open(path, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError) as exc:
        raise InputFileError(path, f"not a readable manifest ({type(exc).__name__}: {exc})") from None
    old_root = os.path.dirname(os.path.abspath(path))
    root = check_output_root(output_root)
    write = {"save_params": save_params, "plot": plot, "subtype": subtype}
    work = []
    for row in rows:
        if row.get("status") not in ("ok", "skipped") or not row.get("options"):
            continue
        rel = os.path.relpath(os.path.abspath(row["output_dir"]), old_root)
        item = BatchItem(source=row["file"], output_dir=os.path.join(root, rel))
        work.append(_Job(item, key=rel, options=write,
                          recorded=_options_from_json(row["options"])))
    if not work:
        raise InputFileError(path, "has no rendered files with their options (manifest rows "
                                   "written by render_dataset of this version)")
    return _run(work, root, models=models, jobs=jobs, engine=engine, ray_address=ray_address,
                skip_existing=skip_existing, progress=progress)


def _run(work: Sequence[_Job], root: str, *, models, jobs: int, engine: str,
         ray_address: "str | None", skip_existing: bool, progress: bool) -> BatchReport:
    """Render the jobs not done yet, record every outcome, write the manifest (also while
    running and whatever happens)."""
    rows: list["dict | None"] = [None] * len(work)
    todo: list[int] = []
    for i, job in enumerate(work):
        done = _done(job.item) if skip_existing else None
        if done is not None:
            rows[i] = _row(job.item, status="skipped", metadata=done)
            logger.info("%s: already rendered in %s; skipped", job.item.source, job.item.output_dir)
        else:
            todo.append(i)
    if todo and models is None:
        from midi_ddsp.pretrained import load_pretrained_model

        models = load_pretrained_model()
    in_process = engine == "local" and (jobs == 1 or len(todo) <= 1)
    if in_process:  # a bar over the parts of each file
        todo_jobs = [dataclasses.replace(work[i], options=dict(work[i].options, progress=progress))
                     for i in todo]
        init_args = (models, None, None)
    else:
        todo_jobs = [work[i] for i in todo]
        init_args = (models, max(1, (os.cpu_count() or 1) // jobs),
                     logging.getLogger().getEffectiveLevel())
    bar = None
    if progress and todo:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), unit="file", desc="rendering")
    last_write = 0.0
    try:
        for k, outcome in run_tasks(_render_one, todo_jobs, init=_worker_models,
                                    init_args=init_args, engine=engine,
                                    jobs=1 if in_process else jobs, address=ray_address):
            i = todo[k]
            item = work[i].item
            if isinstance(outcome, WorkerLost):
                outcome = ("failed", f"{item.source}: {outcome.reason} ({outcome.attempts} "
                           "attempts)", None, 0.0)
            status, error, metadata, seconds = outcome
            rows[i] = _row(item, status=status, error=error, metadata=metadata,
                           render_s=seconds, seed=work[i].options.get("seed", 0))
            if status == "failed":
                logger.error("%s", error)
            if bar is not None:
                bar.update(1)
            if time.monotonic() - last_write > _MANIFEST_EVERY_S:
                _write_manifest(root, [r for r in rows if r is not None])
                last_write = time.monotonic()
    finally:
        if bar is not None:
            bar.close()
        manifest = _write_manifest(root, [r for r in rows if r is not None])
    return BatchReport(rows=[r for r in rows if r is not None], manifest_path=manifest)
