"""The studio's analysis picture of one part: spectrogram of its stem, its f0 over the notes and
its loudness, as PNG bytes (matplotlib's Agg canvas, no pyplot state: safe in server threads)."""
from __future__ import annotations

import io

import numpy as np
import pandas as pd

from midi_ddsp.dsp.units import amplitude_to_db, hz_to_midi
from midi_ddsp.synth_params import SynthParams

__all__ = ["analysis_png"]

_SPECTROGRAM_N_FFT = 1024
_SPECTROGRAM_HOP = 256
_SPECTROGRAM_RANGE_DB = 80.0    # dynamic range shown below the loudest bin
_VOICED_BELOW_PEAK_DB = 60.0    # f0 drawn where the amplitude is within this of its peak
_LOUDNESS_FLOOR_DB = -80.0


def analysis_png(audio: np.ndarray, params: SynthParams, note_table: pd.DataFrame, *,
                 sample_rate: int, frame_rate: int = 250, title: str = "") -> bytes:
    """Spectrogram (top), f0 over the piano roll (middle), A-weighted loudness (bottom).

    Args:
        audio: the part's stem, float32 [n_samples] at ``sample_rate``.
        params: the part's SynthParams at ``frame_rate`` (the f0 drawn is the model's).
        note_table: the part's NoteTable (the notes drawn under the f0).
        sample_rate: Hz.
        frame_rate: frames per second of ``params`` (Hz).
        title: figure title.

    Returns:
        PNG file bytes.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    from midi_ddsp.dsp.spectral import a_weighted_loudness_db, stft_magnitude

    x = np.asarray(audio, np.float32)
    magnitude = np.asarray(stft_magnitude(x, n_fft=_SPECTROGRAM_N_FFT, hop_size=_SPECTROGRAM_HOP))
    spec_db = amplitude_to_db(np.maximum(magnitude, 1e-9))
    top = float(spec_db.max()) if spec_db.size else 0.0
    loud = np.maximum(np.asarray(a_weighted_loudness_db(x, sample_rate=sample_rate,
                                                        frame_rate=frame_rate)), _LOUDNESS_FLOOR_DB)
    duration_s = x.shape[0] / float(sample_rate)

    fig = Figure(figsize=(11, 6.2), dpi=80)
    FigureCanvasAgg(fig)
    spec_ax, f0_ax, loud_ax = fig.subplots(3, 1, sharex=True,
                                           gridspec_kw={"height_ratios": [2.2, 2, 1.2]})
    spec_ax.imshow(spec_db.T, origin="lower", aspect="auto", cmap="magma",
                   vmin=top - _SPECTROGRAM_RANGE_DB, vmax=top,
                   extent=(0, duration_s, 0, sample_rate / 2000.0))
    spec_ax.set_ylabel("kHz")
    spec_ax.set_title(title or "spectrogram")

    for row in note_table.itertuples(index=False):
        f0_ax.add_patch(Rectangle((row.onset_s, row.pitch - 0.4), row.offset_s - row.onset_s, 0.8,
                                  facecolor="#4c78a8", alpha=0.3, edgecolor="#4c78a8"))
    t_s = np.arange(params.n_frames) / float(frame_rate)
    amp_db = amplitude_to_db(np.maximum(params.amplitude, 1e-9))
    voiced = (params.f0_hz > 0) & (amp_db > (amp_db.max() if amp_db.size else 0) -
                                    _VOICED_BELOW_PEAK_DB)
    f0_midi = np.where(voiced, hz_to_midi(np.maximum(params.f0_hz, 1e-3)), np.nan)
    f0_ax.plot(t_s, f0_midi, color="#d62728", linewidth=0.8)
    if len(note_table):
        f0_ax.set_ylim(float(note_table["pitch"].min()) - 2.5, float(note_table["pitch"].max()) + 2.5)
    f0_ax.set_ylabel("f0 (MIDI)")

    loud_ax.plot(np.arange(loud.shape[0]) / float(frame_rate), loud, color="black", linewidth=0.8)
    loud_ax.set_ylabel("loudness (dB A)")
    loud_ax.set_xlabel("time (s)")
    loud_ax.set_xlim(0, max(duration_s, 1e-3))
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
