"""The loss curve of a training run (``log.csv`` -> ``loss.png``)."""
from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

__all__ = ["plot_loss_curve"]


def plot_loss_curve(csv_path: Path, png_path: Path) -> None:
    """Plot a run's ``log.csv`` (train loss per log row, its running mean, validation loss)
    into ``png_path``, written atomically; nothing without matplotlib or rows."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover
        return
    rows = list(csv.DictReader(open(csv_path, encoding="utf-8")))
    if not rows:
        return
    steps = np.array([float(r["step"]) for r in rows])
    loss = np.array([float(r["loss"]) for r in rows])
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps, loss, lw=0.6, alpha=0.5, label="train (per log row)")
    if len(loss) >= 10:
        k = max(len(loss) // 50, 5)
        smooth = np.convolve(loss, np.ones(k) / k, mode="valid")
        ax.plot(steps[k - 1:], smooth, lw=1.5, label=f"train (mean of {k})")
    valid = [(float(r["step"]), float(r["valid_loss"])) for r in rows if r.get("valid_loss")]
    if valid:
        ax.plot(*zip(*valid), "o-", ms=3, label="validation")
    ax.set(xlabel="step", ylabel="loss", yscale="log")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    tmp = png_path.with_name(f".{png_path.name}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, png_path)
