"""Training losses of the three models (parameter-space regression, no audio synthesis).

Synthesis Generator: f0 deviation (low-passed, so the frame loss does not fight over the phase
of vibrato; vibrato extent is taught by the expression loss), amplitude dB, harmonic
distribution (cross-entropy), noise dB, plus expression consistency: the six expressions
measured on the output by ``note_expressions_torch`` against the conditioning; optionally
(``spectral_weight`` > 0, batches with ``audio``) the multi-scale spectral loss (DESIGN §8)
between the corpus audio and the output rendered dry through the differentiable synth.
"""
from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from midi_ddsp.dsp.spectral import multiscale_spectral_loss
from midi_ddsp.dsp.synthesizer import DDSPSynthesizer
from midi_ddsp.models.features import note_expressions_torch

__all__ = ["SynthesisLossWeights", "synthesis_loss", "render_controls", "expression_loss", "inference_loss"]

_DB_SCALE = 20.0          # dB errors are divided by this before squaring
_AUDIBLE_DB = -80.0       # harmonic distributions are fitted only where the amplitude exceeds this
_F0_SMOOTH_FRAMES = 31    # Hann low-pass (~125 ms) applied to f0 deviation before the f0 loss
_TRAIN_VIBRATO_BAND_HZ = (4.0, 7.5)   # vibrato measured here during training
_HIGH_BAND_HZ = (8.0, 60.0)           # pitch oscillation here is penalised


@dataclasses.dataclass(frozen=True)
class SynthesisLossWeights:
    f0: float = 20.0
    f0_raw: float = 1.0
    amp: float = 1.0
    harmonics: float = 1.0
    noise: float = 1.0
    expressions: float = 10.0
    vibrato_high: float = 10.0
    # per expression (volume, vol_fluc, vol_peak_pos, vibrato, brightness, attack): vol_fluc's
    # values (and so its errors) are ~3x smaller than the others', so it gets more weight
    expression_weights: tuple = (1.0, 4.0, 1.0, 1.0, 1.0, 1.0)


def _masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (x * mask).sum() / mask.sum().clamp(min=1.0)


def _smooth(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Masked Hann low-pass over frames of x [B, T]."""
    kernel = torch.hann_window(_F0_SMOOTH_FRAMES + 2, periodic=False)[1:-1]
    kernel = (kernel / kernel.sum())[None, None, :]
    pad = _F0_SMOOTH_FRAMES // 2
    num = F.conv1d((x * mask)[:, None], kernel, padding=pad)[:, 0]
    den = F.conv1d(mask[:, None], kernel, padding=pad)[:, 0]
    return num / den.clamp(min=1e-3)


def render_controls(out: dict, *, signal_config, n_rows: "int | None" = None,
                    seed: "int | None" = None, detach_f0: bool = True) -> torch.Tensor:
    """Dry audio [n_rows, n_frames * hop] of ``SynthesisGenerator.forward`` outputs, through the
    differentiable synth. With ``detach_f0`` no gradient reaches f0 (a spectral loss would
    fight over the phase of vibrato; f0 is taught in parameter space)."""
    rows = slice(None) if n_rows is None else slice(0, n_rows)
    synth = DDSPSynthesizer(signal_config)
    f0_hz = out["f0_hz"][rows]
    return synth(f0_hz.detach() if detach_f0 else f0_hz, torch.pow(10.0, out["amp_db"][rows] / 20.0),
                 out["harmonic_distribution"][rows], torch.pow(10.0, out["noise_db"][rows] / 20.0),
                 seed=seed)


def synthesis_loss(model, batch: dict, *, weights: SynthesisLossWeights = SynthesisLossWeights(),
                   frame_rate: int = 250, spectral_weight: float = 0.0) -> tuple[torch.Tensor, dict]:
    """Total loss and its named parts (floats) for one ``synthesis_batch``.

    With ``spectral_weight`` > 0 and ``batch["audio"]`` [n, n_samples] (the first n rows' corpus
    audio), adds ``spectral_weight`` x the multi-scale spectral loss of those rows rendered dry.
    """
    out = model(batch["note_features"], batch["expressions"], batch["instrument_weights"],
                batch["noise"])
    regress = batch["regress_mask"]
    f0_mask = batch["f0_mask"]
    parts = {}
    parts["f0"] = _masked_mean((_smooth(out["f0_dev"], f0_mask) - _smooth(batch["f0_dev"], f0_mask)) ** 2,
                               f0_mask)
    parts["f0_raw"] = _masked_mean((out["f0_dev"] - batch["f0_dev"]) ** 2, f0_mask)
    parts["amp"] = _masked_mean(((out["amp_db"] - batch["amp_db"]) / _DB_SCALE) ** 2, regress)
    ce = -(batch["harmonic_distribution"] * F.log_softmax(out["harmonic_logits"], -1)).sum(-1)
    ent = -(batch["harmonic_distribution"] * torch.log(batch["harmonic_distribution"].clamp(min=1e-8))).sum(-1)
    audible = regress * (batch["amp_db"] > _AUDIBLE_DB).float()
    parts["harmonics"] = _masked_mean(ce - ent, audible)   # KL divergence, audible frames
    parts["noise"] = _masked_mean((((out["noise_db"] - batch["noise_db"]) / _DB_SCALE) ** 2).mean(-1),
                                  regress)
    if batch["seg_batch"].numel():
        measured = note_expressions_torch(out["amp_db"], out["f0_dev"], out["harmonic_distribution"],
                                          out["noise_db"], batch["seg_batch"], batch["seg_start"],
                                          batch["seg_length"], frame_rate=frame_rate,
                                          vibrato_band_hz=_TRAIN_VIBRATO_BAND_HZ)
        # vibrato rate: measured in 4-7.5 Hz; a pitch oscillation above 8 Hz is penalised (the
        # extractor only counts peaks in 3-9 Hz; without this the rate drifted to ~9.3 Hz)
        high = note_expressions_torch(out["amp_db"], out["f0_dev"], out["harmonic_distribution"],
                                      out["noise_db"], batch["seg_batch"], batch["seg_start"],
                                      batch["seg_length"], frame_rate=frame_rate,
                                      vibrato_band_hz=_HIGH_BAND_HZ)[:, 3]
        parts["vibrato_high"] = (high ** 2).mean()
        err = (measured - batch["seg_expressions"]) ** 2
        err[:, 3] = err[:, 3] * batch["seg_vibrato_mask"]
        per = torch.tensor(weights.expression_weights, dtype=err.dtype)
        parts["expressions"] = (err * per).mean()
        with torch.no_grad():
            parts["expr_rmse"] = torch.sqrt(err.mean(0)).mean()
    else:
        parts["expressions"] = out["amp_db"].sum() * 0.0
        parts["vibrato_high"] = out["amp_db"].sum() * 0.0
    total = sum(getattr(weights, k) * v for k, v in parts.items() if k != "expr_rmse")
    if spectral_weight and "audio" in batch:
        target = batch["audio"]
        signal_config = getattr(model, "signal_config", None) or model.module.signal_config
        render = render_controls(out, signal_config=signal_config, n_rows=target.shape[0])
        parts["spectral"] = multiscale_spectral_loss(target, render[:, :target.shape[1]])
        total = total + spectral_weight * parts["spectral"]
    return total, {k: float(v.detach()) for k, v in parts.items()}


def expression_loss(model, batch: dict) -> tuple[torch.Tensor, dict]:
    """Teacher-forced loss of the Expression Generator: MSE of the mean + Gaussian NLL (spread)."""
    mean, log_std = model(batch["note_features"], batch["instrument_weights"], batch["previous"])
    mask = batch["mask"][..., None].expand_as(mean)
    err = (mean - batch["targets"]) ** 2
    mse = _masked_mean(err, mask)
    nll = _masked_mean(0.5 * err.detach() * torch.exp(-2 * log_std) + log_std, mask)
    return mse + 0.01 * nll, {"mse": float(mse.detach()), "rmse": float(torch.sqrt(mse.detach())),
                              "nll": float(nll.detach())}


def inference_loss(model, batch: dict) -> tuple[torch.Tensor, dict]:
    """Regression loss of DDSP Inference to the analysed parameters."""
    out = model(batch["audio"], batch["f0_hz"], batch["loudness_db"], batch["instrument_weights"])
    amp = (((out["amp_db"] - batch["amp_db"]) / _DB_SCALE) ** 2).mean()
    ce = -(batch["harmonic_distribution"] * F.log_softmax(out["harmonic_logits"], -1)).sum(-1)
    ent = -(batch["harmonic_distribution"] * torch.log(batch["harmonic_distribution"].clamp(min=1e-8))).sum(-1)
    harmonics = _masked_mean(ce - ent, (batch["amp_db"] > _AUDIBLE_DB).float())
    noise = (((out["noise_db"] - batch["noise_db"]) / _DB_SCALE) ** 2).mean()
    total = amp + harmonics + noise
    return total, {"amp": float(amp.detach()), "harmonics": float(harmonics.detach()),
                   "noise": float(noise.detach())}
