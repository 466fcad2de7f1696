"""``StreamingSynth``: play an instrument live, block by block, from MIDI-like events.

Each voice is a monophonic DDSP voice run by the causal Synthesis Generator
(``SynthesisGeneratorConfig.streaming()``, ``StreamingGenerator``): at every control frame
(250 Hz) the engine builds the voices' conditioning from what is known so far (pitch, velocity,
time since the onset, held or released, the rest before the note, the note's expressions), runs
one step of the generator for all voices at once, and renders the frame (``BlockSynth``:
harmonic + filtered noise) and the shared room (``PartitionedReverb``). Controllers act as in a
rendered MIDI file (``midi_ddsp.midi_controls``): pitch bend (RPN bend range, default 2
semitones) on f0, CC7/CC11 on the levels, CC1 adding vibrato, CC64 holding released notes.

A live note's six expressions: those given to ``note_on``, else the instrument's defaults
(``checkpoints/expression_defaults.json``: corpus medians, volume from velocity). Timing: an
event applies at the control frame nearest its time (the rounding of ``note_frame_span``; a
frame already rendered is never changed, so with blocks that are not whole frames an event may
come up to a frame late); the audio is the offline render of the same frames delayed by
``latency_samples`` (one frame at 16 kHz). Every voice runs every
frame (a constant load, no allocation of voices at note-on); buffers are allocated once.
"""
from __future__ import annotations

import heapq
import json
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from midi_ddsp.dsp.rooms import room_impulse_response
from midi_ddsp.dsp.units import midi_to_hz
from midi_ddsp.errors import ParameterError
from midi_ddsp.expression import EXPRESSION_NAMES
from midi_ddsp.instruments import INSTRUMENTS, InstrumentSpec, instrument_weights
from midi_ddsp.midi_controls import (DEFAULT_BEND_RANGE, MOD_WHEEL_VIBRATO, bend_range_update,
                                     controller_gain_db)
from midi_ddsp.models.checkpoint import load_model, shipped_file
from midi_ddsp.models.features import PITCH_CENTER, PITCH_SCALE
from midi_ddsp.dsp.blocks import BlockSynth, PartitionedReverb
from midi_ddsp.streaming.generator import StreamingGenerator

__all__ = ["StreamingSynth", "CAUSAL_CHECKPOINT", "EXPRESSION_DEFAULTS_FILE", "DEFAULT_LIVE_GAIN_DB",
           "default_expressions"]

CAUSAL_CHECKPOINT = "causal_synthesis_generator.pt"
EXPRESSION_DEFAULTS_FILE = "expression_defaults.json"
_MAX_TIME_S = 2.0          # as features.causal_note_frame_features
_LOG_OFFSET_S = 0.05
_OSC_RATES_HZ = (4.0, 5.5, 7.0)
DEFAULT_LIVE_GAIN_DB = 18.0
"""The engine's default output gain: the causal model plays one voice at about -41 LUFS."""


def _is_midi_value(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, np.integer)) \
        and 0 <= int(value) <= 127


def _shipped_defaults() -> dict:
    """Instrument name -> entry of ``checkpoints/expression_defaults.json`` ({} if absent)."""
    path = shipped_file(EXPRESSION_DEFAULTS_FILE)
    return json.loads(path.read_text())["instruments"] if path.exists() else {}


def default_expressions(instrument: InstrumentSpec, velocity: int, *,
                        table: "dict | None" = None) -> np.ndarray:
    """The six expressions of a live note without given ones, float32 [6]: the instrument's
    corpus medians, volume = a + b * velocity / 127 (a blend mixes its instruments' values)."""
    if table is None:
        table = _shipped_defaults()
    weights = instrument_weights(instrument)
    out, total = np.zeros(len(EXPRESSION_NAMES)), 0.0
    for index in np.flatnonzero(weights):
        entry = table.get(INSTRUMENTS[index].name)
        values = np.full(len(EXPRESSION_NAMES), 0.5)
        if entry:
            values = np.array([entry["median"][name] for name in EXPRESSION_NAMES])
            a, b = entry["volume_from_velocity"]
            values[0] = a + b * velocity / 127.0
        out += weights[index] * values
        total += weights[index]
    return np.clip(out / max(total, 1e-9), 0.0, 1.0).astype(np.float32)


class StreamingSynth:
    """A playable instrument: ``note_on``/``note_off``/``control_change``/``pitch_bend``, then
    ``process(n_samples)`` for the next block of mono audio.

    Args:
        instrument: a name/alias or blend ``{name: weight}``.
        sample_rate: output rate in Hz, a multiple of 250 (16000, 48000, ...).
        block_size: default samples per ``process`` call.
        max_voices: polyphony (voices are computed every frame, sounding or not).
        mode: ``"poly"`` (a free voice per note, the oldest note stolen when all sound) or
            ``"mono"`` (one voice; a new note glides legato from the sounding one, releasing
            the newest key returns to the one still held).
        reverb: a room preset (``"room"``, ``"hall"``, ``"dry"``).
        seed: seed of the generator's noise input and of the noise synth.
        model: a causal ``SynthesisGenerator`` or its checkpoint path; default the shipped
            ``checkpoints/causal_synthesis_generator.pt``.
        record: keep the list of played notes per voice (``played_notes``).
        gain_db: output gain over the model's own level (default +18 dB: one voice at the
            default expressions then plays at about -23 LUFS, the level of the offline mixes;
            0 = the model's level, as the offline synth renders it).
    """

    def __init__(self, instrument: InstrumentSpec = "violin", *, sample_rate: int = 16000,
                 block_size: int = 128, max_voices: int = 8, mode: str = "poly",
                 reverb: object = "room", seed: int = 0, model=None, record: bool = False,
                 gain_db: float = DEFAULT_LIVE_GAIN_DB):
        if mode not in ("poly", "mono"):
            raise ParameterError(f"mode must be 'poly' or 'mono'; got {mode!r}")
        for name, value in (("block_size", block_size), ("max_voices", max_voices)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ParameterError(f"{name} must be an int >= 1; got {value!r}")
        if model is None or isinstance(model, (str, Path)):
            model = load_model(model or shipped_file(CAUSAL_CHECKPOINT), kind="synthesis_generator")
        self.instrument = instrument
        self.weights = instrument_weights(instrument)
        signal = model.signal_config
        self.frame_rate = int(signal.frame_rate)
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) \
                or sample_rate < signal.sample_rate or sample_rate % self.frame_rate:
            raise ParameterError(f"sample_rate must be a multiple of {self.frame_rate} Hz and at "
                                 f"least {signal.sample_rate}; got {sample_rate!r}")
        self.sample_rate, self.block_size = int(sample_rate), int(block_size)
        self.hop = self.sample_rate // self.frame_rate
        self.mode = mode
        V = 1 if mode == "mono" else int(max_voices)
        self.n_voices = V
        self.frames_per_chunk = max(1, -(-self.block_size // self.hop))
        self.generator = StreamingGenerator(model, V, max_frames=self.frames_per_chunk)
        self.synth = BlockSynth(V, sample_rate=self.sample_rate, model_rate=signal.sample_rate,
                                frame_rate=self.frame_rate, n_harmonics=signal.n_harmonics,
                                n_bands=signal.n_noise_bands, max_frames=self.frames_per_chunk,
                                seed=seed)
        self.reverb = PartitionedReverb(room_impulse_response(reverb, self.sample_rate), self.hop)
        self.latency_samples = self.synth.latency_samples
        self._defaults = _shipped_defaults()
        self._noise_rngs = [np.random.Generator(np.random.PCG64([int(seed), v])) for v in range(V)]
        # voice state
        self.sounding = np.zeros(V, bool)
        self.pitch = np.zeros(V, np.int64)
        self.held = np.full(V, PITCH_CENTER)
        self.onset = np.zeros(V, np.int64)
        self.velocity = np.zeros(V)
        self.rest_before = np.full(V, _MAX_TIME_S)
        self.last_sound = np.full(V, -1, np.int64)
        self.expressions = np.zeros((V, len(EXPRESSION_NAMES)), np.float32)
        self.sustained = np.zeros(V, bool)
        self.release_pending = np.zeros(V, bool)   # note-off in the note's first frame
        self.keys: list[int] = []   # mono mode: held keys, newest last
        # controllers
        self.bend_semitones = 0.0
        self.bend_range = DEFAULT_BEND_RANGE
        self._rpn = [127, 127]
        self.cc = {7: 127, 11: 127, 1: 0, 64: 0}
        # time and buffers
        self.frame = 0
        self.samples_out = 0
        self._events: list = []
        self._seq = 0
        F = self.frames_per_chunk
        self._feats = np.zeros((V, F, 14), np.float32)
        self._expr = np.zeros((V, F, len(EXPRESSION_NAMES)), np.float32)
        self._held_f = np.zeros((V, F))
        self._bend = np.zeros(F)
        self._gain = np.ones(F)
        self._fifo = np.zeros(F * self.hop + self.block_size, np.float32)
        self._fifo_len = 0
        self.record = record
        self.output_gain = float(10.0 ** (float(gain_db) / 20.0))
        self.played_notes: list[list[dict]] = [[] for _ in range(V)]

    # -----------------------------------------------------------------------------------------
    # events
    def _schedule(self, offset: int, kind: str, *args) -> None:
        if isinstance(offset, bool) or not isinstance(offset, (int, np.integer)) or offset < 0:
            raise ParameterError(f"offset must be an int >= 0 (samples); got {offset!r}")
        # the control frame nearest the event's time, as note_frame_span rounds a note's onset
        # and offset; never one already rendered
        frame = max(self.frame, (self.samples_out + int(offset) + self.hop // 2) // self.hop)
        heapq.heappush(self._events, (frame, self._seq, kind, args))
        self._seq += 1

    def note_on(self, pitch: int, velocity: int = 100, *, offset: int = 0,
                expressions: "dict | None" = None) -> None:
        """Start a note ``offset`` samples into the next block; ``expressions`` overrides some of
        the six (names of ``EXPRESSION_NAMES``, values 0..1). Velocity 0 is a note-off."""
        if not _is_midi_value(pitch) or not _is_midi_value(velocity):
            raise ParameterError(f"pitch and velocity must be whole numbers 0..127; got {pitch!r}, "
                                 f"{velocity!r}")
        unknown = set(expressions or {}) - set(EXPRESSION_NAMES)
        if unknown:
            raise ParameterError(f"unknown expressions {sorted(unknown)}; expected "
                                 f"{', '.join(EXPRESSION_NAMES)}")
        if int(velocity) == 0:
            self.note_off(pitch, offset=offset)
            return
        self._schedule(offset, "on", int(pitch), int(velocity), dict(expressions or {}))

    def note_off(self, pitch: int, *, offset: int = 0) -> None:
        """Release ``pitch`` (held on while the sustain pedal is down)."""
        if not _is_midi_value(pitch):
            raise ParameterError(f"pitch must be a whole number 0..127; got {pitch!r}")
        self._schedule(offset, "off", int(pitch))

    def control_change(self, number: int, value: int, *, offset: int = 0) -> None:
        """CC7 volume, CC11 expression, CC1 mod wheel, CC64 sustain, RPN 0 (bend range), CC120
        all sound off (at once), CC123 all notes off (the pedal still holds); others are
        ignored."""
        if not _is_midi_value(number) or not _is_midi_value(value):
            raise ParameterError(f"controller and value must be whole numbers 0..127; got "
                                 f"{number!r}, {value!r}")
        self._schedule(offset, "cc", int(number), int(value))

    def pitch_bend(self, value: int, *, offset: int = 0) -> None:
        """14-bit bend, -8192..8191 (0 = centre), times the bend range (default 2 semitones)."""
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                or not -8192 <= int(value) <= 8191:
            raise ParameterError(f"pitch bend must be a whole number -8192..8191; got {value!r}")
        self._schedule(offset, "bend", int(value))

    def midi(self, message: "bytes | Sequence[int]", *, offset: int = 0,
             channel: "int | None" = None) -> bool:
        """Apply one raw MIDI message (note on/off, control change, pitch bend; others are
        ignored); ``channel`` (0..15) keeps only that channel. Returns whether it was used."""
        data = bytes(message)
        if len(data) < 2 or data[0] < 0x80 or (channel is not None and data[0] & 0x0F != channel):
            return False
        status = data[0] & 0xF0
        if len(data) >= 3 and (data[1] | data[2]) & 0x80:   # a malformed message: data bytes < 128
            return False
        if status in (0x80, 0x90) and len(data) >= 3:
            if status == 0x90 and data[2] > 0:
                self.note_on(data[1], data[2], offset=offset)
            else:
                self.note_off(data[1], offset=offset)
        elif status == 0xB0 and len(data) >= 3:
            self.control_change(data[1], data[2], offset=offset)
        elif status == 0xE0 and len(data) >= 3:
            self.pitch_bend(((data[2] & 0x7F) << 7 | (data[1] & 0x7F)) - 8192, offset=offset)
        else:
            return False
        return True

    def set_instrument(self, instrument: InstrumentSpec) -> None:
        """Change the instrument (or blend) from the next frame."""
        self.weights = instrument_weights(instrument)
        self.instrument = instrument

    # -----------------------------------------------------------------------------------------
    def _start(self, v: int, pitch: int, velocity: int, given: dict) -> None:
        t = self.frame
        if self.sounding[v]:
            self._end(v)
        last = self.last_sound[v]
        self.rest_before[v] = (t - last - 1) / self.frame_rate if last >= 0 else _MAX_TIME_S
        values = default_expressions(self.instrument, velocity, table=self._defaults)
        for name, value in given.items():
            values[EXPRESSION_NAMES.index(name)] = float(np.clip(value, 0.0, 1.0))
        self.sounding[v], self.pitch[v], self.held[v] = True, pitch, float(pitch)
        self.onset[v], self.velocity[v], self.sustained[v] = t, velocity, False
        self.release_pending[v] = False
        self.expressions[v] = values
        if self.record:
            self.played_notes[v].append({"pitch": pitch, "velocity": velocity, "onset_frame": t,
                                         "offset_frame": None, "expressions": values.copy()})

    def _end(self, v: int) -> None:
        """The voice's note ends at the current frame; a note cut in its first frame never
        sounded (as offline, where the next note hides it)."""
        never_sounded = self.onset[v] == self.frame
        self.sounding[v], self.sustained[v], self.release_pending[v] = False, False, False
        if not never_sounded:
            self.last_sound[v] = self.frame - 1
        if self.record and self.played_notes[v]:
            if never_sounded:
                self.played_notes[v].pop()
            else:
                self.played_notes[v][-1]["offset_frame"] = self.frame

    def _release(self, v: int) -> None:
        """A note-off for voice v: held by the pedal, one frame late for a note struck this
        frame (every note sounds for a frame at least), else the note ends now."""
        if self.onset[v] == self.frame:
            self.release_pending[v] = True
        elif self.cc[64] >= 64:
            self.sustained[v] = True
        else:
            self._end(v)

    def _apply(self, kind: str, args: tuple) -> None:
        if kind == "on":
            pitch, velocity, given = args
            if self.mode == "mono":
                self.keys = [k for k in self.keys if k != pitch] + [pitch]
                self._start(0, pitch, velocity, given)
                return
            same = np.flatnonzero(self.sounding & (self.pitch == pitch))
            free = np.flatnonzero(~self.sounding)
            if same.size:
                v = int(same[0])
            elif free.size:
                v = int(free[np.argmin(self.last_sound[free])])   # longest silent (never: -1)
            else:
                v = int(np.argmin(self.onset))                     # steal the oldest note
            self._start(v, pitch, velocity, given)
        elif kind == "off":
            (pitch,) = args
            if self.mode == "mono":
                was_current = self.keys and self.keys[-1] == pitch
                self.keys = [k for k in self.keys if k != pitch]
                if not was_current or not self.sounding[0] or self.pitch[0] != pitch:
                    return
                if self.keys and not self.cc[64] >= 64:
                    self._start(0, self.keys[-1], int(self.velocity[0]), {})
                    return
            for v in np.flatnonzero(self.sounding & (self.pitch == pitch) & ~self.sustained):
                self._release(int(v))
        elif kind == "cc":
            number, value = args
            semis = bend_range_update(self._rpn, number, value, self.bend_range)
            if semis is not None:
                self.bend_range = semis
            if number == 120:      # all sound off: now
                for v in np.flatnonzero(self.sounding):
                    self._end(int(v))
                self.keys = []
            elif number == 123:    # all notes off: as note-offs (the pedal still holds)
                for v in np.flatnonzero(self.sounding & ~self.sustained):
                    self._release(int(v))
                self.keys = []
            self.cc[number] = value
            if number == 64 and value < 64:
                for v in np.flatnonzero(self.sustained):
                    self._end(int(v))
        elif kind == "bend":
            self.bend_semitones = args[0] / 8192.0 * self.bend_range

    # -----------------------------------------------------------------------------------------
    def _frame_rows(self, i: int) -> None:
        """Conditioning of every voice at the current frame into row i of the chunk buffers."""
        t, fr = self.frame, self.frame_rate
        on = self.sounding
        since = np.where(on, (t - self.onset) / fr, 0.0)
        released = np.where(self.last_sound >= 0, (t - self.last_sound - 1) / fr, _MAX_TIME_S)
        rows = self._feats[:, i]
        rows[:, 0] = (self.held - PITCH_CENTER) / PITCH_SCALE
        rows[:, 1] = on
        rows[:, 2] = on & (self.onset == t)
        rows[:, 3] = np.where(on, self.velocity / 127.0, 0.0)
        rows[:, 4] = np.where(on, 0.0, np.minimum(released, _MAX_TIME_S))
        rows[:, 5] = np.where(on, np.log(since + _LOG_OFFSET_S), 0.0)
        rows[:, 6] = np.minimum(since, _MAX_TIME_S)
        rows[:, 7] = np.where(on, np.minimum(self.rest_before, _MAX_TIME_S), 0.0)
        for j, rate in enumerate(_OSC_RATES_HZ):
            rows[:, 8 + 2 * j] = np.where(on, np.sin(2 * np.pi * rate * since), 0.0)
            rows[:, 9 + 2 * j] = np.where(on, np.cos(2 * np.pi * rate * since), 0.0)
        expr = self._expr[:, i]
        expr[:] = np.where(on[:, None], self.expressions, 0.0)
        if self.cc[1]:
            vib = EXPRESSION_NAMES.index("vibrato")
            expr[:, vib] = np.where(on, expr[:, vib] + self.cc[1] / 127.0 * MOD_WHEEL_VIBRATO, 0.0)
        self._held_f[:, i] = self.held
        self._bend[i] = self.bend_semitones
        self._gain[i] = 10.0 ** ((controller_gain_db(self.cc[7]) + controller_gain_db(self.cc[11]))
                                 / 20.0)

    def _render_chunk(self) -> None:
        F = self.frames_per_chunk
        for i in range(F):
            for v in np.flatnonzero(self.release_pending):   # note-offs of last frame's notes
                self.release_pending[v] = False
                self._release(int(v))
            while self._events and self._events[0][0] <= self.frame:
                _, _, kind, args = heapq.heappop(self._events)
                self._apply(kind, args)
            self._frame_rows(i)
            self.frame += 1
        noise = np.stack([rng.standard_normal((F, self.generator.n_noise), dtype=np.float32)
                          for rng in self._noise_rngs])
        out = self.generator.step(self._feats, self._expr, self.weights, noise)
        dev = out["f0_dev"].astype(np.float64)
        f0 = midi_to_hz(self._held_f + dev + self._bend[None])
        gain = self._gain[None, :]
        amps = 10.0 ** (out["amp_db"] / 20.0) * gain
        harmonic = amps[..., None] * out["harmonic_distribution"]
        noise_mags = 10.0 ** (out["noise_db"] / 20.0) * gain[..., None]
        voices = self.synth.render(f0.astype(np.float32), harmonic, noise_mags)
        mix = voices.sum(0) * self.output_gain
        start = self._fifo_len
        for i in range(F):
            self._fifo[start + i * self.hop:start + (i + 1) * self.hop] = \
                self.reverb.process(mix[i * self.hop:(i + 1) * self.hop])
        self._fifo_len += F * self.hop

    def process(self, n_samples: "int | None" = None) -> np.ndarray:
        """The next ``n_samples`` (default ``block_size``) of mono float32 audio."""
        n = self.block_size if n_samples is None else int(n_samples)
        if not 1 <= n <= self.block_size:
            raise ParameterError(f"process takes 1..{self.block_size} samples; got {n_samples}")
        while self._fifo_len < n:
            self._render_chunk()
        out = self._fifo[:n].copy()
        self._fifo[:self._fifo_len - n] = self._fifo[n:self._fifo_len]
        self._fifo_len -= n
        self.samples_out += n
        return out

    # -----------------------------------------------------------------------------------------
    def play(self, events: Iterable[Sequence], duration_s: float) -> np.ndarray:
        """Render timed events block by block (offline use of the live path).

        Args:
            events: ``(time_s, kind, *args)`` with kind ``"note_on"`` (pitch, velocity[,
                expressions dict]),
                ``"note_off"`` (pitch), ``"control_change"`` (number, value) or
                ``"pitch_bend"`` (value), in any order.
            duration_s: length of the output.

        Returns:
            float32 [round(duration_s * sample_rate)].
        """
        pending = sorted(events, key=lambda e: e[0])
        total = int(round(duration_s * self.sample_rate))
        pieces, done, k = [], 0, 0
        while done < total:
            n = min(self.block_size, total - done)
            while k < len(pending) and pending[k][0] * self.sample_rate < done + n:
                time_s, kind, *args = pending[k]
                offset = max(0, int(round(time_s * self.sample_rate)) - done)
                if kind == "note_on" and len(args) == 3:      # (pitch, velocity, expressions)
                    self.note_on(args[0], args[1], offset=offset, expressions=args[2])
                else:
                    getattr(self, kind)(*args, offset=offset)
                k += 1
            pieces.append(self.process(n))
            done += n
        return np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
