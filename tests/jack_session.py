"""A real JACK session for tests and the streaming benchmark: a dummy-driver server, the
``midi_ddsp_live`` client as a subprocess, and an in-process tester client that sends timed
MIDI and records the instrument's output."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import tempfile
import uuid

import numpy as np


def jack_available() -> bool:
    try:
        import jack  # noqa: F401  (JACK-Client and libjack load)
    except (ImportError, OSError):
        return False
    return shutil.which("jackd") is not None


# real-time scheduling where the machine allows it (jackd carries on without it where not:
# measured here, 0.3 % late periods with it and 1 % without, at 4 ms periods under load)
JACKD = ["jackd", "-R", "-P", "70"]


class JackSession:
    """``with JackSession(rate, period) as s: s.play(events, seconds, live_args=[...])``."""

    def __init__(self, sample_rate: int = 16000, period: int = 64):
        self.sample_rate, self.period = sample_rate, period
        self.name = f"mdt{uuid.uuid4().hex[:8]}"
        self.server = None

    def __enter__(self) -> "JackSession":
        env = dict(os.environ, JACK_NO_AUDIO_RESERVATION="1")
        self.server = subprocess.Popen(
            [*JACKD, "-n", self.name, "-d", "dummy", "-r", str(self.sample_rate),
             "-p", str(self.period)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=env)
        import jack

        deadline = time.monotonic() + 10
        while True:
            try:
                probe = jack.Client("probe", servername=self.name, no_start_server=True)
                probe.close()
                return self
            except jack.JackError:
                if time.monotonic() > deadline or self.server.poll() is not None:
                    self.__exit__()
                    raise RuntimeError("jackd (dummy driver) did not start")
                time.sleep(0.1)

    def __exit__(self, *_exc) -> None:
        if self.server is not None:
            self.server.terminate()
            try:
                self.server.wait(5)
            except subprocess.TimeoutExpired:
                self.server.kill()

    def play(self, events, seconds: float, *, live_args=(), client: str = "ddsp") -> dict:
        """Start ``midi_ddsp_live``, send ``events`` ([(time_s, bytes)], times from the first
        recorded period) from a tester client and record ``seconds`` of its output. The tester
        runs in its own small Python process (``tests/jack_tester.py``), so nothing of the test
        process competes with its callback.

        Returns: ``audio`` (float32), the tester's ``sent`` sample times, ``xruns`` (server-wide,
        from 0.3 s after the ports were connected: connecting reorders the graph, which may
        drop a period), ``periods``, ``live_stdout`` and ``live_returncode``.
        """
        cmd = [sys.executable, "-m", "midi_ddsp.cli.live", "--server", self.name, "--name", client,
               "--duration", str(seconds + 30.0), *live_args]
        live = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        ready = live.stdout.readline()
        if "ready" not in ready:
            live.kill()
            raise RuntimeError(f"midi_ddsp_live did not start: {ready}{live.stdout.read()}")
        with tempfile.TemporaryDirectory() as tmp:
            spec = {"server": self.name, "client": client, "seconds": seconds,
                    "sample_rate": self.sample_rate, "period": self.period,
                    "events": [[t, list(m)] for t, m in events], "out": tmp}
            spec_path = os.path.join(tmp, "spec.json")
            with open(spec_path, "w") as f:
                json.dump(spec, f)
            tester = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__),
                                                                  "jack_tester.py"), spec_path],
                                    capture_output=True, text=True, timeout=seconds + 60)
            if tester.returncode != 0:
                live.kill()
                raise RuntimeError(f"jack tester failed: {tester.stdout}{tester.stderr}")
            audio = np.load(os.path.join(tmp, "audio.npy"))
            with open(os.path.join(tmp, "result.json")) as f:
                result = json.load(f)
        live.send_signal(2)
        out, _ = live.communicate(timeout=20)
        return {"audio": audio, "sent": result["sent"], "xruns": result["xruns"],
                "periods": int(seconds * self.sample_rate) // self.period,
                "live_stdout": ready + out, "live_returncode": live.returncode}
