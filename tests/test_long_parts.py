"""Long parts have no seams: one chunker per level (the Synthesis Generator's context-padded
chunks, the DDSP synthesizer's phase- and noise-continuous chunks), none in the pipeline."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from midi_ddsp.dsp.synthesizer import DEFAULT_CHUNK_FRAMES as SYNTH_CHUNK_FRAMES
from midi_ddsp.expression import note_table_from_notes
from midi_ddsp.models import SynthesisGenerator, SynthesisGeneratorConfig
from midi_ddsp.models.synthesis_generator import DEFAULT_CHUNK_FRAMES as SG_CHUNK_FRAMES
from midi_ddsp.score import Note
from midi_ddsp.synth_params import SynthParams
from midi_ddsp import MidiDDSP, generate_synth_params, render_audio

FRAME_RATE = 250
HOP = 64
LINE_S = 180.0  # a 3-minute legato line, no rest


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return MidiDDSP(expression_generator=None,
                    synthesis_generator=SynthesisGenerator(SynthesisGeneratorConfig.tiny()).eval())


def _legato_table():
    notes = [Note(60 + (i % 7), 0.5 * i, 0.5 * (i + 1), 90) for i in range(int(LINE_S / 0.5))]
    return note_table_from_notes(notes)


def _boundaries(n_frames: int) -> list[int]:
    """Frames where a chunker cuts or used to cut: the synthesizer's and the SG's chunks, the
    old 60 s generation segments and the old render segments (quietest frame 15 s before 60 s)."""
    cuts = set(range(SYNTH_CHUNK_FRAMES, n_frames, SYNTH_CHUNK_FRAMES))
    cuts |= set(range(SG_CHUNK_FRAMES, n_frames, SG_CHUNK_FRAMES))
    cuts |= set(range(60 * FRAME_RATE, n_frames, 60 * FRAME_RATE))
    cuts |= set(range(45 * FRAME_RATE, n_frames, 45 * FRAME_RATE))
    return sorted(cuts)


def _steps_at_and_away(audio: np.ndarray, frames: list[int], *, reach: int = 3):
    step = np.abs(np.diff(audio.astype(np.float64)))
    near = np.zeros(step.shape, bool)
    for f in frames:
        near[max(0, f * HOP - reach):f * HOP + reach] = True
    return step[near].max(), step[~near].max()


def test_generated_line_has_no_seams(model):
    table = _legato_table()
    params = generate_synth_params(table, "violin", models=model, seed=3)
    n_frames = params.n_frames
    assert n_frames > LINE_S * FRAME_RATE
    # one pass of the generator (a single chunk) is what the pipeline returns: nothing reseeded
    # or restarted at 60 s
    whole = model.synthesis_generator.generate(table, "violin", seed=3, n_frames=n_frames,
                                               chunk_frames=n_frames)
    for name in ("f0_hz", "amplitude", "harmonic_distribution", "noise_magnitudes"):
        np.testing.assert_allclose(getattr(params, name), getattr(whole, name), rtol=1e-4,
                                   atol=1e-6, err_msg=name)
    audio = render_audio(params, "violin", models=model, seed=3)
    assert audio.shape == (n_frames * HOP,) and np.all(np.isfinite(audio))
    at, away = _steps_at_and_away(audio, _boundaries(n_frames))
    assert at <= away


def test_continuous_tone_renders_without_seams(model):
    """A smooth tone (110 Hz sine + noise below 250 Hz): any restart of phase or noise at a cut
    would be a step far larger than the tone's own sample-to-sample steps."""
    n_frames = int(LINE_S * FRAME_RATE)
    dist = np.zeros((n_frames, 60), np.float32)
    dist[:, 0] = 1.0
    noise = np.zeros((n_frames, 65), np.float32)
    noise[:, :3] = 1.0
    params = SynthParams(np.full(n_frames, 110.0), np.full(n_frames, 0.1), dist, noise)
    audio = render_audio(params, "cello", models=model, seed=1, reverb="room")
    at, away = _steps_at_and_away(audio, _boundaries(n_frames))
    assert at <= away
    # and it is the same render as the synthesizer's in one chunk (dry, first 70 s)
    from midi_ddsp.dsp.synthesizer import DDSPSynthesizer

    n = 70 * FRAME_RATE
    dry = render_audio(params, "cello", models=model, seed=1, reverb=False)
    with torch.no_grad():
        one = DDSPSynthesizer()(params.f0_hz[None, :n], params.amplitude[None, :n],
                                params.harmonic_distribution[None, :n],
                                params.noise_magnitudes[None, :n], seed=1, chunk_frames=n)
    np.testing.assert_allclose(dry[:(n - 2) * HOP], one[0, :(n - 2) * HOP].numpy(), atol=1e-4)
