"""midi_ddsp_live: play an instrument live as a JACK client (MIDI in, audio out).

The client registers <name>:midi_in and <name>:out on a running JACK server (sample rate 16000,
48000 or another multiple of 250 Hz; the period is the server's) and plays the causal Synthesis
Generator (checkpoints/causal_synthesis_generator.pt) through the streaming engine: polyphonic
by voice allocation (or --mode mono, legato), pitch bend (RPN bend range, default 2 semitones),
mod wheel (vibrato), CC7/CC11 (level) and the sustain pedal honoured. The engine's look-ahead
(one control frame, 4 ms at 16 kHz) is printed when the client is ready.

examples:
  jackd -d dummy -r 16000 -p 64 &
  midi_ddsp_live --instrument violin --voices 8 --midi-from a2j:keyboard --audio-to system:playback_1
  midi_ddsp_live --instrument flute:0.5+oboe:0.5 --mode mono

Exit status: 0 after a clean stop (Ctrl-C or --duration), 2 on a bad argument or when no JACK
server runs; each problem is one line "error: ..." on stderr.
"""
from __future__ import annotations

import argparse
import gc
import signal
import sys
import threading
import time
from typing import Sequence

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="midi_ddsp_live", description=__doc__.split("\n\n")[0],
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instrument", default="violin",
                        help="instrument name or alias, or a blend violin:0.5+flute:0.5 "
                             "(default violin)")
    parser.add_argument("--voices", type=int, default=8, help="polyphony (default 8)")
    parser.add_argument("--mode", choices=("poly", "mono"), default="poly",
                        help="poly: a voice per note; mono: one legato voice (default poly)")
    parser.add_argument("--block-size", "--block_size", type=int, default=None, metavar="N",
                        help="samples the engine renders at a time (default: the JACK period)")
    parser.add_argument("--reverb", choices=("dry", "room", "hall"), default="room",
                        help="room (default room)")
    parser.add_argument("--channel", type=int, default=None, metavar="1-16",
                        help="MIDI channel to play (default: all)")
    parser.add_argument("--name", default="midi_ddsp", help="JACK client name (default midi_ddsp)")
    parser.add_argument("--server", default=None, help="JACK server name (default: the default)")
    parser.add_argument("--midi-from", "--midi_from", action="append", default=[], metavar="PORT",
                        help="connect this MIDI output port to midi_in (repeatable)")
    parser.add_argument("--audio-to", "--audio_to", action="append", default=[], metavar="PORT",
                        help="connect out to this audio input port (repeatable)")
    parser.add_argument("--model", default=None, metavar="PT",
                        help="a causal synthesis_generator checkpoint (default: the shipped one)")
    parser.add_argument("--gain-db", "--gain_db", type=float, default=18.0, metavar="DB",
                        help="output gain over the model's level (default 18: one voice at about "
                             "-23 LUFS)")
    parser.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    parser.add_argument("--duration", type=float, default=None, metavar="S",
                        help="stop after S seconds (default: run until Ctrl-C)")
    return parser


def main(argv: "Sequence[str] | None" = None) -> int:
    args = build_parser().parse_args(argv)
    if args.channel is not None and not 1 <= args.channel <= 16:
        print(f"midi_ddsp_live: error: --channel must be 1..16; got {args.channel}", file=sys.stderr)
        return 2
    if args.voices < 1:
        print(f"midi_ddsp_live: error: --voices must be >= 1; got {args.voices}", file=sys.stderr)
        return 2
    try:
        import jack
    except (ImportError, OSError) as exc:
        print(f"midi_ddsp_live: error: JACK is not available ({exc}); install jackd2 and "
              "JACK-Client", file=sys.stderr)
        return 2
    from midi_ddsp.casting import instrument_from_text
    from midi_ddsp.errors import MidiDDSPError
    from midi_ddsp.streaming.jack_client import JackInstrument

    try:
        instrument = instrument_from_text(args.instrument)
        live = JackInstrument(name=args.name, server=args.server,
                              channel=None if args.channel is None else args.channel - 1,
                              block_size=args.block_size, instrument=instrument,
                              max_voices=args.voices, mode=args.mode, reverb=args.reverb,
                              seed=args.seed, model=args.model, gain_db=args.gain_db)
    except jack.JackError as exc:
        print(f"midi_ddsp_live: error: no JACK server to join ({exc})", file=sys.stderr)
        return 2
    except MidiDDSPError as exc:
        print(f"midi_ddsp_live: error: {exc}", file=sys.stderr)
        return 2
    from midi_ddsp.dsp.blocks import one_blas_thread

    with one_blas_thread():   # the synth's small products: no BLAS threads beside the callback
        return _play(live, args)


def _play(live, args) -> int:
    """Run the client until the duration, a signal or a failure; print its summary."""
    import jack

    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    live.start()
    try:
        live.connect(midi_from=args.midi_from, audio_to=args.audio_to)
    except jack.JackError as exc:
        live.stop()
        print(f"midi_ddsp_live: error: cannot connect ports ({exc})", file=sys.stderr)
        return 2
    import numpy as np

    engine = live.engine
    print(f"midi_ddsp_live: ready: {args.name}:midi_in -> {args.name}:out, "
          f"{engine.sample_rate} Hz, period {live.client.blocksize}, {engine.n_voices} voice(s), "
          f"look-ahead {1000 * live.latency_samples / engine.sample_rate:.1f} ms", flush=True)
    started = time.monotonic()
    gc.collect()
    gc.freeze()     # the audio path makes no reference cycles: no collector pauses in the callback
    gc.disable()
    while not stop.is_set():
        if args.duration is not None and time.monotonic() - started >= args.duration:
            break
        if live.failed is not None:
            break
        stop.wait(0.5)
    periods, xruns, failed = live.periods, live.xruns, live.failed
    period_ms = 1000 * live.client.blocksize / engine.sample_rate
    live.stop()
    where = f" (at periods {sorted(set(live.xrun_periods))[:12]})" if xruns else ""
    busy = live.busy_s[:max(1, min(periods, live.busy_s.size))] * 1000
    print(f"midi_ddsp_live: stopped after {periods} periods, xruns {xruns}{where}; callback "
          f"median {np.median(busy):.2f} ms, max {busy.max():.2f} ms of {period_ms:.1f} ms",
          flush=True)
    if failed is not None:
        print(f"midi_ddsp_live: error: the audio callback failed: {failed}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
