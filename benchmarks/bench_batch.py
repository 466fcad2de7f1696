"""Dataset rendering throughput: the local process pool against Ray, on this machine (DESIGN §8).

Renders N copies of the four-part example chorale (examples/chorale_4part.mid, 22.5 s; each copy
with its own augmentation draw: ensemble, tempo, jitter, temperature, reverb, as a CocoChorales-
style dataset would) with the shipped checkpoints, through ``render_dataset`` with
``engine="local"`` and ``engine="ray"`` at the same number of workers. Start-up (worker
processes or Ray and its actors, model loading in the workers) is measured apart from the
steady-state rate: each engine renders N files and 2N files, and the rate is the difference.

From the per-file cost: projected core-hours for a CocoChorales-sized job (240 000 four-part
pieces of ~21 s, 1 400 h of mixes) against the ~18 400 core-hours MIDI-DDSP reported for it.
Writes benchmarks/results/batch.json. Not a test; run ``python benchmarks/bench_batch.py``.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import shutil
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results" / "batch.json"
COCOCHORALES_PIECES = 240_000
COCOCHORALES_HOURS = 1_400.0
MIDI_DDSP_CORE_HOURS = 256 * 4 * 18.0   # 256 jobs x 4 cores x ~18 h


def _inputs(folder: pathlib.Path, n: int) -> pathlib.Path:
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        shutil.copy(REPO / "examples" / "chorale_4part.mid", folder / f"chorale{k:03d}.mid")
    return folder


def _run(engine: str, jobs: int, n: int, work: pathlib.Path, models) -> dict:
    from midi_ddsp.augmentation import Augmentation
    from midi_ddsp.batch import render_dataset

    aug = Augmentation(ensembles=("string_quartet", "woodwind_quartet", "brass_quartet"),
                       speed_range=(0.9, 1.1), timing_jitter_ms=10.0,
                       temperature_range=(0.3, 0.7), reverbs=("room", "hall"), seed=0)
    src = _inputs(work / f"in{n}", n)
    out = work / f"{engine}{n}"
    t0 = time.perf_counter()
    report = render_dataset([src], out, models=models, jobs=jobs, engine=engine, augmentation=aug,
                            save_params=False)
    wall = time.perf_counter() - t0
    assert report.n_ok == n, [r["error"] for r in report.rows if r["status"] != "ok"]
    audio_s = sum(r["duration_s"] for r in report.rows)
    shutil.rmtree(out)
    return {"files": n, "wall_s": round(wall, 2), "audio_s": round(audio_s, 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=16, help="N (the runs render N and 2N files)")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    from midi_ddsp.pretrained import load_pretrained_model

    torch.set_num_threads(1)
    models = load_pretrained_model()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        for engine in ("local", "ray"):
            small = _run(engine, args.jobs, args.files, work, models)
            large = _run(engine, args.jobs, 2 * args.files, work, models)
            per_file_s = (large["wall_s"] - small["wall_s"]) / (large["files"] - small["files"])
            audio_per_file = (large["audio_s"] - small["audio_s"]) / (large["files"] - small["files"])
            startup_s = small["wall_s"] - per_file_s * small["files"]
            core_s_per_file = per_file_s * args.jobs
            projected = COCOCHORALES_PIECES * core_s_per_file * (
                COCOCHORALES_HOURS * 3600 / COCOCHORALES_PIECES / audio_per_file) / 3600
            results[engine] = {
                "runs": [small, large],
                "startup_s": round(startup_s, 2),
                "steady_files_per_s": round(1.0 / per_file_s, 3),
                "steady_audio_s_per_wall_s": round(audio_per_file / per_file_s, 1),
                "core_s_per_file": round(core_s_per_file, 2),
                "cocochorales_projected_core_hours": round(projected, 0),
                "vs_midi_ddsp_core_hours": round(MIDI_DDSP_CORE_HOURS / projected, 1),
            }
            print(engine, json.dumps(results[engine]), flush=True)
    payload = {
        "date": datetime.date.today().isoformat(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": sys.version.split()[0], "torch": torch.__version__},
        "setup": {"input": "examples/chorale_4part.mid (4 parts, 22.5 s), augmented per file",
                  "jobs": args.jobs, "threads_per_worker": 1,
                  "checkpoints": dict(models.checkpoints)},
        "cocochorales": {"pieces": COCOCHORALES_PIECES, "hours": COCOCHORALES_HOURS,
                         "midi_ddsp_core_hours": MIDI_DDSP_CORE_HOURS},
        "engines": results,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
