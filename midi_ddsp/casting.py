"""Casting: which instrument plays each part of a score, decided once, before anything is generated.

``cast_score(score, instruments, pitch_offset=, speed_rate=)`` resolves every part in one pass:

1. the user's ``instruments`` entry for the part (part name, then track name, then track number,
   then ``"*"`` for every pitched part), a name, an ``Instrument`` or a blend
   ``{"violin": 0.5, "flute": 0.5}`` (None: no model);
2. otherwise the instrument of the part's GM program (``score`` readers map programs);
3. the tempo factor and transposition, then range fitting: the part moves by whole octaves into
   the range of its instrument (of a blend's heaviest instrument).

No later layer looks an instrument up again: the pipeline reads ``CastPart.spec``.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import re
from typing import Any, Mapping, Sequence

from midi_ddsp.errors import ParameterError
from midi_ddsp.instruments import Instrument, get_instrument, instrument_weights
from midi_ddsp.score import Part, Score, fit_part_to_range

__all__ = [
    "ALL_PARTS",
    "CastPart",
    "cast_score",
    "instrument_spec",
    "instrument_from_text",
    "instrument_label",
    "dominant_instrument",
]

logger = logging.getLogger(__name__)

ALL_PARTS = "*"
"""``instruments`` key meaning every pitched part."""

_SUFFIXES = (re.compile(r"\s+v\d+$"),            # voice of a split track: "Piano v2"
             re.compile(r"\s+(\(track \d+\)|#\d+)$"))  # made unique: "Violin (track 2)", "X #2"


@dataclasses.dataclass(frozen=True)
class CastPart:
    """A part with the instrument that plays it.

    Attributes:
        part: the part as it will be played: tempo factor and ``pitch_offset`` applied, and for
            a model part fitted to the range of ``instrument`` (its ``instrument`` set).
        spec: the canonical instrument spec (a name, or a blend name -> weight summing to 1);
            None when no model plays the part (drums, programs without a model).
        semitones: the octave shift of range fitting (multiple of 12; 0 for non-model parts).
        index: the part's position in the score (stem order, per-part seeds).
    """

    part: Part
    spec: "str | dict | None"
    semitones: int
    index: int

    @property
    def instrument(self) -> "Instrument | None":
        """The instrument whose range the part was fitted to (a blend's heaviest)."""
        return None if self.spec is None else dominant_instrument(self.spec)


def instrument_spec(spec: Any) -> "str | dict":
    """Validate an instrument spec; returns its canonical, JSON-friendly form: a name, or a blend
    ``{name: weight}`` with weights summing to 1 (a one-instrument blend becomes its name).

    Raises:
        ParameterError: an unknown name, or not a name / ``Instrument`` / blend.
    """
    if isinstance(spec, Instrument):
        return spec.name
    if isinstance(spec, str):
        return get_instrument(spec).name
    if isinstance(spec, Mapping):
        instrument_weights(spec)  # validates names and weights
        total = float(sum(float(w) for w in spec.values()))
        blend: dict[str, float] = {}
        for name, weight in spec.items():
            canonical = get_instrument(name).name
            blend[canonical] = blend.get(canonical, 0.0) + float(weight) / total
        blend = {k: v for k, v in blend.items() if v > 0}
        return next(iter(blend)) if len(blend) == 1 else blend
    raise ParameterError(f"an instrument is a name, an Instrument or a blend such as "
                         f"{{'violin': 0.5, 'flute': 0.5}}; got {spec!r}")


def instrument_from_text(text: Any) -> "str | dict":
    """An instrument spec written as text, the way the command line and the studio take it: a
    name or alias (``"flute"``, ``"vn"``), or a blend ``"violin:0.5+flute:0.5"`` (a weight left
    out is 1; weights are normalised). A mapping or an ``Instrument`` passes through
    ``instrument_spec``. Returns the canonical spec.

    Raises:
        ParameterError: an unknown name, a weight that is not a number >= 0, or no positive weight.
    """
    if not isinstance(text, str):
        return instrument_spec(text)
    value = text.strip()
    if "+" not in value and ":" not in value:
        return instrument_spec(value)
    blend: dict[str, float] = {}
    for item in value.split("+"):
        name, colon, weight = item.partition(":")
        try:
            w = float(weight) if colon else 1.0
        except ValueError:
            raise ParameterError(f"instrument {text!r}: weight {weight.strip()!r} of "
                                 f"{name.strip()!r} is not a number") from None
        if not math.isfinite(w) or w < 0:
            raise ParameterError(f"instrument {text!r}: weights must be numbers >= 0")
        canonical = get_instrument(name.strip()).name
        blend[canonical] = blend.get(canonical, 0.0) + w
    if sum(blend.values()) <= 0:
        raise ParameterError(f"instrument {text!r}: a blend needs a positive weight")
    return instrument_spec(blend)


def dominant_instrument(spec: Any) -> Instrument:
    """The instrument a part is fitted to: the spec itself or the heaviest in a blend."""
    if isinstance(spec, Mapping):
        return get_instrument(max(spec.items(), key=lambda kv: kv[1])[0])
    return get_instrument(spec)


def instrument_label(spec: Any) -> str:
    """A short text for an instrument spec: ``"violin"`` or ``"violin 50% + flute 50%"``."""
    spec = instrument_spec(spec)
    if isinstance(spec, Mapping):
        return " + ".join(f"{name} {100 * w:.0f}%" for name, w in spec.items())
    return spec


def cast_score(score: Score, instruments: "Mapping[int | str, Any] | None" = None, *,
               pitch_offset: int = 0, speed_rate: float = 1.0) -> list[CastPart]:
    """Decide the instrument of every part of ``score`` and prepare the part to be played.

    Args:
        score: a loaded ``Score``.
        instruments: track number / part or track name (case-insensitive; ``"Piano"`` matches
            every voice of track "Piano", ``"Piano v2"`` only that voice) / ``"*"`` ->
            instrument name, ``Instrument``, blend, or None (no model). Parts not listed keep
            the instrument of their GM program.
        pitch_offset: semitones added to every pitched note, before range fitting.
        speed_rate: tempo factor (2.0 plays twice as fast), > 0.

    Returns:
        One ``CastPart`` per part of ``score``, in score order.

    Raises:
        ParameterError: a key that names no track or part, a bad key type, an unknown
            instrument, or a pitch offset that moves a note outside MIDI 0..127.
    """
    overrides = _parse_instruments(instruments)
    label = score.source or "<score>"
    _check_keys(overrides, score.parts, label)
    cast = []
    for index, part in enumerate(score.parts):
        part = _shift_part(part, semitones=int(pitch_offset), speed_rate=float(speed_rate),
                           label=label)
        spec = _override_for(part, overrides)
        if part.is_drum:
            if spec is not _NOT_LISTED:
                logger.warning("%s: part %r is a drum part; instrument override ignored",
                               label, part.name)
            cast.append(CastPart(part, None, 0, index))
            continue
        if spec is _NOT_LISTED:
            spec = None if part.instrument is None else part.instrument.name
        if spec is None:
            cast.append(CastPart(dataclasses.replace(part, instrument=None), None, 0, index))
            continue
        fitted, semitones = fit_part_to_range(part, dominant_instrument(spec))
        cast.append(CastPart(fitted, spec, int(semitones), index))
    return cast


class _NotListed:
    def __repr__(self) -> str:
        return "<not listed>"


_NOT_LISTED = _NotListed()


def _key(name: Any) -> str:
    return " ".join(str(name).lower().split())


def _name_keys(part: Part) -> list[str]:
    """The names an entry may use for ``part``: its own, its track's (voice suffix removed), and
    the track name before it was made unique."""
    keys = [_key(part.name)]
    for suffix in _SUFFIXES:
        stripped = suffix.sub("", keys[-1])
        if stripped != keys[-1]:
            keys.append(stripped)
    return keys


def _parse_instruments(instruments: "Mapping | None") -> dict:
    if instruments is None:
        return {}
    if not isinstance(instruments, Mapping):
        raise ParameterError("instruments must map track numbers / part names (or '*') to "
                             f"instruments, e.g. {{0: 'violin', 'Alto': 'flute'}}; got {instruments!r}")
    out = {}
    for key, spec in instruments.items():
        if isinstance(key, bool) or not isinstance(key, (int, str)):
            raise ParameterError(f"instruments: keys must be track numbers (int) or part names "
                                 f"(str), got {key!r}")
        out[key] = None if spec is None else instrument_spec(spec)
    return out


def _check_keys(overrides: dict, parts: Sequence[Part], label: str) -> None:
    tracks = {p.track for p in parts}
    names = {k for p in parts for k in _name_keys(p)}
    listing = ", ".join(f"{p.track} {p.name!r}" for p in parts)
    for key in overrides:
        if key == ALL_PARTS:
            continue
        if isinstance(key, int) and key not in tracks:
            raise ParameterError(f"instruments: {label} has no track {key} with notes; "
                                 f"parts: {listing}")
        if isinstance(key, str) and _key(key) not in names:
            raise ParameterError(f"instruments: {label} has no track or part named {key!r}; "
                                 f"parts: {listing}")


def _override_for(part: Part, overrides: dict) -> Any:
    """The entry for a part: by part name, track name, track number, then '*'."""
    for wanted in _name_keys(part):
        for key, spec in overrides.items():
            if isinstance(key, str) and key != ALL_PARTS and _key(key) == wanted:
                return spec
    if part.track in overrides:
        return overrides[part.track]
    if ALL_PARTS in overrides and not part.is_drum:
        return overrides[ALL_PARTS]
    return _NOT_LISTED


def _shift_part(part: Part, *, semitones: int, speed_rate: float, label: str) -> Part:
    """The part with ``semitones`` added to its pitched notes and its times divided by
    ``speed_rate`` (controls too)."""
    if semitones == 0 and speed_rate == 1.0:
        return part
    notes = []
    for n in part.notes:
        pitch = n.pitch + (0 if part.is_drum else semitones)
        if not 0 <= pitch <= 127:
            raise ParameterError(f"{label}: pitch_offset {semitones:+d} moves note {n.pitch} of part "
                                 f"{part.name!r} outside MIDI 0..127")
        notes.append(dataclasses.replace(n, pitch=pitch, onset_s=n.onset_s / speed_rate,
                                         offset_s=n.offset_s / speed_rate))   # keeps the marks
    controls = part.controls.scaled(speed_rate) if part.controls is not None else None
    return dataclasses.replace(part, notes=notes, controls=controls)
