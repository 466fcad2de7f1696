"""Audio-domain evaluation of what ships (DESIGN §8): render whole pieces with the default
pipeline, listen to the audio, and put FluidSynth on the same MIDI beside it.

Every number here is measured on rendered audio, never on the parameters that produced it:

* **pitch** (``pitch_metrics``): f0 of each part's stem (the project's CREPE module, tiny model,
  confidence >= 0.5 = voiced, a frame every 20 ms) against the
  part's notes, on frames inside notes with ``EDGE_TRIM_S`` trimmed at both ends: raw pitch
  accuracy at 50 cents (unvoiced frames count as wrong) and the median absolute error in cents;
* **activity** (``activity_metrics``): RMS in 40 ms windows every 10 ms; the share of in-note
  frames within 40 dB of the render's 99th percentile, and the share of frames more than
  300 ms after every note-off that are silent (more than 40 dB below it);
* **dynamics** (``dynamics_metrics``): per part, note-mean A-weighted loudness
  (``a_weighted_loudness_db``) of the last fifth of the notes minus the first fifth, the slope of
  a line fitted to note loudness against onset time in dB per minute; for several parts the
  spread (max - min) of the parts' mean note loudness;
* **onsets** (``onset_f1``): onsets detected in each stem (librosa's spectral-flux detector)
  against the score, F1 with a 50 ms tolerance and one-to-one matching;

Control fidelity from audio (sweeps of one control, the cross-effect matrix, probes of the
performance prior) is ``midi_ddsp.control_sweeps``.
"""
from __future__ import annotations

import dataclasses
import logging
import math
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from midi_ddsp.dsp.units import hz_to_midi, power_to_db
from midi_ddsp.score import Note, load_score

__all__ = [
    "EDGE_TRIM_S",
    "PieceSpec",
    "pitch_metrics",
    "activity_metrics",
    "dynamics_metrics",
    "onset_f1",
    "evaluate_render",
    "evaluate_piece",
]

logger = logging.getLogger(__name__)

EDGE_TRIM_S = 0.03
_RMS_WINDOW_S = 0.04
_RMS_HOP_S = 0.01
_ACTIVITY_RANGE_DB = 40.0
_AFTER_OFF_S = 0.3
_ONSET_TOLERANCE_S = 0.05
_CENTS_TOLERANCE = 50.0
_CREPE_CONFIDENCE = 0.5
_PITCH_FRAME_RATE = 50    # CREPE frames per second for the pitch measures (20 ms hop)


@dataclasses.dataclass(frozen=True)
class PieceSpec:
    """One test piece: a MIDI file and what it is.

    Attributes:
        name: short label.
        midi_path: the file (constant velocity for the dynamics measures).
        kind: ``"solo"`` or ``"ensemble"``.
        instruments: the ``instruments=`` mapping given to ``synthesize_midi`` (None: GM programs).
    """

    name: str
    midi_path: str
    kind: str
    instruments: "Mapping | None" = None


# --------------------------------------------------------------------------------------------
# measures on one stem
# --------------------------------------------------------------------------------------------
def _rms_db(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """RMS in dB of 40 ms windows every 10 ms; frame i starts at sample i * hop."""
    win, hop = int(_RMS_WINDOW_S * sample_rate), int(_RMS_HOP_S * sample_rate)
    x = np.asarray(audio, np.float64)
    if x.size < win:
        x = np.pad(x, (0, win - x.size))
    c = np.concatenate([[0.0], np.cumsum(x * x)])
    starts = np.arange(0, x.size - win + 1, hop)
    power = (c[starts + win] - c[starts]) / win
    return power_to_db(power + 1e-12)


def _in_note_mask(notes: Sequence[Note], n_frames: int, rate: float, trim_s: float) -> np.ndarray:
    mask = np.zeros(n_frames, bool)
    for n in notes:
        a = int(math.ceil((n.onset_s + trim_s) * rate))
        b = int(math.floor((n.offset_s - trim_s) * rate))
        if b > a:
            mask[max(a, 0):min(b, n_frames)] = True
    return mask


def activity_metrics(audio: np.ndarray, notes: Sequence[Note], *, sample_rate: int) -> dict:
    """In-note activity and after-note silence of one render (module docstring)."""
    db = _rms_db(audio, sample_rate)
    rate = 1.0 / _RMS_HOP_S
    # frame i covers [i * hop, i * hop + win): centre-aligned note mask
    centre = _RMS_WINDOW_S / 2
    shifted = [Note(n.pitch, max(n.onset_s - centre, 0.0), max(n.offset_s - centre, 1e-3), n.velocity)
               for n in notes]
    inside = _in_note_mask(shifted, db.size, rate, EDGE_TRIM_S)
    reference = float(np.percentile(db, 99)) if db.size else -120.0
    sounding = np.zeros(db.size, bool)
    for n in notes:
        a = int(max(n.onset_s - _RMS_WINDOW_S, 0.0) * rate)
        b = int(math.ceil((n.offset_s + _AFTER_OFF_S) * rate))
        sounding[a:min(b, db.size)] = True
    quiet = db < reference - _ACTIVITY_RANGE_DB
    return {
        "in_note_active": float(np.mean(db[inside] >= reference - _ACTIVITY_RANGE_DB))
        if inside.any() else float("nan"),
        "after_note_silent": float(np.mean(quiet[~sounding])) if (~sounding).any() else float("nan"),
        "reference_db": reference,
        "n_in_note_frames": int(inside.sum()),
    }


def pitch_metrics(audio: np.ndarray, notes: Sequence[Note], *, sample_rate: int,
                  tracker: Any = None) -> dict:
    """Raw pitch accuracy at 50 cents and median absolute cents of one monophonic stem.

    Args:
        tracker: a ``midi_ddsp.crepe.CrepePitchTracker`` (default: a tiny CREPE, loaded once per call).
    """
    from midi_ddsp.crepe import CrepePitchTracker

    tracker = tracker or CrepePitchTracker("tiny")
    rate = _PITCH_FRAME_RATE
    f0, confidence = tracker.track(audio, sample_rate=sample_rate, frame_rate=rate)
    target = np.zeros(f0.size)
    mask = np.zeros(f0.size, bool)
    for n in notes:
        a = int(math.ceil((n.onset_s + EDGE_TRIM_S) * rate))
        b = int(math.floor((n.offset_s - EDGE_TRIM_S) * rate))
        if b > a:
            target[max(a, 0):min(b, f0.size)] = n.pitch
            mask[max(a, 0):min(b, f0.size)] = True
    if not mask.any():
        return {"raw_pitch_accuracy": float("nan"), "median_abs_cents": float("nan"), "n_frames": 0}
    midi = hz_to_midi(f0[mask])
    cents = 100.0 * (midi - target[mask])
    voiced = confidence[mask] >= _CREPE_CONFIDENCE
    good = voiced & (np.abs(cents) <= _CENTS_TOLERANCE)
    return {"raw_pitch_accuracy": float(np.mean(good)),
            "median_abs_cents": float(np.median(np.abs(cents[voiced]))) if voiced.any() else float("nan"),
            "voiced": float(np.mean(voiced)), "n_frames": int(mask.sum())}


def note_loudness_db(audio: np.ndarray, notes: Sequence[Note], *, sample_rate: int) -> np.ndarray:
    """Mean A-weighted loudness (dB) over each note (edges trimmed), float [n_notes]."""
    from midi_ddsp.dsp.spectral import a_weighted_loudness_db

    rate = 250
    loud = np.asarray(a_weighted_loudness_db(np.asarray(audio, np.float32), sample_rate=sample_rate,
                                             frame_rate=rate), np.float64)
    out = np.full(len(notes), np.nan)
    for i, n in enumerate(notes):
        a = int(math.ceil((n.onset_s + EDGE_TRIM_S) * rate))
        b = max(int(math.floor((n.offset_s - EDGE_TRIM_S) * rate)), a + 1)
        seg = loud[a:min(b, loud.size)]
        if seg.size:
            out[i] = float(np.mean(seg))
    return out


def dynamics_metrics(stems: Mapping[str, np.ndarray], notes: Mapping[str, Sequence[Note]], *,
                     sample_rate: int) -> dict:
    """Level drift per part and the spread of the parts' mean loudness (module docstring)."""
    parts, means = {}, []
    for name, audio in stems.items():
        part_notes = sorted(notes[name], key=lambda n: n.onset_s)
        level = note_loudness_db(audio, part_notes, sample_rate=sample_rate)
        ok = np.isfinite(level)
        if ok.sum() < 5:
            continue
        onsets = np.array([n.onset_s for n in part_notes])[ok]
        level = level[ok]
        fifths = np.array_split(level, 5)
        slope = float(np.polyfit(onsets / 60.0, level, 1)[0]) if np.ptp(onsets) > 0 else 0.0
        parts[name] = {"last_minus_first_fifth_db": float(fifths[-1].mean() - fifths[0].mean()),
                       "slope_db_per_min": slope, "mean_db": float(level.mean()),
                       "fifths_db": [float(f.mean()) for f in fifths], "n_notes": int(level.size)}
        means.append(float(level.mean()))
    drift = [p["last_minus_first_fifth_db"] for p in parts.values()]
    return {"parts": parts,
            "worst_drift_db": float(max(drift, key=abs)) if drift else float("nan"),
            "part_spread_db": float(max(means) - min(means)) if len(means) > 1 else 0.0}


def onset_f1(audio: np.ndarray, notes: Sequence[Note], *, sample_rate: int,
             tolerance_s: float = _ONSET_TOLERANCE_S) -> dict:
    """F1 of onsets detected in the audio against the notes' onsets (one-to-one matching)."""
    import librosa

    detected = librosa.onset.onset_detect(y=np.asarray(audio, np.float32), sr=sample_rate,
                                          hop_length=160, units="time", backtrack=False)
    reference = np.sort(np.array([n.onset_s for n in notes]))
    used = np.zeros(detected.size, bool)
    hits = 0
    for t in reference:
        if detected.size == 0:
            break
        d = np.abs(detected - t)
        d[used] = np.inf
        j = int(np.argmin(d))
        if d[j] <= tolerance_s:
            used[j] = True
            hits += 1
    precision = hits / detected.size if detected.size else 0.0
    recall = hits / reference.size if reference.size else 0.0
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    return {"f1": float(f1), "precision": float(precision), "recall": float(recall)}


def evaluate_render(stems: Mapping[str, np.ndarray], notes: Mapping[str, Sequence[Note]], mix: np.ndarray,
                    *, sample_rate: int, tracker: Any = None) -> dict:
    """Every piece-level measure of one render (stems keyed like ``notes``)."""
    per_part = {}
    for name, audio in stems.items():
        part_notes = notes[name]
        per_part[name] = {"pitch": pitch_metrics(audio, part_notes, sample_rate=sample_rate,
                                                 tracker=tracker),
                          "activity": activity_metrics(audio, part_notes, sample_rate=sample_rate),
                          "onsets": onset_f1(audio, part_notes, sample_rate=sample_rate)}
    all_notes = [n for ns in notes.values() for n in ns]
    out = {
        "parts": per_part,
        "mix_activity": activity_metrics(mix, all_notes, sample_rate=sample_rate),
        "dynamics": dynamics_metrics(stems, notes, sample_rate=sample_rate),
    }
    for key, sub in (("raw_pitch_accuracy", "pitch"), ("median_abs_cents", "pitch"),
                     ("in_note_active", "activity"), ("after_note_silent", "activity"),
                     ("f1", "onsets")):
        values = [p[sub][key] for p in per_part.values() if np.isfinite(p[sub][key])]
        out[key] = float(np.mean(values)) if values else float("nan")
    return out


def evaluate_piece(piece: PieceSpec, *, models, sample_rate: int = 16000, fluidsynth: bool = True,
                   tracker: Any = None, synthesize: "Callable | None" = None,
                   keep_audio: bool = False) -> dict:
    """Render one piece with the default pipeline (and FluidSynth) and measure both.

    Args:
        piece: the piece.
        models: the ``MidiDDSP`` bundle.
        synthesize: the render call (default ``midi_ddsp.pipeline.synthesize_midi`` with its
            defaults: the call a user's ``midi_ddsp_synthesize song.mid`` makes).
        keep_audio: also return the two mixes under ``"audio"`` (renderer -> float32 [n]).

    Returns:
        ``{"name", "kind", "duration_s", "n_notes", "n_parts", "midi_ddsp": {...},
        "fluidsynth": {...}}`` (module docstring for the measures).
    """
    if synthesize is None:
        from midi_ddsp.pipeline import synthesize_midi as synthesize
    result = synthesize(piece.midi_path, models=models, instruments=piece.instruments,
                        sample_rate=sample_rate)
    notes = {name: [Note(int(r.pitch), float(r.onset_s), float(r.offset_s), int(r.velocity))
                    for r in table.itertuples()] for name, table in result.note_tables.items()}
    stems = {name: result.stems[name] for name in notes}
    out = {"name": piece.name, "kind": piece.kind, "duration_s": float(result.mix.shape[0] / sample_rate),
           "n_notes": int(sum(len(v) for v in notes.values())), "n_parts": len(notes),
           "midi_ddsp": evaluate_render(stems, notes, result.mix, sample_rate=sample_rate,
                                        tracker=tracker)}
    if fluidsynth:
        from midi_ddsp.fluidsynth_render import render_stems_fluidsynth

        score = load_score(piece.midi_path)
        parts = [p for p in score.parts if not p.is_drum]
        by_name = {p.name: p for p in parts}
        fs_parts = [by_name[name] for name in notes if name in by_name]
        fs_stems = render_stems_fluidsynth(fs_parts, sample_rate=sample_rate,
                                           n_samples=result.mix.shape[0])
        fs = {p.name: s for p, s in zip(fs_parts, fs_stems)}
        fs_notes = {p.name: list(p.notes) for p in fs_parts}
        fs_mix = np.sum(fs_stems, axis=0)
        out["fluidsynth"] = evaluate_render(fs, fs_notes, fs_mix, sample_rate=sample_rate,
                                            tracker=tracker)
    if keep_audio:
        out["audio"] = {"midi_ddsp": result.mix, **({"fluidsynth": fs_mix} if fluidsynth else {})}
        out["sample_rate"] = sample_rate
    return out
