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
import math

import torch
import torch.nn.functional as F

from midi_ddsp.dsp.spectral import multiscale_spectral_loss
from midi_ddsp.dsp.synthesizer import DDSPSynthesizer
from midi_ddsp.expression.definitions import (ATTACK_DB_PER_UNIT, ATTACK_OFFSET, ATTACK_S,
                                              VIBRATO_RATE_HZ)

__all__ = ["SynthesisLossWeights", "synthesis_loss", "render_controls", "expression_loss", "inference_loss",
           "note_expressions_torch"]

_DB_SCALE = 20.0          # dB errors are divided by this before squaring
_AUDIBLE_DB = -80.0       # harmonic distributions are fitted only where the amplitude exceeds this
_F0_SMOOTH_FRAMES = 31    # Hann low-pass (~125 ms) applied to f0 deviation before the f0 loss
_TRAIN_VIBRATO_BAND_HZ = (4.0, 7.5)   # vibrato measured here during training
_HIGH_BAND_HZ = (8.0, 60.0)           # pitch oscillation here is penalised
_RATE_BAND_HZ = 0.75    # with note rates: vibrato measured within this of the note's rate
_OFF_RATE_HZ = 1.25     # and penalised further than this from it
_SOFT_ARGMAX_PER_DB = 3.0   # sharpness of the soft arg-max of the level in vol_peak_pos (1/dB)


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
    # each note's vibrato term weighted by (its length / the mean length) ** this: the f0 losses
    # count frames, so with 0 a long note's vibrato is outweighed by its frames' pull
    vibrato_length_power: float = 0.0


def _masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (x * mask).sum() / mask.sum().clamp(min=1.0)


def _length_weights(length: torch.Tensor, mask: torch.Tensor, power: float) -> torch.Tensor:
    """Per-note weights [N]: (length / mean length of the masked notes) ** power."""
    if not power:
        return torch.ones_like(mask)
    frames = length.to(mask.dtype)
    mean = (frames * mask).sum() / mask.sum().clamp(min=1.0)
    return (frames / mean.clamp(min=1.0)) ** power


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
        def vibrato_in(band):
            return note_expressions_torch(out["amp_db"], out["f0_dev"], out["harmonic_distribution"],
                                          out["noise_db"], batch["seg_batch"], batch["seg_start"],
                                          batch["seg_length"], frame_rate=frame_rate,
                                          vibrato_band_hz=band)

        # vibrato rate: measured in 4-7.5 Hz; a pitch oscillation above 8 Hz is penalised (the
        # extractor only counts peaks in 3-9 Hz; without this the rate drifted to ~9.3 Hz). With
        # each note's rate (``seg_rates``): measured within +-0.75 Hz of it, and a pitch
        # oscillation further from it than the main lobe of its spectral peak (and 1.25 Hz),
        # within 3-60 Hz, is penalised.
        rates = batch.get("seg_rates")
        if rates is None:
            measured = vibrato_in(_TRAIN_VIBRATO_BAND_HZ)
            off_rate = vibrato_in(_HIGH_BAND_HZ)[:, 3] ** 2
        else:
            measured = vibrato_in(torch.stack([rates - _RATE_BAND_HZ, rates + _RATE_BAND_HZ], 1))
            # beyond the window's main lobe (+-2 / note length) of a vibrato at the note's rate
            note_s = batch["seg_length"].to(rates.dtype) / frame_rate
            off = torch.clamp(2.0 / note_s, min=_OFF_RATE_HZ)
            top = torch.full_like(rates, _HIGH_BAND_HZ[1])
            bottom = torch.full_like(rates, VIBRATO_RATE_HZ[0])
            off_rate = (vibrato_in(torch.stack([rates + off, top], 1))[:, 3] ** 2
                        + vibrato_in(torch.stack([bottom, rates - off], 1))[:, 3] ** 2)
        parts["vibrato_high"] = off_rate.mean()
        err = (measured - batch["seg_expressions"]) ** 2
        vibrato_mask = batch["seg_vibrato_mask"]
        err[:, 3] = err[:, 3] * vibrato_mask * _length_weights(
            batch["seg_length"], vibrato_mask, weights.vibrato_length_power)
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
    mask = batch["mask"]
    err = (mean - batch["targets"]) ** 2
    mse = _masked_mean(err, mask)
    nll = _masked_mean(0.5 * err.detach() * torch.exp(-2 * log_std) + log_std, mask)
    return mse + 0.01 * nll, {"mse": float(mse.detach()), "rmse": float(torch.sqrt(mse.detach())),
                              "nll": float(nll.detach())}


def inference_loss(model, batch: dict, *, spectral_weight: float = 0.0,
                   spectral_rows: int = 0) -> tuple[torch.Tensor, dict]:
    """Regression loss of DDSP Inference to the analysed parameters (rows whose ``exact`` is 1,
    all rows without it); with ``spectral_weight`` > 0, plus that weight x the multi-scale
    spectral loss between ``batch["target_audio"]`` and the first ``spectral_rows`` rows'
    outputs rendered dry on their input f0."""
    out = model(batch["audio"], batch["f0_hz"], batch["loudness_db"], batch["instrument_weights"])
    exact = batch.get("exact")
    rows = torch.ones_like(batch["amp_db"][:, 0]) if exact is None else exact
    frames = rows[:, None].expand_as(batch["amp_db"])
    amp = _masked_mean(((out["amp_db"] - batch["amp_db"]) / _DB_SCALE) ** 2, frames)
    ce = -(batch["harmonic_distribution"] * F.log_softmax(out["harmonic_logits"], -1)).sum(-1)
    ent = -(batch["harmonic_distribution"] * torch.log(batch["harmonic_distribution"].clamp(min=1e-8))).sum(-1)
    harmonics = _masked_mean(ce - ent, (batch["amp_db"] > _AUDIBLE_DB).float() * frames)
    noise = _masked_mean((((out["noise_db"] - batch["noise_db"]) / _DB_SCALE) ** 2).mean(-1),
                         frames)
    total = amp + harmonics + noise
    parts = {"amp": float(amp.detach()), "harmonics": float(harmonics.detach()),
             "noise": float(noise.detach())}
    if spectral_weight and spectral_rows and "target_audio" in batch:
        target = batch["target_audio"][:spectral_rows]
        signal_config = getattr(model, "signal_config", None) or model.module.signal_config
        render = render_controls({**out, "f0_hz": batch["f0_hz"]}, signal_config=signal_config,
                                 n_rows=spectral_rows)
        spectral = multiscale_spectral_loss(target, render[:, :target.shape[1]])
        total = total + spectral_weight * spectral
        parts["spectral"] = float(spectral.detach())
    return total, parts


def note_expressions_torch(amp_db: torch.Tensor, f0_dev: torch.Tensor,
                           harmonic_distribution: torch.Tensor, noise_db: torch.Tensor,
                           seg_batch: torch.Tensor, seg_start: torch.Tensor,
                           seg_length: torch.Tensor, *, frame_rate: int = 250,
                           vibrato_band_hz: "tuple[float, float] | torch.Tensor" = VIBRATO_RATE_HZ,
                           ) -> torch.Tensor:
    """The six note expressions of many notes, differentiable (training loss only).

    Args:
        amp_db: harmonic amplitude in dB, [batch, n_frames].
        f0_dev: f0 deviation from the written pitch in semitones, [batch, n_frames].
        harmonic_distribution: normalised (sums to 1), [batch, n_frames, n_harmonics].
        noise_db: noise-band magnitudes in dB, [batch, n_frames, n_bands].
        seg_batch, seg_start, seg_length: int64 [n_notes]: batch row, first frame and number of
            frames (>= 1) of each note.

    Returns:
        [n_notes, 6] in ``EXPRESSION_NAMES`` order. Same formulas as
        ``extract_note_expressions`` except vol_peak_pos (soft arg-max) and vibrato (maximum
        over ``vibrato_band_hz``, default 3-9 Hz, or one (low, high) band per note as an
        [n_notes, 2] tensor; every note counted; the caller masks notes <= 200 ms). Training measures vibrato in a narrower band and penalises energy above it,
        so the generated rate stays well inside the extractor's 3-9 Hz window.
    """
    n_frames = amp_db.shape[1]
    max_len = int(seg_length.max().item()) if seg_length.numel() else 1
    ar = torch.arange(max_len, device=amp_db.device)
    idx = (seg_start[:, None] + ar[None, :]).clamp(max=n_frames - 1)
    mask = (ar[None, :] < seg_length[:, None]).float()
    length = seg_length.float()
    rows = seg_batch[:, None]

    def masked_mean(x):
        return (x * mask).sum(1) / length

    level = amp_db[rows, idx]
    mean_level = masked_mean(level)
    volume = mean_level / 60.0 + 1.5
    var = masked_mean((level - mean_level[:, None]) ** 2)
    vol_fluc = torch.sqrt(var + 1e-4) * 2.5 / 60.0
    logits = (level - level.detach().max(1, keepdim=True).values) * _SOFT_ARGMAX_PER_DB
    logits = logits.masked_fill(mask == 0, -1e9)
    weights = torch.softmax(logits, dim=1)
    vol_peak_pos = (weights * ar[None, :].float()).sum(1) / length

    dev = f0_dev[rows, idx]
    dev = (dev - masked_mean(dev)[:, None]) * mask
    denom = (length - 1).clamp(min=1)[:, None]
    window = (0.5 - 0.5 * torch.cos(2 * math.pi * ar[None, :].float() / denom)) * mask
    n_fft = max(1024, 4 * (1 << max(max_len - 1, 1).bit_length()))
    spectrum = torch.fft.rfft(dev * window, n=n_fft).abs() / length[:, None]
    freqs = torch.arange(spectrum.shape[1], device=amp_db.device) * frame_rate / n_fft
    if isinstance(vibrato_band_hz, torch.Tensor):   # one band per note
        band = (freqs[None] >= vibrato_band_hz[:, :1]) & (freqs[None] <= vibrato_band_hz[:, 1:])
        vibrato = 10.0 * spectrum.masked_fill(~band, 0.0).max(1).values
    else:
        band = (freqs >= vibrato_band_hz[0]) & (freqs <= vibrato_band_hz[1])
        vibrato = 10.0 * spectrum[:, band].max(1).values

    k = torch.arange(1, harmonic_distribution.shape[-1] + 1, device=amp_db.device,
                     dtype=harmonic_distribution.dtype)
    centroid = harmonic_distribution @ k                                  # [B, T]
    brightness = 5.0 * masked_mean(centroid[rows, idx]) / 60.0

    n_attack = max(1, int(round(ATTACK_S * frame_rate)))
    attack_mask = mask * (ar[None, :] < n_attack).float()
    noise_level = noise_db.mean(-1)[rows, idx]
    attack = (noise_level * attack_mask).sum(1) / attack_mask.sum(1) / ATTACK_DB_PER_UNIT + ATTACK_OFFSET
    return torch.stack([volume, vol_fluc, vol_peak_pos, vibrato, brightness, attack], dim=1)
