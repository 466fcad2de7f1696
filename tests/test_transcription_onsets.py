"""Onset cues that split a held pitch (midi_ddsp.transcription_onsets) and the octave slips
segment_notes keeps in one note, on hand-made frame features (100 Hz)."""
import numpy as np
import pytest

from midi_ddsp import transcription as T
from midi_ddsp import transcription_onsets as T_onsets

N_FRAMES = 260
ON, OFF = 10, 250  # the sounding frames


def _held_note(f0_hz=220.0):
    """f0 (Hz), confidence, loudness (dB) and flux of one held note, each [N_FRAMES]."""
    sounding = (np.arange(N_FRAMES) >= ON) & (np.arange(N_FRAMES) < OFF)
    f0 = np.full(N_FRAMES, f0_hz)
    conf = np.where(sounding, 0.9, 0.05)
    loud = np.where(sounding, -20.0, -110.0)
    flux = np.ones(N_FRAMES)
    flux[ON] = 8.0  # the attack
    return f0, conf, loud, flux


def _frames(f0, conf, loud, flux):
    return T.TranscriptionFrames(100, *(np.asarray(x, np.float32) for x in (f0, conf, loud, flux)))


def _onsets(frames):
    return [(n.pitch, n.onset_s) for n in T.segment_notes(frames)]


def _sag(loud, centre, depth_db, half_width):
    """A round (raised-cosine) sag of the level, in place."""
    k = np.arange(-half_width, half_width + 1)
    loud[centre + k] -= depth_db * 0.5 * (1 + np.cos(np.pi * k / half_width))


def test_a_held_notes_own_swell_splits_nothing_but_the_same_sag_with_a_reattack_does():
    # a horn's level sags 10 dB, round, 0.3 s into the note: deeper than SPLIT_VALLEY_DB, but
    # no flux, no sharp bottom, a steady pitch confidence: one note
    f0, conf, loud, flux = _held_note()
    _sag(loud, 40, 10.0, 12)
    assert 10.0 >= T_onsets.SPLIT_VALLEY_DB and 10.0 < T_onsets.SWELL_DB
    assert [p for p, _ in _onsets(_frames(f0, conf, loud, flux))] == [57]
    # the same sag with a (soft) re-attack at its bottom: a repeated note
    flux[40] = T_onsets.ATTACK_FLUX + 0.5
    notes = _onsets(_frames(f0, conf, loud, flux))
    assert [p for p, _ in notes] == [57, 57]
    assert notes[1][1] == pytest.approx(0.40, abs=0.03)


def test_legato_repeated_notes_begin_where_the_level_starts_to_dip():
    # a cello's legato repeated notes: at each note-on the previous note lets go (the level
    # falls 1 dB a frame for 70 ms) while the new one swells back over 250 ms; the valley is
    # too shallow within VALLEY_REACH_S to split alone and the re-attack (flux 2) too soft
    f0, conf, loud, flux = _held_note()
    starts = [ON, 80, 150]
    for s in starts[1:]:
        loud[s:s + 8] = -20.0 - np.arange(8)
        loud[s + 7:s + 33] = -27.0 + np.arange(26) * 7 / 25
        flux[s + 1] = 2.0
    frames = _frames(f0, conf, loud, flux)
    onsets, strength, _, repeats = T_onsets._onset_candidates(frames)
    assert strength[onsets > ON].max() < 2.0  # no cue inside the note strong enough alone
    assert repeats.shape == (2, 2)
    notes = _onsets(frames)
    assert [p for p, _ in notes] == [57] * 3
    for (_, onset_s), s in zip(notes, starts):
        assert onset_s == pytest.approx(s / 100, abs=0.02)


def test_a_soft_bump_away_from_the_fall_into_a_valley_splits_nothing():
    # the same dips with the flux bump 80 ms before the fall (a breathy held note's noise)
    f0, conf, loud, flux = _held_note()
    for s in (80, 150):
        loud[s:s + 8] = -20.0 - np.arange(8)
        loud[s + 7:s + 33] = -27.0 + np.arange(26) * 7 / 25
    loud[:ON] = -110.0
    loud[ON:70] = -20.0 + np.linspace(0.0, 0.5, 60)  # a slow crescendo: the fall starts at 80
    flux[72] = 2.0
    frames = _frames(f0, conf, loud, flux)
    assert all(a > 72 for a, _ in T_onsets._onset_candidates(frames)[3])


def test_a_reattack_standing_out_of_a_held_note_splits_it_but_an_attack_transient_does_not():
    # a re-bowed bass note: a flux spike (below 2 * ONSET_THRESHOLD) as the level steps up 4 dB
    f0, conf, loud, flux = _held_note()
    loud[ON:120] = -24.0
    flux[120] = 5.0
    assert T_onsets.ONSET_THRESHOLD <= 5.0 < 2 * T_onsets.ONSET_THRESHOLD
    notes = _onsets(_frames(f0, conf, loud, flux))
    assert [p for p, _ in notes] == [57, 57]
    assert notes[1][1] == pytest.approx(1.19, abs=0.02)
    # the same spike 80 ms into the note is its attack's own transient
    f0, conf, loud, flux = _held_note()
    loud[ON:ON + 8] = -24.0
    flux[ON + 8] = 5.0
    assert [p for p, _ in _onsets(_frames(f0, conf, loud, flux))] == [57]


def test_an_octave_error_of_the_tracker_inside_a_held_note_stays_in_it():
    # CREPE reads 150 ms of a held A3 an octave high (no attack, no level change), then
    # comes back: one note, of its own pitch
    f0, conf, loud, flux = _held_note()
    f0[80:95] = 440.0
    assert 0.15 < T.OCTAVE_SLIP_S
    assert _onsets(_frames(f0, conf, loud, flux)) == [(57, pytest.approx(0.10, abs=0.02))]
    # a real leap of an octave comes with an attack, or is held: two notes
    f0, conf, loud, flux = _held_note()
    f0[120:] = 440.0
    flux[120] = 8.0
    loud[117:120] -= 3.0
    assert [p for p, _ in _onsets(_frames(f0, conf, loud, flux))] == [57, 69]
    f0, conf, loud, flux = _held_note()
    f0[120:] = 440.0
    assert [p for p, _ in _onsets(_frames(f0, conf, loud, flux))] == [57, 69]


def test_a_note_whose_noisy_attack_the_tracker_cannot_pitch_begins_where_the_noise_begins():
    # a re-bow at frame 120: 80 ms of loud noise (CREPE unsure: a silence state) with the
    # flux rising at its start and again as the pitch settles
    f0, conf, loud, flux = _held_note()
    conf[120:128] = 0.1
    flux[121] = flux[128] = 2.5
    notes = _onsets(_frames(f0, conf, loud, flux))
    assert [p for p, _ in notes] == [57, 57]
    assert notes[1][1] == pytest.approx(1.20, abs=0.02)


def test_a_flux_burst_standing_out_of_a_held_notes_texture_splits_it_as_the_level_turns_up():
    # a re-bow with no dip: a burst of flux (below ONSET_THRESHOLD, 2.4x the held note's flux
    # texture) as the level, decaying slowly, turns up 1.5 dB: a repeated note begins there
    f0, conf, loud, flux = _held_note()
    loud[ON:OFF] = -20.0 - 0.02 * np.arange(OFF - ON)  # a slow decay
    loud[131:OFF] += 1.5
    flux[131] = 2.4
    assert flux[131] < T_onsets.ONSET_THRESHOLD and flux[131] >= T_onsets.STANDOUT_RATIO * 1.0
    notes = _onsets(_frames(f0, conf, loud, flux))
    assert [p for p, _ in notes] == [57, 57]
    assert notes[1][1] == pytest.approx(1.30, abs=0.02)
    # the same burst on a flat level (a loop splice's click) adds no energy: one note
    f0, conf, loud, flux = _held_note()
    flux[131] = 2.4
    assert [p for p, _ in _onsets(_frames(f0, conf, loud, flux))] == [57]
    # ... and on a bend (the pitch moving a semitone around it) is the bend's flux: one note
    loud[131:OFF] += 1.5
    f0[126:137] = 220.0 * 2 ** (np.linspace(0.0, 1.0, 11) / 12)
    f0[137:147] = 220.0 * 2 ** (np.linspace(1.0, 0.0, 10) / 12)
    assert [p for p, _ in _onsets(_frames(f0, conf, loud, flux))] == [57]


def test_a_legato_semitone_step_without_a_cue_begins_where_the_release_begins():
    # A3 decays 2.5 dB (its own slow decay) from frame 120, then is released at frame 130
    # (1 dB a frame) into a quieter A#3 with no valley and no flux; CREPE hears A#3 only at
    # frame 140: the note begins at the release (1.30 s), not at the first 1.5 dB of decay
    f0, conf, loud, flux = _held_note()
    loud[120:131] = -20.0 - 0.25 * np.arange(11)
    loud[131:141] = -22.5 - np.arange(1, 11)
    loud[141:OFF] = -32.5
    f0[140:] = 220.0 * 2 ** (1 / 12)
    notes = _onsets(_frames(f0, conf, loud, flux))
    assert [p for p, _ in notes] == [57, 58]
    assert notes[1][1] == pytest.approx(1.30, abs=0.02)


def test_a_deep_release_splits_a_repeated_note_that_barely_climbs_out_of_it():
    # a horn's soft repeated note: the level falls 20 dB (the release) and climbs 3 dB only
    # within VALLEY_REACH_S (less than SPLIT_VALLEY_DB), then swells slowly
    f0, conf, loud, flux = _held_note()
    loud[100:111] = -20.0 - 2.0 * np.arange(11)
    loud[111:121] = -40.0 + 0.3 * np.arange(1, 11)
    loud[121:OFF] = -37.0 + np.minimum(np.arange(OFF - 121) * 0.1, 10.0)
    assert T_onsets.RELEASE_DB <= 20.0 and 3.0 < T_onsets.SPLIT_VALLEY_DB
    notes = _onsets(_frames(f0, conf, loud, flux))
    assert [p for p, _ in notes] == [57, 57]
    assert notes[1][1] == pytest.approx(1.08, abs=0.02)
    # a sag of the held note as deep on the right but only 6 dB on the left splits nothing
    f0, conf, loud, flux = _held_note()
    loud[100:111] = -20.0 - 0.6 * np.arange(11)
    loud[111:121] = -26.0 + 0.3 * np.arange(1, 11)
    loud[121:OFF] = -23.0
    assert [p for p, _ in _onsets(_frames(f0, conf, loud, flux))] == [57]
    # a release tail that wobbles up 4 dB 20 dB down, then decays below its dip, is no new note
    f0, conf, loud, flux = _held_note()
    loud[100:111] = -20.0 - 2.0 * np.arange(11)
    loud[111:116] = -40.0 + 0.8 * np.arange(1, 6)
    loud[116:OFF] = -36.0 - 0.5 * np.arange(OFF - 116)
    assert [p for p, _ in _onsets(_frames(f0, conf, loud, flux))] == [57]


def test_a_flat_bottomed_valleys_cue_is_where_the_level_reaches_the_floor():
    # the level falls 10 dB into a 100 ms floor (sloping 0.4 dB down) before the next note
    # rises: the cue lies VALLEY_LEAD_S before the floor's start, not before its lowest frame
    f0, conf, loud, flux = _held_note()
    loud[100:107] = -20.0 - 10.0 * np.arange(7) / 6
    loud[107:117] = -30.0 - 0.04 * np.arange(1, 11)
    loud[117:123] = -30.4 + 10.4 * np.arange(1, 7) / 6
    onsets, _, _, _ = T_onsets._onset_candidates(_frames(f0, conf, loud, flux))
    lead = int(round(T_onsets.VALLEY_LEAD_S * 100))
    assert 106 - lead in onsets.tolist()
    assert not any(110 <= f <= 116 for f in onsets.tolist())
