"""The numpy renderer (midi_ddsp.dsp.blocks.render_synth_params) against the differentiable torch
synthesizer it stands in for at inference: same controls, same seed, same audio."""
import subprocess
import sys

import numpy as np
import pytest
import torch

from midi_ddsp.dsp.blocks import convolve_room, playable_harmonics, render_synth_params
from midi_ddsp.dsp.core import get_controls
from midi_ddsp.dsp.effects import apply_reverb
from midi_ddsp.dsp.rooms import room_impulse_response
from midi_ddsp.dsp.synthesizer import DDSPSynthesizer
from midi_ddsp.synth_params import SynthParams


def _gliding_params(n_frames=700, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n_frames) / 250.0
    f0 = 300.0 * 2.0 ** (np.sin(2 * np.pi * 0.7 * t) + 0.02 * np.sin(2 * np.pi * 5.5 * t))
    amp = (0.3 + 0.2 * np.sin(2 * np.pi * 1.3 * t)) * (t < 2.2)   # a rest at the end
    dist = rng.random((n_frames, 60)) ** 3
    mags = 0.02 * rng.random((n_frames, 65))
    return SynthParams(f0.astype(np.float32), amp.astype(np.float32), dist.astype(np.float32),
                       mags.astype(np.float32))


def _torch_render(params, sample_rate, ir=None, seed=3):
    with torch.no_grad():
        audio = DDSPSynthesizer()(params.f0_hz[None], params.amplitude[None],
                                  params.harmonic_distribution[None],
                                  params.noise_magnitudes[None], seed=seed,
                                  sample_rate=sample_rate,
                                  impulse_response=None if ir is None else torch.from_numpy(ir))
    return audio[0].numpy()


@pytest.mark.parametrize("sample_rate", [16000, 48000])
@pytest.mark.parametrize("reverb", [None, "room"])
def test_numpy_render_equals_the_torch_synthesizer(sample_rate, reverb):
    params = _gliding_params()
    ir = None if reverb is None else room_impulse_response(reverb, sample_rate)
    ours = render_synth_params(params, sample_rate=sample_rate, seed=3,
                               impulse_response=None if ir is None else
                               room_impulse_response(reverb, 16000))
    theirs = _torch_render(params, sample_rate, ir)
    assert ours.shape == theirs.shape == (params.n_frames * sample_rate // 250,)
    assert np.abs(ours - theirs).max() <= 1e-4 * np.abs(theirs).max()
    # and it is not silence or noise alone: the harmonic part dominates
    assert np.abs(theirs).max() > 0.1


def test_numpy_render_at_a_rate_off_the_frame_grid():
    params = _gliding_params(300)
    ours = render_synth_params(params, sample_rate=44100, seed=1)
    ref = render_synth_params(params, sample_rate=44250, seed=1)
    assert ours.shape == (round(300 * 44100 / 250),)
    spec = lambda x, sr: np.abs(np.fft.rfft(x[:sr], n=sr))[:7000]   # 1-Hz bins to 7 kHz
    a, b = spec(ours, 44100), spec(ref, 44250)
    assert np.corrcoef(a, b)[0, 1] > 0.99


def test_playable_harmonics_is_get_controls():
    params = _gliding_params(50)
    f0 = params.f0_hz * 6.0   # high notes: many harmonics above 8 kHz
    ours = playable_harmonics(f0, params.harmonic_distribution, sample_rate=16000)
    theirs = get_controls(f0, None, params.harmonic_distribution, sample_rate=16000)
    np.testing.assert_allclose(ours, theirs.harmonic_distribution, atol=1e-6)
    assert (ours[:, -1] == 0).all()


def test_convolve_room_equals_apply_reverb_on_a_long_signal():
    rng = np.random.default_rng(0)
    audio = rng.standard_normal(200_000).astype(np.float32)
    ir = room_impulse_response("hall", 16000)
    ours = convolve_room(audio, ir)
    theirs = apply_reverb(torch.from_numpy(audio), torch.from_numpy(ir)).numpy()
    assert np.abs(ours - theirs).max() < 1e-4 * np.abs(theirs).max()
    unit = np.zeros(10, np.float32)
    unit[0] = 1.0
    np.testing.assert_array_equal(convolve_room(audio, unit), audio)


def test_the_renderer_imports_no_torch():
    code = ("import sys, numpy as np\n"
            "from midi_ddsp.dsp.blocks import render_synth_params\n"
            "from midi_ddsp.synth_params import SynthParams\n"
            "d = np.zeros((100, 60), np.float32); d[:, 0] = 1\n"
            "a = render_synth_params(SynthParams(np.full(100, 440.0), np.full(100, 0.5), d,"
            " np.zeros((100, 65))), reverb='room')\n"
            "assert a.shape == (6400,) and abs(a).max() > 0.3\n"
            "print('torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("sample_rate", [8000, 11025])
def test_numpy_render_below_the_model_rate(sample_rate):
    """Rendered at the model rate, then resampled: a 440 Hz tone stays at 440 Hz."""
    n = 250
    dist = np.zeros((n, 60), np.float32)
    dist[:, 0] = 1.0
    params = SynthParams(np.full(n, 440.0, np.float32), np.full(n, 0.5, np.float32), dist,
                         np.zeros((n, 65), np.float32))
    audio = render_synth_params(params, sample_rate=sample_rate)
    assert audio.shape == (sample_rate,)
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.size)))
    assert abs(np.argmax(spectrum) * sample_rate / audio.size - 440.0) < 2.0
