"""Batch rendering of many score files: one output folder per file plus a manifest.

``render_dataset(inputs, output_root, ...)`` renders every score file (folders are searched
recursively for .mid/.midi/.musicxml/.xml/.mxl/.krn/.abc) into ``output_root/<relative path
without extension>/`` with ``midi_ddsp.results.write_result`` and writes
``output_root/manifest.jsonl``: one JSON object per input file with ``file``, ``output_dir``,
``status`` (``ok`` / ``skipped`` / ``failed``), ``error``, ``parts``, ``instruments``,
``duration_s``, ``seed`` and ``render_s``.

- Parallel: ``jobs`` worker processes (spawned; each loads the models once, 1 torch thread).
- Resumable: a file whose folder already holds ``metadata.json`` is skipped when
  ``skip_existing``; folders are written under a temporary name and renamed when complete, so
  a half-written folder never carries the final name.
- A file that fails is recorded (one line, also logged as a warning) and the run carries on;
  ``BatchReport.n_failed`` says whether any failed.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import logging
import multiprocessing
import os
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from midi_ddsp.dsp.effects import reverb_preset
from midi_ddsp.errors import InputFileError, MidiDDSPError, ParameterError
from midi_ddsp.expression import check_temperature
from midi_ddsp.mixing import normalize_mode
from midi_ddsp.score import SCORE_EXTENSIONS

__all__ = [
    "MANIFEST_NAME",
    "BatchItem",
    "BatchReport",
    "find_score_files",
    "plan_outputs",
    "check_output_root",
    "render_dataset",
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

_WORKER_MODELS = None


class _OneLine(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {' '.join(record.getMessage().split())}"


def _init_worker(models, threads: int, log_level: int) -> None:
    global _WORKER_MODELS
    try:
        import torch

        torch.set_num_threads(max(1, int(threads)))
    except ImportError:  # pragma: no cover - torch is a hard dependency
        pass
    handler = logging.StreamHandler()
    handler.setFormatter(_OneLine())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(log_level)
    _WORKER_MODELS = models


def _render_one(item: BatchItem, models, options: dict) -> tuple[str, str, "dict | None", float]:
    """Render and write one file; returns (status, error, metadata, seconds). Never raises for
    problems with the file."""
    from midi_ddsp.pipeline import synthesize_midi
    from midi_ddsp.results import write_result

    t0 = time.perf_counter()
    models = models if models is not None else _WORKER_MODELS
    write_opts = {k: options[k] for k in ("save_params", "plot", "subtype") if k in options}
    synth_opts = {k: v for k, v in options.items() if k not in write_opts}
    try:
        result = synthesize_midi(item.source, models=models, **synth_opts)
        metadata = write_result(result, item.output_dir, **write_opts,
                                extra_metadata={"source_file": item.source})
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


def _slim(metadata: Mapping) -> dict:
    """Just what the manifest needs (keeps inter-process traffic small)."""
    return {"parts": [{"name": p["name"], "instrument": p.get("instrument"), "program": p.get("program")}
                      for p in metadata.get("parts", [])],
            "skipped_parts": [{"name": p["name"]} for p in metadata.get("skipped_parts", [])],
            "duration_s": metadata.get("duration_s"),
            "settings": {"seed": metadata.get("settings", {}).get("seed")}}


def render_dataset(inputs: "Iterable[str | os.PathLike[str]]", output_root: "str | os.PathLike[str]",
                   *, models=None, jobs: int = 1, skip_existing: bool = True, save_params: bool = True,
                   plot: bool = False, subtype: str = "PCM_16", progress: bool = False,
                   **synthesis_options: Any) -> BatchReport:
    """Render score files (or folders of them) into one folder each, plus a manifest.

    Args:
        inputs: score files and/or folders (searched recursively).
        output_root: where the per-file folders and ``manifest.jsonl`` go (created if needed).
        models: a ``midi_ddsp.MidiDDSP`` (default: the shipped checkpoints).
        jobs: worker processes; 1 renders in this process.
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
        ParameterError: ``jobs`` < 1 or a bad ``normalize``. CheckpointError: the default
            models cannot be loaded.
        Problems with single files never raise: they are recorded as ``failed`` rows.
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ParameterError(f"jobs must be an integer >= 1, got {jobs!r}")
    # bad options fail once here, not once per file
    if "normalize" in synthesis_options:
        synthesis_options["normalize"] = normalize_mode(synthesis_options["normalize"])
    if "temperature" in synthesis_options:
        synthesis_options["temperature"] = check_temperature(synthesis_options["temperature"])
    if "reverb" in synthesis_options:
        synthesis_options["reverb"] = reverb_preset(synthesis_options["reverb"]).name
    root = check_output_root(output_root)
    items = plan_outputs(find_score_files(inputs), root)
    seed = synthesis_options.get("seed", 0)
    rows: list["dict | None"] = [None] * len(items)
    todo: list[int] = []
    for i, item in enumerate(items):
        done = _done(item) if skip_existing else None
        if done is not None:
            rows[i] = _row(item, status="skipped", metadata=done)
            logger.info("%s: already rendered in %s; skipped", item.source, item.output_dir)
        else:
            todo.append(i)
    options = dict(synthesis_options, save_params=save_params, plot=plot, subtype=subtype)
    if todo:
        from midi_ddsp.pretrained import load_pretrained_model

        if models is None:
            models = load_pretrained_model()
    bar = None
    if progress and todo:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), unit="file", desc="rendering")
    last_write = [0.0]

    def record(i: int, outcome) -> None:
        status, error, metadata, seconds = outcome
        rows[i] = _row(items[i], status=status, error=error, metadata=metadata, render_s=seconds,
                       seed=seed)
        if status == "failed":
            logger.error("%s", error)
        if bar is not None:
            bar.update(1)
        if time.monotonic() - last_write[0] > _MANIFEST_EVERY_S:
            _write_manifest(root, [r for r in rows if r is not None])
            last_write[0] = time.monotonic()

    try:
        if jobs == 1 or len(todo) <= 1:
            serial = dict(options, progress=progress)  # a bar over the parts of each file
            for i in todo:
                record(i, _render_one(items[i], models, serial))
        else:
            threads = max(1, (os.cpu_count() or 1) // jobs)
            context = multiprocessing.get_context("spawn")
            with concurrent.futures.ProcessPoolExecutor(
                    max_workers=jobs, mp_context=context, initializer=_init_worker,
                    initargs=(models, threads, logging.getLogger().getEffectiveLevel())) as pool:
                futures = {pool.submit(_render_one, items[i], None, options): i for i in todo}
                for future in concurrent.futures.as_completed(futures):
                    i = futures[future]
                    try:
                        outcome = future.result()
                    except Exception as exc:  # a worker died (killed, out of memory)
                        outcome = ("failed", f"{items[i].source}: worker failed "
                                   f"({type(exc).__name__}: {exc})", None, 0.0)
                    record(i, outcome)
    finally:
        if bar is not None:
            bar.close()
        manifest = _write_manifest(root, [r for r in rows if r is not None])
    return BatchReport(rows=[r for r in rows if r is not None], manifest_path=manifest)
