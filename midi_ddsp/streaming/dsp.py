"""Block-by-block DDSP synthesis for the streaming engine: harmonic + filtered noise of many
voices one control frame at a time, and an exact partitioned-convolution reverb.

Both reproduce the offline ``midi_ddsp.dsp.DDSPSynthesizer`` and ``apply_reverb`` sample for
sample (up to float32 rounding), delayed by a fixed latency: the harmonic synth interpolates
between two frames and the noise FIR reaches half its length (one model hop) before its frame,
so the audio between frames t-1 and t is known once frame t's controls are; at an output rate
other than the model's, the band-limited noise resampler needs one more frame. State carried
across blocks: each voice's phase (float64 cycles) and last controls, the noise overlap-add tail,
the noise resampler's context and the reverb's input spectra. All buffers are allocated at
construction.
"""
from __future__ import annotations

import math

import numpy as np

from midi_ddsp.dsp.synths import (NOISE_BLOCK_SAMPLES, frequency_impulse_response_numpy,
                                  noise_block)
from midi_ddsp.dsp.synthesizer import _resampling_kernel
from midi_ddsp.errors import ParameterError

__all__ = ["BlockSynth", "PartitionedReverb", "voice_noise_seed"]


def voice_noise_seed(seed: int, voice: int) -> int:
    """Seed of voice ``voice``'s noise (``white_noise`` row 0): ``seed * 64 + voice``."""
    return int(seed) * 64 + int(voice)


class _VoiceNoise:
    """The seeded uniform noise of ``white_noise(seed=voice seed)`` row 0, read sequentially in
    [-1, 1). Two preallocated 16384-sample buffers: the next block is drawn into the spare one
    once the read passes ``prefetch_at`` samples into the current block (staggered per voice,
    so the voices do not all draw in the same audio block)."""

    def __init__(self, seed: int, *, prefetch_at: int = NOISE_BLOCK_SAMPLES // 2):
        self.seed = int(seed)
        self.prefetch_at = int(prefetch_at)
        self.buffers = np.zeros((2, NOISE_BLOCK_SAMPLES), np.float32)
        self.held = [-1, -1]        # block index in each buffer
        self.position = 0

    def _block(self, index: int) -> np.ndarray:
        if index in self.held:
            return self.buffers[self.held.index(index)]
        slot = 0 if self.held[0] < self.held[1] else 1     # overwrite the older block
        np.multiply(noise_block(self.seed, 0, index).numpy(), 2.0, out=self.buffers[slot])
        self.buffers[slot] -= 1.0
        self.held[slot] = index
        return self.buffers[slot]

    def read(self, out: np.ndarray) -> None:
        n, filled = out.shape[0], 0
        while filled < n:
            block, offset = divmod(self.position, NOISE_BLOCK_SAMPLES)
            take = min(n - filled, NOISE_BLOCK_SAMPLES - offset)
            out[filled:filled + take] = self._block(block)[offset:offset + take]
            filled += take
            self.position += take
        block, offset = divmod(self.position, NOISE_BLOCK_SAMPLES)
        if offset >= self.prefetch_at:
            self._block(block + 1)


class BlockSynth:
    """Harmonic + filtered-noise synthesis of ``n_voices`` voices, frame by frame.

    ``render(f0_hz, harmonic_amplitudes, noise_magnitudes)`` takes the controls of the next F
    frames and returns F frames of audio per voice; the audio is the offline synth's output
    delayed by ``latency_samples`` (one output hop at the model rate, two otherwise).

    Args:
        n_voices: voices rendered side by side (each its own phase and noise stream).
        sample_rate: output rate, a multiple of ``frame_rate``.
        model_rate: the models' rate (16 kHz): noise bands span its 0..Nyquist and harmonics at
            or above its Nyquist are silent, as in the offline synth.
        max_frames: most frames one ``render`` call takes.
        seed: noise seed; voice v draws ``white_noise(seed=voice_noise_seed(seed, v))``.
    """

    def __init__(self, n_voices: int, *, sample_rate: int = 16000, model_rate: int = 16000,
                 frame_rate: int = 250, n_harmonics: int = 60, n_bands: int = 65,
                 max_frames: int = 64, seed: int = 0):
        if sample_rate < model_rate:
            raise ParameterError(f"sample_rate ({sample_rate}) must be at least the model rate "
                                 f"({model_rate})")
        if sample_rate % frame_rate or model_rate % frame_rate:
            raise ParameterError(f"sample_rate ({sample_rate}) and the model rate ({model_rate}) "
                                 f"must be multiples of the frame rate ({frame_rate} Hz)")
        self.n_voices, self.sample_rate, self.model_rate = n_voices, sample_rate, model_rate
        self.hop = sample_rate // frame_rate
        self.hop_model = model_rate // frame_rate
        self.max_frames = max_frames
        self.max_hz = min(model_rate, sample_rate) / 2.0
        self.ir_size = 2 * (n_bands - 1)
        self.delay = self.ir_size // 2
        if self.delay > self.hop_model:
            raise ParameterError(f"{n_bands} noise bands need a FIR longer than two hops")
        self.resampling = sample_rate != model_rate
        self.latency_frames = 2 if self.resampling else 1
        self.latency_samples = self.latency_frames * self.hop
        V, K = n_voices, n_harmonics
        self.k = np.arange(1, K + 1, dtype=np.float32)
        self.two_pi_k = (2.0 * math.pi * self.k).astype(np.float32)
        n = np.arange(self.hop, dtype=np.float32)
        self.n, self.ramp, self.quad = n, n / self.hop, n * (n - 1) / (2.0 * self.hop)
        self.phase = np.zeros(V, np.float64)
        self.prev_f0 = np.zeros(V, np.float32)
        self.prev_amps = np.zeros((V, K), np.float32)
        self.started = False
        self.noises = [_VoiceNoise(voice_noise_seed(seed, v),
                                   prefetch_at=NOISE_BLOCK_SAMPLES * (v + 1) // (V + 1))
                       for v in range(V)]
        self.white = np.zeros((V, max_frames * self.hop_model), np.float32)
        self.n_fft = 1 << (self.hop_model + self.ir_size - 2).bit_length()
        self.piece_len = self.hop_model + self.ir_size - 1
        self.ola = np.zeros((V, max_frames * self.hop_model + self.piece_len), np.float32)
        # overlap-add tail kept between calls (pieces reach past the last interval by this much)
        self.carry = self.piece_len - self.delay
        self.noise_started = False
        if self.resampling:
            kernel, reach = _resampling_kernel(self.hop_model, self.hop)
            self.kernel, self.reach = kernel.numpy().T.copy(), reach   # [hop_in + 2 reach, hop]
            # model-rate filtered noise: reach samples of past context + one pending interval
            self.noise_hist = np.zeros((V, reach + (max_frames + 1) * self.hop_model), np.float32)
            self.noise_pending = 0          # complete model-rate intervals not yet resampled
            self.harm_hold = np.zeros((V, self.hop), np.float32)  # harmonic output held 1 frame
        self.out = np.zeros((V, max_frames * self.hop), np.float32)

    # -----------------------------------------------------------------------------------------
    def render(self, f0_hz: np.ndarray, harmonic_amplitudes: np.ndarray,
               noise_magnitudes: np.ndarray) -> np.ndarray:
        """Audio of the next F frames, one row per voice.

        Args:
            f0_hz: [V, F] Hz.
            harmonic_amplitudes: [V, F, K] linear (amplitude x distribution, harmonics at or
                above the model's Nyquist already removed, as ``get_controls`` gives them).
            noise_magnitudes: [V, F, n_bands] linear.

        Returns:
            float32 [V, F * hop] (a view of an internal buffer, valid until the next call).
        """
        F = f0_hz.shape[1]
        if F > self.max_frames or F < 1:
            raise ParameterError(f"render takes 1..{self.max_frames} frames; got {F}")
        harmonic = self._harmonic(f0_hz.astype(np.float32), harmonic_amplitudes.astype(np.float32))
        noise = self._noise(noise_magnitudes.astype(np.float32))
        out = self.out[:, :F * self.hop]
        np.add(harmonic, noise, out=out)
        return out

    def _harmonic(self, f0: np.ndarray, amps: np.ndarray) -> np.ndarray:
        """Intervals ending at each new frame: [V, F * hop], the first ever interval silent."""
        V, F = f0.shape
        f_a = np.concatenate([self.prev_f0[:, None], f0[:, :-1]], axis=1)
        a_a = np.concatenate([self.prev_amps[:, None], amps[:, :-1]], axis=1)
        if not self.started:   # no interval before frame 0: silent, phase stays 0
            f_a[:, 0] = f0[:, 0]
            a_a[:, 0] = 0.0
        inc = (self.hop * f_a.astype(np.float64)
               + (f0 - f_a).astype(np.float64) * ((self.hop - 1) / 2.0)) / self.sample_rate
        if not self.started:
            inc[:, 0] = 0.0
        cum = np.cumsum(inc, axis=1)
        starts = np.remainder(self.phase[:, None] + cum - inc, 1.0).astype(np.float32)
        self.phase = np.remainder(self.phase + cum[:, -1], 1.0)
        audible = (np.maximum(f_a, f0)[..., None] * self.k < self.max_hz).astype(np.float32)
        fa, fb = f_a[..., None], f0[..., None]
        phase = starts[..., None] + (self.n * fa + (fb - fa) * self.quad) / self.sample_rate
        phase -= np.floor(phase)
        basis = np.sin(phase[..., None] * self.two_pi_k)                # [V, F, hop, K]
        e0 = basis @ (a_a * audible)[..., None]                         # [V, F, hop, 1]
        e1 = basis @ (amps * audible)[..., None]
        audio = (e0[..., 0] + self.ramp * (e1[..., 0] - e0[..., 0])).reshape(V, F * self.hop)
        if not self.started:
            audio[:, :self.hop] = 0.0
        self.prev_f0[:] = f0[:, -1]
        self.prev_amps[:] = amps[:, -1]
        self.started = True
        if not self.resampling:
            return audio
        held = np.concatenate([self.harm_hold, audio[:, :-self.hop]], axis=1)
        self.harm_hold[:] = audio[:, -self.hop:]
        return held

    def _noise(self, mags: np.ndarray) -> np.ndarray:
        """Filtered noise of the intervals ending at each new frame (model rate, then resampled
        one frame later when the output rate differs)."""
        V, F, _ = mags.shape
        hm = self.hop_model
        white = self.white[:, :F * hm]
        for v, source in enumerate(self.noises):
            source.read(white[v])
        ir = frequency_impulse_response_numpy(mags)                                  # [V, F, L]
        spec = np.fft.rfft(white.reshape(V, F, hm), n=self.n_fft) * np.fft.rfft(ir, n=self.n_fft)
        pieces = np.fft.irfft(spec, n=self.n_fft)[..., :self.piece_len].astype(np.float32)
        # piece t starts at t * hop - delay; the buffer starts at the interval ending at the first
        # new frame, (t0 - 1) * hop, so piece t0 + i lands at i * hop + (hop - delay)
        ola = self.ola
        shift = hm - self.delay
        for i in range(F):
            ola[:, i * hm + shift:i * hm + shift + self.piece_len] += pieces[:, i]
        done = ola[:, :F * hm].copy()
        if not self.noise_started:   # the interval before sample 0 is silent (offline: cut)
            done[:, :hm] = 0.0
            self.noise_started = True
        ola[:, :self.carry] = ola[:, F * hm:F * hm + self.carry]
        ola[:, self.carry:] = 0.0
        if not self.resampling:
            return done
        # model-rate intervals [j*hm - reach, (j+1)*hm + reach) -> output intervals, one behind
        r, hist = self.reach, self.noise_hist
        p = self.noise_pending
        hist[:, r + p * hm:r + (p + F) * hm] = done
        total = p + F                       # complete intervals after the context
        n_out = total - 1                   # the last one waits for its right context
        resampled = np.zeros((V, F * self.hop), np.float32)
        if n_out:
            windows = np.lib.stride_tricks.sliding_window_view(
                hist[:, :r + total * hm], hm + 2 * r, axis=1)[:, 0:n_out * hm:hm]
            resampled[:, (F - n_out) * self.hop:] = (windows @ self.kernel).reshape(V, -1)
        keep = r + hm                       # the pending interval and r samples before it
        start = (total - 1) * hm
        hist[:, :keep] = hist[:, start:start + keep].copy()
        self.noise_pending = 1
        return resampled


class PartitionedReverb:
    """Exact streaming convolution with an impulse response (uniformly partitioned overlap-save
    in the frequency domain): equal to ``midi_ddsp.dsp.apply_reverb`` on the whole signal, with no
    added latency. ``process(x [block])`` -> [block]; the partition is the block length."""

    def __init__(self, impulse_response: np.ndarray, block: int):
        ir = np.asarray(impulse_response, np.float64)
        self.block = int(block)
        self.dry = float(ir[0])
        wet = ir.copy()
        wet[0] = 0.0
        n_parts = max(1, -(-wet.shape[0] // self.block))
        wet = np.pad(wet, (0, n_parts * self.block - wet.shape[0]))
        self.spectra = np.fft.rfft(wet.reshape(n_parts, self.block), n=2 * self.block)  # [P, bins]
        self.spectra = self.spectra.astype(np.complex64)
        self.n_parts = n_parts
        # input spectra, newest last, stored twice so a contiguous slice is the delay line
        self.fdl = np.zeros((2 * n_parts, self.spectra.shape[1]), np.complex64)
        self.head = 0
        self.spectra_rev = self.spectra[::-1].copy()
        self.window = np.zeros(2 * self.block, np.float64)

    def process(self, x: np.ndarray) -> np.ndarray:
        if x.shape[0] != self.block:
            raise ParameterError(f"PartitionedReverb.process takes {self.block} samples; "
                                 f"got {x.shape[0]}")
        self.window[:self.block] = self.window[self.block:]
        self.window[self.block:] = x
        spectrum = np.fft.rfft(self.window)
        self.head = (self.head + 1) % self.n_parts
        self.fdl[self.head] = spectrum
        self.fdl[self.head + self.n_parts] = spectrum
        # partition k meets the spectrum of k blocks ago: fdl[head - k]; reversed, one slice
        line = self.fdl[self.head + 1:self.head + 1 + self.n_parts]
        acc = np.einsum("pb,pb->b", line, self.spectra_rev)
        wet = np.fft.irfft(acc, n=2 * self.block)[self.block:]
        return (self.dry * x + wet).astype(np.float32)
