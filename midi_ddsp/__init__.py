"""midi_ddsp: expressive MIDI-to-audio synthesis with hierarchical differentiable DSP.

The Python API in one import (the model-backed names load lazily, on first use)::

    from midi_ddsp import synthesize_midi, rerender, write_result, load_pretrained_model
"""
import importlib
from midi_ddsp.config import DEFAULT_SIGNAL_CONFIG, SignalConfig
from midi_ddsp.errors import CheckpointError, InputFileError, MidiDDSPError, ParameterError
from midi_ddsp.instruments import ENSEMBLES, INSTRUMENTS, Instrument, get_instrument
from midi_ddsp.score import (
    Note,
    Part,
    Score,
    fit_part_to_range,
    load_score,
    require_pitched_parts,
    score_from_notes,
)
from midi_ddsp.synth_params import SynthParams

# name -> module; imported on first access so `import midi_ddsp` stays light (no torch)
_LAZY = {
    "MidiDDSP": "midi_ddsp.pretrained",
    "load_pretrained_model": "midi_ddsp.pretrained",
    "SynthesisResult": "midi_ddsp.results",
    "write_result": "midi_ddsp.results",
    "generate_note_table": "midi_ddsp.pipeline",
    "generate_synth_params": "midi_ddsp.pipeline",
    "render_audio": "midi_ddsp.pipeline",
    "synthesize_midi": "midi_ddsp.pipeline",
    "rerender": "midi_ddsp.editing",
    "synthesize_bach": "midi_ddsp.chorales",
    "cast_score": "midi_ddsp.casting",
    "instrument_label": "midi_ddsp.casting",
    "transfer_audio": "midi_ddsp.transfer",
    "transfer_file": "midi_ddsp.transfer",
    "transcribe": "midi_ddsp.transcription",
}

__all__ = [
    "DEFAULT_SIGNAL_CONFIG",
    "SignalConfig",
    "CheckpointError",
    "InputFileError",
    "MidiDDSPError",
    "ParameterError",
    "INSTRUMENTS",
    "ENSEMBLES",
    "Instrument",
    "get_instrument",
    "Note",
    "Part",
    "Score",
    "fit_part_to_range",
    "load_score",
    "require_pitched_parts",
    "score_from_notes",
    "SynthParams",
    *_LAZY,
]

__version__ = "0.1.0"


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'midi_ddsp' has no attribute {name!r}")
