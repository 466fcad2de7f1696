"""A JACK client around ``StreamingSynth``: MIDI in, mono audio out (``midi_ddsp_live``).

The JACK process callback hands each period's MIDI events (with their sample offsets) to the
engine and writes ``engine.process(period)`` to the output port. The engine's look-ahead
(``latency_samples``) is printed at start (JACK-Client has no port-latency API to report it to
the server). xruns are counted. Needs the JACK-Client package and a running JACK server (Debian: ``jackd2``).
"""
from __future__ import annotations

import time

import numpy as np

from midi_ddsp.errors import ParameterError
from midi_ddsp.streaming.engine import StreamingSynth

__all__ = ["JackInstrument"]


class JackInstrument:
    """A StreamingSynth playing as a JACK client.

    Args:
        engine_options: keyword arguments of ``StreamingSynth`` (instrument, max_voices, mode,
            reverb, seed, model); sample rate and block size come from the server (the engine
            processes each period in pieces of at most ``block_size`` samples when given).
        name: the client's name; its ports are ``<name>:midi_in`` and ``<name>:out``.
        server: JACK server name (None: the default server).
        channel: MIDI channel 0..15 to listen to (None: all).
    """

    def __init__(self, *, name: str = "midi_ddsp", server: "str | None" = None,
                 channel: "int | None" = None, block_size: "int | None" = None,
                 **engine_options):
        import jack

        self.client = jack.Client(name, servername=server, no_start_server=True)
        period = int(self.client.blocksize)
        self.piece = min(int(block_size or period), period)
        if self.piece < 1:
            raise ParameterError(f"block size must be >= 1; got {block_size}")
        self.engine = StreamingSynth(sample_rate=int(self.client.samplerate),
                                     block_size=self.piece, **engine_options)
        self.channel = channel
        self.midi_in = self.client.midi_inports.register("midi_in")
        self.out = self.client.outports.register("out")
        self.xruns = 0
        self.xrun_periods: list[int] = []
        self.busy_s = np.zeros(4096)   # callback durations of the last 4096 periods (s)
        self.periods = 0
        self.failed: "BaseException | None" = None
        self.client.set_process_callback(self._process)
        self.client.set_xrun_callback(self._xrun)

    @property
    def latency_samples(self) -> int:
        """Algorithmic latency: the engine's control look-ahead (buffering is JACK's period)."""
        return int(self.engine.latency_samples)

    def _xrun(self, _delay_usecs) -> None:
        self.xruns += 1
        self.xrun_periods.append(self.periods)

    def _process(self, frames: int) -> None:
        began = time.perf_counter()
        out = self.out.get_array()
        try:
            events = list(self.midi_in.incoming_midi_events())
            done = 0
            while done < frames:
                n = min(self.piece, frames - done)
                for offset, data in events:
                    if done <= offset < done + n:
                        self.engine.midi(data, offset=offset - done, channel=self.channel)
                out[done:done + n] = self.engine.process(n)
                done += n
            self.busy_s[self.periods % self.busy_s.size] = time.perf_counter() - began
            self.periods += 1
        except Exception as exc:  # keep the server alive; report after the run
            out[:] = 0.0
            if self.failed is None:
                self.failed = exc

    def start(self) -> None:
        """Warm the engine up (first calls load code paths and fill caches), then activate."""
        for _ in range(8):
            self.engine.process(self.piece)
        self.client.activate()

    def connect(self, *, midi_from: "list[str] | None" = None,
                audio_to: "list[str] | None" = None) -> None:
        """Connect ``midi_from`` ports to ``midi_in`` and ``out`` to the ``audio_to`` ports."""
        for port in midi_from or []:
            self.client.connect(port, self.midi_in)
        for port in audio_to or []:
            self.client.connect(self.out, port)

    def stop(self) -> None:
        self.client.deactivate()
        self.client.close()
