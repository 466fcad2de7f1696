"""The DDSP synth in numpy (torch-free): what every render plays, offline and live.

* ``render_synth_params``: one part's ``SynthParams`` -> audio (harmonic + filtered noise, then
  the room), the inference renderer of the pipeline. It equals the differentiable
  ``midi_ddsp.dsp.DDSPSynthesizer`` (torch, used for training) up to float32 rounding.
* ``BlockSynth``: harmonic + filtered noise of many voices one control frame at a time, and
  ``PartitionedReverb``, an exact partitioned-convolution room: the streaming engine's synth.

``BlockSynth`` reproduces ``DDSPSynthesizer`` and ``PartitionedReverb`` reproduces
``convolve_room`` sample for sample (up to float32 rounding); ``BlockSynth`` is delayed by a fixed latency: the harmonic synth interpolates between
two frames and the noise FIR reaches half its length (one model hop) before its frame, so the
audio between frames t-1 and t is known once frame t's controls are; at an output rate other than
the model's, the band-limited noise resampler needs one more frame. State carried across blocks:
each voice's phase (float64 cycles) and last controls, the noise overlap-add tail, the noise
resampler's context and the reverb's input spectra. All buffers are allocated at construction.

Shared with the torch synth (one definition each): the seeded noise blocks (``noise_block``), the
noise FIR design (``frequency_impulse_response_numpy``) and the frame-periodic resampler
(``resampling_kernel``).
"""
from __future__ import annotations

import contextlib
import functools
import math

import numpy as np

from midi_ddsp.dsp.rooms import resample_impulse_response
from midi_ddsp.errors import ParameterError
from midi_ddsp.synth_params import SynthParams

__all__ = ["BlockSynth", "PartitionedReverb", "voice_noise_seed", "render_synth_params",
           "one_blas_thread",
           "convolve_room", "noise_block", "NOISE_BLOCK_SAMPLES",
           "frequency_impulse_response_numpy", "resampling_kernel"]

NOISE_BLOCK_SAMPLES = 1 << 14
"""White noise is drawn in blocks of this many samples, block b of row r seeded from
(seed, r, b), so any sample range is reproducible independently of how a render is chunked."""

_RESAMPLE_ATTENUATION_DB = 90.0
"""Stop-band attenuation of the noise resampler (Kaiser-windowed sinc)."""

_RESAMPLE_TRANSITION = 1.0 / 16.0
"""Half-width of the resampler's transition band as a fraction of its cut-off (the lower
Nyquist): 7.5..8.5 kHz around 8 kHz."""

_RENDER_FRAMES = 64
"""Frames ``render_synth_params`` synthesises per ``BlockSynth`` call (~1 MB of sines)."""


def one_blas_thread():
    """A context in which numpy's BLAS runs one thread: the synth's products are small, and BLAS
    threads spinning beside the parts (or another process) slow a render several times."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def noise_block(seed: int, row: int, block: int) -> np.ndarray:
    """Block ``block`` (samples ``[block * 16384, (block + 1) * 16384)``) of batch row ``row`` of
    the seeded white noise, uniform in [0, 1), float32 [16384] (numpy's PCG64)."""
    state = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(row), int(block)])
    return np.random.Generator(np.random.PCG64(state)).random(NOISE_BLOCK_SAMPLES,
                                                               dtype=np.float32)


@functools.lru_cache(maxsize=4)
def _periodic_hann(size: int) -> np.ndarray:
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(size) / size)


def frequency_impulse_response_numpy(magnitudes: np.ndarray) -> np.ndarray:
    """Linear-phase FIR filters from band magnitudes (ddsp's frequency sampling method): irfft of
    the zero-phase magnitudes [..., n_bands], centred (delay n_bands - 1) and tapered with a
    periodic Hann window -> float32 [..., 2 * (n_bands - 1)]."""
    ir_size = 2 * (magnitudes.shape[-1] - 1)
    ir = np.roll(np.fft.irfft(magnitudes, n=ir_size), ir_size // 2, axis=-1)
    return (ir * _periodic_hann(ir_size)).astype(np.float32)


@functools.lru_cache(maxsize=8)
def resampling_kernel(hop_in: int, hop_out: int) -> tuple[np.ndarray, int]:
    """Frame-periodic band-limited resampler from ``hop_in`` to ``hop_out`` samples per frame.

    Output sample j of a frame lies at input position ``j * hop_in / hop_out``; it is a
    Kaiser-windowed sinc (cut-off at the lower of the two Nyquists) over the frame's input samples
    and ``reach`` more on each side. Returns (W float32 [hop_out, hop_in + 2 * reach], reach);
    each row sums to 1.
    """
    cutoff = 0.5 * min(1.0, hop_out / hop_in)  # cycles per input sample
    width = 2.0 * _RESAMPLE_TRANSITION * cutoff
    attenuation = _RESAMPLE_ATTENUATION_DB
    beta = 0.1102 * (attenuation - 8.7)
    reach = int(math.ceil((attenuation - 7.95) / (2.285 * 2.0 * math.pi * width) / 2.0))
    m = np.arange(-reach, hop_in + reach, dtype=np.float64)
    tau = (np.arange(hop_out, dtype=np.float64) * hop_in / hop_out)[:, None] - m[None, :]
    inside = np.abs(tau) <= reach
    window = np.where(inside, np.i0(beta * np.sqrt(np.clip(1.0 - (tau / reach) ** 2, 0.0, 1.0))),
                      0.0) / np.i0(beta)
    kernel = 2.0 * cutoff * np.sinc(2.0 * cutoff * tau) * window
    kernel /= kernel.sum(axis=1, keepdims=True)
    kernel = kernel.astype(np.float32)
    kernel.setflags(write=False)
    return kernel, reach


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
        np.multiply(noise_block(self.seed, 0, index), 2.0, out=self.buffers[slot])
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
        noise_seeds: the ``white_noise`` seed of each voice instead (``render_synth_params``
            plays one voice with the offline seed).
    """

    def __init__(self, n_voices: int, *, sample_rate: int = 16000, model_rate: int = 16000,
                 frame_rate: int = 250, n_harmonics: int = 60, n_bands: int = 65,
                 max_frames: int = 64, seed: int = 0,
                 noise_seeds: "list[int] | None" = None):
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
        if noise_seeds is None:
            noise_seeds = [voice_noise_seed(seed, v) for v in range(V)]
        self.noises = [_VoiceNoise(noise_seeds[v],
                                   prefetch_at=NOISE_BLOCK_SAMPLES * (v + 1) // (V + 1))
                       for v in range(V)]
        self.white = np.zeros((V, max_frames * self.hop_model), np.float32)
        self.n_fft = 1 << (self.hop_model + self.ir_size - 2).bit_length()
        self.piece_len = self.hop_model + self.ir_size - 1
        self.ola = np.zeros((V, max_frames * self.hop_model + self.piece_len), np.float32)
        self.fir_spectra = np.fft.rfft(frequency_impulse_response_numpy(
            np.eye(n_bands, dtype=np.float32)), n=self.n_fft).astype(np.complex64)  # [bands, bins]
        # overlap-add tail kept between calls (pieces reach past the last interval by this much)
        self.carry = self.piece_len - self.delay
        self.noise_started = False
        if self.resampling:
            kernel, reach = resampling_kernel(self.hop_model, self.hop)
            self.kernel, self.reach = kernel.T.copy(), reach   # [hop_in + 2 reach, hop]
            # model-rate filtered noise: reach samples of past context + one pending interval
            self.noise_hist = np.zeros((V, reach + (max_frames + 1) * self.hop_model), np.float32)
            self.noise_pending = 0          # complete model-rate intervals not yet resampled
            self.harm_hold = np.zeros((V, self.hop), np.float32)  # harmonic output held 1 frame
        self.out = np.zeros((V, max_frames * self.hop), np.float32)
        self.basis = np.zeros((V, max_frames, self.hop, K), np.float32)   # sin(2 pi k phase)
        self.coeff = np.zeros((V, max_frames, K, 2), np.float32)          # both ends' amplitudes

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

    def end_noise(self) -> None:
        """End every voice's noise after the frames rendered so far: the FIR tails past the
        interval after the last frame are dropped, as the offline synth cuts its noise at the
        part's end."""
        self.ola[:, self.hop_model:self.carry] = 0.0

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
        basis, coeff = self.basis[:, :F], self.coeff[:, :F]
        np.multiply(phase[..., None], self.two_pi_k, out=basis)         # [V, F, hop, K]
        np.sin(basis, out=basis)
        np.multiply(a_a, audible, out=coeff[..., 0])
        np.multiply(amps, audible, out=coeff[..., 1])
        ends = basis @ coeff                                            # [V, F, hop, 2]
        audio = (ends[..., 0] + self.ramp * (ends[..., 1] - ends[..., 0])).reshape(V, F * self.hop)
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
        # the FIRs' spectra: frequency_impulse_response_numpy and rfft are linear in the
        # magnitudes, so one matmul with the spectra of the single-band filters gives them
        spec = np.fft.rfft(white.reshape(V, F, hm), n=self.n_fft) * (mags @ self.fir_spectra)
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


# ---------------------------------------------------------------------------------------------
# offline rendering
# ---------------------------------------------------------------------------------------------
_SAFE_DIVIDE_EPS = 1e-7


def playable_harmonics(f0_hz: np.ndarray, harmonic_distribution: np.ndarray, *,
                       sample_rate: int) -> np.ndarray:
    """``midi_ddsp.dsp.get_controls``'s distribution in numpy: harmonics at or above
    ``sample_rate / 2`` removed at each frame's f0, renormalised to sum 1 (an all-zero frame stays
    zero). f0_hz [..., T], harmonic_distribution [..., T, K] -> float32 [..., T, K]."""
    dist = np.asarray(harmonic_distribution, np.float32)
    k = np.arange(1, dist.shape[-1] + 1, dtype=np.float32)
    freqs = np.asarray(f0_hz, np.float32)[..., None] * k
    dist = np.where(freqs < sample_rate / 2.0, dist, np.float32(0.0))
    return (dist / (dist.sum(axis=-1, keepdims=True) + _SAFE_DIVIDE_EPS)).astype(np.float32)


def _next_pow2(n: int) -> int:
    return 1 << max(0, n - 1).bit_length()


def convolve_room(audio: np.ndarray, impulse_response: np.ndarray) -> np.ndarray:
    """``midi_ddsp.dsp.apply_reverb`` in numpy for one signal: audio [n] convolved with the IR
    [n_taps] (tap 0 = the dry gain, applied exactly; the wet taps by FFT overlap-add in blocks of
    about the IR's length, so temporaries stay bounded), trimmed to n samples. float32 [n]."""
    x = np.asarray(audio, np.float32)
    ir = np.asarray(impulse_response, np.float64)[:x.shape[0]]
    out = (ir[0] * x).astype(np.float32)
    if ir.shape[0] < 2 or not x.shape[0]:
        return out
    wet = ir.astype(np.float32)
    wet[0] = 0.0
    n_fft = 2 * _next_pow2(wet.shape[0])
    block = n_fft - wet.shape[0] + 1
    spectrum = np.fft.rfft(wet, n=n_fft)
    for start in range(0, x.shape[0], block):
        piece = np.fft.irfft(np.fft.rfft(x[start:start + block], n=n_fft) * spectrum, n=n_fft)
        stop = min(x.shape[0], start + n_fft)
        out[start:stop] += piece[:stop - start].astype(np.float32)
    return out


def render_synth_params(params: SynthParams, *, sample_rate: int = 16000,
                        impulse_response: "np.ndarray | None" = None, ir_sample_rate: int = 16000,
                        reverb=None, seed: int = 0, frame_rate: int = 250,
                        model_sample_rate: int = 16000) -> np.ndarray:
    """Render one part's :class:`SynthParams` to a mono waveform (numpy, no torch).

    The audio of ``midi_ddsp.dsp.DDSPSynthesizer`` (harmonics masked at the model's Nyquist,
    noise bands over the model rate's 0..Nyquist and resampled band-limited at other rates, then
    the room), computed frame block by frame block. Any ``sample_rate`` works and sounds the same
    below 8 kHz (and below the output's Nyquist): rates that are a multiple of ``frame_rate``
    and at least the model's are synthesised directly, others at the next such rate and
    resampled (polyphase).

    Args:
        params: frame controls at ``frame_rate``, as the model made them at
            ``model_sample_rate``.
        sample_rate: output rate in Hz.
        impulse_response: full reverb IR (tap 0 = dry gain) [n_taps] at ``ir_sample_rate`` (its
            wet tail is resampled if different); None: ``reverb``.
        reverb: a room preset (``"dry"``, ``"room"``, ``"hall"``, True / False); None: dry. Give
            this or ``impulse_response``, not both.
        seed: noise seed (the offline synth's ``white_noise(seed=...)``).
        model_sample_rate: the rate the model's controls belong to (Hz).

    Returns:
        audio, float32 [round(n_frames * sample_rate / frame_rate)].
    """
    from midi_ddsp.dsp.rooms import reverb_preset, room_impulse_response

    if not isinstance(params, SynthParams):
        raise ParameterError(f"params: expected SynthParams, got {type(params).__name__}")
    for name, value in (("sample_rate", sample_rate), ("frame_rate", frame_rate),
                        ("model_sample_rate", model_sample_rate)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
            raise ParameterError(f"{name} must be a positive integer, got {value!r}")
    # synthesised at a multiple of the frame rate, and never below the model's rate
    render_rate = max(int(model_sample_rate), math.ceil(sample_rate / frame_rate) * frame_rate)
    if impulse_response is not None and reverb is not None:
        raise ParameterError("give impulse_response or reverb, not both")
    ir = None
    if impulse_response is not None:
        ir = np.asarray(impulse_response, dtype=np.float32)
        if ir.ndim != 1 or ir.size == 0:
            raise ParameterError(f"impulse_response: expected shape [n_taps], got {ir.shape}")
        ir = resample_impulse_response(ir, ir_sample_rate, render_rate)
    elif reverb_preset(reverb).wet_db is not None:
        ir = room_impulse_response(reverb, render_rate)
    n_frames = params.n_frames
    n_out = round(n_frames * sample_rate / frame_rate)
    if n_frames == 0:
        return np.zeros(0, np.float32)
    n_harm, n_bands = params.harmonic_distribution.shape[1], params.noise_magnitudes.shape[1]
    synth = BlockSynth(1, sample_rate=render_rate, model_rate=int(model_sample_rate),
                       frame_rate=int(frame_rate), n_harmonics=n_harm, n_bands=n_bands,
                       max_frames=_RENDER_FRAMES, noise_seeds=[int(seed)])
    f0 = params.f0_hz.astype(np.float32)
    dist = playable_harmonics(f0, params.harmonic_distribution, sample_rate=int(model_sample_rate))
    amps = params.amplitude.astype(np.float32)[:, None] * dist
    mags = params.noise_magnitudes.astype(np.float32)
    # the synth's latency: frames past the end hold the last controls (as the offline synth
    # does) with silent noise (no FIR reaches back into the part)
    lag = synth.latency_frames
    f0 = np.concatenate([f0, np.repeat(f0[-1:], lag)])
    amps = np.concatenate([amps, np.repeat(amps[-1:], lag, axis=0)])
    mags = np.concatenate([mags, np.zeros((lag, n_bands), np.float32)])
    hop = synth.hop
    audio = np.empty((n_frames + lag) * hop, np.float32)
    bounds = list(range(0, n_frames, _RENDER_FRAMES)) + [n_frames, n_frames + lag]
    for a, b in zip(bounds[:-1], bounds[1:]):
        if a == n_frames:
            synth.end_noise()
        audio[a * hop:b * hop] = synth.render(f0[None, a:b], amps[None, a:b], mags[None, a:b])[0]
    audio = audio[lag * hop:]
    if ir is not None:
        audio = convolve_room(audio, ir)
    if render_rate != sample_rate:
        from scipy.signal import resample_poly

        g = math.gcd(int(sample_rate), render_rate)
        audio = resample_poly(audio, int(sample_rate) // g, render_rate // g)[:n_out]
    return audio.astype(np.float32)
