"""Note expressions: the extractor (SynthParams + notes -> NoteTable) and the NoteTable itself.

- ``definitions``: the six expressions as data (``EXPRESSIONS``), the extractor constants, limits;
- ``extractor``: ``extract_note_expressions``;
- ``note_table``: validating, reading, building and converting NoteTables (pandas);
- ``note_expressions``: ``NoteExpressions``, a part's notes and expressions as arrays (what the
  generators and the renderer pass around), and the NoteTable CSV written without pandas.

A **NoteTable** is a pandas DataFrame with one row per note of one monophonic part, sorted by
onset, columns in this order (float32, but for the mark text):

==============  =====================================================================
pitch           MIDI note number of the written note (whole number 0..127)
onset_s         note start in seconds (>= 0)
offset_s        note end in seconds (> onset_s)
velocity        MIDI velocity (whole number 1..127)
volume          mean level:            mean(amp_dB) / 60 + 1.5
vol_fluc        level fluctuation:     std(amp_dB) * 2.5 / 60  (how much the level moves
                within the note, any direction: 0 = steady, 1 = 24 dB RMS)
vol_peak_pos    where the loudest frame lies, as a fraction of the note:
                (argmax amp_dB - onset frame) / n frames; 0 = at the onset
                (decrescendo, accent), 0.5 = swell, ~1 = at the end (crescendo)
vibrato         vibrato extent:        10 * peak |rFFT| of the pitch deviation (3..9 Hz only);
                1.0 = a sinusoidal swing of +-40 cents (``VIBRATO_FULL_CENTS``)
brightness      harmonic centroid:     5 * mean_t(sum_k k * h_k) / 60
attack          noise at the onset:    mean noise dB over the first 40 ms / 40 + 2.625
vibrato_rate    optional: the vibrato's rate in Hz (1..12), the frequency of the pitch
                deviation's spectral peak; the extractor writes it (5.5 where it counts no
                vibrato), rate-generating Expression Generators fill it, rate-reading
                Synthesis Generators play it (``DEFAULT_VIBRATO_RATE_HZ`` when absent)
dynamic         optional score marks (``MARK_COLUMNS``, present when the notes carry
wedge           ``Note.marks``: MusicXML, kern, abc): the dynamic in force (ppp..fff),
articulation    "crescendo" / "diminuendo", "+"-joined articulations (text, "" = none),
slur, fermata   1 / 0; mark-reading Expression Generators read them, the renderer not
==============  =====================================================================

The six expressions are the paper's (MIDI-DDSP, Wu et al. 2022, DESIGN §4), scaled so most values
fall in [0, 1]. Their exact definitions, units, typical and valid ranges are data: see
``EXPRESSIONS`` (one ``ExpressionRange`` each). In frame-level conditioning, rests are 0 in every
expression (``expressions_to_frames``).

Frame quantities used (all from ``SynthParams``, frame rate 250 Hz by default):

- ``amp_dB = 20 * log10(max(amplitude, MIN_AMPLITUDE))`` per frame (floor -120 dB);
- noise level per frame = mean over the noise bands of ``20 * log10(max(noise_magnitude,
  MIN_AMPLITUDE))``, i.e. the mean of the band levels in dB (upstream's definition, which the
  attack offset 2.625 was tuned for; a level of the summed noise would be ~10-20 dB higher);
- pitch deviation = ``hz_to_midi(f0_hz) - pitch`` in semitones; unvoiced frames (f0 = 0) and
  frames more than 2 semitones off the written pitch (octave errors, glides from the previous
  note; upstream masks these too) are left out;
- harmonic distribution as the synth plays it: ``midi_ddsp.dsp.get_controls`` removes the
  harmonics at or above the model's Nyquist (``sample_rate / 2``, 8 kHz) at each frame's f0 and
  renormalises to sum 1 (frames left summing to 0 count as centroid 0).

The frames of a note are ``midi_ddsp.score.note_frame_span`` (the one note-to-frame rule),
clipped to the length of the parameters.
"""
from midi_ddsp.expression.definitions import (
    DEFAULT_TEMPERATURE,
    EXPRESSION_NAMES,
    EXPRESSIONS,
    NOTE_COLUMNS,
    NOTE_TABLE_COLUMNS,
    ExpressionRange,
    brightness_ceiling,
    check_temperature,
)
import importlib

# pandas (note_table) and the extractor load on first use: reading the definitions stays light
_WHERE = {
    "extract_note_expressions": "extractor",
    "expressions_to_frames": "note_table",
    "note_table_from_notes": "note_table",
    "note_table_from_expressions": "note_table",
    "notes_from_note_table": "note_table",
    "validate_note_table": "note_table",
}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"midi_ddsp.expression.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'midi_ddsp.expression' has no attribute {name!r}")


__all__ = [
    "DEFAULT_TEMPERATURE",
    "brightness_ceiling",
    "check_temperature",
    "ExpressionRange",
    "EXPRESSIONS",
    "EXPRESSION_NAMES",
    "NOTE_COLUMNS",
    "NOTE_TABLE_COLUMNS",
    "extract_note_expressions",
    "expressions_to_frames",
    "validate_note_table",
    "note_table_from_notes",
    "notes_from_note_table",
]
