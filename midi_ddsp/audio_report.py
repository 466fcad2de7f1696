"""Run the audio-domain evaluation and write its report: JSON, markdown and plots.

``run_audio_evaluation(pieces, models=..., out_dir=...)`` renders every piece with the default
pipeline and with FluidSynth, sweeps the six controls per instrument and register, and writes
``audio_metrics.json``, ``audio_evaluation.md`` and the plots (loudness envelopes beside
FluidSynth's, spectrograms, control-fidelity curves) into ``out_dir``. The measures are those of
``midi_ddsp.audio_evaluation``; the targets are ``TARGETS``.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from midi_ddsp.audio_evaluation import PieceSpec, evaluate_piece
from midi_ddsp.control_sweeps import (
    EXTRA_MEASURES,
    REGISTERS,
    control_sweep,
    expression_probes,
    reachable,
    summarize_sweep,
    vibrato_depth,
    vibrato_rate_response,
)
from midi_ddsp.expression import EXPRESSION_NAMES
from midi_ddsp.instruments import get_instrument

__all__ = ["TARGETS", "run_audio_evaluation", "summary_lines"]

#: instruments the performance-prior probes play (one or two per family)
PROBE_INSTRUMENTS = ("violin", "cello", "flute", "clarinet", "trumpet", "horn")

logger = logging.getLogger(__name__)

TARGETS = {"in_note_active": 0.98, "raw_pitch_accuracy": 0.97, "abs_drift_db": 3.0,
           "part_spread_db": 6.0, "fidelity_r": 0.9, "fidelity_slope": 0.7}


def _finite(values) -> list:
    return [float(v) for v in values if v is not None and np.isfinite(v)]


def _piece_summary(pieces: list) -> dict:
    out = {}
    for renderer in ("midi_ddsp", "fluidsynth"):
        rows = [p[renderer] for p in pieces if renderer in p]
        if not rows:
            continue
        out[renderer] = {
            key: float(np.mean(_finite(r[key] for r in rows)))
            for key in ("raw_pitch_accuracy", "median_abs_cents", "in_note_active",
                        "after_note_silent", "f1")}
        drifts = _finite(r["dynamics"]["worst_drift_db"] for r in rows)
        out[renderer]["mean_abs_drift_db"] = float(np.mean(np.abs(drifts))) if drifts else float("nan")
        out[renderer]["worst_abs_drift_db"] = float(np.max(np.abs(drifts))) if drifts else float("nan")
        spreads = [r["dynamics"]["part_spread_db"] for p, r in zip(pieces, rows) if p["n_parts"] > 1]
        out[renderer]["worst_part_spread_db"] = float(max(spreads)) if spreads else float("nan")
    return out


def _sweeps(models, instruments: Sequence[str], registers: Sequence[str], seed: int) -> dict:
    results: dict = {}
    for instrument in instruments:
        for register in registers:
            for control in EXPRESSION_NAMES:
                sweep = control_sweep(models, instrument, register, control, seed=seed)
                summary = summarize_sweep(sweep, control)
                summary["unreachable"] = reachable(control, instrument, register)
                summary["curve"] = _curve(sweep, control)
                results.setdefault(instrument, {}).setdefault(register, {})[control] = summary
    return results


def _curve(sweep: dict, control: str) -> list:
    x = np.asarray(sweep["requested"])
    y = np.asarray(sweep["measured"][control])
    return [float(np.nanmean(y[np.isclose(x, v)])) for v in np.unique(x)]


def _fidelity_table(sweeps: dict) -> dict:
    """control -> {"r", "slope", "rmse"}: means over instruments and registers that can reach it."""
    out = {}
    for control in EXPRESSION_NAMES:
        rows = [reg[control] for inst in sweeps.values() for reg in inst.values()
                if reg[control]["unreachable"] is None]
        def stat(fn, src):
            values = _finite(r["fidelity"][src] for r in rows)
            return float(fn(values)) if values else float("nan")

        out[control] = {k: stat(np.mean, src)
                        for k, src in (("r", "r"), ("slope", "slope"), ("rmse", "rmse_identity"))}
        out[control]["worst_slope"] = stat(np.min, "slope")
        out[control]["n_cells"] = len(rows)
    return out


def _cross_matrix(sweeps: dict) -> dict:
    """family -> swept control -> measured quantity -> mean slope per unit (instruments and
    registers of the family pooled)."""
    out: dict = {}
    for instrument, regs in sweeps.items():
        family = get_instrument(instrument).family
        for reg in regs.values():
            for control, summary in reg.items():
                cell = out.setdefault(family, {}).setdefault(control, {})
                for name, slope in {**summary["cross_effects"], **summary["extras"]}.items():
                    cell.setdefault(name, []).append(slope)
    return {fam: {c: {k: float(np.nanmean(v)) for k, v in cells.items()} for c, cells in rows.items()}
            for fam, rows in out.items()}


def run_audio_evaluation(pieces: Sequence[PieceSpec], *, models, out_dir, instruments=None,
                         registers: Sequence[str] = REGISTERS, fluidsynth: bool = True,
                         seed: int = 0, plots: bool = True, extra: "dict | None" = None) -> dict:
    """Evaluate ``pieces`` and the control sweeps; write the report into ``out_dir``.

    Args:
        pieces: test pieces (``data_pipeline.test_pieces.write_test_pieces``).
        models: the ``MidiDDSP`` bundle evaluated (its ``checkpoints`` are recorded).
        instruments: instruments of the control sweeps (default: those of the solo pieces).
        extra: more JSON-friendly facts to record (command line, data version).

    Returns:
        the metrics dict written to ``audio_metrics.json``.
    """
    from midi_ddsp.crepe import CrepePitchTracker

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    tracker = CrepePitchTracker("tiny")
    results, renders = [], {}
    plotted = {p.name for p in list(pieces[:2]) + [p for p in pieces if p.kind == "ensemble"][:1]}
    for piece in pieces:
        logger.info("piece %s", piece.name)
        result = evaluate_piece(piece, models=models, fluidsynth=fluidsynth, tracker=tracker,
                                keep_audio=plots and piece.name in plotted)
        if "audio" in result:
            from midi_ddsp.audio_plots import plot_piece

            path = out_dir / f"audio_{piece.name}.png"
            plot_piece(piece.name, result.pop("audio"), sample_rate=result.pop("sample_rate"),
                       path=path)
            renders[piece.name] = path.name
        results.append(result)
    if instruments is None:
        instruments = [p.name.removeprefix("solo_") for p in pieces if p.kind == "solo"]
    logger.info("control sweeps")
    sweeps = _sweeps(models, instruments, registers, seed)
    probe_set = [n for n in PROBE_INSTRUMENTS if n in instruments] or list(instruments[:4])
    probes = [expression_probes(models, name, seed=seed) for name in probe_set]
    depth = [vibrato_depth(models, name, seed=seed) for name in instruments]
    reads_rates = bool(getattr(getattr(models.synthesis_generator, "config", None),
                               "vibrato_rate_input", False))
    rates = ([vibrato_rate_response(models, name, seed=seed) for name in instruments]
             if reads_rates else [])
    metrics = {
        "checkpoints": dict(getattr(models, "checkpoints", {}) or {}),
        "targets": TARGETS, "pieces": results, "summary": _piece_summary(results),
        "control_fidelity": _fidelity_table(sweeps), "sweeps": sweeps,
        "cross_effects": _cross_matrix(sweeps), "probes": probes, "vibrato_depth": depth, "vibrato_rate": rates,
        "wall_time_s": round(time.time() - t0, 1),
        **(extra or {}),
    }
    (out_dir / "audio_metrics.json").write_text(json.dumps(metrics, indent=1, sort_keys=True))
    if plots:
        from midi_ddsp.audio_plots import plot_fidelity

        plot_fidelity(sweeps, out_dir / "audio_control_fidelity.png")
    (out_dir / "audio_evaluation.md").write_text(_markdown(metrics, renders))
    return metrics


def summary_lines(metrics: dict) -> list[str]:
    """The headline numbers, one markdown bullet each (README, model cards)."""
    s = metrics["summary"]
    ours, fs = s.get("midi_ddsp", {}), s.get("fluidsynth", {})

    def both(key, fmt):
        return fmt.format(ours.get(key, float("nan"))) + (
            f" (FluidSynth {fmt.format(fs[key])})" if key in fs else "")

    fid = metrics["control_fidelity"]
    return [
        f"- pitch accuracy at 50 cents: {both('raw_pitch_accuracy', '{:.3f}')}; median error "
        f"{both('median_abs_cents', '{:.1f}')} cents",
        f"- in-note activity: {both('in_note_active', '{:.3f}')}; silent after the notes: "
        f"{both('after_note_silent', '{:.3f}')}",
        f"- level drift, last fifth minus first fifth of the notes: mean |drift| "
        f"{ours.get('mean_abs_drift_db', float('nan')):.1f} dB, worst "
        f"{ours.get('worst_abs_drift_db', float('nan')):.1f} dB; worst part spread "
        f"{ours.get('worst_part_spread_db', float('nan')):.1f} dB",
        f"- onset F1 at 50 ms: {both('f1', '{:.3f}')}",
        "- control fidelity from audio (r / slope): " + ", ".join(
            f"{c} {fid[c]['r']:.2f}/{fid[c]['slope']:.2f}" for c in EXPRESSION_NAMES),
    ] + _rate_summary(metrics.get("vibrato_rate") or [])


def _rate_summary(rates: list) -> list[str]:
    """One bullet: the vibrato rate heard per rate asked (median over instruments)."""
    if not rates:
        return []
    asked = list(rates[0]["by_rate"])
    heard = {x: float(np.median([r["by_rate"][x]["measured_hz"] for r in rates])) for x in asked}
    worst = max(abs(r["by_rate"][x]["measured_hz"] - float(x)) for r in rates for x in asked)
    return ["- vibrato rate from audio, asked -> heard (median over instruments): " + ", ".join(
        f"{x} -> {heard[x]:.2f} Hz" for x in asked) + f"; worst error {worst:.2f} Hz"]


def _markdown(metrics: dict, renders: dict) -> str:
    lines = ["# Audio-domain evaluation", "",
             "Generated by `midi_ddsp_evaluate` (`midi_ddsp.audio_report`); every number is "
             "measured on rendered audio of whole test pieces (default pipeline, default "
             "sampling) beside FluidSynth on the same MIDI. Definitions: "
             "`midi_ddsp.audio_evaluation`.", "",
             f"Checkpoints: {json.dumps(metrics['checkpoints'])}", "",
             "## Headline", "", *summary_lines(metrics), "",
             f"Targets: {json.dumps(metrics['targets'])}", "",
             "## Pieces", "",
             "| piece | s | notes | parts | pitch acc. (FS) | cents | active (FS) | onset F1 (FS) | "
             "drift dB | slope dB/min | part spread dB |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for p in metrics["pieces"]:
        o, f = p["midi_ddsp"], p.get("fluidsynth", {})
        dyn = o["dynamics"]
        slopes = [v["slope_db_per_min"] for v in dyn["parts"].values()]
        lines.append(
            f"| {p['name']} | {p['duration_s']:.0f} | {p['n_notes']} | {p['n_parts']} | "
            f"{o['raw_pitch_accuracy']:.3f} ({f.get('raw_pitch_accuracy', float('nan')):.3f}) | "
            f"{o['median_abs_cents']:.1f} | {o['in_note_active']:.3f} "
            f"({f.get('in_note_active', float('nan')):.3f}) | {o['f1']:.2f} ({f.get('f1', float('nan')):.2f}) | "
            f"{dyn['worst_drift_db']:+.1f} | {np.mean(slopes) if slopes else float('nan'):+.1f} | "
            f"{dyn['part_spread_db']:.1f} |")
    lines += ["", "## Control fidelity from audio", "",
              "Each control swept 0 -> 1 (11 values x 3 notes) per instrument and register, the "
              "others at 0.5; rendered dry, analysed with the known f0, re-extracted. Means over "
              "the instruments and registers that can reach the range.", "",
              "| control | r | slope | RMSE vs identity | worst slope |", "|---|---|---|---|---|"]
    for c, v in metrics["control_fidelity"].items():
        lines.append(f"| {c} | {v['r']:.2f} | {v['slope']:.2f} | {v['rmse']:.2f} | {v['worst_slope']:.2f} |")
    unreachable = sorted({f"{inst} {reg}: {s['unreachable']}"
                          for inst, regs in metrics["sweeps"].items() for reg, cs in regs.items()
                          for s in cs.values() if s["unreachable"]})
    if unreachable:
        lines += ["", "Where a control cannot reach 0..1 (left out of the means):", ""]
        lines += [f"- {u}" for u in unreachable]
    lines += ["", "Per instrument and register (slope of the fit):", "",
              "| instrument | register | " + " | ".join(EXPRESSION_NAMES) + " |",
              "|---|---|" + "---|" * len(EXPRESSION_NAMES)]
    for inst, regs in metrics["sweeps"].items():
        for reg, cs in regs.items():
            lines.append(f"| {inst} | {reg} | " + " | ".join(
                f"{cs[c]['fidelity']['slope']:.2f}" for c in EXPRESSION_NAMES) + " |")
    lines += ["", "## Cross-effects", "",
              "Slope of each measured quantity per unit of the swept control (rows), pooled over "
              "the instruments and registers of a family; the diagonal (—) is the fidelity "
              "slope of the table above. Extras: sustain noise and loudness in dB, centroid in harmonic numbers, "
              "sounding length in s, median pitch in cents."]
    cols = list(EXPRESSION_NAMES) + list(EXTRA_MEASURES)
    for family, rows in metrics["cross_effects"].items():
        lines += ["", f"**{family}**", "", "| swept | " + " | ".join(cols) + " | largest off-diagonal |",
                  "|---|" + "---|" * (len(cols) + 1)]
        for control, cells in rows.items():
            off = {k: v for k, v in cells.items() if k in EXPRESSION_NAMES}
            worst = max(off, key=lambda k: abs(off[k])) if off else ""
            lines.append(f"| {control} | " + " | ".join(
                "—" if c == control else f"{cells.get(c, float('nan')):+.2f}" for c in cols)
                + f" | {worst} {off.get(worst, float('nan')):+.2f} |")
    if metrics.get("probes"):
        lines += ["", "## Probes of the performance prior", "",
                  "Four 8-note phrases at constant velocity, temperature 0 (`expression_probes`): "
                  "loudness of each phrase's last note minus its loudest note, from the audio; "
                  "NoteTable vibrato of notes over 0.6 s and under 0.2 s; a rising 8-note line at "
                  "constant velocity under a crescendo wedge (the mark alone, `NoteMarks`) and "
                  "without it: Spearman r of note loudness against note order and the rise (last "
                  "two notes minus the first two, dB), from the audio.", "",
                  "| instrument | phrase end - peak dB | vibrato, long notes | vibrato, short notes "
                  "| crescendo r | crescendo rise dB | unmarked r | unmarked rise dB |",
                  "|---|---|---|---|---|---|---|---|"]
        lines += [f"| {p['instrument']} | {p['final_minus_peak_db']:+.1f} | {p['vibrato_long']:.2f} | "
                  f"{p['vibrato_short']:.2f} | {p.get('crescendo_spearman', float('nan')):.2f} | "
                  f"{p.get('crescendo_rise_db', float('nan')):+.1f} | "
                  f"{p.get('plain_spearman', float('nan')):.2f} | "
                  f"{p.get('plain_rise_db', float('nan')):+.1f} |" for p in metrics["probes"]]
    if metrics.get("vibrato_depth"):
        lengths = list(metrics["vibrato_depth"][0]["by_note_s"])
        lines += ["", "## Vibrato 1.0 by note length", "",
                  f"Pitch swing (sinusoidal half-extent, cents) of the generated f0 on middle-register "
                  f"notes with vibrato 1.0 (`vibrato_depth`); documented: ±"
                  f"{metrics['vibrato_depth'][0]['documented_cents']:g} cents. In brackets the "
                  "re-extracted vibrato.", "",
                  "| instrument | " + " | ".join(f"{x} s" for x in lengths) + " |",
                  "|---|" + "---|" * len(lengths)]
        for row in metrics["vibrato_depth"]:
            lines.append(f"| {row['instrument']} | " + " | ".join(
                f"±{row['by_note_s'][x]['cents']:.0f} ({row['by_note_s'][x]['extracted']:.2f})"
                for x in lengths) + " |")
    if metrics.get("vibrato_rate"):
        asked = list(metrics["vibrato_rate"][0]["by_rate"])
        lines += ["", "## Vibrato rate", "",
                  "Rate measured from the audio (CREPE f0, the extractor's spectral peak; median "
                  "over 0.8- and 1.6-s middle-register notes, vibrato 0.8) when the NoteTable's "
                  "`vibrato_rate` asks for each rate (`vibrato_rate_response`).", "",
                  "| instrument | " + " | ".join(f"{x} Hz asked" for x in asked) + " |",
                  "|---|" + "---|" * len(asked)]
        for row in metrics["vibrato_rate"]:
            lines.append(f"| {row['instrument']} | " + " | ".join(
                f"{row['by_rate'][x]['measured_hz']:.2f}" for x in asked) + " |")
    if renders:
        lines += ["", "## Plots", ""]
        lines += [f"![{name}]({path})" for name, path in renders.items()]
        lines += ["", "![control fidelity](audio_control_fidelity.png)"]
    lines += ["", f"Wall time: {metrics['wall_time_s']} s."]
    return "\n".join(lines) + "\n"
