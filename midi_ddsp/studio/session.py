"""The studio's session model: one score, its render, the user's edits, undo, a session folder.

A ``StudioSession`` lives under a root folder (``--session-dir``). Opening a score makes a new
session folder ``<root>/<score name>/`` (``-2``, ``-3``, ... when taken) holding a copy of the
score in ``source/``; saving adds ``session.json`` (settings, instruments, file names),
``note_tables/NN_<part>.csv`` and ``render/`` (``write_result`` layout with parameters). Every
path written is built from sanitised names and checked to lie inside the session folder.

Edits change the working NoteTables and instruments; ``render`` re-renders only the parts whose
table or instrument differs from the last render (``midi_ddsp.editing.rerender``), the other stems are
reused bit-identically. Every edit pushes an undo step holding the previous tables, instruments
and render, so undo restores the table and the audio together.
"""
from __future__ import annotations

import dataclasses
import io
import json
import re
import shutil
import zipfile
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from midi_ddsp.casting import instrument_from_text, instrument_label
from midi_ddsp.errors import InputFileError, ParameterError
from midi_ddsp.expression import EXPRESSION_NAMES, EXPRESSIONS, validate_note_table
from midi_ddsp.expression.note_table import note_table_arrays
from midi_ddsp.instruments import INSTRUMENT_NAMES
from midi_ddsp.editing import rerender
from midi_ddsp.pipeline import synthesize_midi
from midi_ddsp.results import SynthesisResult, write_result
from midi_ddsp.score import SCORE_EXTENSIONS
from midi_ddsp.wav import wav_bytes

__all__ = ["StudioSession", "SESSION_FORMAT_VERSION", "MAX_UPLOAD_BYTES", "safe_name",
           "path_inside", "parse_instrument"]

SESSION_FORMAT_VERSION = 1
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
"""Largest score file the studio accepts (20 MB; a long orchestral MIDI file is < 1 MB)."""
MAX_UNDO = 50
"""Undo steps kept (each holds references to one render, not copies of the audio)."""
DEFAULT_SETTINGS = {"seed": 0, "sample_rate": 16000, "reverb": "room", "temperature": 0.5}
SESSION_FILE = "session.json"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_NAME = 80


def safe_name(name: Any, *, default: str = "untitled") -> str:
    """A file or folder name that cannot leave its folder: the last path component only,
    characters other than letters, digits, ``.``, ``_``, ``-`` replaced by ``_``, no leading dots."""
    base = str(name).replace("\\", "/").split("/")[-1]
    base = _UNSAFE.sub("_", base).strip("._ ") or default
    return base[:_MAX_NAME]


def path_inside(folder: Path, *parts: str) -> Path:
    """``folder / parts``, resolved; ParameterError when it would lie outside ``folder``."""
    root = Path(folder).resolve()
    path = root.joinpath(*parts).resolve()
    if path != root and root not in path.parents:
        raise ParameterError(f"refusing to write outside the session folder: {'/'.join(parts)!r}")
    return path


def parse_instrument(value: Any) -> "str | dict":
    """An instrument spec from the page (a name, a blend text ``"violin:0.5+flute:0.5"`` or a
    mapping); canonical form (``midi_ddsp.casting.instrument_from_text``)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ParameterError("instrument: give a name or a blend such as violin:0.5+flute:0.5")
    return instrument_from_text(value)


@dataclasses.dataclass
class _Step:
    tables: dict
    instruments: dict
    result: SynthesisResult


class StudioSession:
    """The state of one studio: the loaded score, its render and the edits.

    Args:
        root: the folder sessions live in (created when needed); nothing is written elsewhere.
        models: the ``MidiDDSP`` bundle to render with.
        settings: ``synthesize_midi`` options (seed, sample_rate, reverb, temperature).
        max_upload_bytes: largest score accepted.
    """

    def __init__(self, root: "str | Path", *, models, settings: "Mapping | None" = None,
                 max_upload_bytes: int = MAX_UPLOAD_BYTES):
        self.root = Path(root).resolve()
        self.models = models
        self.settings = dict(DEFAULT_SETTINGS, **dict(settings or {}))
        self.max_upload_bytes = int(max_upload_bytes)
        self.folder: "Path | None" = None
        self.source_name: "str | None" = None
        self.load_instruments: dict = {}
        self.result: "SynthesisResult | None" = None
        self.tables: dict[str, pd.DataFrame] = {}
        self.instruments: dict[str, Any] = {}
        self.render_id = 0
        self._undo: list[_Step] = []

    # ------------------------------------------------------------------ opening
    @property
    def loaded(self) -> bool:
        return self.result is not None

    def open_score(self, path: "str | Path | None" = None, *, data: "bytes | None" = None,
                   filename: "str | None" = None,
                   instruments: "Mapping | None" = None) -> None:
        """Open a score: a local file (only read) or uploaded bytes with their file name.

        Raises:
            InputFileError: unknown format, too large, unreadable or corrupt (one line naming
                the file by its sanitised name).
            ParameterError: an unknown instrument in ``instruments``.
        """
        if path is not None:
            filename = Path(path).name
            try:
                size = Path(path).stat().st_size
            except OSError as exc:
                raise InputFileError(path, f"cannot read ({exc.strerror or exc})") from None
            if size > self.max_upload_bytes:
                raise InputFileError(filename, self._too_large(size))
            data = Path(path).read_bytes()
        if data is None:
            raise ParameterError("open_score: give a path or the file's bytes")
        name = safe_name(filename or "score.mid", default="score.mid")
        ext = Path(name).suffix.lower()
        if ext not in SCORE_EXTENSIONS:
            raise InputFileError(name, f"unknown score format '{ext or name}'; expected "
                                       f"{', '.join(SCORE_EXTENSIONS)}")
        if len(data) > self.max_upload_bytes:
            raise InputFileError(name, self._too_large(len(data)))
        overrides = {k: parse_instrument(v) for k, v in dict(instruments or {}).items()}
        folder = self._new_folder(Path(name).stem)
        try:
            source = path_inside(folder, "source", name)
            source.parent.mkdir(parents=True)
            source.write_bytes(data)
            result = self._synthesize(source, overrides)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        self.folder, self.source_name, self.load_instruments = folder, name, overrides
        self._set_result(result)
        self._undo.clear()

    def _too_large(self, size: int) -> str:
        return (f"file too large ({size / 1e6:.1f} MB; the studio accepts scores up to "
                f"{self.max_upload_bytes / 1e6:.0f} MB)")

    def _synthesize(self, source: Path, overrides: Mapping) -> SynthesisResult:
        try:
            return synthesize_midi(source, models=self.models, instruments=overrides or None,
                                   **self.settings)
        except InputFileError as exc:  # name the file as the user knows it, not our folder
            raise InputFileError(source.name, exc.problem) from None

    def _new_folder(self, stem: str) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        base = safe_name(stem, default="session")
        for i in range(1, 10000):
            folder = path_inside(self.root, base if i == 1 else f"{base}-{i}")
            try:
                folder.mkdir()
                return folder
            except FileExistsError:
                continue
        raise InputFileError(self.root, f"no free session folder name for {base!r}")

    def _set_result(self, result: SynthesisResult) -> None:
        self.result = result
        self.tables = dict(result.note_tables)
        self.instruments = {p["name"]: p["instrument"] for p in result.metadata["parts"]
                            if p["name"] in result.note_tables}
        self.render_id += 1

    def _require(self) -> SynthesisResult:
        if self.result is None:
            raise ParameterError("no score is open; open a MIDI or MusicXML file first")
        return self.result

    # ------------------------------------------------------------------ parts and tables
    @property
    def part_names(self) -> list[str]:
        return [] if self.result is None else list(self.result.part_names)

    def part_name(self, index: Any) -> str:
        """The name of part ``index`` (0-based, score order)."""
        names = self.part_names
        try:
            i = int(index)
        except (TypeError, ValueError):
            i = -1
        if not 0 <= i < len(names):
            raise ParameterError(f"no part {index!r}; the score has {len(names)} part(s)")
        return names[i]

    def dirty_parts(self) -> list[str]:
        """Parts whose table or instrument differs from the last render."""
        if self.result is None:
            return []
        out = []
        for name in self.tables:
            entry = self.result.part_info(name)
            if (not self.tables[name].equals(self.result.note_tables[name])
                    or self.instruments[name] != entry["instrument"]):
                out.append(name)
        return out

    def _push(self) -> None:
        self._undo.append(_Step(dict(self.tables), dict(self.instruments), self._require()))
        del self._undo[:-MAX_UNDO]

    def edit(self, index: Any, *, rows: Sequence[int], column: str, value: Any = None,
             values: "Sequence[Any] | None" = None) -> None:
        """Set expression ``column`` of the notes ``rows`` of part ``index`` to ``value`` (or
        one value per row in ``values``). Values outside the valid range are refused."""
        self._require()
        name = self.part_name(index)
        if column not in EXPRESSION_NAMES:
            raise ParameterError(f"column {column!r} cannot be edited; editable: "
                                 f"{', '.join(EXPRESSION_NAMES)}")
        table = self.tables[name]
        try:
            rows = [int(r) for r in rows]
        except (TypeError, ValueError):
            raise ParameterError(f"rows must be note numbers, got {rows!r}") from None
        bad = [r for r in rows if not 0 <= r < len(table)]
        if not rows or bad:
            raise ParameterError(f"part {name!r} has notes 0..{len(table) - 1}; got rows "
                                 f"{bad or rows}")
        given = [value] * len(rows) if values is None else list(values)
        if len(given) != len(rows):
            raise ParameterError(f"{len(rows)} rows but {len(given)} values")
        try:
            numbers = np.array([float(v) for v in given], np.float64)
        except (TypeError, ValueError):
            raise ParameterError(f"{column}: expected numbers, got {given[:3]!r}") from None
        edited = table.copy()
        edited.loc[rows, column] = numbers.astype(np.float32)
        edited = validate_note_table(edited, source=f"part {name!r}")
        self._push()
        self.tables[name] = edited

    def set_instrument(self, index: Any, instrument: Any) -> None:
        """Give part ``index`` another instrument or blend (heard after ``render``)."""
        self._require()
        name = self.part_name(index)
        spec = parse_instrument(instrument)
        self._push()
        self.instruments[name] = spec

    def undo(self) -> bool:
        """Undo the last edit (table, instrument and the render that went with it)."""
        if not self._undo:
            return False
        step = self._undo.pop()
        self.tables, self.instruments, self.result = step.tables, step.instruments, step.result
        self.render_id += 1
        return True

    def render(self) -> list[str]:
        """Re-render the parts edited since the last render; the other stems are reused."""
        result = self._require()
        dirty = self.dirty_parts()
        if not dirty:
            return []
        tables = {n: self.tables[n] for n in dirty
                  if not self.tables[n].equals(result.note_tables[n])}
        instruments = {n: self.instruments[n] for n in dirty
                       if self.instruments[n] != result.part_info(n)["instrument"]}
        for n in instruments:  # a new instrument plays the user's table, not a re-synthesised one
            tables.setdefault(n, self.tables[n])
        new = rerender(result, note_tables=tables, instruments=instruments, models=self.models)
        self.result = new
        self.tables = dict(new.note_tables)
        self.render_id += 1
        return dirty

    # ------------------------------------------------------------------ save / reopen
    def _file_stem(self, name: str) -> str:
        entry = self._require().part_info(name)
        return f"{int(entry['index']):02d}_{safe_name(name, default='part')[:60]}"

    def save(self, name: "str | None" = None) -> Path:
        """Write the session folder (optionally under a new name inside the root); returns it.
        Unrendered edits are saved as edits (reopening renders them)."""
        result = self._require()
        folder = self.folder
        if name is not None and safe_name(name) != folder.name:
            target = path_inside(self.root, safe_name(name))
            if target.exists():
                raise ParameterError(f"a session named {target.name!r} already exists")
            shutil.copytree(folder / "source", target / "source")
            folder = self.folder = target
        tables_dir = path_inside(folder, "note_tables")
        shutil.rmtree(tables_dir, ignore_errors=True)
        tables_dir.mkdir()
        files = {}
        for part, table in self.tables.items():
            rel = f"note_tables/{self._file_stem(part)}.csv"
            table.to_csv(path_inside(folder, *rel.split("/")), index=False)
            files[part] = rel
        doc = {"format_version": SESSION_FORMAT_VERSION, "source": f"source/{self.source_name}",
               "settings": self.settings, "load_instruments": self.load_instruments,
               "instruments": self.instruments, "note_tables": files, "parts": self.part_names}
        write_result(result, path_inside(folder, "render"), save_params=True,
                     extra_metadata={"studio_dirty_parts": self.dirty_parts()})
        path_inside(folder, SESSION_FILE).write_text(json.dumps(doc, indent=2) + "\n",
                                                      encoding="utf-8")
        return folder

    def list_sessions(self) -> list[str]:
        """Names of the saved sessions under the root."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / SESSION_FILE).is_file())

    def reopen(self, name: str) -> None:
        """Open the saved session ``name`` (a folder under the root) and render it from its
        source, instruments, settings and NoteTables."""
        folder = path_inside(self.root, safe_name(name))
        doc_path = folder / SESSION_FILE
        try:
            doc = json.loads(doc_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputFileError(folder.name, "no saved session of that name") from None
        except (OSError, ValueError) as exc:
            raise InputFileError(f"{folder.name}/{SESSION_FILE}", f"unreadable ({exc})") from None
        if doc.get("format_version") != SESSION_FORMAT_VERSION:
            raise InputFileError(f"{folder.name}/{SESSION_FILE}", f"unknown format version "
                                 f"{doc.get('format_version')!r}; expected {SESSION_FORMAT_VERSION}")
        source = path_inside(folder, *str(doc["source"]).split("/"))
        saved = dict(self.settings)
        self.settings = dict(DEFAULT_SETTINGS, **doc.get("settings", {}))
        try:
            overrides = {k: parse_instrument(v) for k, v in doc.get("load_instruments", {}).items()}
            result = self._synthesize(source, overrides)
            tables = {part: validate_note_table(path_inside(folder, *rel.split("/")))
                      for part, rel in doc.get("note_tables", {}).items()}
            unknown = sorted((set(tables) | set(doc.get("instruments", {}))) - set(result.stems))
            if unknown:
                raise InputFileError(doc_path, f"part {unknown[0]!r} is not in the score")
        except BaseException:
            self.settings = saved
            raise
        self.folder, self.source_name, self.load_instruments = folder, source.name, overrides
        self._set_result(result)
        self.tables.update(tables)
        self.instruments.update({k: parse_instrument(v)
                                 for k, v in doc.get("instruments", {}).items()})
        self.render()
        self._undo.clear()

    # ------------------------------------------------------------------ exports
    def wav_bytes(self, index: "Any | None" = None, *, subtype: str = "FLOAT") -> bytes:
        """The mix (``index`` None) or a stem as WAV bytes: ``"FLOAT"`` (32-bit float, exact,
        the same bytes for the same audio) or ``"PCM_16"`` (for players)."""
        result = self._require()
        audio = np.asarray(result.mix if index is None else result.stems[self.part_name(index)],
                           np.float32)
        if subtype == "PCM_16" and not (audio.size and float(np.max(np.abs(audio))) > 1.0):
            return wav_bytes(np.round(audio * 32767.0).astype("<i2"), result.sample_rate, 1)
        return wav_bytes(audio.astype("<f4"), result.sample_rate, 3)

    def csv_bytes(self, index: Any) -> bytes:
        return self.tables[self.part_name(index)].to_csv(index=False).encode("utf-8")

    def npz_bytes(self, index: Any) -> bytes:
        """The part's synthesis parameters and NoteTable columns (``write_result`` params)."""
        result = self._require()
        name = self.part_name(index)
        p, table = result.synth_params[name], result.note_tables[name]
        buffer = io.BytesIO()
        np.savez(buffer, f0_hz=p.f0_hz, amplitude=p.amplitude,
                 harmonic_distribution=p.harmonic_distribution,
                 noise_magnitudes=p.noise_magnitudes,
                 frame_rate=np.int64(result.metadata.get("frame_rate", 250)),
                 **{f"note_{c}": v for c, v in note_table_arrays(table).items()})
        return buffer.getvalue()

    def zip_bytes(self) -> bytes:
        """The render in the ``write_result`` layout (mix, stems, NoteTables, params) as a zip."""
        result = self._require()
        folder = path_inside(self.folder, "render")
        write_result(result, folder, save_params=True)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    archive.write(path, f"{self.folder.name}/{path.relative_to(folder)}")
        return buffer.getvalue()

    def analysis_png(self, index: Any) -> bytes:
        """Spectrogram, f0 and loudness of part ``index`` as PNG bytes (``studio.plots``)."""
        from midi_ddsp.studio.plots import analysis_png

        result = self._require()
        name = self.part_name(index)
        return analysis_png(result.stems[name], result.synth_params[name], result.note_tables[name],
                            sample_rate=result.sample_rate,
                            frame_rate=int(result.metadata.get("frame_rate", 250)),
                            title=f"{name} ({instrument_label(self.instruments[name])})")

    def file_stem(self, index: Any) -> str:
        """``NN_<part>``: the safe file name stem of part ``index``."""
        return self._file_stem(self.part_name(index))

    # ------------------------------------------------------------------ for the page
    def table_json(self, index: Any) -> dict:
        name = self.part_name(index)
        table = self.tables[name]
        return {"part": name, "columns": list(table.columns),
                "rows": [[v if isinstance(v, str) else float(v) for v in row]
                         for row in table.itertuples(index=False)]}

    def state(self) -> dict:
        """What the page shows: parts, instruments, expressions, undo, sessions."""
        expressions = [{"name": e.name, "unit": e.unit, "low": e.low, "high": e.high,
                        "valid_low": e.valid_low, "valid_high": e.valid_high,
                        "description": e.description} for e in EXPRESSIONS]
        out = {"loaded": self.loaded, "instruments": list(INSTRUMENT_NAMES),
               "expressions": expressions, "sessions": self.list_sessions(),
               "max_upload_bytes": self.max_upload_bytes, "render_id": self.render_id,
               "can_undo": bool(self._undo), "parts": [], "skipped_parts": []}
        if self.result is None:
            return out
        dirty = set(self.dirty_parts())
        parts = []
        for i, name in enumerate(self.part_names):
            entry = self.result.part_info(name)
            spec = self.instruments.get(name, entry["instrument"])
            parts.append({"index": i, "name": name, "instrument": spec,
                          "label": instrument_label(spec) if spec is not None else "FluidSynth",
                          "editable": name in self.tables, "dirty": name in dirty,
                          "n_notes": int(entry["n_notes"]), "file_stem": self.file_stem(i)})
        out.update(session=self.folder.name, source=self.source_name, parts=parts,
                   duration_s=float(self.result.duration_s), sample_rate=self.result.sample_rate,
                   skipped_parts=[p["name"] for p in self.result.metadata.get("skipped_parts", [])])
        return out
