"""Monophonic transcription: audio -> notes (pitch, onset, offset, velocity) from f0, voicing
confidence, loudness and onset strength.

Frames (``TranscriptionFrames``, ``FRAME_RATE`` = 100 Hz, CREPE's own 10 ms step; frame ``i``
centred on the instant ``i / FRAME_RATE``), all measured on the audio resampled to 16 kHz:

* ``f0_hz``, ``confidence``: ``midi_ddsp.crepe.CrepePitchTracker`` (the tiny CREPE model);
* ``loudness_db``: ``midi_ddsp.dsp.spectral.a_weighted_loudness_db`` (64 ms windows);
* ``onset_strength``: spectral flux, the sum over bins of the positive frame-to-frame increase of
  the log-compressed magnitude (``log1p(100 |X|)``, 32 ms Hann windows), divided by its median
  over the sounding frames (so 1 = typical within-note flux; re-attacks read 3-10);
* ``suboctave_db``: the partials at f0/2 and 3 f0/2 against those at f0 and 2 f0 (dB, 128 ms
  windows; ``midi_ddsp.transcription_pitch``).

Segmentation (``segment_notes``), in three steps:

1. **pitch states**: a Viterbi path over silence + one state per MIDI semitone in range. A pitch
   state emits ``log(voicing) - 0.5 (d / PITCH_SIGMA)**2`` (``d`` = CREPE pitch minus the state's
   pitch in semitones, the penalty capped at ``PITCH_OUTLIER``, so a short octave error does not
   force a note), silence emits ``log(1 - voicing)``; voicing is the CREPE confidence ramped
   between ``CONFIDENCE_LOW`` and ``CONFIDENCE_HIGH``, times a loudness gate (frames more than
   ``ACTIVITY_RANGE_DB`` below the 99th-percentile loudness are silent). Changing state costs
   ``SWITCH_PENALTY`` nats. Runs of one state are the first segmentation (pitch changes and
   silences).
2. **onsets**: cues from the onset strength and the loudness (``_onset_candidates``): flux
   peaks above ``ONSET_THRESHOLD`` followed by a loudness rise (a re-attack, not a release),
   and loudness valleys at least ``VALLEY_DB`` deep, except those of a level that swings
   periodically at 3-9 Hz over a pitch in vibrato (amplitude modulation through the body's
   resonances, ``transcription_onsets.PERIODICITY``) unless a flux re-attack confirms them
   (module ``midi_ddsp.transcription_onsets``). The start of each pitch run moves to the
   latest flux peak above ``CHANGE_THRESHOLD`` and within ``BUMP_SHARE`` of the strongest one
   within ``SNAP_BEFORE_S`` before / ``SNAP_AFTER_S`` after it (CREPE's pitch switches late,
   while the previous note's release rings under the new attack; in fast passages the
   strongest peak there can be the previous note's attack) but not before a silent gap that
   precedes the run (a release has flux too; a silence state shorter than ``UNVOICED_GAP_S``
   that sounds is the next note's noisy attack: the run begins where it begins), else to the
   nearest cue; at a legato change
   whose new pitch CREPE hears before the valley's bottom, to where the level starts to fall
   into it (``KNEE_DB``: a slow attack begins as the previous note lets go, up to ~100 ms
   before CREPE's pitch switches); a pitch change with no cue whose frames do not settle
   on their semitone is a glide and stays in the previous note, a short one by
   ``OCTAVE_SLIPS`` from the note's own pitch (CREPE's octave errors) and the way back too,
   one that settles begins
   at the knee of the previous note's release (``FALL_KNEE_DB`` under its peak) when the level
   falls ``FALL_DB`` into it (a quieter legato note: no valley). Strong cues (flux twice the
   threshold or standing out of a held note, ``transcription_onsets.SPIKE_RATIO``; valleys
   ``SPLIT_VALLEY_DB`` deep that are not a held note's own swell,
   ``transcription_onsets.SWELL_DB``, or that a released note falls ``RELEASE_DB`` into; a flux
   re-attack together with a valley ``CONFIRM_VALLEY_DB`` deep), soft re-attacks on the fall
   into a valley (``transcription_onsets.SOFT_ATTACK_FLUX``: a legato repeated note begins as
   the level starts to dip) and flux bursts standing out of the held note's own flux texture as
   the level turns up on a steady pitch (``transcription_onsets.STANDOUT_RATIO``: a re-bow
   with no dip) inside a run of one pitch split it (repeated notes) when both parts last at
   least ``min_note_s``.
3. **notes**: segments shorter than ``min_note_s``, mostly unvoiced (``MIN_NOTE_VOICING``) or
   far quieter than the rest (``QUIET_NOTE_DB``) are dropped; the pitch of a note is the
   confidence-weighted median of the CREPE pitch over its frames after the first
   ``ATTACK_SKIP_S`` (attacks hold the octave errors), rounded to the semitone, and an octave
   lower when its spectrum holds sub-octave partials (``suboctave_db`` at least
   ``transcription_pitch.SUBOCTAVE_DB``) and it leaps more than ``LEAP_SEMITONES`` above its
   neighbours (``transcription_pitch.correct_octaves``: a fundamental far under its 2nd
   partial, a bassoon's); a note ends where the next begins or where its state run ends.

Velocity (``velocity_from_loudness``) is relative: the mean loudness of each note, on MIDI's
40 log10 velocity curve (a GM synth's), anchored so the 90th-percentile note reads
``VELOCITY_REFERENCE``: v = 100 * 10 ** ((L - L90) / 40), clipped to 1..127.

``midi_ddsp.monophony.input_problem`` says what makes audio untranscribable (silent, noise,
several pitches at once, too short).
``midi_ddsp.note_metrics.note_f1`` scores a transcription (mir_eval's note F1);
``benchmarks/bench_transcription.py`` measures it on the corpus's test-split renders.
"""
from __future__ import annotations

import dataclasses
import logging
import math
from typing import Sequence

import numpy as np

from midi_ddsp.crepe import CREPE_SAMPLE_RATE, CrepePitchTracker, check_mono_audio, resample_audio
from midi_ddsp.dsp.spectral import a_weighted_loudness_db
from midi_ddsp.dsp.units import hz_to_midi
from midi_ddsp.errors import ParameterError
from midi_ddsp.score import Note
from midi_ddsp.transcription_onsets import (CONFIRM_VALLEY_DB, FALL_DB, KNEE_DB,  # noqa: F401
    ONSET_THRESHOLD, RISE_DB, SPLIT_VALLEY_DB, VALLEY_DB, VALLEY_LEAD_S, VALLEY_REACH_S,
    _local_extrema, _onset_candidates, _release_start)
from midi_ddsp.transcription_pitch import correct_octaves, suboctave_level_db

__all__ = ["FRAME_RATE", "TranscriptionFrames", "Transcription", "analyse_frames",
           "segment_notes", "transcribe", "velocity_from_loudness"]

logger = logging.getLogger(__name__)

FRAME_RATE = 100
"""Frames per second of the transcription features (CREPE's 10 ms step)."""

CONFIDENCE_LOW, CONFIDENCE_HIGH = 0.3, 0.6
"""CREPE confidence below LOW = unvoiced, above HIGH = voiced, linear in between."""
ACTIVITY_RANGE_DB = 45.0
"""Frames more than this far below the 99th-percentile loudness count as silence."""
SILENCE_DB = -100.0
"""Frames below this loudness (dB re. a full-scale sine) are silence whatever the recording
(quiet recordings are fine: the corpus renders sit around -60 dB)."""
PITCH_SIGMA = 0.35
"""Spread (semitones) of CREPE pitch around a note's pitch in the emission model."""
PITCH_OUTLIER = 6.0
"""Cap (nats) on the pitch emission penalty: octave errors cost no more than this per frame."""
SWITCH_PENALTY = 20.0
"""Cost (nats) of changing pitch state."""
SNAP_BEFORE_S, SNAP_AFTER_S = 0.20, 0.04
"""How far before / after a pitch change its onset cue is looked for."""
CHANGE_THRESHOLD = 1.8
"""At a pitch change, a flux peak at least this high nearby places the onset
(after a silence, none before the silence: the previous note's release has flux too)."""
BUMP_SHARE = 0.7
"""... the latest peak at least this share of the strongest there (not an earlier note's attack)."""
GLIDE_SEMITONES = 0.3
"""A pitch change without an onset cue whose frames sit further than this from their semitone
(median) is a glide and stays in the previous note."""
UNVOICED_GAP_S = 0.15
"""A silence state run at most this long whose frames are loud (sounding) is a re-attack's
noise (CREPE unsure of the pitch): the note after it begins where it begins."""
OCTAVE_SLIPS, OCTAVE_SLIP_S = (12, 24), 0.2
"""A pitch run by these many semitones from the pitch that began a note, at most OCTAVE_SLIP_S
long, with no flux bump or strong cue, is the tracker's octave error and stays in the note (as
does the way back to the note's pitch); a longer one is a legato leap."""
ATTACK_SKIP_S = 0.04
"""The first frames of a note are left out of its pitch (attack transients, octave errors)."""
MIN_NOTE_S = 0.06
"""Default shortest note kept."""
MIN_NOTE_VOICING = 0.5
"""Notes whose mean voicing (after the attack) is lower are dropped (unpitched stretches)."""
QUIET_NOTE_DB = 45.0
"""Notes more than this far below the 90th-percentile note are dropped (tails, breaths)."""
VELOCITY_REFERENCE = 100
"""Velocity of the 90th-percentile-loud note."""
_FLUX_FFT = 512
_FLUX_COMPRESSION = 100.0
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
        suboctave_db: power of the partials at f0/2 and 3 f0/2 over those at f0 and 2 f0 (dB),
            shape [n_frames] (``midi_ddsp.transcription_pitch``); None: no octave check.
    """

    frame_rate: int
    f0_hz: np.ndarray
    confidence: np.ndarray
    loudness_db: np.ndarray
    onset_strength: np.ndarray
    suboctave_db: "np.ndarray | None" = None

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
    return check_mono_audio(audio)


def _onset_strength(x16: np.ndarray, n_frames: int) -> np.ndarray:
    hop = CREPE_SAMPLE_RATE // FRAME_RATE
    x16 = x16 / max(float(np.max(np.abs(x16))) if x16.size else 0.0, _EPS)  # level-independent
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
        return TranscriptionFrames(FRAME_RATE, empty, empty, empty, empty, empty)
    tracker = tracker or CrepePitchTracker("tiny")
    f0, confidence = tracker.track(x16, sample_rate=CREPE_SAMPLE_RATE, frame_rate=FRAME_RATE,
                                   fmin_hz=fmin_hz, fmax_hz=fmax_hz)
    loudness = np.asarray(a_weighted_loudness_db(x16, sample_rate=CREPE_SAMPLE_RATE,
                                                 frame_rate=FRAME_RATE, n_fft=1024))[:n_frames]
    flux = _onset_strength(x16, n_frames)
    frames = TranscriptionFrames(FRAME_RATE, f0.astype(np.float32), confidence.astype(np.float32),
                                 loudness.astype(np.float32), flux.astype(np.float32),
                                 suboctave_level_db(x16, f0, sample_rate=CREPE_SAMPLE_RATE,
                                                    hop=CREPE_SAMPLE_RATE // FRAME_RATE))
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
    onsets, cue, knees, repeats = _onset_candidates(frames)
    min_frames = max(1, int(round(min_note_s * rate)))
    before, after = int(round(SNAP_BEFORE_S * rate)), int(round(SNAP_AFTER_S * rate))
    valley_lead = int(round(VALLEY_LEAD_S * rate))
    midi = hz_to_midi(np.maximum(frames.f0_hz.astype(np.float64), 1e-3))
    flux = frames.onset_strength.astype(np.float64)
    flux_peak = np.zeros(frames.n_frames, bool)
    flux_peak[_local_extrema(flux, 2, maxima=True)] = True
    flux_peak &= flux >= CHANGE_THRESHOLD
    sounding = frames.sounding()

    # note starts: every run of a pitch state begins one, moved to a nearby onset cue; a
    # pitch change without a cue that does not settle on its semitone is a glide (a fall,
    # a bend, a portamento) and stays part of the previous note
    segments: list[list[int]] = []  # [start, stop] per note
    previous_state, held, earliest = 0, 0, 0  # held: the state that began the last note
    unvoiced, gap = None, int(round(UNVOICED_GAP_S * rate))
    slip_max = int(round(OCTAVE_SLIP_S * rate))
    for state, start, stop in _runs(path):
        if state == 0:  # after a silent gap, the onset is looked for no earlier than its start
            previous_state = 0
            earliest = start if not sounding[start:stop].all() else earliest
            # a short gap that sounds (a re-attack's noise: CREPE unsure) is the next note's
            unvoiced = start if sounding[start:stop].all() and stop - start <= gap else None
            continue
        if unvoiced is not None:
            start, unvoiced = unvoiced, None
        window = slice(max(start - before, earliest), min(start + after + 1, frames.n_frames))
        bumps = np.arange(window.start, window.stop)[flux_peak[window]]
        in_reach = (onsets >= start - before) & (onsets <= start + after)
        near = onsets[in_reach]
        continuing = bool(previous_state and segments and segments[-1][1] == start)
        # (states are consecutive semitones: their difference is the interval)
        slip = state == held or (abs(state - held) in OCTAVE_SLIPS and stop - start <= slip_max)
        if continuing and slip and not bumps.size and not (cue[in_reach] >= 2.0).any():
            # the tracker's octave error, or the way back from one, with no attack: one note
            segments[-1][1] = stop
            previous_state = state
            continue
        if bumps.size:  # the new note's first spectral change, however soft its attack
            strongest = float(flux[bumps].max())
            start = max(int(bumps[flux[bumps] >= BUMP_SHARE * strongest][-1]) - 1, 0)
        elif near.size:
            # a pitch heard before the valley's bottom: a slow legato attack under the previous
            # note's release, which began at the knee
            nearest = int(np.argmin(np.abs(near - start)))
            legato = previous_state and start <= near[nearest] + valley_lead
            start = int(knees[in_reach][nearest] if legato else near[nearest])
        elif continuing:
            run = midi[start:stop] - pitches[state - 1]
            if abs(float(np.median(run))) > GLIDE_SEMITONES or \
                    float(np.ptp(np.percentile(run, [10, 90]))) > 2 * GLIDE_SEMITONES:
                segments[-1][1] = stop
                previous_state = state
                continue
            start = _release_start(frames.loudness_db, start, max(start - before, earliest))
        previous_state = held = state
        if segments:  # the previous note ends where this one begins
            start = max(start, segments[-1][0] + 1)
            segments[-1][1] = min(segments[-1][1], start)
        segments.append([start, stop])
    # repeated notes: strong onset cues inside a note split it, and soft re-attacks whose
    # valley lies inside it (a note of its pitch follows)
    split: list[tuple[int, int]] = []
    strong = onsets[cue >= 2.0]
    for start, stop in segments:
        cuts = [start]
        inside = (repeats[:, 0] > start) & (repeats[:, 1] < stop - min_frames)
        for p in np.union1d(strong[(strong > start) & (strong < stop)], repeats[inside, 0]):
            if p - cuts[-1] >= min_frames and stop - p >= min_frames:
                cuts.append(int(p))
        cuts.append(stop)
        split.extend(zip(cuts[:-1], cuts[1:]))

    weight = frames.voicing() + 1e-6
    skip = int(round(ATTACK_SKIP_S * rate))
    notes: list[tuple[int, float, float, float, float]] = []
    sub = frames.suboctave_db
    for start, stop in split:
        if stop - start < min_frames:
            continue
        a = start + skip if stop - start > 2 * skip else start
        if float(np.mean(weight[a:stop])) < MIN_NOTE_VOICING:
            continue
        pitch = _weighted_median(midi[a:stop], weight[a:stop])
        level = float(np.mean(frames.loudness_db[start:stop]))
        octave = float(np.median(sub[a:stop])) if sub is not None else math.nan
        notes.append((int(np.clip(round(pitch), 0, 127)), start / rate, stop / rate, level, octave))
    if notes:  # release tails and breaths between notes: far quieter than the notes
        floor = float(np.percentile([n[3] for n in notes], 90)) - QUIET_NOTE_DB
        notes = [n for n in notes if n[3] >= floor]
    final = correct_octaves([n[0] for n in notes], [n[4] for n in notes], lowest=int(pitches[0]))
    velocities = velocity_from_loudness([n[3] for n in notes])
    return [Note(p, float(a), float(b), int(v))
            for p, (_, a, b, _, _), v in zip(final, notes, velocities)]


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
