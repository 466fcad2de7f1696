"""Write checkpoints/expression_defaults.json: the note expressions the streaming engine
(``midi_ddsp.streaming``) gives a live note when the player sets none.

Per instrument, from the training split of the corpus: the median of each of the six
expressions over its notes, and a least-squares line volume = a + b * velocity / 127 (live
velocity sets volume; the other five stay at their medians).

    .venv/bin/python scripts/expression_defaults.py --data data/corpus
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from midi_ddsp.expression import EXPRESSION_NAMES  # noqa: E402
from midi_ddsp.instruments import INSTRUMENTS  # noqa: E402
from midi_ddsp.training.datasets import CorpusPool  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="data/corpus")
    parser.add_argument("--out", default="checkpoints/expression_defaults.json")
    args = parser.parse_args(argv)
    pool = CorpusPool(args.data, split="train")
    pool.refresh()
    version = json.loads((Path(args.data) / "build.json").read_text()).get("corpus_version")
    table = {}
    for inst in INSTRUMENTS:
        rows = [r for r in pool.records if r.instrument_index == inst.index]
        if not rows:
            continue
        values = np.concatenate([r.note_table for r in rows])
        velocity = np.concatenate([[n.velocity / 127.0 for n in r.notes] for r in rows])
        slope, intercept = np.polyfit(velocity, values[:, 0], 1)
        table[inst.name] = {
            "median": {name: round(float(np.median(values[:, j])), 4)
                       for j, name in enumerate(EXPRESSION_NAMES)},
            "volume_from_velocity": [round(float(intercept), 4), round(float(slope), 4)],
            "n_notes": int(values.shape[0]),
        }
    out = {"description": "median note expressions per instrument and volume = a + b * "
                          "velocity / 127 (least squares), training split",
           "data": args.data, "data_version": f"corpus v{version}",
           "command": "scripts/expression_defaults.py --data " + args.data,
           "instruments": table}
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.out} ({len(table)} instruments)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
