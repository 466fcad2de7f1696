"""Build the rendered training corpus (music21 melodies x 13 instruments through FluidSynth).

(Training shards from your own recordings: ``midi_ddsp_build_shards``, ``cli/build_shards.py``.)

Usage: midi_ddsp_build_corpus --out data/corpus [--cache data/cache] [--seed 0]
           [--train-minutes 45] [--valid-minutes 4] [--test-minutes 4]
           [--instruments violin,flute] [--jobs 2] [--engine local|ray] [--ray-address ADDR]
           [--window-s 0] [--melody-budget 300]
           [--no-progress]

Writes out/build.json, out/manifest.jsonl and out/shards/*.npz (see
midi_ddsp.data_pipeline.corpus). Re-running the same command resumes a killed build; a
different seed or size needs a new --out folder.
"""
from __future__ import annotations

import argparse
import logging
import sys

from midi_ddsp.errors import MidiDDSPError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="midi_ddsp_build_corpus", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="corpus folder (out_dir)")
    p.add_argument("--cache", default=None, help="melody export cache (cache_dir)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-minutes", type=float, default=45.0, help="minutes per instrument, train")
    p.add_argument("--valid-minutes", type=float, default=4.0, help="minutes per instrument, valid")
    p.add_argument("--test-minutes", type=float, default=4.0, help="minutes per instrument, test")
    p.add_argument("--instruments", default=None, help="comma-separated names (default: all 13)")
    p.add_argument("--jobs", type=int, default=2, help="workers (processes or Ray actors)")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local process pool (default) or Ray (pip install 'midi_ddsp[ray]')")
    p.add_argument("--ray-address", default=None,
                   help="with --engine ray: an existing cluster (default: start a local Ray)")
    p.add_argument("--window-s", type=float, default=0.0,
                   help="training window length (s); 0 = whole segments (default)")
    p.add_argument("--melody-budget", type=int, default=300, help="music21 works to export")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from midi_ddsp.data_pipeline.corpus import build_corpus

    instruments = None if args.instruments is None else [s for s in args.instruments.split(",") if s]
    try:
        summary = build_corpus(
            args.out, seed=args.seed,
            minutes_per_instrument={"train": args.train_minutes, "valid": args.valid_minutes,
                                    "test": args.test_minutes},
            instruments=instruments, jobs=args.jobs, window_s=args.window_s,
            engine=args.engine, ray_address=args.ray_address,
            cache_dir=args.cache, melody_budget=args.melody_budget,
            progress=not args.no_progress)
    except MidiDDSPError as exc:
        print(f"midi_ddsp_build_corpus: error: {exc}", file=sys.stderr)
        return 2
    print(f"{summary.n_jobs} jobs ({summary.n_done_before} done before, {summary.n_rendered} rendered "
          f"now) in {summary.seconds:.0f} s, {summary.audio_s / 3600:.2f} h audio, "
          f"{summary.realtime_factor:.0f}x real time -> {summary.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
