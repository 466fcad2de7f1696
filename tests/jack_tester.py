"""The tester client of ``tests/jack_session.py``, in its own process: sends timed MIDI to
``<client>:midi_in`` and records ``<client>:out``. ``python tests/jack_tester.py spec.json``
writes audio.npy and result.json (sent sample times, server-wide xruns while recording) into the
spec's ``out`` folder."""
import json
import sys
import time

import jack
import numpy as np


def main(spec_path: str) -> int:
    with open(spec_path) as f:
        spec = json.load(f)
    sr, period = spec["sample_rate"], spec["period"]
    n_total = int(spec["seconds"] * sr)
    recording = np.zeros(n_total + 4 * period, np.float32)
    pending = sorted((int(round(t * sr)), bytes(m)) for t, m in spec["events"])
    state = {"pos": -1, "xruns": 0, "sent": []}
    tester = jack.Client("tester", servername=spec["server"], no_start_server=True)
    midi_out = tester.midi_outports.register("midi_out")
    audio_in = tester.inports.register("in")

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
    tester.connect(midi_out, f"{spec['client']}:midi_in")
    tester.connect(f"{spec['client']}:out", audio_in)
    time.sleep(0.3)
    state["pos"] = 0
    while state["pos"] < n_total + 2 * period:
        time.sleep(0.02)
    tester.deactivate()
    tester.close()
    np.save(f"{spec['out']}/audio.npy", recording[:n_total])
    with open(f"{spec['out']}/result.json", "w") as f:
        json.dump({"sent": state["sent"], "xruns": state["xruns"]}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
