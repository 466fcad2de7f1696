"""midi_ddsp_live on a real JACK server (dummy driver, 16 kHz, 64-sample periods): a second
client sends MIDI and records the output; the shipped causal model must play the note at its
pitch, follow the pitch bend, start within a few periods of the note-on and keep up (at most
15 % of the periods late under load, counted from 0.3 s after the ports are connected)."""
from __future__ import annotations

import numpy as np
import pytest

from midi_ddsp.audio_evaluation import pitch_metrics
from midi_ddsp.score import Note
from tests.jack_session import JackSession, jack_available

pytestmark = pytest.mark.skipif(not jack_available(), reason="needs jackd2 and JACK-Client "
                                                              "(make test installs both)")
SR, PERIOD = 16000, 64


def _first_sound(audio: np.ndarray, start: int, *, rel_db: float = -30.0) -> int:
    """First sample after ``start`` whose 2-ms envelope comes within ``rel_db`` of the peak."""
    env = np.sqrt(np.convolve(audio.astype(np.float64) ** 2, np.ones(32) / 32, mode="same"))
    level = env.max() * 10 ** (rel_db / 20)
    return start + int(np.argmax(env[start:] >= level))


def test_live_client_plays_pitch_bend_and_timing_without_xruns():
    events = [(0.5, [0x90, 69, 100]), (1.6, [0xE0, 0x7F, 0x7F]), (2.4, [0x80, 69, 0])]
    with JackSession(SR, PERIOD) as session:
        run = session.play(events, 3.0, live_args=["--instrument", "flute", "--voices", "2"])

    print(run["live_stdout"], "late periods while recording:", run["xruns"], "of", run["periods"])
    assert run["live_returncode"] == 0, run["live_stdout"]
    # it keeps up: a Python client at 4 ms periods on a shared 2-core machine misses some
    # periods under load (measured 0.1-10 % in the full suite; benchmarks/results/streaming.json
    # has the idle rate), an engine slower than real time would miss nearly all
    assert run["xruns"] <= 0.15 * run["periods"], run["live_stdout"]
    audio = run["audio"]
    on, bend, off = run["sent"]
    # the note sounds at A4, then 2 semitones up after the bend (bend range 2)
    before = pitch_metrics(audio, [Note(69, on / SR + 0.15, bend / SR, 100)], sample_rate=SR)
    after = pitch_metrics(audio, [Note(71, bend / SR + 0.1, off / SR, 100)], sample_rate=SR)
    assert before["raw_pitch_accuracy"] >= 0.95, before
    assert after["raw_pitch_accuracy"] >= 0.95, after
    # quiet before the note-on (the model's idle floor, -50 dB under the note at most); first
    # sound within a few periods of it
    assert np.abs(audio[:on]).max() < 3e-3 * np.abs(audio).max()
    latency_ms = 1000 * (_first_sound(audio, on) - on) / SR
    assert 0 <= latency_ms <= 40, latency_ms


def test_live_cli_bad_arguments_give_one_line(capsys):
    from midi_ddsp.cli.live import main

    assert main(["--channel", "17"]) == 2
    assert capsys.readouterr().err.strip().endswith("--channel must be 1..16; got 17")
    assert main(["--server", "no_such_server_here", "--duration", "0.1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("midi_ddsp_live: error: no JACK server to join")
    assert main(["--instrument", "kazoo", "--server", "no_such_server_here"]) == 2
    assert "kazoo" in capsys.readouterr().err
