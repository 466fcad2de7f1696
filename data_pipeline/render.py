"""Render one melody line for one instrument with FluidSynth, with drawn expression and exact
ground-truth control curves (DESIGN §6). The playing itself (controllers, synth settings, gain)
is ``data_pipeline.fluidsynth_player``; here the performance is drawn and the ground truth kept.

The soundfont cannot vary expression by itself (velocity only scales gain, CC1 is a fixed LFO),
so expression is *drawn* here, note by note, and played through dense controller curves at the
frame rate (250 Hz = one 64-sample FluidSynth block at 16 kHz, so each block sees exactly one
control value):

* **pitch**: the line is transposed into the instrument's range (a random octave placement among
  those that fit, favouring the middle of the range, sometimes with a random key shift); f0 per frame is
  ``midi_to_hz(pitch + bend_cents / 100)``.
* **timing**: tempo scaled by U(0.8, 1.25), onsets jittered (sd 6 ms, at most 15 ms); every
  event is quantised to the frame grid, so the stored note times are exact.
* **articulation**: per line either legato (note-off at the next onset) or detached (sounding
  fraction of each note U(0.5, 0.95) ± 0.05 per note); monophonic, no overlaps.
* **dynamics**: line volume CC7 (-12..0 dB), velocity (30..120, ± 12 per note) and a per-note
  CC11 envelope drawn in dB: flat, crescendo, decrescendo, swell or accent, level -30..0 dB,
  depth 3..24 dB (CC value = 127 · 10^(dB/40), the GM/FluidSynth attenuation curve).
* **vibrato**: per note with probability 0.6: rate 4-8 Hz, depth 5-60 cents, delay 0-0.4 s,
  fade-in 0.05-0.3 s, random phase; pitch-bend range set to ``BEND_RANGE_SEMITONES`` (RPN 0).
* **slides**: scoops into a note from the previous pitch (legato steps of ≤ 2 semitones) or from
  20-80 cents below, and occasional falls at the end of a note.
* **brightness**: the soundfont's low-pass cut-off is offset per line (0..-4200 cents) and per
  note (± 600 cents) through the SF2 NRPN for generator 8 (initialFilterFc); this moves the
  harmonic centroid (brightness expression). The attack noise cannot be varied by the soundfont;
  nothing is done about it here (parameter-space augmentation is left to training).

Every line gets a fresh synth (``fluidsynth_player``), so a render is a pure function of
(notes, instrument, seed).

Ground truth (stored in ``Rendering``):

* ``f0_hz``: inside a note ``midi_to_hz(pitch + bend/100)``; after a note-off the f0 is *held*
  at the last note's pitch (following the bend curve) through the release tail, for
  ``RELEASE_HOLD_S`` or until the next onset, since the soundfont's release is still sounding
  (FluidR3 violin: -64 dB 0.2 s after note-off); elsewhere (silence) 0.
* ``f0_confidence``: 1 where f0 > 0, 0 in silence.
* ``controls`` at the frame rate: ``expression_cc`` (CC11, 0..127), ``volume_cc`` (CC7),
  ``velocity`` (of the sounding note, 0 in silence), ``bend_cents``, ``filter_cents`` (cut-off
  offset) and ``gate`` (1 while a note is held).
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Any

import numpy as np

from midi_ddsp.data_pipeline.fluidsynth_player import (
    BEND_RANGE_SEMITONES,
    DEFAULT_GAIN,
    LineRenderer,
    Performance,
)
from midi_ddsp.data_pipeline.performance import phrased_expression
from midi_ddsp.dsp.units import midi_to_hz
from midi_ddsp.errors import ParameterError
from midi_ddsp.instruments import Instrument, get_instrument

__all__ = [
    "RELEASE_HOLD_S",
    "PHRASED_SHARE",
    "Rendering",
    "draw_performance",
    "performance_f0",
    "transpose_into_range",
    "render_line",
]

logger = logging.getLogger(__name__)

RELEASE_HOLD_S = 0.3
"""After a note-off, f0 is held at the last pitch this long (or until the next onset)."""

_TAIL_S = 0.5            # rendered after the last note-off so the release decays
_MIN_NOTE_S = 0.04       # no sounding note shorter than this
_MAX_BEND_CENTS = 100.0 * BEND_RANGE_SEMITONES - 5.0
_PLACEMENT_WIDTH = 0.25  # sd of the line's middle around the range's middle, in range widths
_SHAPES = ("flat", "crescendo", "decrescendo", "swell", "accent")
_SHAPE_PROBS = (0.3, 0.175, 0.2, 0.15, 0.175)
PHRASED_SHARE = 0.75
"""Share of lines performed by the rule-based model (``data_pipeline.performance``); the rest
draw every note's expression independently (coverage of the whole control space)."""


def _db_to_cc(db: np.ndarray) -> np.ndarray:
    return np.clip(127.0 * 10.0 ** (np.asarray(db) / 40.0), 0.0, 127.0)


@dataclasses.dataclass
class Rendering:
    """Audio of one line plus its ground truth.

    Attributes:
        audio: mono float32 audio, shape [n_samples], ``n_samples = n_frames * hop``.
        notes: float32 [n_notes, 4]: pitch, onset_s, offset_s, velocity (as played).
        f0_hz: ground-truth f0 in Hz, shape [n_frames] (0 in silence; see module docstring).
        f0_confidence: 1 where f0 > 0 else 0, shape [n_frames].
        controls: the drawn curves, name -> float32 [n_frames].
        settings: line-level draws (JSON-serialisable).
        note_marks: int16 [n_notes, 5] written score marks per note (``NoteMarks.codes``),
            or None for an unmarked line.
    """

    audio: np.ndarray
    notes: np.ndarray
    f0_hz: np.ndarray
    f0_confidence: np.ndarray
    controls: dict
    settings: dict
    note_marks: "np.ndarray | None" = None


# --------------------------------------------------------------------------------------------
# drawing
# --------------------------------------------------------------------------------------------
def transpose_into_range(pitches, instrument: "Instrument | str", rng: np.random.Generator
                         ) -> np.ndarray:
    """Shift a line into the instrument's playable range.

    A random transposition among those that fit the whole line (octaves of a random key shift
    first, any semitone shift next), weighted by a Gaussian (sd a quarter of the range) of the
    distance between the middle of the line and the middle of the range; a line wider than the
    range is centred and its outlying notes are folded by octaves. Returns int pitches, same
    shape as ``pitches``.
    """
    inst = get_instrument(instrument)
    p = np.asarray(pitches, np.int64)
    if p.size == 0:
        return p
    lo, hi = inst.lowest_midi, inst.highest_midi
    shifts = np.arange(-72, 73)
    fits = shifts[(p.min() + shifts >= lo) & (p.max() + shifts <= hi)]
    if fits.size:
        key = 0 if rng.random() < 0.5 else int(rng.integers(-5, 7))
        preferred = fits[(fits - key) % 12 == 0]
        pool = preferred if preferred.size else fits
        # favour placements near the middle of the range (the extremes stay possible)
        middle = (p.min() + p.max()) / 2.0 + pool
        weight = np.exp(-0.5 * ((middle - (lo + hi) / 2.0) / (_PLACEMENT_WIDTH * (hi - lo))) ** 2)
        return p + int(rng.choice(pool, p=weight / weight.sum()))
    shift = int(round((lo + hi) / 2.0 - np.median(p)))
    q = p + shift
    while (q < lo).any():
        q = np.where(q < lo, q + 12, q)
    while (q > hi).any():
        q = np.where(q > hi, q - 12, q)
    return np.clip(q, lo, hi)


def _frame(t_s: np.ndarray, frame_rate: int) -> np.ndarray:
    return np.rint(np.asarray(t_s) * frame_rate).astype(np.int64)


def draw_performance(line_notes, instrument: "Instrument | str", *, seed: "int | Any",
                     frame_rate: int = 250) -> Performance:
    """Draw a random expressive performance of a line (see the module docstring for the ranges).

    Args:
        line_notes: [n_notes, >= 3] array: written pitch, onset_s, offset_s (base tempo),
            sorted by onset, non-overlapping.
        instrument: target instrument (name or ``Instrument``).
        seed: anything ``numpy.random.default_rng`` accepts; same seed -> same performance.
        frame_rate: control frame rate in Hz.

    Returns:
        the ``Performance``.
    """
    inst = get_instrument(instrument)
    notes = np.asarray(line_notes, np.float64)
    if notes.ndim != 2 or notes.shape[1] < 3 or notes.shape[0] == 0:
        raise ParameterError(f"line_notes: expected a non-empty [n_notes, 3] array, got shape {notes.shape}")
    if not np.all(np.isfinite(notes)) or np.any(notes[:, 2] <= notes[:, 1]):
        raise ParameterError("line_notes: every note needs finite times with offset > onset")
    rng = np.random.default_rng(seed)
    n = notes.shape[0]

    # ---- pitch and timing ---------------------------------------------------------------
    pitch = transpose_into_range(notes[:, 0], inst, rng)
    tempo_scale = float(rng.uniform(0.8, 1.25))
    phrased = bool(rng.random() < PHRASED_SHARE)
    written_on = (notes[:, 1] - notes[0, 1]) / tempo_scale + 0.1
    written_end = (notes[:, 2] - notes[0, 1]) / tempo_scale + 0.1
    rules = (phrased_expression(pitch, written_on, written_end, instrument=inst.name,
                                family=inst.family, rng=rng) if phrased else None)
    onset, slot_end = written_on, written_end
    if rules is not None:  # timing rules stretch the inter-onset intervals and written lengths
        ioi = np.diff(np.append(written_on, written_end[-1])) * rules.ioi_scale
        onset = written_on[0] + np.concatenate([[0.0], np.cumsum(ioi[:-1])])
        stretch = rules.ioi_scale.copy()
        stretch[-1] = rules.length_scale
        slot_end = onset + (written_end - written_on) * stretch   # written rests stay rests
        slot_end[:-1] = np.minimum(slot_end[:-1], onset[1:])
    jitter = np.clip(rng.normal(0.0, 0.006, n), -0.015, 0.015)
    onset = np.maximum(onset + jitter, 0.05)
    if rules is None:
        legato = bool(rng.random() < 0.35)
        fraction = 1.0 if legato else float(rng.uniform(0.5, 0.95))
        frac = np.clip(fraction + (0.0 if legato else 1.0) * rng.uniform(-0.05, 0.05, n), 0.4, 1.0)
    else:
        legato, frac = rules.legato, rules.fraction
        fraction = float(np.mean(frac))
    offset = onset + (slot_end - onset) * frac
    if rules is not None:   # a slurred note lasts until the next one starts, as marks.py plays it
        slurred = np.flatnonzero([m.slur for m in rules.marks[:-1]])
        offset[slurred] = onset[slurred + 1]
    on_f = _frame(onset, frame_rate)
    off_f = _frame(offset, frame_rate)
    min_frames = max(1, int(round(_MIN_NOTE_S * frame_rate)))
    for i in range(n):  # monotone onsets, notes of >= 40 ms, no overlaps
        if i:
            on_f[i] = max(on_f[i], on_f[i - 1] + min_frames)
        off_f[i] = max(off_f[i], on_f[i] + min_frames)
    next_on = np.append(on_f[1:], np.iinfo(np.int64).max)
    follows = off_f >= next_on  # legato: note-off exactly at the next onset
    off_f = np.minimum(off_f, next_on)
    n_frames = int(off_f[-1] + int(round(_TAIL_S * frame_rate)))

    # ---- dynamics -----------------------------------------------------------------------
    expression_db = np.zeros(n_frames)
    peak_pos = rng.uniform(0.25, 0.75, n)
    accent_s = rng.uniform(0.05, 0.2, n)
    if rules is None:
        volume_db = float(rng.uniform(-12.0, 0.0))
        base_velocity = float(rng.uniform(30, 120))
        velocity = np.clip(np.rint(base_velocity + rng.normal(0, 12, n)), 1, 127)
        # a mean-reverting walk around the line's level (no drift towards the clip)
        line_level = float(rng.uniform(-27.0, -3.0))
        walk = np.zeros(n)
        for i in range(1, n):
            walk[i] = 0.85 * walk[i - 1] + rng.normal(0.0, 3.0)
        level_db = np.clip(line_level + walk + rng.normal(0.0, 3.0, n), -30.0, 0.0)
        shapes = [_SHAPES[j] for j in rng.choice(len(_SHAPES), size=n, p=_SHAPE_PROBS)]
        depth_db = rng.uniform(3.0, 24.0, n)
    else:
        volume_db = 0.0
        base_velocity = float(np.mean(rules.velocity))
        velocity = rules.velocity
        level_db, shapes, depth_db = rules.level_db, rules.shape, rules.depth_db
        peak_pos = rules.peak_pos

    # ---- pitch curves -------------------------------------------------------------------
    bend = np.zeros(n_frames)
    line_rate = float(rng.uniform(4.5, 7.5))
    if rules is None:
        has_vibrato = rng.random(n) < 0.6
        filter_base = float(rng.uniform(-4200.0, 0.0))
        filter_note = np.clip(filter_base + rng.normal(0.0, 600.0, n), -4800.0, 0.0)
    else:
        has_vibrato = rules.vibrato_cents > 0
        filter_base = float(rules.strengths["filter_base_cents"])
        filter_note = rules.filter_cents
    filter_cents = np.zeros(n_frames)
    gate = np.zeros(n_frames)
    vel_curve = np.zeros(n_frames)
    scoops = 0
    for i in range(n):
        a, b = int(on_f[i]), int(off_f[i])
        stop = int(min(next_on[i], n_frames))  # the note's frames incl. its release tail
        length = b - a
        t = np.arange(stop - a) / frame_rate
        u = np.arange(length) / max(length - 1, 1)
        hi_db, lo_db = level_db[i], level_db[i] - depth_db[i]
        shape = shapes[i]
        if shape == "flat":
            env = np.full(length, hi_db)
        elif shape == "crescendo":
            env = lo_db + (hi_db - lo_db) * u
        elif shape == "decrescendo":
            env = hi_db + (lo_db - hi_db) * u
        elif shape == "swell":
            p = peak_pos[i]
            env = np.where(u < p, lo_db + (hi_db - lo_db) * u / p,
                           hi_db + (lo_db - hi_db) * (u - p) / (1.0 - p))
        else:  # accent
            tt = np.arange(length) / frame_rate
            env = lo_db + (hi_db - lo_db) * np.exp(-tt / accent_s[i])
        expression_db[a:b] = env
        expression_db[b:stop] = env[-1]
        gate[a:b] = 1.0
        vel_curve[a:b] = velocity[i]
        filter_cents[a:stop] = filter_note[i]
        # vibrato (continues through the release tail so the held f0 follows the audio)
        if has_vibrato[i]:
            if rules is None:
                rate = line_rate * float(rng.uniform(0.9, 1.1))
                depth = float(rng.uniform(5.0, 60.0))
                delay = float(rng.uniform(0.0, 0.4))
            else:
                rate = float(rules.vibrato_rate_hz[i])
                depth = float(rules.vibrato_cents[i])
                delay = float(rules.vibrato_delay_s[i])
            fade = float(rng.uniform(0.05, 0.3))
            ramp = np.clip((t - delay) / fade, 0.0, 1.0)
            bend[a:stop] += depth * ramp * np.sin(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi))
        # slides
        r = rng.random()
        prev_step = (pitch[i - 1] - pitch[i]) if i else 0
        if i and follows[i - 1] and 0 < abs(prev_step) <= BEND_RANGE_SEMITONES and r < 0.3:
            start_cents = 100.0 * prev_step
        elif r > 0.88:
            start_cents = -float(rng.uniform(20.0, 80.0))
        else:
            start_cents = 0.0
        if start_cents:
            scoops += 1
            glide = min(length, max(2, int(rng.uniform(0.04, 0.15) * frame_rate)))
            bend[a:a + glide] += start_cents * (1.0 - np.arange(glide) / glide)
        if rng.random() < 0.05 and length > 0.3 * frame_rate:
            fall = int(0.08 * frame_rate)
            bend[b - fall:b] -= float(rng.uniform(30, 150)) * np.arange(fall) / fall
            bend[b:stop] = bend[b - 1] if stop > b else bend[b:stop]
    bend = np.clip(bend, -_MAX_BEND_CENTS, _MAX_BEND_CENTS)
    out_notes = np.stack([pitch.astype(np.float64), on_f / frame_rate, off_f / frame_rate,
                          velocity], axis=1).astype(np.float32)
    controls = {
        "expression_cc": np.rint(_db_to_cc(expression_db)).astype(np.float32),
        "volume_cc": np.full(n_frames, np.rint(_db_to_cc(volume_db)), np.float32),
        "velocity": vel_curve.astype(np.float32),
        "bend_cents": bend.astype(np.float32),
        "filter_cents": filter_cents.astype(np.float32),
        "gate": gate.astype(np.float32),
    }
    settings = {"instrument": inst.name, "transpose": int(pitch[0] - int(round(notes[0, 0]))),
                "tempo_scale": tempo_scale, "legato": legato, "note_fraction": fraction,
                "volume_db": volume_db, "base_velocity": base_velocity, "vibrato_rate_hz": line_rate,
                "filter_base_cents": filter_base, "n_scoops": scoops,
                "style": "phrased" if rules is not None else "independent",
                "rules": rules.strengths if rules is not None else None}
    marks = (np.array([m.codes() for m in rules.marks], np.int16).reshape(-1, 5)
             if rules is not None and any(rules.marks) else None)
    return Performance(out_notes, n_frames, frame_rate, controls, settings, note_marks=marks)


def performance_f0(perf: Performance) -> tuple[np.ndarray, np.ndarray]:
    """Ground-truth ``(f0_hz, f0_confidence)`` [n_frames] of a performance (module docstring)."""
    n_frames, fr = perf.n_frames, perf.frame_rate
    midi = np.zeros(n_frames)
    voiced = np.zeros(n_frames, bool)
    on_f = _frame(perf.notes[:, 1], fr)
    off_f = _frame(perf.notes[:, 2], fr)
    hold = int(round(RELEASE_HOLD_S * fr))
    for i, pitch in enumerate(perf.notes[:, 0]):
        stop = min(int(off_f[i]) + hold, n_frames)
        if i + 1 < len(on_f):
            stop = min(stop, int(on_f[i + 1]))
        midi[on_f[i]:stop] = pitch
        voiced[on_f[i]:stop] = True
    f0 = np.where(voiced, midi_to_hz(midi + perf.controls["bend_cents"] / 100.0), 0.0)
    return f0.astype(np.float32), voiced.astype(np.float32)


_RENDERERS: dict[tuple, LineRenderer] = {}


def render_line(line_notes, instrument: "Instrument | str", *, seed, sample_rate: int = 16000,
                frame_rate: int = 250, gain: float = DEFAULT_GAIN, sf2_path=None,
                renderer: "LineRenderer | None" = None) -> Rendering:
    """Draw an expressive performance of a line and render it with FluidSynth.

    Args:
        line_notes: [n_notes, >= 3]: written pitch, onset_s, offset_s (sorted, monophonic).
        instrument: target instrument.
        seed: seed of the performance draws; same seed -> identical audio and curves.
        sample_rate, frame_rate: output rates (Hz).
        gain: FluidSynth master gain.
        sf2_path: soundfont file (default: the installed FluidR3_GM).
        renderer: a ``LineRenderer`` to reuse (default: one cached per process and settings).

    Returns:
        the ``Rendering`` (audio [n_frames * hop], notes, f0_hz/f0_confidence [n_frames],
        controls, settings).
    """
    perf = draw_performance(line_notes, instrument, seed=seed, frame_rate=frame_rate)
    if renderer is None:
        key = (sample_rate, frame_rate, float(gain), None if sf2_path is None else str(sf2_path))
        if key not in _RENDERERS:
            _RENDERERS[key] = LineRenderer(sample_rate=sample_rate, frame_rate=frame_rate,
                                           gain=gain, sf2_path=sf2_path)
        renderer = _RENDERERS[key]
    audio = renderer.render(perf, instrument)
    f0_hz, confidence = performance_f0(perf)
    return Rendering(audio, perf.notes, f0_hz, confidence, perf.controls, perf.settings,
                     note_marks=perf.note_marks)
