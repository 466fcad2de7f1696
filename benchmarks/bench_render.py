"""Speed and memory of the whole stack against FluidSynth on the same MIDI (DESIGN §8).

In one run, for a four-part Bach chorale (examples/chorale_4part.mid), a 5-minute solo line and a
20-minute solo line (generated here, deterministic):

- midi_ddsp: ``synthesize_midi`` + ``write_result`` (what ``midi_ddsp_synthesize`` does per file)
  with the models already loaded, 2 torch threads, each case in a fresh process so its peak RSS
  is its own; start-up = interpreter + imports + model loading; plus the whole
  ``midi_ddsp_synthesize`` command on the chorale, start-up included;
- FluidSynth with FluidR3_GM at 16 kHz: libfluidsynth in process with the soundfont loaded
  (the like-for-like reference for the speed ratio), and the ``fluidsynth`` program in
  fast-render mode, start-up included.

Speed is seconds of music (last note-off) per wall-clock second. Weights: the shipped checkpoints
when present, else randomly initialised models of the default configurations (identical
architecture and cost; noted in the results). Writes benchmarks/results/render.json.
Not a test; run ``python benchmarks/bench_render.py`` (a few minutes).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results" / "render.json"
THREADS = 2
TARGET_X_REAL_TIME = 50.0
TARGET_RSS_20MIN_MB = 2048.0
REPEATS = {"chorale_4part": 5, "solo_5min": 3, "solo_20min": 1}  # best of N (shared machine)


def _long_solo(path: pathlib.Path, minutes: float, *, seed: int = 0) -> None:
    """A violin line of ``minutes``: stepwise random walk, 0.2-0.6 s notes, a rest now and then."""
    import numpy as np
    import pretty_midi

    rng = np.random.default_rng(seed)
    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=40, name="Violin")
    t, pitch = 0.0, 67
    while t < minutes * 60:
        dur = float(rng.choice([0.2, 0.3, 0.4, 0.6]))
        pitch = int(np.clip(pitch + rng.integers(-3, 4), 57, 88))
        inst.notes.append(pretty_midi.Note(int(rng.integers(70, 110)), pitch, t, t + 0.95 * dur))
        t += dur + (0.5 if rng.random() < 0.05 else 0.0)
    pm.instruments.append(inst)
    pm.write(str(path))


def _peak_rss_mb() -> float:
    """This process's peak resident memory in MB: VmHWM (reset at exec, unlike ru_maxrss, which
    Linux carries over from the forking parent)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child_make_checkpoints(args) -> None:
    """Randomly initialised default-config models (same cost as trained ones) for the benchmark."""
    import torch

    from midi_ddsp.models import ExpressionGenerator, SynthesisGenerator

    torch.manual_seed(0)
    ExpressionGenerator().save_checkpoint(args.eg)
    SynthesisGenerator().save_checkpoint(args.sg)
    print(json.dumps({"ok": True}))


def _music_seconds(path: pathlib.Path) -> float:
    from midi_ddsp.score import load_score

    return float(load_score(path).end_s)


def _child_midi_ddsp(args) -> None:
    """In a fresh process: load models, render one file, print JSON."""
    t0 = time.perf_counter()
    import torch

    torch.set_num_threads(THREADS)
    from midi_ddsp import load_pretrained_model, synthesize_midi, write_result

    models = load_pretrained_model(expression_generator_path=args.eg, synthesis_generator_path=args.sg)
    startup_s = time.perf_counter() - t0
    rss_loaded = _peak_rss_mb()
    runs = []
    for _ in range(max(1, args.repeats)):
        t1 = time.perf_counter()
        cpu1 = time.process_time()
        result = synthesize_midi(args.input, models=models)
        write_result(result, args.out)
        runs.append((time.perf_counter() - t1, time.process_time() - cpu1, result.metadata["timings"]))
        del result
    render_s, cpu_s, stages = min(runs, key=lambda r: r[0])  # best of the repeats
    print(json.dumps({
        "startup_s": startup_s, "render_s": render_s, "render_cpu_s": cpu_s,
        "peak_rss_mb": _peak_rss_mb(),
        "rss_after_loading_mb": rss_loaded, "n_parts": _n_parts(args.input),
        "stage_s": stages, "all_render_s": [round(r[0], 3) for r in runs],
    }))


def _n_parts(path: str) -> int:
    from midi_ddsp.score import load_score

    return len(load_score(path).pitched_parts)


def _child_fluidsynth(args) -> None:
    """In a fresh process: load the soundfont, render one file's parts in process, print JSON."""
    t0 = time.perf_counter()
    from midi_ddsp.fluidsynth_render import _loaded_synth, render_parts_fluidsynth, resolve_soundfont
    from midi_ddsp.mixing import peak_normalize
    from midi_ddsp.wav import write_wav
    from midi_ddsp.score import load_score

    sf2 = resolve_soundfont(None)
    _loaded_synth(sf2, 16000, 0.2)  # the soundfont load is FluidSynth's "model loading"
    startup_s = time.perf_counter() - t0
    times = []
    for _ in range(max(1, args.repeats)):
        t1 = time.perf_counter()
        score = load_score(args.input)
        audio = render_parts_fluidsynth(score.parts, sample_rate=16000)
        write_wav(args.out, peak_normalize(audio), sample_rate=16000)
        times.append(time.perf_counter() - t1)
        del audio
    render_s = min(times)
    print(json.dumps({"startup_s": startup_s, "render_s": render_s,
                      "peak_rss_mb": _peak_rss_mb()}))


def _run_child(args: list[str]) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(THREADS), MKL_NUM_THREADS=str(THREADS))
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, env=env,
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"child failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _timed_process(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of a command (ru_maxrss of the child: includes this small
    parent's RSS at fork time, which Linux carries across exec)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(THREADS), MKL_NUM_THREADS=str(THREADS))
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{cmd[0]} failed: {proc.stderr.read().decode()[-1000:]}")
    return wall, usage.ru_maxrss / 1024


def _fluidsynth(midi: pathlib.Path, wav: pathlib.Path, sf2: str) -> tuple[float, float]:
    return _timed_process([shutil.which("fluidsynth"), "-ni", "-q", "-F", str(wav), "-r", "16000",
                           "-T", "wav", sf2, str(midi)])


def main() -> None:
    from midi_ddsp.fluidsynth_render import resolve_soundfont
    import importlib.resources

    def shipped_checkpoint_path(kind: str) -> pathlib.Path:  # as midi_ddsp.models, without torch
        return pathlib.Path(str(importlib.resources.files("midi_ddsp.checkpoints") / f"{kind}.pt"))

    sf2 = resolve_soundfont(None)
    work = pathlib.Path(tempfile.mkdtemp(prefix="bench_render_"))
    try:
        eg, sg = (shipped_checkpoint_path(k) for k in ("expression_generator", "synthesis_generator"))
        if eg.exists() and sg.exists():
            weights = "shipped checkpoints"
        else:
            eg, sg = work / "eg.pt", work / "sg.pt"
            _run_child(["--make-checkpoints", "--eg", str(eg), "--sg", str(sg)])
            weights = "randomly initialised default configs (shipped checkpoints absent; same cost)"
        inputs = {"chorale_4part": REPO / "examples" / "chorale_4part.mid"}
        for name, minutes in (("solo_5min", 5.0), ("solo_20min", 20.0)):
            inputs[name] = work / f"{name}.mid"
            _long_solo(inputs[name], minutes)
        load_before = os.getloadavg()
        cases = {}
        for name, path in inputs.items():
            music_s = _music_seconds(path)
            repeats = str(REPEATS[name])
            ours = _run_child(["--child", "--input", str(path), "--out", str(work / f"out_{name}"),
                               "--eg", str(eg), "--sg", str(sg), "--repeats", repeats])
            fs_wall, fs_rss = min(_fluidsynth(path, work / f"{name}.wav", sf2)
                                  for _ in range(REPEATS[name]))
            fs = _run_child(["--child-fluidsynth", "--input", str(path), "--out",
                             str(work / f"{name}_py.wav"), "--repeats", repeats])
            ours_x = music_s / ours["render_s"]
            fs_x = music_s / fs["render_s"]
            cases[name] = {
                "music_s": round(music_s, 2),
                "midi_ddsp": {
                    "x_real_time": round(ours_x, 2),
                    "render_s": round(ours["render_s"], 3),
                    "render_cpu_s": round(ours["render_cpu_s"], 3),
                    "x_real_time_from_cpu_time": round(music_s / (ours["render_cpu_s"] / THREADS), 2),
                    "startup_s": round(ours["startup_s"], 3),
                    "peak_rss_mb": round(ours["peak_rss_mb"], 1),
                    "rss_after_loading_mb": round(ours["rss_after_loading_mb"], 1),
                    "n_parts": ours["n_parts"],
                    "stage_s": ours["stage_s"],
                    "all_render_s": ours["all_render_s"],
                },
                "fluidsynth": {
                    "x_real_time": round(fs_x, 2),
                    "render_s": round(fs["render_s"], 3),
                    "startup_s": round(fs["startup_s"], 3),
                    "peak_rss_mb": round(fs["peak_rss_mb"], 1),
                    "program_wall_s": round(fs_wall, 3),
                    "program_x_real_time_with_startup": round(music_s / fs_wall, 2),
                    "program_peak_rss_mb": round(fs_rss, 1),
                },
                "ratio_midi_ddsp_over_fluidsynth": round(ours_x / fs_x, 4),
                "meets_target_x_real_time": ours_x >= TARGET_X_REAL_TIME,
            }
            print(name, json.dumps(cases[name]), flush=True)
        cli_wall, cli_rss = _timed_process([
            sys.executable, "-m", "midi_ddsp.cli.synthesize", str(inputs["chorale_4part"]),
            "--output_dir", str(work / "cli"), "--expression_generator_weight_path", str(eg),
            "--synthesis_generator_weight_path", str(sg), "--quiet"])
        results = {
            "benchmark": "bench_render",
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                        "python": platform.python_version(), "torch_threads": THREADS,
                        "load_average_before": [round(x, 2) for x in load_before],
                        "load_average_after": [round(x, 2) for x in os.getloadavg()]},
            "weights": weights,
            "soundfont": sf2,
            "targets": {"x_real_time": TARGET_X_REAL_TIME, "peak_rss_20min_mb": TARGET_RSS_20MIN_MB},
            "cases": cases,
            "cli_chorale_end_to_end": {"wall_s": round(cli_wall, 3), "peak_rss_mb": round(cli_rss, 1),
                                       "note": "midi_ddsp_synthesize chorale_4part.mid, start-up, "
                                               "model loading and writing included"},
            "peak_rss_20min_ok": cases["solo_20min"]["midi_ddsp"]["peak_rss_mb"] < TARGET_RSS_20MIN_MB,
            "notes": "x_real_time = seconds of music / wall seconds (best of the repeats) of rendering and writing the "
                     "WAV with the models (FluidSynth: the soundfont) already loaded, each in a "
                     "fresh process. FluidSynth in process = libfluidsynth via pyfluidsynth "
                     "(midi_ddsp.fluidsynth_render); program_* = the fluidsynth command "
                     "(-F fast render), start-up included. The machine is shared: see "
                     "load_average; render_cpu_s counts CPU time of all threads, and "
                     "x_real_time_from_cpu_time = music_s / (render_cpu_s / 2 threads) is the "
                     "speed the render would have with its 2 cores to itself.",
        }
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {RESULTS}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-fluidsynth", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--make-checkpoints", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--input")
    parser.add_argument("--out")
    parser.add_argument("--eg")
    parser.add_argument("--sg")
    parser.add_argument("--repeats", type=int, default=1)
    cli_args = parser.parse_args()
    if cli_args.child:
        _child_midi_ddsp(cli_args)
    elif cli_args.child_fluidsynth:
        _child_fluidsynth(cli_args)
    elif cli_args.make_checkpoints:
        _child_make_checkpoints(cli_args)
    else:
        main()
