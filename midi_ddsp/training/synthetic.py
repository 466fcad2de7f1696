"""A tiny synthetic corpus (shards) with known parameters, for tests and development.

Each example is a short monophonic line with per-note expressions drawn at random: a level and
swell (amplitude envelope), vibrato (5.5 Hz, random extent), a spectral tilt (brightness) and an
attack noise burst. Audio is rendered with a plain numpy additive synth (no reverb), so the
analysed parameters are exact.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from midi_ddsp.config import DEFAULT_SIGNAL_CONFIG, SignalConfig
from midi_ddsp.dsp.units import db_to_amplitude, midi_to_hz
from midi_ddsp.instruments import INSTRUMENTS
from midi_ddsp.shards import Example, write_shard

__all__ = ["synthetic_example", "write_synthetic_corpus"]


def synthetic_example(rng: np.random.Generator, *, seconds: float = 1.0, split: str = "train",
                      index: int = 0, instrument: "str | None" = None,
                      signal: SignalConfig = DEFAULT_SIGNAL_CONFIG, with_audio: bool = True) -> Example:
    """One synthetic example of ``seconds`` (see module docstring)."""
    fr, sr = signal.frame_rate, signal.sample_rate
    n_frames = int(round(seconds * fr))
    inst = INSTRUMENTS[int(rng.integers(len(INSTRUMENTS)))] if instrument is None else \
        next(i for i in INSTRUMENTS if i.name == instrument)
    t = 0.0
    notes = []
    while t < seconds - 0.1:
        dur = float(rng.uniform(0.15, 0.6))
        gap = float(rng.choice([0.0, 0.0, 0.05]))
        pitch = int(rng.integers(max(inst.lowest_midi, 48), min(inst.highest_midi, 84) + 1))
        notes.append([pitch, t, min(t + dur, seconds), int(rng.integers(40, 127))])
        t += dur + gap
    f0 = np.zeros(n_frames)
    amp_db = np.full(n_frames, -100.0)
    hd = np.full((n_frames, signal.n_harmonics), 1.0 / signal.n_harmonics)
    noise_db = np.full((n_frames, signal.n_noise_bands), -100.0)
    k = np.arange(1, signal.n_harmonics + 1)
    for pitch, on, off, vel in notes:
        s0, s1 = int(round(on * fr)), min(max(int(round(on * fr)) + 1, int(round(off * fr))), n_frames)
        n = s1 - s0
        pos = np.linspace(0, 1, n)
        level = rng.uniform(-40, -10)
        swell = rng.uniform(-12, 12) * (pos - 0.5)
        extent = rng.uniform(0.0, 0.5)
        tt = np.arange(n) / fr
        f0[s0:s1] = midi_to_hz(pitch + extent * np.sin(2 * np.pi * 5.5 * tt))
        amp_db[s0:s1] = level + swell
        tilt = rng.uniform(0.5, 2.5)
        dist = k ** -tilt
        hd[s0:s1] = dist / dist.sum()
        attack = rng.uniform(-80, -40)
        noise_db[s0:s1] = -90.0
        noise_db[s0:s0 + min(10, n)] = attack
    amplitude = db_to_amplitude(amp_db)
    noise = db_to_amplitude(noise_db)
    audio = np.zeros(n_frames * signal.hop_size, np.float32)
    if with_audio:
        times = np.arange(audio.shape[0]) / sr
        frame_t = np.arange(n_frames) / fr
        f0_s = np.interp(times, frame_t, f0)
        amp_s = np.interp(times, frame_t, amplitude)
        phase = 2 * np.pi * np.cumsum(f0_s) / sr
        for h in range(1, 11):
            w = np.interp(times, frame_t, hd[:, h - 1])
            audio += (amp_s * w * np.sin(h * phase) * (h * f0_s < sr / 2)).astype(np.float32)
        audio += (rng.standard_normal(audio.shape[0]) *
                  np.interp(times, frame_t, noise.mean(1))).astype(np.float32)
    loudness = np.maximum(amp_db, -120).astype(np.float32)
    return Example(
        example_id=f"synthetic-{split}-{index:05d}", instrument=inst.name, split=split,
        source=f"synthetic-{index}", audio=audio, notes=np.asarray(notes, np.float32),
        f0_hz=f0.astype(np.float32), f0_confidence=np.ones(n_frames, np.float32),
        loudness_db=loudness, amplitude=amplitude.astype(np.float32),
        harmonic_distribution=hd.astype(np.float32), noise_magnitudes=noise.astype(np.float32))


def write_synthetic_corpus(out_dir: "str | os.PathLike[str]", *, n_train: int = 8, n_valid: int = 2,
                           n_test: int = 2, seconds: float = 1.0, seed: int = 0,
                           per_shard: int = 4) -> list[Path]:
    """Write a synthetic corpus of shards into ``out_dir``; returns the shard paths."""
    rng = np.random.default_rng(seed)
    examples = []
    for split, count in (("train", n_train), ("valid", n_valid), ("test", n_test)):
        examples += [synthetic_example(rng, seconds=seconds, split=split, index=i)
                     for i in range(count)]
    paths = []
    for j in range(0, len(examples), per_shard):
        paths.append(write_shard(Path(out_dir) / f"shard-{j // per_shard:05d}.npz",
                                 examples[j:j + per_shard]))
    return paths
