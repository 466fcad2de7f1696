"""DDSP Inference on recordings: the clip evaluation, and the fixture script that fetches the
real clips from the packages that ship them."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from midi_ddsp.inference_evaluation import clip_inputs, evaluate_clips, main

REPO = Path(__file__).resolve().parents[1]
SR = 22050


def _harmonic_phrase(seconds=2.0, sample_rate=SR):
    """A 4-harmonic tone stepping through three pitches, with a breath of noise."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    f0 = np.select([t < 0.7, t < 1.4], [392.0, 440.0], 494.0)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    x = sum(0.3 / k * np.sin(k * phase) for k in range(1, 5))
    x = x * np.minimum(1.0, t / 0.05) + 0.002 * np.random.default_rng(0).standard_normal(t.shape)
    return x.astype(np.float32), f0


@pytest.fixture(scope="module")
def model(tiny_inference):
    return tiny_inference


def test_clip_inputs_measure_pitch_and_loudness_at_16_khz():
    audio, f0_true = _harmonic_phrase()
    x16, f0, loudness = clip_inputs(audio, SR)
    assert x16.shape[0] == f0.shape[0] * 64 == loudness.shape[0] * 64
    assert abs(x16.shape[0] - 2.0 * 16000) <= 64
    frames = np.arange(f0.shape[0]) / 250.0
    for lo, hi, hz in ((0.1, 0.6, 392.0), (0.8, 1.3, 440.0), (1.5, 1.9, 494.0)):
        sel = (frames > lo) & (frames < hi)
        assert np.median(np.abs(1200 * np.log2(f0[sel] / hz))) < 20
    assert np.median(loudness[frames > 0.1]) > -30


def test_the_floor_resynthesises_a_tone_far_better_than_an_untrained_model(tmp_path, model):
    audio, _ = _harmonic_phrase()
    soundfile.write(tmp_path / "tone.wav", audio, SR)
    soundfile.write(tmp_path / "listed_but_absent.wav", audio[:10], SR)
    (tmp_path / "listed_but_absent.wav").unlink()
    (tmp_path / "clips.json").write_text(json.dumps({
        "tone.wav": {"instrument": "flute"}, "listed_but_absent.wav": {"instrument": "oboe"}}))
    result = evaluate_clips(model, tmp_path)
    assert list(result) == ["tone.wav"]
    row = result["tone.wav"]
    assert row["instrument"] == "flute" and row["seconds"] == pytest.approx(2.0, abs=0.01)
    assert row["analysis_floor"] < 0.8 * row["model"]
    assert row["ratio"] == pytest.approx(row["model"] / row["analysis_floor"])
    assert evaluate_clips(model, tmp_path / "nowhere") == {}


def test_cli_writes_the_report(tmp_path, model):
    audio, _ = _harmonic_phrase(seconds=1.0)
    clips = tmp_path / "clips"
    clips.mkdir()
    soundfile.write(clips / "a.wav", audio, SR)
    (clips / "clips.json").write_text(json.dumps({"a.wav": {"instrument": "violin"}}))
    checkpoint = model.save_checkpoint(tmp_path / "inference.pt")
    assert main(["--model", str(checkpoint), "--clips", str(clips), "--out",
                 str(tmp_path / "out")]) == 0
    result = json.loads((tmp_path / "out" / "inference.json").read_text())["recordings"]
    assert set(result["clips"]) == {"a.wav"} and result["clips_mean_ratio"] > 1.0
    assert "| a.wav | violin |" in (tmp_path / "out" / "inference.md").read_text()


def test_a_missing_checkpoint_is_one_line(tmp_path, capsys):
    assert main(["--model", str(tmp_path / "none.pt"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "none.pt" in err


@pytest.mark.skipif(subprocess.run(["which", "dpkg-deb"], capture_output=True).returncode != 0,
                    reason="needs dpkg-deb")
def test_fetch_script_takes_a_member_out_of_a_deb(tmp_path):
    """The Debian path of scripts/fetch_real_clips.py, on a package built here."""
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import fetch_real_clips
    finally:
        sys.path.pop(0)
    root = tmp_path / "pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        "Package: clip-fixture\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@t>\n"
        "Description: test\n")
    member = root / "usr/share/clips/note.wav"
    member.parent.mkdir(parents=True)
    member.write_bytes(b"RIFF-fixture-bytes")
    deb = tmp_path / "clip-fixture_1.0_all.deb"
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(root), str(deb)],
                   check=True, capture_output=True)
    got = fetch_real_clips._member("deb", str(deb), "usr/share/clips/note.wav")
    assert got == b"RIFF-fixture-bytes"
    with pytest.raises(KeyError):
        fetch_real_clips._member("deb", str(deb), "usr/share/clips/other.wav")


REAL_CLIPS = REPO / "data" / "real_clips"
SHORT_CLIPS = ("pyo_flute.aif", "lmms_violin.ogg", "lmms_trumpet.ogg")
MAX_RATIO = 1.3   # the goal: within 1.3x the analysis floor (measured 1.13-1.23 on these)


@pytest.mark.skipif(not all((REAL_CLIPS / c).is_file() for c in SHORT_CLIPS),
                    reason="real clips absent (python scripts/fetch_real_clips.py)")
def test_shipped_ddsp_inference_resynthesises_real_recordings_near_the_floor(tmp_path):
    """The shipped weights on three real recordings (flute phrase, violin and trumpet notes):
    the resynthesis loss stays within MAX_RATIO of measuring the audio directly."""
    import shutil

    from midi_ddsp.models import load_model, shipped_checkpoint_path

    index = json.loads((REAL_CLIPS / "clips.json").read_text())
    for name in SHORT_CLIPS:
        shutil.copy(REAL_CLIPS / name, tmp_path / name)
    (tmp_path / "clips.json").write_text(json.dumps({c: index[c] for c in SHORT_CLIPS}))
    inference = load_model(shipped_checkpoint_path("ddsp_inference"), kind="ddsp_inference")
    result = evaluate_clips(inference.eval(), tmp_path)
    assert set(result) == set(SHORT_CLIPS)
    for name, row in result.items():
        assert row["ratio"] < MAX_RATIO, (name, row)
