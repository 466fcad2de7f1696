"""Brightness in the parameters is the brightness of the audio, also where harmonics would pass
the 8 kHz Nyquist (one ``get_controls`` for the SG output, the synth and the extractor)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from midi_ddsp.analysis import analyse_audio
from midi_ddsp.dsp.blocks import render_synth_params
from midi_ddsp.expression import extract_note_expressions, note_table_from_notes
from midi_ddsp.models import SynthesisGenerator, SynthesisGeneratorConfig, shipped_checkpoint_path
from midi_ddsp.score import Note
from midi_ddsp.synth_params import SynthParams

G6 = 91  # 1568 Hz: only harmonics 1..5 lie below 8 kHz
NOTES = [Note(G6, 0.1, 1.1, 100)]


def _brightness_params_and_audio(params: SynthParams) -> tuple[float, float]:
    """Brightness of the note from the SynthParams, and re-measured on the rendered audio."""
    from_params = float(extract_note_expressions(params, NOTES)["brightness"][0])
    audio = render_synth_params(params, seed=0)
    analysed = analyse_audio(audio, params.f0_hz)
    from_audio = float(extract_note_expressions(analysed, NOTES)["brightness"][0])
    return from_params, from_audio


def _mass_at_or_above_nyquist(params: SynthParams) -> float:
    k = np.arange(1, params.harmonic_distribution.shape[1] + 1)
    above = k[None, :] * params.f0_hz[:, None] >= 8000.0
    voiced = params.amplitude > 1e-3
    return float((params.harmonic_distribution * above)[voiced].sum(1).mean())


def test_hand_made_distribution_with_mass_above_nyquist():
    n = 300
    f0 = np.full(n, 440.0 * 2 ** ((G6 - 69) / 12))
    dist = np.full((n, 60), 1 / 60)  # 55 of 60 harmonics at or above 8 kHz
    amp = np.where((np.arange(n) >= 25) & (np.arange(n) < 275), 0.3, 0.0)
    params = SynthParams(f0, amp, dist, np.full((n, 65), 1e-5))
    from_params, from_audio = _brightness_params_and_audio(params)
    assert from_params == pytest.approx(5 * 3 / 60, abs=1e-4)  # centroid of 1..5 = 3
    assert from_audio == pytest.approx(from_params, abs=0.05)


def test_tiny_generator_at_brightness_one():
    torch.manual_seed(0)
    model = SynthesisGenerator(SynthesisGeneratorConfig.tiny()).eval()
    table = note_table_from_notes(NOTES, expressions={"brightness": 1.0})
    params = model.generate(table, "flute", seed=0)
    assert _mass_at_or_above_nyquist(params) < 1e-6
    np.testing.assert_allclose(params.harmonic_distribution.sum(1), 1.0, atol=1e-5)
    from_params, from_audio = _brightness_params_and_audio(params)
    assert from_audio == pytest.approx(from_params, abs=0.05)


def test_shipped_generator_flute_g6_at_brightness_one():
    path = shipped_checkpoint_path("synthesis_generator")
    if not path.exists():
        pytest.skip("no shipped Synthesis Generator")
    model = SynthesisGenerator.from_checkpoint(path)
    table = note_table_from_notes(NOTES, expressions={"brightness": 1.0})
    params = model.generate(table, "flute", seed=0)
    assert _mass_at_or_above_nyquist(params) < 1e-6
    from_params, from_audio = _brightness_params_and_audio(params)
    assert from_audio == pytest.approx(from_params, abs=0.05)
