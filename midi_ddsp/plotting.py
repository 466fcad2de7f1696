"""One PNG per rendered part: piano roll with the six note expressions, f0 and loudness.

matplotlib (Agg backend, no display needed) is imported only here.
"""
from __future__ import annotations

import os

import numpy as np
import pandas as pd

from midi_ddsp.dsp.units import amplitude_to_db, hz_to_midi
from midi_ddsp.errors import ParameterError
from midi_ddsp.synth_params import SynthParams

__all__ = ["plot_part"]

_AMP_FLOOR_DB = -100.0  # amplitude plotted in dB, floored here (silence)


def plot_part(note_table: pd.DataFrame, params: SynthParams, *, frame_rate: int = 250,
              title: str = "", path: "str | os.PathLike[str] | None" = None):
    """Plot one part: piano roll + f0 (top), the six expressions per note, loudness (bottom).

    Args:
        note_table: the part's NoteTable (``midi_ddsp.expression``).
        params: the part's SynthParams at ``frame_rate``.
        frame_rate: frames per second of ``params`` (Hz).
        title: figure title.
        path: where to save a PNG; the figure is closed after saving.

    Returns:
        The matplotlib Figure (None when saved to ``path``).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from midi_ddsp.expression import EXPRESSION_NAMES, validate_note_table

    if not isinstance(params, SynthParams):
        raise ParameterError(f"params: expected SynthParams, got {type(params).__name__}")
    table = validate_note_table(note_table)
    t_s = np.arange(params.n_frames) / float(frame_rate)
    f0 = params.f0_hz.astype(np.float64)
    amp_db = np.maximum(amplitude_to_db(params.amplitude), _AMP_FLOOR_DB)
    voiced = amp_db > _AMP_FLOOR_DB + 40.0
    f0_midi = np.where((f0 > 0) & voiced, hz_to_midi(f0), np.nan)

    fig, axes = plt.subplots(3, 1, figsize=(12, 8), sharex=True,
                             gridspec_kw={"height_ratios": [3, 2, 1.5]})
    roll, expr_ax, loud = axes
    for row in table.itertuples(index=False):
        roll.add_patch(matplotlib.patches.Rectangle(
            (row.onset_s, row.pitch - 0.4), row.offset_s - row.onset_s, 0.8,
            facecolor="tab:blue", alpha=0.35, edgecolor="tab:blue"))
    roll.plot(t_s, f0_midi, color="tab:red", linewidth=0.8, label="f0 (MIDI)")
    if len(table):
        lo, hi = float(table["pitch"].min()), float(table["pitch"].max())
        roll.set_ylim(lo - 3, hi + 3)
    roll.set_ylabel("pitch (MIDI)")
    roll.legend(loc="upper right", fontsize=8)
    roll.set_title(title)

    for name in EXPRESSION_NAMES:
        xs, ys = [], []
        for row in table.itertuples(index=False):
            xs += [row.onset_s, row.offset_s, np.nan]
            value = getattr(row, name)
            ys += [value, value, np.nan]
        expr_ax.plot(xs, ys, label=name, linewidth=1.5)
    expr_ax.set_ylabel("expression")
    expr_ax.legend(loc="upper right", fontsize=7, ncol=6)

    loud.plot(t_s, amp_db, color="black", linewidth=0.8)
    loud.set_ylabel("amplitude (dB)")
    loud.set_xlabel("time (s)")
    loud.set_ylim(max(_AMP_FLOOR_DB, float(np.min(amp_db)) - 3) if amp_db.size else _AMP_FLOOR_DB,
                  float(np.max(amp_db)) + 3 if amp_db.size else 0)
    if params.n_frames:
        loud.set_xlim(0, t_s[-1])
    fig.tight_layout()
    if path is None:
        return fig
    fig.savefig(os.fspath(path), dpi=80)
    plt.close(fig)
    return None
