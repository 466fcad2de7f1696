"""The six note expressions as data: their definitions, units and ranges (``EXPRESSIONS``), the
extractor's constants (DESIGN §4), and the limits the pipeline checks against (``brightness_ceiling``,
the sampling temperature)."""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from midi_ddsp.dsp.units import midi_to_hz
from midi_ddsp.errors import ParameterError

__all__ = [
    "ExpressionRange",
    "EXPRESSIONS",
    "EXPRESSION_NAMES",
    "NOTE_COLUMNS",
    "NOTE_TABLE_COLUMNS",
    "VIBRATO_RATE_COLUMN",
    "MARK_COLUMNS",
    "MARK_TEXT_COLUMNS",
    "DEFAULT_VIBRATO_RATE_HZ",
    "ATTACK_S",
    "VIBRATO_RATE_HZ",
    "VIBRATO_MIN_NOTE_S",
    "VIBRATO_FULL_CENTS",
    "ATTACK_DB_PER_UNIT",
    "ATTACK_OFFSET",
    "brightness_ceiling",
    "DEFAULT_TEMPERATURE",
    "check_temperature",
]


@dataclasses.dataclass(frozen=True)
class ExpressionRange:
    """One note expression: its meaning, unit and ranges.

    Attributes:
        name: column name in the NoteTable.
        unit: what one unit of the value is, in words.
        low: low end of the typical range (where most extracted values fall).
        high: high end of the typical range. Documentation only: values outside are legal.
        valid_low: hard lower limit; ``validate_note_table`` rejects values below it.
        valid_high: hard upper limit; ``validate_note_table`` rejects values above it.
        generated_low, generated_high: the range the Expression Generator's outputs are clipped
            to: the span of the training corpus (lowest p5 .. highest p95 over the 13
            instruments in ``data_card/card.json``, rounded outward to 0.05).
        neutral: a middle-of-the-road value, used by ``note_table_from_notes`` when no
            expression is given.
        description: what it measures and the exact formula.
    """

    name: str
    unit: str
    low: float
    high: float
    valid_low: float
    valid_high: float
    neutral: float
    description: str
    generated_low: float = 0.0
    generated_high: float = 1.0


#: The six note expressions, in NoteTable column order. The hard limits contain every value the
#: extractor can produce from SynthParams with amplitudes and noise magnitudes up to ~30 (+30 dB).
EXPRESSIONS: tuple[ExpressionRange, ...] = (
    ExpressionRange(
        name="volume", unit="1 = 60 dB; 0 = -90 dB, 1 = -30 dB harmonic amplitude",
        low=0.0, high=1.0, valid_low=-1.0, valid_high=4.0, neutral=0.75,
        description=(
            "Mean loudness of the note: mean over its frames of the harmonic amplitude in dB, "
            "volume = mean(amp_dB) / 60 + 1.5. amp_dB = 20 log10(max(amplitude, 1e-6)), so the "
            "floor is -0.5; amplitude 0.01 (-40 dB) gives 0.833, amplitude 1 (0 dB) gives 1.5."),
        generated_low=-0.5, generated_high=1.25,
    ),
    ExpressionRange(
        name="vol_fluc", unit="1 = 24 dB standard deviation of the level",
        low=0.0, high=1.0, valid_low=0.0, valid_high=4.0, neutral=0.0,
        description=(
            "Volume fluctuation: how much the level moves within the note (tremolo, swells, "
            "accents, a decaying tail), regardless of direction. vol_fluc = std(amp_dB) * 2.5 / 60 "
            "(population std over the note's frames). 0 = perfectly steady level; 0.5 = the level "
            "deviates ~12 dB RMS from its mean."),
        generated_low=0.0, generated_high=0.6,
    ),
    ExpressionRange(
        name="vol_peak_pos", unit="fraction of the note length",
        low=0.0, high=1.0, valid_low=0.0, valid_high=1.0, neutral=0.5,
        description=(
            "Volume peak position: where in the note the loudest frame lies, "
            "(argmax amp_dB - onset frame) / note length in frames. 0 = loudest at the onset "
            "(decrescendo, plucked/accented notes), 0.5 = swell to the middle, close to 1 = "
            "loudest at the end (crescendo). Ties go to the earliest frame."),
        generated_low=0.0, generated_high=1.0,
    ),
    ExpressionRange(
        name="vibrato", unit="1 = 40 cents sinusoidal half-extent (±40 cents)",
        low=0.0, high=1.0, valid_low=0.0, valid_high=20.0, neutral=0.0,
        description=(
            "Vibrato extent: 10 * max_f |rFFT(w * (d - mean d))|(f) / n, with d the pitch "
            "deviation in semitones from the written pitch over the note's voiced frames (n of "
            "them), w a Hann window of length n, the FFT zero-padded to >= 1024 points "
            "(<= 0.25 Hz bins at 250 Hz). Counted only when the spectral peak lies in 3..9 Hz "
            "and the note is longer than 200 ms, else 0. The Hann window's coherent gain is "
            "1/2, so a sinusoidal vibrato of ±c cents gives about 2.5 * c / 100 = c / 40: "
            "±10 cents -> 0.25, ±30 cents -> 0.75, ±50 cents -> 1.25. Hard limit: |d| <= 2 "
            "semitones bounds it below 20."),
        generated_low=0.0, generated_high=0.8,
    ),
    ExpressionRange(
        name="brightness", unit="1 = harmonic centroid at harmonic 12",
        low=0.0, high=1.0, valid_low=0.0, valid_high=5.0, neutral=0.5,
        description=(
            "Brightness: harmonic centroid of the normalised harmonic distribution h, "
            "brightness = 5 * mean over frames of sum_k k * h_k / 60 (k = 1..60; the 60 is "
            "fixed, not the number of harmonics). All energy in harmonic 1 gives 5/60 = 0.083, "
            "in harmonic 6 gives 0.5, in harmonic 12 gives 1. Harmonics at or above 8 kHz "
            "(the 16 kHz model's Nyquist) are removed before normalising, as in the audio, so "
            "high notes cannot reach high values (G6, 1568 Hz: at most 5 harmonics, 0.42)."),
        generated_low=0.05, generated_high=1.3,
    ),
    ExpressionRange(
        name="attack", unit="1 = 40 dB; 0 = -105 dB, 1 = -65 dB mean noise-band level",
        low=0.0, high=1.0, valid_low=-1.0, valid_high=4.0, neutral=0.5,
        description=(
            "Attack noise: how noisy the note's onset is (bow scratch, breath, tonguing). Mean "
            "over the first 40 ms of the note (10 frames at 250 Hz; all frames if shorter) of the "
            "noise level in dB (mean over bands of 20 log10(max(noise_magnitude, 1e-6))), "
            "attack = level / 40 + 2.625. Floor -0.375 (all bands at -120 dB)."),
        generated_low=-0.4, generated_high=1.3,
    ),
)

EXPRESSION_NAMES: tuple[str, ...] = tuple(e.name for e in EXPRESSIONS)
NOTE_COLUMNS: tuple[str, ...] = ("pitch", "onset_s", "offset_s", "velocity")
NOTE_TABLE_COLUMNS: tuple[str, ...] = NOTE_COLUMNS + EXPRESSION_NAMES

#: The optional seventh expression column: the vibrato's rate in Hz, the frequency of the pitch
#: deviation's spectral peak (``VIBRATO_RATE_HZ``, the band the vibrato column counts). A table
#: without it lets the models choose (Expression Generators trained with it generate it; others
#: leave it out, and the Synthesis Generator then plays ``DEFAULT_VIBRATO_RATE_HZ``). The
#: extractor writes the measured rate where it counts vibrato and the default elsewhere.
VIBRATO_RATE_COLUMN = "vibrato_rate"
DEFAULT_VIBRATO_RATE_HZ = 5.5

#: The optional score-mark columns, present when a part's notes carry marks (MusicXML, kern,
#: abc; ``midi_ddsp.score.NoteMarks``): ``dynamic`` (ppp..fff in force, "" none), ``wedge``
#: ("crescendo" / "diminuendo" / ""), ``articulation`` ("+"-joined staccato, staccatissimo,
#: tenuto, accent, marcato, sforzando; "" none), ``slur`` and ``fermata`` (1 or 0). The
#: Expression Generator reads them; the renderer does not (their effect on velocity and
#: length is already in the notes).
MARK_COLUMNS: tuple[str, ...] = ("dynamic", "wedge", "articulation", "slur", "fermata")
MARK_TEXT_COLUMNS: tuple[str, ...] = ("dynamic", "wedge", "articulation")


# Extractor constants the models' note features share (DESIGN §4).
ATTACK_S = 0.04                  # attack window: first 40 ms
ATTACK_DB_PER_UNIT = 40.0        # attack = mean noise level (dB) / 40 + 2.625
ATTACK_OFFSET = 2.625
VIBRATO_RATE_HZ = (3.0, 9.0)     # vibrato counts only at these rates
VIBRATO_MIN_NOTE_S = 0.2         # notes must be longer than this to carry vibrato
VIBRATO_FULL_CENTS = 40.0        # vibrato 1.0 = a sinusoidal pitch swing of +-40 cents


def brightness_ceiling(pitch: float, *, sample_rate: int = 16000) -> float:
    """The largest brightness a note can show: all harmonic energy in the highest harmonic
    below Nyquist, ``5 K / 60`` (K harmonics of the pitch's f0 lie below ``sample_rate / 2``)."""
    f0 = float(midi_to_hz(float(pitch)))
    n_below = max(1, int(math.ceil(sample_rate / 2.0 / f0)) - 1)
    return 5.0 * n_below / 60.0


DEFAULT_TEMPERATURE = 0.5
"""Default spread of the Expression Generator's sampling in the rendering API and CLIs (0 = the
most likely expressions, 1 = the full predicted spread): at 1 a part's level wanders by several
dB between phrases; 0.5 keeps the variety of the performance with a steady level."""


def check_temperature(temperature) -> float:
    """``temperature`` as a float >= 0, or ParameterError."""
    ok = not isinstance(temperature, bool) and isinstance(temperature, (int, float, np.floating,
                                                                        np.integer))
    if not ok or not math.isfinite(float(temperature)) or temperature < 0:
        raise ParameterError(f"temperature must be a number >= 0; got {temperature!r}")
    return float(temperature)
