"""Helpers the recording tests share: audio rendered here from notes."""
import pytest

from midi_ddsp.score import Note, Part


def fluidsynth_line(rows, *, program: int = 73, sample_rate: int = 16000):
    """A monophonic line of (pitch, onset_s, offset_s, velocity) rows rendered with FluidSynth
    (GM ``program``, default flute); skips the test when FluidSynth is unavailable.
    Returns ``(audio, notes)``."""
    from midi_ddsp.errors import InputFileError
    from midi_ddsp.fluidsynth_render import FluidSynthUnavailableError, render_parts_fluidsynth

    notes = [Note(p, a, b, v) for p, a, b, v in rows]
    try:
        audio = render_parts_fluidsynth([Part(notes=notes, program=program)],
                                        sample_rate=sample_rate)
    except (FluidSynthUnavailableError, InputFileError) as exc:
        pytest.skip(f"FluidSynth not available: {exc}")
    return audio, notes
