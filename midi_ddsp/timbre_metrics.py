"""Timbre-fidelity metrics (issue 15): pure functions comparing a render with the audio it
should imitate. The evaluation that runs them over corpus pieces is ``midi_ddsp.timbre_evaluation``.

* harmonic level error (``harmonic_level_error_db``): mean |difference| in dB of each harmonic's
  level relative to the frame's harmonic total, on sustained frames (``SUSTAIN_TRIM_S`` after
  onsets / before offsets, within ``ACTIVE_RANGE_DB`` of the piece's loud frames), harmonics below
  Nyquist, levels floored at ``LEVEL_FLOOR_DB``;
* spectral-centroid track error (``centroid_error_hz``) over in-note active frames (and the bias);
* attack error (``attack_error_db``): mean |dB difference| of STFT magnitudes (256-point, hop 64)
  over the first ``ATTACK_S`` of every note, floored ``ATTACK_RANGE_DB`` below the corpus peak;
* band energy (``band_energy_db``): energy in 2-4, 4-6 and 6-8 kHz relative to the total, dB;
* Fréchet distance (``frechet_distance``) between embedding sets (CREPE penultimate layer,
  ``embedding_frames``).
"""
from __future__ import annotations

import dataclasses
import warnings
from typing import Sequence

import numpy as np

from midi_ddsp.analysis import analyse_audio, fill_unvoiced  # the floor's own unvoiced rule
from midi_ddsp.dsp.spectral import multiscale_spectral_loss, stft_magnitude
from midi_ddsp.errors import ParameterError
from midi_ddsp.score import Note, note_frame_span
from midi_ddsp.synth_params import SynthParams

__all__ = [
    "ATTACK_S",
    "BANDS_HZ",
    "EMBEDDING_HOP_S",
    "SUSTAIN_TRIM_S",
    "ACTIVE_RANGE_DB",
    "LEVEL_FLOOR_DB",
    "ATTACK_RANGE_DB",
    "TimbrePiece",
    "render_dry",
    "band_energy_db",
    "sustained_frames",
    "harmonic_level_error_db",
    "spectral_centroid_hz",
    "centroid_error_hz",
    "attack_error_db",
    "embedding_frames",
    "frechet_distance",
    "piece_metrics",
    "summarise_rows",
    "mean_of",
]


@dataclasses.dataclass
class TimbrePiece:
    """One test piece: corpus audio [n_samples] (16 kHz), its notes, its analysed parameters
    (``SynthParams`` at 250 Hz, n_frames = n_samples // 64) and loudness_db [n_frames]."""

    example_id: str
    instrument: str
    audio: np.ndarray
    notes: list
    params: SynthParams
    loudness_db: np.ndarray

    @property
    def duration_s(self) -> float:
        return self.params.n_frames / 250.0


ATTACK_S = 0.060
"""Length of the attack window after each onset (s)."""
BANDS_HZ = ((2000.0, 4000.0), (4000.0, 6000.0), (6000.0, 8000.0))
"""Bands whose energy relative to the total is reported (Hz; the issue's bands)."""
SUSTAIN_TRIM_S = (0.060, 0.040)
"""Sustained frames start this long after an onset and stop this long before an offset (s)."""
ACTIVE_RANGE_DB = 40.0
"""Frames whose corpus harmonic amplitude lies within this of the piece's 95th percentile count."""
LEVEL_FLOOR_DB = -60.0
"""Relative harmonic levels are floored here (dB re. the frame's harmonic total)."""
ATTACK_RANGE_DB = 80.0
"""Attack spectra are floored this far below the corpus audio's peak magnitude (dB)."""
EMBEDDING_HOP_S = 0.02
"""One CREPE embedding frame every this many seconds."""
_CENTROID_FFT = 1024
_ATTACK_FFT = 256
_BAND_FFT = 2048
_TINY = 1e-12    # guards logs of energies (power)



def render_dry(params: SynthParams, n_samples: int, *, seed: int = 0) -> np.ndarray:
    """Dry render [n_samples] of ``params`` (unvoiced f0 filled with the nearest voiced f0, as
    ``analysis.resynthesis_floor``), cut or zero-padded to ``n_samples``."""
    from midi_ddsp.dsp.blocks import render_synth_params

    filled = SynthParams(fill_unvoiced(params.f0_hz), params.amplitude,
                         params.harmonic_distribution, params.noise_magnitudes)
    audio = np.asarray(render_synth_params(filled, seed=seed), np.float32)
    return np.pad(audio, (0, max(0, n_samples - audio.shape[0])))[:n_samples]


# ---------------------------------------------------------------------------------------------
# metrics (pure functions on arrays)
# ---------------------------------------------------------------------------------------------
def _audio(x, name: str) -> np.ndarray:
    a = np.asarray(x, np.float32)
    if a.ndim != 1 or a.size == 0 or not np.all(np.isfinite(a)):
        raise ParameterError(f"{name}: expected a finite non-empty 1-D waveform, got shape {a.shape}")
    return a


def band_energy_db(audio, *, sample_rate: int = 16000,
                   bands_hz: Sequence[tuple] = BANDS_HZ) -> list[float]:
    """Energy of each band relative to the total, dB (10 log10(E_band / E_total)).

    Args:
        audio: waveform, shape [n_samples].
        bands_hz: (low, high) pairs in Hz; a band includes low, excludes high except at Nyquist.

    Returns:
        one value per band (dB <= 0).
    """
    x = _audio(audio, "audio")
    power = (stft_magnitude(x, n_fft=_BAND_FFT).numpy().astype(np.float64) ** 2).sum(0)
    freqs = np.fft.rfftfreq(_BAND_FFT, 1.0 / sample_rate)
    total = power.sum() + _TINY
    out = []
    for lo, hi in bands_hz:
        sel = (freqs >= lo) & ((freqs < hi) | ((hi >= sample_rate / 2) & (freqs <= hi)))
        out.append(float(10 * np.log10(power[sel].sum() / total + _TINY)))
    return out


def _relative_levels_db(params: SynthParams) -> np.ndarray:
    """Harmonic levels re. the frame's harmonic total, dB floored at LEVEL_FLOOR_DB, [T, K]."""
    hd = np.asarray(params.harmonic_distribution, np.float64)
    hd = hd / np.maximum(hd.sum(1, keepdims=True), _TINY)
    return np.maximum(20 * np.log10(np.maximum(hd, _TINY)), LEVEL_FLOOR_DB)


def sustained_frames(notes: Sequence[Note], amplitude: np.ndarray, *, frame_rate: int = 250,
                     trim_s: tuple = SUSTAIN_TRIM_S) -> np.ndarray:
    """Boolean [n_frames]: inside a note, ``trim_s`` away from its ends, and the amplitude
    ([n_frames], linear) within ACTIVE_RANGE_DB of its 95th percentile."""
    n = amplitude.shape[0]
    mask = np.zeros(n, bool)
    for note in notes:
        a, b = note_frame_span(note.onset_s, note.offset_s, frame_rate=frame_rate)
        mask[min(n, a + int(round(trim_s[0] * frame_rate))):max(0, min(n, b - int(round(trim_s[1] * frame_rate))))] = True
    return mask & _active(amplitude)


def _active(amplitude: np.ndarray) -> np.ndarray:
    db = 20 * np.log10(np.maximum(np.asarray(amplitude, np.float64), _TINY))
    return db > np.percentile(db, 95) - ACTIVE_RANGE_DB


def harmonic_level_error_db(reference: SynthParams, estimate: SynthParams, frames: np.ndarray, *,
                            sample_rate: int = 16000) -> dict:
    """Per-harmonic level error on the given frames.

    Args:
        reference, estimate: analysed parameters of the corpus audio and of a render, same
            n_frames and n_harmonics.
        frames: boolean [n_frames], the frames to compare (e.g. ``sustained_frames``).

    Returns:
        ``{"mean_db": mean over harmonics of the per-harmonic mean |error|, "per_harmonic_db":
        list [K] (NaN where no frame has that harmonic below Nyquist), "n_frames": int}``.
    """
    if reference.harmonic_distribution.shape != estimate.harmonic_distribution.shape:
        raise ParameterError(f"reference and estimate differ in shape: "
                             f"{reference.harmonic_distribution.shape} vs "
                             f"{estimate.harmonic_distribution.shape}")
    frames = np.asarray(frames, bool)
    k = np.arange(1, reference.harmonic_distribution.shape[1] + 1)
    f0 = np.maximum(np.asarray(reference.f0_hz, np.float64), np.asarray(estimate.f0_hz, np.float64))
    valid = frames[:, None] & (f0[:, None] * k[None, :] < sample_rate / 2) & (f0[:, None] > 0)
    err = np.abs(_relative_levels_db(reference) - _relative_levels_db(estimate))
    count = valid.sum(0)
    per = np.where(count > 0, (err * valid).sum(0) / np.maximum(count, 1), np.nan)
    mean = float(np.nanmean(per)) if np.any(count > 0) else float("nan")
    return {"mean_db": mean, "per_harmonic_db": [float(v) for v in per],
            "n_frames": int(frames.sum())}


def spectral_centroid_hz(audio, *, sample_rate: int = 16000, hop_size: int = 64) -> np.ndarray:
    """Magnitude-weighted spectral centroid per frame (Hz), [n_samples // hop_size] (0 in
    silent frames); 1024-point Hann STFT centred on sample i * hop_size."""
    mag = stft_magnitude(_audio(audio, "audio"), n_fft=_CENTROID_FFT, hop_size=hop_size).numpy()
    freqs = np.fft.rfftfreq(_CENTROID_FFT, 1.0 / sample_rate)
    total = mag.sum(1)
    return np.where(total > 0, (mag @ freqs) / np.maximum(total, _TINY), 0.0)


def centroid_error_hz(reference_audio, estimate_audio, frames: np.ndarray, *,
                      sample_rate: int = 16000) -> dict:
    """``{"mean_abs_hz", "bias_hz"}`` of the centroid track of ``estimate_audio`` against
    ``reference_audio`` (same shape [n_samples]) on boolean ``frames`` [n_samples // 64]."""
    ref = spectral_centroid_hz(reference_audio, sample_rate=sample_rate)
    est = spectral_centroid_hz(estimate_audio, sample_rate=sample_rate)
    n = min(ref.shape[0], est.shape[0], len(frames))
    sel = np.asarray(frames[:n], bool)
    if not sel.any():
        return {"mean_abs_hz": float("nan"), "bias_hz": float("nan")}
    diff = est[:n][sel] - ref[:n][sel]
    return {"mean_abs_hz": float(np.abs(diff).mean()), "bias_hz": float(diff.mean())}


def attack_error_db(reference_audio, estimate_audio, notes: Sequence[Note], *,
                    sample_rate: int = 16000, hop_size: int = 64, attack_s: float = ATTACK_S
                    ) -> float:
    """Mean |dB difference| of 256-point STFT magnitudes over the first ``attack_s`` of every
    note (magnitudes floored ATTACK_RANGE_DB below the reference's peak); NaN without notes."""
    ref_mag = stft_magnitude(_audio(reference_audio, "reference_audio"), n_fft=_ATTACK_FFT,
                             hop_size=hop_size).numpy()
    est_mag = stft_magnitude(_audio(estimate_audio, "estimate_audio"), n_fft=_ATTACK_FFT,
                             hop_size=hop_size).numpy()
    floor_db = 20 * np.log10(max(float(ref_mag.max()), _TINY)) - ATTACK_RANGE_DB
    ref_db = np.maximum(20 * np.log10(np.maximum(ref_mag, _TINY)), floor_db)
    est_db = np.maximum(20 * np.log10(np.maximum(est_mag, _TINY)), floor_db)
    frame_rate = sample_rate / hop_size
    n_attack = max(1, int(round(attack_s * frame_rate)))
    errors = []
    for note in notes:
        a = int(round(note.onset_s * frame_rate))
        b = min(a + n_attack, ref_db.shape[0], est_db.shape[0])
        if b > a:
            errors.append(np.abs(ref_db[a:b] - est_db[a:b]).mean())
    return float(np.mean(errors)) if errors else float("nan")


def embedding_frames(audio, tracker, frames: np.ndarray, *, sample_rate: int = 16000,
                     frame_rate: int = 250) -> np.ndarray:
    """CREPE penultimate-layer embeddings [n, D] of ``audio`` [n_samples] every EMBEDDING_HOP_S,
    at the frames (boolean [n_frames] at ``frame_rate``) that are set."""
    x = _audio(audio, "audio")
    step = max(1, int(round(EMBEDDING_HOP_S * frame_rate)))
    idx = np.nonzero(np.asarray(frames, bool))[0]
    idx = idx[idx % step == 0]
    hop = sample_rate // frame_rate
    centres = np.minimum(idx * hop, x.shape[0] - 1)
    return tracker.embeddings(x, centres=centres)


def frechet_distance(a, b) -> float:
    """Fréchet distance between Gaussians fitted to two sets of vectors [n, D] (n >= 2):
    |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)); 0 for identical sets."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ParameterError(f"frechet_distance: expected two [n >= 2, D] arrays of the same D, "
                             f"got {a.shape} and {b.shape}")
    mu = a.mean(0) - b.mean(0)
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # tr((S_a S_b)^(1/2)) = sum of sqrt(eigenvalues of S_a^(1/2) S_b S_a^(1/2)) (symmetric PSD,
    # so rank-deficient covariances, e.g. dead ReLU units, need no regularisation)
    w, v = np.linalg.eigh(sa)
    half = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(half @ sb @ half), 0.0, None)).sum()
    return float(max(0.0, mu @ mu + np.trace(sa) + np.trace(sb) - 2.0 * cross))


# ---------------------------------------------------------------------------------------------
# evaluation
# ---------------------------------------------------------------------------------------------
def piece_metrics(piece: TimbrePiece, render: np.ndarray, render_f0_hz: np.ndarray, *,
                  sample_rate: int = 16000) -> dict:
    """Every per-piece metric of one render [n_samples] (its f0 [n_frames] places the harmonic
    analysis) against the piece's corpus audio."""

    audio = piece.audio
    sustained = sustained_frames(piece.notes, piece.params.amplitude)
    analysed = analyse_audio(render, fill_unvoiced(render_f0_hz), sample_rate=sample_rate,
                             n_harmonics=piece.params.harmonic_distribution.shape[1],
                             n_noise_bands=piece.params.noise_magnitudes.shape[1])
    in_note = sustained_frames(piece.notes, piece.params.amplitude, trim_s=(0.0, 0.0))
    return {
        "spectral_loss": float(multiscale_spectral_loss(audio, render)),
        "harmonic_level": harmonic_level_error_db(piece.params, analysed, sustained,
                                                  sample_rate=sample_rate),
        "centroid": centroid_error_hz(audio, render, in_note, sample_rate=sample_rate),
        "attack_db": attack_error_db(audio, render, piece.notes, sample_rate=sample_rate),
        "band_energy_db": band_energy_db(render, sample_rate=sample_rate),
    }


def mean_of(values) -> float:
    vals = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(vals)) if vals else float("nan")


def summarise_rows(rows: list[dict]) -> dict:
    per_h = np.array([r["harmonic_level"]["per_harmonic_db"] for r in rows], np.float64)
    with warnings.catch_warnings():   # harmonics above Nyquist in every piece are all-NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        per_h = np.nanmean(per_h, axis=0)
    return {
        "spectral_loss": mean_of(r["spectral_loss"] for r in rows),
        "harmonic_level_db": mean_of(r["harmonic_level"]["mean_db"] for r in rows),
        "harmonic_level_first10_db": [round(float(v), 2) for v in per_h[:10]],
        "centroid_abs_hz": mean_of(r["centroid"]["mean_abs_hz"] for r in rows),
        "centroid_bias_hz": mean_of(r["centroid"]["bias_hz"] for r in rows),
        "attack_db": mean_of(r["attack_db"] for r in rows),
        "band_energy_db": [mean_of(r["band_energy_db"][j] for r in rows) for j in range(len(BANDS_HZ))],
    }
