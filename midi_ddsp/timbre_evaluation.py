"""Timbre fidelity (issue 15): does the Synthesis Generator's output sound like the instrument?

Per instrument, on whole test-split pieces of a corpus (capped in count and length): the
ground-truth NoteTable, extracted from the corpus's analysed parameters
(``extract_note_expressions``), goes through the Synthesis Generator and the synth, dry (the
corpus audio is rendered dry: FluidSynth reverb and chorus off), and is compared with the corpus
audio. Beside it, on the same audio: the **analysis floor** (the shard's analysed parameters
resynthesised, what a perfect parameter predictor would score) and **DDSP Inference**
(audio -> parameters -> synth). Every render: seed 0, unvoiced f0 filled with the nearest voiced
f0 (as ``analysis.resynthesis_floor``).

Metrics: multi-scale spectral loss (DESIGN §8) and its ratio to the floor, and the pure functions
of ``midi_ddsp.timbre_metrics`` (harmonic levels, centroid, attacks, bands, Fréchet distance on
CREPE embeddings); the report is generated from one run.

Run standalone::

    python -m midi_ddsp.timbre_evaluation --data data/corpus --out reports \\
        --model shipped=checkpoints/synthesis_generator.pt [--model tuned=runs/x/model.pt]
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from midi_ddsp.errors import InputFileError, MidiDDSPError, ParameterError
from midi_ddsp.expression import extract_note_expressions
from midi_ddsp.score import Note
from midi_ddsp.synth_params import SynthParams
from midi_ddsp.timbre_metrics import (
    ATTACK_S,
    BANDS_HZ,
    EMBEDDING_HOP_S,
    TimbrePiece,
    render_dry,
    band_energy_db,
    sustained_frames,
    embedding_frames,
    frechet_distance,
    piece_metrics,
    summarise_rows,
    mean_of,
)

__all__ = [
    "load_test_pieces",
    "evaluate_timbre",
    "control_fidelity",
    "run_timbre_evaluation",
    "summary_lines",
    "timbre_markdown",
    "main",
]

logger = logging.getLogger(__name__)

SYSTEMS_REFERENCE = ("floor", "ddsp_inference")
DIAGNOSTIC_SUFFIX = "+corpus_f0"
"""Label suffix of a generator's output rendered with the corpus f0 (``corpus_f0_diagnostic``)."""


# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------
def load_test_pieces(data_dir: "str | os.PathLike[str]", *, instruments: "Sequence[str] | None" = None,
                     pieces_per_instrument: int = 3, max_seconds: float = 8.0,
                     split: str = "test", frame_rate: int = 250, hop_size: int = 64
                     ) -> list[TimbrePiece]:
    """Test pieces of a corpus, per instrument in corpus order (``manifest.jsonl``, or the shards
    themselves when there is none): pieces no longer than ``max_seconds`` first (whole), then
    longer ones cut to it; at most ``pieces_per_instrument`` each.

    Raises:
        InputFileError: no such folder, or no usable piece of ``split``.
    """
    from midi_ddsp.shards import read_manifest, read_shard

    root = Path(data_dir)
    if not root.is_dir():
        raise InputFileError(root, "no such corpus folder")
    if isinstance(pieces_per_instrument, bool) or int(pieces_per_instrument) < 1 \
            or not max_seconds > 0:
        raise ParameterError(f"pieces_per_instrument must be >= 1 and max_seconds > 0; got "
                             f"{pieces_per_instrument!r}, {max_seconds!r}")
    manifest = root / "manifest.jsonl"
    cache: dict = {}

    def examples(path: Path):
        if path not in cache:
            cache.clear()
            cache[path] = [ex for ex in read_shard(path) if ex.split == split]
        return cache[path]

    if manifest.is_file():   # (instrument, seconds, shard, example index in the shard's split)
        candidates = [(e["instrument"], float(e.get("duration_s", 0.0)), root / e["shard"], 0)
                      for e in read_manifest(manifest) if e.get("split") == split]
    else:
        candidates = [(ex.instrument, ex.n_frames / frame_rate, path, i)
                      for path in sorted(root.rglob("*.npz")) if not path.name.startswith(".")
                      for i, ex in enumerate(examples(path))]
    order = list(dict.fromkeys(c[0] for c in candidates))
    wanted = list(instruments) if instruments else order
    pieces = []
    for name in wanted:
        own = [c for c in candidates if c[0] == name]
        own = [c for c in own if c[1] <= max_seconds] + [c for c in own if c[1] > max_seconds]
        count = 0
        for _, _, path, index in own:
            if count >= pieces_per_instrument:
                break
            found = examples(path)
            if index >= len(found):
                continue
            piece = _piece(found[index], max_seconds=max_seconds, frame_rate=frame_rate,
                           hop_size=hop_size)
            if piece is not None:
                pieces.append(piece)
                count += 1
    if not pieces:
        raise InputFileError(root, f"no usable {split!r} pieces for "
                                   f"{', '.join(wanted) or 'any instrument'}")
    return pieces


def _piece(ex, *, max_seconds: float, frame_rate: int, hop_size: int) -> "TimbrePiece | None":
    """A shard ``Example`` cut to ``max_seconds``; None without analysed parameters or notes."""
    from midi_ddsp.models.features import clip_notes

    if ex.amplitude is None or ex.harmonic_distribution is None or ex.noise_magnitudes is None:
        return None
    n = min(ex.n_frames, int(max_seconds * frame_rate))
    notes = [Note(int(round(p)), float(a), float(b), int(np.clip(round(v), 1, 127)))
             for p, a, b, v in np.asarray(ex.notes).reshape(-1, 4)]
    notes = clip_notes(notes, end_s=n / frame_rate, frame_rate=frame_rate)
    if not notes:
        return None
    params = SynthParams(np.asarray(ex.f0_hz[:n], np.float32), np.asarray(ex.amplitude[:n], np.float32),
                         np.asarray(ex.harmonic_distribution[:n], np.float32),
                         np.asarray(ex.noise_magnitudes[:n], np.float32))
    return TimbrePiece(ex.example_id, ex.instrument, np.asarray(ex.audio[:n * hop_size], np.float32),
                       notes, params, np.asarray(ex.loudness_db[:n], np.float32))


def evaluate_timbre(pieces: Sequence[TimbrePiece], *, synthesis_generators: Mapping[str, object],
                    ddsp_inference=None, seed: int = 0, crepe_model: str = "tiny",
                    sample_rate: int = 16000, corpus_f0_diagnostic: bool = False) -> dict:
    """Timbre metrics per instrument for each Synthesis Generator, the analysis floor and
    (optionally) DDSP Inference, on ``pieces`` (see module docstring).

    Args:
        pieces: from ``load_test_pieces``.
        synthesis_generators: label -> ``SynthesisGenerator``.
        ddsp_inference: a ``DDSPInference`` or None (skipped).
        seed: seed of the generators' noise input and of the synth's noise.
        corpus_f0_diagnostic: also render each generator's output with the corpus f0 in place
            of its own (system ``"<label>+corpus_f0"``): what its amplitude, harmonics and noise
            score when the pitch contour is taken out of the comparison.

    Returns:
        ``{"instruments": {name: {"n_pieces", "seconds", "corpus": {"band_energy_db"},
        "systems": {label: summary}}}, "overall": {label: means over instruments}}``; a summary
        holds ``spectral_loss``, ``floor_ratio``, ``harmonic_level_db``, ``centroid_abs_hz``,
        ``centroid_bias_hz``, ``attack_db``, ``band_energy_db`` (render) and ``band_delta_db``
        (render - corpus) per band, and ``frechet``.
    """
    from midi_ddsp.crepe import CrepePitchTracker

    if not pieces:
        raise ParameterError("evaluate_timbre: no pieces")
    if not synthesis_generators:
        raise ParameterError("evaluate_timbre: no synthesis generator given")
    tracker = CrepePitchTracker(crepe_model)
    labels = list(synthesis_generators)
    if corpus_f0_diagnostic:
        labels += [f"{label}{DIAGNOSTIC_SUFFIX}" for label in synthesis_generators]
    labels += ["floor"] + (["ddsp_inference"] if ddsp_inference else [])
    by_inst: dict[str, dict] = {}
    for piece in pieces:
        t0 = time.time()
        entry = by_inst.setdefault(piece.instrument, {"pieces": [], "rows": {k: [] for k in labels},
                                                      "emb": {k: [] for k in labels + ["corpus"]},
                                                      "corpus_bands": []})
        n_samples = piece.audio.shape[0]
        n_frames = piece.params.n_frames
        renders = {}
        table = extract_note_expressions(piece.params, piece.notes)
        for label, sg in synthesis_generators.items():
            params = sg.generate(table, piece.instrument, seed=seed, n_frames=n_frames)
            renders[label] = (render_dry(params, n_samples, seed=seed), params.f0_hz)
            if corpus_f0_diagnostic:
                swapped = SynthParams(piece.params.f0_hz, params.amplitude,
                                      params.harmonic_distribution, params.noise_magnitudes)
                renders[f"{label}{DIAGNOSTIC_SUFFIX}"] = (render_dry(swapped, n_samples, seed=seed),
                                                          piece.params.f0_hz)
        renders["floor"] = (render_dry(piece.params, n_samples, seed=seed), piece.params.f0_hz)
        if ddsp_inference is not None:
            params = ddsp_inference.infer(piece.audio, piece.params.f0_hz, piece.loudness_db,
                                          piece.instrument)
            renders["ddsp_inference"] = (render_dry(params, n_samples, seed=seed), params.f0_hz)
        in_note = sustained_frames(piece.notes, piece.params.amplitude, trim_s=(0.0, 0.0))
        entry["emb"]["corpus"].append(embedding_frames(piece.audio, tracker, in_note))
        entry["corpus_bands"].append(band_energy_db(piece.audio, sample_rate=sample_rate))
        for label, (audio, f0) in renders.items():
            entry["rows"][label].append(piece_metrics(piece, audio, f0, sample_rate=sample_rate))
            entry["emb"][label].append(embedding_frames(audio, tracker, in_note))
        entry["pieces"].append({"example_id": piece.example_id, "seconds": round(piece.duration_s, 2)})
        logger.info("timbre: %s %s (%.1f s) in %.1f s", piece.instrument, piece.example_id,
                    piece.duration_s, time.time() - t0)
    result = {"instruments": {}, "overall": {}}
    for name, entry in by_inst.items():
        corpus_bands = [mean_of(b[j] for b in entry["corpus_bands"]) for j in range(len(BANDS_HZ))]
        corpus_emb = np.concatenate(entry["emb"]["corpus"])
        systems = {}
        for label in labels:
            s = summarise_rows(entry["rows"][label])
            s["band_delta_db"] = [a - b for a, b in zip(s["band_energy_db"], corpus_bands)]
            emb = np.concatenate(entry["emb"][label])
            s["frechet"] = frechet_distance(emb, corpus_emb) if min(len(emb), len(corpus_emb)) > 1 \
                else float("nan")
            systems[label] = s
        floor = systems["floor"]["spectral_loss"]
        for s in systems.values():
            s["floor_ratio"] = s["spectral_loss"] / floor if floor > 0 else float("nan")
        result["instruments"][name] = {
            "n_pieces": len(entry["pieces"]), "pieces": entry["pieces"],
            "seconds": round(sum(p["seconds"] for p in entry["pieces"]), 2),
            "corpus": {"band_energy_db": corpus_bands}, "systems": systems}
    keys = ("spectral_loss", "floor_ratio", "harmonic_level_db", "centroid_abs_hz",
            "centroid_bias_hz", "attack_db", "frechet")
    for label in labels:
        per = [inst["systems"][label] for inst in result["instruments"].values()]
        overall = {k: mean_of(s[k] for s in per) for k in keys}
        overall["band_delta_db"] = [mean_of(s["band_delta_db"][j] for s in per) for j in range(len(BANDS_HZ))]
        overall["max_floor_ratio"] = float(max(s["floor_ratio"] for s in per))
        result["overall"][label] = overall
    result["settings"] = {"seed": seed, "crepe_model": crepe_model, "attack_s": ATTACK_S,
                          "bands_hz": [list(b) for b in BANDS_HZ], "render": "dry, seed 0",
                          "embedding_hop_s": EMBEDDING_HOP_S}
    return result


def control_fidelity(synthesis_generator_path: "str | os.PathLike[str]", *,
                     instruments: Sequence[str] = ("violin", "flute", "trumpet"),
                     registers: Sequence[str] = ("middle",), seed: int = 0) -> dict:
    """Control fidelity from audio (``control_sweeps.control_sweep``) of one Synthesis
    Generator on a reduced grid: control -> {"r", "slope", "worst_slope", "n_cells"}, means over
    the cells (instrument x register) that can reach the control."""
    from midi_ddsp.control_sweeps import control_sweep, reachable, summarize_sweep
    from midi_ddsp.expression import EXPRESSION_NAMES
    from midi_ddsp.pretrained import load_pretrained_model

    model = load_pretrained_model(synthesis_generator_path=synthesis_generator_path)
    out = {}
    for control in EXPRESSION_NAMES:
        fits = [summarize_sweep(control_sweep(model, inst, reg, control, seed=seed), control)["fidelity"]
                for inst in instruments for reg in registers
                if reachable(control, inst, reg) is None]
        slopes = [f["slope"] for f in fits if np.isfinite(f["slope"])]
        out[control] = {"r": mean_of(f["r"] for f in fits), "slope": mean_of(slopes),
                        "worst_slope": float(min(slopes)) if slopes else float("nan"),
                        "n_cells": len(fits)}
    return out


# ---------------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------------
def _f(x, digits: int = 2) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def summary_lines(metrics: dict) -> list[str]:
    """One line per system of the overall timbre numbers (for other reports)."""
    lines = []
    for label, s in metrics["overall"].items():
        bands = "/".join(_f(v, 1) for v in s["band_delta_db"])
        lines.append(f"{label}: spectral loss {_f(s['spectral_loss'], 3)} ({_f(s['floor_ratio'])}x "
                     f"floor, worst {_f(s['max_floor_ratio'])}x), harmonic levels "
                     f"{_f(s['harmonic_level_db'])} dB, centroid {_f(s['centroid_abs_hz'], 0)} Hz, "
                     f"attack {_f(s['attack_db'])} dB, Fréchet {_f(s['frechet'])}, "
                     f"band energy vs corpus (2-4/4-6/6-8 kHz) {bands} dB")
    return lines


def timbre_markdown(metrics: dict, *, title: str = "Timbre fidelity") -> str:
    """Markdown report of ``evaluate_timbre`` output (generated, never typed)."""
    labels = list(metrics["overall"])
    out = [f"# {title}", "", "Generated by `midi_ddsp.timbre_evaluation` "
           f"({metrics.get('generated', '')}).", ""]
    if metrics.get("command"):
        out += [f"Command: `{metrics['command']}`", ""]
    if metrics.get("models"):
        out += ["Models: " + ", ".join(f"`{k}` = {v}" for k, v in metrics["models"].items()), ""]
    out += ["Every render is dry (like the corpus audio: FluidSynth reverb and chorus off), seed 0. "
            "`floor` = the corpus's analysed parameters resynthesised; `ddsp_inference` = DDSP "
            "Inference on the same audio. Spectral loss: DESIGN §8 multi-scale (lower is better); "
            "harmonic levels: mean |dB error| of each harmonic re. the frame's harmonic total on "
            "sustained frames; centroid: mean |error| of the spectral-centroid track; attack: mean "
            "|dB error| of 256-point spectra over the first 60 ms of notes; Fréchet: CREPE (tiny) "
            "penultimate-layer embeddings of in-note frames, renders vs corpus, per instrument; "
            "bands: energy in 2-4 / 4-6 / 6-8 kHz re. total, render minus corpus (dB). "
            f"`<model>{DIAGNOSTIC_SUFFIX}` (diagnostic): the model's amplitude, harmonics and noise "
            "rendered on the corpus f0, so the pitch contour is out of the comparison.", "",
            "## Overall (mean over instruments)", "",
            "| system | spectral loss | × floor (worst) | harmonic dB | centroid Hz (bias) | "
            "attack dB | Fréchet | Δ2-4 | Δ4-6 | Δ6-8 kHz dB |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for label in labels:
        s = metrics["overall"][label]
        out.append(f"| {label} | {_f(s['spectral_loss'], 3)} | {_f(s['floor_ratio'])} "
                   f"({_f(s['max_floor_ratio'])}) | {_f(s['harmonic_level_db'])} | "
                   f"{_f(s['centroid_abs_hz'], 0)} ({_f(s['centroid_bias_hz'], 0)}) | "
                   f"{_f(s['attack_db'])} | {_f(s['frechet'])} | "
                   + " | ".join(_f(v, 1) for v in s["band_delta_db"]) + " |")
    out += ["", "## Per instrument", "",
            "| instrument | system | spectral loss | × floor | harmonic dB | centroid Hz | "
            "attack dB | Fréchet | bands 2-4/4-6/6-8 kHz dB (corpus) |",
            "|---|---|---|---|---|---|---|---|---|"]
    for name, inst in metrics["instruments"].items():
        corpus = "/".join(_f(v, 1) for v in inst["corpus"]["band_energy_db"])
        for label in labels:
            s = inst["systems"][label]
            bands = "/".join(_f(v, 1) for v in s["band_energy_db"])
            out.append(f"| {name} ({inst['n_pieces']} × {inst['seconds'] / max(inst['n_pieces'], 1):.1f} s) "
                       f"| {label} | {_f(s['spectral_loss'], 3)} | {_f(s['floor_ratio'])} | "
                       f"{_f(s['harmonic_level_db'])} | {_f(s['centroid_abs_hz'], 0)} | "
                       f"{_f(s['attack_db'])} | {_f(s['frechet'])} | {bands} ({corpus}) |")
    sgs = [k for k in labels if k not in SYSTEMS_REFERENCE and not k.endswith(DIAGNOSTIC_SUFFIX)]
    out += ["", "## Targets (issue 15)", "",
            "Spectral loss within 1.2x the floor for every instrument; Fréchet distance half of "
            f"the first model's (`{sgs[0]}`).", ""]
    for label in sgs:
        s = metrics["overall"][label]
        n_ok = sum(inst["systems"][label]["floor_ratio"] <= 1.2
                   for inst in metrics["instruments"].values())
        ratio = s["frechet"] / metrics["overall"][sgs[0]]["frechet"] \
            if metrics["overall"][sgs[0]]["frechet"] > 0 else float("nan")
        out.append(f"- `{label}`: {n_ok} of {len(metrics['instruments'])} instruments within 1.2x "
                   f"the floor (worst {_f(s['max_floor_ratio'])}x); Fréchet {_f(ratio)}x "
                   f"`{sgs[0]}`'s")
    fidelity = metrics.get("control_fidelity")
    if fidelity:
        grid = metrics["settings"].get("fidelity_grid", {})
        names = list(next(iter(fidelity.values())))
        out += ["", "## Control fidelity from audio (reduced grid: "
                f"{', '.join(grid.get('instruments', []))}; {', '.join(grid.get('registers', []))} "
                "register)", "", "slope (r) of the re-extracted control against the requested "
                "one, mean over the grid; worst slope in brackets.", "",
                "| model | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for label, per in fidelity.items():
            out.append(f"| {label} | " + " | ".join(
                f"{_f(per[c]['slope'])} ({_f(per[c]['r'])}; {_f(per[c]['worst_slope'])})"
                for c in names) + " |")
    for section in metrics.get("extra_sections", []):
        out += ["", section]
    return "\n".join(out) + "\n"


def run_timbre_evaluation(data_dir: "str | os.PathLike[str]", out_dir: "str | os.PathLike[str]", *,
                          models: "Mapping[str, str | os.PathLike[str]] | None" = None,
                          ddsp_inference_path: "str | os.PathLike[str] | None" = None,
                          instruments: "Sequence[str] | None" = None,
                          pieces_per_instrument: int = 3, max_seconds: float = 8.0, seed: int = 0,
                          command: "str | None" = None, stem: str = "timbre",
                          fidelity_instruments: Sequence[str] = (),
                          fidelity_registers: Sequence[str] = ("middle",),
                          corpus_f0_diagnostic: bool = False) -> dict:
    """Load the corpus test pieces and the models, run ``evaluate_timbre``, write
    ``out_dir/<stem>_metrics.json`` and ``out_dir/<stem>_evaluation.md``; returns the metrics.

    ``models``: label -> Synthesis Generator checkpoint (default: the shipped one as
    ``"shipped"``); ``ddsp_inference_path``: default the shipped DDSP Inference (None when it
    is missing). With ``fidelity_instruments``, also ``control_fidelity`` of every model on
    that grid (``metrics["control_fidelity"][label]``).
    """
    from midi_ddsp.models import load_model, shipped_checkpoint_path

    models = dict(models or {"shipped": shipped_checkpoint_path("synthesis_generator")})
    sgs = {label: load_model(path, kind="synthesis_generator") for label, path in models.items()}
    di_path = ddsp_inference_path or shipped_checkpoint_path("ddsp_inference")
    di = load_model(di_path, kind="ddsp_inference") if di_path and Path(di_path).is_file() else None
    t0 = time.time()
    pieces = load_test_pieces(data_dir, instruments=instruments,
                              pieces_per_instrument=pieces_per_instrument, max_seconds=max_seconds)
    metrics = evaluate_timbre(pieces, synthesis_generators=sgs, ddsp_inference=di, seed=seed,
                              corpus_f0_diagnostic=corpus_f0_diagnostic)
    metrics["generated"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    metrics["wall_time_s"] = round(time.time() - t0, 1)
    metrics["models"] = {label: str(path) for label, path in models.items()}
    if di is not None:
        metrics["models"]["ddsp_inference"] = str(di_path)
    metrics["data"] = str(data_dir)
    build = Path(data_dir) / "build.json"
    if build.is_file():
        settings = json.loads(build.read_text(encoding="utf-8"))
        metrics["data_version"] = f"corpus v{settings.get('corpus_version', 1)} (seed {settings.get('seed')})"
    metrics["settings"].update({"pieces_per_instrument": pieces_per_instrument,
                                "max_seconds": max_seconds})
    if fidelity_instruments:
        metrics["settings"]["fidelity_grid"] = {"instruments": list(fidelity_instruments),
                                                "registers": list(fidelity_registers)}
        metrics["control_fidelity"] = {
            label: control_fidelity(path, instruments=fidelity_instruments,
                                    registers=fidelity_registers, seed=seed)
            for label, path in models.items()}
        metrics["wall_time_s"] = round(time.time() - t0, 1)
    if command:
        metrics["command"] = command
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _write(out / f"{stem}_metrics.json", json.dumps(metrics, indent=1, allow_nan=True) + "\n")
    _write(out / f"{stem}_evaluation.md", timbre_markdown(metrics))
    return metrics


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def main(argv=None) -> int:
    """Timbre fidelity of Synthesis Generator checkpoints on a corpus's test pieces.

    Writes OUT/<stem>_metrics.json and OUT/<stem>_evaluation.md.
    """
    parser = argparse.ArgumentParser(prog="python -m midi_ddsp.timbre_evaluation",
                                     description=main.__doc__)
    parser.add_argument("--data", required=True, help="corpus folder (manifest.jsonl + shards)")
    parser.add_argument("--out", required=True, help="report folder")
    parser.add_argument("--model", action="append", metavar="LABEL=PT",
                        help="a Synthesis Generator checkpoint to evaluate (repeatable; default "
                             "shipped=the shipped checkpoint)")
    parser.add_argument("--ddsp-inference", metavar="PT", help="DDSP Inference checkpoint "
                                                               "(default: the shipped one)")
    parser.add_argument("--instruments", nargs="+", help="default: every instrument of the split")
    parser.add_argument("--pieces-per-instrument", type=int, default=3)
    parser.add_argument("--max-seconds", type=float, default=8.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--stem", default="timbre", help="file name stem of the outputs")
    parser.add_argument("--fidelity-instruments", nargs="*", default=[],
                        help="also sweep the six controls on these instruments (control "
                             "fidelity from audio, control_sweeps.control_sweep)")
    parser.add_argument("--fidelity-registers", nargs="+", default=["middle"],
                        choices=["low", "middle", "high"])
    parser.add_argument("--corpus-f0-diagnostic", action="store_true",
                        help="also render each model's output on the corpus f0")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    import torch

    torch.set_num_threads(max(1, args.threads))
    models = None
    if args.model:
        models = {}
        for item in args.model:
            label, sep, path = item.partition("=")
            if not sep or not label or not path:
                print(f"timbre_evaluation: error: --model expects LABEL=PATH, got {item!r}",
                      file=sys.stderr)
                return 2
            models[label] = path
    command = "python -m midi_ddsp.timbre_evaluation " + " ".join(
        argv if argv is not None else sys.argv[1:])
    try:
        metrics = run_timbre_evaluation(args.data, args.out, models=models,
                                        ddsp_inference_path=args.ddsp_inference,
                                        instruments=args.instruments,
                                        pieces_per_instrument=args.pieces_per_instrument,
                                        max_seconds=args.max_seconds, seed=args.seed,
                                        command=command, stem=args.stem,
                                        fidelity_instruments=args.fidelity_instruments,
                                        fidelity_registers=args.fidelity_registers,
                                        corpus_f0_diagnostic=args.corpus_f0_diagnostic)
    except (MidiDDSPError, OSError) as exc:
        print(f"timbre_evaluation: error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(summary_lines(metrics)))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
