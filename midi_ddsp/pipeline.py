"""The synthesis pipeline: score -> cast parts -> NoteTables -> SynthParams -> stems -> mix.

Per pitched part::

    load_score -> cast_score (instrument, pitch_offset / speed_rate, range fitting)
      -> expression_generator.sample_expressions   (the six expressions per note)
      -> synthesis_generator.generate_from_expressions   (SynthParams at 250 Hz)
      -> MIDI controls (pitch bend, CC7/CC11 gain, CC1 vibrato)
      -> render_audio (the numpy DDSP synth, midi_ddsp.dsp.blocks, + the room preset) -> stem

The models are a ``MidiDDSP`` (torch modules) or the shipped checkpoints' ONNX graphs
(``midi_ddsp.runtime.OnnxMidiDDSP``, no torch); both give the same NoteTables and audio from the
same seed. On onnxruntime the parts of a piece render side by side in threads (the graphs and
the numpy synth release the GIL); numpy's BLAS runs one thread meanwhile.

Parts without a model (other GM programs) and drum parts are rendered with FluidSynth when
``use_fluidsynth=True``, else skipped with a one-line warning. The stems are mixed with
``midi_ddsp.mixing.mix_stems``: by default to -23 LUFS with the true peak at most -1 dBTP, the
gain chosen once on the first render and reused by ``midi_ddsp.editing.rerender`` so edits are
heard as edits (``normalize="peak"``: peak at -1 dBFS; ``"none"``: no gain); never clipping.

Long parts are generated and rendered whole: the Synthesis Generator runs in context-padded chunks
and the synth frame block by frame block with its phase and noise carried, so memory beyond the
output itself and the part's SynthParams stays flat and a long part has no seams.
"""
from __future__ import annotations

import contextlib
import importlib.metadata
import logging
import math
import os
import time
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from midi_ddsp.casting import cast_score, instrument_spec
from midi_ddsp.config import RELEASE_TAIL_S
from midi_ddsp.dsp.rooms import DEFAULT_REVERB, REVERB_PRESETS, reverb_preset
from midi_ddsp.dsp.blocks import one_blas_thread, render_synth_params
from midi_ddsp.errors import ParameterError
from midi_ddsp.expression.definitions import DEFAULT_TEMPERATURE, check_temperature
from midi_ddsp.expression.note_expressions import NoteExpressions
from midi_ddsp.mixing import mix_stems, normalize_mode
from midi_ddsp.pretrained import MidiDDSP, models_or_default
from midi_ddsp.results import SynthesisResult
from midi_ddsp.score import Note, Part, Score, load_score, require_pitched_parts
from midi_ddsp.synth_params import SynthParams

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "generate_note_table",
    "generate_synth_params",
    "render_audio",
    "synthesize_midi",
]

logger = logging.getLogger(__name__)

RENDERER_MODEL = "midi_ddsp"
_RENDERER_FLUIDSYNTH = "fluidsynth"


# --------------------------------------------------------------------------------------------
# One part: notes -> NoteTable -> SynthParams -> audio

def generate_note_table(notes: Sequence[Note], instrument: Any, *, models: "MidiDDSP | None" = None,
                        seed: "int | None" = 0,
                        temperature: float = DEFAULT_TEMPERATURE) -> pd.DataFrame:
    """The Expression Generator's NoteTable for the notes of one monophonic part.

    Args:
        notes: ``Note`` objects sorted by onset, not overlapping.
        instrument: name, ``Instrument`` or blend ``{"violin": 0.5, "flute": 0.5}``.
        models: the models (a ``MidiDDSP`` or an ``OnnxMidiDDSP``; default
            ``load_pretrained_model()``).
        seed: sampling seed; None = the generator's deterministic (most likely) expressions.
        temperature: spread of the sampling (0 = the most likely expressions, 1 = the model's
            full predicted spread; default ``DEFAULT_TEMPERATURE``).
    """
    from midi_ddsp.expression.note_table import note_table_from_expressions

    return note_table_from_expressions(sample_part(models_or_default(models), notes,
                                                    instrument_spec(instrument), seed=seed,
                                                    temperature=temperature))


def sample_part(models, notes: Sequence[Note], spec: Any, *, seed: "int | None",
                 temperature: float) -> NoteExpressions:
    notes = list(notes)
    models.enter_thread()
    values = models.expression_generator.sample_expressions(notes, spec, seed=seed,
                                                            temperature=temperature)
    return NoteExpressions.from_generated(notes, values)


def generate_synth_params(note_table: pd.DataFrame, instrument: Any, *,
                          models: "MidiDDSP | None" = None, seed: int = 0,
                          n_frames: "int | None" = None) -> SynthParams:
    """The Synthesis Generator's SynthParams for a NoteTable (one part).

    Args:
        note_table: a NoteTable (validated with ``midi_ddsp.expression.validate_note_table``).
        instrument: name, ``Instrument`` or blend.
        models: the models (a ``MidiDDSP`` or an ``OnnxMidiDDSP``; default
            ``load_pretrained_model()``).
        seed: noise seed of the generator (same seed -> same output).
        n_frames: length in frames; default up to the last offset plus a 1 s tail.

    Returns:
        ``SynthParams`` with ``n_frames`` frames at ``models.frame_rate``. The whole part is one
        call of the generator's ``generate_from_expressions`` (its context-padded chunks bound
        memory and join without seams).
    """
    from midi_ddsp.expression.note_table import validate_note_table

    table = validate_note_table(note_table)
    return _synthesize_part(models_or_default(models), NoteExpressions.from_note_table(table),
                            instrument_spec(instrument), seed=seed, n_frames=n_frames)


def _synthesize_part(models, part: NoteExpressions, spec: Any, *, seed: int,
                     n_frames: "int | None") -> SynthParams:
    if n_frames is None:
        end_s = max((n.offset_s for n in part.notes), default=0.0)
        n_frames = _n_frames_for(end_s, models.frame_rate)
    n_frames = int(n_frames)
    if n_frames <= 0:
        raise ParameterError(f"n_frames must be positive, got {n_frames}")
    models.enter_thread()
    return models.synthesis_generator.generate_from_expressions(part, spec, seed=seed,
                                                                n_frames=n_frames)


def render_audio(params: SynthParams, instrument: Any, *, models: "MidiDDSP | None" = None,
                  sample_rate: int = 16000, seed: int = 0, reverb: Any = True) -> np.ndarray:
    """Render SynthParams through the DDSP layers and a reverb.

    Args:
        params: the part's synthesis parameters (edit a ``.copy()`` of a result's).
        instrument: name, ``Instrument`` or blend (validated; every instrument gets the same room).
        models: the models (frame rate, model rate; default ``load_pretrained_model()``).
        sample_rate: output rate in Hz; any rate sounds the same below 8 kHz.
        seed: noise seed.
        reverb: a parametric room: ``"room"`` (modest room, RT60 0.8 s, wet -23 dB), ``"hall"``
            (RT60 2.2 s, wet -15 dB) or ``"dry"``; True = ``"room"`` (the default), False =
            ``"dry"``. See ``midi_ddsp.dsp.rooms.room_impulse_response``.

    Returns:
        audio, float32 [n_frames * sample_rate / frame_rate], rendered in one pass (the
        synthesizer's own chunks keep memory flat and join without seams).
    """
    if not isinstance(params, SynthParams):
        raise ParameterError(f"params: expected SynthParams, got {type(params).__name__}")
    room = reverb_preset(reverb)
    models = models_or_default(models)
    spec = instrument_spec(instrument)
    # the full impulse response at the model rate: tap 0 = the dry path, then the room's tail
    ir = None if room.wet_db is None else models.synthesis_generator.impulse_response(spec,
                                                                                    reverb=room)
    return render_synth_params(params, sample_rate=int(sample_rate), impulse_response=ir,
                               ir_sample_rate=models.model_sample_rate, seed=int(seed),
                               frame_rate=models.frame_rate,
                               model_sample_rate=models.model_sample_rate)


# --------------------------------------------------------------------------------------------
# Whole pieces

def _part_workers(models, n_parts: int) -> int:
    """Parts rendered side by side: on onnxruntime, whose graphs and the numpy synth release
    the GIL, up to the models' thread budget; torch parts one after another (torch threads)."""
    return max(1, min(n_parts, int(getattr(models, "part_threads", 1))))


def _n_frames_for(end_s: float, frame_rate: int) -> int:
    return int(math.ceil((end_s + RELEASE_TAIL_S) * frame_rate))


def synthesize_midi(source: Any, *, models: "MidiDDSP | None" = None,
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
        models: the models (default ``load_pretrained_model()``, the shipped checkpoints).
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
            ``"hall"``, parametric presets (``midi_ddsp.dsp.rooms.REVERB_PRESETS``; no room
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
    score = load_score(source)
    label = score.source or "<score>"
    cast = cast_score(score, instruments, pitch_offset=int(pitch_offset),
                      speed_rate=float(speed_rate))
    model_parts = [c for c in cast if c.spec is not None]
    other_parts = [c for c in cast if c.spec is None]
    if not model_parts and not (use_fluidsynth and other_parts):
        # raises with the reason (drums only, no known program)
        require_pitched_parts(Score(parts=[c.part for c in cast], source=score.source))
    models = models_or_default(models) if model_parts else models
    t_loaded = time.perf_counter()
    frame_rate = models.frame_rate if model_parts else 250
    end_s = max((c.part.end_s for c in cast), default=0.0)
    n_frames = _n_frames_for(end_s, frame_rate)
    n_samples = int(round(n_frames * int(sample_rate) / frame_rate))

    stems: dict[str, np.ndarray] = {}
    controls: dict = {}
    note_tables: dict[str, NoteExpressions] = {}
    params_by_part: dict[str, SynthParams] = {}
    info: dict[str, dict] = {}
    skipped: list[dict] = []
    timings = {"expression_s": 0.0, "synthesis_s": 0.0, "render_s": 0.0, "fluidsynth_s": 0.0}

    def one_part(c):   # notes -> NoteTable -> SynthParams -> stem, with the stage times
        part_seed = int(seed) + c.index
        t0 = time.perf_counter()
        table = sample_part(models, c.part.notes, c.spec, seed=expression_base + c.index,
                            temperature=temperature)
        if c.part.controls is not None:
            table = c.part.controls.with_mod_wheel_vibrato(table)
        t1 = time.perf_counter()
        params = _synthesize_part(models, table, c.spec, seed=part_seed, n_frames=n_frames)
        if c.part.controls is not None:
            params = c.part.controls.apply(params, frame_rate=frame_rate)
        t2 = time.perf_counter()
        audio = render_audio(params, c.spec, models=models, sample_rate=int(sample_rate),
                             seed=part_seed, reverb=reverb)
        return c, part_seed, table, params, audio, (t1 - t0, t2 - t1, time.perf_counter() - t2)

    workers = _part_workers(models, len(model_parts))
    with one_blas_thread(), contextlib.ExitStack() as stack:
        if workers > 1:
            from concurrent.futures import ThreadPoolExecutor

            pool = ThreadPoolExecutor(workers)
            stack.callback(pool.shutdown, cancel_futures=True)
            done = pool.map(one_part, model_parts)
        else:
            done = map(one_part, model_parts)
        if progress and len(model_parts) > 1:
            from tqdm.auto import tqdm

            done = tqdm(done, total=len(model_parts), desc=os.path.basename(label), unit="part",
                        leave=False)
        for c, part_seed, table, params, audio, stage_s in done:
            for key, value in zip(("expression_s", "synthesis_s", "render_s"), stage_s):
                timings[key] += value
            if c.part.controls is not None:
                controls[c.part.name] = c.part.controls
            stems[c.part.name] = audio
            note_tables[c.part.name] = table
            params_by_part[c.part.name] = params
            info[c.part.name] = _part_entry(c.part, index=c.index, renderer=RENDERER_MODEL,
                                            instrument=c.spec, seed=part_seed,
                                            semitones=c.semitones)

    fluid_parts = []
    for part in (c.part for c in other_parts):
        reason = ("drum track" if part.is_drum else
                  f"GM program {part.program} has no model")
        if use_fluidsynth:
            fluid_parts.append(part)
        else:
            remedy = ("render it with FluidSynth (use_fluidsynth=True, --use-fluidsynth)"
                      if part.is_drum else "give it an instrument (instruments=..., --instrument) "
                      "or render it with FluidSynth (use_fluidsynth=True, --use-fluidsynth)")
            logger.warning("%s: part %r skipped (%s); %s", label, part.name, reason, remedy)
            skipped.append({"name": part.name, "track": part.track, "program": part.program,
                            "is_drum": part.is_drum, "reason": reason})
    stem_order = [c.part.name for c in cast]
    order = {c.part.name: c.index for c in cast}
    if fluid_parts:
        from midi_ddsp.fluidsynth_render import merge_voices_by_track, render_stems_fluidsynth

        t0 = time.perf_counter()
        groups = merge_voices_by_track(fluid_parts, taken=set(stem_order))
        rendered = render_stems_fluidsynth([merged for _, merged, _ in groups], sf2_path=sf2_path,
                                           sample_rate=int(sample_rate), n_samples=n_samples)
        for (name, merged, members), audio in zip(groups, rendered):
            stems[name] = audio
            info[name] = _part_entry(merged, index=order[members[0].name],
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
        "checkpoints": dict(models.checkpoints) if model_parts else {},
        "runtime": getattr(models, "runtime", "torch") if model_parts else None,
        "mix": mixed.describe(),
        "timings": {k: round(v, 4) for k, v in timings.items()},
        "midi_ddsp_version": _version(),
    }
    return SynthesisResult(sample_rate=int(sample_rate), mix=mixed.mix, stems=mixed.stems,
                           note_tables=note_tables, synth_params=params_by_part, metadata=metadata,
                           limiter_gain=mixed.limiter_gain, controls=controls)


def _part_entry(part: Part, *, index: int, renderer: str, instrument: Any, seed: "int | None",
                semitones: int) -> dict:
    return {"name": part.name, "index": index, "track": part.track, "voice": part.voice,
            "program": part.program, "is_drum": part.is_drum, "renderer": renderer,
            "instrument": instrument, "seed": seed, "transposed_semitones": int(semitones),
            "n_notes": len(part.notes)}


def _version() -> str:
    try:
        return importlib.metadata.version("midi_ddsp")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
