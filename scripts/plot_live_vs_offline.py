"""Listen to the live path: the solo example rendered offline (shipped generators, the default
pipeline) and through the streaming engine block by block (the causal model, playing the same
NoteTable's notes and expressions), as 25-ms loudness envelopes and spectrograms.

    .venv/bin/python scripts/plot_live_vs_offline.py [--out docs/live_vs_offline.png]

Prints the median level difference on notes (dB) and both integrated loudnesses.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from midi_ddsp import load_pretrained_model, synthesize_midi  # noqa: E402
from midi_ddsp.expression import EXPRESSION_NAMES  # noqa: E402
from midi_ddsp.loudness import integrated_loudness  # noqa: E402
from midi_ddsp.streaming import StreamingSynth  # noqa: E402


def _envelope_db(x: np.ndarray, n: int = 400) -> np.ndarray:
    k = len(x) // n
    return 10 * np.log10(np.mean(x[:k * n].reshape(k, n) ** 2, axis=1) + 1e-12)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--midi", default=str(REPO / "examples" / "solo_melody.mid"))
    parser.add_argument("--out", default=str(REPO / "docs" / "live_vs_offline.png"))
    parser.add_argument("--instrument", default="violin", help="the MIDI file's instrument")
    args = parser.parse_args(argv)
    result = synthesize_midi(args.midi, models=load_pretrained_model(),
                             instruments={"*": args.instrument})
    (name, table), = result.note_tables.items()
    offline = result.stems[name]
    events = []
    for row in table.itertuples():
        expressions = {k: float(getattr(row, k)) for k in EXPRESSION_NAMES}
        events.append((row.onset_s, "note_on", int(row.pitch), int(row.velocity), expressions))
        events.append((row.offset_s, "note_off", int(row.pitch)))
    engine = StreamingSynth(args.instrument, block_size=128)
    live = engine.play(events, len(offline) / result.sample_rate)[engine.latency_samples:]
    fig, ax = plt.subplots(3, 1, figsize=(12, 9))
    ax[0].plot(_envelope_db(offline), label="offline: shipped Synthesis Generator, mixed")
    ax[0].plot(_envelope_db(live), label="live: causal model, block 128, +18 dB", alpha=0.7)
    ax[0].set_ylabel("dB (25 ms RMS)")
    ax[0].set_xlabel("25-ms frames")
    ax[0].legend()
    for axis, audio, title in ((ax[1], offline, "offline"), (ax[2], live, "live (streaming engine)")):
        axis.specgram(audio, NFFT=1024, Fs=result.sample_rate, noverlap=768, vmin=-120)
        axis.set_title(title)
        axis.set_ylabel("Hz")
    plt.tight_layout()
    plt.savefig(args.out, dpi=70)
    a, b = _envelope_db(offline), _envelope_db(live[:len(offline)])
    on = a > a.max() - 40
    print(f"{len(table)} notes; live - offline on notes: median {np.median(b[:len(a)][on] - a[on]):+.1f} dB; "
          f"loudness offline {integrated_loudness(offline, sample_rate=result.sample_rate):.1f} LUFS, "
          f"live {integrated_loudness(live, sample_rate=engine.sample_rate):.1f} LUFS; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
