"""A real JACK session for tests and the streaming benchmark: a dummy-driver server, the
``midi_ddsp_live`` client as a subprocess, and an in-process tester client that sends timed
MIDI and records the instrument's output."""
from __future__ import annotations

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
        import jack  # noqa: F401
    except (ImportError, OSError):
        return False
    return shutil.which("jackd") is not None


class JackSession:
    """``with JackSession(rate, period) as s: s.play(events, seconds, live_args=[...])``."""

    def __init__(self, sample_rate: int = 16000, period: int = 64):
        self.sample_rate, self.period = sample_rate, period
        self.name = f"mdt{uuid.uuid4().hex[:8]}"
        self.server = None

    def __enter__(self) -> "JackSession":
        env = dict(os.environ, JACK_NO_AUDIO_RESERVATION="1")
        self.log = tempfile.TemporaryFile("w+")
        self.server = subprocess.Popen(
            ["jackd", "-R", "-P", "70", "-n", self.name, "-d", "dummy", "-r", str(self.sample_rate),
             "-p", str(self.period)], stdout=self.log, stderr=subprocess.STDOUT, env=env)
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

    def late_clients(self) -> dict:
        """How often the server found each client not finished at the end of a period."""
        self.log.seek(0)
        counts: dict = {}
        for line in self.log:
            if "was not finished" in line:
                name = line.split("client = ")[1].split(" ")[0]
                counts[name] = counts.get(name, 0) + 1
        return counts

    def __exit__(self, *_exc) -> None:
        if self.server is not None:
            self.server.terminate()
            try:
                self.server.wait(5)
            except subprocess.TimeoutExpired:
                self.server.kill()

    def play(self, events, seconds: float, *, live_args=(), client: str = "ddsp") -> dict:
        """Start ``midi_ddsp_live``, send ``events`` ([(time_s, bytes)], times from the first
        recorded period) and record ``seconds`` of its output.

        Returns: ``audio`` (float32), the tester's ``sent`` sample times, ``xruns`` (server-wide,
        from 0.3 s after the ports were connected: connecting reorders the graph, which may
        drop a period), ``live_stdout`` and ``live_returncode``.
        """
        import jack

        cmd = [sys.executable, "-m", "midi_ddsp.cli.live", "--server", self.name, "--name", client,
               "--duration", str(seconds + 30.0), *live_args]
        live = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        ready = live.stdout.readline()
        if "ready" not in ready:
            live.kill()
            raise RuntimeError(f"midi_ddsp_live did not start: {ready}{live.stdout.read()}")
        tester = jack.Client("tester", servername=self.name, no_start_server=True)
        midi_out = tester.midi_outports.register("midi_out")
        audio_in = tester.inports.register("in")
        n_total = int(seconds * self.sample_rate)
        recording = np.zeros(n_total + 4 * self.period, np.float32)
        state = {"pos": -1, "xruns": 0, "sent": []}
        pending = sorted(((int(round(t * self.sample_rate)), bytes(m)) for t, m in events))

        def process(frames):
            midi_out.clear_buffer()
            pos = state["pos"]
            if pos < 0:
                return
            if pos < n_total:
                recording[pos:pos + frames] = audio_in.get_array()
            while pending and pending[0][0] < pos + frames:
                at, message = pending.pop(0)
                offset = max(0, at - pos)
                midi_out.write_midi_event(offset, message)
                state["sent"].append(pos + offset)
            state["pos"] = pos + frames

        def xrun(_delay):   # any client's, server-wide; counted once recording runs
            if state["pos"] >= 0:
                state["xruns"] += 1

        tester.set_process_callback(process)
        tester.set_xrun_callback(xrun)
        tester.activate()
        tester.connect(midi_out, f"{client}:midi_in")
        tester.connect(f"{client}:out", audio_in)
        time.sleep(0.3)
        state["pos"] = 0
        while state["pos"] < n_total + 2 * self.period:
            time.sleep(0.02)
        tester.deactivate()
        tester.close()
        live.send_signal(2)
        out, _ = live.communicate(timeout=20)
        return {"audio": recording[:n_total], "sent": state["sent"], "xruns": state["xruns"],
                "periods": n_total // self.period,
                "live_stdout": ready + out, "live_returncode": live.returncode}
