"""Parameter-space diagnostics of the three models on the test split of a shard corpus (DESIGN §8;
the headline numbers come from the audio evaluation, ``midi_ddsp.audio_report``).

``evaluate(data_dir, out_dir, ...)`` measures and writes ``evaluation.md``, ``metrics.json`` and
plots into ``out_dir``:

- **resynthesis**: multi-scale spectral loss (FFT 2048..64, L1 magnitude + log magnitude)
  between the test audio and DDSP Inference's params rendered by the DDSP synth (with the
  model's reverb); the same loss for the analysed target params (the analysis floor) for scale;
- **Synthesis Generator expression RMSE**: expressions extracted from the test params (the
  conditioning) vs re-extracted from the SG output for the same notes (paper 0.19);
- **Expression Generator teacher-forced RMSE** (paper 0.14);
- **control fidelity**: for a subsample of test notes longer than 250 ms, one control swept
  0, 0.1, .., 1 (all sampled notes of an example at once, other controls unchanged), SG output
  re-extracted, Pearson r between given and measured values pooled over notes, per control and
  per instrument (paper: .97 .78 .57 .70 .92 .93);
- **pitch**: median absolute error in cents of the f0 of EG+SG+synth renders (YIN on the audio)
  against the written pitch, over the middle half of notes longer than 300 ms;
- **speed**: seconds of audio per wall-clock second for EG + SG + synth (with reverb) on a long
  solo line, models loaded, at the given number of threads.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from midi_ddsp.expression import EXPRESSION_NAMES, extract_note_expressions, expressions_to_frames
from midi_ddsp.instruments import INSTRUMENT_NAMES, INSTRUMENTS
from midi_ddsp.models.features import note_frame_features, note_sequence_features, note_spans
from midi_ddsp.models.synthesis_generator import synthesis_generator_params
from midi_ddsp.score import Note

__all__ = [
    "PAPER",
    "TARGETS",
    "EvaluationResult",
    "synthesis_expression_rmse",
    "expression_teacher_forced_rmse",
    "control_fidelity",
    "resynthesis_loss",
    "render_pitch_error_cents",
    "render_speed",
    "evaluate",
]

logger = logging.getLogger(__name__)

PAPER = {"sg_expression_rmse": 0.19, "eg_teacher_forced_rmse": 0.14,
         "fidelity": dict(zip(EXPRESSION_NAMES, (0.97, 0.78, 0.57, 0.70, 0.92, 0.93)))}
TARGETS = {"sg_expression_rmse": 0.15, "eg_teacher_forced_rmse": 0.14, "fidelity": 0.9,
           "pitch_error_cents": 15.0, "speed_x_realtime": 50.0}
_SWEEP = np.round(np.linspace(0.0, 1.0, 11), 2)
_FIDELITY_MIN_NOTE_S = 0.25
_PITCH_MIN_NOTE_S = 0.3


@dataclasses.dataclass
class EvaluationResult:
    """All measured numbers (``metrics``) and the files written."""

    metrics: dict
    report_path: "Path | None" = None
    files: list = dataclasses.field(default_factory=list)


def _weights(index: int) -> np.ndarray:
    w = np.zeros(len(INSTRUMENTS), np.float32)
    w[index] = 1.0
    return w


def _rmse(a: np.ndarray, b: np.ndarray) -> tuple[float, dict]:
    err = (np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2
    per = {name: float(np.sqrt(err[:, j].mean())) for j, name in enumerate(EXPRESSION_NAMES)}
    return float(np.sqrt(err.mean())), per


def _sg_forward(sg, notes: Sequence[Note], expression_frames: np.ndarray, index: int, *,
                seed: int = 0) -> tuple[dict, np.ndarray]:
    """SG outputs for a batch of expression-frame variants [V, T, 6] of one note sequence."""
    n_variants, n_frames = expression_frames.shape[:2]
    feats, held = note_frame_features(notes, n_frames=n_frames,
                                      frame_rate=sg.signal_config.frame_rate,
                                      causal=sg.config.causal)
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(1, n_frames, sg.config.n_noise, generator=gen).expand(n_variants, -1, -1)
    with torch.no_grad():
        out = sg(torch.from_numpy(feats)[None].expand(n_variants, -1, -1),
                 torch.from_numpy(expression_frames.astype(np.float32)),
                 torch.from_numpy(_weights(index))[None].expand(n_variants, -1), noise)
    return out, held


def synthesis_expression_rmse(sg, records) -> dict:
    """SG expression RMSE: conditioning (extracted from the test params) vs re-extracted output."""
    given, measured = [], []
    fr = sg.signal_config.frame_rate
    for rec in records:
        table = rec_table(rec)
        frames = expressions_to_frames(table, n_frames=rec.n_frames, frame_rate=fr)
        out, held = _sg_forward(sg, rec.notes, frames[None], rec.instrument_index)
        params = synthesis_generator_params(out, held)
        again = extract_note_expressions(params, rec.notes, frame_rate=fr)
        given.append(table[list(EXPRESSION_NAMES)].to_numpy())
        measured.append(again[list(EXPRESSION_NAMES)].to_numpy())
    overall, per = _rmse(np.concatenate(given), np.concatenate(measured))
    return {"rmse": overall, "per_expression": per, "n_notes": int(sum(len(g) for g in given))}


def rec_table(rec):
    """NoteTable of a training ``Record`` (its notes and stored expressions)."""
    import pandas as pd
    data = {"pitch": [n.pitch for n in rec.notes], "onset_s": [n.onset_s for n in rec.notes],
            "offset_s": [n.offset_s for n in rec.notes], "velocity": [n.velocity for n in rec.notes]}
    data.update({name: rec.note_table[:, j] for j, name in enumerate(EXPRESSION_NAMES)})
    return pd.DataFrame(data)


def expression_teacher_forced_rmse(eg, records) -> dict:
    """EG teacher-forced RMSE over all notes of ``records`` (previous note's true expressions);
    for a rate-generating model, also the rates' mean absolute error (Hz, notes with vibrato)."""
    from midi_ddsp.models.sampling import rate_to_unit, unit_to_rate
    from midi_ddsp.training.datasets import RATE_MIN_VIBRATO, VIBRATO_INDEX
    n_expr = len(EXPRESSION_NAMES)
    with_rate = getattr(eg, "n_outputs", n_expr) > n_expr
    given, predicted, rate_errors = [], [], []
    for rec in records:
        feats = torch.from_numpy(note_sequence_features(rec.notes))[None]
        targets = rec.note_table
        if with_rate:
            targets = np.concatenate([targets, rate_to_unit(rec.vibrato_rates)[:, None]], axis=1)
        previous = np.concatenate([np.zeros((1, targets.shape[1]), np.float32), targets[:-1]])[None]
        with torch.no_grad():
            mean, _ = eg(feats, torch.from_numpy(_weights(rec.instrument_index))[None],
                         torch.from_numpy(previous.astype(np.float32)))
        mean = mean[0].numpy()
        given.append(rec.note_table)
        predicted.append(mean[:, :n_expr])
        if with_rate:
            has = rec.note_table[:, VIBRATO_INDEX] >= RATE_MIN_VIBRATO
            rate_errors.append(np.abs(unit_to_rate(mean[has, n_expr]) - rec.vibrato_rates[has]))
    overall, per = _rmse(np.concatenate(given), np.concatenate(predicted))
    out = {"rmse": overall, "per_expression": per, "n_notes": int(sum(len(g) for g in given))}
    if with_rate and rate_errors:
        errors = np.concatenate(rate_errors)
        out["vibrato_rate_mae_hz"] = float(errors.mean()) if errors.size else None
        out["n_rate_notes"] = int(errors.size)
    return out


def control_fidelity(sg, records, *, max_notes: int = 200, max_frames: int = 1000,
                     seed: int = 0) -> dict:
    """Pearson r between swept and re-extracted values, per control, overall and per instrument.

    For each example (cut to ``max_frames``), the sampled notes (longer than 250 ms) of the
    example get the control set to 0, 0.1, .., 1 at once; the 66 variants (6 controls x 11
    values) run as one batch. Notes are sampled evenly over examples up to ``max_notes``.
    """
    fr = sg.signal_config.frame_rate
    rng = np.random.default_rng(seed)
    candidates = []
    for r_i, rec in enumerate(records):
        n_frames = min(rec.n_frames, max_frames)
        for n_i, note in enumerate(rec.notes):
            if note.offset_s - note.onset_s > _FIDELITY_MIN_NOTE_S and note.offset_s * fr <= n_frames:
                candidates.append((r_i, n_i))
    if len(candidates) > max_notes:
        pick = rng.choice(len(candidates), size=max_notes, replace=False)
        candidates = [candidates[i] for i in sorted(pick)]
    by_record: dict[int, list[int]] = {}
    for r_i, n_i in candidates:
        by_record.setdefault(r_i, []).append(n_i)
    pairs = {name: [] for name in EXPRESSION_NAMES}   # (instrument, given, measured)
    n_ex = len(EXPRESSION_NAMES)
    for r_i, note_ids in by_record.items():
        rec = records[r_i]
        n_frames = min(rec.n_frames, max_frames)
        notes = [n for n in rec.notes if n.onset_s * fr < n_frames - 0.5]
        base = rec.note_table[:len(notes)].copy()
        spans = note_spans(notes, n_frames=n_frames, frame_rate=fr)
        frames = np.zeros((n_ex * len(_SWEEP), n_frames, n_ex), np.float32)
        for c in range(n_ex):
            for v_i, value in enumerate(_SWEEP):
                values = base.copy()
                values[note_ids, c] = value
                row = frames[c * len(_SWEEP) + v_i]
                for (s0, s1), expr in zip(spans, values):
                    row[s0:s1] = expr
        out, held = _sg_forward(sg, notes, frames, rec.instrument_index, seed=seed)
        for c, name in enumerate(EXPRESSION_NAMES):
            for v_i, value in enumerate(_SWEEP):
                params = synthesis_generator_params(out, held, index=c * len(_SWEEP) + v_i)
                sub = [notes[i] for i in note_ids]
                measured = extract_note_expressions(params, sub, frame_rate=fr)[name].to_numpy()
                for m in measured:
                    pairs[name].append((rec.instrument_index, float(value), float(m)))
    result = {"n_notes": len(candidates), "n_examples": len(by_record), "overall": {},
              "per_instrument": {}, "curves": {}}
    for name, rows in pairs.items():
        if not rows:
            continue
        arr = np.asarray(rows)
        result["overall"][name] = _pearson(arr[:, 1], arr[:, 2])
        result["curves"][name] = [float(arr[arr[:, 1] == v, 2].mean()) for v in _SWEEP]
        for idx in np.unique(arr[:, 0]).astype(int):
            sel = arr[:, 0] == idx
            result["per_instrument"].setdefault(INSTRUMENT_NAMES[idx], {})[name] = \
                _pearson(arr[sel, 1], arr[sel, 2])
    return result


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    if np.std(x) == 0 or np.std(y) == 0:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])


def resynthesis_loss(inference, records, *, max_seconds: float = 4.0) -> dict:
    """Multi-scale spectral loss of DDSP Inference resynthesis and of the analysed params."""
    from midi_ddsp.dsp.spectral import multiscale_spectral_loss
    from midi_ddsp.dsp.blocks import render_synth_params
    hop = inference.signal_config.hop_size
    model_losses, floor_losses = [], []
    for rec in records:
        n = min(rec.n_frames, int(max_seconds * inference.signal_config.frame_rate))
        audio = rec.audio[:n * hop]
        ir = inference.impulse_response(INSTRUMENT_NAMES[rec.instrument_index])
        params = inference.infer(audio, rec.f0_hz[:n], rec.loudness_db[:n],
                                 INSTRUMENT_NAMES[rec.instrument_index])
        render = render_synth_params(params, impulse_response=ir, seed=0)
        floor = render_synth_params(rec.params(0, n), impulse_response=ir, seed=0)
        model_losses.append(float(multiscale_spectral_loss(audio, render[:audio.shape[0]])))
        floor_losses.append(float(multiscale_spectral_loss(audio, floor[:audio.shape[0]])))
    return {"model": float(np.mean(model_losses)), "analysis_floor": float(np.mean(floor_losses)),
            "n_examples": len(model_losses)}


def render_pitch_error_cents(eg, sg, records, *, max_examples: int = 20) -> dict:
    """Median |f0 of the render - written pitch| in cents over sustained note frames (YIN)."""
    import librosa
    from midi_ddsp.dsp.blocks import render_synth_params
    sr = sg.signal_config.sample_rate
    hop = sg.signal_config.hop_size
    errors = []
    for rec in records[:max_examples]:
        inst = INSTRUMENT_NAMES[rec.instrument_index]
        table = eg.generate(rec.notes, inst)
        params = sg.generate(table, inst, seed=0, n_frames=rec.n_frames)
        audio = render_synth_params(params, impulse_response=None, seed=0)
        pitches = [n.pitch for n in rec.notes]
        fmin = float(librosa.midi_to_hz(min(pitches) - 3))
        fmax = float(librosa.midi_to_hz(max(pitches) + 3))
        frame_length = int(2 ** math.ceil(math.log2(max(4 * sr / fmin, 512))))
        f0 = librosa.yin(audio, fmin=fmin, fmax=fmax, sr=sr, frame_length=frame_length,
                         hop_length=hop, center=True)
        for note in rec.notes:
            if note.offset_s - note.onset_s <= _PITCH_MIN_NOTE_S:
                continue
            span = note.offset_s - note.onset_s
            a = int((note.onset_s + 0.25 * span) * sg.signal_config.frame_rate)
            b = int((note.offset_s - 0.25 * span) * sg.signal_config.frame_rate)
            seg = f0[a:b]
            seg = seg[np.isfinite(seg) & (seg > 0)]
            if seg.size:
                cents = 1200 * np.log2(seg / librosa.midi_to_hz(note.pitch))
                errors.append(float(np.median(np.abs(cents))))
    return {"median_cents": float(np.median(errors)) if errors else math.nan,
            "n_notes": len(errors)}


def render_speed(eg, sg, *, seconds: float = 60.0, threads: int = 2, seed: int = 0) -> dict:
    """Seconds of audio per wall-clock second of EG + SG + DDSP synth (reverb on), one solo line."""
    from midi_ddsp.dsp.blocks import render_synth_params
    rng = np.random.default_rng(seed)
    notes, t = [], 0.0
    while t < seconds:
        dur = float(rng.choice([0.25, 0.5, 0.75, 1.0]))
        notes.append(Note(int(rng.integers(55, 80)), t, min(t + dur * 0.95, seconds), 90))
        t += dur
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        eg.generate(notes[:4], "violin")   # warm-up
        start = time.perf_counter()
        table = eg.generate(notes, "violin")
        t_eg = time.perf_counter() - start
        params = sg.generate(table, "violin", seed=0)
        t_sg = time.perf_counter() - start - t_eg
        audio = render_synth_params(params, impulse_response=sg.impulse_response("violin"), seed=0)
        wall = time.perf_counter() - start
    finally:
        torch.set_num_threads(previous)
    duration = audio.shape[0] / sg.signal_config.sample_rate
    return {"audio_s": duration, "wall_s": wall, "x_realtime": duration / wall, "threads": threads,
            "eg_s": t_eg, "sg_s": t_sg, "synth_s": wall - t_eg - t_sg}


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------

def _plots(metrics: dict, out_dir: Path) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    files = []
    fid = metrics.get("control_fidelity")
    if fid and fid.get("curves"):
        fig, axes = plt.subplots(2, 3, figsize=(10, 6))
        for ax, name in zip(axes.flat, EXPRESSION_NAMES):
            curve = fid["curves"].get(name)
            if curve is None:
                continue
            ax.plot(_SWEEP, curve, "o-", label="SG output (mean)")
            ax.plot([0, 1], [0, 1], "k--", lw=0.8, label="identity")
            ax.set_title(f"{name}  r = {fid['overall'].get(name, float('nan')):.2f}")
            ax.set_xlabel("given")
            ax.set_ylabel("re-extracted")
            ax.grid(alpha=0.3)
        axes.flat[0].legend(fontsize=7)
        fig.tight_layout()
        path = out_dir / "evaluation_control_fidelity.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        files.append(path)
        insts = sorted(fid["per_instrument"])
        if insts:
            grid = np.array([[fid["per_instrument"][i].get(n, np.nan) for n in EXPRESSION_NAMES]
                             for i in insts])
            fig, ax = plt.subplots(figsize=(7, 0.4 * len(insts) + 1.5))
            im = ax.imshow(grid, vmin=0, vmax=1, cmap="viridis", aspect="auto")
            ax.set_xticks(range(len(EXPRESSION_NAMES)), EXPRESSION_NAMES, rotation=30)
            ax.set_yticks(range(len(insts)), insts)
            for (i, j), v in np.ndenumerate(grid):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="w")
            fig.colorbar(im, ax=ax, label="Pearson r")
            ax.set_title("control fidelity per instrument")
            fig.tight_layout()
            path = out_dir / "evaluation_fidelity_per_instrument.png"
            fig.savefig(path, dpi=90)
            plt.close(fig)
            files.append(path)
    return files


def _fmt(x, digits=3):
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _markdown(metrics: dict, files: list[Path]) -> str:
    lines = ["# Evaluation", "",
             f"Data: `{metrics['data']}` (test split, {metrics['n_test_examples']} examples). "
             f"Checkpoints: " + ", ".join(f"`{k}`: `{v}`" for k, v in metrics["checkpoints"].items())
             + ".", "", "| metric | measured | target | paper |", "|---|---|---|---|"]
    sg = metrics.get("sg_expression_rmse")
    if sg:
        lines.append(f"| Synthesis Generator expression RMSE ({sg['n_notes']} notes) | "
                     f"{_fmt(sg['rmse'])} | <= {TARGETS['sg_expression_rmse']} | {PAPER['sg_expression_rmse']} |")
    eg = metrics.get("eg_teacher_forced_rmse")
    if eg:
        lines.append(f"| Expression Generator teacher-forced RMSE ({eg['n_notes']} notes) | "
                     f"{_fmt(eg['rmse'])} | <= {TARGETS['eg_teacher_forced_rmse']} | {PAPER['eg_teacher_forced_rmse']} |")
    fid = metrics.get("control_fidelity")
    if fid:
        for name in EXPRESSION_NAMES:
            if name in fid["overall"]:
                lines.append(f"| control fidelity r: {name} | {_fmt(fid['overall'][name], 2)} | "
                             f">= {TARGETS['fidelity']} | {PAPER['fidelity'][name]} |")
    res = metrics.get("resynthesis")
    if res:
        lines.append(f"| resynthesis multi-scale spectral loss (DDSP Inference) | {_fmt(res['model'])} | "
                     f"close to the analysis floor {_fmt(res['analysis_floor'])} | n/a (other data) |")
    pitch = metrics.get("pitch")
    if pitch:
        lines.append(f"| median pitch error of renders, sustained notes ({pitch['n_notes']} notes) | "
                     f"{_fmt(pitch['median_cents'], 1)} cents | < {TARGETS['pitch_error_cents']:.0f} cents | n/a |")
    speed = metrics.get("speed")
    if speed:
        lines.append(f"| render speed EG+SG+synth, {speed['threads']} threads | "
                     f"{_fmt(speed['x_realtime'], 1)}x real time | >= {TARGETS['speed_x_realtime']:.0f}x | "
                     f"0.2-0.4x (upstream) |")
    lines.append("")
    for key, title in (("sg_expression_rmse", "Synthesis Generator RMSE per expression"),
                       ("eg_teacher_forced_rmse", "Expression Generator RMSE per expression")):
        if metrics.get(key):
            per = metrics[key]["per_expression"]
            lines += [f"**{title}:** " + ", ".join(f"{k} {_fmt(v)}" for k, v in per.items()), ""]
    if fid:
        lines += ["**Control fidelity method:** " + metrics["fidelity_method"], ""]
        insts = sorted(fid["per_instrument"])
        if insts:
            lines += ["| instrument | " + " | ".join(EXPRESSION_NAMES) + " |",
                      "|---" * (len(EXPRESSION_NAMES) + 1) + "|"]
            for inst in insts:
                lines.append(f"| {inst} | " + " | ".join(
                    _fmt(fid["per_instrument"][inst].get(n), 2) for n in EXPRESSION_NAMES) + " |")
            lines.append("")
    if speed:
        lines += [f"**Speed:** {speed['audio_s']:.0f} s solo line: EG {speed['eg_s']:.2f} s, SG "
                  f"{speed['sg_s']:.2f} s, synth+reverb {speed['synth_s']:.2f} s "
                  f"(wall {speed['wall_s']:.2f} s).", ""]
    lines += [f"![{f.stem}]({f.name})" for f in files]
    lines.append("")
    lines.append(f"Evaluation wall time: {metrics['wall_time_s']:.0f} s.")
    return "\n".join(lines) + "\n"


def _spread_over_instruments(records, n: int) -> list:
    """Up to ``n`` records taken round-robin over instruments (in corpus order within each)."""
    by_inst: dict[int, list] = {}
    for rec in records:
        by_inst.setdefault(rec.instrument_index, []).append(rec)
    out = []
    queues = [by_inst[k] for k in sorted(by_inst)]
    depth = 0
    while len(out) < n and any(depth < len(q) for q in queues):
        for q in queues:
            if depth < len(q) and len(out) < n:
                out.append(q[depth])
        depth += 1
    return out


def evaluate(data_dir: "str | os.PathLike[str]", out_dir: "str | os.PathLike[str]", *,
             synthesis_generator=None, expression_generator=None, ddsp_inference=None,
             split: str = "test", max_examples: int = 40, fidelity_notes: int = 200,
             pitch_examples: int = 20, speed_threads: int = 2, speed_seconds: float = 60.0,
             seed: int = 0, checkpoint_names: "dict | None" = None) -> EvaluationResult:
    """Measure everything the given models allow on the ``split`` examples of ``data_dir``.

    Args:
        data_dir: shard folder (examples of ``split`` are used, at most ``max_examples``, taken
            round-robin over instruments so every instrument is represented).
        out_dir: where ``evaluation.md``, ``metrics.json`` and the plots go.
        synthesis_generator, expression_generator, ddsp_inference: loaded models (any may be
            None; metrics needing a missing model are skipped).
        fidelity_notes: notes sampled for the control-fidelity sweep.
        pitch_examples: examples rendered for the pitch error.
        speed_threads, speed_seconds: render-speed benchmark settings.
        checkpoint_names: names of the checkpoint files, for the report.

    Returns:
        EvaluationResult with ``metrics`` (the dict written to metrics.json).
    """
    from midi_ddsp.training.datasets import CorpusPool
    start = time.time()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pool = CorpusPool(data_dir, split=split, keep_audio=ddsp_inference is not None)
    pool.refresh()
    records = _spread_over_instruments(pool.records, max_examples)
    if not records:
        from midi_ddsp.errors import InputFileError
        raise InputFileError(data_dir, f"no usable examples of split {split!r}")
    metrics: dict = {"data": str(data_dir), "split": split, "n_test_examples": len(records),
                     "checkpoints": checkpoint_names or {},
                     "fidelity_method": (
                         f"{fidelity_notes} notes longer than {_FIDELITY_MIN_NOTE_S} s sampled "
                         "from the test examples (first 4 s of each); in each example all sampled "
                         "notes get the control set to 0, 0.1, ..., 1 at once (other controls "
                         "keep their extracted values, seed 0); Pearson r between given and "
                         "re-extracted values pooled over notes and sweep values. A subsample "
                         "keeps the sweep fast on the CPU.")}
    if records:
        if synthesis_generator is not None:
            logger.info("SG expression RMSE on %d examples", len(records))
            metrics["sg_expression_rmse"] = synthesis_expression_rmse(synthesis_generator, records)
            logger.info("control fidelity")
            metrics["control_fidelity"] = control_fidelity(synthesis_generator, records,
                                                           max_notes=fidelity_notes, seed=seed)
        if expression_generator is not None:
            metrics["eg_teacher_forced_rmse"] = expression_teacher_forced_rmse(
                expression_generator, records)
        if ddsp_inference is not None:
            logger.info("resynthesis loss")
            metrics["resynthesis"] = resynthesis_loss(ddsp_inference, records[:max(1, pitch_examples)])
        if synthesis_generator is not None and expression_generator is not None:
            logger.info("render pitch error")
            metrics["pitch"] = render_pitch_error_cents(expression_generator, synthesis_generator,
                                                        records, max_examples=pitch_examples)
    if synthesis_generator is not None and expression_generator is not None:
        logger.info("render speed")
        metrics["speed"] = render_speed(expression_generator, synthesis_generator,
                                        seconds=speed_seconds, threads=speed_threads)
    metrics["wall_time_s"] = time.time() - start
    files = _plots(metrics, out_dir)
    with open(out_dir / "metrics.json", "w", encoding="utf-8") as f:
        json.dump(metrics, f, indent=1, sort_keys=True)
    report = out_dir / "evaluation.md"
    report.write_text(_markdown(metrics, files), encoding="utf-8")
    return EvaluationResult(metrics=metrics, report_path=report, files=[report, *files])
