"""The studio's session model and web API (midi_ddsp.studio), driven through Starlette's
TestClient with the tiny untrained models: edits re-render only their part, undo, bad files,
path traversal, save + reopen, instruments; and the midi_ddsp_studio command line."""
from __future__ import annotations

import io
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile

pytest.importorskip("starlette")
pytest.importorskip("httpx")
with warnings.catch_warnings():  # starlette suggests httpx2 over httpx; either works here
    warnings.filterwarnings("ignore", message="Using `httpx` with")
    from starlette.testclient import TestClient  # noqa: E402

from midi_ddsp.errors import ParameterError  # noqa: E402
from midi_ddsp.studio import StudioSession, create_app, parse_instrument, safe_name  # noqa: E402
from midi_ddsp.studio.session import path_inside  # noqa: E402

CHORALE = Path(__file__).resolve().parents[1] / "examples" / "chorale_4part.mid"
FOUR_NOTES = [2, 3, 4, 5]


@pytest.fixture()
def studio(tmp_path, tiny_models):
    session = StudioSession(tmp_path / "sessions", models=tiny_models)
    client = TestClient(create_app(session))
    return session, client


def _open_chorale(client, filename="chorale_4part.mid"):
    response = client.post(f"/api/open?filename={filename}", content=CHORALE.read_bytes())
    assert response.status_code == 200, response.text
    return response.json()


def _stems(client, n_parts):
    return [client.get(f"/api/audio/stem/{i}.wav?download=1").content for i in range(n_parts)]


def _read(wav_bytes):
    return soundfile.read(io.BytesIO(wav_bytes), dtype="float32")[0]


def _assert_one_line_error(response, status, *needles):
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error and "\n" not in error
    for needle in needles:
        assert needle in error
    return error


def test_edit_vibrato_rerenders_only_that_part_and_undo_restores(studio):
    session, client = studio
    state = _open_chorale(client)
    assert [p["name"] for p in state["parts"]] == ["Soprano", "Alto", "Tenor", "Bass"]
    assert [p["instrument"] for p in state["parts"]] == ["violin", "violin", "viola", "cello"]
    table0 = client.get("/api/parts/0/table").json()
    vib = table0["columns"].index("vibrato")
    before = _stems(client, 4)
    edited = client.post("/api/parts/0/edit", json={"rows": FOUR_NOTES, "column": "vibrato",
                                                    "value": 0.9}).json()
    assert edited["parts"][0]["dirty"] and not edited["parts"][1]["dirty"]
    rendered = client.post("/api/render").json()
    assert rendered["message"] == "rendered Soprano"
    assert not any(p["dirty"] for p in rendered["parts"])
    after = _stems(client, 4)
    assert after[0] != before[0]
    assert after[1:] == before[1:]  # bit-identical WAV files (float32)
    rows = client.get("/api/parts/0/table").json()["rows"]
    assert [round(rows[r][vib], 6) for r in FOUR_NOTES] == [0.9] * 4
    assert [r[vib] for i, r in enumerate(rows) if i not in FOUR_NOTES] == \
        [r[vib] for i, r in enumerate(table0["rows"]) if i not in FOUR_NOTES]

    undone = client.post("/api/undo").json()
    assert undone["message"] == "undone" and not undone["can_undo"]
    assert client.get("/api/parts/0/table").json() == table0
    assert _stems(client, 4) == before
    assert client.post("/api/undo").json()["message"] == "nothing to undo"


def test_upload_of_a_text_file_named_mid_is_one_line_and_the_server_keeps_serving(studio):
    session, client = studio
    _assert_one_line_error(client.post("/api/open?filename=x.mid", content=b"just text\n"),
                           400, "x.mid", "not a MIDI file")
    assert client.get("/api/state").status_code == 200
    _open_chorale(client)
    files = {"file": ("y.mid", b"also text", "audio/midi")}
    _assert_one_line_error(client.post("/api/open", files=files), 400, "y.mid")
    _assert_one_line_error(client.post("/api/open?filename=notes.txt", content=b"x"), 400,
                           "unknown score format")
    state = client.get("/api/state").json()  # the score loaded before is still there
    assert state["loaded"] and state["source"] == "chorale_4part.mid"
    assert sorted(p.name for p in session.root.iterdir()) == ["chorale_4part"]  # failed loads leave nothing


def test_oversized_upload_is_refused(tmp_path, tiny_models):
    session = StudioSession(tmp_path / "s", models=tiny_models, max_upload_bytes=1000)
    client = TestClient(create_app(session))
    _assert_one_line_error(client.post("/api/open?filename=big.mid", content=b"0" * 5000), 413,
                           "too large")
    files = {"file": ("big.mid", b"0" * 200_000, "audio/midi")}
    _assert_one_line_error(client.post("/api/open", files=files), 413, "too large")
    assert client.get("/api/state").json()["loaded"] is False


def test_file_names_with_dot_dot_cannot_write_outside_the_session_folder(studio, tmp_path):
    session, client = studio
    state = _open_chorale(client, filename="..%2F..%2F..%2Fevil.mid")
    assert state["source"] == "evil.mid"
    client.post("/api/save", json={"name": "../../outside"})
    _assert_one_line_error(client.post("/api/reopen", json={"name": "../../../etc"}), 400)
    written = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert written and all(session.root in p.parents for p in written)
    assert (session.root / "evil" / "source" / "evil.mid").is_file()
    assert (session.root / "outside" / "session.json").is_file()
    with pytest.raises(ParameterError):
        path_inside(session.root, "..", "x")


@pytest.mark.parametrize("given, expected", [
    ("song.mid", "song.mid"), ("../../etc/passwd", "passwd"), ("..\\..\\x.mid", "x.mid"),
    ("..", "untitled"), ("/abs/path/a b.xml", "a_b.xml"), (".hidden.mid", "hidden.mid"),
    ("ünï cödé.abc", "n_c_d_.abc"),
])
def test_safe_name(given, expected):
    assert safe_name(given) == expected


def test_save_and_reopen_reproduces_tables_instruments_and_audio(studio, tiny_models):
    session, client = studio
    _open_chorale(client)
    client.post("/api/parts/0/edit", json={"rows": FOUR_NOTES, "column": "vibrato", "value": 0.9})
    client.post("/api/parts/2/instrument", json={"instrument": "violin:0.5+flute:0.5"})
    client.post("/api/render")
    client.post("/api/parts/1/edit", json={"rows": [0], "column": "volume", "value": 0.5})
    saved = client.post("/api/save", json={}).json()  # the last edit unrendered: saved as an edit
    assert saved["message"] == "saved session chorale_4part"
    assert saved["sessions"] == ["chorale_4part"]
    folder = session.root / "chorale_4part"
    assert {p.name for p in folder.iterdir()} >= {"session.json", "source", "note_tables", "render"}
    tables = {i: client.get(f"/api/parts/{i}/table").json() for i in range(4)}
    client.post("/api/render")
    mix, stems = client.get("/api/audio/mix.wav?download=1").content, _stems(client, 4)

    other = StudioSession(session.root, models=tiny_models)
    other_client = TestClient(create_app(other))
    state = other_client.post("/api/reopen", json={"name": "chorale_4part"}).json()
    assert state["message"] == "reopened session chorale_4part"
    assert state["parts"][2]["instrument"] == {"violin": 0.5, "flute": 0.5}
    assert state["parts"][2]["label"] == "violin 50% + flute 50%"
    assert not any(p["dirty"] for p in state["parts"])
    assert {i: other_client.get(f"/api/parts/{i}/table").json() for i in range(4)} == tables
    # the same stems: each render thread runs torch on the bundle's thread count (a pooled thread
    # left on another count rounded floats otherwise: differences up to 2e-5 in the full suite)
    for got, want in zip(_stems(other_client, 4), stems):
        np.testing.assert_allclose(_read(got), _read(want), rtol=0, atol=1e-6)
    reopened_mix = _read(other_client.get("/api/audio/mix.wav?download=1").content)
    np.testing.assert_allclose(reopened_mix, _read(mix), rtol=0, atol=1e-6)


def test_unknown_instrument_is_one_line(studio):
    session, client = studio
    _open_chorale(client)
    for bad in ("banjo", "violin:0.5+banjo:0.5", "violin:x", 7):
        _assert_one_line_error(client.post("/api/parts/1/instrument", json={"instrument": bad}),
                               400)
    _assert_one_line_error(client.post("/api/parts/9/instrument", json={"instrument": "flute"}),
                           400, "no part 9")
    assert client.get("/api/state").json()["can_undo"] is False
    state = client.post("/api/parts/1/instrument", json={"instrument": "Flute"}).json()
    assert state["parts"][1]["instrument"] == "flute" and state["parts"][1]["dirty"]


@pytest.mark.parametrize("body, needle", [
    ({"rows": [0], "column": "pitch", "value": 60}, "cannot be edited"),
    ({"rows": [999], "column": "vibrato", "value": 0.5}, "notes 0.."),
    ({"rows": [], "column": "vibrato", "value": 0.5}, "notes 0.."),
    ({"rows": [0], "column": "vibrato", "value": 25.0}, "valid range"),
    ({"rows": [0], "column": "vibrato", "value": "loud"}, "expected numbers"),
    ({"rows": [0, 1], "column": "vibrato", "values": [0.1]}, "2 rows but 1 values"),
])
def test_bad_edits_are_one_line_and_change_nothing(studio, body, needle):
    session, client = studio
    _open_chorale(client)
    table = client.get("/api/parts/0/table").json()
    _assert_one_line_error(client.post("/api/parts/0/edit", json=body), 400, needle)
    assert client.get("/api/parts/0/table").json() == table
    _assert_one_line_error(client.post("/api/parts/0/edit", content=b"{not json"), 400, "JSON")


def test_requests_before_a_score_is_open_and_unknown_routes(studio):
    session, client = studio
    assert client.get("/api/state").json()["loaded"] is False
    _assert_one_line_error(client.post("/api/render"), 400, "no score is open")
    _assert_one_line_error(client.get("/api/audio/mix.wav"), 400, "no score is open")
    _assert_one_line_error(client.get("/api/nothing"), 404, "no such endpoint")
    page = client.get("/")
    assert page.status_code == 200 and "app.js" in page.text
    script = client.get("/static/app.js").text
    assert "http://" not in script and "https://" not in script  # nothing from outside


def test_downloads(studio):
    session, client = studio
    _open_chorale(client)
    audio, rate = soundfile.read(io.BytesIO(client.get("/api/audio/stem/0.wav?download=1").content),
                                 dtype="float32")
    assert rate == 16000 and np.array_equal(audio, session.result.stems["Soprano"])
    stem = client.get("/api/audio/stem/0.wav?download=1")
    assert stem.headers["content-disposition"] == 'attachment; filename="00_Soprano.wav"'
    assert soundfile.info(io.BytesIO(client.get("/api/audio/mix.wav").content)).subtype == "PCM_16"
    csv = client.get("/api/parts/3/table.csv").text
    assert csv.splitlines()[0].startswith("pitch,onset_s,offset_s,velocity,volume")
    params = np.load(io.BytesIO(client.get("/api/parts/3/params.npz").content))
    assert params["f0_hz"].shape == session.result.synth_params["Bass"].f0_hz.shape
    png = client.get("/api/parts/0/analysis.png")
    assert png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"
    names = zipfile.ZipFile(io.BytesIO(client.get("/api/download.zip").content)).namelist()
    assert "chorale_4part/mix.wav" in names and "chorale_4part/stems/03_Bass.wav" in names
    assert "chorale_4part/note_tables/00_Soprano.csv" in names
    assert "chorale_4part/params/01_Alto.npz" in names


@pytest.mark.parametrize("value, expected", [
    ("flute", "flute"), (" Violin ", "violin"), ("violin:1+flute:3", {"violin": 0.25, "flute": 0.75}),
    ({"viola": 2, "cello": 2}, {"viola": 0.5, "cello": 0.5}), ("violin:1+violin:1", "violin"),
])
def test_parse_instrument(value, expected):
    assert parse_instrument(value) == expected


@pytest.mark.parametrize("value", ["banjo", "violin:-1+flute:1", "violin:0", "", None, "flute:nan"])
def test_parse_instrument_refuses(value):
    with pytest.raises(ParameterError):
        parse_instrument(value)


def test_cli_warns_off_loopback_and_reports_bad_songs(tmp_path, tiny_checkpoints, monkeypatch,
                                                      capsys):
    import uvicorn

    from midi_ddsp.cli.studio import is_loopback, main

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.update(kw, app=app))
    weights = ["--synthesis-generator-weight-path", str(tiny_checkpoints["synthesis_generator"]),
               "--expression-generator-weight-path", str(tiny_checkpoints["expression_generator"])]
    sessions = tmp_path / "sessions"
    assert main([str(CHORALE), "--host", "0.0.0.0", "--port", "9999", "--session-dir",
                 str(sessions), *weights]) == 0
    assert served["host"] == "0.0.0.0" and served["port"] == 9999
    assert "warning: listening on 0.0.0.0" in capsys.readouterr().err
    assert (sessions / "chorale_4part" / "source" / "chorale_4part.mid").is_file()
    state = TestClient(served["app"]).get("/api/state").json()
    assert state["loaded"] and len(state["parts"]) == 4
    bad = tmp_path / "bad.mid"
    bad.write_text("text")
    assert main([str(bad), "--session-dir", str(sessions), *weights]) == 2
    err = capsys.readouterr().err
    assert "error: bad.mid: not a MIDI file" in err and "warning" not in err


MUSICXML = """<?xml version="1.0" encoding="UTF-8"?>
<score-partwise version="3.1">
  <part-list><score-part id="P1"><part-name>Flute</part-name>
    <score-instrument id="P1-I1"><instrument-name>Flute</instrument-name></score-instrument>
    <midi-instrument id="P1-I1"><midi-channel>1</midi-channel><midi-program>74</midi-program>
    </midi-instrument></score-part></part-list>
  <part id="P1"><measure number="1">
    <attributes><divisions>1</divisions><time><beats>4</beats><beat-type>4</beat-type></time>
    </attributes>
    <note><pitch><step>C</step><octave>5</octave></pitch><duration>1</duration></note>
    <note><pitch><step>D</step><octave>5</octave></pitch><duration>1</duration></note>
    <note><pitch><step>E</step><octave>5</octave></pitch><duration>2</duration></note>
  </measure></part>
</score-partwise>
"""


def test_open_a_musicxml_upload(studio):
    session, client = studio
    files = {"file": ("tune.musicxml", MUSICXML.encode(), "application/xml")}
    state = client.post("/api/open", files=files).json()
    assert state["source"] == "tune.musicxml" and len(state["parts"]) == 1
    assert state["parts"][0]["instrument"] == "flute" and state["parts"][0]["n_notes"] == 3


def test_a_marked_score_shows_its_marks_and_downloads_them(studio):
    session, client = studio
    marked = MUSICXML.replace(
        "<note><pitch><step>C</step>",
        '<direction><direction-type><dynamics><f/></dynamics></direction-type></direction>'
        "<note><pitch><step>C</step>").replace(
        "<duration>1</duration></note>\n    <note><pitch><step>D",
        "<duration>1</duration><notations><articulations><staccato/></articulations>"
        "</notations></note>\n    <note><pitch><step>D", 1)
    files = {"file": ("marked.musicxml", marked.encode(), "application/xml")}
    assert client.post("/api/open", files=files).status_code == 200
    table = client.get("/api/parts/0/table").json()
    rows = [dict(zip(table["columns"], row)) for row in table["rows"]]
    assert [r["dynamic"] for r in rows] == ["f", "f", "f"]
    assert [r["articulation"] for r in rows] == ["staccato", "", ""]
    params = np.load(io.BytesIO(client.get("/api/parts/0/params.npz").content))
    assert list(params["note_dynamic"]) == ["f", "f", "f"]
    csv_text = client.get("/api/parts/0/table.csv").content.decode()
    assert csv_text.splitlines()[0].endswith("dynamic,wedge,articulation,slur,fermata")
