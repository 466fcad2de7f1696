"""A rule-based performance model: per-note expression that follows the music (corpus v2).

In the spirit of the KTH rule system (Friberg, Bresin & Sundberg 2006): each rule maps a
property of the score to a deviation in level, timing, articulation, vibrato or timbre, and each
rule's strength ``k`` is drawn once per piece, so the corpus holds a family of performances of
every line rather than one. Phrases and metre come from ``midi_ddsp.phrasing`` (the same
functions the Expression Generator's features use).

Rules and the range each strength is drawn from (uniform; dB are CC11 expression levels):

=====================  ==========================================================  ============
rule                   effect                                                      strength
=====================  ==========================================================  ============
dynamic level          the piece's level and base velocity (pp .. ff)              -20 .. -2 dB
phrase arch            level rises to a peak at ``arch_peak`` of the phrase and    0 .. 10 dB
                       falls, ``arch_depth`` dB below the peak at its ends;
                       peak position 0.35 .. 0.7
phrase-final           the last note of a phrase softer and, if long, fading       0 .. 6 dB
high-loud              louder per octave above the line's mean pitch               0 .. 4 dB/oct
duration contrast      louder per doubling of duration over the median; short      0 .. 3 dB
                       notes played shorter (articulation x (1 - 0.15 k/3))
melodic charge         louder per step of circle-of-fifths distance from the       0 .. 0.8 dB
                       line's final pitch class (its tonic)
metrical accent        louder on strong beats (half on other beats)                0 .. 4 dB
final ritardando       inter-onset intervals of the last phrase stretched up to    0 .. 0.35
                       1 + k at its end (quadratic); last note held longer
punctuation            a micro-pause before each new phrase (shortens the          0 .. 0.08 s
                       phrase-final note)
articulation           legato inside phrases (prob. 0.5 per piece) or detached     0.6 .. 0.95
                       with the drawn sounding fraction
velocity follows       MIDI velocity moves with the level: base + ``k`` x level    2 .. 4 /dB
                       deviation, sd 4
vibrato                notes over 0.2 s: probability, depth (cents) and rate per   depth x
                       instrument family (``_VIBRATO``), depth rising with note    0.4 .. 1.6
                       length up to 0.75 s, slightly faster and shallower high;
                       delay 10 .. 35 % of the note (<= 0.4 s)
brightness coupling    soundfont low-pass opens with the level: cents per dB by    x 0.5 .. 1.5
                       family (strings 60, woodwinds 80, brass 160)
=====================  ==========================================================  ============

Score marks (``draw_marks``; ``MARKED_SHARE`` of the phrased pieces): the piece gets written
marks, drawn from the music, and the performance follows them as ``midi_ddsp.score.marks`` plays
a marked score, so the Expression Generator learns to read them (``Note.marks``):

=====================  ==========================================================  ============
mark                   where, and what the performance does                        probability
=====================  ==========================================================  ============
dynamic ppp .. fff     the first phrase gets the mark nearest the piece's level;   0.35 per
                       a later phrase a mark 1-2 steps away: the phrase's level    phrase
                       moves to the mark's (``MARK_DB``), velocity to the reader's
                       (``DYNAMIC_VELOCITY``) plus the level deviation; in half
                       the marked pieces velocity does not follow the marks (one
                       velocity, sd 4), so the marks alone must tell the level
crescendo/diminuendo   a run of >= 3 notes of a phrase: the level ramps up/down    0.25 per
                       by 4 .. 10 dB over the run                                  phrase
accent, marcato, sfz   notes on beats: +3 / +5 / +6 dB, velocity +12 / +18 / +24,  0.07 per
                       accent envelope                                             note
staccato(issimo)       the phrase's notes up to the median length: sounding 50 %   0.2 per
                       (35 %) of the written length                                phrase
tenuto                 a note held for its full length, flat                       0.04 per note
slur                   runs of 2-5 notes inside a phrase: legato (note-off at the  0.4 per
                       next onset); in legato pieces every phrase is slurred       phrase
fermata                a phrase-final note: twice as long, decrescendo             0.3 per phrase
=====================  ==========================================================  ============

Note envelopes (the CC11 shape inside a note) follow context: phrase-final notes decrescendo,
long notes swell (peak 0.3 .. 0.7), notes on strong beats under a strong accent rule get an
accent, short notes are flat. Levels are clipped to [-30, 0] dB.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from midi_ddsp.phrasing import metrical_weights, phrase_positions
from midi_ddsp.score import DYNAMICS, NO_MARKS, NoteMarks
from midi_ddsp.score.marks import DYNAMIC_VELOCITY

__all__ = ["MARKED_SHARE", "MARK_DB", "PhrasedExpression", "draw_rule_strengths", "draw_marks",
           "phrased_expression"]

MARKED_SHARE = 0.6
#: the CC11 level (dB) a written dynamic plays at
MARK_DB = dict(zip(DYNAMICS, (-26.0, -22.0, -18.0, -14.0, -10.0, -7.0, -4.0, -2.0)))
_ACCENT_DB = {"accent": 3.0, "marcato": 5.0, "sforzando": 6.0}
_ACCENT_VELOCITY = {"accent": 12, "marcato": 18, "sforzando": 24}

# family -> (probability on notes > 0.2 s, depth cents low, high, rate Hz low, high)
_VIBRATO = {
    "violin": (0.9, 10, 40, 5.0, 7.0), "viola": (0.9, 10, 38, 5.0, 6.8),
    "cello": (0.9, 10, 36, 4.8, 6.5), "double_bass": (0.8, 8, 30, 4.5, 6.0),
    "flute": (0.85, 8, 30, 4.8, 6.5), "oboe": (0.8, 8, 26, 5.0, 6.5),
    "clarinet": (0.15, 3, 10, 5.0, 6.0), "saxophone": (0.75, 8, 30, 4.8, 6.2),
    "bassoon": (0.65, 6, 22, 4.8, 6.2), "trumpet": (0.4, 5, 18, 5.0, 6.5),
    "horn": (0.25, 4, 12, 4.8, 6.0), "trombone": (0.35, 5, 18, 4.8, 6.2),
    "tuba": (0.25, 4, 12, 4.5, 6.0),
}
_BRIGHT_CENTS_PER_DB = {"strings": 60.0, "woodwinds": 80.0, "brass": 160.0}
_CIRCLE_OF_FIFTHS = np.array([0, 5, 2, 3, 4, 1, 6, 1, 4, 3, 2, 5])  # steps from the tonic per pc


@dataclasses.dataclass
class PhrasedExpression:
    """Per-note draws of one performance (all arrays [n_notes]).

    Attributes:
        ioi_scale: factor on each note's inter-onset interval (timing rules).
        length_scale: factor on the last note's written length (final ritardando).
        fraction: sounding fraction of each note's written length (articulation, punctuation).
        legato: whether notes inside phrases are tied (note-off at the next onset).
        level_db: peak CC11 level of each note (dB, <= 0).
        shape: envelope shape name per note (``"flat"``, ``"crescendo"``, ``"decrescendo"``,
            ``"swell"``, ``"accent"``).
        depth_db, peak_pos: envelope depth (dB) and swell peak position (0..1).
        velocity: MIDI velocity per note.
        vibrato_cents, vibrato_rate_hz, vibrato_delay_s: vibrato per note (0 cents = none).
        filter_cents: soundfont low-pass offset per note (cents, <= 0).
        strengths: the per-piece rule strengths (JSON-friendly).
        marks: the written ``NoteMarks`` of each note (all empty for an unmarked piece).
    """

    ioi_scale: np.ndarray
    length_scale: float
    fraction: np.ndarray
    legato: bool
    level_db: np.ndarray
    shape: list
    depth_db: np.ndarray
    peak_pos: np.ndarray
    velocity: np.ndarray
    vibrato_cents: np.ndarray
    vibrato_rate_hz: np.ndarray
    vibrato_delay_s: np.ndarray
    filter_cents: np.ndarray
    strengths: dict
    marks: list = dataclasses.field(default_factory=list)


def draw_rule_strengths(rng: np.random.Generator) -> dict:
    """One piece's rule strengths (the table in the module docstring)."""
    u = rng.uniform
    return {
        "dynamic_db": float(u(-20.0, -2.0)), "arch_depth_db": float(u(0.0, 10.0)),
        "arch_peak": float(u(0.35, 0.7)), "final_db": float(u(0.0, 6.0)),
        "high_loud_db_per_octave": float(u(0.0, 4.0)), "duration_contrast_db": float(u(0.0, 3.0)),
        "melodic_charge_db": float(u(0.0, 0.8)), "metrical_accent_db": float(u(0.0, 4.0)),
        "final_ritardando": float(u(0.0, 0.35)), "punctuation_s": float(u(0.0, 0.08)),
        "legato": bool(rng.random() < 0.5), "detached_fraction": float(u(0.6, 0.95)),
        "velocity_per_db": float(u(2.0, 4.0)), "vibrato_scale": float(u(0.4, 1.6)),
        "brightness_coupling": float(u(0.5, 1.5)), "filter_base_cents": float(u(-3600.0, 0.0)),
        "marked": bool(rng.random() < MARKED_SHARE),
        "velocity_follows_marks": bool(rng.random() < 0.5),
    }


def _arch(position: np.ndarray, peak: float) -> np.ndarray:
    """0 at the phrase ends, 1 at ``peak`` (piecewise sine), for positions in [0, 1]."""
    rise = np.sin(0.5 * np.pi * np.clip(position / peak, 0, 1))
    fall = np.sin(0.5 * np.pi * np.clip((1 - position) / (1 - peak), 0, 1))
    return np.where(position <= peak, rise, fall)


def phrased_expression(pitch: np.ndarray, onset_s: np.ndarray, offset_s: np.ndarray, *,
                       instrument: str, family: str, rng: np.random.Generator,
                       strengths: "dict | None" = None) -> PhrasedExpression:
    """Draw a rule-based performance of one line.

    Args:
        pitch: sounding MIDI pitches [n_notes] (after transposition).
        onset_s, offset_s: written times at the played base tempo [n_notes], sorted.
        instrument, family: the instrument name and its family (``Instrument.family``).
        rng: the job's generator.
        strengths: rule strengths (default: ``draw_rule_strengths(rng)``).
    """
    k = draw_rule_strengths(rng) if strengths is None else strengths
    pitch = np.asarray(pitch, np.float64)
    on, off = np.asarray(onset_s, np.float64), np.asarray(offset_s, np.float64)
    n = pitch.size
    dur = np.maximum(off - on, 1e-3)
    ids, position, final = phrase_positions(on, off)
    meter = metrical_weights(on)
    med = float(np.median(dur))

    level = np.full(n, k["dynamic_db"])
    level += k["arch_depth_db"] * (_arch(position, k["arch_peak"]) - 1.0)
    level -= k["final_db"] * final
    level += k["high_loud_db_per_octave"] * (pitch - pitch.mean()) / 12.0
    level += k["duration_contrast_db"] * np.clip(np.log2(dur / med), -2, 2)
    tonic = int(round(pitch[-1])) % 12
    level += k["melodic_charge_db"] * (_CIRCLE_OF_FIFTHS[(pitch.astype(int) - tonic) % 12] - 3.0)
    level += k["metrical_accent_db"] * (meter - 0.5)
    level += rng.normal(0.0, 1.0, n)
    level = np.clip(level, -30.0, 0.0)

    # timing: final ritardando over the last phrase
    ioi_scale = np.ones(n)
    last = np.nonzero(ids == ids[-1])[0]
    if last.size > 1:
        u = (np.arange(last.size) + 1) / last.size
        ioi_scale[last] = 1.0 + k["final_ritardando"] * u ** 2
    length_scale = 1.0 + k["final_ritardando"]

    # articulation
    fraction = np.full(n, 1.0 if k["legato"] else k["detached_fraction"])
    fraction = fraction + (0.0 if k["legato"] else 1.0) * rng.uniform(-0.04, 0.04, n)
    fraction *= np.where(dur < med, 1.0 - 0.05 * k["duration_contrast_db"], 1.0)
    ends = final > 0
    fraction[ends] = np.minimum(fraction[ends], 1.0 - k["punctuation_s"] / np.maximum(dur[ends], 0.05))
    fraction = np.clip(fraction, 0.4, 1.0)

    # envelopes
    shape = []
    depth = np.empty(n)
    peak = rng.uniform(0.3, 0.7, n)
    for i in range(n):
        if final[i] and dur[i] > 0.3:
            shape.append("decrescendo")
            depth[i] = rng.uniform(4.0, 14.0)
        elif dur[i] > 0.6:
            shape.append("swell")
            depth[i] = rng.uniform(3.0, 10.0)
        elif meter[i] == 1.0 and k["metrical_accent_db"] > 2.5:
            shape.append("accent")
            depth[i] = rng.uniform(3.0, 3.0 + 2.0 * k["metrical_accent_db"])
        else:
            shape.append("flat")
            depth[i] = 0.0

    velocity = 40.0 + (k["dynamic_db"] + 20.0) / 18.0 * 70.0
    velocity = velocity + k["velocity_per_db"] * (level - k["dynamic_db"]) + rng.normal(0, 4, n)
    velocity = np.clip(np.rint(velocity), 1, 127)
    marks = [NO_MARKS] * n
    if k.get("marked"):
        marks = draw_marks(pitch, on, off, ids=ids, final=final, meter=meter, legato=k["legato"],
                           level_db=k["dynamic_db"], rng=rng)
        level, velocity, fraction, ioi_scale, shape, depth = _follow_marks(
            marks, level, velocity, fraction, ioi_scale, shape, depth, dur=dur, ids=ids, k=k,
            rng=rng)
        if marks[-1].fermata:
            length_scale *= 2.0

    # vibrato by family, duration and register
    prob, d_lo, d_hi, r_lo, r_hi = _VIBRATO[instrument]
    rate0 = rng.uniform(r_lo, r_hi)
    depth0 = rng.uniform(d_lo, d_hi) * k["vibrato_scale"]
    register = (pitch - pitch.mean()) / 12.0
    has = (dur > 0.2) & (rng.random(n) < prob)
    grow = np.clip((dur - 0.15) / 0.6, 0.0, 1.0)
    vib_cents = np.where(has, depth0 * (0.4 + 0.6 * grow) * (1.0 - 0.1 * register)
                         * rng.uniform(0.85, 1.15, n), 0.0)
    vib_rate = np.clip(rate0 + 0.3 * register + rng.normal(0, 0.15, n), 3.5, 8.0)
    vib_delay = np.minimum(rng.uniform(0.1, 0.35, n) * dur, 0.4)

    coupling = _BRIGHT_CENTS_PER_DB[family] * k["brightness_coupling"]
    filter_cents = np.clip(k["filter_base_cents"] + coupling * (level - level.max())
                           + rng.normal(0.0, 150.0, n), -4800.0, 0.0)
    return PhrasedExpression(ioi_scale=ioi_scale, length_scale=float(length_scale),
                             fraction=fraction, legato=bool(k["legato"]), level_db=level,
                             shape=shape, depth_db=depth, peak_pos=peak, velocity=velocity,
                             vibrato_cents=np.clip(vib_cents, 0.0, 80.0), vibrato_rate_hz=vib_rate,
                             vibrato_delay_s=vib_delay, filter_cents=filter_cents, strengths=k,
                             marks=marks)


def draw_marks(pitch, onset_s, offset_s, *, ids, final, meter, legato: bool, level_db: float,
               rng: np.random.Generator) -> list:
    """Written marks for a line (the score-marks table in the module docstring): one
    ``NoteMarks`` per note. ``ids``/``final``/``meter``: ``phrase_positions`` and
    ``metrical_weights`` of the line; ``level_db``: the piece's dynamic level."""
    n = len(pitch)
    dur = np.maximum(np.asarray(offset_s) - np.asarray(onset_s), 1e-3)
    med = float(np.median(dur))
    fields = [dict(dynamic="", wedge="", articulation=set(), slur=False, fermata=False)
              for _ in range(n)]
    step = int(np.argmin([abs(MARK_DB[d] - level_db) for d in DYNAMICS]))
    current = DYNAMICS[step]
    for phrase in np.unique(ids):
        idx = np.flatnonzero(ids == phrase)
        if phrase > 0 and rng.random() < 0.35:
            step = int(np.clip(step + rng.choice([-2, -1, 1, 2]), 0, len(DYNAMICS) - 1))
            current = DYNAMICS[step]
        for i in idx:
            fields[i]["dynamic"] = current
        if idx.size >= 3 and rng.random() < 0.25:
            a = int(rng.integers(0, idx.size - 2))
            b = int(rng.integers(a + 2, idx.size))
            wedge = "crescendo" if rng.random() < 0.5 else "diminuendo"
            for i in idx[a:b + 1]:
                fields[i]["wedge"] = wedge
        if rng.random() < 0.2:
            short = "staccatissimo" if rng.random() < 0.25 else "staccato"
            for i in idx[dur[idx] <= med * 1.01]:
                if not final[i]:
                    fields[i]["articulation"].add(short)
        if legato or rng.random() < 0.4:
            a = 0
            while a < idx.size - 1:
                length = idx.size - a if legato else int(rng.integers(2, 6))
                run = idx[a:a + length]
                if run.size >= 2 and not any(fields[i]["articulation"] for i in run):
                    for i in run[:-1]:
                        fields[i]["slur"] = True
                a += length + (0 if legato else int(rng.integers(0, 3)))
        if rng.random() < 0.3:
            fields[idx[-1]]["fermata"] = True
    for i in range(n):
        if meter[i] > 0 and rng.random() < 0.07:
            fields[i]["articulation"].add(str(rng.choice(["accent", "accent", "marcato",
                                                          "sforzando"])))
        elif rng.random() < 0.04 and not fields[i]["articulation"]:
            fields[i]["articulation"].add("tenuto")
    return [NoteMarks(dynamic=f["dynamic"], wedge=f["wedge"],
                      articulation="+".join(sorted(f["articulation"])), slur=f["slur"],
                      fermata=f["fermata"]) for f in fields]


def _follow_marks(marks, level, velocity, fraction, ioi_scale, shape, depth, *, dur, ids, k, rng):
    """The performance changed to play ``marks`` (the score-marks table in the module
    docstring); returns new level, velocity, fraction, ioi_scale, shape, depth."""
    level, velocity, fraction = level.copy(), velocity.copy(), fraction.copy()
    ioi_scale, shape, depth = ioi_scale.copy(), list(shape), depth.copy()
    n = len(marks)
    deviation = level - k["dynamic_db"]
    level = np.array([MARK_DB[m.dynamic] for m in marks]) + deviation
    if k.get("velocity_follows_marks", True):   # as the score reader plays marks
        velocity = np.array([DYNAMIC_VELOCITY[m.dynamic] for m in marks], np.float64) \
            + k["velocity_per_db"] * deviation
    else:   # velocity says nothing of the marks: only the marks tell the level
        velocity = np.full(n, float(rng.uniform(50, 100))) + rng.normal(0.0, 4.0, n)
    follows = float(k.get("velocity_follows_marks", True))
    i = 0
    while i < n:   # wedges: a ramp over each run of notes under the same wedge
        if not marks[i].wedge:
            i += 1
            continue
        j = i
        while j + 1 < n and marks[j + 1].wedge == marks[i].wedge and ids[j + 1] == ids[i]:
            j += 1
        ramp = np.linspace(0.0, 1.0, j - i + 1) * rng.uniform(4.0, 10.0)
        sign = 1.0 if marks[i].wedge == "crescendo" else -1.0
        level[i:j + 1] += sign * (ramp - 0.5 * ramp[-1])
        velocity[i:j + 1] += follows * k["velocity_per_db"] * sign * (ramp - 0.5 * ramp[-1])
        i = j + 1
    for i, m in enumerate(marks):
        arts = m.articulations
        for name, db in _ACCENT_DB.items():
            if name in arts:
                level[i] += db
                velocity[i] += follows * _ACCENT_VELOCITY[name]
                shape[i], depth[i] = "accent", rng.uniform(4.0, 10.0)
        if "staccato" in arts or "staccatissimo" in arts:
            fraction[i] = 0.5 if "staccato" in arts else 0.35
            if shape[i] != "accent":
                shape[i], depth[i] = "flat", 0.0
        if "tenuto" in arts:
            fraction[i], shape[i], depth[i] = 1.0, "flat", 0.0
        if m.slur:
            fraction[i] = 1.0
        if m.fermata:
            ioi_scale[i] *= 2.0
            shape[i], depth[i] = "decrescendo", rng.uniform(6.0, 14.0)
    return (np.clip(level, -30.0, 0.0), np.clip(np.rint(velocity), 1, 127), fraction, ioi_scale,
            shape, depth)
