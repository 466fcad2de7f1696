"""Monophonic transcription (midi_ddsp.transcription) and the note metric (midi_ddsp.note_metrics)."""
import numpy as np
import pytest

from midi_ddsp import monophony
from midi_ddsp import transcription as T
from midi_ddsp import transcription_pitch as T_pitch
from midi_ddsp.errors import ParameterError
from midi_ddsp.note_metrics import note_f1, notes_from_array
from midi_ddsp.score import Note
from audio_files import fluidsynth_line

SR = 16000


# ------------------------------------------------------------------ the metric
def test_note_f1_matches_hand_counted_cases():
    ref = [Note(60, 0.0, 0.5), Note(62, 0.5, 1.0), Note(64, 1.0, 1.5)]
    assert note_f1(ref, ref)["f1"] == 1.0
    late = [Note(60, 0.04, 0.5), Note(62, 0.56, 1.0), Note(64, 1.0, 1.5)]  # 40 ms ok, 60 ms not
    m = note_f1(ref, late)
    assert (m["n_matched"], m["precision"], m["recall"]) == (2, 2 / 3, 2 / 3)
    wrong_pitch = [Note(61, 0.0, 0.5)]
    assert note_f1(ref, wrong_pitch)["n_matched"] == 0
    # one-to-one: two estimates near one reference note match once
    doubled = [Note(60, 0.0, 0.2), Note(60, 0.03, 0.5)]
    m = note_f1([Note(60, 0.0, 0.5)], doubled)
    assert (m["n_matched"], m["precision"], m["recall"]) == (1, 0.5, 1.0)
    assert note_f1(ref, [])["f1"] == 0.0


def test_note_f1_offsets_when_asked():
    ref = [Note(60, 0.0, 1.0)]
    short = [Note(60, 0.0, 0.5)]
    assert note_f1(ref, short)["f1"] == 1.0
    assert note_f1(ref, short, offset_ratio=0.2)["f1"] == 0.0
    assert note_f1(ref, [Note(60, 0.0, 0.85)], offset_ratio=0.2)["f1"] == 1.0


def test_notes_from_array_reads_the_shard_layout():
    notes = notes_from_array(np.array([[60, 0.1, 0.5, 90.4], [62, 0.5, 0.9, 0]], np.float32))
    assert notes[0] == Note(60, pytest.approx(0.1), pytest.approx(0.5), 90)
    assert notes[1].velocity == 1


# ------------------------------------------------------------------ velocity
def test_velocity_follows_the_40_log10_curve_anchored_at_the_90th_percentile():
    v = T.velocity_from_loudness([-20.0] * 9 + [-60.0])
    assert v[0] == T.VELOCITY_REFERENCE
    assert v[-1] == round(T.VELOCITY_REFERENCE * 10 ** (-40 / 40))
    assert T.velocity_from_loudness([0.0, -200.0]).tolist()[1] == 1
    assert T.velocity_from_loudness([]).shape == (0,)


# ------------------------------------------------------------------ segmentation on frames
def _frames(segments, n_frames, spikes=()):
    """Hand-made frame features: (midi, start, stop) voiced at -20 dB, silence elsewhere."""
    f0 = np.full(n_frames, 100.0)
    conf = np.full(n_frames, 0.05)
    loud = np.full(n_frames, -110.0)
    for midi, a, b in segments:
        f0[a:b] = 440.0 * 2 ** ((midi - 69) / 12)
        conf[a:b] = 0.9
        loud[a:b] = -20.0
    flux = np.ones(n_frames)
    for s in spikes:
        flux[s] = 8.0
        loud[s - 3:s] -= 2.0  # a re-attack: the level rises after the spike
    return _frames_of(f0, conf, loud, flux)


def _frames_of(f0, conf, loud, flux=None, suboctave=None):
    """TranscriptionFrames at 100 Hz from per-frame arrays (flux 1 everywhere by default)."""
    flux = np.ones(len(f0)) if flux is None else flux
    frames = T.TranscriptionFrames(100, *(np.asarray(x, np.float32) for x in (f0, conf, loud, flux)))
    frames.suboctave_db = None if suboctave is None else np.asarray(suboctave, np.float32)
    return frames


def test_segment_notes_finds_pitch_changes_silences_and_repeated_notes():
    frames = _frames([(60, 10, 60), (64, 60, 100), (64, 120, 200)], 230, spikes=[161])
    notes = T.segment_notes(frames)
    assert [n.pitch for n in notes] == [60, 64, 64, 64]
    onsets = [n.onset_s for n in notes]
    assert onsets[0] == pytest.approx(0.10, abs=0.02)
    assert onsets[1] == pytest.approx(0.60, abs=0.02)
    assert onsets[2] == pytest.approx(1.20, abs=0.02)
    assert onsets[3] == pytest.approx(1.60, abs=0.02)   # the repeated note (flux spike)
    assert notes[0].offset_s <= notes[1].onset_s
    assert all(a.offset_s <= b.onset_s + 1e-9 for a, b in zip(notes, notes[1:]))


def test_segment_notes_drops_blips_and_ignores_short_octave_errors():
    frames = _frames([(60, 10, 80), (72, 40, 43), (67, 120, 123)], 150)
    notes = T.segment_notes(frames, min_note_s=0.06)
    assert [(n.pitch, round(n.onset_s, 2)) for n in notes] == [(60, 0.10)]


@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_segment_notes_rejects_a_bad_min_length(bad):
    with pytest.raises(ParameterError, match="min_note_s"):
        T.segment_notes(_frames([(60, 10, 80)], 100), min_note_s=bad)


def test_frames_have_the_documented_shapes():
    x = (0.3 * np.sin(2 * np.pi * 440 * np.arange(int(0.5 * 22050)) / 22050)).astype(np.float32)
    frames = T.analyse_frames(x, sample_rate=22050)
    n = x.size * 100 // 22050
    for name in ("f0_hz", "confidence", "loudness_db", "onset_strength", "suboctave_db"):
        assert getattr(frames, name).shape == (n,)
    assert frames.voicing().shape == (n,)
    assert np.median(frames.f0_hz[10:-10]) == pytest.approx(440.0, rel=0.01)


# ------------------------------------------------------------------ a corpus-like render
MELODY = [(72, 0.10, 0.45, 100), (74, 0.50, 0.85, 80), (76, 0.90, 1.25, 110), (77, 1.30, 1.50, 70),
          (79, 1.55, 2.20, 120), (76, 2.30, 2.65, 90), (72, 2.70, 3.05, 60), (74, 3.10, 3.30, 100),
          (71, 3.35, 3.70, 85), (72, 3.80, 4.60, 110)]


@pytest.fixture(scope="module")
def flute_render():
    return fluidsynth_line(MELODY, sample_rate=SR)


def test_a_fluidsynth_flute_line_is_transcribed_with_note_f1_of_at_least_0_9(flute_render):
    audio, notes = flute_render
    result = T.transcribe(audio, sample_rate=SR)
    score = note_f1(notes, result.notes)
    assert score["f1"] >= 0.9, (score, result.notes)
    assert result.frames.n_frames == audio.size * 100 // SR
    # velocities: louder source notes get higher estimates (GM velocity sets the gain)
    matched = [min(result.notes, key=lambda e: abs(e.onset_s - n.onset_s)) for n in notes]
    loud = np.mean([e.velocity for n, e in zip(notes, matched) if n.velocity >= 100])
    soft = np.mean([e.velocity for n, e in zip(notes, matched) if n.velocity <= 80])
    assert loud > soft + 10


def test_input_problem_names_what_cannot_be_transcribed(flute_render):
    audio, _ = flute_render
    rng = np.random.default_rng(0)
    t = np.arange(SR) / SR
    cases = {
        "too short": np.zeros(SR // 10, np.float32),
        "silent": np.zeros(SR, np.float32),
        "no pitched sound": (0.3 * rng.standard_normal(SR)).astype(np.float32),
        "not monophonic": (0.3 * np.sin(2 * np.pi * 440 * t) + 0.3 * np.sin(2 * np.pi * 523.25 * t)
                           ).astype(np.float32),
    }
    for words, x in cases.items():
        frames = T.analyse_frames(x, sample_rate=SR)
        problem = monophony.input_problem(x, frames, sample_rate=SR)
        assert problem is not None and problem.startswith(words), (words, problem)
    frames = T.analyse_frames(audio, sample_rate=SR)
    assert monophony.input_problem(audio, frames, sample_rate=SR) is None


def test_a_legato_change_begins_where_the_previous_note_lets_go():
    # slow-attack legato (a cello): CREPE's pitch switches 80 ms after the note-on, while the
    # level starts falling at the note-on (the previous note's release) and dips to a valley
    n = 220
    f0 = np.where(np.arange(n) < 108, 261.63, 293.66)
    conf = np.where((np.arange(n) >= 10) & (np.arange(n) < 200), 0.9, 0.05)
    loud = np.full(n, -110.0)
    loud[10:200] = -20.0
    loud[100:109] = -20.0 - np.arange(9)           # falls from the note-on (frame 100) ...
    loud[109:121] = -28.0 + np.arange(1, 13) * 8 / 12  # ... and recovers as the new note swells
    frames = _frames_of(f0, conf, loud)
    notes = T.segment_notes(frames)
    assert [n.pitch for n in notes] == [60, 62]
    assert notes[1].onset_s == pytest.approx(1.00, abs=0.03)



def test_repeated_legato_notes_with_a_soft_reattack_and_a_small_dip_are_all_found():
    # legato re-articulations of one pitch: each a flux peak too weak to split a note alone
    # (below 2 * ONSET_THRESHOLD) and a level dip too shallow alone (below SPLIT_VALLEY_DB),
    # together a new note
    n = 260
    f0 = np.full(n, 220.0)
    conf = np.where((np.arange(n) >= 10) & (np.arange(n) < 250), 0.9, 0.05)
    loud = np.where(conf > 0.5, -20.0, -110.0)
    flux = np.ones(n)
    starts = [10, 70, 130, 190]
    for s in starts[1:]:
        loud[s - 3:s + 4] -= 5.0 - np.abs(np.arange(-3, 4)) * 1.2  # a 5 dB dip ...
        flux[s + 1] = 1.3 * T.ONSET_THRESHOLD                      # ... and a soft re-attack
    frames = _frames_of(f0, conf, loud, flux)
    assert T._onset_candidates(frames)[1].max() >= 2.0
    notes = T.segment_notes(frames)
    assert [n.pitch for n in notes] == [57] * 4
    for note, s in zip(notes, starts):
        assert note.onset_s == pytest.approx(s / 100, abs=0.03)


def test_a_pitch_change_takes_its_own_attack_not_the_previous_notes():
    # fast notes: CREPE switches 50 ms after the note-on (frame 60); the previous note's
    # attack (frame 45, inside the 200 ms look-back) is stronger than this one's own (frame 61)
    n = 160
    f0 = np.where(np.arange(n) < 65, 261.63, 293.66)
    conf = np.where((np.arange(n) >= 10) & (np.arange(n) < 150), 0.9, 0.05)
    loud = np.where(conf > 0.5, -20.0, -110.0)
    flux = np.ones(n)
    flux[45], flux[61] = 6.0, 5.0
    frames = _frames_of(f0, conf, loud, flux)
    notes = T.segment_notes(frames)
    assert [n.pitch for n in notes] == [60, 62]
    assert notes[1].onset_s == pytest.approx(0.60, abs=0.02)


def test_a_quieter_legato_note_begins_where_the_previous_note_releases():
    # no flux, no valley: the level falls 12 dB from the note-on (frame 100) into a quieter
    # note whose pitch CREPE hears 60 ms later
    n = 220
    f0 = np.where(np.arange(n) < 106, 261.63, 246.94)
    conf = np.where((np.arange(n) >= 10) & (np.arange(n) < 200), 0.9, 0.05)
    loud = np.full(n, -110.0)
    loud[10:100] = -20.0
    loud[100:112] = -20.0 - np.arange(12)
    loud[112:200] = -32.0
    frames = _frames_of(f0, conf, loud)
    notes = T.segment_notes(frames)
    assert [n.pitch for n in notes] == [60, 59]
    assert notes[1].onset_s == pytest.approx(1.00, abs=0.03)  # not 1.06


# ------------------------------------------------------------------ octave errors
def _line(pitches, suboctave_db, note_frames=40):
    """Detached notes of ``note_frames`` frames; ``suboctave_db`` per note (the frame feature)."""
    n = 10 + len(pitches) * (note_frames + 10) + 10
    f0, conf, loud = np.full(n, 100.0), np.full(n, 0.05), np.full(n, -110.0)
    sub = np.full(n, -60.0)
    for i, (p, level) in enumerate(zip(pitches, suboctave_db)):
        a = 10 + i * (note_frames + 10)
        f0[a:a + note_frames] = 440.0 * 2 ** ((p - 69) / 12)
        conf[a:a + note_frames], loud[a:a + note_frames], sub[a:a + note_frames] = 0.9, -20.0, level
    return _frames_of(f0, conf, loud, suboctave=sub)


def test_a_note_with_sub_octave_partials_that_leaps_above_its_line_drops_an_octave():
    # a bassoon's A3 read as A4 (its fundamental ~24 dB under the 2nd partial): the partials at
    # f0/2 and 3 f0/2 stand ~20 dB under the f0 series, and the line around it sits near A2..C3
    line = [45, 47, 69, 45, 48]
    found = T.segment_notes(_line(line, [-60, -60, -20, -60, -60]))
    assert [n.pitch for n in found] == [45, 47, 57, 45, 48]
    # no sub-octave partials: a real leap stays
    found = T.segment_notes(_line(line, [-60, -60, -45, -60, -60]))
    assert [n.pitch for n in found] == line
    # sub-octave partials (a reed's, a room's) but no leap: the line agrees with CREPE
    found = T.segment_notes(_line([66, 64, 69, 67, 66], [-20] * 5))
    assert [n.pitch for n in found] == [66, 64, 69, 67, 66]


def test_suboctave_level_measures_partials_at_half_the_tracked_f0():
    t = np.arange(SR) / SR
    # a 220 Hz tone whose fundamental and odd partials sit ~22 dB under the even ones
    weak_odd = sum((0.08 if k % 2 else 1.0) / k * np.sin(2 * np.pi * 220 * k * t) for k in range(1, 9))
    octave_up = sum(1.0 / k * np.sin(2 * np.pi * 440 * k * t) for k in range(1, 5))
    f0 = np.full(SR // 160, 440.0)
    for audio, low, high in [(weak_odd, T_pitch.SUBOCTAVE_DB, 0.0), (octave_up, -200.0, -40.0)]:
        level = T_pitch.suboctave_level_db(audio.astype(np.float32), f0, sample_rate=SR, hop=160)
        assert level.shape == f0.shape
        assert low <= float(np.median(level)) <= high


def test_vibrato_amplitude_swings_do_not_split_a_held_note():
    # a held viola note in vibrato: its pitch swings +-40 cents at 5.3 Hz and its level 9 dB
    # with it (the body's resonances), valleys as deep as a legato re-bow's, no flux
    n = 260
    t = np.arange(n) / 100
    on = (np.arange(n) >= 10) & (np.arange(n) < 250)
    f0 = 440.0 * 2 ** ((64 + 0.4 * np.sin(2 * np.pi * 5.3 * t) - 69) / 12)
    conf = np.where(on, 0.9, 0.05)
    loud = np.where(on, -24.0 + 4.5 * np.cos(2 * np.pi * 5.3 * t), -110.0)
    notes = T.segment_notes(_frames_of(f0, conf, loud))
    assert [(n.pitch, round(n.onset_s, 2)) for n in notes] == [(64, 0.10)]
    # the same swings on a steady pitch (no vibrato) stay onset cues (weak ones: a round sag
    # of 9 dB with no sign of an attack is a held note's swell and splits nothing)
    flat = _frames_of(np.full(n, 329.63), conf, loud)
    assert len(T._onset_candidates(flat)[0]) > 5
    assert len(T.segment_notes(flat)) == 1
