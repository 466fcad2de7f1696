"""Dataset augmentation for batch rendering, CocoChorales-style: per file, draw the instruments of
the parts, a tempo factor, onset timing jitter, the expression temperature and seed, a pitch
offset and a reverb preset.

Every draw is a function of ``(Augmentation, file key)`` alone (the key is the file's output name;
``seed`` changes all draws), and what was drawn is returned as plain ``synthesize_midi`` options
plus ``timing_jitter_ms`` / ``jitter_seed`` for ``jitter_onsets``. The batch renderer records them
in each file's metadata.json and manifest row, so a dataset can be rendered again file by file
from its manifest alone.
"""
from __future__ import annotations

import dataclasses
import hashlib
from typing import Sequence

import numpy as np

from midi_ddsp.dsp.rooms import reverb_preset
from midi_ddsp.errors import ParameterError
from midi_ddsp.instruments import ENSEMBLES, INSTRUMENTS
from midi_ddsp.score import Note, Score

__all__ = ["Augmentation", "jitter_onsets"]

_MIN_NOTE_S = 0.02   # jitter never shortens a note below this


def _pair(value, name: str, cast=float):
    if value is None:
        return None
    try:
        lo, hi = (cast(v) for v in value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a (low, high) pair, got {value!r}") from None
    if hi < lo:
        raise ParameterError(f"{name}: low must not exceed high, got {value!r}")
    return lo, hi


@dataclasses.dataclass(frozen=True)
class Augmentation:
    """What to draw per file. Fields left at their defaults draw nothing.

    Attributes:
        ensembles: names of ``ENSEMBLES`` (e.g. ``"string_quartet"``); one is drawn per file and
            its instruments go to the pitched parts in score order (soprano to bass; parts beyond
            its size get its last instrument).
        random_instruments: each pitched part draws one of the 13 instruments whose range holds
            most of its notes (CocoChorales' "random" ensembles). Not with ``ensembles``.
        speed_range: tempo factor drawn uniformly from (low, high) (``speed_rate``).
        timing_jitter_ms: standard deviation of a Gaussian onset shift per note (ms), clipped
            to 2 sigma.
        temperature_range: expression temperature drawn uniformly from (low, high).
        pitch_offset_range: whole semitones drawn uniformly from (low, high), inclusive.
        reverbs: reverb presets, one drawn per file.
        seed: base of every draw; the expression seed of each file is drawn from it too.
    """

    ensembles: tuple[str, ...] = ()
    random_instruments: bool = False
    speed_range: "tuple[float, float] | None" = None
    timing_jitter_ms: float = 0.0
    temperature_range: "tuple[float, float] | None" = None
    pitch_offset_range: "tuple[int, int] | None" = None
    reverbs: tuple[str, ...] = ()
    seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "ensembles", tuple(self.ensembles))
        object.__setattr__(self, "reverbs", tuple(reverb_preset(r).name for r in self.reverbs))
        for name in self.ensembles:
            if name not in ENSEMBLES:
                raise ParameterError(f"unknown ensemble {name!r}; choose from {', '.join(ENSEMBLES)}")
        if self.ensembles and self.random_instruments:
            raise ParameterError("give ensembles or random_instruments, not both")
        object.__setattr__(self, "speed_range", _pair(self.speed_range, "speed_range"))
        if self.speed_range is not None and self.speed_range[0] <= 0:
            raise ParameterError(f"speed_range must be > 0, got {self.speed_range}")
        object.__setattr__(self, "temperature_range",
                           _pair(self.temperature_range, "temperature_range"))
        if self.temperature_range is not None and self.temperature_range[0] < 0:
            raise ParameterError(f"temperature_range must be >= 0, got {self.temperature_range}")
        object.__setattr__(self, "pitch_offset_range",
                           _pair(self.pitch_offset_range, "pitch_offset_range", int))
        if not (np.isfinite(self.timing_jitter_ms) and self.timing_jitter_ms >= 0):
            raise ParameterError(f"timing_jitter_ms must be >= 0, got {self.timing_jitter_ms}")

    @property
    def active(self) -> bool:
        """Whether anything is drawn at all."""
        return self != Augmentation(seed=self.seed)

    def describe(self) -> dict:
        """JSON-friendly settings (for the run's records)."""
        return dataclasses.asdict(self)

    def draw(self, key: str, score: Score) -> dict:
        """The options of one file.

        Args:
            key: the file's stable name (its output folder name in a batch run).
            score: the loaded score (the instruments are drawn for its pitched parts).

        Returns:
            ``synthesize_midi`` options (``instruments`` keyed by part name, ``speed_rate``,
            ``temperature``, ``expression_seed``, ``pitch_offset``, ``reverb``: only those this
            augmentation draws) plus ``timing_jitter_ms`` and ``jitter_seed`` when jitter is on.
        """
        digest = hashlib.sha256(f"{self.seed}:{key}".encode()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
        out: dict = {"expression_seed": int(rng.integers(2 ** 31))}
        pitched = [p for p in score.parts if not p.is_drum]
        if self.ensembles:
            lineup = ENSEMBLES[self.ensembles[int(rng.integers(len(self.ensembles)))]]
            out["instruments"] = {p.name: lineup[min(k, len(lineup) - 1)]
                                  for k, p in enumerate(pitched)}
            out["ensemble"] = [name for name, members in ENSEMBLES.items() if members == lineup][0]
        elif self.random_instruments:
            out["instruments"] = {p.name: _random_instrument(p.notes, rng) for p in pitched}
        if self.speed_range is not None:
            out["speed_rate"] = round(float(rng.uniform(*self.speed_range)), 6)
        if self.temperature_range is not None:
            out["temperature"] = round(float(rng.uniform(*self.temperature_range)), 6)
        if self.pitch_offset_range is not None:
            lo, hi = self.pitch_offset_range
            out["pitch_offset"] = int(rng.integers(lo, hi + 1))
        if self.reverbs:
            out["reverb"] = self.reverbs[int(rng.integers(len(self.reverbs)))]
        if self.timing_jitter_ms > 0:
            out["timing_jitter_ms"] = float(self.timing_jitter_ms)
            out["jitter_seed"] = int(rng.integers(2 ** 31))
        return out


def _random_instrument(notes: Sequence[Note], rng: np.random.Generator) -> str:
    """One of the instruments whose range holds the most of ``notes`` (uniformly among them)."""
    pitches = np.array([n.pitch for n in notes])
    inside = np.array([np.sum((pitches >= i.lowest_midi) & (pitches <= i.highest_midi))
                       for i in INSTRUMENTS])
    best = np.flatnonzero(inside == inside.max())
    return INSTRUMENTS[int(best[rng.integers(len(best))])].name


def jitter_onsets(score: Score, *, timing_jitter_ms: float, jitter_seed: int) -> Score:
    """``score`` with every note of every part moved in time by a Gaussian shift
    (``timing_jitter_ms`` standard deviation, clipped to 2 sigma), lengths kept; a part stays
    monophonic (a note that would start before the previous one ends trims the previous one)
    and no note starts before 0. Deterministic in ``jitter_seed``; drum parts move too."""
    rng = np.random.default_rng(int(jitter_seed))
    sigma = float(timing_jitter_ms) / 1000.0
    parts = []
    for part in score.parts:
        shifts = np.clip(rng.normal(0.0, sigma, len(part.notes)), -2 * sigma, 2 * sigma)
        notes: list[Note] = []
        for note, shift in zip(part.notes, shifts):
            onset = max(0.0, note.onset_s + float(shift))
            offset = onset + note.duration_s
            if notes and not part.is_drum:
                prev = notes[-1]
                onset = max(onset, prev.onset_s + _MIN_NOTE_S)
                offset = max(offset, onset + _MIN_NOTE_S)
                if prev.offset_s > onset:
                    notes[-1] = dataclasses.replace(prev, offset_s=onset)
            notes.append(dataclasses.replace(note, onset_s=onset, offset_s=offset))
        if part.is_drum:
            notes.sort(key=lambda n: (n.onset_s, -n.pitch))
        parts.append(dataclasses.replace(part, notes=notes))
    return Score(parts=parts, source=score.source)
