"""midi_ddsp: expressive MIDI-to-audio synthesis with hierarchical differentiable DSP."""
from midi_ddsp.config import DEFAULT_SIGNAL_CONFIG, SignalConfig
from midi_ddsp.errors import CheckpointError, InputFileError, MidiDDSPError, ParameterError
from midi_ddsp.instruments import INSTRUMENTS, Instrument, get_instrument
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

__all__ = [
    "DEFAULT_SIGNAL_CONFIG",
    "SignalConfig",
    "CheckpointError",
    "InputFileError",
    "MidiDDSPError",
    "ParameterError",
    "INSTRUMENTS",
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
]

__version__ = "0.1.0"
