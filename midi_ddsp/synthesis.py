"""The synthesis pipeline and Python API: score -> NoteTables -> SynthParams -> stems -> mix.

Per pitched part::

    load_score -> pitch_offset / speed_rate -> fit_part_to_range
      -> ExpressionGenerator.generate        (NoteTable: the six expressions per note)
      -> SynthesisGenerator.generate         (SynthParams at 250 Hz)
      -> render_synth_params(..., reverb=the room preset)  -> stem

Parts without a model (other GM programs) and drum parts are rendered with FluidSynth when
``use_fluidsynth=True``, else skipped with a one-line warning. The stems are mixed with
``midi_ddsp.mixing.mix_stems``: by default to -23 LUFS with the true peak at most -1 dBTP, the
gain chosen once on the first render and reused by ``rerender`` so edits are heard as edits
(``normalize="peak"``: peak at -1 dBFS; ``"none"``: no gain); never clipping.

Editing: change a NoteTable or a part's SynthParams in a ``SynthesisResult`` and call
``rerender``; blends such as ``{"violin": 0.5, "flute": 0.5}`` work wherever an instrument goes.

Long parts are generated and rendered whole: the Synthesis Generator runs in context-padded chunks
and the DDSP synthesizer in phase- and noise-continuous chunks, both chunk-invariant, so memory
beyond the output itself and the part's SynthParams stays flat and a long part has no seams.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import math
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from midi_ddsp.dsp.effects import DEFAULT_REVERB, REVERB_PRESETS, reverb_preset
from midi_ddsp.errors import InputFileError, MidiDDSPError, ParameterError
from midi_ddsp.expression import DEFAULT_TEMPERATURE, check_temperature
from midi_ddsp.instruments import Instrument, get_instrument
from midi_ddsp.mixing import mix_stems, normalize_mode, write_wav
from midi_ddsp.score import Note, Part, Score, fit_part_to_range, load_score, require_pitched_parts
from midi_ddsp.synth_params import SynthParams

__all__ = [
    "ENSEMBLES",
    "MidiDDSP",
    "SynthesisResult",
    "load_pretrained_model",
    "synthesize_midi",
    "synthesize_bach",
    "generate_note_table",
    "generate_synth_params",
    "render_params",
    "rerender",
    "write_result",
    "instrument_label",
]

logger = logging.getLogger(__name__)

#: Quartets for ``synthesize_bach``: instruments for soprano, alto, tenor, bass.
ENSEMBLES: dict[str, tuple[str, str, str, str]] = {
    "string_quartet": ("violin", "violin", "viola", "cello"),
    "woodwind_quartet": ("flute", "oboe", "clarinet", "bassoon"),
    "brass_quartet": ("trumpet", "horn", "trombone", "tuba"),
}

_TAIL_S = 1.0            # rendered after the last note so releases and reverb decay
_ALL_PARTS = "*"         # instruments key meaning "every pitched part"
_RENDERER_MODEL = "midi_ddsp"
_RENDERER_FLUIDSYNTH = "fluidsynth"


# --------------------------------------------------------------------------------------------
# Models

@dataclasses.dataclass
class MidiDDSP:
    """The two generators that turn notes into synthesis parameters, loaded from checkpoints.

    Attributes:
        expression_generator: notes -> NoteTable (``midi_ddsp.models.ExpressionGenerator``).
        synthesis_generator: NoteTable -> SynthParams, and the reverb IR per instrument
            (``midi_ddsp.models.SynthesisGenerator``).
        checkpoints: kind -> ``{"path": ..., "id": "sha256:<12 hex>"}`` (empty for models built
            in memory).
    """

    expression_generator: Any
    synthesis_generator: Any
    checkpoints: dict = dataclasses.field(default_factory=dict)

    @property
    def frame_rate(self) -> int:
        """Frame rate (Hz) of the synthesis parameters."""
        return int(self.synthesis_generator.signal_config.frame_rate)

    @property
    def model_sample_rate(self) -> int:
        """Sample rate (Hz) the reverb IRs are given at."""
        return int(self.synthesis_generator.signal_config.sample_rate)


def _file_id(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()[:12]


_MODEL_CACHE: dict[tuple, MidiDDSP] = {}


def load_pretrained_model(*, expression_generator_path: "str | os.PathLike[str] | None" = None,
                          synthesis_generator_path: "str | os.PathLike[str] | None" = None
                          ) -> MidiDDSP:
    """Load the Expression and Synthesis Generators (shipped checkpoints by default).

    A path given for one model is used even when the shipped checkpoints are absent; the
    other comes from the shipped files. Loaded models are cached per (path, mtime), so calling
    this again is cheap.

    Args:
        expression_generator_path: an ``expression_generator`` checkpoint (.pt).
        synthesis_generator_path: a ``synthesis_generator`` checkpoint (.pt).

    Raises:
        CheckpointError: a file is missing, corrupt, of an unknown version or of the wrong kind
            (one line naming the file).
    """
    from midi_ddsp.models import load_model, shipped_checkpoint_path

    paths = {}
    for kind, given in (("expression_generator", expression_generator_path),
                        ("synthesis_generator", synthesis_generator_path)):
        paths[kind] = Path(given) if given is not None else shipped_checkpoint_path(kind)
    key = tuple((str(p.resolve()), p.stat().st_mtime if p.exists() else None) for p in paths.values())
    if key in _MODEL_CACHE:
        return _MODEL_CACHE[key]
    models = {kind: load_model(path, kind=kind) for kind, path in paths.items()}
    bundle = MidiDDSP(
        expression_generator=models["expression_generator"],
        synthesis_generator=models["synthesis_generator"],
        checkpoints={kind: {"path": str(path), "id": _file_id(path)} for kind, path in paths.items()},
    )
    _MODEL_CACHE[key] = bundle
    return bundle


def _model_or_default(model: "MidiDDSP | None") -> MidiDDSP:
    if model is None:
        return load_pretrained_model()
    if not isinstance(model, MidiDDSP):
        raise ParameterError(f"model must be a MidiDDSP (see load_pretrained_model), "
                             f"got {type(model).__name__}")
    return model


# --------------------------------------------------------------------------------------------
# Instruments

def _check_spec(spec: Any) -> Any:
    """Validate an instrument spec; returns a canonical, JSON-friendly form."""
    if isinstance(spec, Instrument):
        return spec.name
    if isinstance(spec, str):
        return get_instrument(spec).name
    if isinstance(spec, Mapping):
        from midi_ddsp.models import instrument_weights  # validates names and weights

        instrument_weights(spec)
        total = float(sum(float(w) for w in spec.values()))
        blend = {}
        for name, weight in spec.items():
            canonical = get_instrument(name).name
            blend[canonical] = blend.get(canonical, 0.0) + float(weight) / total
        blend = {k: v for k, v in blend.items() if v > 0}
        return next(iter(blend)) if len(blend) == 1 else blend
    raise ParameterError(f"an instrument is a name, an Instrument or a blend such as "
                         f"{{'violin': 0.5, 'flute': 0.5}}; got {spec!r}")


def _dominant(spec: Any) -> Instrument:
    """The instrument whose range a part is fitted to: the spec itself or the heaviest in a blend."""
    if isinstance(spec, Mapping):
        return get_instrument(max(spec.items(), key=lambda kv: kv[1])[0])
    return get_instrument(spec)


def instrument_label(spec: Any) -> str:
    """A short text for an instrument spec: ``"violin"`` or ``"violin 50% + flute 50%"``."""
    spec = _check_spec(spec)
    if isinstance(spec, Mapping):
        return " + ".join(f"{name} {100 * w:.0f}%" for name, w in spec.items())
    return spec


def _key(name: Any) -> str:
    return " ".join(str(name).lower().split())


_VOICE_SUFFIX = re.compile(r"\s+v\d+$")


def _spec_for_part(part: Part, instruments: Mapping) -> Any:
    """The instruments entry for a part (part name, track name, track number, then '*')."""
    full, base = _key(part.name), _VOICE_SUFFIX.sub("", _key(part.name))
    for wanted in (full, base):
        for key, spec in instruments.items():
            if isinstance(key, str) and key != _ALL_PARTS and _key(key) == wanted:
                return spec
    for key, spec in instruments.items():
        if isinstance(key, int) and not isinstance(key, bool) and key == part.track:
            return spec
    return instruments.get(_ALL_PARTS)


# --------------------------------------------------------------------------------------------
# Results

@dataclasses.dataclass
class SynthesisResult:
    """A rendered piece.

    Attributes:
        sample_rate: Hz.
        mix: the mixture, float32 [n_samples], levelled as ``metadata["settings"]["normalize"]``
            says (never clipping).
        stems: part name -> the part's audio as it sits in the mix (part gain, levelling gain
            and limiter gain applied), float32 [n_samples]; the stems sum to ``mix``.
        note_tables: part name -> NoteTable (pandas DataFrame, see ``midi_ddsp.expression``) of
            every part rendered by the models.
        synth_params: part name -> ``SynthParams`` of every part rendered by the models.
        metadata: JSON-friendly description: source, settings, per-part instrument, seed,
            transposition and renderer, skipped parts, checkpoint ids, timings, and under
            ``"mix"`` the levelling (``midi_ddsp.mixing.Mix.describe``: mode, gain and gain_db,
            loudness, peak and true peak, whether the limiter acted).
        limiter_gain: the limiter's gain per sample, float32 [n_samples], already applied to
            ``mix`` and ``stems``; None when the limiter did not act.
        controls: part name -> the part's MIDI performance controls (pitch bend, CC7/CC11,
            CC1; ``midi_ddsp.midi_controls``), applied again when ``rerender`` regenerates it.
    """

    sample_rate: int
    mix: np.ndarray
    stems: dict[str, np.ndarray]
    note_tables: dict[str, pd.DataFrame]
    synth_params: dict[str, SynthParams]
    metadata: dict
    limiter_gain: "np.ndarray | None" = None
    controls: dict = dataclasses.field(default_factory=dict)

    @property
    def part_names(self) -> list[str]:
        """Names of the rendered parts, in score order."""
        return list(self.stems)

    @property
    def duration_s(self) -> float:
        return self.mix.shape[0] / self.sample_rate

    def part_info(self, name: str) -> dict:
        """The metadata entry of part ``name``."""
        for entry in self.metadata["parts"]:
            if entry["name"] == name:
                return entry
        raise ParameterError(f"no rendered part named {name!r}; parts: {', '.join(self.part_names)}")


# --------------------------------------------------------------------------------------------
# One part: notes -> NoteTable -> SynthParams -> audio

def generate_note_table(notes: Sequence[Note], instrument: Any, *, model: "MidiDDSP | None" = None,
                        seed: "int | None" = 0,
                        temperature: float = DEFAULT_TEMPERATURE) -> pd.DataFrame:
    """The Expression Generator's NoteTable for the notes of one monophonic part.

    Args:
        notes: ``Note`` objects sorted by onset, not overlapping.
        instrument: name, ``Instrument`` or blend ``{"violin": 0.5, "flute": 0.5}``.
        model: the models (default ``load_pretrained_model()``).
        seed: sampling seed; None = the generator's deterministic (most likely) expressions.
        temperature: spread of the sampling (0 = the most likely expressions, 1 = the model's
            full predicted spread; default ``DEFAULT_TEMPERATURE``).
    """
    model = _model_or_default(model)
    spec = _check_spec(instrument)
    return model.expression_generator.generate(list(notes), spec, seed=seed,
                                               temperature=temperature)


def generate_synth_params(note_table: pd.DataFrame, instrument: Any, *,
                          model: "MidiDDSP | None" = None, seed: int = 0,
                          n_frames: "int | None" = None) -> SynthParams:
    """The Synthesis Generator's SynthParams for a NoteTable (one part).

    Args:
        note_table: a NoteTable (validated with ``midi_ddsp.expression.validate_note_table``).
        instrument: name, ``Instrument`` or blend.
        model: the models (default ``load_pretrained_model()``).
        seed: noise seed of the generator (same seed -> same output).
        n_frames: length in frames; default up to the last offset plus a 1 s tail.

    Returns:
        ``SynthParams`` with ``n_frames`` frames at ``model.frame_rate``. The whole part is one
        call of ``SynthesisGenerator.generate`` (its context-padded chunks bound memory and join
        without seams).
    """
    from midi_ddsp.expression import validate_note_table

    model = _model_or_default(model)
    spec = _check_spec(instrument)
    table = validate_note_table(note_table)
    frame_rate = model.frame_rate
    if n_frames is None:
        end_s = float(table["offset_s"].max()) if len(table) else 0.0
        n_frames = int(math.ceil((end_s + _TAIL_S) * frame_rate))
    n_frames = int(n_frames)
    if n_frames <= 0:
        raise ParameterError(f"n_frames must be positive, got {n_frames}")
    return model.synthesis_generator.generate(table, spec, seed=seed, n_frames=n_frames)


def render_params(params: SynthParams, instrument: Any, *, model: "MidiDDSP | None" = None,
                  sample_rate: int = 16000, seed: int = 0, reverb: Any = True) -> np.ndarray:
    """Render SynthParams through the DDSP layers and a reverb.

    Args:
        params: the part's synthesis parameters (edit a ``.copy()`` of a result's).
        instrument: name, ``Instrument`` or blend (validated; every instrument gets the same room).
        model: the models (frame rate, model rate; default ``load_pretrained_model()``).
        sample_rate: output rate in Hz; any rate sounds the same below 8 kHz.
        seed: noise seed.
        reverb: a parametric room: ``"room"`` (modest room, RT60 0.8 s, wet -23 dB), ``"hall"``
            (RT60 2.2 s, wet -15 dB) or ``"dry"``; True = ``"room"`` (the default), False =
            ``"dry"``. See ``midi_ddsp.dsp.effects.room_impulse_response``.

    Returns:
        audio, float32 [n_frames * sample_rate / frame_rate], rendered in one pass (the
        synthesizer's own chunks keep memory flat and join without seams).
    """
    from midi_ddsp.dsp.effects import reverb_preset
    from midi_ddsp.dsp.synthesizer import render_synth_params

    if not isinstance(params, SynthParams):
        raise ParameterError(f"params: expected SynthParams, got {type(params).__name__}")
    room = reverb_preset(reverb)
    model = _model_or_default(model)
    spec = _check_spec(instrument)
    # the full impulse response at the model rate: tap 0 = the dry path, then the room's tail
    ir = None if room.wet_db is None else model.synthesis_generator.impulse_response(spec,
                                                                                    reverb=room)
    return render_synth_params(params, sample_rate=int(sample_rate), impulse_response=ir,
                               ir_sample_rate=model.model_sample_rate, seed=int(seed),
                               frame_rate=model.frame_rate,
                               model_sample_rate=model.model_sample_rate)


# --------------------------------------------------------------------------------------------
# Whole pieces

def _parse_instruments(instruments: "Mapping | None") -> dict:
    if instruments is None:
        return {}
    if not isinstance(instruments, Mapping):
        raise ParameterError("instruments must map track numbers / part names (or '*') to "
                             f"instruments, e.g. {{0: 'violin', 'Alto': 'flute'}}; got {instruments!r}")
    out = {}
    for key, spec in instruments.items():
        if isinstance(key, bool) or not isinstance(key, (int, str)):
            raise ParameterError(f"instruments keys are track numbers or part names, got {key!r}")
        out[key] = _check_spec(spec)
    return out


def _shift_part(part: Part, *, semitones: int, speed_rate: float, label: str) -> Part:
    if semitones == 0 and speed_rate == 1.0:
        return part
    notes = []
    for n in part.notes:
        pitch = n.pitch + (0 if part.is_drum else semitones)
        if not 0 <= pitch <= 127:
            raise ParameterError(f"{label}: pitch_offset {semitones:+d} moves note {n.pitch} of part "
                                 f"{part.name!r} outside MIDI 0..127")
        notes.append(Note(pitch, n.onset_s / speed_rate, n.offset_s / speed_rate, n.velocity))
    controls = part.controls.scaled(speed_rate) if part.controls is not None else None
    return dataclasses.replace(part, notes=notes, controls=controls)


def _prepare_score(source: Any, instruments: dict, *, pitch_offset: int, speed_rate: float
                   ) -> tuple[Score, dict]:
    """Load the score, apply overrides (blends via their dominant instrument), offset, speed."""
    simple = {k: _dominant(v) for k, v in instruments.items() if k != _ALL_PARTS}
    score = load_score(source, instrument_overrides=simple or None)
    label = score.source or "<score>"
    specs: dict[str, Any] = {}
    parts = []
    for part in score.parts:
        spec = None if part.is_drum else _spec_for_part(part, instruments)
        if spec is not None:
            part = dataclasses.replace(part, instrument=_dominant(spec))
        elif part.instrument is not None:
            spec = part.instrument.name
        parts.append(_shift_part(part, semitones=pitch_offset, speed_rate=speed_rate, label=label))
        specs[part.name] = spec
    return Score(parts=parts, source=score.source), specs


def _n_frames_for(end_s: float, frame_rate: int) -> int:
    return int(math.ceil((end_s + _TAIL_S) * frame_rate))


def synthesize_midi(source: Any, *, model: "MidiDDSP | None" = None,
                    instruments: "Mapping[int | str, Any] | None" = None, pitch_offset: int = 0,
                    speed_rate: float = 1.0, seed: int = 0, sample_rate: int = 16000,
                    use_fluidsynth: bool = False, sf2_path: "str | os.PathLike[str] | None" = None,
                    gains_db: "Mapping[str, float] | None" = None,
                    normalize: "str | bool" = "loudness", progress: bool = False,
                    expression_seed: "int | None" = None,
                    temperature: float = DEFAULT_TEMPERATURE,
                    reverb: str = DEFAULT_REVERB) -> SynthesisResult:
    """Render a score with the models: every pitched part a stem, plus the mix.

    Args:
        source: a score file path (.mid/.midi/MusicXML/.mxl/kern/abc), a ``pretty_midi.PrettyMIDI``,
            a NoteSequence or a ``Score``. The file is only read.
        model: the models (default ``load_pretrained_model()``, the shipped checkpoints).
        instruments: track number / part or track name / ``"*"`` (every pitched part) ->
            instrument name, ``Instrument`` or blend ``{"violin": 0.5, "flute": 0.5}``. Tracks
            not listed keep the instrument of their GM program.
        pitch_offset: semitones added to every pitched note before fitting to the range.
        speed_rate: tempo factor (2.0 plays twice as fast), > 0.
        seed: base seed; part i uses ``seed + i`` for its expressions and its synthesis.
        sample_rate: output rate in Hz.
        expression_seed: base seed of the Expression Generator's sampling alone (part i uses
            ``expression_seed + i``); default ``seed``. Change it to hear another performance
            with the same synthesis noise.
        temperature: spread of the expression sampling, >= 0: 0 = the most likely expressions
            (deterministic), 1 = the model's full predicted spread; default
            ``DEFAULT_TEMPERATURE``.
        reverb: the room every model part is played in: ``"dry"``, ``"room"`` (default) or
            ``"hall"``, parametric presets (``midi_ddsp.dsp.effects.REVERB_PRESETS``; no room
            is learned, the training audio is dry).
        use_fluidsynth: render parts without a model (other programs, drums) with FluidSynth;
            otherwise they are skipped with a warning.
        sf2_path: soundfont for FluidSynth (default FluidR3_GM, see ``midi_ddsp.fluidsynth_render``).
        gains_db: part name -> gain in dB in the mix.
        normalize: how the mix is levelled (``midi_ddsp.mixing.mix_stems``): ``"loudness"``
            (default) to -23 LUFS, true peak at most -1 dBTP; ``"peak"``: sample peak at
            -1 dBFS; ``"none"``: no gain (a limiter only if a sample would exceed +-1).
            ``True`` means ``"peak"``, ``False`` means ``"none"``. The loudness gain is
            measured here and recorded in ``metadata["mix"]["gain_db"]``; ``rerender`` reuses
            it, so edits are heard as edits.
        progress: show a progress bar over parts.

    Returns:
        A ``SynthesisResult``.

    Raises:
        InputFileError: unreadable/empty/corrupt file, or nothing a model can play (drum-only
            files, unless ``use_fluidsynth``).
        ParameterError: unknown instrument name, bad option values.
        CheckpointError: default models missing or unusable.
    """
    t_start = time.perf_counter()
    try:
        speed_ok = not isinstance(speed_rate, bool) and math.isfinite(float(speed_rate)) and speed_rate > 0
    except (TypeError, ValueError):
        speed_ok = False
    if not speed_ok:
        raise ParameterError(f"speed_rate must be a positive number, got {speed_rate!r}")
    if isinstance(pitch_offset, bool) or not float(pitch_offset).is_integer():
        raise ParameterError(f"pitch_offset must be a whole number of semitones, got {pitch_offset!r}")
    if int(sample_rate) <= 0:
        raise ParameterError(f"sample_rate must be a positive number of Hz, got {sample_rate!r}")
    normalize = normalize_mode(normalize)
    temperature = check_temperature(temperature)
    if not isinstance(reverb, (str, bool)):
        raise ParameterError(f"reverb must be a preset name ({', '.join(REVERB_PRESETS)}) or "
                             f"True / False, got {reverb!r}")
    reverb = reverb_preset(reverb).name
    if expression_seed is not None and (isinstance(expression_seed, bool)
                                        or not isinstance(expression_seed, (int, np.integer))):
        raise ParameterError(f"expression_seed must be None or an int, got {expression_seed!r}")
    expression_base = int(seed) if expression_seed is None else int(expression_seed)
    spec_map = _parse_instruments(instruments)
    score, specs = _prepare_score(source, spec_map, pitch_offset=int(pitch_offset),
                                  speed_rate=float(speed_rate))
    label = score.source or "<score>"
    model_parts = [p for p in score.parts if not p.is_drum and specs.get(p.name) is not None]
    model_ids = {id(p) for p in model_parts}
    other_parts = [p for p in score.parts if id(p) not in model_ids]
    if not model_parts and not (use_fluidsynth and other_parts):
        require_pitched_parts(score)  # raises with the reason (drums only, no known program)
    model = _model_or_default(model) if model_parts else model
    t_loaded = time.perf_counter()
    frame_rate = model.frame_rate if model_parts else 250
    n_frames = _n_frames_for(score.end_s, frame_rate)
    n_samples = int(round(n_frames * int(sample_rate) / frame_rate))

    stems: dict[str, np.ndarray] = {}
    controls: dict = {}
    note_tables: dict[str, pd.DataFrame] = {}
    params_by_part: dict[str, SynthParams] = {}
    info: dict[str, dict] = {}
    skipped: list[dict] = []
    timings = {"expression_s": 0.0, "synthesis_s": 0.0, "render_s": 0.0, "fluidsynth_s": 0.0}
    order = {id(p): i for i, p in enumerate(score.parts)}

    iterator = model_parts
    if progress and len(model_parts) > 1:
        from tqdm.auto import tqdm

        iterator = tqdm(model_parts, desc=os.path.basename(label), unit="part", leave=False)
    for part in iterator:
        index = order[id(part)]
        spec = specs[part.name]
        part_seed = int(seed) + index
        fitted, semitones = fit_part_to_range(part, _dominant(spec))
        t0 = time.perf_counter()
        table = _with_mod_wheel(model.expression_generator.generate(
            fitted.notes, spec, seed=expression_base + index, temperature=temperature),
            part.controls)
        t1 = time.perf_counter()
        params = generate_synth_params(table, spec, model=model, seed=part_seed, n_frames=n_frames)
        if part.controls is not None:
            params = part.controls.apply(params, frame_rate=frame_rate)
            controls[part.name] = part.controls
        t2 = time.perf_counter()
        audio = render_params(params, spec, model=model, sample_rate=int(sample_rate), seed=part_seed,
                              reverb=reverb)
        t3 = time.perf_counter()
        timings["expression_s"] += t1 - t0
        timings["synthesis_s"] += t2 - t1
        timings["render_s"] += t3 - t2
        stems[part.name] = audio
        note_tables[part.name] = table
        params_by_part[part.name] = params
        info[part.name] = _part_entry(part, index=index, renderer=_RENDERER_MODEL, instrument=spec,
                                      seed=part_seed, semitones=semitones)

    fluid_parts = []
    for part in other_parts:
        reason = ("drum track" if part.is_drum else
                  f"GM program {part.program} has no model")
        if use_fluidsynth:
            fluid_parts.append(part)
        else:
            remedy = ("render it with FluidSynth (use_fluidsynth=True, --use_fluidsynth)"
                      if part.is_drum else "give it an instrument (instruments=..., --instrument) "
                      "or render it with FluidSynth (use_fluidsynth=True, --use_fluidsynth)")
            logger.warning("%s: part %r skipped (%s); %s", label, part.name, reason, remedy)
            skipped.append({"name": part.name, "track": part.track, "program": part.program,
                            "is_drum": part.is_drum, "reason": reason})
    stem_order = [p.name for p in score.parts]
    if fluid_parts:
        from midi_ddsp.fluidsynth_render import render_stems_fluidsynth

        t0 = time.perf_counter()
        groups = _fluidsynth_groups(fluid_parts, taken={p.name for p in score.parts})
        rendered = render_stems_fluidsynth([merged for _, merged, _ in groups], sf2_path=sf2_path,
                                           sample_rate=int(sample_rate), n_samples=n_samples)
        for (name, merged, members), audio in zip(groups, rendered):
            stems[name] = audio
            info[name] = _part_entry(merged, index=order[id(members[0])],
                                     renderer=_RENDERER_FLUIDSYNTH, instrument=None, seed=None,
                                     semitones=0)
            if len(members) > 1:
                info[name]["voices"] = [m.name for m in members]
                stem_order[stem_order.index(members[0].name)] = name
        timings["fluidsynth_s"] = time.perf_counter() - t0

    # score order for the stems
    names = [name for name in stem_order if name in stems]
    stems = {name: stems[name] for name in names}
    t0 = time.perf_counter()
    mixed = mix_stems(stems, gains_db=gains_db, normalize=normalize, sample_rate=int(sample_rate),
                      in_place=True)
    del stems
    timings["mix_s"] = time.perf_counter() - t0
    timings["load_s"] = t_loaded - t_start
    timings["total_s"] = time.perf_counter() - t_start
    metadata = {
        "source": label,
        "sample_rate": int(sample_rate),
        "frame_rate": frame_rate,
        "duration_s": mixed.mix.shape[0] / int(sample_rate),
        "settings": {"seed": int(seed), "expression_seed": expression_base,
                     "temperature": temperature, "reverb": reverb,
                     "pitch_offset": int(pitch_offset),
                     "speed_rate": float(speed_rate), "use_fluidsynth": bool(use_fluidsynth),
                     "sf2_path": None if sf2_path is None else os.fspath(sf2_path),
                     "normalize": normalize},
        "parts": [dict(info[name], gain_db=float((gains_db or {}).get(name, 0.0))) for name in names],
        "skipped_parts": skipped,
        "checkpoints": dict(model.checkpoints) if model_parts else {},
        "mix": mixed.describe(),
        "timings": {k: round(v, 4) for k, v in timings.items()},
        "midi_ddsp_version": _version(),
    }
    return SynthesisResult(sample_rate=int(sample_rate), mix=mixed.mix, stems=mixed.stems,
                           note_tables=note_tables, synth_params=params_by_part, metadata=metadata,
                           limiter_gain=mixed.limiter_gain, controls=controls)


def _with_mod_wheel(table: pd.DataFrame, controls) -> pd.DataFrame:
    """``table`` with each note's vibrato raised by the part's CC1 (``MidiControls.note_vibrato``)."""
    if controls is None or not controls.modulation:
        return table
    table["vibrato"] = (table["vibrato"] + controls.note_vibrato(
        table["onset_s"].to_numpy(), table["offset_s"].to_numpy())).astype(np.float32)
    return table


def _fluidsynth_groups(parts: Sequence[Part], *, taken: set) -> list:
    """FluidSynth needs no voice splitting: the voices of one track (same program) become one
    stem named after the track. Returns ``(stem name, merged Part, member parts)`` in order."""
    by_track: dict[tuple, list[Part]] = {}
    for part in parts:
        by_track.setdefault((part.track, part.program, part.is_drum), []).append(part)
    groups = []
    for members in by_track.values():
        base = _VOICE_SUFFIX.sub("", members[0].name)
        if len(members) == 1 or base in taken:
            groups.extend((m.name, m, [m]) for m in members)
            continue
        notes = sorted((n for m in members for n in m.notes), key=lambda n: (n.onset_s, -n.pitch))
        groups.append((base, dataclasses.replace(members[0], notes=notes, name=base), members))
    return groups


def _part_entry(part: Part, *, index: int, renderer: str, instrument: Any, seed: "int | None",
                semitones: int) -> dict:
    return {"name": part.name, "index": index, "track": part.track, "voice": part.voice,
            "program": part.program, "is_drum": part.is_drum, "renderer": renderer,
            "instrument": instrument, "seed": seed, "transposed_semitones": int(semitones),
            "n_notes": len(part.notes)}


def _version() -> str:
    import midi_ddsp

    return getattr(midi_ddsp, "__version__", "unknown")


def rerender(result: SynthesisResult, *, note_tables: "Mapping[str, pd.DataFrame] | None" = None,
             synth_params: "Mapping[str, SynthParams] | None" = None,
             instruments: "Mapping[str, Any] | None" = None, model: "MidiDDSP | None" = None,
             gains_db: "Mapping[str, float] | None" = None,
             normalize: "str | bool | None" = None,
             regenerate_expressions: "bool | Sequence[str]" = False,
             expression_seed: "int | None" = None,
             temperature: "float | None" = None) -> SynthesisResult:
    """Re-render edited parts of a result and remix; other parts are reused as they are.

    Edits are heard as edits: under ``"loudness"`` the new mix gets the same levelling gain as
    the result (``metadata["mix"]["gain_db"]``), so turning every note down makes the mix
    quieter and raising one note leaves the others where they were; only the true-peak limiter
    may act on a passage an edit pushed over -1 dBTP (``metadata["mix"]["limited"]``).

    Args:
        result: a ``synthesize_midi`` result (not modified).
        note_tables: part name -> edited NoteTable; the part goes through the Synthesis
            Generator and the DDSP layers again (same seed as before).
        synth_params: part name -> edited ``SynthParams``; the part goes through the DDSP
            layers and the room reverb again.
        instruments: part name -> new instrument or blend for a model-rendered part (with
            neither table nor parameters given, its NoteTable is re-synthesised).
        model: the models (default ``load_pretrained_model()``).
        gains_db: part name -> gain in dB in the new mix (default: the previous gains).
        normalize: ``"loudness"``, ``"peak"``, ``"none"`` (``True`` = ``"peak"``, ``False`` =
            ``"none"``); default: the result's mode. ``"loudness"`` reuses the result's gain when
            the result was loudness-levelled, else measures one on the new mix; ``"peak"``
            re-levels the new mix's peak to -1 dBFS (edits of the loudest note then move all
            the others).
        regenerate_expressions: parts (or True = every model part without an edited table or
            parameters) whose NoteTables the Expression Generator draws anew from their notes,
            with ``expression_seed`` (part i uses ``expression_seed + i``; default the result's)
            and ``temperature`` (default the result's).

    Returns:
        A new ``SynthesisResult``.

    Raises:
        ParameterError: an unknown part, a FluidSynth part, a part given both a table and
            parameters, or an invalid NoteTable / SynthParams.
    """
    note_tables, synth_params = dict(note_tables or {}), dict(synth_params or {})
    instruments = {k: _check_spec(v) for k, v in (instruments or {}).items()}
    settings = result.metadata["settings"]
    model_names = [p["name"] for p in result.metadata["parts"] if p["renderer"] == _RENDERER_MODEL]
    if regenerate_expressions is True:
        regenerate = [n for n in model_names if n not in note_tables and n not in synth_params]
    elif isinstance(regenerate_expressions, str):
        regenerate = [regenerate_expressions]
    else:
        regenerate = list(regenerate_expressions or [])
    if not regenerate and (temperature is not None or expression_seed is not None):
        raise ParameterError("temperature / expression_seed apply to regenerated expressions: "
                             "name the parts with regenerate_expressions= (True = all)")
    if regenerate:
        temperature = check_temperature(settings.get("temperature", DEFAULT_TEMPERATURE)
                                        if temperature is None else temperature)
        if expression_seed is None:
            expression_seed = int(settings.get("expression_seed", settings.get("seed", 0)))
        model = _model_or_default(model)
        for name in regenerate:
            entry = result.part_info(name)
            if entry["renderer"] != _RENDERER_MODEL:
                raise ParameterError(f"part {name!r} was rendered with FluidSynth; its expressions "
                                     "cannot be regenerated")
            from midi_ddsp.expression import notes_from_note_table

            note_tables[name] = _with_mod_wheel(model.expression_generator.generate(
                notes_from_note_table(result.note_tables[name]),
                instruments.get(name, entry["instrument"]),
                seed=int(expression_seed) + int(entry["index"]), temperature=temperature),
                result.controls.get(name))
    for name in [*note_tables, *synth_params, *instruments]:
        entry = result.part_info(name)
        if entry["renderer"] != _RENDERER_MODEL:
            raise ParameterError(f"part {name!r} was rendered with FluidSynth; only model parts can "
                                 "be re-rendered")
    both = set(note_tables) & set(synth_params)
    if both:
        raise ParameterError(f"part {sorted(both)[0]!r}: give either an edited NoteTable or edited "
                             "SynthParams, not both")
    old_mode = normalize_mode(result.metadata["settings"].get("normalize", True))
    mode = old_mode if normalize is None else normalize_mode(normalize)
    model = _model_or_default(model)
    old_gains = {p["name"]: p.get("gain_db", 0.0) for p in result.metadata["parts"]}
    gains = dict(old_gains, **dict(gains_db or {}))
    mix_gain = float(result.metadata["mix"]["gain"]) or 1.0
    fixed_gain_db = None
    if mode == "loudness" and old_mode == "loudness":
        fixed_gain_db = float(result.metadata["mix"].get("gain_db", 20.0 * math.log10(mix_gain)))
    limiter = result.limiter_gain
    raw: dict[str, np.ndarray] = {}
    new_tables = dict(result.note_tables)
    new_params = dict(result.synth_params)
    parts_meta = [dict(p) for p in result.metadata["parts"]]
    for entry in parts_meta:
        name = entry["name"]
        stem_gain = mix_gain * 10.0 ** (old_gains[name] / 20.0)
        changed = name in note_tables or name in synth_params or name in instruments
        if not changed:  # undo the old mix's gains (and limiter) to get the part's own audio
            raw[name] = result.stems[name] / np.float32(stem_gain)
            if limiter is not None:
                raw[name] /= limiter
            continue
        spec = instruments.get(name, entry["instrument"])
        seed = int(entry["seed"])
        n_frames = result.synth_params[name].n_frames
        if name in synth_params:
            params = synth_params[name]
            if not isinstance(params, SynthParams):
                raise ParameterError(f"synth_params[{name!r}]: expected SynthParams, got "
                                     f"{type(params).__name__}")
        else:
            table = note_tables.get(name, result.note_tables[name])
            from midi_ddsp.expression import validate_note_table

            table = validate_note_table(table, source=f"note table of part {name!r}")
            new_tables[name] = table
            params = generate_synth_params(table, spec, model=model, seed=seed, n_frames=n_frames)
            if name in result.controls:
                params = result.controls[name].apply(params, frame_rate=model.frame_rate)
        new_params[name] = params
        raw[name] = render_params(params, spec, model=model, sample_rate=result.sample_rate, seed=seed,
                                  reverb=settings.get("reverb", DEFAULT_REVERB))
        entry["instrument"] = spec
        entry["edited"] = True
    mixed = mix_stems(raw, gains_db=gains, normalize=mode, sample_rate=result.sample_rate,
                      fixed_gain_db=fixed_gain_db, in_place=True)
    for entry in parts_meta:
        entry["gain_db"] = float(gains.get(entry["name"], 0.0))
    metadata = dict(result.metadata, parts=parts_meta, mix=mixed.describe(),
                    settings=dict(result.metadata["settings"], normalize=mode,
                                  **({"expression_seed": int(expression_seed),
                                      "temperature": temperature} if regenerate else {})),
                    duration_s=mixed.mix.shape[0] / result.sample_rate)
    if model.checkpoints:
        metadata["checkpoints"] = dict(model.checkpoints)
    return SynthesisResult(sample_rate=result.sample_rate, mix=mixed.mix, stems=mixed.stems,
                           note_tables=new_tables, synth_params=new_params, metadata=metadata,
                           limiter_gain=mixed.limiter_gain, controls=dict(result.controls))


def synthesize_bach(work: "str | os.PathLike[str]" = "bwv66.6", *, ensemble: str = "string_quartet",
                    **kwargs: Any) -> SynthesisResult:
    """Render a Bach chorale from the music21 corpus (or a chorale file) as a quartet.

    Args:
        work: a music21 corpus name such as ``"bwv66.6"`` / ``"bach/bwv66.6"``, or a path to a
            MusicXML/MIDI file. Nothing is written anywhere; the source is only read.
        ensemble: ``"string_quartet"`` (violin, violin, viola, cello), ``"woodwind_quartet"``
            (flute, oboe, clarinet, bassoon) or ``"brass_quartet"`` (trumpet, horn, trombone,
            tuba), soprano to bass; parts beyond four get the bass instrument. Unless
            ``pitch_offset`` is given, the whole chorale is transposed by the smallest interval
            (at most a tritone) that puts the most notes inside the instruments' ranges, so no
            voice has to jump an octave.
        **kwargs: passed to ``synthesize_midi`` (model, seed, sample_rate, ...). ``instruments``
            entries given here override the ensemble's.

    Raises:
        ParameterError: unknown ensemble. InputFileError: the work cannot be found or parsed.
    """
    if ensemble not in ENSEMBLES:
        raise ParameterError(f"unknown ensemble {ensemble!r}; choose one of {', '.join(ENSEMBLES)}")
    pm = _chorale_to_pretty_midi(work)
    lineup = ENSEMBLES[ensemble]
    instruments = {i: lineup[min(i, len(lineup) - 1)] for i in range(len(pm.instruments))}
    instruments.update(dict(kwargs.pop("instruments", None) or {}))
    if "pitch_offset" not in kwargs:
        pitches = [[n.pitch for n in inst.notes] for inst in pm.instruments]
        ranges = [_dominant(_check_spec(instruments[i])) for i in range(len(pitches))]
        kwargs["pitch_offset"] = _common_shift(pitches, ranges)
        if kwargs["pitch_offset"]:
            logger.info("%s: transposed by %+d semitones so every voice fits its %s instrument",
                        os.fspath(work), kwargs["pitch_offset"], ensemble)
    result = synthesize_midi(pm, instruments=instruments, **kwargs)
    result.metadata["source"] = os.fspath(work)
    result.metadata["settings"]["ensemble"] = ensemble
    return result


_MAX_COMMON_SHIFT = 6  # semitones: synthesize_bach changes the key by at most a tritone


def _common_shift(pitches: Sequence[Sequence[int]], instruments: Sequence[Instrument]) -> int:
    """The transposition (semitones, |shift| <= 6) of the whole piece that leaves the fewest notes
    outside their voice's instrument range; ties go to the smallest shift (0 when all fit).
    Keeps the voices in their order, unlike moving single voices by octaves."""
    best = None
    for shift in sorted(range(-_MAX_COMMON_SHIFT, _MAX_COMMON_SHIFT + 1), key=lambda k: (abs(k), -k)):
        outside = sum(int(not inst.contains(p + shift)) for voice, inst in zip(pitches, instruments)
                      for p in voice)
        if best is None or outside < best[0]:
            best = (outside, shift)
    return best[1]


def _chorale_to_pretty_midi(work: "str | os.PathLike[str]"):
    import pretty_midi

    label = os.fspath(work)
    try:
        import music21

        if os.path.exists(label):
            stream = music21.converter.parse(label)
        else:
            name = label if "/" in label else f"bach/{label}"
            stream = music21.corpus.parse(name)
        midi_file = music21.midi.translate.streamToMidiFile(stream)
        data = midi_file.writestr()
    except MidiDDSPError:
        raise
    except Exception as exc:  # music21 raises many kinds (CorpusException, ConverterException...)
        raise InputFileError(label, f"cannot read this chorale ({type(exc).__name__}: "
                                    f"{' '.join(str(exc).split())[:120]})") from None
    try:
        pm = pretty_midi.PrettyMIDI(io.BytesIO(data))
    except Exception as exc:
        raise InputFileError(label, f"music21's MIDI export could not be read ({type(exc).__name__})"
                             ) from None
    pm.instruments = [inst for inst in pm.instruments if inst.notes]
    if not pm.instruments:
        raise InputFileError(label, "contains no notes")
    return pm


# --------------------------------------------------------------------------------------------
# Writing results

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _file_stem(index: int, name: str) -> str:
    safe = _UNSAFE.sub("_", name).strip("._") or "part"
    return f"{index:02d}_{safe[:60]}"


def write_result(result: SynthesisResult, output_dir: "str | os.PathLike[str]", *,
                 save_params: bool = False, plot: bool = False, subtype: str = "PCM_16",
                 extra_metadata: "Mapping[str, Any] | None" = None) -> dict:
    """Write a result to a folder, atomically: it appears complete or not at all.

    Layout: ``mix.wav``; ``stems/NN_<part>.wav``; ``note_tables/NN_<part>.csv``;
    ``params/NN_<part>.npz`` (with ``save_params``: f0_hz, amplitude, harmonic_distribution,
    noise_magnitudes at the frame rate, the NoteTable columns, frame_rate); ``plots/NN_<part>.png``
    (with ``plot``); ``metadata.json`` (the result's metadata plus the file names). An existing
    folder of that name is replaced.

    Args:
        result: what ``synthesize_midi`` / ``rerender`` returned.
        output_dir: the folder to create (its parent is created as needed).
        save_params: also write the per-part parameter files (datasets).
        plot: also write a PNG per model-rendered part (piano roll, expressions, f0, loudness).
        subtype: WAV sample format, ``"PCM_16"`` or ``"FLOAT"``.
        extra_metadata: more entries for metadata.json.

    Returns:
        The metadata written (with a ``"files"`` entry listing the paths, relative).

    Raises:
        InputFileError: the folder cannot be created or written (names it).
    """
    final = Path(output_dir)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.parent / f".{final.name}.tmp-{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
    except OSError as exc:
        raise InputFileError(final, f"cannot create output folder ({exc.strerror or exc})") from None
    try:
        metadata = _write_contents(result, tmp, save_params=save_params, plot=plot, subtype=subtype,
                                   extra_metadata=extra_metadata)
        _replace_dir(tmp, final)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise InputFileError(final, f"cannot write output ({exc.strerror or exc})") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return metadata


def _replace_dir(tmp: Path, final: Path) -> None:
    if final.exists():
        old = final.parent / f".{final.name}.old-{os.getpid()}"
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)


def _write_contents(result: SynthesisResult, folder: Path, *, save_params: bool, plot: bool,
                    subtype: str, extra_metadata) -> dict:
    files: dict[str, Any] = {"mix": "mix.wav", "stems": {}, "note_tables": {}, "params": {},
                             "plots": {}}
    write_wav(folder / "mix.wav", result.mix, sample_rate=result.sample_rate, subtype=subtype)
    (folder / "stems").mkdir()
    for entry in result.metadata["parts"]:
        name = entry["name"]
        stem = _file_stem(entry["index"], name)
        rel = f"stems/{stem}.wav"
        write_wav(folder / rel, result.stems[name], sample_rate=result.sample_rate, subtype=subtype)
        files["stems"][name] = rel
        if name in result.note_tables:
            (folder / "note_tables").mkdir(exist_ok=True)
            rel = f"note_tables/{stem}.csv"
            result.note_tables[name].to_csv(folder / rel, index=False)
            files["note_tables"][name] = rel
        if save_params and name in result.synth_params:
            (folder / "params").mkdir(exist_ok=True)
            rel = f"params/{stem}.npz"
            p = result.synth_params[name]
            table = result.note_tables[name]
            np.savez(folder / rel, f0_hz=p.f0_hz, amplitude=p.amplitude,
                     harmonic_distribution=p.harmonic_distribution,
                     noise_magnitudes=p.noise_magnitudes,
                     frame_rate=np.int64(result.metadata.get("frame_rate", 250)),
                     **{f"note_{c}": table[c].to_numpy(np.float32) for c in table.columns})
            files["params"][name] = rel
        if plot and name in result.synth_params:
            from midi_ddsp.plotting import plot_part

            (folder / "plots").mkdir(exist_ok=True)
            rel = f"plots/{stem}.png"
            plot_part(result.note_tables[name], result.synth_params[name],
                      frame_rate=int(result.metadata.get("frame_rate", 250)),
                      title=f"{name} ({instrument_label(entry['instrument'])})",
                      path=folder / rel)
            files["plots"][name] = rel
    metadata = dict(result.metadata)
    metadata.update(dict(extra_metadata or {}))
    metadata["files"] = {k: v for k, v in files.items() if v}
    text = json.dumps(_jsonable(metadata), indent=2)
    (folder / "metadata.json").write_text(text + "\n", encoding="utf-8")
    return metadata


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, Path):
        return str(value)
    return value
