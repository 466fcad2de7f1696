"""The streaming engine: block-by-block output equals the offline, frame-parallel render of the
same notes with the causal model; voices, pedal and controllers behave as on an instrument.
(A small random causal model: these tests are about the engine, not the trained weights;
tests/test_shipped_audio.py plays the shipped one.)"""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch

from midi_ddsp.config import DEFAULT_SIGNAL_CONFIG
from midi_ddsp.dsp import apply_reverb, get_controls
from midi_ddsp.dsp.rooms import room_impulse_response
from midi_ddsp.dsp.synthesizer import DDSPSynthesizer
from midi_ddsp.dsp.units import midi_to_hz
from midi_ddsp.errors import ParameterError
from midi_ddsp.expression import EXPRESSION_NAMES
from midi_ddsp.models.features import note_frame_features
from midi_ddsp.models.synthesis_generator import SynthesisGenerator, SynthesisGeneratorConfig
from midi_ddsp.score import Note
from midi_ddsp.streaming import BlockSynth, PartitionedReverb, StreamingGenerator, StreamingSynth
from midi_ddsp.dsp.blocks import voice_noise_seed

FR = 250


@pytest.fixture(scope="module")
def causal_sg():
    torch.manual_seed(0)
    config = SynthesisGeneratorConfig(channels=16, dilations=(1, 2, 4, 8), embedding_dim=4,
                                      n_noise=2, causal=True)
    return SynthesisGenerator(config).eval()


def _controls(rng, V, T):
    f0 = (220.0 * 2 ** rng.uniform(-1, 1.5, (V, 1)) * (1 + 0.01 * np.sin(np.arange(T) / 9.0)))
    f0 = f0.astype(np.float32)
    amp = (0.1 * np.abs(rng.standard_normal((V, T)))).astype(np.float32)
    dist = get_controls(torch.from_numpy(f0), None, torch.from_numpy(rng.random((V, T, 60)).astype(
        np.float32)), sample_rate=16000).harmonic_distribution.numpy()
    mags = (0.01 * rng.random((V, T, 65))).astype(np.float32)
    return f0, amp, dist, mags


@pytest.mark.parametrize("sample_rate", [16000, 48000])
def test_block_synth_equals_offline_synth(sample_rate):
    rng = np.random.default_rng(1)
    V, T = 2, 240
    f0, amp, dist, mags = _controls(rng, V, T)
    synth = DDSPSynthesizer(DEFAULT_SIGNAL_CONFIG)
    ref = np.stack([synth(torch.from_numpy(f0[v:v + 1]), torch.from_numpy(amp[v:v + 1]),
                          torch.from_numpy(dist[v:v + 1]), torch.from_numpy(mags[v:v + 1]),
                          seed=voice_noise_seed(5, v), sample_rate=sample_rate)[0].numpy()
                    for v in range(V)])
    block = BlockSynth(V, sample_rate=sample_rate, seed=5, max_frames=16)
    pieces, t, sizes = [], 0, [1, 3, 16, 5, 7]
    while t < T:
        n = min(sizes[len(pieces) % len(sizes)], T - t)
        pieces.append(block.render(f0[:, t:t + n], amp[:, t:t + n, None] * dist[:, t:t + n],
                                   mags[:, t:t + n]).copy())
        t += n
    out = np.concatenate(pieces, axis=1)
    hop = sample_rate // FR
    assert block.latency_samples == (1 if sample_rate == 16000 else 2) * hop
    n = (T - 3) * hop
    lat = block.latency_samples
    assert np.abs(out[:, lat:lat + n] - ref[:, :n]).max() <= 1e-5 * np.abs(ref).max()


def test_partitioned_reverb_equals_offline_convolution():
    rng = np.random.default_rng(2)
    ir = np.zeros(3000, np.float32)
    ir[0] = 0.9
    ir[1:] = rng.standard_normal(2999) * np.exp(-np.arange(1, 3000) / 500.0) * 0.05
    x = rng.standard_normal(64 * 80).astype(np.float32)
    ref = apply_reverb(torch.from_numpy(x), torch.from_numpy(ir)).numpy()
    reverb = PartitionedReverb(ir, 64)
    out = np.concatenate([reverb.process(x[i:i + 64]) for i in range(0, x.size, 64)])
    assert np.abs(out - ref).max() <= 1e-5 * np.abs(ref).max()
    with pytest.raises(ParameterError):
        reverb.process(x[:10])


def test_streaming_generator_equals_frame_parallel_forward(causal_sg):
    rng = np.random.default_rng(3)
    V, T = 3, 150
    feats = rng.standard_normal((V, T, 14)).astype(np.float32)
    expr = rng.random((V, T, 6)).astype(np.float32)
    noise = rng.standard_normal((V, T, 2)).astype(np.float32)
    weights = np.eye(13, dtype=np.float32)[4]
    with torch.no_grad():
        ref = causal_sg(torch.from_numpy(feats), torch.from_numpy(expr),
                        torch.from_numpy(weights)[None].expand(V, -1), torch.from_numpy(noise))
    gen = StreamingGenerator(causal_sg, V, max_frames=8)
    outs, t = [], 0
    while t < T:
        n = min(1 + len(outs) % 8, T - t)
        outs.append(gen.step(feats[:, t:t + n], expr[:, t:t + n], weights, noise[:, t:t + n]))
        t += n
    for key in ("amp_db", "f0_dev", "harmonic_distribution", "noise_db"):
        got = np.concatenate([o[key] for o in outs], axis=1)
        assert np.abs(got - ref[key].numpy()).max() < 1e-4, key


def test_streaming_needs_a_causal_model():
    with pytest.raises(ParameterError, match="causal"):
        StreamingGenerator(SynthesisGenerator(SynthesisGeneratorConfig.tiny()), 1)


def _offline_render(model, engine, n_frames, *, seed, sample_rate, reverb):
    """Each voice's played notes through the causal model in one frame-parallel pass, then the
    offline synth; voices summed, then the room."""
    hop = sample_rate // FR
    synth = DDSPSynthesizer(DEFAULT_SIGNAL_CONFIG)
    total = np.zeros(n_frames * hop, np.float32)
    for v, played in enumerate(engine.played_notes):
        notes = [Note(p["pitch"], p["onset_frame"] / FR,
                      (p["offset_frame"] if p["offset_frame"] is not None else n_frames) / FR,
                      p["velocity"]) for p in played]
        feats, held = note_frame_features(notes, n_frames=n_frames, causal=True)
        expr = np.zeros((n_frames, 6), np.float32)
        for note, p in zip(notes, played):
            end = p["offset_frame"] if p["offset_frame"] is not None else n_frames
            expr[p["onset_frame"]:end] = p["expressions"]
        rng = np.random.Generator(np.random.PCG64([seed, v]))
        noise = rng.standard_normal((n_frames, model.config.n_noise), dtype=np.float32)
        with torch.no_grad():
            out = model(torch.from_numpy(feats)[None], torch.from_numpy(expr)[None],
                        torch.from_numpy(engine.weights)[None], torch.from_numpy(noise)[None])
        f0 = midi_to_hz(held + out["f0_dev"][0].numpy().astype(np.float64)).astype(np.float32)
        audio = synth(torch.from_numpy(f0)[None], 10 ** (out["amp_db"] / 20),
                      out["harmonic_distribution"], 10 ** (out["noise_db"] / 20),
                      seed=voice_noise_seed(seed, v), sample_rate=sample_rate)[0].numpy()
        total += audio
    ir = room_impulse_response(reverb, sample_rate)
    return apply_reverb(torch.from_numpy(total), torch.from_numpy(ir)).numpy()


@pytest.mark.parametrize("sample_rate,block_size", [(16000, 128), (16000, 64), (48000, 100)])
def test_engine_block_by_block_equals_one_go(causal_sg, sample_rate, block_size):
    seed = 4
    engine = StreamingSynth("flute", sample_rate=sample_rate, block_size=block_size,
                            max_voices=3, model=causal_sg, seed=seed, record=True, reverb="room",
                            gain_db=0.0)
    events = [(0.02, "note_on", 67, 90), (0.30, "note_on", 71, 60), (0.52, "note_off", 67),
              (0.60, "note_on", 74, 110), (0.64, "note_off", 71), (0.70, "note_on", 79, 90),
              (0.70, "note_off", 79), (0.90, "note_off", 74),   # a one-frame note
              (0.92, "note_on", 62, 80), (0.92, "note_on", 62, 70)]   # the first one hidden
    duration = 1.2
    audio = engine.play(events, duration)
    n_frames = int(duration * FR)
    ref = _offline_render(causal_sg, engine, n_frames, seed=seed, sample_rate=sample_rate,
                          reverb="room")
    lat = engine.latency_samples
    n = (n_frames - 4) * (sample_rate // FR)
    assert np.abs(ref[:n]).max() > 0
    err = np.abs(audio[lat:lat + n] - ref[:n]).max() / np.abs(ref[:n]).max()
    print(f"max error {err:.2e} of the peak")
    assert err <= 1e-3   # float32 rounding (-60 dB); measured <= 2e-4
    # three voices were used for the overlapping notes; each note's onset is where it was played
    onsets = sorted(p["onset_frame"] for voice in engine.played_notes for p in voice)
    assert onsets == sorted({round(t * FR) for t, kind, *_ in events if kind == "note_on"})
    one_frame = [p for voice in engine.played_notes for p in voice if p["pitch"] == 79]
    assert one_frame[0]["offset_frame"] == one_frame[0]["onset_frame"] + 1


def test_voice_allocation_and_stealing(causal_sg):
    engine = StreamingSynth("violin", max_voices=2, model=causal_sg, record=True)
    engine.play([(0.0, "note_on", 60, 90), (0.1, "note_on", 64, 90), (0.2, "note_on", 67, 90)],
                0.3)
    # the third note takes the oldest note's voice
    assert [p["pitch"] for p in engine.played_notes[0]] == [60, 67]
    assert engine.played_notes[0][0]["offset_frame"] == 50
    assert [p["pitch"] for p in engine.played_notes[1]] == [64]
    # after a release the free voice that has been silent longest is taken
    engine.play([(0.0, "note_off", 64), (0.1, "note_off", 67), (0.2, "note_on", 72, 90)], 0.3)
    assert engine.played_notes[1][-1]["pitch"] == 72


def test_mono_mode_is_legato_and_returns_to_held_key(causal_sg):
    engine = StreamingSynth("flute", mode="mono", model=causal_sg, record=True)
    engine.play([(0.0, "note_on", 60, 90), (0.2, "note_on", 64, 90), (0.4, "note_off", 64)], 0.6)
    notes = engine.played_notes[0]
    assert [p["pitch"] for p in notes] == [60, 64, 60]
    assert notes[0]["offset_frame"] == notes[1]["onset_frame"] == 50   # no gap: legato
    assert notes[1]["offset_frame"] == notes[2]["onset_frame"] == 100
    assert engine.sounding[0]


def test_sustain_pedal_holds_released_notes(causal_sg):
    engine = StreamingSynth("cello", model=causal_sg, record=True)
    engine.play([(0.0, "control_change", 64, 127), (0.04, "note_on", 48, 90),
                 (0.2, "note_off", 48)], 0.4)
    assert engine.sounding.any()                       # held by the pedal
    engine.play([(0.0, "control_change", 64, 0)], 0.1)
    assert not engine.sounding.any()
    assert engine.played_notes[0][0]["offset_frame"] == 100


def test_mod_wheel_bend_and_volume_reach_the_frame_controls(causal_sg):
    engine = StreamingSynth("violin", model=causal_sg)
    engine.play([(0.0, "note_on", 69, 100)], 0.1)
    engine.control_change(101, 0)
    engine.control_change(100, 0)
    engine.control_change(6, 12)                       # bend range: one octave
    engine.pitch_bend(4096)
    engine.control_change(11, 64)
    engine.control_change(1, 127)
    engine.process()
    assert engine.bend_semitones == pytest.approx(6.0)
    assert engine._bend[-1] == pytest.approx(6.0)
    assert 20 * np.log10(engine._gain[-1]) == pytest.approx(40 * np.log10(64 / 127), abs=1e-6)
    vibrato = engine._expr[0, -1, EXPRESSION_NAMES.index("vibrato")]
    assert vibrato == pytest.approx(engine.expressions[0, EXPRESSION_NAMES.index("vibrato")] + 1.0)


def test_audio_path_does_not_grow_memory(causal_sg):
    engine = StreamingSynth("violin", block_size=128, max_voices=4, model=causal_sg)
    engine.play([(0.0, "note_on", 60 + 3 * i, 90) for i in range(4)], 0.5)
    tracemalloc.start()
    for _ in range(200):
        engine.process()
    first, _ = tracemalloc.get_traced_memory()
    for _ in range(200):
        engine.process()
    second, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert second - first < 64 * 1024       # no growth over 400 blocks
    assert peak < 4 * 1024 * 1024


def test_bad_events_and_settings_say_what_is_wrong(causal_sg):
    with pytest.raises(ParameterError, match="mode"):
        StreamingSynth("violin", mode="chords", model=causal_sg)
    with pytest.raises(ParameterError, match="sample_rate"):
        StreamingSynth("violin", sample_rate=44100, model=causal_sg)
    engine = StreamingSynth("violin", model=causal_sg)
    with pytest.raises(ParameterError, match="pitch"):
        engine.note_on(130)
    with pytest.raises(ParameterError, match="unknown expressions"):
        engine.note_on(60, 90, expressions={"loudness": 1.0})
    with pytest.raises(ParameterError, match="bend"):
        engine.pitch_bend(9000)
    with pytest.raises(ParameterError, match="process takes"):
        engine.process(10_000)


def test_short_notes_end_and_do_not_cut_the_next(causal_sg):
    mono = StreamingSynth("flute", mode="mono", block_size=64, model=causal_sg, record=True)
    mono.note_on(60, 90)
    mono.note_off(60, offset=10)          # within the note's first frame
    for _ in range(5):
        mono.process()
    assert not mono.sounding.any()
    assert mono.played_notes[0][0]["offset_frame"] == 1
    poly = StreamingSynth("flute", block_size=128, model=causal_sg, record=True)
    poly.note_on(60, 90)
    poly.note_off(60, offset=10)
    poly.note_on(60, 90, offset=70)       # struck again in the next frame: keeps sounding
    for _ in range(5):
        poly.process()
    notes = [p for voice in poly.played_notes for p in voice]
    assert [(p["onset_frame"], p["offset_frame"]) for p in notes] == [(0, 1), (1, None)]
    assert poly.sounding.sum() == 1


def test_all_notes_off_respects_the_pedal_and_all_sound_off_does_not(causal_sg):
    engine = StreamingSynth("cello", model=causal_sg)
    engine.play([(0.0, "control_change", 64, 127), (0.0, "note_on", 48, 90),
                 (0.2, "control_change", 123, 0)], 0.3)
    assert engine.sounding.any()                      # held by the pedal
    engine.play([(0.0, "control_change", 120, 0)], 0.1)
    assert not engine.sounding.any()


def test_malformed_midi_is_ignored(causal_sg):
    engine = StreamingSynth("violin", model=causal_sg)
    assert not engine.midi([0x90, 0x80, 0x40])        # a status byte where data belongs
    assert not engine.midi([0xF0, 0x7E, 0x7F, 0xF7])  # sysex
    assert engine.midi([0x90, 60, 100]) and engine.midi(bytes([0xE0, 0x00, 0x40]))
    engine.process()
    assert engine.sounding.any() and engine.bend_semitones == 0.0
    with pytest.raises(ParameterError, match="whole numbers"):
        engine.note_on("C4")
