"""midi_ddsp_build_shards: training shards from your own recordings (URMP folders or
name.wav + name.mid pairs); see ``main``."""
from __future__ import annotations

import argparse
import inspect
import logging
import sys

from midi_ddsp.errors import MidiDDSPError

__all__ = ["main"]


def _shards_parser() -> argparse.ArgumentParser:
    from midi_ddsp.data_pipeline.shard_builder import SPLITS

    p = argparse.ArgumentParser(prog="midi_ddsp_build_shards",
                                description=inspect.cleandoc(main.__doc__),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("layout", choices=("urmp", "pairs"),
                   help="urmp: URMP piece folders; pairs: name.wav + name.mid")
    p.add_argument("input", help="dataset folder")
    p.add_argument("out_dir", help="output folder (shards/ and manifest.jsonl)")
    p.add_argument("--instrument", default=None,
                   help="pairs only: instrument of every file (default: MIDI program)")
    p.add_argument("--split", choices=SPLITS, default=None,
                   help="one split for everything (default: stable 80/10/10 hash per piece)")
    p.add_argument("--window-s", type=float, default=4.0, help="training window seconds (window_s)")
    p.add_argument("--f0-method", choices=("crepe", "pyin"), default="crepe")
    p.add_argument("--model", choices=("tiny", "full"), default="tiny", help="CREPE model size")
    return p


def main(argv=None) -> int:
    """Build training shards from your own recordings (URMP layout or name.wav + name.mid pairs).

    Usage: midi_ddsp_build_shards {urmp,pairs} INPUT OUT_DIR [--instrument NAME]
               [--split {train,valid,test}] [--window-s 4.0] [--f0-method {crepe,pyin}]
               [--model {tiny,full}]

    Writes OUT_DIR/shards/<recording>.npz and OUT_DIR/manifest.jsonl (see
    midi_ddsp.data_pipeline.readers and midi_ddsp.data_pipeline.shard_builder). Re-running
    resumes: recordings already written are skipped, failed ones are retried. Exit status 1 when
    some recording failed (each failure is one error record naming its file), 2 when the input
    folder or the instrument is unusable.
    """
    args = _shards_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    from midi_ddsp.data_pipeline.readers import read_midi_pairs, read_urmp
    from midi_ddsp.data_pipeline.shard_builder import build_shards_from_recordings

    logger = logging.getLogger("midi_ddsp_build_shards")
    try:
        if args.layout == "urmp":
            recordings = read_urmp(args.input)
        else:
            recordings = read_midi_pairs(args.input, instrument=args.instrument)
        report = build_shards_from_recordings(recordings, args.out_dir, window_s=args.window_s,
                                              split=args.split, f0_method=args.f0_method,
                                              model=args.model)
    except MidiDDSPError as exc:
        logger.error("%s", exc)
        return 2
    logger.info("%d shard(s), %d example(s) written, %d skipped, %d failed",
                len(report.written), report.n_examples, len(report.skipped), len(report.errors))
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
