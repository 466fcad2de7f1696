"""The training-data shard format: many examples per ``.npz`` file, plus a JSONL manifest.

Written by data building (``midi_ddsp.data_pipeline``), read by training
(``midi_ddsp.training.datasets``); it lives in the library so training needs nothing else.

An ``Example`` is one window (4 s for training) or one whole piece (evaluation) of one
instrument. Frame arrays are at the frame rate of ``SignalConfig`` (250 Hz); audio at its
sample rate (16 kHz). Shards are written atomically (temporary name, then rename) so a
killed build never leaves a partial shard.
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Iterable

import numpy as np

from midi_ddsp.errors import InputFileError

__all__ = ["Example", "write_shard", "read_shard", "append_manifest", "read_manifest",
           "corpus_version"]

_FRAME_FIELDS = ("f0_hz", "f0_confidence", "loudness_db", "amplitude",
                 "harmonic_distribution", "noise_magnitudes")


@dataclasses.dataclass
class Example:
    """One training or evaluation example.

    Attributes:
        example_id: unique id, e.g. ``"bach-bwv66.6-s-violin-003"``.
        instrument: canonical instrument name (see ``midi_ddsp.instruments``).
        split: ``"train"``, ``"valid"`` or ``"test"``.
        source: id of the source work (splits never share a source).
        audio: mono audio, float32, shape [n_samples].
        notes: float32 [n_notes, 4]: pitch (MIDI), onset_s, offset_s, velocity; times relative
            to the start of the example.
        f0_hz: fundamental frequency in Hz (ground truth or measured), shape [n_frames].
        f0_confidence: 0..1 (1 for ground truth), shape [n_frames].
        loudness_db: A-weighted loudness in dB per frame, shape [n_frames].
        amplitude: analysed linear harmonic amplitude, shape [n_frames] (optional).
        harmonic_distribution: analysed, rows sum to 1, shape [n_frames, n_harmonics] (optional).
        noise_magnitudes: analysed linear noise-band magnitudes, shape [n_frames, n_bands] (optional).
        controls: drawn control curves, name -> float32 [n_frames] (e.g. ``"expression_cc"``,
            ``"bend_cents"``); empty for real recordings.
        note_marks: int16 [n_notes, 5]: the written score marks of each note
            (``midi_ddsp.score.NoteMarks.codes``), or None when the notes carry none.
    """

    example_id: str
    instrument: str
    split: str
    source: str
    audio: np.ndarray
    notes: np.ndarray
    f0_hz: np.ndarray
    f0_confidence: np.ndarray
    loudness_db: np.ndarray
    amplitude: "np.ndarray | None" = None
    harmonic_distribution: "np.ndarray | None" = None
    noise_magnitudes: "np.ndarray | None" = None
    controls: dict = dataclasses.field(default_factory=dict)
    note_marks: "np.ndarray | None" = None

    @property
    def n_frames(self) -> int:
        return int(self.f0_hz.shape[0])


def write_shard(path: "str | os.PathLike[str]", examples: Iterable[Example]) -> Path:
    """Write examples into one ``.npz`` shard atomically; returns the final path."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    meta = []
    for i, ex in enumerate(examples):
        entry = {"example_id": ex.example_id, "instrument": ex.instrument, "split": ex.split,
                 "source": ex.source, "controls": sorted(ex.controls)}
        arrays[f"{i}/audio"] = np.asarray(ex.audio, np.float32)
        arrays[f"{i}/notes"] = np.asarray(ex.notes, np.float32).reshape(-1, 4)
        for name in _FRAME_FIELDS:
            value = getattr(ex, name)
            if value is not None:
                dtype = np.float16 if name in ("harmonic_distribution", "noise_magnitudes") else np.float32
                arrays[f"{i}/{name}"] = np.asarray(value, dtype)
        for name, curve in ex.controls.items():
            arrays[f"{i}/controls/{name}"] = np.asarray(curve, np.float32)
        if ex.note_marks is not None:
            arrays[f"{i}/note_marks"] = np.asarray(ex.note_marks, np.int16).reshape(-1, 5)
        meta.append(entry)
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    os.replace(tmp, path)
    return path


def read_shard(path: "str | os.PathLike[str]") -> list[Example]:
    """Read every example of a shard written by ``write_shard``."""
    try:
        data = np.load(path, allow_pickle=False)
        meta = json.loads(bytes(data["__meta__"]).decode())
    except Exception as exc:  # noqa: BLE001 - any failure is a bad shard file
        raise InputFileError(path, f"not a readable shard ({type(exc).__name__}: {exc})") from None
    examples = []
    for i, entry in enumerate(meta):
        def get(name):
            key = f"{i}/{name}"
            return data[key].astype(np.float32) if key in data else None
        examples.append(Example(
            example_id=entry["example_id"], instrument=entry["instrument"], split=entry["split"],
            source=entry["source"], audio=get("audio"), notes=get("notes"), f0_hz=get("f0_hz"),
            f0_confidence=get("f0_confidence"), loudness_db=get("loudness_db"),
            amplitude=get("amplitude"), harmonic_distribution=get("harmonic_distribution"),
            noise_magnitudes=get("noise_magnitudes"),
            controls={name: get(f"controls/{name}") for name in entry["controls"]},
            note_marks=data[f"{i}/note_marks"] if f"{i}/note_marks" in data else None,
        ))
    return examples


def append_manifest(path: "str | os.PathLike[str]", record: dict) -> None:
    """Append one JSON record as a line to a JSONL manifest (flushed and fsynced)."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_manifest(path: "str | os.PathLike[str]") -> list[dict]:
    """All complete records of a JSONL manifest (a torn last line from a kill is ignored)."""
    records = []
    if not os.path.exists(path):
        return records
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


def corpus_version(data_dir: "str | os.PathLike[str]") -> "str | None":
    """``"corpus v<N> (seed S)"`` from a corpus folder's build.json (None without one)."""
    build = Path(data_dir) / "build.json"
    if not build.is_file():
        return None
    settings = json.loads(build.read_text(encoding="utf-8"))
    return f"corpus v{settings.get('corpus_version', 1)} (seed {settings.get('seed')})"
