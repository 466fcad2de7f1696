"""Live playing: the streaming engine's speed and latency, and whole-process start-up.

For block sizes 64, 128, 256, 512 and 1024 at 16 kHz, and 128 and 512 at 48 kHz output:

- real-time factor (compute time / audio time, one thread) with 1 and 8 voices all sounding,
  and per voice;
- the most voices sustained in real time: the largest voice count whose real-time factor stays
  under 0.8 on one core (one engine is one thread; a second core runs a second engine);
- algorithmic latency: the block (buffering) plus the engine's control look-ahead;
- note-on -> first sound through JACK (16 kHz, period = block size, dummy driver): from the
  sample a second client sends the note-on at to the first recorded sample within 30 dB of the
  note's peak (includes the attack's rise), median of 3 notes; and the share of late periods.

In the same run: whole-process wall time of ``midi_ddsp_synthesize`` on the four-part example
chorale (its default onnxruntime runtime, and --runtime torch) against FluidSynth on the same MIDI
(median of 5 interleaved runs; ``--only-startup`` measures just that).
Writes benchmarks/results/streaming.json. Not a test; run ``python benchmarks/bench_streaming.py``.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
RESULTS = HERE / "results" / "streaming.json"
SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"


def real_time_factor(engine_factory, voices: int, seconds: float) -> float:
    engine = engine_factory(voices)
    for v in range(voices):
        engine.note_on(48 + 3 * v % 36, 90)
    for _ in range(20):
        engine.process()
    n_blocks = int(seconds * engine.sample_rate / engine.block_size)
    began = time.perf_counter()
    for _ in range(n_blocks):
        engine.process()
    return (time.perf_counter() - began) / (n_blocks * engine.block_size / engine.sample_rate)


def engine_numbers(sample_rate: int, block: int, seconds: float) -> dict:
    from midi_ddsp.streaming import StreamingSynth

    def factory(voices):
        return StreamingSynth("violin", sample_rate=sample_rate, block_size=block,
                              max_voices=voices)

    rtf1 = real_time_factor(factory, 1, seconds)
    rtf8 = real_time_factor(factory, 8, seconds)
    most = 0
    for voices in (1, 2, 4, 8, 12, 16, 24, 32):
        if real_time_factor(factory, voices, seconds / 2) < 0.8:
            most = voices
        else:
            break
    look_ahead = factory(1).latency_samples
    return {"sample_rate": sample_rate, "block_size": block,
            "rtf_1_voice": round(rtf1, 4), "rtf_8_voices": round(rtf8, 4),
            "rtf_per_voice_at_8": round(rtf8 / 8, 4),
            "most_voices_real_time_one_core": most,
            "most_voices_real_time_two_cores": 2 * most,
            "look_ahead_ms": round(1000 * look_ahead / sample_rate, 2),
            "algorithmic_latency_ms": round(1000 * (block + look_ahead) / sample_rate, 2)}


def jack_numbers(block: int) -> dict:
    from tests.jack_session import JackSession, jack_available

    if not jack_available():
        return {"skipped": "jackd2 / JACK-Client not installed"}
    sr = 16000
    events = []
    for k in range(3):
        events += [(0.4 + 0.8 * k, [0x90, 64 + 3 * k, 100]), (0.9 + 0.8 * k, [0x80, 64 + 3 * k, 0])]
    with JackSession(sr, block) as session:
        run = session.play(events, 2.8, live_args=["--instrument", "flute", "--voices", "8"])
    audio = run["audio"]
    delays = []
    for on in run["sent"][0::2]:
        segment = audio[on:on + int(0.4 * sr)].astype(np.float64)
        env = np.sqrt(np.convolve(segment ** 2, np.ones(32) / 32, mode="same"))
        delays.append(1000 * int(np.argmax(env >= env.max() * 10 ** (-30 / 20))) / sr)
    return {"period": block, "note_on_to_first_sound_ms": round(float(np.median(delays)), 1),
            "late_periods": run["xruns"], "periods": run["periods"]}


def startup_numbers(runs: int = 5) -> dict:
    """Whole-process wall time of ``midi_ddsp_synthesize`` on the chorale, on its default
    runtime (onnxruntime for the shipped checkpoints) and on torch, beside FluidSynth (median of
    ``runs`` interleaved runs each)."""
    chorale = REPO / "examples" / "chorale_4part.mid"
    cli = str(REPO / ".venv" / "bin" / "midi_ddsp_synthesize")
    times: dict[str, list[float]] = {"onnx": [], "torch": [], "fluidsynth": []}
    with tempfile.TemporaryDirectory() as tmp:
        commands = {
            "onnx": [cli, str(chorale), "--output-dir", os.path.join(tmp, "o"), "--runtime", "onnx"],
            "torch": [cli, str(chorale), "--output-dir", os.path.join(tmp, "t"), "--runtime",
                      "torch"],
            "fluidsynth": ["fluidsynth", "-ni", "-F", os.path.join(tmp, "fs.wav"), "-r", "16000",
                           SOUNDFONT, str(chorale)],
        }
        for _ in range(runs):
            for name, command in commands.items():
                began = time.perf_counter()
                subprocess.run(command, check=True, capture_output=True)
                times[name].append(time.perf_counter() - began)
    median = {name: round(float(np.median(values)), 3) for name, values in times.items()}
    return {"midi_ddsp_synthesize_s": median["onnx"], "midi_ddsp_synthesize_torch_s": median["torch"],
            "fluidsynth_s": median["fluidsynth"], "runs": runs,
            "all_s": {name: [round(x, 3) for x in values] for name, values in times.items()},
            "note": "default runtime: onnxruntime (the shipped checkpoints' graphs, no torch or "
                    "pandas imported); --runtime torch for comparison"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="audio per RTF measurement")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--only-startup", action="store_true",
                        help="measure only the whole-process start-up and update that entry")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if args.only_startup:
        startup = startup_numbers()
        print(startup, flush=True)
        result = json.loads(pathlib.Path(args.out).read_text())
        result["startup"] = startup
        result["startup_date"] = datetime.date.today().isoformat()
        pathlib.Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {args.out}")
        return 0
    engine = [engine_numbers(16000, b, args.seconds) for b in (64, 128, 256, 512, 1024)]
    engine += [engine_numbers(48000, b, args.seconds) for b in (128, 512)]
    for row in engine:
        print(row, flush=True)
    jack = [jack_numbers(b) for b in (64, 128, 256, 512, 1024)]
    for row in jack:
        print(row, flush=True)
    startup = startup_numbers()
    print(startup, flush=True)
    result = {
        "date": datetime.date.today().isoformat(),
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "model": "checkpoints/causal_synthesis_generator.pt",
        "engine": engine, "jack": jack, "startup": startup,
        "targets": {"algorithmic_latency_ms_at_block_64": 10.0,
                    "voices_real_time_at_block_128_two_cores": 8,
                    "chorale_whole_process_s": 1.0},
    }
    pathlib.Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
