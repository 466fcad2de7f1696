"""Play a drawn performance (``data_pipeline.render.draw_performance``) of one line with
FluidSynth, driving every controller at the frame rate.

The frame rate is one FluidSynth block (250 Hz = 64 samples at 16 kHz), so each block sees exactly
one control value: CC7 (volume, once), CC11 (expression), pitch bend (range
``BEND_RANGE_SEMITONES``, set with RPN 0), and the soundfont's low-pass cut-off through the SF2
NRPN for generator 8 (initialFilterFc).

FluidSynth reverb and chorus are off (dry audio: the harmonic analysis is cleaner and the models
learn reverb separately); audio is read as float32 (``fluid_synth_write_float``, no dither), and
every line gets a fresh synth (voices keep filter state across ``system_reset``), so a render
is a pure function of the performance and the instrument.

Gain: ``DEFAULT_GAIN`` puts the analysed harmonic amplitude of most notes in the range where the
volume expression ``mean(amp_dB)/60 + 1.5`` lies in [0, 1] (amp_dB in -90..-30 dB); see the
dataset card for the measured spread.
"""
from __future__ import annotations

import ctypes
import dataclasses

import numpy as np

from midi_ddsp.errors import ParameterError
from midi_ddsp.fluidsynth_render import FluidSynthUnavailableError, resolve_soundfont
from midi_ddsp.instruments import Instrument, get_instrument

__all__ = ["BEND_RANGE_SEMITONES", "DEFAULT_GAIN", "Performance", "LineRenderer"]

BEND_RANGE_SEMITONES = 2
"""Pitch-bend range set with RPN 0 before every line (± semitones)."""

DEFAULT_GAIN = 0.5
"""FluidSynth master gain (its default is 0.2)."""

_FILTER_NRPN_GEN = 8     # SF2 generator initialFilterFc
_FILTER_NRPN_SCALE = 2.0  # SF2 NRPN: one data unit of initialFilterFc is 2 cents
_NRPN_CENTRE = 8192


@dataclasses.dataclass
class Performance:
    """A drawn performance of one line, on the frame grid (what is sent to FluidSynth).

    Attributes:
        notes: float32 [n_notes, 4]: sounding MIDI pitch, onset_s, offset_s (note-off),
            velocity; times on the frame grid.
        n_frames: length in frames (notes + release tail).
        frame_rate: frames per second (Hz).
        controls: name -> float32 [n_frames]: ``expression_cc``, ``volume_cc``, ``velocity``,
            ``bend_cents``, ``filter_cents``, ``gate``.
        settings: the line-level draws (JSON-serialisable), for the record.
        note_marks: int16 [n_notes, 5] written score marks per note (``NoteMarks.codes``),
            or None for an unmarked line.
    """

    notes: np.ndarray
    n_frames: int
    frame_rate: int
    controls: dict
    settings: dict
    note_marks: "np.ndarray | None" = None


class LineRenderer:
    """Renders performances with FluidSynth (a fresh synth per line, so renders never depend on
    what was played before).

    Args:
        sample_rate: output sample rate in Hz.
        frame_rate: control rate in Hz; ``sample_rate // frame_rate`` samples per control frame.
        gain: FluidSynth master gain.
        sf2_path: soundfont (default: ``midi_ddsp.fluidsynth_render.resolve_soundfont()``).
    """

    _CHANNEL = 0

    def __init__(self, *, sample_rate: int = 16000, frame_rate: int = 250,
                 gain: float = DEFAULT_GAIN, sf2_path=None) -> None:
        if sample_rate % frame_rate:
            raise ParameterError(f"frame_rate ({frame_rate}) must divide sample_rate ({sample_rate})")
        try:
            import fluidsynth
        except (ImportError, OSError) as exc:
            raise FluidSynthUnavailableError(f"pyfluidsynth / libfluidsynth not available: {exc}") from None
        self.sample_rate = int(sample_rate)
        self.frame_rate = int(frame_rate)
        self.hop = self.sample_rate // self.frame_rate
        self.gain = float(gain)
        self._fluidsynth = fluidsynth
        self._sf2_path = resolve_soundfont(sf2_path)
        write = fluidsynth._fl.fluid_synth_write_float
        write.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                          ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        write.restype = ctypes.c_int
        self._write = write
        self._synth = None

    def _new_synth(self) -> int:
        """A fresh synth for every line: FluidSynth voices keep filter state across
        ``system_reset`` (renders then depend on what was played before), and with dynamic
        sample loading a new synth + soundfont costs ~20 ms."""
        settings = {"synth.reverb.active": 0, "synth.chorus.active": 0,
                    "synth.dynamic-sample-loading": 1}
        self._synth = self._fluidsynth.Synth(gain=self.gain, samplerate=float(self.sample_rate),
                                             **settings)
        sfid = self._synth.sfload(self._sf2_path)
        if sfid < 0:
            raise FluidSynthUnavailableError(f"FluidSynth could not load {self._sf2_path}")
        return sfid

    def _nrpn(self, gen: int, value: float) -> None:
        s, ch = self._synth, self._CHANNEL
        v = int(np.clip(round(value) + _NRPN_CENTRE, 0, 16383))
        s.cc(ch, 99, 120)
        s.cc(ch, 98, gen)
        s.cc(ch, 6, v >> 7)
        s.cc(ch, 38, v & 127)

    def render(self, perf: Performance, instrument: "Instrument | str") -> np.ndarray:
        """Play a performance; returns mono float32 audio [perf.n_frames * hop]."""
        inst = get_instrument(instrument)
        if perf.frame_rate != self.frame_rate:
            raise ParameterError(f"performance at {perf.frame_rate} Hz, renderer at {self.frame_rate} Hz")
        sfid = self._new_synth()
        s, ch = self._synth, self._CHANNEL
        s.program_select(ch, sfid, 0, inst.program)
        # RPN 0: pitch-bend range
        s.cc(ch, 101, 0)
        s.cc(ch, 100, 0)
        s.cc(ch, 6, BEND_RANGE_SEMITONES)
        s.cc(ch, 38, 0)
        s.cc(ch, 101, 127)
        s.cc(ch, 100, 127)
        c = perf.controls
        s.cc(ch, 7, int(c["volume_cc"][0]))
        n_frames, hop = perf.n_frames, self.hop
        events: dict[int, list[tuple]] = {}
        fr = self.frame_rate
        for pitch, on, off, vel in perf.notes:
            events.setdefault(int(round(off * fr)), []).append((0, int(pitch), 0))
            events.setdefault(int(round(on * fr)), []).append((1, int(pitch), int(vel)))
        bend_units = np.clip(np.rint(c["bend_cents"] / (100.0 * BEND_RANGE_SEMITONES) * 8192.0),
                             -8192, 8191).astype(np.int64)
        expr = c["expression_cc"].astype(np.int64)
        filt = np.rint(c["filter_cents"] / _FILTER_NRPN_SCALE).astype(np.int64)
        stereo = np.zeros(2 * n_frames * hop, np.float32)
        base = stereo.ctypes.data
        last_bend = last_expr = last_filt = None
        for i in range(n_frames):
            if filt[i] != last_filt:
                self._nrpn(_FILTER_NRPN_GEN, filt[i])
                last_filt = filt[i]
            if expr[i] != last_expr:
                s.cc(ch, 11, int(expr[i]))
                last_expr = expr[i]
            if bend_units[i] != last_bend:
                s.pitch_bend(ch, int(bend_units[i]))
                last_bend = bend_units[i]
            for kind, pitch, vel in events.get(i, ()):  # note-offs sort before note-ons
                if kind:
                    s.noteon(ch, pitch, vel)
                else:
                    s.noteoff(ch, pitch)
            ptr = base + 4 * 2 * i * hop
            self._write(s.synth, hop, ptr, 0, 2, ptr, 1, 2)
        s.delete()
        self._synth = None
        audio = stereo.reshape(-1, 2).mean(axis=1)
        return np.ascontiguousarray(audio, np.float32)
