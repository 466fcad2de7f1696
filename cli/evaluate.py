"""Evaluate the models on the test split of a shard corpus and write a markdown report.

usage: midi_ddsp_evaluate --data DIR --out DIR [--synthesis-generator PT]
                          [--expression-generator PT] [--ddsp-inference PT] [...]

Without checkpoint flags the shipped checkpoints are used. Writes OUT/evaluation.md,
OUT/metrics.json and plots: Synthesis Generator expression RMSE, Expression Generator
teacher-forced RMSE, control fidelity (Pearson r per control and instrument on a subsample of
notes), DDSP Inference resynthesis loss, median pitch error of renders, render speed.
"""
from __future__ import annotations

import argparse
import logging
import sys

from midi_ddsp.errors import MidiDDSPError

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="midi_ddsp_evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="shard folder (its test split is evaluated)")
    p.add_argument("--out", required=True, help="report folder")
    p.add_argument("--synthesis-generator", help="SG checkpoint (default: shipped)")
    p.add_argument("--expression-generator", help="EG checkpoint (default: shipped)")
    p.add_argument("--ddsp-inference", help="DDSP Inference checkpoint (default: shipped)")
    p.add_argument("--skip", action="append", default=[],
                   choices=["synthesis_generator", "expression_generator", "ddsp_inference"],
                   help="leave a model out (repeatable)")
    p.add_argument("--split", default="test", help="split to evaluate (default test)")
    p.add_argument("--max-examples", type=int, default=40, help="examples used (default 40)")
    p.add_argument("--fidelity-notes", type=int, default=200,
                   help="notes in the control-fidelity sweep (default 200)")
    p.add_argument("--pitch-examples", type=int, default=20,
                   help="examples rendered for the pitch error (default 20)")
    p.add_argument("--speed-threads", type=int, default=2, help="threads for the speed test")
    p.add_argument("--speed-seconds", type=float, default=60.0, help="length of the speed test line")
    p.add_argument("--threads", type=int, default=2, help="torch threads for everything else")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def main(argv=None) -> int:
    """Entry point of ``midi_ddsp_evaluate``; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    import torch

    from midi_ddsp.evaluation import evaluate
    from midi_ddsp.models import load_model, shipped_checkpoint_path

    torch.set_num_threads(max(1, args.threads))
    models, names = {}, {}
    try:
        for kind, given in (("synthesis_generator", args.synthesis_generator),
                            ("expression_generator", args.expression_generator),
                            ("ddsp_inference", args.ddsp_inference)):
            if kind in args.skip:
                continue
            path = given or shipped_checkpoint_path(kind)
            models[kind] = load_model(path, kind=kind)
            names[kind] = str(path)
        result = evaluate(args.data, args.out, synthesis_generator=models.get("synthesis_generator"),
                          expression_generator=models.get("expression_generator"),
                          ddsp_inference=models.get("ddsp_inference"), split=args.split,
                          max_examples=args.max_examples, fidelity_notes=args.fidelity_notes,
                          pitch_examples=args.pitch_examples, speed_threads=args.speed_threads,
                          speed_seconds=args.speed_seconds, checkpoint_names=names)
    except MidiDDSPError as exc:
        print(f"midi_ddsp_evaluate: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {result.report_path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
