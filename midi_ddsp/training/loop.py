"""One training loop for the three models: resumable, logged, optionally distributed.

``train(model, data_dir, out_dir, config=TrainConfig(...))`` writes into ``out_dir``:

- ``state.pt``: training checkpoint (model checkpoint dict + ``"training"``: optimizer, step,
  RNG states, ``TrainConfig``), saved atomically every ``save_every`` steps; ``resume=True``
  continues from it (model config and optimizer state from the file, never from logs);
- ``model.pt``: the latest model checkpoint (``midi_ddsp.models`` format, loadable by
  ``load_model``), ``best.pt``: the one with the lowest validation loss so far;
- ``log.csv``: one row per ``log_every`` steps (training loss parts, validation loss);
- ``loss.png``: the loss curves.

Devices: ``TrainConfig.device`` (``auto`` = CUDA when present); on CUDA, ``amp`` runs the forward
pass and losses in bfloat16 autocast (parameters and optimizer stay float32). Checkpoints hold
CPU tensors, so a model trained on a GPU loads on a CPU.

Under ``torchrun`` (``WORLD_SIZE`` > 1) the process group is initialised from the environment
(gloo on the CPU, nccl on GPUs, one GPU per rank by ``LOCAL_RANK``), the model is wrapped in
``DistributedDataParallel``, each rank draws its own batches and rank 0 alone writes files.
"""
from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import logging
import math
import os
import random
import time
from pathlib import Path

import numpy as np
import torch

from midi_ddsp.config import DEFAULT_SIGNAL_CONFIG
from midi_ddsp.devices import resolve_device
from midi_ddsp.errors import CheckpointError, InputFileError, ParameterError
from midi_ddsp.models.checkpoint import save_checkpoint_dict
from midi_ddsp.models.ddsp_inference import DDSPInference, DDSPInferenceConfig
from midi_ddsp.models.expression_generator import ExpressionGenerator, ExpressionGeneratorConfig
from midi_ddsp.models.synthesis_generator import SynthesisGenerator, SynthesisGeneratorConfig
from midi_ddsp.shards import corpus_version
from midi_ddsp.training.curves import plot_loss_curve
from midi_ddsp.training.datasets import CorpusPool, expression_batch, inference_batch, synthesis_batch
from midi_ddsp.training.losses import (SynthesisLossWeights, expression_loss, inference_loss,
                                       synthesis_loss)

__all__ = ["MODEL_NAMES", "TrainConfig", "TrainResult", "train", "build_model"]

logger = logging.getLogger(__name__)

MODEL_NAMES = ("synthesis", "expression", "inference")
_MODELS = {"synthesis": (SynthesisGenerator, SynthesisGeneratorConfig),
           "expression": (ExpressionGenerator, ExpressionGeneratorConfig),
           "inference": (DDSPInference, DDSPInferenceConfig)}
_N_VALID = 32


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Training hyper-parameters (saved in every training checkpoint).

    Attributes:
        steps: total optimisation steps (a resumed run continues up to this).
        batch_size: examples per step (per process under torchrun).
        learning_rate: Adam learning rate after warm-up.
        warmup_steps: linear warm-up.
        lr_half_life_steps: the learning rate halves every this many steps (exponential decay).
        min_learning_rate: floor of the decay.
        crop_frames: frames per training crop (Synthesis Generator, DDSP Inference).
        save_every: steps between checkpoints (and validations).
        log_every: steps between CSV rows.
        refresh_every: steps between scans for new shards (growing corpus); 0 = never.
        seed: seed of parameters, batches and noise.
        num_threads: torch intra-op threads.
        perturb_prob: Synthesis Generator: fraction of notes with one perturbed control. DDSP
            Inference: fraction of rows whose f0 input carries a pitch tracker's errors.
        augment_prob: Synthesis Generator: fraction of notes with tilted brightness/noise targets.
            DDSP Inference: fraction of rows whose input audio is "recorded" (room and noise).
        vibrato_augment_prob: Synthesis Generator: fraction of plain notes given a vibrato in
            phase with their oscillator features (``perturbation.added_vibrato``).
        gain_db: DDSP Inference: each row scaled by a random gain within +-gain_db dB.
        revoice_prob: DDSP Inference: fraction of rows whose audio is rendered from re-voiced
            analysed parameters (other noise levels and harmonic tilts; exact targets).
        crop_prob: Expression Generator: fraction of training sequences cut to a random run of
            notes (the rest are whole pieces).
        previous_noise, previous_dropout: Expression Generator: sd of the noise added to the
            previous note's expressions, and the probability of zeroing them (exposure bias).
        grad_clip: gradient-norm clip.
        tiny: use the model's ``tiny()`` config (tests).
        max_examples: load at most this many training examples (None = all).
        device: ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``.
        amp: on CUDA, bfloat16 autocast for the forward pass and the losses.
        spectral_loss_weight: Synthesis Generator and DDSP Inference: weight of the multi-scale
            spectral loss between the corpus audio and the output rendered dry through the
            differentiable synth (0 = parameter-space losses only).
        spectral_examples: rows per batch that carry audio for that loss (Synthesis Generator:
            neither augmented nor perturbed; at most ``batch_size``).
        f0_raw_weight: Synthesis Generator: weight of the frame-wise f0 loss (unsmoothed). It
            pulls a vibrato of unpredictable phase towards none, frame by frame, so long notes
            (many frames, one expression-loss term) lose vibrato; the smoothed one keeps pitch.
        vibrato_length_power: Synthesis Generator: ``SynthesisLossWeights.vibrato_length_power``.
        vibrato_rate: a new run's (or ``--init`` run's) model reads (Synthesis Generator,
            ``vibrato_rate_input``) or generates (Expression Generator, ``vibrato_rate_output``)
            the NoteTable's vibrato_rate column; a resumed run keeps its saved config.
        rate_only: Expression Generator: train its rate head alone (``train_rate_only``).
        mark_inputs: Expression Generator: a new run's (or the grown ``--init`` model's) model
            reads the notes' score marks (``ExpressionGeneratorConfig.mark_inputs``).
        marks_only: Expression Generator: train the mark inputs' weights alone
            (``train_marks_only``; unmarked notes keep generating what they did).
    """

    steps: int = 20000
    batch_size: int = 16
    learning_rate: float = 1e-3
    warmup_steps: int = 200
    lr_half_life_steps: int = 4000
    min_learning_rate: float = 5e-5
    crop_frames: int = 500
    save_every: int = 250
    log_every: int = 10
    refresh_every: int = 500
    seed: int = 0
    num_threads: int = 1
    perturb_prob: float = 0.3
    augment_prob: float = 0.5
    vibrato_augment_prob: float = 0.0
    gain_db: float = 0.0
    revoice_prob: float = 0.0
    crop_prob: float = 0.5
    previous_noise: float = 0.0
    previous_dropout: float = 0.0
    grad_clip: float = 1.0
    tiny: bool = False
    max_examples: "int | None" = None
    device: str = "auto"
    amp: bool = False
    spectral_loss_weight: float = 0.0
    spectral_examples: int = 4
    f0_raw_weight: float = 1.0
    vibrato_length_power: float = 0.0
    vibrato_rate: bool = False
    rate_only: bool = False
    mark_inputs: bool = False
    marks_only: bool = False

    def learning_rate_at(self, step: int) -> float:
        warm = min(1.0, (step + 1) / max(self.warmup_steps, 1))
        decay = 0.5 ** (max(step - self.warmup_steps, 0) / max(self.lr_half_life_steps, 1))
        return max(self.learning_rate * warm * decay, self.min_learning_rate * warm)


@dataclasses.dataclass
class TrainResult:
    """What a ``train`` call did."""

    model: torch.nn.Module
    step: int
    last_loss: float
    best_valid_loss: float
    wall_time_s: float
    out_dir: Path


def _with_vibrato_rate(name: str, model_config, *, tiny: bool):
    """``model_config`` (default: the model's default or tiny config) with the vibrato-rate
    column switched on (``TrainConfig.vibrato_rate``)."""
    field = {"synthesis": "vibrato_rate_input", "expression": "vibrato_rate_output"}.get(name)
    if field is None:
        raise ParameterError(f"vibrato_rate: only the synthesis and expression models read or "
                             f"generate the vibrato_rate column, not {name!r}")
    return _switched_on(name, model_config, field, tiny=tiny)


def _with_mark_inputs(name: str, model_config, *, tiny: bool):
    """``model_config`` with the score-mark inputs on (``TrainConfig.mark_inputs``)."""
    if name != "expression":
        raise ParameterError(f"mark_inputs: only the expression model reads score marks, not {name!r}")
    return _switched_on(name, model_config, "mark_inputs", tiny=tiny)


def _switched_on(name: str, model_config, field: str, *, tiny: bool):
    cfg_cls = _MODELS[name][1]
    base = model_config or (cfg_cls.tiny() if tiny else cfg_cls())
    return dataclasses.replace(base, **{field: True})


def build_model(name: str, *, tiny: bool = False, model_config=None) -> torch.nn.Module:
    """A fresh model of ``name`` ("synthesis", "expression", "inference")."""
    if name not in _MODELS:
        raise ParameterError(f"unknown model {name!r}; expected one of {', '.join(MODEL_NAMES)}")
    cls, cfg_cls = _MODELS[name]
    config = model_config or (cfg_cls.tiny() if tiny else cfg_cls())
    return cls(config, signal_config=DEFAULT_SIGNAL_CONFIG)


def _make_batch(name, model, records, rng, config: TrainConfig, *, indices=None, batch_size=None):
    bs = batch_size or config.batch_size
    signal = model.signal_config
    if name == "synthesis":
        return synthesis_batch(records, rng, batch_size=bs, crop_frames=config.crop_frames,
                               frame_rate=signal.frame_rate, n_noise=model.config.n_noise,
                               perturb_prob=config.perturb_prob, augment_prob=config.augment_prob,
                               indices=indices, audio_examples=_audio_examples(config, bs),
                               hop_size=signal.hop_size, causal=bool(model.config.causal),
                               vibrato_rate=bool(model.config.vibrato_rate_input),
                               vibrato_augment_prob=(config.vibrato_augment_prob
                                                     if indices is None else 0.0))
    if name == "expression":
        train = indices is None
        return expression_batch(records, rng, batch_size=bs, indices=indices,
                                crop_prob=config.crop_prob if train else 0.0,
                                previous_noise=config.previous_noise if train else 0.0,
                                previous_dropout=config.previous_dropout if train else 0.0,
                                vibrato_rate=bool(model.config.vibrato_rate_output))
    train = indices is None
    return inference_batch(records, rng, batch_size=bs, crop_frames=config.crop_frames,
                           hop_size=signal.hop_size, sample_rate=signal.sample_rate,
                           recorded_prob=config.augment_prob if train else 0.0,
                           f0_error_prob=config.perturb_prob if train else 0.0,
                           gain_db=config.gain_db if train else 0.0,
                           revoice_prob=config.revoice_prob if train else 0.0, indices=indices)


def _to_device(batch: dict, device: torch.device) -> dict:
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v
            for k, v in batch.items()}


def _audio_examples(config: TrainConfig, batch_size: int) -> int:
    """Rows of a batch whose output the spectral loss renders (Synthesis Generator: the rows that
    carry audio)."""
    if config.spectral_loss_weight <= 0:
        return 0
    return max(1, min(int(config.spectral_examples), batch_size))


def _loss(name, module, batch, frame_rate, config: TrainConfig):
    if name == "synthesis":
        return synthesis_loss(module, batch, frame_rate=frame_rate,
                              spectral_weight=config.spectral_loss_weight,
                              weights=SynthesisLossWeights(
                                  f0_raw=config.f0_raw_weight,
                                  vibrato_length_power=config.vibrato_length_power))
    if name == "expression":
        return expression_loss(module, batch)
    return inference_loss(module, batch, spectral_weight=config.spectral_loss_weight,
                          spectral_rows=_audio_examples(config, batch["audio"].shape[0]))


def _rng_state(rng: np.random.Generator) -> str:
    return json.dumps(rng.bit_generator.state)


def train(name: str, data_dir: "str | os.PathLike[str]", out_dir: "str | os.PathLike[str]", *,
          config: TrainConfig = TrainConfig(), resume: bool = False, model_config=None,
          progress: bool = True, model_card: "dict | None" = None,
          init_from: "str | os.PathLike[str] | None" = None) -> TrainResult:
    """Train model ``name`` on the shards under ``data_dir``, writing into ``out_dir``.

    Args:
        name: "synthesis", "expression" or "inference".
        data_dir: folder of ``.npz`` shards (split "train" for training, "valid" for validation;
            when no validation examples exist the first training examples stand in).
        out_dir: run folder (see module docstring).
        config: training hyper-parameters.
        resume: continue from ``out_dir/state.pt`` when it exists (its model config and
            optimizer state win over ``model_config``/``config.tiny``).
        model_config: model config dataclass (default: the model's default or ``tiny()``).
        progress: show a tqdm progress bar.
        model_card: extra entries for the model cards of ``model.pt``/``best.pt``.
        init_from: a model checkpoint of the same kind whose weights (and config) a new run
            starts from (fine-tuning); ignored when resuming.

    Returns:
        TrainResult (the trained model, final step, losses, wall time).

    Raises:
        InputFileError: no data folder or no usable training examples.
        CheckpointError: ``resume`` with an unreadable state file.
    """
    previous = torch.get_num_threads()
    try:   # the process keeps its own torch thread count (training sets config.num_threads)
        return _train(name, data_dir, out_dir, config=config, resume=resume,
                      model_config=model_config, progress=progress, model_card=model_card,
                      init_from=init_from)
    finally:
        torch.set_num_threads(previous)


def _train(name: str, data_dir: "str | os.PathLike[str]", out_dir: "str | os.PathLike[str]", *,
          config: TrainConfig = TrainConfig(), resume: bool = False, model_config=None,
          progress: bool = True, model_card: "dict | None" = None,
          init_from: "str | os.PathLike[str] | None" = None) -> TrainResult:
    """``train`` itself, at ``config.num_threads`` torch threads."""
    if name not in _MODELS:
        raise ParameterError(f"unknown model {name!r}; expected one of {', '.join(MODEL_NAMES)}")
    torch.set_num_threads(max(1, int(config.num_threads)))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    distributed = world > 1
    device = resolve_device(config.device)
    if device.type == "cuda" and distributed:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if distributed and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    is_main = rank == 0
    out_dir = Path(out_dir)
    if is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
    state_path = out_dir / "state.pt"

    keep_audio = name == "inference" or (name == "synthesis" and config.spectral_loss_weight > 0)
    pool = CorpusPool(data_dir, split="train", keep_audio=keep_audio,
                      frame_rate=DEFAULT_SIGNAL_CONFIG.frame_rate, max_examples=config.max_examples)
    pool.refresh()
    if not len(pool):
        raise InputFileError(data_dir, "no usable training examples (split 'train' with analysed "
                                       "amplitude/harmonics/noise and at least one note)")
    valid_pool = CorpusPool(data_dir, split="valid", keep_audio=keep_audio,
                            frame_rate=DEFAULT_SIGNAL_CONFIG.frame_rate, max_examples=_N_VALID)
    valid_pool.refresh()
    valid_records = valid_pool.records or pool.records[:_N_VALID]

    state = None
    if resume and state_path.exists():
        try:
            state = torch.load(state_path, map_location="cpu", weights_only=True)
            training = state["training"]
        except Exception as exc:  # noqa: BLE001 - any failure means an unusable state file
            raise CheckpointError(state_path, f"cannot resume ({type(exc).__name__}: {exc})") from None
        cls, cfg_cls = _MODELS[name]
        if state.get("kind") != cls.kind:
            raise CheckpointError(state_path, f"is a {state.get('kind')} state, expected {cls.kind}")
        model_config = cfg_cls.from_dict(state["config"])
    init = None
    if state is None and init_from is not None:
        from midi_ddsp.models.checkpoint import load_model
        init = load_model(init_from, kind=_MODELS[name][0].kind)
        if config.vibrato_rate and name == "expression":   # grown a rate output, zero-initialised
            init = init.with_rate_output()
        if config.mark_inputs and name == "expression":    # grown the mark inputs, likewise
            init = init.with_mark_inputs()
        model_config = init.config
    if state is None and config.vibrato_rate:
        model_config = _with_vibrato_rate(name, model_config, tiny=config.tiny)
    if state is None and config.mark_inputs:
        model_config = _with_mark_inputs(name, model_config, tiny=config.tiny)
    torch.manual_seed(config.seed + rank)
    model = build_model(name, tiny=config.tiny, model_config=model_config)
    if init is not None:
        model.load_state_dict(init.state_dict())
        logger.info("initialised %s from %s", name, init_from)
    if config.rate_only:   # the six expressions stay as they are
        if name != "expression":
            raise ParameterError("rate_only: only the Expression Generator has a rate head")
        model.train_rate_only()
    if config.marks_only:   # unmarked notes stay as they are
        if name != "expression":
            raise ParameterError("marks_only: only the Expression Generator reads marks")
        model.train_marks_only()
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    rng = np.random.default_rng(config.seed + 1000 * rank)
    step = 0
    best_valid = math.inf
    wall_before = 0.0
    if state is not None:
        model.load_state_dict(state["state_dict"])
        optimizer.load_state_dict(training["optimizer"])
        step = int(training["step"])
        best_valid = float(training.get("best_valid_loss", math.inf))
        wall_before = float(training.get("wall_time_s", 0.0))
        rng.bit_generator.state = json.loads(training["numpy_rng"])
        torch.set_rng_state(training["torch_rng"])
        random.seed(training.get("python_seed", 0) + step)
        logger.info("resumed %s from %s at step %d", name, state_path, step)
    module = model
    if distributed:
        module = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) \
        if config.amp and device.type == "cuda" else contextlib.nullcontext

    valid_batch = _make_batch(name, model, valid_records, np.random.default_rng(12345), config,
                              indices=[i % len(valid_records) for i in range(_N_VALID)],
                              batch_size=_N_VALID)
    valid_batch = _to_device(valid_batch, device)
    frame_rate = model.signal_config.frame_rate
    csv_path = out_dir / "log.csv"
    fieldnames = None
    if csv_path.exists() and is_main:
        with open(csv_path, encoding="utf-8") as f:
            reader = csv.DictReader(f)
            fieldnames = reader.fieldnames
            kept = [r for r in reader if float(r["step"]) <= step]
        with open(csv_path, "w", newline="", encoding="utf-8") as f:  # drop rows after the state
            writer = csv.DictWriter(f, fieldnames=fieldnames)
            writer.writeheader()
            writer.writerows(kept)

    data_version = corpus_version(data_dir)

    def card(extra: dict) -> dict:
        c = {"model": name, "data": str(data_dir), "steps": step, "train_config":
             dataclasses.asdict(config), "n_train_examples": len(pool),
             "n_parameters": sum(p.numel() for p in model.parameters()),
             "wall_time_s": round(wall_before + time.time() - t_start, 1)}
        if data_version:
            c["data_version"] = data_version
        if init_from is not None and state is None:
            c["init_from"] = str(init_from)
        c.update(model_card or {})
        c.update(extra)
        return c

    def save(valid_loss: float) -> None:
        nonlocal best_valid
        payload = model.checkpoint_payload(model_card=card({"valid_loss": valid_loss}))
        training = {"optimizer": optimizer.state_dict(), "step": step,
                    "numpy_rng": _rng_state(rng), "torch_rng": torch.get_rng_state(),
                    "train_config": dataclasses.asdict(config), "best_valid_loss": min(best_valid, valid_loss),
                    "wall_time_s": wall_before + time.time() - t_start}
        save_checkpoint_dict(state_path, {**payload, "training": training})
        save_checkpoint_dict(out_dir / "model.pt", payload)
        if valid_loss < best_valid:
            best_valid = valid_loss
            save_checkpoint_dict(out_dir / "best.pt", payload)

    def validate() -> tuple[float, dict]:
        model.eval()
        with torch.no_grad(), autocast():
            loss, parts = _loss(name, model, valid_batch, frame_rate, config)
        model.train()
        return float(loss), parts

    t_start = time.time()
    bar = None
    if progress and is_main:
        from tqdm import tqdm
        bar = tqdm(total=config.steps, initial=step, desc=f"train {name}", dynamic_ncols=True)
    last_loss = math.nan
    model.train()
    while step < config.steps:
        if config.refresh_every and step and step % config.refresh_every == 0:
            added = pool.refresh()
            if added:
                logger.info("loaded %d new training examples (%d in all)", added, len(pool))
        lr = config.learning_rate_at(step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = _to_device(_make_batch(name, model, pool.records, rng, config), device)
        with autocast():
            loss, parts = _loss(name, module, batch, frame_rate, config)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        step += 1
        last_loss = float(loss.detach())
        if not math.isfinite(last_loss):
            raise RuntimeError(f"training diverged at step {step} (loss {last_loss})")
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{last_loss:.4f}")
        saving = step % config.save_every == 0 or step == config.steps
        if is_main and (step % config.log_every == 0 or saving):
            row = {"step": step, "time_s": round(wall_before + time.time() - t_start, 2),
                   "lr": f"{lr:.3g}", "loss": f"{last_loss:.6g}",
                   **{k: f"{v:.6g}" for k, v in sorted(parts.items())}, "valid_loss": ""}
            if saving:
                valid_loss, valid_parts = validate()
                row["valid_loss"] = f"{valid_loss:.6g}"
                save(valid_loss)
            if fieldnames is None:
                fieldnames = list(row)
                with open(csv_path, "w", newline="", encoding="utf-8") as f:
                    csv.DictWriter(f, fieldnames=fieldnames).writeheader()
            with open(csv_path, "a", newline="", encoding="utf-8") as f:
                csv.DictWriter(f, fieldnames=fieldnames, extrasaction="ignore").writerow(row)
            if saving:
                plot_loss_curve(csv_path, out_dir / "loss.png")
    if bar is not None:
        bar.close()
    if distributed:
        torch.distributed.barrier()
    model.model_card = card({})
    return TrainResult(model=model, step=step, last_loss=last_loss, best_valid_loss=best_valid,
                       wall_time_s=wall_before + time.time() - t_start, out_dir=out_dir)
