"""Control fidelity from audio (DESIGN §8): does each NoteTable control move what it names, and
only that?

* ``control_sweep``: one control swept 0 -> 1 on test notes (0.4, 0.8 and 1.6 s long,
  ``SWEEP_NOTE_S``) of each instrument and register (low / middle / high third of the range),
  rendered dry by the Synthesis Generator and the synth, re-analysed from the audio with the
  known f0 (``midi_ddsp.analysis.analyse_audio``) and re-extracted; ``summarize_sweep`` gives
  Pearson r, slope and intercept of the fit and RMSE against the identity, and the cross-effect
  matrix (change of every other control and of sustain noise, sustain loudness, harmonic
  centroid, sounding length and median pitch per unit of the swept control); the slope is also
  given per note length (``by_length``), so long notes falling short is not averaged away.
* ``vibrato_depth``: the pitch swing (cents) that vibrato 1.0 produces on notes of several
  lengths, against the NoteTable's documented scale (1.0 = +-40 cents).
* ``vibrato_rate_response``: the vibrato rate measured from the audio (CREPE f0) of notes asked
  for given rates through the NoteTable's ``vibrato_rate`` column.
* ``expression_probes``: what the Expression Generator does with phrasing.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from midi_ddsp.audio_evaluation import note_loudness_db
from midi_ddsp.dsp.units import amplitude_to_db, hz_to_midi, midi_to_hz
from midi_ddsp.expression import EXPRESSION_NAMES, brightness_ceiling, extract_note_expressions
from midi_ddsp.expression.definitions import VIBRATO_FULL_CENTS
from midi_ddsp.instruments import get_instrument
from midi_ddsp.score import Note, NoteMarks

__all__ = [
    "REGISTERS",
    "EXTRA_MEASURES",
    "SWEEP_NOTE_S",
    "register_pitches",
    "sweep_notes",
    "control_sweep",
    "summarize_sweep",
    "reachable",
    "vibrato_depth",
    "VIBRATO_DEPTH_NOTE_S",
    "vibrato_rate_response",
    "VIBRATO_RATES_HZ",
    "expression_probes",
]

_SWEEP_VALUES = np.linspace(0.0, 1.0, 11)
EXTRA_MEASURES = ("sustain_noise_db", "sustain_loudness_db", "harmonic_centroid",
                  "sounding_s", "median_pitch_cents")


# --------------------------------------------------------------------------------------------
# control sweeps from audio
# --------------------------------------------------------------------------------------------
REGISTERS = ("low", "middle", "high")


def register_pitches(instrument: str, register: str, n: int = 3) -> list[int]:
    """``n`` pitches spread over one third of the instrument's range."""
    inst = get_instrument(instrument)
    lo, hi = inst.lowest_midi, inst.highest_midi
    third = (hi - lo) / 3.0
    k = REGISTERS.index(register)
    a, b = lo + k * third, lo + (k + 1) * third
    return [int(round(a + (b - a) * (i + 0.5) / n)) for i in range(n)]


SWEEP_NOTE_S = (0.4, 0.8, 1.6)
"""Lengths of the sweep's notes (s): the i-th pitch of a register gets the i-th length, so the
sweep covers short, middle and long notes."""


def sweep_notes(pitches: Sequence[int], *, values: Sequence[float] = _SWEEP_VALUES,
                note_s: Sequence[float] = SWEEP_NOTE_S, gap_s: float = 0.4
                ) -> list[tuple[int, int, Note]]:
    """Notes of a sweep: for every value, one note per pitch (pitch i lasts ``note_s[i]``).
    Returns ``(value index, pitch index, Note)`` in time order."""
    out, t = [], 0.3
    for vi in range(len(values)):
        for pi, pitch in enumerate(pitches):
            length = note_s[pi % len(note_s)]
            out.append((vi, pi, Note(int(pitch), t, t + length, 90)))
            t += length + gap_s
    return out


def _extras(audio: np.ndarray, params, notes: Sequence[Note], *, sample_rate: int,
            frame_rate: int = 250) -> np.ndarray:
    """[n_notes, 5]: sustain noise (dB), sustain loudness (dB), harmonic centroid (harmonic
    number), sounding length (s) and median pitch (cents from the written pitch), from the
    re-analysed ``params`` and the audio."""
    from midi_ddsp.dsp.spectral import a_weighted_loudness_db

    loud = np.asarray(a_weighted_loudness_db(np.asarray(audio, np.float32), sample_rate=sample_rate,
                                             frame_rate=frame_rate), np.float64)
    noise_db = amplitude_to_db(params.noise_magnitudes).mean(1)
    k = np.arange(1, params.harmonic_distribution.shape[1] + 1)
    hd = params.harmonic_distribution.astype(np.float64)
    centroid = (hd @ k) / np.maximum(hd.sum(1), 1e-9)
    midi = hz_to_midi(params.f0_hz)
    out = np.full((len(notes), len(EXTRA_MEASURES)), np.nan)
    for i, n in enumerate(notes):
        a = int(round(n.onset_s * frame_rate))
        b = int(round(n.offset_s * frame_rate))
        s = a + int(0.12 * frame_rate)
        if b - s < 2:
            continue
        peak = loud[a:b].max()
        sounding = np.nonzero(loud[a:min(b + frame_rate, loud.size)] > peak - 30.0)[0]
        out[i] = [noise_db[s:b].mean(), loud[s:b].mean(), centroid[s:b].mean(),
                  (sounding[-1] + 1) / frame_rate if sounding.size else 0.0,
                  float(np.median(100 * (midi[s:b] - n.pitch)))]
    return out


def control_sweep(models, instrument: str, register: str, control: str, *,
                  values: Sequence[float] = _SWEEP_VALUES, neutral: float = 0.5,
                  seed: int = 0) -> dict:
    """Sweep one control 0 -> 1 on notes of one instrument and register; measure from audio.

    All six controls sit at ``neutral`` except ``control``. The notes are generated by the
    Synthesis Generator, rendered dry by the synth, analysed with the generated f0 (known f0)
    and re-extracted.

    Returns:
        ``{"requested": [n], "measured": {name: [n] for the six controls}, "extras": {name: [n]}}``
        with one entry per note (``EXTRA_MEASURES`` for the extras).
    """
    from midi_ddsp.analysis import analyse_audio
    from midi_ddsp.pipeline import generate_synth_params, render_audio

    pitches = register_pitches(instrument, register)
    planned = sweep_notes(pitches, values=values)
    notes = [n for _, _, n in planned]
    table = pd.DataFrame({
        "pitch": [n.pitch for n in notes], "onset_s": [n.onset_s for n in notes],
        "offset_s": [n.offset_s for n in notes], "velocity": [n.velocity for n in notes],
        **{name: [neutral] * len(notes) for name in EXPRESSION_NAMES}})
    requested = np.array([values[vi] for vi, _, _ in planned], np.float64)
    table[control] = requested
    params = generate_synth_params(table, instrument, models=models, seed=seed)
    sample_rate = models.model_sample_rate
    audio = render_audio(params, instrument, models=models, sample_rate=sample_rate, seed=seed,
                          reverb=False)
    hop = sample_rate // models.frame_rate
    n_frames = audio.shape[0] // hop
    analysed = analyse_audio(audio[:n_frames * hop], params.f0_hz[:n_frames], sample_rate=sample_rate,
                             frame_rate=models.frame_rate)
    measured = extract_note_expressions(analysed, notes, frame_rate=models.frame_rate,
                                        sample_rate=sample_rate)
    extras = _extras(audio, analysed, notes, sample_rate=sample_rate, frame_rate=models.frame_rate)
    return {"requested": requested.tolist(),
            "note_s": [round(n.offset_s - n.onset_s, 3) for n in notes],
            "measured": {name: measured[name].to_numpy(np.float64).tolist() for name in EXPRESSION_NAMES},
            "extras": {name: extras[:, j].tolist() for j, name in enumerate(EXTRA_MEASURES)}}


def _fit(x: np.ndarray, y: np.ndarray) -> dict:
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < 3 or np.ptp(x) == 0:
        return {"r": float("nan"), "slope": float("nan"), "intercept": float("nan"),
                "rmse_identity": float("nan")}
    slope, intercept = np.polyfit(x, y, 1)
    r = float(np.corrcoef(x, y)[0, 1]) if np.ptp(y) > 0 else 0.0
    return {"r": r, "slope": float(slope), "intercept": float(intercept),
            "rmse_identity": float(np.sqrt(np.mean((y - x) ** 2)))}


def summarize_sweep(sweep: dict, control: str) -> dict:
    """Fidelity of the swept control and its cross-effects (slope per unit of the swept control)."""
    x = np.asarray(sweep["requested"])
    fidelity = _fit(x, np.asarray(sweep["measured"][control]))
    cross = {name: _fit(x, np.asarray(sweep["measured"][name]))["slope"]
             for name in EXPRESSION_NAMES if name != control}
    extras = {name: _fit(x, np.asarray(values))["slope"] for name, values in sweep["extras"].items()}
    lengths = np.asarray(sweep.get("note_s", [np.nan] * x.size))
    y = np.asarray(sweep["measured"][control])
    by_length = {f"{length:g}": _fit(x[lengths == length], y[lengths == length])["slope"]
                 for length in np.unique(lengths[np.isfinite(lengths)])}
    return {"fidelity": fidelity, "cross_effects": cross, "extras": extras,
            "slope_by_note_s": by_length}


def reachable(control: str, instrument: str, register: str, sample_rate: int = 16000) -> "str | None":
    """Why a control cannot reach 0..1 in a register (None when it can)."""
    if control != "brightness":
        return None
    top = max(register_pitches(instrument, register))
    limit = brightness_ceiling(top, sample_rate=sample_rate)
    if limit < 1.0:
        f0 = float(midi_to_hz(top))
        return (f"brightness is bounded by {limit:.2f} here: only {round(limit * 12)} harmonics "
                f"of {f0:.0f} Hz lie below the {sample_rate // 2} Hz Nyquist")
    return None


VIBRATO_DEPTH_NOTE_S = (0.4, 0.8, 1.6, 3.2)
"""Note lengths (s) of ``vibrato_depth``."""


def vibrato_depth(models, instrument: str, *, seed: int = 0) -> dict:
    """The pitch swing vibrato 1.0 produces, by note length, against the documented scale.

    Notes of ``VIBRATO_DEPTH_NOTE_S`` on the middle register's pitches, vibrato 1.0 and the
    other controls at 0.5, from the Synthesis Generator; on each note's generated f0 from 0.12 s
    after the onset to 0.03 s before the offset: the sinusoidal half-extent in cents
    (sqrt(2) x the standard deviation of the pitch deviation) and the re-extracted vibrato.

    Returns:
        ``{"instrument", "documented_cents", "by_note_s": {length: {"cents", "extracted"}}}``.
    """
    from midi_ddsp.pipeline import generate_synth_params

    pitches = register_pitches(instrument, "middle")
    notes, t = [], 0.3
    for length in VIBRATO_DEPTH_NOTE_S:
        for pitch in pitches:
            notes.append(Note(int(pitch), t, t + length, 90))
            t += length + 0.4
    table = pd.DataFrame({
        "pitch": [n.pitch for n in notes], "onset_s": [n.onset_s for n in notes],
        "offset_s": [n.offset_s for n in notes], "velocity": [n.velocity for n in notes],
        **{name: [1.0 if name == "vibrato" else 0.5] * len(notes) for name in EXPRESSION_NAMES}})
    params = generate_synth_params(table, instrument, models=models, seed=seed)
    frame_rate = models.frame_rate
    extracted = extract_note_expressions(params, notes, frame_rate=frame_rate,
                                         sample_rate=models.model_sample_rate)["vibrato"].to_numpy()
    cents = hz_to_midi(params.f0_hz.astype(np.float64)) * 100.0
    out: dict = {}
    for k, length in enumerate(VIBRATO_DEPTH_NOTE_S):
        swings, values = [], []
        for j in range(len(pitches)):
            i = k * len(pitches) + j
            a = int(round((notes[i].onset_s + 0.12) * frame_rate))
            b = int(round((notes[i].offset_s - 0.03) * frame_rate))
            if b - a >= 4:
                swings.append(float(np.sqrt(2.0) * np.std(cents[a:b])))
                values.append(float(extracted[i]))
        out[f"{length:g}"] = {"cents": float(np.mean(swings)) if swings else float("nan"),
                              "extracted": float(np.mean(values)) if values else float("nan")}
    return {"instrument": instrument, "documented_cents": VIBRATO_FULL_CENTS, "by_note_s": out}


VIBRATO_RATES_HZ = (4.0, 5.5, 7.0)
"""Rates (Hz) ``vibrato_rate_response`` asks for."""


def vibrato_rate_response(models, instrument: str, *, rates: Sequence[float] = VIBRATO_RATES_HZ,
                          vibrato: float = 0.8, seed: int = 0) -> dict:
    """The vibrato rate heard when a rate is asked for.

    Notes of 0.8 and 1.6 s on the middle register's pitches, vibrato ``vibrato`` and the other
    controls at 0.5, the ``vibrato_rate`` column at each requested rate; rendered dry, the f0
    tracked from the audio (CREPE tiny) and each note's rate measured as the extractor measures
    it (the pitch deviation's spectral peak, ``vibrato_rate``).

    Returns:
        ``{"instrument", "reads_rates", "by_rate": {rate: {"measured_hz", "per_note"}}}``;
        ``reads_rates`` is False for a Synthesis Generator without rate input (it plays its
        own rate whatever the column says).
    """
    from midi_ddsp.crepe import CrepePitchTracker
    from midi_ddsp.pipeline import generate_synth_params, render_audio
    from midi_ddsp.synth_params import SynthParams

    pitches = register_pitches(instrument, "middle")
    notes, asked, t = [], [], 0.3
    for rate in rates:
        for length in (0.8, 1.6):
            for pitch in pitches:
                notes.append(Note(int(pitch), t, t + length, 90))
                asked.append(float(rate))
                t += length + 0.4
    table = pd.DataFrame({
        "pitch": [n.pitch for n in notes], "onset_s": [n.onset_s for n in notes],
        "offset_s": [n.offset_s for n in notes], "velocity": [n.velocity for n in notes],
        **{name: [vibrato if name == "vibrato" else 0.5] * len(notes) for name in EXPRESSION_NAMES},
        "vibrato_rate": asked})
    params = generate_synth_params(table, instrument, models=models, seed=seed)
    sample_rate, frame_rate = models.model_sample_rate, models.frame_rate
    audio = render_audio(params, instrument, models=models, sample_rate=sample_rate, seed=seed,
                         reverb=False)
    f0_hz, _ = CrepePitchTracker("tiny").track(audio, sample_rate=sample_rate, frame_rate=frame_rate)
    n = min(f0_hz.shape[0], params.n_frames)
    heard = SynthParams(f0_hz[:n].astype(np.float32), params.amplitude[:n],
                        params.harmonic_distribution[:n], params.noise_magnitudes[:n])
    measured = extract_note_expressions(heard, notes, frame_rate=frame_rate,
                                        sample_rate=sample_rate)["vibrato_rate"].to_numpy()
    by_rate = {}
    for rate in rates:
        values = [float(m) for m, a in zip(measured, asked) if a == float(rate)]
        by_rate[f"{rate:g}"] = {"measured_hz": float(np.median(values)), "per_note": values}
    reads = bool(getattr(getattr(models.synthesis_generator, "config", None),
                         "vibrato_rate_input", False))
    return {"instrument": instrument, "reads_rates": reads, "by_rate": by_rate}


# --------------------------------------------------------------------------------------------
# probes of the performance prior
# --------------------------------------------------------------------------------------------
def expression_probes(models, instrument: str = "violin", *, seed: int = 0) -> dict:
    """What the Expression Generator does with phrasing, rendered and measured.

    A line of four 8-note phrases (rests between them, the last note of each held twice as
    long) at constant velocity, rendered with the default pipeline at temperature 0:

    * ``final_minus_peak_db``: A-weighted loudness of each phrase's last note minus the loudest
      of its other notes, mean over phrases (< 0: phrase ends are softer);
    * ``vibrato_long``, ``vibrato_short``: mean NoteTable vibrato of notes over 0.6 s and under
      0.2 s in a line that alternates them;
    * ``crescendo_spearman``, ``crescendo_rise_db``: a rising 8-note line at constant velocity
      whose notes carry a crescendo wedge (``NoteMarks``, so only the Expression Generator's
      mark inputs can hear it): Spearman r of note loudness (audio) against note order, and the
      last two notes minus the first two in dB; ``plain_spearman``, ``plain_rise_db``: the
      same line without marks.
    """
    from midi_ddsp.score import score_from_notes
    from midi_ddsp.pipeline import synthesize_midi

    inst = get_instrument(instrument)
    base = (inst.lowest_midi + inst.highest_midi) // 2
    steps = [0, 2, 4, 5, 7, 5, 4, 2]
    notes, t, phrases = [], 0.3, []
    for k in range(4):
        idx = []
        for j, s in enumerate(steps):
            dur = 0.8 if j == len(steps) - 1 else 0.4
            idx.append(len(notes))
            notes.append(Note(base + s + (k % 2) * 2, t, t + dur * 0.95, 90))
            t += dur
        phrases.append(idx)
        t += 0.6
    result = synthesize_midi(score_from_notes({instrument: notes}), models=models, seed=seed,
                             temperature=0.0, normalize="none", instruments={"*": instrument})
    name = result.part_names[0]
    loud = note_loudness_db(result.stems[name], notes, sample_rate=result.sample_rate)
    final = float(np.mean([loud[p[-1]] - np.max(loud[p[:-1]]) for p in phrases]))
    mixed, t = [], 0.3
    for k in range(24):
        dur = 0.9 if k % 2 else 0.15
        mixed.append(Note(base + (k % 5), t, t + dur, 90))
        t += dur + 0.05
    table = models.expression_generator.generate(mixed, instrument, seed=None, temperature=0.0)
    durations = (table["offset_s"] - table["onset_s"]).to_numpy()
    vib = table["vibrato"].to_numpy()
    out = {"instrument": instrument, "final_minus_peak_db": final,
           "vibrato_long": float(vib[durations > 0.6].mean()),
           "vibrato_short": float(vib[durations < 0.2].mean())}
    from scipy.stats import spearmanr

    for key, marks in (("crescendo", NoteMarks("mf", "crescendo")), ("plain", NoteMarks())):
        line = [Note(base - 5 + s, 0.3 + 0.45 * j, 0.7 + 0.45 * j, 80, marks)
                for j, s in enumerate([0, 2, 4, 5, 7, 9, 11, 12])]
        result = synthesize_midi(score_from_notes({instrument: line}), models=models, seed=seed,
                                 temperature=0.0, normalize="none", instruments={"*": instrument})
        loud = note_loudness_db(result.stems[result.part_names[0]], line,
                                sample_rate=result.sample_rate)
        out[f"{key}_spearman"] = float(spearmanr(np.arange(len(loud)), loud)[0])
        out[f"{key}_rise_db"] = float(np.mean(loud[-2:]) - np.mean(loud[:2]))
    return out
