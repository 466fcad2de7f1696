"""Demo (``make demo``): render the shipped examples with the shipped checkpoints.

- ``examples/solo_melody.mid``: a violin melody;
- ``examples/chorale_4part.mid``: Bach's chorale BWV 66.6 for string quartet.

Writes ``demo_output/<example>/`` (mix.wav, one stem per part, the NoteTables as CSV, metadata.json)
and prints where the WAV files are. Options: ``--output-dir``, ``--seed``, and the checkpoint
paths (default: the shipped ones in checkpoints/).
"""
from __future__ import annotations

import argparse
import logging
import pathlib
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
EXAMPLES = ("solo_melody.mid", "chorale_4part.mid")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output-dir", "--output_dir", default="demo_output", help="where to write (default demo_output)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--expression-generator-weight-path", "--expression_generator_weight_path", default=None, help="checkpoint (.pt)")
    parser.add_argument("--synthesis-generator-weight-path", "--synthesis_generator_weight_path", default=None, help="checkpoint (.pt)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")

    from midi_ddsp.errors import MidiDDSPError
    from midi_ddsp import load_pretrained_model, synthesize_midi, write_result

    try:
        t0 = time.perf_counter()
        models = load_pretrained_model(
            expression_generator_path=args.expression_generator_weight_path,
            synthesis_generator_path=args.synthesis_generator_weight_path,
            runtime="auto")   # onnxruntime for the shipped checkpoints, as the command line
        ids = ", ".join(f"{kind}: {info['id']}" for kind, info in models.checkpoints.items())
        print(f"models loaded in {time.perf_counter() - t0:.1f} s ({ids})")
        for name in EXAMPLES:
            t0 = time.perf_counter()
            result = synthesize_midi(HERE / name, models=models, seed=args.seed)
            folder = pathlib.Path(args.output_dir) / pathlib.Path(name).stem
            meta = write_result(result, folder)
            seconds = time.perf_counter() - t0
            parts = ", ".join(f"{p['name']} ({p['instrument']})" for p in result.metadata["parts"])
            print(f"\n{name}: {result.duration_s:.1f} s of audio in {seconds:.1f} s; parts: {parts}")
            print(f"  mix:   {folder / meta['files']['mix']}")
            for stem in meta["files"]["stems"].values():
                print(f"  stem:  {folder / stem}")
    except MidiDDSPError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
