"""Score markings of MusicXML (``midi_ddsp.score.marks``): what the notes play, and what the
shipped checkpoints render from them, measured on the audio."""
import music21 as m21
import numpy as np
import pytest
from scipy.stats import spearmanr

from midi_ddsp.audio_evaluation import note_loudness_db
from midi_ddsp.score import load_score
from midi_ddsp import load_pretrained_model, synthesize_midi


def _write(path, bars, *, dynamics=None, wedge=None, articulation=None, slur=None, fermata=None):
    """A violin part of ``bars`` 4/4 bars of quarter notes (a rising and falling line).

    dynamics: {bar: mark}; wedge: ("crescendo" | "diminuendo", first note, last note);
    articulation: (class name, [note indices]); slur: (first, last); fermata: note index.
    """
    score, part = m21.stream.Score(), m21.stream.Part()
    part.insert(0, m21.instrument.Violin())
    pitches = [67, 69, 71, 72, 74, 72, 71, 69]
    index = 0
    for bar in range(bars):
        measure = m21.stream.Measure(number=bar + 1)
        if dynamics and bar in dynamics:
            measure.insert(0, m21.dynamics.Dynamic(dynamics[bar]))
        for _ in range(4):
            note = m21.note.Note(pitches[index % len(pitches)], quarterLength=1)
            if articulation and index in articulation[1]:
                note.articulations.append(getattr(m21.articulations, articulation[0])())
            if fermata == index:
                note.expressions.append(m21.expressions.Fermata())
            measure.append(note)
            index += 1
        part.append(measure)
    score.append(part)
    notes = list(score.recurse().notes)
    if wedge:
        cls = m21.dynamics.Crescendo if wedge[0] == "crescendo" else m21.dynamics.Diminuendo
        score.insert(0, cls(notes[wedge[1]], notes[wedge[2]]))
    if slur:
        score.insert(0, m21.spanner.Slur(notes[slur[0]], notes[slur[1]]))
    score.write("musicxml", fp=str(path))
    return str(path)


@pytest.fixture(scope="module")
def model():
    return load_pretrained_model()


def _render(model, path, reverb="room"):
    result = synthesize_midi(path, models=model, normalize="none", temperature=0, reverb=reverb)
    (name, table), = result.note_tables.items()
    return result, result.stems[name], table


def test_forte_bars_render_louder_than_piano_bars(model, tmp_path):
    path = _write(tmp_path / "pf.musicxml", 16, dynamics={0: "p", 8: "f"})
    result, stem, table = _render(model, path)
    assert sorted(set(table["velocity"])) == [50, 96]
    loud = note_loudness_db(stem, list(load_score(path).parts[0].notes), sample_rate=result.sample_rate)
    assert loud[32:].mean() - loud[:32].mean() >= 10.0


def test_crescendo_wedge_gives_rising_loudness(model, tmp_path):
    path = _write(tmp_path / "cresc.musicxml", 4, dynamics={0: "p"}, wedge=("crescendo", 4, 11))
    notes = list(load_score(path).parts[0].notes)
    assert [n.velocity for n in notes[4:12]] == sorted(n.velocity for n in notes[4:12])
    assert notes[11].velocity > notes[4].velocity + 20
    result, stem, _ = _render(model, path)
    loud = note_loudness_db(stem, notes, sample_rate=result.sample_rate)
    assert spearmanr(np.arange(8), loud[4:12]).statistic >= 0.8


def test_staccato_notes_play_half_length_and_stop_sounding_sooner(model, tmp_path):
    path = _write(tmp_path / "stacc.musicxml", 2, dynamics={0: "mf"},
                  articulation=("Staccato", [2, 3, 4, 5]))
    notes = list(load_score(path).parts[0].notes)
    written = 0.5  # a quarter at 120 bpm
    for i in range(2, 6):
        assert notes[i].offset_s - notes[i].onset_s <= 0.6 * written
    # from the (dry) audio: the staccato notes stop sounding (40 ms RMS within 20 dB of the
    # note's peak) before the same notes played as written; what sounds after the note-off is the
    # model's release (measured: -20 dB about 0.13 s after the note-off, so a staccato quarter
    # sounds for ~80 % of its written length, not the 60 % a player would give it)
    plain = _write(tmp_path / "plain.musicxml", 2, dynamics={0: "mf"})
    lengths = {}
    for label, score_path in (("staccato", path), ("plain", plain)):
        result, stem, _ = _render(model, score_path, reverb="dry")
        lengths[label] = [_sounding_s(stem, result.sample_rate, notes[i].onset_s, written)
                          for i in range(2, 6)]
    for short, full in zip(lengths["staccato"], lengths["plain"]):
        assert short <= full - 0.05 and short <= 0.6 * written + 0.15


def _sounding_s(stem, sr, onset_s, span_s):
    """How long after ``onset_s`` the audio stays within 20 dB of its peak (40 ms RMS)."""
    a, b = int(onset_s * sr), int((onset_s + span_s) * sr)
    seg = stem[a:b]
    win, hop = int(0.04 * sr), int(0.01 * sr)
    rms = np.array([np.sqrt(np.mean(seg[j:j + win] ** 2)) + 1e-9 for j in range(0, len(seg) - win, hop)])
    db = 20 * np.log10(rms)
    return (np.nonzero(db > db.max() - 20.0)[0][-1] * hop + win) / sr


def test_slurred_notes_have_no_silence_between_them(model, tmp_path):
    path = _write(tmp_path / "slur.musicxml", 2, dynamics={0: "mf"},
                  articulation=("Staccato", [0, 1, 2, 3, 4, 5, 6, 7]), slur=(2, 6))
    notes = list(load_score(path).parts[0].notes)
    for i in range(2, 6):   # the slur wins over staccato: each note lasts until the next
        assert notes[i].offset_s == pytest.approx(notes[i + 1].onset_s, abs=1e-6)
    result, stem, _ = _render(model, path)
    sr = result.sample_rate
    level = note_loudness_db(stem, notes, sample_rate=sr)
    from midi_ddsp.dsp.spectral import a_weighted_loudness_db
    loud = np.asarray(a_weighted_loudness_db(stem, sample_rate=sr, frame_rate=250))
    for i in range(2, 6):   # around each junction the level stays near the notes' level
        t = int(notes[i + 1].onset_s * 250)
        assert loud[t - 5:t + 5].min() > min(level[i], level[i + 1]) - 15.0


def test_fermata_lengthens_its_note(tmp_path):
    plain = load_score(_write(tmp_path / "plain.musicxml", 2)).parts[0].notes
    held = load_score(_write(tmp_path / "fermata.musicxml", 2, fermata=3)).parts[0].notes
    assert held[3].offset_s - held[3].onset_s >= 1.8 * (plain[3].offset_s - plain[3].onset_s)
    assert held[4].onset_s > plain[4].onset_s
    assert held[5].onset_s - held[4].onset_s == pytest.approx(plain[5].onset_s - plain[4].onset_s)


def test_marks_are_kept_on_the_notes(tmp_path):
    path = _write(tmp_path / "marks.musicxml", 4, dynamics={0: "p", 2: "f"},
                  wedge=("crescendo", 2, 6), articulation=("Staccato", [1, 9]), slur=(10, 13),
                  fermata=15)
    marks = [n.marks for n in load_score(path).parts[0].notes]
    assert [m.dynamic for m in marks] == ["p"] * 8 + ["f"] * 8
    assert [i for i, m in enumerate(marks) if m.wedge == "crescendo"] == [2, 3, 4, 5, 6]
    assert [i for i, m in enumerate(marks) if m.articulation == "staccato"] == [1, 9]
    assert [i for i, m in enumerate(marks) if m.slur] == [10, 11, 12]      # not the slur's last note
    assert [i for i, m in enumerate(marks) if m.fermata] == [15]
    accents = load_score(_write(tmp_path / "acc.musicxml", 1, articulation=("StrongAccent", [2])))
    assert [n.marks.articulation for n in accents.parts[0].notes] == ["", "", "marcato", ""]


def test_midi_notes_carry_no_marks(tmp_path):
    import pretty_midi

    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=40)
    inst.notes = [pretty_midi.Note(velocity=80, pitch=60 + i, start=0.5 * i, end=0.5 * i + 0.4)
                  for i in range(4)]
    pm.instruments.append(inst)
    pm.write(str(tmp_path / "plain.mid"))
    assert not any(n.marks for n in load_score(str(tmp_path / "plain.mid")).parts[0].notes)


def test_note_table_lists_the_marks_and_reads_them_back(tmp_path):
    import pandas as pd

    from midi_ddsp.errors import ParameterError
    from midi_ddsp.expression import note_table_from_expressions, validate_note_table
    from midi_ddsp.expression.note_expressions import NoteExpressions, write_note_table_csv
    from midi_ddsp.expression.note_table import notes_from_note_table

    notes = load_score(_write(tmp_path / "t.musicxml", 2, dynamics={0: "mf"},
                              articulation=("Tenuto", [3]), slur=(4, 6), fermata=7)).parts[0].notes
    part = NoteExpressions(notes, np.full((len(notes), 6), 0.5, np.float32))
    table = note_table_from_expressions(part)
    assert list(table.columns[-5:]) == ["dynamic", "wedge", "articulation", "slur", "fermata"]
    assert list(table["dynamic"]) == ["mf"] * 8 and table["articulation"][3] == "tenuto"
    np.testing.assert_array_equal(table["slur"], [0, 0, 0, 0, 1, 1, 0, 0])
    write_note_table_csv(tmp_path / "t.csv", part.columns())
    assert [n.marks for n in notes_from_note_table(tmp_path / "t.csv")] == [n.marks for n in notes]
    bad = table.copy()
    bad.loc[2, "dynamic"] = "mezzo"
    with pytest.raises(ParameterError, match="row 2.*unknown dynamic 'mezzo'"):
        validate_note_table(bad)
    bad = table.copy()
    bad.loc[5, "slur"] = 2
    with pytest.raises(ParameterError, match="'slur', row 5"):
        validate_note_table(bad)
    plain = validate_note_table(pd.DataFrame(table.iloc[:, :10]))
    assert "dynamic" not in plain.columns


def test_shipped_expression_generator_reads_a_dynamic_mark_alone(model):
    """The same notes at one velocity, marked p then f only in ``Note.marks`` (as an edited
    NoteTable would have them): the f notes render louder, from the audio."""
    from midi_ddsp.score import Note, NoteMarks, score_from_notes

    pitches = [67, 69, 71, 72, 74, 72, 71, 69] * 2
    notes = [Note(p, 0.5 * i, 0.5 * i + 0.45, 70, NoteMarks("p" if i < 8 else "f"))
             for i, p in enumerate(pitches)]
    plain = [Note(n.pitch, n.onset_s, n.offset_s, n.velocity) for n in notes]
    gaps = []
    for line in (notes, plain):
        result = synthesize_midi(score_from_notes({"violin": line}), models=model, temperature=0,
                                 normalize="none")
        loud = note_loudness_db(result.stems[result.part_names[0]], line,
                                sample_rate=result.sample_rate)
        gaps.append(loud[8:].mean() - loud[:8].mean())
    marked_gap, plain_gap = gaps
    assert marked_gap >= 3.0 and marked_gap - plain_gap >= 3.0, gaps
