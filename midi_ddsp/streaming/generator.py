"""The causal Synthesis Generator, one block of frames at a time (numpy).

``StreamingGenerator(model, n_voices)`` copies the weights of a causal ``SynthesisGenerator``
(``SynthesisGeneratorConfig.streaming()``) and keeps, per voice and per residual block, the last
``2 * dilation`` normalised frames its kernel-3 causal convolution reaches back to. ``step``
then gives exactly what the model's frame-parallel ``forward`` gives on the whole sequence
(float32 rounding aside), with no look-ahead: frame t needs only frames <= t. The raw outputs
become controls through ``controls_from_outputs``, the model's own scaling (numpy here).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from scipy.special import erf

from midi_ddsp.errors import ParameterError
from midi_ddsp.models.synthesis_generator import SynthesisGenerator, controls_from_outputs

__all__ = ["StreamingGenerator"]


def _conv1x1(conv: torch.nn.Conv1d) -> tuple[np.ndarray, np.ndarray]:
    """(W [in, out], b [out]) of a kernel-1 Conv1d, for x [.., in] @ W + b."""
    return (conv.weight.detach()[:, :, 0].T.numpy().astype(np.float32).copy(),
            conv.bias.detach().numpy().astype(np.float32).copy())


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


class StreamingGenerator:
    """Block-by-block inference of a causal Synthesis Generator for ``n_voices`` voices.

    Args:
        model: a ``SynthesisGenerator`` whose config has ``causal=True``.
        n_voices: voices run side by side (batch rows with their own history).
        max_frames: most frames one ``step`` takes.
    """

    def __init__(self, model: SynthesisGenerator, n_voices: int, *, max_frames: int = 64):
        if not model.config.causal:
            raise ParameterError("streaming needs a causal Synthesis Generator "
                                 "(SynthesisGeneratorConfig.streaming()); this one sees the future")
        c = model.config
        self.signal_config = model.signal_config
        self.n_voices, self.max_frames = int(n_voices), int(max_frames)
        self.expression_gain = float(c.expression_gain)
        self.n_noise = int(c.n_noise)
        self.table = model.embedding.table.detach().numpy().astype(np.float32).copy()
        stack = model.stack
        self.w_in, self.b_in = _conv1x1(stack.inp)
        self.channels = C = int(c.channels)
        self.blocks = []
        cond_w, cond_b = [], []
        for block in stack.blocks:
            weight = block.conv.weight.detach().numpy().astype(np.float32)   # [2C, C, 3]
            d = int(block.conv.dilation[0])
            norm = block.norm.norm
            w_cond, b_cond = _conv1x1(block.cond)
            # the gate tanh(a) * sigmoid(b) = tanh(a) * (1 + tanh(b / 2)) / 2: the halves are
            # folded into the weights, so one tanh over [a, b / 2] and a product remain
            half = np.concatenate([np.ones(C, np.float32), np.full(C, 0.5, np.float32)])
            cond_w.append(w_cond * half)
            cond_b.append((b_cond + block.conv.bias.detach().numpy().astype(np.float32)) * half)
            size = 2 * d + self.max_frames
            out_weight, out_bias = _conv1x1(block.out)
            self.blocks.append({
                "dilation": d,
                # taps (t - 2d, t - d, t) stacked: [3C, 2C]
                "taps": np.concatenate([weight[:, :, j].T for j in range(3)], axis=0) * half,
                "out": (out_weight * 0.5, out_bias),
                "norm": (norm.weight.detach().numpy().astype(np.float32).copy(),
                         norm.bias.detach().numpy().astype(np.float32).copy(), float(norm.eps)),
                # ring buffer of the normalised frames the kernel reaches back to
                "history": np.zeros((self.n_voices, size, C), np.float32),
                "size": size,
            })
        # every block's conditioning projection (and conv bias) in one matmul
        self.w_cond = np.concatenate(cond_w, axis=1)
        self.b_cond = np.concatenate(cond_b)
        self.position = 0
        self._tap_offsets = [np.array([[2 * b["dilation"]], [b["dilation"]], [0]])
                             for b in self.blocks]
        self.head = []
        for module in model.head:
            if isinstance(module, torch.nn.Conv1d):
                if module.kernel_size[0] != 1:
                    raise ParameterError("streaming needs a one-frame head (head_kernel=1)")
                self.head.append(_conv1x1(module))
            else:
                self.head.append(None)   # GELU

    def reset(self) -> None:
        """Forget every voice's history (as at the start of a sequence)."""
        for block in self.blocks:
            block["history"][:] = 0.0
        self.position = 0

    def step(self, note_features: np.ndarray, expressions: np.ndarray,
             instrument_weights: np.ndarray, noise: np.ndarray) -> dict:
        """The next F frames of every voice.

        Args:
            note_features: [V, F, 14] (``features.causal_note_frame_features`` rows).
            expressions: [V, F, 6] (rests 0).
            instrument_weights: [13] or [V, 13] blend weights.
            noise: [V, F, n_noise] standard Gaussian.

        Returns:
            ``controls_from_outputs`` of the frames (numpy): ``f0_dev`` [V, F], ``f0_hz``,
            ``amp_db``, ``harmonic_distribution`` [V, F, 60], ``noise_db`` [V, F, 65], ...
        """
        V, F = note_features.shape[:2]
        if V != self.n_voices or not 1 <= F <= self.max_frames:
            raise ParameterError(f"step takes [{self.n_voices}, 1..{self.max_frames}, ...] inputs; "
                                 f"got {tuple(note_features.shape)}")
        weights = np.asarray(instrument_weights, np.float32)
        emb = weights @ self.table
        emb = np.broadcast_to(emb if emb.ndim == 2 else emb[None], (V, emb.shape[-1]))
        cond = np.concatenate([note_features.astype(np.float32),
                               self.expression_gain * expressions.astype(np.float32),
                               np.broadcast_to(emb[:, None, :], (V, F, emb.shape[-1]))], axis=-1)
        h = np.concatenate([cond, noise.astype(np.float32)], axis=-1) @ self.w_in + self.b_in
        C = self.channels
        inv_c = np.float32(1.0 / C)
        projected = cond @ self.w_cond + self.b_cond                  # [V, F, L * 2C]
        frames = self.position + np.arange(F)
        for index, block in enumerate(self.blocks):
            d, hist, size = block["dilation"], block["history"], block["size"]
            scale, shift, eps = block["norm"]
            x = h - np.add.reduce(h, axis=-1, keepdims=True) * inv_c
            var = np.add.reduce(x * x, axis=-1, keepdims=True) * inv_c
            if F == 1:   # the live case: three rows of the ring
                p = self.position
                hist[:, p % size] = (x / np.sqrt(var + eps) * scale + shift)[:, 0]
                taps = hist[:, [(p - 2 * d) % size, (p - d) % size, p % size]].reshape(V, 1, 3 * C)
            else:
                hist[:, frames % size] = x / np.sqrt(var + eps) * scale + shift
                taps = hist[:, (frames[None, :] - self._tap_offsets[index]) % size]  # [V,3,F,C]
                taps = taps.transpose(0, 2, 1, 3).reshape(V, F, 3 * C)
            y = taps @ block["taps"] + projected[..., index * 2 * C:(index + 1) * 2 * C]
            t = np.tanh(y)
            h = h + (t[..., :C] * (1.0 + t[..., C:])) @ block["out"][0] + block["out"][1]
        self.position += F
        z = np.concatenate([h, cond], axis=-1)
        for layer in self.head:
            z = _gelu(z) if layer is None else z @ layer[0] + layer[1]
        return controls_from_outputs(z.astype(np.float32, copy=False),
                                     note_features[..., 0].astype(np.float32),
                                     signal_config=self.signal_config)
