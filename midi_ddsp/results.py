"""The result of a render and writing it to disk.

``SynthesisResult`` holds the mix, the stems, and per model part its NoteTable, SynthParams and
MIDI controls, with JSON-friendly metadata. ``write_result`` writes it to a folder atomically
(mix.wav, stems/, note_tables/, optional params/ and plots/, metadata.json).
"""
from __future__ import annotations

import dataclasses
import glob
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from midi_ddsp.casting import instrument_label
from midi_ddsp.errors import InputFileError, ParameterError
from midi_ddsp.wav import write_wav
from midi_ddsp.synth_params import SynthParams

__all__ = ["SynthesisResult", "write_result"]


@dataclasses.dataclass
class SynthesisResult:
    """A rendered piece.

    Attributes:
        sample_rate: Hz.
        mix: the mixture, float32 [n_samples], levelled as ``metadata["settings"]["normalize"]``
            says (never clipping).
        stems: part name -> the part's audio as it sits in the mix (part gain, levelling gain
            and limiter gain applied), float32 [n_samples]; the stems sum to ``mix``.
        note_tables: part name -> NoteTable (pandas DataFrame, see ``midi_ddsp.expression``) of
            every part rendered by the models.
        synth_params: part name -> ``SynthParams`` of every part rendered by the models.
        metadata: JSON-friendly description: source, settings, per-part instrument, seed,
            transposition and renderer, skipped parts, checkpoint ids, timings, and under
            ``"mix"`` the levelling (``midi_ddsp.mixing.Mix.describe``: mode, gain and gain_db,
            loudness, peak and true peak, whether the limiter acted).
        limiter_gain: the limiter's gain per sample, float32 [n_samples], already applied to
            ``mix`` and ``stems``; None when the limiter did not act.
        controls: part name -> the part's MIDI performance controls (pitch bend, CC7/CC11,
            CC1; ``midi_ddsp.midi_controls``), applied again when ``rerender`` regenerates it.
    """

    sample_rate: int
    mix: np.ndarray
    stems: dict[str, np.ndarray]
    note_tables: dict[str, pd.DataFrame]
    synth_params: dict[str, SynthParams]
    metadata: dict
    limiter_gain: "np.ndarray | None" = None
    controls: dict = dataclasses.field(default_factory=dict)

    @property
    def part_names(self) -> list[str]:
        """Names of the rendered parts, in score order."""
        return list(self.stems)

    @property
    def duration_s(self) -> float:
        return self.mix.shape[0] / self.sample_rate

    def part_info(self, name: str) -> dict:
        """The metadata entry of part ``name``."""
        for entry in self.metadata["parts"]:
            if entry["name"] == name:
                return entry
        raise ParameterError(f"no rendered part named {name!r}; parts: {', '.join(self.part_names)}")


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _file_stem(index: int, name: str) -> str:
    safe = _UNSAFE.sub("_", name).strip("._") or "part"
    return f"{index:02d}_{safe[:60]}"


def write_result(result: SynthesisResult, output_dir: "str | os.PathLike[str]", *,
                 save_params: bool = False, plot: bool = False, subtype: str = "PCM_16",
                 extra_metadata: "Mapping[str, Any] | None" = None) -> dict:
    """Write a result to a folder, atomically: it appears complete or not at all.

    Layout: ``mix.wav``; ``stems/NN_<part>.wav``; ``note_tables/NN_<part>.csv``;
    ``params/NN_<part>.npz`` (with ``save_params``: f0_hz, amplitude, harmonic_distribution,
    noise_magnitudes at the frame rate, the NoteTable columns, frame_rate); ``plots/NN_<part>.png``
    (with ``plot``); ``metadata.json`` (the result's metadata plus the file names). An existing
    folder of that name is replaced; temporary folders a killed run left for this name are removed.

    Args:
        result: what ``synthesize_midi`` / ``rerender`` returned.
        output_dir: the folder to create (its parent is created as needed).
        save_params: also write the per-part parameter files (datasets).
        plot: also write a PNG per model-rendered part (piano roll, expressions, f0, loudness).
        subtype: WAV sample format, ``"PCM_16"`` or ``"FLOAT"``.
        extra_metadata: more entries for metadata.json.

    Returns:
        The metadata written (with a ``"files"`` entry listing the paths, relative).

    Raises:
        InputFileError: the folder cannot be created or written (names it).
    """
    final = Path(output_dir)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        for stale in final.parent.glob(glob.escape(f".{final.name}") + ".tmp-*"):  # a killed run's
            shutil.rmtree(stale, ignore_errors=True)
        tmp = final.parent / f".{final.name}.tmp-{os.getpid()}"
        tmp.mkdir()
    except OSError as exc:
        raise InputFileError(final, f"cannot create output folder ({exc.strerror or exc})") from None
    try:
        metadata = _write_contents(result, tmp, save_params=save_params, plot=plot, subtype=subtype,
                                   extra_metadata=extra_metadata)
        _replace_dir(tmp, final)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise InputFileError(final, f"cannot write output ({exc.strerror or exc})") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return metadata


def _replace_dir(tmp: Path, final: Path) -> None:
    if final.exists():
        old = final.parent / f".{final.name}.old-{os.getpid()}"
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)


def _write_contents(result: SynthesisResult, folder: Path, *, save_params: bool, plot: bool,
                    subtype: str, extra_metadata) -> dict:
    files: dict[str, Any] = {"mix": "mix.wav", "stems": {}, "note_tables": {}, "params": {},
                             "plots": {}}
    write_wav(folder / "mix.wav", result.mix, sample_rate=result.sample_rate, subtype=subtype)
    (folder / "stems").mkdir()
    for entry in result.metadata["parts"]:
        name = entry["name"]
        stem = _file_stem(entry["index"], name)
        rel = f"stems/{stem}.wav"
        write_wav(folder / rel, result.stems[name], sample_rate=result.sample_rate, subtype=subtype)
        files["stems"][name] = rel
        if name in result.note_tables:
            (folder / "note_tables").mkdir(exist_ok=True)
            rel = f"note_tables/{stem}.csv"
            result.note_tables[name].to_csv(folder / rel, index=False)
            files["note_tables"][name] = rel
        if save_params and name in result.synth_params:
            (folder / "params").mkdir(exist_ok=True)
            rel = f"params/{stem}.npz"
            p = result.synth_params[name]
            table = result.note_tables[name]
            np.savez(folder / rel, f0_hz=p.f0_hz, amplitude=p.amplitude,
                     harmonic_distribution=p.harmonic_distribution,
                     noise_magnitudes=p.noise_magnitudes,
                     frame_rate=np.int64(result.metadata.get("frame_rate", 250)),
                     **{f"note_{c}": table[c].to_numpy(np.float32) for c in table.columns})
            files["params"][name] = rel
        if plot and name in result.synth_params:
            from midi_ddsp.plotting import plot_part

            (folder / "plots").mkdir(exist_ok=True)
            rel = f"plots/{stem}.png"
            plot_part(result.note_tables[name], result.synth_params[name],
                      frame_rate=int(result.metadata.get("frame_rate", 250)),
                      title=f"{name} ({instrument_label(entry['instrument'])})",
                      path=folder / rel)
            files["plots"][name] = rel
    metadata = dict(result.metadata)
    metadata.update(dict(extra_metadata or {}))
    metadata["files"] = {k: v for k, v in files.items() if v}
    text = json.dumps(_jsonable(metadata), indent=2)
    (folder / "metadata.json").write_text(text + "\n", encoding="utf-8")
    return metadata


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, Path):
        return str(value)
    return value
