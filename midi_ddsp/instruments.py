"""The 13 instruments of MIDI-DDSP: names, aliases, General MIDI programs and playable ranges.

``Instrument.index`` is the row of the instrument embedding in every model, so the order of
``INSTRUMENTS`` is part of the checkpoint format: append, never reorder.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import re
from typing import Mapping, Union

import numpy as np

from midi_ddsp.errors import ParameterError

__all__ = [
    "Instrument",
    "INSTRUMENTS",
    "INSTRUMENT_NAMES",
    "get_instrument",
    "instrument_for_program",
    "InstrumentSpec",
    "ENSEMBLES",
    "instrument_weights",
]

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Instrument:
    """One instrument the models know.

    Attributes:
        name: canonical name, e.g. ``"double_bass"``.
        index: row of the instrument embedding (0..12).
        program: General MIDI program number (0-based, 0..127).
        lowest_midi: lowest playable pitch (MIDI note number, sounding).
        highest_midi: highest playable pitch (MIDI note number, sounding).
        family: ``"strings"``, ``"woodwinds"`` or ``"brass"``.
        aliases: other accepted names and abbreviations (lower case).
    """

    name: str
    index: int
    program: int
    lowest_midi: int
    highest_midi: int
    family: str
    aliases: tuple[str, ...] = ()

    def contains(self, pitch: int) -> bool:
        """Whether MIDI ``pitch`` lies inside the playable range."""
        return self.lowest_midi <= pitch <= self.highest_midi


def _make(rows) -> tuple[Instrument, ...]:
    return tuple(Instrument(name, i, prog, lo, hi, fam, tuple(al)) for i, (name, prog, lo, hi, fam, al)
                 in enumerate(rows))


# name, GM program, lowest, highest (sounding MIDI pitch), family, aliases
INSTRUMENTS: tuple[Instrument, ...] = _make([
    ("violin", 40, 55, 103, "strings", ["vn", "vln"]),
    ("viola", 41, 48, 91, "strings", ["va", "vla"]),
    ("cello", 42, 36, 81, "strings", ["vc", "vlc", "violoncello"]),
    ("double_bass", 43, 28, 67, "strings", ["db", "cb", "contrabass", "bass", "string_bass"]),
    ("flute", 73, 60, 96, "woodwinds", ["fl"]),
    ("oboe", 68, 58, 91, "woodwinds", ["ob"]),
    ("clarinet", 71, 50, 94, "woodwinds", ["cl", "bb_clarinet"]),
    ("saxophone", 66, 44, 80, "woodwinds", ["sax", "sx", "tenor_sax", "tenor_saxophone"]),
    ("bassoon", 70, 34, 75, "woodwinds", ["bn", "bsn", "fg", "fagotto"]),
    ("trumpet", 56, 54, 86, "brass", ["tpt", "tp", "trp"]),
    ("horn", 60, 34, 77, "brass", ["hn", "french_horn"]),
    ("trombone", 57, 40, 72, "brass", ["tbn", "tb"]),
    ("tuba", 58, 28, 65, "brass", ["tba"]),
])

INSTRUMENT_NAMES: tuple[str, ...] = tuple(inst.name for inst in INSTRUMENTS)

_BY_PROGRAM = {inst.program: inst for inst in INSTRUMENTS}
_BY_NAME: dict[str, Instrument] = {}
for _inst in INSTRUMENTS:
    for _key in (_inst.name, *_inst.aliases):
        _BY_NAME[_key] = _inst

# Nearby GM programs that map to the closest of the 13 instruments (with a warning).
_NEAREST_PROGRAM = {
    44: "violin",  # tremolo strings
    45: "violin",  # pizzicato strings
    48: "violin",  # string ensemble 1
    49: "violin",  # string ensemble 2
    50: "violin",  # synth strings 1
    51: "violin",  # synth strings 2
    59: "trumpet",  # muted trumpet
    61: "horn",  # brass section
    64: "saxophone",  # soprano sax
    65: "saxophone",  # alto sax
    67: "saxophone",  # baritone sax
    69: "oboe",  # english horn
    72: "flute",  # piccolo
    74: "flute",  # recorder
    75: "flute",  # pan flute
}


def _normalise(name: str) -> str:
    return re.sub(r"[\s\-\.]+", "_", name.strip().lower())


def get_instrument(name: "str | Instrument") -> Instrument:
    """Look up an instrument by canonical name or alias (case, spaces and hyphens ignored).

    Raises:
        ParameterError: unknown name; the message lists the known names.
    """
    if isinstance(name, Instrument):
        return name
    key = _normalise(str(name))
    if key in _BY_NAME:
        return _BY_NAME[key]
    raise ParameterError(
        f"unknown instrument {name!r}; known instruments: {', '.join(INSTRUMENT_NAMES)}"
    )


def instrument_for_program(program: int, *, warn: bool = True) -> "Instrument | None":
    """The instrument for a 0-based General MIDI program, or None when no model fits.

    Exact programs (e.g. 40 violin) map silently; nearby programs (e.g. 65 alto sax,
    48 string ensemble) map to the nearest instrument and log a warning when ``warn``.
    """
    if program in _BY_PROGRAM:
        return _BY_PROGRAM[program]
    if program in _NEAREST_PROGRAM:
        inst = _BY_NAME[_NEAREST_PROGRAM[program]]
        if warn:
            logger.warning("GM program %d has no model of its own; using %s", program, inst.name)
        return inst
    return None


InstrumentSpec = Union[str, Instrument, Mapping[str, float]]
"""A name/alias, an ``Instrument``, or a blend such as ``{"violin": 0.5, "flute": 0.5}``."""


def instrument_weights(instrument: InstrumentSpec) -> np.ndarray:
    """Blend weights over the 13 instrument embedding rows, float32 [13], summing to 1.

    Raises:
        ParameterError: unknown name, empty blend, negative or all-zero weights.
    """
    out = np.zeros(len(INSTRUMENTS), np.float32)
    if isinstance(instrument, (str, Instrument)):
        out[get_instrument(instrument).index] = 1.0
        return out
    if not isinstance(instrument, Mapping) or not instrument:
        raise ParameterError(
            "instrument must be a name, an Instrument or a non-empty mapping name -> weight; "
            f"got {instrument!r}")
    for name, weight in instrument.items():
        try:
            weight = float(weight)
        except (TypeError, ValueError):
            raise ParameterError(f"instrument blend weight for {name!r} must be a number; "
                                 f"got {weight!r}") from None
        if not math.isfinite(weight) or weight < 0:
            raise ParameterError(f"instrument blend weight for {name!r} must be finite and >= 0; "
                                 f"got {weight}")
        out[get_instrument(name).index] += weight
    total = float(out.sum())
    if total <= 0:
        raise ParameterError(f"instrument blend weights sum to 0: {dict(instrument)}")
    return out / total


#: Quartets (``synthesize_bach``, batch augmentation): instruments for soprano, alto, tenor, bass.
ENSEMBLES: dict[str, tuple[str, str, str, str]] = {
    "string_quartet": ("violin", "violin", "viola", "cello"),
    "woodwind_quartet": ("flute", "oboe", "clarinet", "bassoon"),
    "brass_quartet": ("trumpet", "horn", "trombone", "tuba"),
}
