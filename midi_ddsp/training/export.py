"""Export a trained run to a shipped checkpoint with its model card (JSON + markdown).

usage: python -m midi_ddsp.training.export --run runs/synthesis --out checkpoints
           [--which best|model] [--metrics reports/metrics.json] [--note TEXT ...]

Writes ``<out>/<kind>.pt`` (model checkpoint, no optimizer state), ``<out>/<kind>.json`` (model
card) and ``<out>/<kind>.md`` (the card rendered for people).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from midi_ddsp.models.checkpoint import load_model, shipped_checkpoint_stem

__all__ = ["export_run", "main"]

_METRIC_KEYS = {
    "synthesis_generator": ("audio", "sg_expression_rmse", "control_fidelity", "pitch", "speed",
                            "timbre"),
    "expression_generator": ("audio", "eg_teacher_forced_rmse", "pitch", "speed"),
    "ddsp_inference": ("resynthesis", "recordings"),
}

_DESCRIPTIONS = {
    "synthesis_generator": (
        "Frame-parallel Synthesis Generator: NoteTable (notes + 6 expressions; with "
        "vibrato_rate_input each note's vibrato_rate column too, which tunes its oscillator "
        "features) + instrument -> "
        "f0 deviation, amplitude, harmonic distribution (harmonics at or above the 8 kHz "
        "Nyquist removed, get_controls), noise magnitudes at 250 Hz. Trained by regression to "
        "analysed params plus a differentiable expression-consistency loss; parameter-space "
        "augmentation (the share of notes: --augment-prob of the command): the harmonic "
        "distribution tilted by k^g (g ~ U(-1, 1)), and the onset's noise moved to a level drawn "
        "over attack -0.2..1.2 whatever the sustain's (a burst or cut decaying in 10-25 ms, random "
        "spectral tilt; the sustain moves < 1 dB), before expression extraction; for "
        "--perturb-prob of the notes one control of the conditioning is replaced by U(0, top) "
        "(top = 1, for brightness the bound the note's harmonics below Nyquist allow) with only "
        "the expression-consistency loss; --vibrato-augment-prob of the plain notes get a "
        "vibrato of random depth in phase with their oscillator features added to the f0 "
        "target. The reverb is a parametric room (midi_ddsp.dsp.rooms "
        "presets), not part of the model."),
    "expression_generator": (
        "Expression Generator: bidirectional GRU note encoder + autoregressive GRU decoder over "
        "notes -> mean and log-std of the 6 expressions (with vibrato_rate_output a 7th, the "
        "vibrato rate); teacher-forced MSE + Gaussian NLL. "
        "Inputs per note: pitch, duration, gaps, velocity, phrase position, phrase start/end, "
        "metrical weight (midi_ddsp.phrasing; nothing depends on the part's length); trained on "
        "whole pieces and random runs of notes; generates a whole part at once (the level holds over "
        "parts of any length); sampling temperature (0 = means)."),
    "causal_synthesis_generator": (
        "Causal Synthesis Generator for live playing (midi_ddsp.streaming, midi_ddsp_live): the "
        "Synthesis Generator's inputs and outputs, but causal dilated convolutions (each frame "
        "sees the past 1.5 s only) and a conditioning known at each frame when notes arrive "
        "live (features.causal_note_frame_features: held pitch, is_note, onset, velocity, time "
        "since the onset and since the release, the rest before the note, vibrato-rate phases; "
        "no note length, position or time to the offset). Trained from scratch with the "
        "Synthesis Generator's losses and augmentation (see its card)."),
    "ddsp_inference": (
        "DDSP Inference: log-mel (64) + what the STFT measures (the amplitude heard at each "
        "harmonic of f0, the noise floor per band) + f0 + loudness + instrument -> "
        "corrections to those measurements: amplitude, harmonic distribution, noise "
        "magnitudes (the head starts at zero: at the measurement). "
        "Regression to analysed params with recording augmentation (midi_ddsp.recorded): "
        "rows re-voiced (noise level and harmonic tilt drawn, rendered, exact targets; "
        "--revoice-prob), recorded (a random room and noise, resynthesised as heard: "
        "spectral loss only; --augment-prob), a pitch tracker's f0 errors (--perturb-prob), a random gain "
        "(--gain-db), plus the multi-scale spectral loss of the dry resynthesis on the input f0 "
        "(--spectral-loss-weight)."),
}


def _markdown(card: dict) -> str:
    lines = [f"# Model card: {card['kind']}", "", card.get("description", ""), ""]
    for key in ("command", "n_parameters", "steps", "wall_time_s", "data", "data_version",
                "init_from", "n_train_examples", "valid_loss", "file_size_bytes"):
        if key in card:
            lines.append(f"- **{key}**: {card[key]}")
    audio = (card.get("metrics") or {}).get("audio")
    if audio:
        from midi_ddsp.audio_report import summary_lines

        lines += ["", "## Measured on audio (reports/audio_evaluation.md, whole test pieces, "
                  "default pipeline, beside FluidSynth)", "", *summary_lines(audio)]
    recordings = (card.get("metrics") or {}).get("recordings")
    if recordings:
        from midi_ddsp.inference_evaluation import report_lines

        lines += ["", "## Measured on recordings (python -m midi_ddsp.inference_evaluation)", "",
                  *report_lines(recordings)]
    if card.get("metrics"):
        lines += ["", "## Measured metrics (test split)", "", "```json",
                  json.dumps(card["metrics"], indent=1, sort_keys=True), "```"]
    if card.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {n}" for n in card["notes"]]
    lines += ["", "## Configs", "", "```json", json.dumps(
        {"model_config": card.get("model_config"), "train_config": card.get("train_config")},
        indent=1, sort_keys=True), "```", ""]
    return "\n".join(lines)


def export_run(run_dir: "str | os.PathLike[str]", out_dir: "str | os.PathLike[str]", *,
               which: str = "best", metrics: "dict | None" = None,
               notes: "list[str] | None" = None, command: "str | None" = None,
               data_version: "str | None" = None) -> tuple[Path, Path, Path]:
    """Export ``run_dir/<which>.pt`` to ``out_dir/<kind>.pt`` + ``.json`` + ``.md`` cards
    (``causal_<kind>`` for the causal Synthesis Generator of live playing)."""
    import dataclasses
    model = load_model(Path(run_dir) / f"{which}.pt")
    card = dict(model.model_card)
    card["kind"] = model.kind
    causal = bool(getattr(model.config, "causal", False))
    stem = shipped_checkpoint_stem(model.kind, causal=causal)
    card["description"] = _DESCRIPTIONS[stem]
    card["model_config"] = dataclasses.asdict(model.config)
    if Path(run_dir).resolve() != Path(out_dir).resolve():  # re-carding keeps the provenance
        card["source_run"] = str(run_dir)
        card["source_checkpoint"] = f"{which}.pt"
    if metrics:
        card["metrics"] = {k: metrics[k] for k in _METRIC_KEYS[model.kind] if k in metrics}
        card["metrics_data"] = metrics.get("data")
    if notes:
        card["notes"] = list(notes)
    if command:
        card["command"] = command
    if data_version:
        card["data_version"] = data_version
    out_dir = Path(out_dir)
    pt = model.save_checkpoint(out_dir / f"{stem}.pt", model_card=card)
    card["file_size_bytes"] = pt.stat().st_size
    model.save_checkpoint(pt, model_card=card)
    js = out_dir / f"{stem}.json"
    js.write_text(json.dumps(card, indent=1, sort_keys=True, default=str) + "\n", encoding="utf-8")
    md = out_dir / f"{stem}.md"
    md.write_text(_markdown(card), encoding="utf-8")
    return pt, js, md


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m midi_ddsp.training.export", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, help="run folder written by midi_ddsp_train")
    p.add_argument("--out", required=True, help="checkpoint folder (e.g. checkpoints/)")
    p.add_argument("--which", default="best",
                   help="checkpoint stem in --run: best (default), model, or e.g. ddsp_inference "
                        "with --run checkpoints to re-card a shipped checkpoint")
    p.add_argument("--metrics", help="metrics.json written by midi_ddsp_evaluate")
    p.add_argument("--note", action="append", default=[], help="a line for the card (repeatable)")
    p.add_argument("--command", help="the command that trained the run (recorded in the card)")
    p.add_argument("--data-version", help="the training data's version, for runs that predate "
                                          "its automatic record (training writes it)")
    args = p.parse_args(argv)
    metrics = json.loads(Path(args.metrics).read_text()) if args.metrics else None
    for path in export_run(args.run, args.out, which=args.which, metrics=metrics, notes=args.note,
                           command=args.command, data_version=args.data_version):
        print(path)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
