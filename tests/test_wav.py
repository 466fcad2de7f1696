"""Tests of midi_ddsp.wav: atomic WAV writing."""
import os

import numpy as np
import pytest
import soundfile

from midi_ddsp.errors import InputFileError, ParameterError
from midi_ddsp.wav import wav_bytes, write_wav


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_write_wav_roundtrip_pcm16_and_float(tmp_path, rng):
    x = (0.5 * rng.uniform(-1, 1, 1600)).astype(np.float32)
    path = write_wav(tmp_path / "a.wav", x, sample_rate=16000)
    y, sr = soundfile.read(path, dtype="float32")
    assert sr == 16000 and soundfile.info(path).subtype == "PCM_16"
    np.testing.assert_allclose(y, x, atol=1.0 / 32768 + 1e-7)
    path = write_wav(tmp_path / "b.wav", 3 * x, sample_rate=8000, subtype="FLOAT")
    y, sr = soundfile.read(path, dtype="float32")
    assert sr == 8000
    np.testing.assert_array_equal(y, 3 * x)
    assert sorted(os.listdir(tmp_path)) == ["a.wav", "b.wav"]  # no temporary files left


def test_write_wav_refuses_to_clip_and_bad_folders(tmp_path):
    with pytest.raises(ParameterError, match="clip"):
        write_wav(tmp_path / "c.wav", np.array([0.0, 1.5]), sample_rate=16000)
    assert not (tmp_path / "c.wav").exists()
    with pytest.raises(ParameterError, match="subtype"):
        write_wav(tmp_path / "d.wav", np.zeros(3), sample_rate=16000, subtype="MP3")
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(InputFileError, match="file.txt"):
        write_wav(blocker / "e.wav", np.zeros(3), sample_rate=16000)
    assert os.listdir(tmp_path) == ["file.txt"]


def test_wav_bytes_reads_back_and_is_deterministic(tmp_path, rng):
    x = (0.5 * rng.uniform(-1, 1, 800)).astype("<f4")
    data = wav_bytes(x, 16000, 3)
    assert data == wav_bytes(x.copy(), 16000, 3)  # equal audio, equal bytes
    (tmp_path / "f.wav").write_bytes(data)
    y, sr = soundfile.read(tmp_path / "f.wav", dtype="float32")
    assert sr == 16000 and soundfile.info(tmp_path / "f.wav").subtype == "FLOAT"
    np.testing.assert_array_equal(y, x)
    pcm = np.round(x * 32767).astype("<i2")
    (tmp_path / "p.wav").write_bytes(wav_bytes(pcm, 8000, 1))
    z, sr = soundfile.read(tmp_path / "p.wav", dtype="int16")
    assert sr == 8000 and np.array_equal(z, pcm)
