"""Tests of midi_ddsp.plotting: the per-part PNG."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from midi_ddsp.errors import ParameterError
from midi_ddsp.expression import EXPRESSION_NAMES, note_table_from_notes
from midi_ddsp.plotting import plot_part
from midi_ddsp.score import Note
from midi_ddsp.synth_params import SynthParams


def _part():
    notes = [Note(60, 0.0, 0.4), Note(64, 0.4, 0.8), Note(67, 1.0, 1.2)]
    table = note_table_from_notes(notes, expressions={"vibrato": 0.3, "volume": 0.8})
    n = 350
    f0 = np.zeros(n, np.float32)
    f0[:100], f0[100:200], f0[250:300] = 261.63, 329.63, 392.0
    amp = np.where(f0 > 0, 0.1, 0.0).astype(np.float32)
    params = SynthParams(f0, amp, np.full((n, 60), 1 / 60), np.full((n, 65), 1e-3))
    return table, params


def test_figure_layout():
    import matplotlib.pyplot as plt

    table, params = _part()
    fig = plot_part(table, params, title="violin")
    roll, expressions, loudness = fig.axes
    assert len(roll.patches) == 3  # one rectangle per note
    assert roll.get_title() == "violin"
    assert [line.get_label() for line in expressions.get_lines()] == list(EXPRESSION_NAMES)
    f0_line = roll.get_lines()[0].get_ydata()
    assert np.nanmax(f0_line) == pytest.approx(67.0, abs=0.01)  # 392 Hz = MIDI 67
    assert np.isnan(f0_line[220])  # silent frames carry no f0
    assert loudness.get_lines()[0].get_ydata()[50] == pytest.approx(-20.0, abs=1e-3)  # 0.1 -> -20 dB
    plt.close(fig)


def test_png_written(tmp_path):
    table, params = _part()
    assert plot_part(table, params, path=tmp_path / "p.png") is None
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_params():
    table, _ = _part()
    with pytest.raises(ParameterError, match="SynthParams"):
        plot_part(table, {"f0_hz": []})
