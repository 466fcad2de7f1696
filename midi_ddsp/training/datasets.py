"""Training data for the three models, read from shards (``midi_ddsp.shards``).

``CorpusPool`` holds the examples of one split in memory and picks up new shards when
``refresh()`` is called (the corpus can still be growing while training runs). The batch
builders cut random crops, clip the notes to them, extract the note expressions from the crop's
analysed parameters (so conditioning and targets agree), and return torch tensors.

Parameter-space augmentation (DESIGN §6; reported in the model cards): the soundfont corpus
hardly varies brightness and attack noise, so for a fraction of notes the Synthesis Generator
targets are tilted (harmonic distribution multiplied by k^gamma, renormalised) and the noise
bands shifted by a few dB before the expressions are extracted. Control perturbation: for a
fraction of notes one expression of the conditioning is replaced by a random value in [0, 1];
those notes' frames carry no regression target, only the expression-consistency loss.
"""
from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from midi_ddsp.dsp.units import amplitude_to_db, db_to_amplitude, hz_to_midi
from midi_ddsp.errors import InputFileError
from midi_ddsp.expression import EXPRESSION_NAMES, expressions_to_frames, extract_note_expressions
from midi_ddsp.expression.definitions import VIBRATO_RATE_COLUMN
from midi_ddsp.instruments import get_instrument
from midi_ddsp.models.features import (
    N_NOTE_FEATURES,
    OSCILLATOR_SINE_COLUMNS,
    clip_notes,
    note_frame_features,
    note_sequence_features,
    note_spans,
)
from midi_ddsp.models.controls import CONTROL_RANGES
from midi_ddsp.models.layers import N_INSTRUMENTS
from midi_ddsp.models.sampling import rate_to_unit
from midi_ddsp.training.perturbation import added_vibrato, onset_transient, reachable_high
from midi_ddsp.score import Note, NoteMarks
from midi_ddsp.shards import Example, read_shard
from midi_ddsp.synth_params import SynthParams

__all__ = ["Record", "CorpusPool", "list_shards", "synthesis_batch", "expression_batch",
           "inference_batch"]

logger = logging.getLogger(__name__)

# the targets are clipped to the ranges the network outputs can reach
AMP_DB_MIN, AMP_DB_MAX = CONTROL_RANGES["amp_db"].low, CONTROL_RANGES["amp_db"].high
NOISE_DB_MIN, NOISE_DB_MAX = CONTROL_RANGES["noise_db"].low, CONTROL_RANGES["noise_db"].high

_N_EXPR = len(EXPRESSION_NAMES)
_MAX_VOICED_DEV = 2.0   # semitones: f0 targets further from the written pitch are masked
_VIBRATO_MIN_FRAMES = 50  # notes longer than 200 ms at 250 Hz carry vibrato
VIBRATO_INDEX = list(EXPRESSION_NAMES).index("vibrato")
RATE_MIN_VIBRATO = 0.15   # vibrato >= 0.15 (+-6 cents): the note's rate is measured and taught
_TRAIN_RATE_HZ = (3.5, 8.5)   # rates asked of notes with a perturbed rate
_PLAIN_VIBRATO = 0.1      # notes with less vibrato may be given one (vibrato_augment_prob)


@dataclasses.dataclass
class Record:
    """One example, trimmed to what training needs (half precision where it is harmless)."""

    example_id: str
    instrument_index: int
    notes: list          # list[Note], clipped to the example
    f0_hz: np.ndarray    # [T]
    loudness_db: np.ndarray
    amplitude: np.ndarray
    harmonic_distribution: np.ndarray   # float16 [T, K]
    noise_magnitudes: np.ndarray        # float16 [T, B]
    audio: "np.ndarray | None"
    note_table: "np.ndarray | None" = None   # [n_notes, 6] expressions of the whole example
    vibrato_rates: "np.ndarray | None" = None  # [n_notes] measured vibrato rate (Hz)

    @property
    def n_frames(self) -> int:
        return int(self.f0_hz.shape[0])

    def params(self, start: int = 0, stop: "int | None" = None) -> SynthParams:
        stop = self.n_frames if stop is None else stop
        return SynthParams(self.f0_hz[start:stop], self.amplitude[start:stop],
                           self.harmonic_distribution[start:stop].astype(np.float32),
                           self.noise_magnitudes[start:stop].astype(np.float32))


def list_shards(data_dir: "str | os.PathLike[str]") -> list[Path]:
    """All ``.npz`` shards under ``data_dir`` (recursively), sorted; temporary files excluded."""
    root = Path(data_dir)
    if not root.is_dir():
        raise InputFileError(root, "no such data folder")
    return sorted(p for p in root.rglob("*.npz") if not p.name.startswith("."))


def _to_record(ex: Example, *, frame_rate: int, keep_audio: bool) -> "Record | None":
    if ex.amplitude is None or ex.harmonic_distribution is None or ex.noise_magnitudes is None:
        return None
    n_frames = ex.n_frames
    rows = np.asarray(ex.notes).reshape(-1, 4)
    codes = ex.note_marks if ex.note_marks is not None else np.zeros((len(rows), 5), np.int16)
    notes = [Note(int(round(p)), float(on), float(off), int(np.clip(round(v), 1, 127)),
                  NoteMarks.from_codes(c)) for (p, on, off, v), c in zip(rows, codes)]
    notes = clip_notes(notes, end_s=n_frames / frame_rate, frame_rate=frame_rate)
    if not notes:
        return None
    rec = Record(
        example_id=ex.example_id, instrument_index=get_instrument(ex.instrument).index,
        notes=notes, f0_hz=np.asarray(ex.f0_hz, np.float32),
        loudness_db=np.asarray(ex.loudness_db, np.float32),
        amplitude=np.asarray(ex.amplitude, np.float32),
        harmonic_distribution=np.asarray(ex.harmonic_distribution, np.float16),
        noise_magnitudes=np.asarray(ex.noise_magnitudes, np.float16),
        audio=np.asarray(ex.audio, np.float32) if keep_audio else None)
    table = extract_note_expressions(rec.params(), notes, frame_rate=frame_rate)
    rec.note_table = table[list(EXPRESSION_NAMES)].to_numpy(np.float32)
    rec.vibrato_rates = table[VIBRATO_RATE_COLUMN].to_numpy(np.float32)
    return rec


class CorpusPool:
    """Examples of one split of a shard folder, loaded incrementally.

    Args:
        data_dir: folder holding ``.npz`` shards (searched recursively).
        split: ``"train"``, ``"valid"`` or ``"test"``; examples of other splits are skipped.
        keep_audio: keep the waveforms (DDSP Inference, evaluation) or drop them (saves memory).
        frame_rate: frame rate of the shards (Hz).
        max_examples: stop loading after this many examples (None = all).
    """

    def __init__(self, data_dir: "str | os.PathLike[str]", *, split: str, keep_audio: bool = False,
                 frame_rate: int = 250, max_examples: "int | None" = None):
        self.data_dir = Path(data_dir)
        self.split = split
        self.keep_audio = keep_audio
        self.frame_rate = frame_rate
        self.max_examples = max_examples
        self.records: list[Record] = []
        self._shards: dict[str, tuple[tuple[float, int], list[Record]]] = {}

    def refresh(self) -> int:
        """Load shards not seen yet (or rewritten since), forget deleted ones; returns the number
        of records added."""
        added = 0
        present = set()
        total = sum(len(recs) for _, recs in self._shards.values())
        for path in list_shards(self.data_dir):
            key = str(path)
            try:
                stat = path.stat()
            except OSError:
                continue
            present.add(key)
            stamp = (stat.st_mtime, stat.st_size)
            if key in self._shards and self._shards[key][0] == stamp:
                continue
            if self.max_examples is not None and total >= self.max_examples:
                continue
            try:
                examples = read_shard(path)
            except InputFileError as exc:
                logger.warning("skipping shard: %s", exc)
                continue
            old = self._shards.pop(key, (None, []))[1]
            total -= len(old)
            recs = []
            for ex in examples:
                if ex.split != self.split:
                    continue
                if self.max_examples is not None and total + len(recs) >= self.max_examples:
                    break
                rec = _to_record(ex, frame_rate=self.frame_rate, keep_audio=self.keep_audio)
                if rec is not None:
                    recs.append(rec)
            self._shards[key] = (stamp, recs)
            total += len(recs)
            added += len(recs)
        for key in list(self._shards):
            if key not in present:
                del self._shards[key]
        self.records = [rec for key in sorted(self._shards) for rec in self._shards[key][1]]
        return added

    def __len__(self) -> int:
        return len(self.records)


# --------------------------------------------------------------------------------------------
# Synthesis Generator batches
# --------------------------------------------------------------------------------------------

def _crop_bounds(rec: Record, crop_frames: int, rng: np.random.Generator) -> tuple[int, int]:
    if rec.n_frames <= crop_frames:
        return 0, rec.n_frames
    start = int(rng.integers(0, rec.n_frames - crop_frames + 1))
    return start, start + crop_frames


def _pad(x: np.ndarray, n: int, value: float = 0.0) -> np.ndarray:
    if x.shape[0] >= n:
        return x[:n]
    pad = [(0, n - x.shape[0])] + [(0, 0)] * (x.ndim - 1)
    return np.pad(x, pad, constant_values=value)


def synthesis_batch(records: Sequence[Record], rng: np.random.Generator, *, batch_size: int,
                    crop_frames: int, frame_rate: int = 250, n_noise: int = 4,
                    perturb_prob: float = 0.3, augment_prob: float = 0.5,
                    indices: "Sequence[int] | None" = None, audio_examples: int = 0,
                    hop_size: int = 64, causal: bool = False, vibrato_rate: bool = False,
                    vibrato_augment_prob: float = 0.0) -> dict:
    """A batch of random crops for the Synthesis Generator.

    ``causal``: note conditioning of the causal Synthesis Generator
    (``features.causal_note_frame_features``). ``vibrato_rate``: the note oscillators are tuned
    to each note's measured vibrato rate (``SynthesisGeneratorConfig.vibrato_rate_input``),
    returned per note as ``seg_rates`` [N] (Hz); ``perturb_prob / 2`` of the notes ask for a
    random rate in 3.5-8.5 Hz instead (their regression masked when they carry vibrato).
    ``vibrato_augment_prob``: the fraction of plain notes (vibrato < 0.1, > 200 ms) whose f0
    target gets a vibrato in phase with one of their oscillators (``added_vibrato``; with
    ``vibrato_rate`` at a random 3.5-8.5 Hz; not with ``causal``).

    The first ``audio_examples`` rows (records must keep their audio) are neither augmented
    nor perturbed, so their conditioning describes their corpus audio, returned as ``audio``
    [audio_examples, crop_frames * hop_size] (zero-padded) for a spectral loss.

    Returns a dict of tensors: ``note_features`` [B, T, 14], ``expressions`` [B, T, 6],
    ``instrument_weights`` [B, 13], ``noise`` [B, T, n_noise], targets ``f0_dev`` [B, T]
    (semitones), ``amp_db`` [B, T], ``harmonic_distribution`` [B, T, K], ``noise_db`` [B, T, Nb],
    masks ``f0_mask`` and ``regress_mask`` [B, T], and per-note segments ``seg_batch``,
    ``seg_start``, ``seg_length`` (int64 [N]), ``seg_expressions`` [N, 6] and
    ``seg_vibrato_mask`` [N] (notes > 200 ms).
    """
    out = {k: [] for k in ("note_features", "expressions", "instrument_weights", "f0_dev",
                           "amp_db", "harmonic_distribution", "noise_db", "f0_mask",
                           "regress_mask")}
    segs = {k: [] for k in ("seg_batch", "seg_start", "seg_length", "seg_expressions",
                            "seg_vibrato_mask", "seg_rates")}
    audio = []
    for b in range(batch_size):
        rec = records[indices[b] if indices is not None else int(rng.integers(len(records)))]
        start, stop = _crop_bounds(rec, crop_frames, rng)
        n = stop - start
        clean = b < audio_examples
        if clean:
            if rec.audio is None:
                raise InputFileError(rec.example_id, "audio_examples needs records that keep "
                                                     "their audio (CorpusPool(keep_audio=True))")
            audio.append(_pad(rec.audio[start * hop_size:stop * hop_size].astype(np.float32),
                              crop_frames * hop_size))
        notes = clip_notes(rec.notes, start_s=start / frame_rate, end_s=stop / frame_rate,
                           frame_rate=frame_rate)
        params = rec.params(start, stop)
        amp_db = np.clip(amplitude_to_db(params.amplitude), AMP_DB_MIN, AMP_DB_MAX)
        hd = params.harmonic_distribution.astype(np.float64)
        hd = hd / np.maximum(hd.sum(1, keepdims=True), 1e-7)
        empty = hd.sum(1) < 0.5
        hd[empty] = 1.0 / hd.shape[1]
        noise_db = np.clip(amplitude_to_db(params.noise_magnitudes),
                           NOISE_DB_MIN, NOISE_DB_MAX)
        spans = note_spans(notes, n_frames=n, frame_rate=frame_rate)
        # parameter-space augmentation of brightness and attack noise, per note
        k = np.arange(1, hd.shape[1] + 1, dtype=np.float64)
        for (s0, s1) in spans:
            if clean:
                continue
            if s1 > s0 and rng.random() < augment_prob:
                gamma = rng.uniform(-1.0, 1.0)
                tilted = hd[s0:s1] * k[None, :] ** gamma
                hd[s0:s1] = tilted / np.maximum(tilted.sum(1, keepdims=True), 1e-12)
            if s1 > s0 and rng.random() < augment_prob:
                noise_db[s0:s1] = onset_transient(noise_db[s0:s1], rng, frame_rate=frame_rate)
        aug = SynthParams(params.f0_hz, db_to_amplitude(amp_db).astype(np.float32), hd,
                          db_to_amplitude(noise_db).astype(np.float32))
        regress = np.ones(n, np.float32)
        table = extract_note_expressions(aug, notes, frame_rate=frame_rate) if notes else None
        vibrated = [i for i, (s0, s1) in enumerate(spans)   # plain notes given a vibrato
                    if vibrato_augment_prob and not (clean or causal)
                    and s1 - s0 > _VIBRATO_MIN_FRAMES and table["vibrato"].iloc[i] < _PLAIN_VIBRATO
                    and rng.random() < vibrato_augment_prob]
        rates = None
        if vibrato_rate and notes:   # measured rates; some notes asked for another rate
            rates = table[VIBRATO_RATE_COLUMN].to_numpy(np.float64).copy()
            for i, (s0, s1) in enumerate(spans):
                if s1 > s0 and not clean and (i in vibrated or rng.random() < 0.5 * perturb_prob):
                    rates[i] = rng.uniform(*_TRAIN_RATE_HZ)
                    if table["vibrato"].iloc[i] >= RATE_MIN_VIBRATO:
                        regress[s0:s1] = 0.0   # its f0 target vibrates at the old rate
        feats, held = note_frame_features(notes, n_frames=n, frame_rate=frame_rate, causal=causal,
                                          vibrato_rates=rates)
        if vibrated:   # in phase with one of the note's oscillators, then measured again
            f0 = aug.f0_hz.astype(np.float64)
            for i in vibrated:
                s0, s1 = spans[i]
                column = OSCILLATOR_SINE_COLUMNS[int(rng.integers(len(OSCILLATOR_SINE_COLUMNS)))]
                f0[s0:s1] *= 2.0 ** (added_vibrato(feats[s0:s1, column], rng,
                                                   frame_rate=frame_rate) / 12.0)
            aug = dataclasses.replace(aug, f0_hz=f0.astype(np.float32))
            table = extract_note_expressions(aug, notes, frame_rate=frame_rate)
        if notes:
            values = table[list(EXPRESSION_NAMES)].to_numpy(np.float32).copy()
            for i, (s0, s1) in enumerate(spans):
                if s1 > s0 and not clean and rng.random() < perturb_prob:
                    j = int(rng.integers(_N_EXPR))
                    values[i, j] = rng.uniform(0.0, reachable_high(j, notes[i].pitch))
                    regress[s0:s1] = 0.0
            table[list(EXPRESSION_NAMES)] = values
            expr = expressions_to_frames(table, n_frames=n, frame_rate=frame_rate)
            for i, (s0, s1) in enumerate(spans):
                if s1 <= s0:
                    continue
                segs["seg_batch"].append(b)
                segs["seg_start"].append(s0)
                segs["seg_length"].append(s1 - s0)
                segs["seg_expressions"].append(values[i])
                segs["seg_vibrato_mask"].append(float(s1 - s0 > _VIBRATO_MIN_FRAMES))
                if rates is not None:
                    segs["seg_rates"].append(rates[i])
        else:
            expr = np.zeros((n, _N_EXPR), np.float32)
        midi = hz_to_midi(np.maximum(aug.f0_hz, 1e-3))
        dev = midi - held
        f0_mask = ((aug.f0_hz > 0) & (feats[:, 1] > 0) & (np.abs(dev) < _MAX_VOICED_DEV))
        weights = np.zeros(N_INSTRUMENTS, np.float32)
        weights[rec.instrument_index] = 1.0
        T = crop_frames
        out["note_features"].append(_pad(feats, T))
        out["expressions"].append(_pad(expr, T))
        out["instrument_weights"].append(weights)
        out["f0_dev"].append(_pad(np.where(f0_mask, dev, 0.0).astype(np.float32), T))
        out["amp_db"].append(_pad(amp_db.astype(np.float32), T, AMP_DB_MIN))
        out["harmonic_distribution"].append(_pad(hd.astype(np.float32), T, 1.0 / hd.shape[1]))
        out["noise_db"].append(_pad(noise_db.astype(np.float32), T, NOISE_DB_MIN))
        out["f0_mask"].append(_pad((f0_mask * regress).astype(np.float32), T))
        out["regress_mask"].append(_pad(regress, T))
    batch = {k: torch.from_numpy(np.stack(v)) for k, v in out.items()}
    batch["noise"] = torch.from_numpy(
        rng.standard_normal((batch_size, crop_frames, n_noise)).astype(np.float32))
    n_seg = len(segs["seg_batch"])
    batch["seg_batch"] = torch.as_tensor(segs["seg_batch"], dtype=torch.int64)
    batch["seg_start"] = torch.as_tensor(segs["seg_start"], dtype=torch.int64)
    batch["seg_length"] = torch.as_tensor(segs["seg_length"], dtype=torch.int64)
    batch["seg_expressions"] = torch.from_numpy(
        np.asarray(segs["seg_expressions"], np.float32).reshape(n_seg, _N_EXPR))
    batch["seg_vibrato_mask"] = torch.as_tensor(segs["seg_vibrato_mask"], dtype=torch.float32)
    if vibrato_rate:
        batch["seg_rates"] = torch.as_tensor(segs["seg_rates"], dtype=torch.float32)
    if audio_examples:
        batch["audio"] = torch.from_numpy(np.stack(audio))
    return batch


# --------------------------------------------------------------------------------------------
# Expression Generator batches
# --------------------------------------------------------------------------------------------

def expression_batch(records: Sequence[Record], rng: np.random.Generator, *, batch_size: int,
                     indices: "Sequence[int] | None" = None, crop_prob: float = 0.0,
                     min_crop_notes: int = 8, previous_noise: float = 0.0,
                     previous_dropout: float = 0.0, vibrato_rate: bool = False) -> dict:
    """A batch of note sequences for the Expression Generator.

    Each example is a whole record or, with probability ``crop_prob``, a random run of at least
    ``min_crop_notes`` consecutive notes of it (so the model also learns to start mid-phrase).
    Features are computed on the whole record, then cut. Against
    exposure bias (at generation time the decoder reads its own outputs, not the data) the
    previous note's expressions get Gaussian noise of sd ``previous_noise`` and are zeroed with
    probability ``previous_dropout`` per note.

    Returns ``note_features`` [B, N, N_NOTE_FEATURES], ``instrument_weights`` [B, 13],
    ``targets`` [B, N, E], ``previous`` [B, N, E] (targets shifted by one note, zeros first) and
    ``mask`` [B, N, E]. E is 6, or 7 with ``vibrato_rate``: the note's measured rate in
    ``sampling.rate_to_unit``'s unit, its loss masked on notes whose vibrato is under
    ``RATE_MIN_VIBRATO`` (no rate to measure).
    """
    chosen = [records[i if indices is None else i] for i in
              (indices if indices is not None else rng.integers(len(records), size=batch_size))]
    spans = []
    for rec in chosen:
        n = len(rec.notes)
        if crop_prob > 0 and n > min_crop_notes and rng.random() < crop_prob:
            length = int(rng.integers(min_crop_notes, n + 1))
            start = int(rng.integers(0, n - length + 1))
            spans.append((start, start + length))
        else:
            spans.append((0, n))
    n_max = max(b - a for a, b in spans)
    n_out = _N_EXPR + int(vibrato_rate)
    feats = np.zeros((len(chosen), n_max, N_NOTE_FEATURES), np.float32)
    targets = np.zeros((len(chosen), n_max, n_out), np.float32)
    mask = np.zeros((len(chosen), n_max, n_out), np.float32)
    weights = np.zeros((len(chosen), N_INSTRUMENTS), np.float32)
    for b, (rec, (start, stop)) in enumerate(zip(chosen, spans)):
        n = stop - start
        feats[b, :n] = note_sequence_features(rec.notes)[start:stop]
        targets[b, :n, :_N_EXPR] = rec.note_table[start:stop]
        mask[b, :n] = 1.0
        if vibrato_rate:
            targets[b, :n, _N_EXPR] = rate_to_unit(rec.vibrato_rates[start:stop])
            mask[b, :n, _N_EXPR] = rec.note_table[start:stop, VIBRATO_INDEX] >= RATE_MIN_VIBRATO
        weights[b, rec.instrument_index] = 1.0
    previous = np.concatenate([np.zeros_like(targets[:, :1]), targets[:, :-1]], axis=1)
    if previous_noise > 0:
        previous = previous + rng.normal(0.0, previous_noise, previous.shape).astype(np.float32)
    if previous_dropout > 0:
        previous = previous * (rng.random(previous.shape[:2]) >= previous_dropout)[..., None]
    previous[:, 0] = 0.0   # the first note's input stays the start token, as at generation
    previous = previous.astype(np.float32)
    return {"note_features": torch.from_numpy(feats), "instrument_weights": torch.from_numpy(weights),
            "targets": torch.from_numpy(targets), "previous": torch.from_numpy(previous),
            "mask": torch.from_numpy(mask)}


# --------------------------------------------------------------------------------------------
# DDSP Inference batches
# --------------------------------------------------------------------------------------------

def inference_batch(records: Sequence[Record], rng: np.random.Generator, *, batch_size: int,
                    crop_frames: int, hop_size: int = 64, sample_rate: int = 16000,
                    recorded_prob: float = 0.0, f0_error_prob: float = 0.0, gain_db: float = 0.0,
                    revoice_prob: float = 0.0,
                    indices: "Sequence[int] | None" = None) -> dict:
    """A batch of random crops for DDSP Inference (records must keep their audio).

    With ``revoice_prob`` a row's audio is instead rendered (dry synth) from its analysed
    parameters re-voiced at random (``midi_ddsp.recorded.revoice_params``), which are then its
    exact targets. With ``recorded_prob`` a row's audio is "recorded"
    (``midi_ddsp.recorded.degrade_audio``: a random room and noise), its loudness measured from
    that, and its parameter targets marked inexact (``exact`` 0: only the spectral loss against
    the recorded audio teaches it); with ``f0_error_prob`` its f0 input carries a pitch
    tracker's errors (``pitch_tracker_f0``); every row is scaled by a random gain of
    +-``gain_db`` dB, audio and targets alike.

    Returns ``audio`` [B, crop_frames * hop] (the input), ``target_audio`` (the audio to
    resynthesise: the input itself), ``exact`` [B] (1: the parameter targets are the audio's),
    ``f0_hz``, ``loudness_db`` [B, T], ``instrument_weights`` [B, 13] and targets ``amp_db``
    [B, T], ``harmonic_distribution`` [B, T, K], ``noise_db`` [B, T, Nb].
    """
    from midi_ddsp.dsp.spectral import a_weighted_loudness_db
    from midi_ddsp.dsp.blocks import render_synth_params
    from midi_ddsp.recorded import degrade_audio, pitch_tracker_f0, revoice_params

    frame_rate = sample_rate // hop_size
    keys = ("audio", "target_audio", "exact", "f0_hz", "loudness_db", "instrument_weights",
            "amp_db", "harmonic_distribution", "noise_db")
    out = {k: [] for k in keys}
    for b in range(batch_size):
        rec = records[indices[b] if indices is not None else int(rng.integers(len(records)))]
        start, stop = _crop_bounds(rec, crop_frames, rng)
        params = rec.params(start, stop)
        T = crop_frames
        draws = np.random.default_rng(rng.integers(1 << 62))  # the row's augmentation only
        revoiced = draws.random() < revoice_prob
        if revoiced:   # audio rendered from re-voiced params: the targets are exact
            params = revoice_params(params, draws)
            audio = render_synth_params(params, sample_rate=sample_rate,
                                        seed=int(draws.integers(1 << 31)))
        else:
            audio = rec.audio[start * hop_size: stop * hop_size]
        dry = _pad(audio.astype(np.float32), T * hop_size)
        loudness = _pad(rec.loudness_db[start:stop], T, -120.0)
        f0 = _pad(params.f0_hz, T)
        shift = float(draws.uniform(-gain_db, gain_db)) if gain_db > 0 else 0.0
        dry = dry * np.float32(db_to_amplitude(shift))
        audio = dry
        recorded = draws.random() < recorded_prob
        if recorded:
            audio = degrade_audio(dry, draws)
        if shift or revoiced or audio is not dry:   # loudness as measured from the input
            measured = a_weighted_loudness_db(audio, sample_rate=sample_rate,
                                              frame_rate=frame_rate)
            loudness = _pad(np.asarray(measured, np.float32)[:T], T, -120.0)
        if draws.random() < f0_error_prob:
            f0 = pitch_tracker_f0(f0, draws, frame_rate=frame_rate)
        hd = params.harmonic_distribution.astype(np.float64)
        hd = hd / np.maximum(hd.sum(1, keepdims=True), 1e-7)
        hd[hd.sum(1) < 0.5] = 1.0 / hd.shape[1]
        weights = np.zeros(N_INSTRUMENTS, np.float32)
        weights[rec.instrument_index] = 1.0
        out["audio"].append(audio)
        out["target_audio"].append(audio)
        out["exact"].append(np.float32(not recorded))
        out["f0_hz"].append(f0)
        out["loudness_db"].append(loudness)
        out["instrument_weights"].append(weights)
        out["amp_db"].append(_pad(np.clip(amplitude_to_db(params.amplitude) + shift,
                                          AMP_DB_MIN, AMP_DB_MAX).astype(np.float32), T, AMP_DB_MIN))
        out["harmonic_distribution"].append(_pad(hd.astype(np.float32), T, 1.0 / hd.shape[1]))
        out["noise_db"].append(_pad(np.clip(amplitude_to_db(params.noise_magnitudes) + shift,
                                            NOISE_DB_MIN, NOISE_DB_MAX).astype(np.float32), T,
                                    NOISE_DB_MIN))
    return {k: torch.from_numpy(np.stack(v)) for k, v in out.items()}
