"""What recording does to a clean render, drawn at random: a room, background noise, and the
errors of a pitch tracker; and re-voiced synthesis parameters, timbres the soundfont lacks
(breathier, brighter, darker, other formants). DDSP Inference trains on these
(``midi_ddsp.training.datasets``) so it meets recordings as it will be used, and measures the
noise and the harmonics it hears instead of recalling the soundfont's; its evaluation scores
degraded renders with them.

The pitch-tracker model imitates CREPE tiny on the corpus's renders, measured against the exact
f0 over 13 test pieces (6 s each): median error 4.9 cents, 90th percentile 21 cents, 1.6 % of
voiced frames an octave (or more) off, a bias of a few cents per piece; in silence CREPE still
returns a pitch, of whatever it hears.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from midi_ddsp.dsp.blocks import convolve_room
from midi_ddsp.dsp.rooms import RoomPreset, room_impulse_response
from midi_ddsp.synth_params import SynthParams

__all__ = ["degrade_audio", "pitch_tracker_f0", "revoice_params"]


def degrade_audio(audio: np.ndarray, rng: np.random.Generator, *, sample_rate: int = 16000,
                  reverb_prob: float = 1.0, noise_prob: float = 1.0) -> np.ndarray:
    """A dry render as if recorded: a random room (RT60 0.2-1.2 s, wet -24..-8 dB, tilt -3..0 dB
    per octave, pre-delay 0-20 ms) and noise (white or pink, 25-50 dB below the signal's RMS).

    Args:
        audio: float [n_samples].
        rng: the draws' generator.
        reverb_prob, noise_prob: chance of each.

    Returns:
        float32 [n_samples] (the room's tail past the end is cut).
    """
    x = np.asarray(audio, np.float32)
    n = x.shape[0]
    if rng.random() < reverb_prob:
        rt60 = float(rng.uniform(0.2, 1.2))
        room = RoomPreset("recorded", rt60_s=rt60, wet_db=float(rng.uniform(-24.0, -8.0)),
                          tilt_db_per_octave=float(rng.uniform(-3.0, 0.0)),
                          predelay_s=float(rng.uniform(0.0, 0.02)))
        ir = room_impulse_response(room, sample_rate, n_taps=max(2, int(rt60 * sample_rate)),
                                   seed=int(rng.integers(1 << 31)))
        x = convolve_room(x, ir)
    if rng.random() < noise_prob:
        noise = rng.standard_normal(n)
        if rng.random() < 0.5:   # pink: power falling as 1/f
            spectrum = np.fft.rfft(noise)
            spectrum /= np.sqrt(np.maximum(np.arange(spectrum.shape[0]), 1.0))
            noise = np.fft.irfft(spectrum, n)
        rms = float(np.sqrt(np.mean(np.square(x)))) + 1e-9
        snr_db = float(rng.uniform(25.0, 50.0))
        x = x + noise * (rms * 10.0 ** (-snr_db / 20.0) / (np.std(noise) + 1e-12))
    return x.astype(np.float32)


def _smooth(x: np.ndarray, frames: int) -> np.ndarray:
    kernel = np.hanning(frames + 2)[1:-1]
    return np.convolve(x, kernel / kernel.sum(), mode="same")


def pitch_tracker_f0(f0_hz: np.ndarray, rng: np.random.Generator, *,
                     frame_rate: int = 250) -> np.ndarray:
    """``f0_hz`` [n_frames] as a pitch tracker would report it (see module docstring).

    Voiced frames (f0 > 0) get a per-clip bias (N(0, 3) cents), smoothed Laplace jitter (scale
    3-10 cents, over ~12 ms) and a few 8-60 ms octave slips (up or down); unvoiced frames get a
    slowly wandering pitch of 60-1000 Hz, so the result is > 0 everywhere, as CREPE's is.
    Returns float32 [n_frames].
    """
    f0 = np.asarray(f0_hz, np.float64)
    n = f0.shape[0]
    if n == 0:
        return f0.astype(np.float32)
    cents = rng.normal(0.0, 3.0) + _smooth(rng.laplace(0.0, rng.uniform(3.0, 10.0), n) * 1.6, 3)
    voiced = f0 > 0
    for _ in range(rng.poisson(0.6 * n / frame_rate)):
        length = int(rng.integers(2, max(3, int(0.06 * frame_rate))))
        start = int(rng.integers(0, max(1, n - length)))
        cents[start:start + length] += 1200.0 * rng.choice((-1.0, 1.0))
    out = np.where(voiced, f0 * np.power(2.0, cents / 1200.0), 0.0)
    if not voiced.all():
        wander = np.cumsum(rng.normal(0.0, 0.3, n))   # semitones
        wander = _smooth(wander, 13) + rng.uniform(np.log2(60.0), np.log2(1000.0)) * 12.0
        out[~voiced] = np.power(2.0, np.clip(wander[~voiced], np.log2(60.0) * 12.0,
                                             np.log2(1000.0) * 12.0) / 12.0)
    return out.astype(np.float32)


def revoice_params(params: SynthParams, rng: np.random.Generator) -> SynthParams:
    """``params`` with another timbre: the noise bands moved by U(-20, +15) dB and tilted by
    U(-12, +12) dB from the lowest band to the highest; the harmonic distribution tilted by
    U(-6, +4) dB per octave with a smooth random ripple (sd 3 dB over ~6 harmonics), then
    renormalised. f0 and amplitude are kept. Render the result to get audio whose exact
    parameters are known."""
    hd = np.asarray(params.harmonic_distribution, np.float64)
    noise = np.asarray(params.noise_magnitudes, np.float64)
    k = np.arange(1, hd.shape[1] + 1)
    ripple = _smooth(rng.normal(0.0, 3.0 * np.sqrt(6.0), hd.shape[1] + 12), 6)[6:-6]
    harmonic_db = rng.uniform(-6.0, 4.0) * np.log2(k) + ripple
    hd = hd * np.power(10.0, harmonic_db / 20.0)[None, :]
    total = hd.sum(1, keepdims=True)
    hd = np.where(total > 0, hd / np.maximum(total, 1e-12), hd)
    bands = np.linspace(-0.5, 0.5, noise.shape[1])
    noise_db = rng.uniform(-20.0, 15.0) + rng.uniform(-12.0, 12.0) * bands
    noise = noise * np.power(10.0, noise_db / 20.0)[None, :]
    return dataclasses.replace(params, harmonic_distribution=hd.astype(np.float32),
                               noise_magnitudes=noise.astype(np.float32))
