"""Evaluate what ships, on audio: whole test pieces through the default pipeline beside FluidSynth.

usage: midi_ddsp_evaluate --out reports [--cache data/cache] [--data data/corpus]
                          [--synthesis-generator PT] [--expression-generator PT]
                          [--ddsp-inference PT] [--instruments violin,flute] [--quick]

Builds the test pieces (the melody export's test split, constant velocity; solo pieces of at
least 60 s for each instrument and 4-part chorales as two quartets) into OUT/pieces, renders each
with the default pipeline (the call `midi_ddsp_synthesize song.mid` makes) and with FluidSynth,
measures pitch, activity, level drift, part balance and onsets from the audio, sweeps the six
controls per instrument and register and re-measures them from the audio, and writes
OUT/audio_evaluation.md, OUT/audio_metrics.json and plots. With --data, the parameter-space and
teacher-forced diagnostics of the corpus's test split go to OUT/diagnostics/. OUT/metrics.json
holds both, and is what the model cards are built from (midi_ddsp.training.export --metrics);
the entries other tools wrote there (live_model, ddsp_inference) are kept.
Without checkpoint flags the shipped checkpoints are evaluated.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from midi_ddsp.errors import MidiDDSPError

_KEPT_ENTRIES = ("live_model", "ddsp_inference")   # written into OUT/metrics.json by other tools

__all__ = ["main", "build_parser", "write_metrics"]


def write_metrics(path: Path, metrics: dict) -> None:
    """Write ``metrics`` to ``path`` (JSON), keeping the ``_KEPT_ENTRIES`` other tools recorded
    in the file before (the live model's, DDSP Inference's); everything else is replaced."""
    try:
        previous = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except ValueError:
        previous = {}
    kept = {k: previous[k] for k in _KEPT_ENTRIES if k in previous and k not in metrics}
    path.write_text(json.dumps({**metrics, **kept}, indent=1, sort_keys=True))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="midi_ddsp_evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="report folder")
    p.add_argument("--cache", default="data/cache", help="melody export cache (built if missing)")
    p.add_argument("--data", help="shard corpus: also run the parameter-space diagnostics")
    p.add_argument("--synthesis-generator", "--synthesis_generator", help="SG checkpoint")
    p.add_argument("--expression-generator", "--expression_generator", help="EG checkpoint")
    p.add_argument("--ddsp-inference", "--ddsp_inference", help="DDSP Inference checkpoint")
    p.add_argument("--instruments", help="comma-separated instruments (default: all 13)")
    p.add_argument("--quick", action="store_true",
                   help="short pieces (20 s), middle register only, no FluidSynth (smoke test)")
    p.add_argument("--threads", type=int, default=2, help="torch threads")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def main(argv=None) -> int:
    """Entry point of ``midi_ddsp_evaluate``; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    import torch

    from midi_ddsp.audio_report import run_audio_evaluation
    from midi_ddsp.data_pipeline.test_pieces import write_test_pieces
    from midi_ddsp.instruments import INSTRUMENT_NAMES, get_instrument
    from midi_ddsp.pretrained import load_pretrained_model

    torch.set_num_threads(max(1, args.threads))
    out = Path(args.out)
    if args.ddsp_inference and not args.data:
        print("midi_ddsp_evaluate: error: --ddsp-inference is evaluated by the diagnostics: give "
              "--data too", file=sys.stderr)
        return 2
    try:
        instruments = ([get_instrument(n.strip()).name for n in args.instruments.split(",")]
                       if args.instruments else list(INSTRUMENT_NAMES))
        models = load_pretrained_model(expression_generator_path=args.expression_generator,
                                      synthesis_generator_path=args.synthesis_generator)
        length = 20.0 if args.quick else 60.0
        pieces = write_test_pieces(out / "pieces", cache_dir=args.cache, instruments=instruments,
                                   min_solo_s=length, min_ensemble_s=length)
        command = "midi_ddsp_evaluate " + " ".join(sys.argv[1:] if argv is None else argv)
        audio = run_audio_evaluation(
            pieces, models=models, out_dir=out, instruments=instruments,
            registers=("middle",) if args.quick else ("low", "middle", "high"),
            fluidsynth=not args.quick, extra={"command": command})
        metrics = {"audio": {k: audio[k] for k in ("checkpoints", "summary", "control_fidelity",
                                                   "cross_effects", "probes", "targets",
                                                   "command")},
                   "data": args.cache}
        if args.data:
            from midi_ddsp.training.diagnostics import evaluate
            from midi_ddsp.models import load_model, shipped_checkpoint_path

            inference_path = args.ddsp_inference or shipped_checkpoint_path("ddsp_inference")
            names = {kind: info["path"] for kind, info in models.checkpoints.items()}
            names["ddsp_inference"] = str(inference_path)
            diag = evaluate(args.data, out / "diagnostics",
                            synthesis_generator=models.synthesis_generator,
                            expression_generator=models.expression_generator,
                            ddsp_inference=load_model(inference_path, kind="ddsp_inference"),
                            checkpoint_names=names)
            metrics.update(diag.metrics)
            metrics["data"] = args.data
        write_metrics(out / "metrics.json", metrics)
    except MidiDDSPError as exc:
        print(f"midi_ddsp_evaluate: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"midi_ddsp_evaluate: error: {exc.filename or out}: {exc.strerror or exc}",
              file=sys.stderr)
        return 2
    print(f"wrote {out / 'audio_evaluation.md'}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
