"""Monophonic transcription: audio -> notes (pitch, onset, offset, velocity) from f0, voicing
confidence, loudness and onset strength.

Frames (``TranscriptionFrames``, ``FRAME_RATE`` = 100 Hz, CREPE's own 10 ms step; frame ``i``
centred on the instant ``i / FRAME_RATE``), all measured on the audio resampled to 16 kHz:

* ``f0_hz``, ``confidence``: ``midi_ddsp.crepe.CrepePitchTracker`` (the tiny CREPE model);
* ``loudness_db``: ``midi_ddsp.dsp.spectral.a_weighted_loudness_db`` (64 ms windows);
* ``onset_strength``: spectral flux, the sum over bins of the positive frame-to-frame increase of
  the log-compressed magnitude (``log1p(100 |X|)``, 32 ms Hann windows), divided by its median
  over the sounding frames (so 1 = typical within-note flux; re-attacks read 3-10).

Segmentation (``segment_notes``), in three steps:

1. **pitch states**: a Viterbi path over silence + one state per MIDI semitone in range. A pitch
   state emits ``log(voicing) - 0.5 (d / PITCH_SIGMA)**2`` (``d`` = CREPE pitch minus the state's
   pitch in semitones, the penalty capped at ``PITCH_OUTLIER``, so a short octave error does not
   force a note), silence emits ``log(1 - voicing)``; voicing is the CREPE confidence ramped
   between ``CONFIDENCE_LOW`` and ``CONFIDENCE_HIGH``, times a loudness gate (frames more than
   ``ACTIVITY_RANGE_DB`` below the 99th-percentile loudness are silent). Changing state costs
   ``SWITCH_PENALTY`` nats. Runs of one state are the first segmentation (pitch changes and
   silences).
2. **onsets**: peaks of the onset strength above ``ONSET_THRESHOLD``. A run boundary moves to
   the strongest peak within ``SNAP_BEFORE_S`` before / ``SNAP_AFTER_S`` after it (CREPE's pitch
   switches late, while the previous note's release rings under the new attack); a peak inside
   a run of one pitch splits it (a repeated note) when both parts last at least ``min_note_s``.
3. **notes**: segments shorter than ``min_note_s`` are dropped; the pitch of a note is the
   confidence-weighted median of the CREPE pitch over its frames after the first
   ``ATTACK_SKIP_S`` (attacks hold the octave errors), rounded to the semitone; a note ends
   where the next begins or where its state run ends.

Velocity (``velocity_from_loudness``) is relative: the mean loudness of each note, on MIDI's
40 log10 velocity curve (a GM synth's), anchored so the 90th-percentile note reads
``VELOCITY_REFERENCE``: v = 100 * 10 ** ((L - L90) / 40), clipped to 1..127.

``input_problem`` names what makes audio untranscribable (silent, no pitched sound, more than one
pitch at once, too short) for the transfer front end. ``note_f1`` is the mir_eval-style note
metric (one-to-one matching on onset within 50 ms and pitch within 50 cents; optional offsets).

``python -m midi_ddsp.transcription --corpus data/corpus`` measures note F1 on the corpus's
test-split renders (``benchmarks/results/transcription.json``).
"""
from __future__ import annotations

import dataclasses
import logging
import math
from typing import Sequence

import numpy as np

from midi_ddsp.crepe import CREPE_SAMPLE_RATE, CrepePitchTracker, resample_audio
from midi_ddsp.dsp.spectral import a_weighted_loudness_db
from midi_ddsp.dsp.units import hz_to_midi, midi_to_hz
from midi_ddsp.errors import ParameterError
from midi_ddsp.score import Note

__all__ = ["FRAME_RATE", "TranscriptionFrames", "Transcription", "analyse_frames",
           "segment_notes", "transcribe", "velocity_from_loudness", "input_problem", "note_f1",
           "notes_from_array"]

logger = logging.getLogger(__name__)

FRAME_RATE = 100
"""Frames per second of the transcription features (CREPE's 10 ms step)."""

CONFIDENCE_LOW, CONFIDENCE_HIGH = 0.3, 0.6
"""CREPE confidence below LOW = unvoiced, above HIGH = voiced, linear in between."""
ACTIVITY_RANGE_DB = 45.0
"""Frames more than this far below the 99th-percentile loudness count as silence."""
SILENCE_DB = -70.0
"""Frames below this loudness (dB re. full-scale sine) are silence whatever the recording."""
PITCH_SIGMA = 0.35
"""Spread (semitones) of CREPE pitch around a note's pitch in the emission model."""
PITCH_OUTLIER = 6.0
"""Cap (nats) on the pitch emission penalty: octave errors cost no more than this per frame."""
SWITCH_PENALTY = 12.0
"""Cost (nats) of changing pitch state."""
ONSET_THRESHOLD = 2.5
"""Onset-strength peaks (in units of the median within-note flux) at least this high are onsets."""
SNAP_BEFORE_S, SNAP_AFTER_S = 0.10, 0.03
"""A pitch-change boundary moves to the strongest onset peak this far before / after it."""
ATTACK_SKIP_S = 0.04
"""The first frames of a note are left out of its pitch (attack transients, octave errors)."""
MIN_NOTE_S = 0.06
"""Default shortest note kept."""
VELOCITY_REFERENCE = 100
"""Velocity of the 90th-percentile-loud note."""
MIN_DURATION_S = 0.25
"""Shortest input ``input_problem`` accepts."""
_FLUX_FFT = 512
_FLUX_COMPRESSION = 100.0
_HARMONIC_FFT = 2048
_HARMONIC_HALF_WIDTH = 0.2   # of f0, either side of each harmonic
_MIN_HARMONIC_RATIO = 0.75   # voiced frames' median energy share at the harmonics of f0
_MIN_VOICED_FRACTION = 0.15  # of the sounding frames
_SILENT_PEAK = 10 ** (-60 / 20)   # peak amplitude below -60 dBFS = silent
_EPS = 1e-12


@dataclasses.dataclass
class TranscriptionFrames:
    """Frame features a transcription used, at ``frame_rate`` (frame i centred at i/frame_rate).

    Attributes:
        frame_rate: Hz.
        f0_hz: CREPE f0 in Hz (a best estimate in every frame), shape [n_frames].
        confidence: CREPE confidence in [0, 1], shape [n_frames].
        loudness_db: A-weighted loudness in dB re. a full-scale sine (>= -120), shape [n_frames].
        onset_strength: normalised spectral flux, >= 0, shape [n_frames].
    """

    frame_rate: int
    f0_hz: np.ndarray
    confidence: np.ndarray
    loudness_db: np.ndarray
    onset_strength: np.ndarray

    @property
    def n_frames(self) -> int:
        return int(self.f0_hz.shape[0])

    def voicing(self) -> np.ndarray:
        """Voicing probability in [0, 1] per frame (confidence ramp times loudness gate)."""
        ramp = np.clip((self.confidence - CONFIDENCE_LOW) / (CONFIDENCE_HIGH - CONFIDENCE_LOW),
                       0.0, 1.0)
        return ramp * self.sounding()

    def sounding(self) -> np.ndarray:
        """Whether each frame is loud enough to belong to a note, bool [n_frames]."""
        if self.n_frames == 0:
            return np.zeros(0, bool)
        top = float(np.percentile(self.loudness_db, 99))
        return (self.loudness_db > max(top - ACTIVITY_RANGE_DB, SILENCE_DB))


@dataclasses.dataclass
class Transcription:
    """Notes found in a recording and what they were found from.

    Attributes:
        notes: ``Note`` list sorted by onset, not overlapping (velocity estimated).
        frames: the frame features (``TranscriptionFrames``).
        sample_rate: rate of the audio given (Hz).
        duration_s: length of the audio given.
    """

    notes: list
    frames: TranscriptionFrames
    sample_rate: int
    duration_s: float


# ------------------------------------------------------------------------------------------
# frame features
# ------------------------------------------------------------------------------------------
def _check_audio(audio, sample_rate) -> np.ndarray:
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) \
            or sample_rate <= 0:
        raise ParameterError(f"sample_rate: expected a positive integer, got {sample_rate!r}")
    try:
        x = np.asarray(audio, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"audio: expected a numeric array ({exc})") from None
    if x.ndim != 1:
        raise ParameterError(f"audio: expected mono audio of shape [n_samples], got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ParameterError("audio: contains NaN or inf")
    return x


def _onset_strength(x16: np.ndarray, n_frames: int) -> np.ndarray:
    hop = CREPE_SAMPLE_RATE // FRAME_RATE
    padded = np.pad(x16, (_FLUX_FFT // 2, _FLUX_FFT // 2 + hop * (n_frames + 1)))
    idx = np.arange(n_frames)[:, None] * hop + np.arange(_FLUX_FFT)[None, :]
    spectrum = np.abs(np.fft.rfft(padded[idx] * np.hanning(_FLUX_FFT + 1)[:-1], axis=1))
    log_mag = np.log1p(_FLUX_COMPRESSION * spectrum)
    flux = np.zeros(n_frames)
    flux[1:] = np.maximum(np.diff(log_mag, axis=0), 0.0).sum(axis=1)
    return flux


def analyse_frames(audio, *, sample_rate: int, tracker: "CrepePitchTracker | None" = None,
                   fmin_hz: float = 32.7, fmax_hz: float = 1975.5) -> TranscriptionFrames:
    """Frame features of a mono recording (module docstring).

    Args:
        audio: mono waveform, float, shape [n_samples], any sample rate.
        sample_rate: its rate in Hz (resampled to 16 kHz inside).
        tracker: a ``CrepePitchTracker`` to reuse (default: the tiny model).
        fmin_hz, fmax_hz: f0 search range.

    Returns:
        ``TranscriptionFrames`` at ``FRAME_RATE`` with ``n_samples * 100 // sample_rate`` frames.
    """
    x = _check_audio(audio, sample_rate)
    x16 = resample_audio(x, sample_rate=int(sample_rate))
    n_frames = x16.shape[0] * FRAME_RATE // CREPE_SAMPLE_RATE
    if n_frames == 0:
        empty = np.zeros(0, np.float32)
        return TranscriptionFrames(FRAME_RATE, empty, empty, empty, empty)
    tracker = tracker or CrepePitchTracker("tiny")
    f0, confidence = tracker.track(x16, sample_rate=CREPE_SAMPLE_RATE, frame_rate=FRAME_RATE,
                                   fmin_hz=fmin_hz, fmax_hz=fmax_hz)
    loudness = np.asarray(a_weighted_loudness_db(x16, sample_rate=CREPE_SAMPLE_RATE,
                                                 frame_rate=FRAME_RATE, n_fft=1024))[:n_frames]
    flux = _onset_strength(x16, n_frames)
    frames = TranscriptionFrames(FRAME_RATE, f0.astype(np.float32), confidence.astype(np.float32),
                                 loudness.astype(np.float32), flux.astype(np.float32))
    sounding = frames.sounding()
    scale = float(np.median(flux[sounding])) if sounding.any() else 0.0
    frames.onset_strength = (flux / max(scale, _EPS)).astype(np.float32) if scale > 0 \
        else np.zeros(n_frames, np.float32)
    return frames


# ------------------------------------------------------------------------------------------
# segmentation
# ------------------------------------------------------------------------------------------
def _viterbi_states(frames: TranscriptionFrames, pitches: np.ndarray) -> np.ndarray:
    """Index per frame into [silence, *pitches] (0 = silence)."""
    v = np.clip(frames.voicing(), 1e-4, 1 - 1e-4)
    midi = hz_to_midi(np.maximum(frames.f0_hz.astype(np.float64), 1e-3))
    d = midi[:, None] - pitches[None, :]
    pitch_ll = np.log(v)[:, None] - np.minimum(0.5 * (d / PITCH_SIGMA) ** 2, PITCH_OUTLIER)
    emission = np.concatenate([np.log(1 - v)[:, None], pitch_ll], axis=1)
    n_frames, n_states = emission.shape
    back = np.zeros((n_frames, n_states), np.int32)
    score = emission[0].copy()
    for t in range(1, n_frames):
        best = int(np.argmax(score))
        jump = score[best] - SWITCH_PENALTY
        stay = score >= jump
        back[t] = np.where(stay, np.arange(n_states), best)
        score = np.maximum(score, jump) + emission[t]
    path = np.zeros(n_frames, np.int64)
    path[-1] = int(np.argmax(score))
    for t in range(n_frames - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def _peaks(strength: np.ndarray) -> np.ndarray:
    """Local maxima (over +-2 frames) of the onset strength above ONSET_THRESHOLD."""
    s = np.asarray(strength, np.float64)
    if s.size < 3:
        return np.zeros(0, np.int64)
    padded = np.pad(s, 2, constant_values=-np.inf)
    window = np.lib.stride_tricks.sliding_window_view(padded, 5)
    is_peak = (s >= window.max(axis=1)) & (s >= ONSET_THRESHOLD)
    return np.nonzero(is_peak)[0]


def _runs(path: np.ndarray) -> list[tuple[int, int, int]]:
    """(state, start, stop) of each run of one state."""
    edges = np.nonzero(np.diff(path))[0] + 1
    starts = np.concatenate([[0], edges])
    stops = np.concatenate([edges, [path.size]])
    return [(int(path[a]), int(a), int(b)) for a, b in zip(starts, stops)]


def segment_notes(frames: TranscriptionFrames, *, min_note_s: float = MIN_NOTE_S,
                  fmin_hz: float = 32.7, fmax_hz: float = 1975.5) -> list[Note]:
    """Notes from frame features (module docstring, steps 1-3); velocities estimated.

    Args:
        frames: ``TranscriptionFrames`` (from ``analyse_frames``).
        min_note_s: shortest note kept, in seconds (> 0).
        fmin_hz, fmax_hz: pitch range of the states.

    Returns:
        ``Note`` list sorted by onset, not overlapping.
    """
    if not min_note_s > 0:
        raise ParameterError(f"min_note_s: expected a positive number of seconds, got {min_note_s!r}")
    if frames.n_frames == 0:
        return []
    rate = frames.frame_rate
    lo = int(math.floor(float(hz_to_midi(fmin_hz))))
    hi = int(math.ceil(float(hz_to_midi(fmax_hz))))
    pitches = np.arange(max(lo, 0), min(hi, 127) + 1, dtype=np.float64)
    path = _viterbi_states(frames, pitches)
    peaks = _peaks(frames.onset_strength)
    strength = frames.onset_strength
    min_frames = max(1, int(round(min_note_s * rate)))
    before, after = int(round(SNAP_BEFORE_S * rate)), int(round(SNAP_AFTER_S * rate))

    # note starts: every run of a pitch state begins one, snapped to a nearby onset peak
    segments: list[list[int]] = []  # [start, stop] of each voiced run, boundaries snapped
    runs = _runs(path)
    for state, start, stop in runs:
        if state == 0:
            continue
        near = peaks[(peaks >= start - before) & (peaks <= start + after)]
        if near.size:
            start = int(near[np.argmax(strength[near])])
        if segments:  # the previous note ends where this one begins
            start = max(start, segments[-1][0] + 1)
            segments[-1][1] = min(segments[-1][1], start)
        segments.append([start, stop])
    # repeated notes: onset peaks inside a run split it
    split: list[tuple[int, int]] = []
    for start, stop in segments:
        cuts = [start]
        for p in peaks[(peaks > start) & (peaks < stop)]:
            if p - cuts[-1] >= min_frames and stop - p >= min_frames:
                cuts.append(int(p))
        cuts.append(stop)
        split.extend(zip(cuts[:-1], cuts[1:]))

    midi = hz_to_midi(np.maximum(frames.f0_hz.astype(np.float64), 1e-3))
    weight = frames.voicing() + 1e-6
    skip = int(round(ATTACK_SKIP_S * rate))
    notes: list[tuple[int, float, float, float]] = []
    for start, stop in split:
        if stop - start < min_frames:
            continue
        a = start + skip if stop - start > 2 * skip else start
        pitch = _weighted_median(midi[a:stop], weight[a:stop])
        level = float(np.mean(frames.loudness_db[start:stop]))
        notes.append((int(np.clip(round(pitch), 0, 127)), start / rate, stop / rate, level))
    velocities = velocity_from_loudness([n[3] for n in notes])
    return [Note(p, float(a), float(b), int(v)) for (p, a, b, _), v in zip(notes, velocities)]


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, 0.5 * cumulative[-1])])


def velocity_from_loudness(loudness_db: Sequence[float]) -> np.ndarray:
    """MIDI velocities (int, 1..127) from note loudness in dB (module docstring)."""
    level = np.asarray(loudness_db, np.float64)
    if level.size == 0:
        return np.zeros(0, np.int64)
    reference = float(np.percentile(level, 90))
    velocity = VELOCITY_REFERENCE * 10.0 ** ((level - reference) / 40.0)
    return np.clip(np.round(velocity), 1, 127).astype(np.int64)


def transcribe(audio, *, sample_rate: int, min_note_s: float = MIN_NOTE_S,
               fmin_hz: float = 32.7, fmax_hz: float = 1975.5,
               tracker: "CrepePitchTracker | None" = None) -> Transcription:
    """Transcribe a monophonic recording into notes.

    Args:
        audio: mono waveform, float, shape [n_samples], any sample rate.
        sample_rate: Hz.
        min_note_s: shortest note kept (s).
        fmin_hz, fmax_hz: pitch range searched (Hz); narrow it to the instrument for fewer
            octave errors.
        tracker: a ``CrepePitchTracker`` to reuse.

    Returns:
        a ``Transcription`` (notes with estimated velocities, and the frame features used).
    """
    x = _check_audio(audio, sample_rate)
    frames = analyse_frames(x, sample_rate=int(sample_rate), tracker=tracker, fmin_hz=fmin_hz,
                            fmax_hz=fmax_hz)
    notes = segment_notes(frames, min_note_s=min_note_s, fmin_hz=fmin_hz, fmax_hz=fmax_hz)
    return Transcription(notes=notes, frames=frames, sample_rate=int(sample_rate),
                         duration_s=x.shape[0] / int(sample_rate))


# ------------------------------------------------------------------------------------------
# what cannot be transcribed
# ------------------------------------------------------------------------------------------
def _harmonic_ratio(x16: np.ndarray, frames: TranscriptionFrames, rows: np.ndarray) -> np.ndarray:
    """Share of each given frame's power within +-20 % of f0 around the harmonics of f0."""
    hop = CREPE_SAMPLE_RATE // frames.frame_rate
    padded = np.pad(x16, (_HARMONIC_FFT // 2, _HARMONIC_FFT // 2 + hop))
    idx = rows[:, None] * hop + np.arange(_HARMONIC_FFT)[None, :]
    power = np.abs(np.fft.rfft(padded[idx] * np.hanning(_HARMONIC_FFT + 1)[:-1], axis=1)) ** 2
    freqs = np.fft.rfftfreq(_HARMONIC_FFT, 1.0 / CREPE_SAMPLE_RATE)
    f0 = frames.f0_hz[rows].astype(np.float64)[:, None]
    order = freqs[None, :] / f0
    near = (np.abs(order - np.round(order)) <= _HARMONIC_HALF_WIDTH) & (np.round(order) >= 1)
    keep = freqs[None, :] >= 0.5 * f0   # below half of f0: hum and rumble do not count
    total = (power * keep).sum(axis=1)
    return (power * near * keep).sum(axis=1) / np.maximum(total, _EPS)


def input_problem(audio, frames: TranscriptionFrames, *, sample_rate: int) -> "str | None":
    """Why a recording cannot be transcribed as one monophonic pitched line, or None.

    One of: too short (under ``MIN_DURATION_S``), silent (peak below -60 dBFS), no pitched sound
    (voiced in under 15 % of its sounding frames: noise, speech-like or unpitched), or more than
    one pitch at once (in its voiced frames, the harmonics of the tracked f0 hold under 75 % of
    the energy: chords, two instruments, strong noise).
    """
    x = _check_audio(audio, sample_rate)
    duration = x.shape[0] / int(sample_rate)
    if duration < MIN_DURATION_S:
        return (f"too short to transcribe ({duration:.2f} s; at least {MIN_DURATION_S:g} s "
                "needed)")
    if x.size == 0 or float(np.max(np.abs(x))) < _SILENT_PEAK:
        return "silent (peak below -60 dBFS): nothing to transcribe"
    sounding = frames.sounding()
    voiced = frames.confidence >= CONFIDENCE_HIGH
    n_sounding = int(sounding.sum())
    share = float((voiced & sounding).sum()) / max(n_sounding, 1)
    if n_sounding == 0 or share < _MIN_VOICED_FRACTION:
        return (f"no pitched sound found (pitch confidence high in {100 * share:.0f} % of the "
                "sounding frames): noise or unpitched audio cannot be transcribed")
    rows = np.nonzero(voiced & sounding)[0]
    if rows.size > 200:
        rows = rows[np.linspace(0, rows.size - 1, 200).astype(np.int64)]
    x16 = resample_audio(x, sample_rate=int(sample_rate))
    ratio = float(np.median(_harmonic_ratio(x16, frames, rows)))
    if ratio < _MIN_HARMONIC_RATIO:
        return (f"not monophonic: only {100 * ratio:.0f} % of the energy lies on the harmonics of "
                "one pitch (several notes at once, or strong noise); give a recording of one "
                "melodic line")
    return None


# ------------------------------------------------------------------------------------------
# metric
# ------------------------------------------------------------------------------------------
def notes_from_array(array) -> list[Note]:
    """Notes from a float array [n_notes, 4] of pitch, onset_s, offset_s, velocity (the shard
    format); velocities clipped to 1..127."""
    a = np.asarray(array, np.float64).reshape(-1, 4)
    return [Note(int(round(p)), float(on), float(off), int(np.clip(round(v), 1, 127)))
            for p, on, off, v in a]


def note_f1(reference: Sequence[Note], estimated: Sequence[Note], *,
            onset_tolerance_s: float = 0.05, pitch_tolerance_cents: float = 50.0,
            offset_ratio: "float | None" = None, offset_min_tolerance_s: float = 0.05) -> dict:
    """Note precision, recall and F1 with one-to-one matching (mir_eval.transcription's rules).

    A reference and an estimated note match when their onsets differ by at most
    ``onset_tolerance_s``, their pitches by at most ``pitch_tolerance_cents`` and, with
    ``offset_ratio``, their offsets by at most ``max(offset_min_tolerance_s, offset_ratio *
    reference duration)``; the matching is a maximum bipartite matching.

    Returns:
        ``{"precision", "recall", "f1", "n_reference", "n_estimated", "n_matched"}``.
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import maximum_bipartite_matching

    ref, est = list(reference), list(estimated)
    out = {"n_reference": len(ref), "n_estimated": len(est)}
    if not ref or not est:
        return dict(out, precision=0.0, recall=0.0, f1=0.0, n_matched=0)
    r_on = np.array([n.onset_s for n in ref])[:, None]
    e_on = np.array([n.onset_s for n in est])[None, :]
    r_p = np.array([midi_to_hz(n.pitch) for n in ref])[:, None]
    e_p = np.array([midi_to_hz(n.pitch) for n in est])[None, :]
    ok = (np.abs(r_on - e_on) <= onset_tolerance_s + 1e-9) \
        & (np.abs(1200.0 * np.log2(e_p / r_p)) <= pitch_tolerance_cents + 1e-9)
    if offset_ratio is not None:
        r_off = np.array([n.offset_s for n in ref])[:, None]
        e_off = np.array([n.offset_s for n in est])[None, :]
        tolerance = np.maximum(offset_min_tolerance_s, offset_ratio * (r_off - r_on))
        ok &= np.abs(r_off - e_off) <= tolerance + 1e-9
    match = maximum_bipartite_matching(csr_matrix(ok.astype(np.int8)), perm_type="column")
    matched = int(np.sum(match >= 0))
    precision, recall = matched / len(est), matched / len(ref)
    f1 = 2 * precision * recall / (precision + recall) if matched else 0.0
    return dict(out, precision=precision, recall=recall, f1=f1, n_matched=matched)
