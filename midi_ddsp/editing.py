"""Edits heard as edits: re-render the parts of a ``synthesize_midi`` result whose NoteTables,
SynthParams or instruments changed, and remix with the result's levelling gain."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from midi_ddsp.casting import instrument_spec
from midi_ddsp.dsp.rooms import DEFAULT_REVERB
from midi_ddsp.errors import ParameterError
from midi_ddsp.expression.definitions import DEFAULT_TEMPERATURE, check_temperature
from midi_ddsp.mixing import mix_stems, normalize_mode
from midi_ddsp.dsp.blocks import one_blas_thread
from midi_ddsp.pipeline import RENDERER_MODEL, generate_synth_params, render_audio, sample_part
from midi_ddsp.pretrained import MidiDDSP, models_or_default
from midi_ddsp.results import SynthesisResult
from midi_ddsp.synth_params import SynthParams

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["rerender"]


def rerender(result: SynthesisResult, *, note_tables: "Mapping[str, pd.DataFrame] | None" = None,
             synth_params: "Mapping[str, SynthParams] | None" = None,
             instruments: "Mapping[str, Any] | None" = None, models: "MidiDDSP | None" = None,
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
        models: the models (a ``MidiDDSP``; default ``load_pretrained_model()``).
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
    instruments = {k: instrument_spec(v) for k, v in (instruments or {}).items()}
    settings = result.metadata["settings"]
    model_names = [p["name"] for p in result.metadata["parts"] if p["renderer"] == RENDERER_MODEL]
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
        from midi_ddsp.expression.note_table import note_table_from_expressions

        models = models_or_default(models)
        for name in regenerate:
            entry = result.part_info(name)
            if entry["renderer"] != RENDERER_MODEL:
                raise ParameterError(f"part {name!r} was rendered with FluidSynth; its expressions "
                                     "cannot be regenerated")
            table = sample_part(models, result.note_tables.expressions(name).notes,
                                 instruments.get(name, entry["instrument"]),
                                 seed=int(expression_seed) + int(entry["index"]),
                                 temperature=temperature)
            if name in result.controls:
                table = result.controls[name].with_mod_wheel_vibrato(table)
            note_tables[name] = note_table_from_expressions(table)
    for name in [*note_tables, *synth_params, *instruments]:
        entry = result.part_info(name)
        if entry["renderer"] != RENDERER_MODEL:
            raise ParameterError(f"part {name!r} was rendered with FluidSynth; only model parts can "
                                 "be re-rendered")
    both = set(note_tables) & set(synth_params)
    if both:
        raise ParameterError(f"part {sorted(both)[0]!r}: give either an edited NoteTable or edited "
                             "SynthParams, not both")
    old_mode = normalize_mode(result.metadata["settings"].get("normalize", True))
    mode = old_mode if normalize is None else normalize_mode(normalize)
    models = models_or_default(models)
    old_gains = {p["name"]: p.get("gain_db", 0.0) for p in result.metadata["parts"]}
    gains = dict(old_gains, **dict(gains_db or {}))
    mix_gain = float(result.metadata["mix"]["gain"]) or 1.0
    fixed_gain_db = None
    if mode == "loudness" and old_mode == "loudness":
        fixed_gain_db = float(result.metadata["mix"].get("gain_db", 20.0 * math.log10(mix_gain)))
    limiter = result.limiter_gain
    raw: dict[str, np.ndarray] = {}
    new_tables = result.note_tables.copy()
    new_params = dict(result.synth_params)
    parts_meta = [dict(p) for p in result.metadata["parts"]]
    with one_blas_thread():   # the parts' synth, as in synthesize_midi
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
                from midi_ddsp.expression.note_table import validate_note_table

                table = note_tables.get(name, result.note_tables[name])
                table = validate_note_table(table, source=f"note table of part {name!r}")
                new_tables[name] = table
                params = generate_synth_params(table, spec, models=models, seed=seed, n_frames=n_frames)
                if name in result.controls:
                    params = result.controls[name].apply(params, frame_rate=models.frame_rate)
            new_params[name] = params
            raw[name] = render_audio(params, spec, models=models, sample_rate=result.sample_rate, seed=seed,
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
    if models.checkpoints:
        metadata["checkpoints"] = dict(models.checkpoints)
    return SynthesisResult(sample_rate=result.sample_rate, mix=mixed.mix, stems=mixed.stems,
                           note_tables=new_tables, synth_params=new_params, metadata=metadata,
                           limiter_gain=mixed.limiter_gain, controls=dict(result.controls))


