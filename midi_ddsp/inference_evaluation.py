"""DDSP Inference on recordings: resynthesis loss against the analysis floor, per clip.

For each clip (a real recording, or a corpus render played as one): CREPE f0 (tiny, the
shipped weights) and A-weighted loudness are measured from the audio, as a user's recording
would be. Two parameter sets are resynthesised with the dry DDSP synth at 16 kHz and compared
with the clip by the multi-scale spectral loss (``midi_ddsp.dsp.spectral``):

- the **analysis floor**: sinusoidal analysis (``midi_ddsp.analysis.analyse_audio``) on the
  same CREPE f0, the parameters the audio itself measures to;
- the **model**: ``DDSPInference.infer`` on the same audio, f0 and loudness.

The ratio model / floor is the figure of merit (1.0 = as good as measuring the audio).
Corpus renders are scored three ways: dry with the corpus's exact f0, dry with CREPE f0, and
"recorded" (room reverb and noise added, CREPE f0, scored against that audio as a recording is).

    python -m midi_ddsp.inference_evaluation --model checkpoints/ddsp_inference.pt \\
        --clips data/real_clips --data data/corpus --out reports/inference
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from midi_ddsp.crepe import CREPE_SAMPLE_RATE, estimate_f0, resample_audio
from midi_ddsp.dsp.blocks import render_synth_params
from midi_ddsp.dsp.spectral import a_weighted_loudness_db, multiscale_spectral_loss
from midi_ddsp.errors import MidiDDSPError
from midi_ddsp.recorded import degrade_audio

__all__ = ["clip_inputs", "evaluate_clips", "evaluate_corpus", "main", "report_lines",
           "resynthesis_scores"]

MAX_CLIP_S = 12.0


def clip_inputs(audio: np.ndarray, sample_rate: int, *, frame_rate: int = 250
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A recording as DDSP Inference's inputs: (audio16 [n_frames * hop], f0_hz [n_frames],
    loudness_db [n_frames]); f0 from CREPE tiny, loudness A-weighted, both measured here."""
    x16 = resample_audio(np.asarray(audio, np.float32), sample_rate=int(sample_rate),
                         target_rate=CREPE_SAMPLE_RATE)
    hop = CREPE_SAMPLE_RATE // frame_rate
    n_frames = x16.shape[0] // hop
    x16 = x16[: n_frames * hop]
    f0, _ = estimate_f0(x16, sample_rate=CREPE_SAMPLE_RATE, frame_rate=frame_rate)
    loudness = np.asarray(a_weighted_loudness_db(x16, sample_rate=CREPE_SAMPLE_RATE,
                                                 frame_rate=frame_rate), np.float32)
    return x16, _fit(f0, n_frames), _fit(loudness, n_frames, fill=-120.0)


def _fit(x: np.ndarray, n: int, fill: "float | None" = None) -> np.ndarray:
    x = np.asarray(x, np.float32)[:n]
    if x.shape[0] < n:
        pad = x[-1] if fill is None and x.size else (fill or 0.0)
        x = np.concatenate([x, np.full(n - x.shape[0], pad, np.float32)])
    return x


def resynthesis_scores(inference, target: np.ndarray, inputs: tuple, instrument: str) -> dict:
    """Spectral loss against ``target`` of the model's and the analysis floor's resynthesis.

    Args:
        inference: a ``DDSPInference``.
        target: the audio to match, float32 [n_samples] at 16 kHz.
        inputs: ``(audio16, f0_hz, loudness_db)`` the model and the analysis see.
        instrument: the instrument name the model is told.
    """
    from midi_ddsp.analysis import analyse_audio

    audio, f0, loudness = inputs
    fr = inference.signal_config.frame_rate
    floor_params = analyse_audio(audio, f0, sample_rate=CREPE_SAMPLE_RATE, frame_rate=fr)
    model_params = inference.infer(audio, f0, loudness, instrument)
    n = target.shape[0]
    out = {}
    for key, params in (("model", model_params), ("analysis_floor", floor_params)):
        render = render_synth_params(params, seed=0)[:n]
        render = np.pad(render, (0, n - render.shape[0]))
        out[key] = float(multiscale_spectral_loss(target, render))
    out["ratio"] = out["model"] / max(out["analysis_floor"], 1e-9)
    return out


def evaluate_clips(inference, clips_dir: "str | Path") -> dict:
    """Per real clip of ``clips_dir`` (``clips.json`` names each clip's instrument): the scores
    of ``resynthesis_scores`` on its first ``MAX_CLIP_S`` seconds; {} when there is no index."""
    from midi_ddsp.transfer import load_audio

    clips_dir = Path(clips_dir)
    index_path = clips_dir / "clips.json"
    if not index_path.is_file():
        return {}
    out = {}
    for name, entry in sorted(json.loads(index_path.read_text()).items()):
        path = clips_dir / name
        if not path.is_file():
            continue
        audio, sample_rate, _ = load_audio(path)
        audio = audio[: int(MAX_CLIP_S * sample_rate)]
        inputs = clip_inputs(audio, sample_rate, frame_rate=inference.signal_config.frame_rate)
        scores = resynthesis_scores(inference, inputs[0], inputs, entry["instrument"])
        out[name] = {"instrument": entry["instrument"], "seconds": inputs[0].shape[0] / 16000,
                     **scores}
    return out


def evaluate_corpus(inference, pieces: Sequence, *, seed: int = 0) -> dict:
    """Mean scores over corpus test pieces (``timbre_evaluation.load_test_pieces``):
    ``exact_f0`` (dry, the corpus f0 and loudness), ``crepe_f0`` (dry, measured f0 and
    loudness), ``recorded`` (a room and noise added, CREPE f0; scored against that audio, as a
    recording is)."""
    rng = np.random.default_rng(seed)
    fr = inference.signal_config.frame_rate
    rows = {"exact_f0": [], "crepe_f0": [], "recorded": []}
    for piece in pieces:
        dry, name = piece.audio, piece.instrument
        exact = (dry, piece.params.f0_hz, piece.loudness_db)
        rows["exact_f0"].append(resynthesis_scores(inference, dry, exact, name))
        measured = clip_inputs(dry, 16000, frame_rate=fr)
        rows["crepe_f0"].append(resynthesis_scores(inference, dry, measured, name))
        wet = clip_inputs(degrade_audio(dry, rng), 16000, frame_rate=fr)
        rows["recorded"].append(resynthesis_scores(inference, wet[0], wet, name))
    return {key: {k: float(np.mean([r[k] for r in values])) for k in values[0]}
            | {"n_examples": len(values)} for key, values in rows.items() if values}


def report_lines(result: dict) -> list[str]:
    """Markdown lines of a ``recordings`` result: the clip table and the corpus table."""
    lines = ["Multi-scale spectral loss of the resynthesis (dry synth, 16 kHz) against the clip; "
             "the analysis floor is sinusoidal analysis on the same CREPE f0.", "",
             "| clip | instrument | s | model | floor | ratio |", "|---|---|---|---|---|---|"]
    for name, row in result.get("clips", {}).items():
        lines.append(f"| {name} | {row['instrument']} | {row['seconds']:.1f} | {row['model']:.2f} "
                     f"| {row['analysis_floor']:.2f} | {row['ratio']:.2f}x |")
    if result.get("clips"):
        lines.append(f"| **mean** | | | | | **{result['clips_mean_ratio']:.2f}x** |")
    corpus = result.get("corpus", {})
    if corpus:
        lines += ["", "Corpus test renders (first 4 s of each piece):", "",
                  "| input | model | floor | ratio |", "|---|---|---|---|"]
        for key, row in corpus.items():
            lines.append(f"| {key} | {row['model']:.2f} | {row['analysis_floor']:.2f} "
                         f"| {row['ratio']:.2f}x |")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="DDSP Inference checkpoint (default shipped)")
    parser.add_argument("--clips", default="data/real_clips", help="folder of real clips")
    parser.add_argument("--data", default=None, help="corpus folder (test split) or none")
    parser.add_argument("--pieces", type=int, default=2, help="corpus test pieces per instrument")
    parser.add_argument("--out", required=True, help="folder for inference.json / .md "
                        "(inference.json is the --metrics of midi_ddsp.training.export)")
    args = parser.parse_args(argv)
    try:
        from midi_ddsp.models.checkpoint import load_model, shipped_checkpoint_path

        path = args.model or shipped_checkpoint_path("ddsp_inference")
        inference = load_model(path, kind="ddsp_inference").eval()
        result = {"model": str(path), "clips": evaluate_clips(inference, args.clips)}
        if result["clips"]:
            result["clips_mean_ratio"] = float(np.mean([r["ratio"]
                                                        for r in result["clips"].values()]))
        if args.data:
            from midi_ddsp.timbre_evaluation import load_test_pieces

            pieces = load_test_pieces(args.data, pieces_per_instrument=args.pieces,
                                      max_seconds=4.0)
            result["corpus"] = evaluate_corpus(inference, pieces)
    except MidiDDSPError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = "\n".join(["# DDSP Inference on recordings", "", *report_lines(result)]) + "\n"
    (out / "inference.json").write_text(json.dumps({"recordings": result}, indent=1) + "\n")
    (out / "inference.md").write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
