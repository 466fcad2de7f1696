"""Plots of the audio-domain evaluation: loudness envelopes and spectrograms beside FluidSynth's,
and control-fidelity curves measured from audio. matplotlib (Agg) is imported only here."""
from __future__ import annotations

import os
from typing import Mapping

import numpy as np

from midi_ddsp.expression import EXPRESSION_NAMES
from midi_ddsp.instruments import get_instrument

__all__ = ["plot_piece", "plot_fidelity"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_piece(name: str, mixes: Mapping[str, np.ndarray], *, sample_rate: int,
               path: "str | os.PathLike[str]") -> None:
    """Loudness envelope (A-weighted, 0.5 s moving mean) of each renderer's mix on one axis,
    and each mix's spectrogram (dB) below it."""
    from midi_ddsp.dsp.spectral import a_weighted_loudness_db

    plt = _pyplot()
    fig, axes = plt.subplots(1 + len(mixes), 1, figsize=(12, 3 + 2.5 * len(mixes)))
    rate = 250
    for label, audio in mixes.items():
        loud = np.asarray(a_weighted_loudness_db(np.asarray(audio, np.float32), sample_rate=sample_rate,
                                                 frame_rate=rate), np.float64)
        kernel = np.ones(rate // 2) / (rate // 2)
        smooth = np.convolve(loud, kernel, mode="same")
        axes[0].plot(np.arange(loud.size) / rate, smooth, label=label)
    axes[0].set_ylabel("A-weighted dB")
    axes[0].set_title(f"{name}: loudness envelope (0.5 s mean)")
    axes[0].legend()
    for ax, (label, audio) in zip(axes[1:], mixes.items()):
        n_fft = 1024
        x = np.asarray(audio, np.float64)
        frames = np.lib.stride_tricks.sliding_window_view(np.pad(x, (0, n_fft)), n_fft)[::256]
        spec = 20 * np.log10(np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1)) + 1e-9)
        ax.imshow(spec.T, origin="lower", aspect="auto", cmap="magma",
                  vmin=spec.max() - 90, vmax=spec.max(),
                  extent=[0, x.size / sample_rate, 0, sample_rate / 2])
        ax.set_ylabel(f"{label}\nHz")
    axes[-1].set_xlabel("s")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_fidelity(sweeps: dict, path: "str | os.PathLike[str]") -> None:
    """Requested vs measured (from audio) value of each control, one line per instrument family
    (mean over its instruments and registers)."""
    plt = _pyplot()
    fig, axes = plt.subplots(2, 3, figsize=(12, 7))
    families: dict = {}
    for instrument, regs in sweeps.items():
        fam = get_instrument(instrument).family
        for reg in regs.values():
            for control, summary in reg.items():
                families.setdefault(fam, {}).setdefault(control, []).append(summary["curve"])
    x = np.linspace(0, 1, 11)
    for ax, control in zip(axes.ravel(), EXPRESSION_NAMES):
        ax.plot([0, 1], [0, 1], "k--", lw=0.8)
        for fam, curves in families.items():
            ax.plot(x, np.nanmean(np.asarray(curves[control], np.float64), axis=0), label=fam)
        ax.set_title(control)
        ax.set_xlabel("requested")
        ax.set_ylabel("measured from audio")
    axes[0, 0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
