"""``render_audio(..., reverb=...)``: the parametric rooms by name, True / False as aliases, and
old checkpoints (with the retired per-instrument reverb bank) still load."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch

from midi_ddsp.dsp.rooms import DEFAULT_REVERB, room_impulse_response
from midi_ddsp.errors import ParameterError
from midi_ddsp.models import SynthesisGenerator, SynthesisGeneratorConfig, load_model
from midi_ddsp.synth_params import SynthParams
from midi_ddsp import MidiDDSP, render_audio


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return MidiDDSP(expression_generator=None,
                    synthesis_generator=SynthesisGenerator(SynthesisGeneratorConfig.tiny()).eval())


def _params(n_frames=500):
    dist = np.zeros((n_frames, 60), np.float32)
    dist[:, :8] = 1 / 8
    amp = np.where(np.arange(n_frames) < 200, 0.2, 0.0).astype(np.float32)  # a note, then silence
    noise = np.where(amp[:, None] > 0, 1e-4, 0.0) * np.ones((1, 65))
    return SynthParams(np.full(n_frames, 262.0), amp, dist, noise)


def test_reverb_names_and_aliases(model):
    params = _params()
    dry = render_audio(params, "oboe", models=model, reverb="dry")
    np.testing.assert_array_equal(render_audio(params, "oboe", models=model, reverb=False), dry)
    room = render_audio(params, "oboe", models=model, reverb="room")
    assert DEFAULT_REVERB == "room"
    np.testing.assert_array_equal(render_audio(params, "oboe", models=model), room)
    np.testing.assert_array_equal(render_audio(params, "oboe", models=model, reverb=True), room)
    reference = scipy.signal.fftconvolve(dry, room_impulse_response("room", 16000))[:dry.size]
    np.testing.assert_allclose(room, reference, atol=1e-5)
    hall = render_audio(params, "oboe", models=model, reverb="hall")
    tail = slice(220 * 64, 400 * 64)  # after the note: only the reverb sounds
    assert not dry[tail].any()
    assert np.sum(hall[tail] ** 2) > 10 * np.sum(room[tail] ** 2) > 0


def test_reverb_at_48_khz_keeps_the_dry_path(model):
    params = _params()
    dry = render_audio(params, "oboe", models=model, reverb="dry", sample_rate=48000)
    room = render_audio(params, "oboe", models=model, reverb="room", sample_rate=48000)
    wet = room - dry
    # the tail is 23 dB below the dry sound, not a resampled copy of it (+6 dB before)
    level_db = 10 * np.log10(np.sum(wet ** 2) / np.sum(dry ** 2))
    assert -30.0 < level_db < -18.0


@pytest.mark.parametrize("reverb", ["plate", 3, "roomy"])
def test_unknown_reverb(model, reverb):
    with pytest.raises(ParameterError, match="reverb"):
        render_audio(_params(50), "oboe", models=model, reverb=reverb)


def test_checkpoint_with_the_old_reverb_bank_loads(tmp_path):
    torch.manual_seed(0)
    sg = SynthesisGenerator(SynthesisGeneratorConfig.tiny())
    payload = sg.checkpoint_payload()
    for name in ("log_rt60", "gain_db", "tilt"):  # what checkpoints before the presets hold
        payload["state_dict"][f"reverb.{name}"] = torch.zeros(13)
    torch.save(payload, tmp_path / "old.pt")
    loaded = load_model(tmp_path / "old.pt", kind="synthesis_generator")
    for key, value in sg.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)
    ir = loaded.impulse_response("violin")
    assert ir.shape == (48000,) and ir[0] == 1.0
    np.testing.assert_array_equal(ir, room_impulse_response("room", 16000))
