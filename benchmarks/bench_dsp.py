"""Speed of the DDSP layers (DESIGN §8): x real time on 2 threads, forward, no grad.

Writes benchmarks/results/dsp.json. Not a test; run with ``python benchmarks/bench_dsp.py``.
"""
from __future__ import annotations

import datetime
import json
import logging
import math
import os
import pathlib
import platform
import time

import torch

from midi_ddsp.dsp import DDSPSynthesizer, apply_reverb, filtered_noise, harmonic_synth

logger = logging.getLogger("bench_dsp")

SAMPLE_RATE, FRAME_RATE, N_HARMONICS, N_BANDS, REVERB_TAPS = 16000, 250, 60, 65, 48000
TARGET_X_REAL_TIME = 200.0
RESULTS = pathlib.Path(__file__).parent / "results" / "dsp.json"


def _controls(seconds: float, batch: int = 1):
    n_frames = int(seconds * FRAME_RATE)
    t = torch.arange(n_frames) / FRAME_RATE
    f0 = (330.0 + 8.0 * torch.sin(2 * math.pi * 5.5 * t)).expand(batch, -1).contiguous()
    amp = (0.3 + 0.1 * torch.sin(2 * math.pi * 0.5 * t)).expand(batch, -1).contiguous()
    k = torch.arange(1, N_HARMONICS + 1)
    dist = (1.0 / k).expand(batch, n_frames, -1).contiguous()
    mags = torch.full((batch, n_frames, N_BANDS), 0.01)
    ir = torch.randn(REVERB_TAPS) * torch.exp(-torch.arange(REVERB_TAPS) / 8000.0) * 0.01
    ir[0] = 1.0
    return f0, amp, dist, mags, ir


def naive_harmonic_synth(f0_hz, amplitude, harmonic_distribution, *, sample_rate=SAMPLE_RATE):
    """Reference: upsample every control to samples, float32 cumsum, [samples x harmonics] sin."""
    n_samples = f0_hz.shape[1] * (sample_rate // FRAME_RATE)
    interp = lambda x: torch.nn.functional.interpolate(  # noqa: E731
        x.transpose(1, 2), size=n_samples, mode="linear", align_corners=False).transpose(1, 2)
    k = torch.arange(1, harmonic_distribution.shape[-1] + 1, dtype=torch.float32)
    f0 = interp(f0_hz[..., None])  # [B, S, 1]
    amps = interp(amplitude[..., None] * harmonic_distribution)  # [B, S, K]
    amps = amps * (f0 * k < sample_rate / 2)
    phase = torch.cumsum(2 * math.pi * f0 / sample_rate, dim=1)
    return (torch.sin(phase * k) * amps).sum(-1)


def _best_of(fn, repeats: int = 5) -> tuple[float, float]:
    """Best wall time and best process CPU time (all threads) over ``repeats`` runs."""
    walls, cpus = [], []
    for _ in range(repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu_start)
    return min(walls), min(cpus)


def _entry(audio_s: float, timing: tuple[float, float]) -> dict:
    wall, cpu = timing
    return {"audio_s": audio_s, "wall_s": round(wall, 4), "x_real_time": round(audio_s / wall, 1),
            "cpu_s": round(cpu, 4), "x_real_time_per_cpu_second": round(audio_s / cpu, 1)}


def _cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> dict:
    torch.set_num_threads(2)
    load_before = os.getloadavg()
    seconds, naive_seconds = 60.0, 10.0
    f0, amp, dist, mags, ir = _controls(seconds)
    results = {}
    with torch.no_grad():
        harmonic_synth(f0[:, :250], amp[:, :250], dist[:, :250])  # warm-up
        t = _best_of(lambda: harmonic_synth(f0, amp, dist))
        results["harmonic_synth_60_harmonics"] = _entry(seconds, t)
        torch.set_num_threads(1)  # one thread: robust to other processes on a shared machine
        t = _best_of(lambda: harmonic_synth(f0, amp, dist))
        results["harmonic_synth_60_harmonics_1_thread"] = _entry(seconds, t)
        torch.set_num_threads(2)
        n = int(naive_seconds * FRAME_RATE)
        t = _best_of(lambda: naive_harmonic_synth(f0[:, :n], amp[:, :n], dist[:, :n]))
        results["naive_harmonic_synth_reference"] = _entry(naive_seconds, t)
        t = _best_of(lambda: filtered_noise(mags, seed=0))
        results["filtered_noise_65_bands"] = _entry(seconds, t)
        audio = torch.randn(1, int(seconds * SAMPLE_RATE)) * 0.1
        t = _best_of(lambda: apply_reverb(audio, ir))
        results["reverb_48000_taps"] = _entry(seconds, t)
        t = _best_of(lambda: apply_reverb(filtered_noise(mags, seed=0), ir))
        results["filtered_noise_plus_reverb"] = _entry(seconds, t)
        synth = DDSPSynthesizer()
        t = _best_of(lambda: synth(f0, amp, dist, mags, impulse_response=ir, seed=0))
        results["ddsp_synthesizer_full"] = _entry(seconds, t)
    # training-style: forward + backward, batch 8 x 4 s (grad path)
    f0b, ampb, distb, magsb, irb = _controls(4.0, batch=8)
    ampb.requires_grad_()
    distb.requires_grad_()
    magsb.requires_grad_()

    def train_step():
        audio = DDSPSynthesizer()(f0b, ampb, distb, magsb, impulse_response=irb, seed=0)
        audio.pow(2).mean().backward()

    t = _best_of(train_step)
    results["train_step_forward_backward_batch8x4s"] = _entry(32.0, t)
    report = {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu": _cpu_model(),
        "n_cpus": os.cpu_count(),
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "sample_rate": SAMPLE_RATE,
        "n_harmonics": N_HARMONICS,
        "note": "best of 5 (wall and CPU time separately), forward without grad unless stated; naive reference measured on "
                f"{naive_seconds:.0f} s to bound memory ([samples x harmonics] tensors)",
        "target_x_real_time": TARGET_X_REAL_TIME,
        "results": results,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out = main()
    for name, r in out["results"].items():
        logger.info("%-40s %8.1f x real time (%.3f s wall, %.3f s CPU for %.0f s)", name,
                    r["x_real_time"], r["wall_s"], r["cpu_s"], r["audio_s"])
    logger.info("load average before/after: %s / %s; wrote %s", out["loadavg_before"],
                out["loadavg_after"], RESULTS)
