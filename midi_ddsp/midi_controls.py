"""MIDI performance controls of a part: pitch bend, volume (CC7), expression (CC11), modulation
(CC1) and the sustain pedal (CC64), read per track and channel and honoured at render time.

What each does (``MidiControls.apply``, called by ``midi_ddsp.pipeline`` after the Synthesis
Generator):

* **pitch bend** (14-bit, centre 8192) times the bend range (RPN 0,0; default 2 semitones) is
  added to the f0 of every frame;
* **CC7 and CC11** scale amplitude and noise by ``40 log10(value / 127)`` dB each (the GM /
  FluidSynth attenuation curve), only where the file sends them;
* **CC1** adds vibrato: each note's vibrato expression grows by the mean mod-wheel position
  over the note (127 = +1.0, about +-40 cents; ``MOD_WHEEL_VIBRATO``);
* **CC64** (>= 64 = down) holds notes released while the pedal is down until the pedal is
  lifted or the next note of the channel starts (the instruments are monophonic; applied to
  the notes when the file is read, ``sustain_offsets``).

Times are seconds; curves are step functions (a value holds until the next event).
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from midi_ddsp.dsp.units import db_to_amplitude

__all__ = ["MOD_WHEEL_VIBRATO", "DEFAULT_BEND_RANGE", "MidiControls", "ChannelEvents",
           "sustain_offsets", "controller_gain_db", "bend_range_update"]

MOD_WHEEL_VIBRATO = 1.0   # vibrato expression added by a full mod wheel (1.0 ~ +-40 cents)
DEFAULT_BEND_RANGE = 2.0  # semitones, the GM default


def controller_gain_db(value):
    """Attenuation (dB) of CC7 or CC11 values 0..127 (a number or an array):
    ``40 log10(value / 127)`` (GM / FluidSynth curve; 0 dB at 127)."""
    return 40.0 * np.log10(np.maximum(np.asarray(value, np.float64), 1e-3) / 127.0)


def bend_range_update(rpn: list, number: int, value: int, current: "float | None") -> "float | None":
    """Follow the registered-parameter protocol for the pitch-bend range (RPN 0,0).

    ``rpn`` ([msb, lsb], changed in place) is the selected RPN (CC101, CC100). Returns the new
    bend range in semitones when this controller sets it (CC6 data entry: semitones; CC38:
    cents added to ``current``), else None.
    """
    if number == 101:
        rpn[0] = value
    elif number == 100:
        rpn[1] = value
    elif number == 6 and rpn == [0, 0]:
        return float(value)
    elif number == 38 and rpn == [0, 0] and current is not None:
        return float(int(current)) + value / 100.0
    return None


@dataclasses.dataclass
class ChannelEvents:
    """Raw controller events of one (track, channel), in ticks, while a file is read."""

    bends: list = dataclasses.field(default_factory=list)       # (tick, -8192..8191)
    cc: dict = dataclasses.field(default_factory=dict)          # number -> [(tick, value)]
    bend_range: list = dataclasses.field(default_factory=list)  # (tick, semitones)
    _rpn: list = dataclasses.field(default_factory=lambda: [127, 127])

    def control_change(self, tick: int, number: int, value: int) -> None:
        current = self.bend_range[-1][1] if self.bend_range else None
        semis = bend_range_update(self._rpn, number, value, current)
        if semis is not None:
            if number == 38:
                self.bend_range[-1] = (self.bend_range[-1][0], semis)
            else:
                self.bend_range.append((tick, semis))
        self.cc.setdefault(number, []).append((tick, value))

    def to_controls(self, to_seconds) -> "MidiControls | None":
        """Times converted with ``to_seconds`` (ticks -> s); None when nothing was sent."""
        def curve(events):
            if not events:
                return ()
            ticks = np.array([e[0] for e in events])
            return tuple(zip(to_seconds(ticks).tolist(), [float(e[1]) for e in events]))

        bend = ()
        if self.bends:
            ranges = sorted(self.bend_range)
            out = []
            for tick, value in self.bends:
                semis = DEFAULT_BEND_RANGE
                for t, r in ranges:
                    if t <= tick:
                        semis = r
                out.append((tick, value / 8192.0 * semis))
            bend = curve(out)
        controls = MidiControls(pitch_bend=bend, volume=curve(self.cc.get(7, [])),
                                expression=curve(self.cc.get(11, [])),
                                modulation=curve(self.cc.get(1, [])))
        return controls if controls.any() else None


def sustain_offsets(rows: list, pedal_events: Sequence[tuple[int, int]]) -> list:
    """Notes ``[pitch, on_tick, off_tick, velocity]`` with each note released while the sustain
    pedal (CC64 >= 64) is down held until the pedal goes up or the next note starts."""
    if not pedal_events:
        return rows
    downs, state, start = [], False, 0
    for tick, value in sorted(pedal_events):
        down = value >= 64
        if down and not state:
            start = tick
        elif state and not down:
            downs.append((start, tick))
        state = down
    if state:
        downs.append((start, max(r[2] for r in rows) if rows else start))
    if not downs:
        return rows
    onsets = sorted(r[1] for r in rows)
    out = []
    for pitch, on, off, vel in rows:
        for a, b in downs:
            if a <= off < b:
                later = [t for t in onsets if t > on]
                off = min(b, later[0]) if later else b
                break
        out.append([pitch, on, off, vel])
    return sorted(out, key=lambda r: r[1])


def _held(curve: tuple, times: np.ndarray, default: float) -> np.ndarray:
    """Step-function value of ``curve`` ((t, value), ...) at ``times``."""
    if not curve:
        return np.full(times.shape, default)
    t = np.array([c[0] for c in curve])
    v = np.array([c[1] for c in curve])
    idx = np.searchsorted(t, times, side="right") - 1
    return np.where(idx >= 0, v[np.clip(idx, 0, None)], default)


@dataclasses.dataclass(frozen=True)
class MidiControls:
    """Performance controls of one part (tuples of (time s, value)).

    Attributes:
        pitch_bend: bend in semitones (the bend range applied).
        volume, expression: CC7 and CC11 values 0..127.
        modulation: CC1 value 0..127.
    """

    pitch_bend: tuple = ()
    volume: tuple = ()
    expression: tuple = ()
    modulation: tuple = ()

    def any(self) -> bool:
        return bool(self.pitch_bend or self.volume or self.expression or self.modulation)

    def scaled(self, speed_rate: float) -> "MidiControls":
        """The same controls with times divided by ``speed_rate`` (tempo change)."""
        def s(curve):
            return tuple((t / speed_rate, v) for t, v in curve)

        return MidiControls(s(self.pitch_bend), s(self.volume), s(self.expression),
                            s(self.modulation))

    def gain_db(self, times_s: np.ndarray) -> np.ndarray:
        """CC7 + CC11 attenuation in dB at ``times_s`` (0 where neither was sent)."""
        out = np.zeros(np.shape(times_s))
        for curve in (self.volume, self.expression):
            if curve:
                out += controller_gain_db(_held(curve, np.asarray(times_s), 127.0))
        return out

    def note_vibrato(self, onsets_s: np.ndarray, offsets_s: np.ndarray) -> np.ndarray:
        """Vibrato expression to add to each note: mean mod wheel over the note x
        ``MOD_WHEEL_VIBRATO`` / 127."""
        if not self.modulation:
            return np.zeros(len(onsets_s))
        out = []
        for a, b in zip(onsets_s, offsets_s):
            t = np.linspace(a, b, 16)
            out.append(float(np.mean(_held(self.modulation, t, 0.0))))
        return np.asarray(out) / 127.0 * MOD_WHEEL_VIBRATO

    def with_mod_wheel_vibrato(self, part):
        """``part`` (a ``NoteExpressions``: notes and their expressions) with each note's vibrato
        raised by the mod wheel (``note_vibrato``); a new object, ``part`` is not changed."""
        if not self.modulation:
            return part
        from midi_ddsp.expression.definitions import EXPRESSION_NAMES

        onsets = np.array([n.onset_s for n in part.notes], np.float64)
        offsets = np.array([n.offset_s for n in part.notes], np.float64)
        values = part.values.copy()
        column = EXPRESSION_NAMES.index("vibrato")
        values[:, column] = (values[:, column] + self.note_vibrato(onsets, offsets)).astype(np.float32)
        return type(part)(part.notes, values)

    def apply(self, params, *, frame_rate: int):
        """``params`` (``SynthParams``) with bend added to f0 and CC7/CC11 applied to the levels."""
        times = np.arange(params.n_frames) / frame_rate
        out = params.copy()
        if self.pitch_bend:
            bend = _held(self.pitch_bend, times, 0.0)
            out.f0_hz = (out.f0_hz * 2.0 ** (bend / 12.0)).astype(np.float32)
        if self.volume or self.expression:
            gain = db_to_amplitude(self.gain_db(times)).astype(np.float32)
            out.amplitude = out.amplitude * gain
            out.noise_magnitudes = out.noise_magnitudes * gain[:, None]
        return out
