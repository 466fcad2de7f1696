"""The studio page in a real headless browser (Debian ``chromium`` + ``chromium-driver``, driven
by Selenium) against a live server with the shipped checkpoints: open the example chorale, give
four notes of the top part vibrato 0.9 through the page's controls, re-render, download the
stems and hear the change (the f0 modulation CREPE measures in the top part's stem rises, the
other stems are bit-identical); a text file named .mid shows one line in the status and the
server keeps serving. The run saves a screenshot of the loaded chorale to docs/studio.png."""
from __future__ import annotations

import io
import json
import shutil
import socket
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import soundfile

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                reason="needs Debian's chromium and chromium-driver "
                                       "(apt-get install chromium chromium-driver)")
webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install selenium)")
uvicorn = pytest.importorskip("uvicorn", reason="needs uvicorn (pip install uvicorn)")
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

from midi_ddsp.crepe import estimate_f0  # noqa: E402
from midi_ddsp.expression import extract_note_expressions  # noqa: E402
from midi_ddsp.score import Note  # noqa: E402
from midi_ddsp.synth_params import SynthParams  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CHORALE = REPO / "examples" / "chorale_4part.mid"
SCREENSHOT = REPO / "docs" / "studio.png"
FOUR_NOTES = (2, 3, 4, 5)          # rows of the top part (0.625 s notes, long enough for vibrato)
STEM_NAMES = ("00_Soprano.wav", "01_Alto.wav", "02_Tenor.wav", "03_Bass.wav")
_CONFIDENCE = 0.5                  # CREPE confidence below this: unvoiced
_PAD_S = 0.1


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from midi_ddsp.pretrained import load_pretrained_model
    from midi_ddsp.studio import StudioSession, create_app

    session = StudioSession(tmp_path_factory.mktemp("sessions"), models=load_pretrained_model())
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app_server = uvicorn.Server(uvicorn.Config(create_app(session), log_level="warning",
                                               lifespan="off"))
    thread = threading.Thread(target=app_server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not app_server.started and time.time() < deadline:
        time.sleep(0.05)
    assert app_server.started, "the studio server did not start"
    yield f"http://127.0.0.1:{port}", session
    app_server.should_exit = True
    thread.join(10)
    sock.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1500", "--mute-audio"):
        options.add_argument(arg)
    downloads = tmp_path_factory.mktemp("downloads")
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=CHROMEDRIVER),
                              options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _status(driver):
    el = driver.find_element(By.ID, "status")
    return el.text, el.get_attribute("class")


def _wait_status(driver, prefix, timeout=60):
    WebDriverWait(driver, timeout).until(
        lambda d: _status(d)[0].startswith(prefix) or "error" in _status(d)[1])
    text, kind = _status(driver)
    assert text.startswith(prefix) and "error" not in kind, text
    return text


def _download_stems(driver, folder: Path) -> dict:
    """Click every stem's download link; the files the browser saved, by name."""
    folder.mkdir(parents=True, exist_ok=True)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                           {"behavior": "allow", "downloadPath": str(folder)})
    for link in driver.find_elements(By.CSS_SELECTOR, "#parts-table a.download-stem"):
        link.click()
    WebDriverWait(driver, 30).until(lambda d: all((folder / n).is_file() for n in STEM_NAMES)
                                    and not list(folder.glob("*.crdownload")))
    return {n: (folder / n).read_bytes() for n in STEM_NAMES}


def _note_vibrato(wav_bytes: bytes, table_rows, columns, rows) -> np.ndarray:
    """Vibrato of the notes ``rows`` measured from the audio: CREPE f0 of the stem, then the
    extractor's vibrato formula (peak of the pitch deviation's spectrum at 3-9 Hz)."""
    audio, sample_rate = soundfile.read(io.BytesIO(wav_bytes), dtype="float32")
    col = {c: columns.index(c) for c in ("pitch", "onset_s", "offset_s", "velocity")}
    notes = [Note(int(table_rows[r][col["pitch"]]), table_rows[r][col["onset_s"]],
                  table_rows[r][col["offset_s"]], int(table_rows[r][col["velocity"]]))
             for r in rows]
    start_s = max(0.0, notes[0].onset_s - _PAD_S)
    a, b = int(start_s * sample_rate), int((notes[-1].offset_s + _PAD_S) * sample_rate)
    f0_hz, confidence = estimate_f0(audio[a:b], sample_rate=sample_rate, frame_rate=250,
                                    fmin_hz=150.0, fmax_hz=1500.0)
    f0_hz = np.where(confidence >= _CONFIDENCE, f0_hz, 0.0)
    n = f0_hz.shape[0]
    params = SynthParams(f0_hz, np.full(n, 0.1), np.full((n, 1), 1.0), np.full((n, 1), 1e-3))
    shifted = [Note(x.pitch, x.onset_s - start_s, x.offset_s - start_s, x.velocity) for x in notes]
    return extract_note_expressions(params, shifted, frame_rate=250)["vibrato"].to_numpy()


def test_edit_vibrato_in_the_page_rerenders_only_the_top_part(server, browser, tmp_path):
    url, session = server
    driver = browser
    driver.get(url + "/")
    _wait_status(driver, "Open a MIDI")
    driver.find_element(By.ID, "file-input").send_keys(str(CHORALE))
    _wait_status(driver, "loaded chorale_4part.mid: 4 part(s)")
    WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.ID, "note-row-35"))
    WebDriverWait(driver, 30).until(lambda d: d.execute_script(
        "const i = document.getElementById('analysis-img'); return i.complete && i.naturalWidth > 0;"))
    rows_in_page = driver.find_elements(By.CSS_SELECTOR, "#parts-table tbody tr")
    assert [r.find_element(By.CSS_SELECTOR, "select.instrument-select").get_attribute("value")
            for r in rows_in_page] == ["violin", "violin", "viola", "cello"]
    SCREENSHOT.parent.mkdir(exist_ok=True)
    driver.save_screenshot(str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 20_000

    table = json.loads(urllib.request.urlopen(url + "/api/parts/0/table").read())
    before = _download_stems(driver, tmp_path / "before")

    first, last = (driver.find_element(By.CSS_SELECTOR, f"#note-row-{r} td.sel")
                   for r in (FOUR_NOTES[0], FOUR_NOTES[-1]))
    first.click()
    ActionChains(driver).key_down(Keys.SHIFT).click(last).key_up(Keys.SHIFT).perform()
    assert driver.find_element(By.ID, "selection-info").text == "4 notes selected"
    Select(driver.find_element(By.ID, "expr-select")).select_by_value("vibrato")
    value = driver.find_element(By.ID, "expr-value")
    value.clear()
    value.send_keys("0.9")
    driver.find_element(By.ID, "apply-btn").click()
    _wait_status(driver, "edited vibrato of 4 note(s) of Soprano")
    assert "edited" in driver.find_element(By.ID, "part-row-0").text
    driver.find_element(By.ID, "render-btn").click()
    _wait_status(driver, "rendered Soprano")
    vib = table["columns"].index("vibrato")
    assert [round(session.tables["Soprano"].iloc[r, vib], 4) for r in FOUR_NOTES] == [0.9] * 4

    after = _download_stems(driver, tmp_path / "after")
    assert after["00_Soprano.wav"] != before["00_Soprano.wav"]
    for name in STEM_NAMES[1:]:
        assert after[name] == before[name], f"{name} changed"
    measured_before = _note_vibrato(before["00_Soprano.wav"], table["rows"], table["columns"],
                                    FOUR_NOTES)
    measured_after = _note_vibrato(after["00_Soprano.wav"], table["rows"], table["columns"],
                                   FOUR_NOTES)
    requested_before = np.array([table["rows"][r][vib] for r in FOUR_NOTES])
    print("vibrato requested before", requested_before.round(3), "measured before",
          measured_before.round(3), "after", measured_after.round(3))
    assert measured_after.mean() > measured_before.mean() + 0.15
    assert (measured_after > measured_before).sum() >= 3


def test_a_text_file_named_mid_shows_one_line_and_the_server_keeps_serving(server, browser,
                                                                           tmp_path):
    url, session = server
    driver = browser
    if not session.loaded:
        driver.get(url + "/")
    bad = tmp_path / "x.mid"
    bad.write_text("this is not a MIDI file\nsecond line\n")
    driver.find_element(By.ID, "file-input").send_keys(str(bad))
    WebDriverWait(driver, 30).until(lambda d: "error" in _status(d)[1])
    text, _ = _status(driver)
    assert text == "x.mid: not a MIDI file (no MThd header)"
    assert "\n" not in driver.execute_script("return document.getElementById('status').textContent")
    state = json.loads(urllib.request.urlopen(url + "/api/state").read())
    assert state["loaded"] == session.loaded
    # the page still works against the server: pick another part, its table loads
    driver.get(url + "/")
    WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.ID, "note-row-5"))
    driver.find_element(By.CSS_SELECTOR, "#part-row-3 input.part-pick").click()
    WebDriverWait(driver, 30).until(
        lambda d: d.find_element(By.ID, "part-title").text.startswith("Bass"))


def test_box_select_in_the_roll_drag_a_lane_bar_and_undo(server, browser):
    url, session = server
    driver = browser
    driver.get(url + "/")
    WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.ID, "note-row-5"))
    table = json.loads(urllib.request.urlopen(url + "/api/parts/0/table").read())
    onsets = [row[table["columns"].index("onset_s")] for row in table["rows"]]
    roll = driver.find_element(By.ID, "roll")
    width, height = roll.size["width"], roll.size["height"]
    x_end = width * 2.0 / session.result.duration_s  # a box over the first 2 s, all pitches
    ActionChains(driver).move_to_element_with_offset(roll, -width // 2 + 2, -height // 2 + 2) \
        .click_and_hold().move_by_offset(int(x_end) // 2, height // 2) \
        .move_by_offset(int(x_end) // 2 - 2, height // 2 - 6).release().perform()
    expected = sum(1 for t in onsets if t < 2.0 - 0.05)
    assert driver.find_element(By.ID, "selection-info").text == f"{expected} notes selected"

    lane = driver.find_element(By.ID, "lane-vibrato")
    row = 10
    a, b = (table["rows"][row][table["columns"].index(c)] for c in ("onset_s", "offset_s"))
    x = int(lane.size["width"] * (a + b) / 2 / session.result.duration_s) - lane.size["width"] // 2
    ActionChains(driver).move_to_element_with_offset(lane, x, 0).click_and_hold() \
        .move_by_offset(0, -10).move_by_offset(0, -40).release().perform()
    _wait_status(driver, "edited vibrato of 1 note(s) of Soprano")
    vib = table["columns"].index("vibrato")
    top = max(1.0, max(r[vib] for r in table["rows"]))  # dragged to the top of the lane's scale
    assert session.tables["Soprano"].iloc[row, vib] == pytest.approx(top, abs=0.002)
    driver.find_element(By.ID, "undo-btn").click()
    _wait_status(driver, "undone")
    assert session.tables["Soprano"].iloc[row, vib] == np.float32(table["rows"][row][vib])

    # save the session from the page and reopen it: the tables come back from the folder
    driver.find_element(By.ID, "save-btn").click()
    _wait_status(driver, "saved session")
    name = session.folder.name
    assert (session.folder / "session.json").is_file()
    tables = {k: v.copy() for k, v in session.tables.items()}
    Select(driver.find_element(By.ID, "session-list")).select_by_value(name)
    driver.find_element(By.ID, "reopen-btn").click()
    _wait_status(driver, f"reopened session {name}")
    assert all(session.tables[k].equals(v) for k, v in tables.items())
