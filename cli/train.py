"""Train one of the three models on a shard folder.

usage: midi_ddsp_train {synthesis,expression,inference} --data DIR --out DIR
                       [--steps N] [--batch-size B] [--resume] [...]

Writes into --out: state.pt (resumable training checkpoint, saved atomically every
--save-every steps), model.pt (latest model checkpoint), best.pt (lowest validation loss),
log.csv and loss.png. Re-running with --resume continues after a kill. Under torchrun
(WORLD_SIZE > 1) training is data-parallel (DistributedDataParallel, gloo on the CPU).
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys

from midi_ddsp.errors import MidiDDSPError
from midi_ddsp.training.loop import MODEL_NAMES, TrainConfig, train

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="midi_ddsp_train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", choices=MODEL_NAMES, help="which model to train")
    parser.add_argument("--data", required=True, help="folder of .npz shards (searched recursively)")
    parser.add_argument("--out", required=True, help="run folder for checkpoints and logs")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/state.pt")
    defaults = TrainConfig()
    for field in dataclasses.fields(TrainConfig):
        flag = "--" + field.name.replace("_", "-")
        default = getattr(defaults, field.name)
        if isinstance(default, bool):
            parser.add_argument(flag, action="store_true", help=f"(default {default})")
        elif field.name == "max_examples":
            parser.add_argument(flag, type=int, default=None, help="(default: all)")
        else:
            parser.add_argument(flag, type=type(default), default=default,
                                help=f"(default {default})")
    parser.add_argument("--model-config", choices=("default", "fast", "streaming"),
                        default="default",
                        help="architecture of a new run: 'fast' = SynthesisGeneratorConfig.fast(), "
                             "'streaming' = the causal SynthesisGeneratorConfig.streaming() for "
                             "live playing (synthesis only; a resumed run keeps its saved config)")
    parser.add_argument("--init", metavar="PT", help="start a new run from this model checkpoint "
                                                      "(fine-tune); ignored with --resume")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    return parser


def main(argv=None) -> int:
    """Entry point of ``midi_ddsp_train``; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = TrainConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)})
    model_config = None
    if args.model_config != "default":
        if args.model != "synthesis":
            print(f"midi_ddsp_train: error: --model-config {args.model_config} exists only for "
                  "synthesis", file=sys.stderr)
            return 2
        from midi_ddsp.models.synthesis_generator import SynthesisGeneratorConfig
        model_config = getattr(SynthesisGeneratorConfig, args.model_config)()
    try:
        result = train(args.model, args.data, args.out, config=config, resume=args.resume,
                       progress=not args.no_progress, model_config=model_config,
                       init_from=args.init)
    except MidiDDSPError as exc:
        print(f"midi_ddsp_train: error: {exc}", file=sys.stderr)
        return 2
    if os.environ.get("RANK", "0") != "0":
        return 0
    print(f"trained {args.model} to step {result.step} (loss {result.last_loss:.4g}, best "
          f"validation loss {result.best_valid_loss:.4g}, {result.wall_time_s:.0f} s); "
          f"checkpoints in {result.out_dir}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
