"""Per-note perturbations of the Synthesis Generator's training targets (``synthesis_batch``):
the onset-local attack augmentation, the phase-locked vibrato augmentation and the range a
perturbed control is drawn from."""
from __future__ import annotations

import numpy as np

from midi_ddsp.expression import EXPRESSION_NAMES, brightness_ceiling
from midi_ddsp.expression.definitions import ATTACK_DB_PER_UNIT, ATTACK_OFFSET, ATTACK_S
from midi_ddsp.models.controls import CONTROL_RANGES

__all__ = ["added_vibrato", "onset_transient", "reachable_high"]

NOISE_DB_MIN, NOISE_DB_MAX = CONTROL_RANGES["noise_db"].low, CONTROL_RANGES["noise_db"].high


def onset_transient(noise_db: np.ndarray, rng: np.random.Generator, *,
                     frame_rate: int) -> np.ndarray:
    """Attack augmentation of one note's noise bands ([n_frames, n_bands] dB): over the attack
    window (``ATTACK_S``) the note's noise is moved to a level drawn uniformly over attack
    -0.2 .. 1.2 (-113 .. -57 dB), whatever the sustain's: a burst or a cut of the note's own
    noise spectrum (tilted by at most +-10 dB), flat over the window, then decaying with a time
    constant of U(10, 20) ms, so the sustain (from ~120 ms) moves by under 1 dB. Flat, not a
    decaying spike: the attack is a mean of dB, and a spike with the same mean is a loud click.
    Drawn independently of the note, the attack no longer tells the model how noisy the sustain
    is."""
    t = np.arange(noise_db.shape[0]) / frame_rate
    n_attack = max(1, min(noise_db.shape[0], int(round(ATTACK_S * frame_rate))))
    shape = np.exp(-np.maximum(t - n_attack / frame_rate, 0.0) / rng.uniform(0.010, 0.020))
    target_db = (rng.uniform(-0.2, 1.2) - ATTACK_OFFSET) * ATTACK_DB_PER_UNIT
    gain = (target_db - float(noise_db[:n_attack].mean())) * shape
    tilt_db = rng.uniform(-20.0, 20.0) * np.linspace(-0.5, 0.5, noise_db.shape[1])
    return np.clip(noise_db + gain[:, None] + shape[:, None] * tilt_db[None, :],
                   NOISE_DB_MIN, NOISE_DB_MAX)


def reachable_high(expression_index: int, pitch: int, sample_rate: int = 16000) -> float:
    """Upper end of a perturbed control for a note: 1, except brightness: 0.8 x the most the
    note's harmonics below Nyquist can show (``brightness_ceiling``), so the target stays
    inside what the synth can play."""
    if EXPRESSION_NAMES[expression_index] != "brightness":
        return 1.0
    return float(min(1.0, 0.8 * brightness_ceiling(pitch, sample_rate=sample_rate)))


def added_vibrato(oscillator: np.ndarray, rng: np.random.Generator, *, frame_rate: int = 250,
                  max_cents: float = 50.0) -> np.ndarray:
    """A vibrato to add to one plain note's pitch, in semitones [n]: depth U(0, ``max_cents``)
    cents after a delay of U(0, 35 %) of the note (<= 0.4 s) and a fade-in of 50-300 ms, in
    phase with ``oscillator`` [n] (the note's sin(2 pi rate t) conditioning feature).

    The corpus vibrato starts at a random phase, so regressing the frame-wise f0 pulls it
    towards none and vibrato 1.0 comes out short of its documented depth; a vibrato in phase
    with the conditioning can be regressed exactly, at any depth, on every instrument."""
    n = oscillator.shape[0]
    t = np.arange(n) / frame_rate
    delay = rng.uniform(0.0, min(0.35 * n / frame_rate, 0.4))
    ramp = np.clip((t - delay) / rng.uniform(0.05, 0.3), 0.0, 1.0)
    return rng.uniform(0.0, max_cents) / 100.0 * ramp * oscillator
