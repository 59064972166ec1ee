"""Opt-in: JupyterLab and headless Chromium play the live jam of notebook 07, as a person would.

    make test-browser
    # or, with Debian's chromium + chromium-driver and selenium installed:
    MINIGAPT_BROWSER_TEST=1 .venv/bin/python -m pytest -m browser tests/test_browser.py

It starts JupyterLab on 127.0.0.1 (a token, a fresh folder), opens a copy of notebook 07 set to
INTERACTIVE = True at smoke scale in headless Chromium (fresh profile, no network), runs all
cells, presses Start, plays notes on the computer keyboard, and checks that chords come back,
that JupyterLab's single-key shortcuts did not fire, and what the browser measured: the browser
-> kernel -> browser round trip of each tick. It saves a screenshot (MINIGAPT_SCREENSHOT, default
/tmp/minigapt_browser_jam.png) and writes the round trip to $MINIGAPT_BENCH_DIR/browser_round_trip.json
(`make test-browser` sets it to build/bench/, which `python -m minigapt bench --json` then reports;
otherwise a temporary folder: tests never write into the checkout). MINIGAPT_LAB_NODELAY=1 starts the server with
minigapt.live.lab.NoDelayConnection (Nagle off on kernel websockets).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "07_live_jam.ipynb"
CHROMIUM, DRIVER = shutil.which("chromium") or "/usr/bin/chromium", shutil.which("chromedriver") or "/usr/bin/chromedriver"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(os.environ.get("MINIGAPT_BROWSER_TEST") != "1",
                       reason="opt-in: MINIGAPT_BROWSER_TEST=1 (needs chromium, chromium-driver, selenium)"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _interactive_copy(folder: Path) -> Path:
    """Notebook 07 with its parameters set for a quick interactive run."""
    nb = json.loads(NOTEBOOK.read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    src = "".join(cell["source"])
    for name, value in {"SCALE": '"smoke"', "INTERACTIVE": "True", "OUT_DIR": repr(str(folder / "out")),
                        "TEMPO_BPM": "120", "LISTEN_BEATS": "2", "SESSIONS": "1", "BARS": "6"}.items():
        src, n = re.subn(rf"^{name} = .*$", f"{name} = {value}", src, flags=re.M)
        assert n == 1, f"parameter {name} not found in notebook 07"
    cell["source"] = src
    path = folder / "jam.ipynb"
    path.write_text(json.dumps(nb))
    return path


@pytest.fixture
def lab(tmp_path):
    if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
        pytest.skip("needs Debian's chromium and chromium-driver (make test-browser installs them)")
    pytest.importorskip("selenium")
    _interactive_copy(tmp_path)
    port, token = _free_port(), os.urandom(16).hex()
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}", "--LabApp.news_url=None"]
    if os.environ.get("MINIGAPT_LAB_NODELAY") == "1":  # the optional setting of minigapt/live/lab.py
        cmd.append("--ServerApp.kernel_websocket_connection_class=minigapt.live.lab.NoDelayConnection")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter-config"),
               JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "lab-settings"), JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "ws"))
    log = open(tmp_path / "lab.log", "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"JupyterLab exited: {(tmp_path / 'lab.log').read_text()[-800:]}")
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not start within 60 s")
        yield url, token, tmp_path
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _browser(profile: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required",
                "--window-size=1400,1100", f"--user-data-dir={profile}"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(DRIVER), options=opts)


def _wait(driver, what, seconds, condition):
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, seconds, poll_frequency=0.2).until(condition)
    except TimeoutException:
        driver.save_screenshot("/tmp/minigapt_browser_failure.png")
        pytest.fail(f"timed out after {seconds} s waiting for {what} (screenshot: /tmp/minigapt_browser_failure.png)")


def test_play_the_jam_widget_in_headless_chromium(lab, tmp_path_factory):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    url, token, folder = lab
    driver = _browser(folder / "chrome-profile")
    started = time.perf_counter()
    try:
        driver.get(f"{url}/lab/tree/jam.ipynb?token={token}")
        _wait(driver, "the notebook", 90, lambda d: d.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell"))
        _wait(driver, "the kernel", 90, lambda d: d.find_elements(
            By.CSS_SELECTOR, ".jp-Notebook-ExecutionIndicator[data-status='idle']") or d.find_elements(
            By.XPATH, "//*[contains(@class,'jp-Toolbar')]//*[contains(text(),'Idle')]"))
        menu = _wait(driver, "the Run menu", 30, lambda d: [e for e in d.find_elements(
            By.CSS_SELECTOR, ".lm-MenuBar-itemLabel") if e.text.strip() == "Run"])
        menu[0].click()
        _wait(driver, "Run All Cells", 10, lambda d: [e for e in d.find_elements(
            By.CSS_SELECTOR, "li.lm-Menu-item") if e.text.strip().startswith("Run All Cells")])[0].click()
        jam = _wait(driver, "the jam widget", 360, lambda d: d.find_elements(By.CSS_SELECTOR, ".mg-jam"))[0]
        cells_before = len(driver.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell"))
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", jam)
        jam.find_element(By.CSS_SELECTOR, ".mg-start").click()
        _wait(driver, "the jam to start", 30, lambda d: jam.get_attribute("data-state") == "running")
        ActionChains(driver).move_to_element(jam.find_element(By.CSS_SELECTOR, ".mg-timeline")).click().perform()
        play = ActionChains(driver)
        for key in "adgjadgkjgdasdfghjkgfdsa":  # a C major tune, quarter notes at 120 BPM
            play.key_down(key).pause(0.35).key_up(key).pause(0.12)
        play.perform()
        stats = json.loads(jam.get_attribute("data-stats") or "{}")
        shot = Path(os.environ.get("MINIGAPT_SCREENSHOT", "/tmp/minigapt_browser_jam.png"))
        jam.screenshot(str(shot))
        driver.save_screenshot(str(shot.with_name(shot.stem + "_page.png")))
        jam.find_element(By.CSS_SELECTOR, ".mg-start").click()  # Stop
        status = _wait(driver, "the kernel's summary", 30, lambda d: "stopped after" in jam.find_element(
            By.CSS_SELECTOR, ".mg-status").text and jam.find_element(By.CSS_SELECTOR, ".mg-status").text)
        cells_after = len(driver.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell"))
    finally:
        driver.quit()
    seconds = time.perf_counter() - started
    print(f"\nbrowser stats: {stats}\nkernel: {status}\nscreenshot: {shot}\nwhole test: {seconds:.1f} s")
    assert stats.get("notes_played", 0) >= 20, "the key presses reached the widget"
    assert stats.get("round_trips", 0) >= 20 and stats.get("plans", 0) >= 20, "the kernel answered every tick"
    assert stats.get("chord_onsets", 0) >= 1 and stats.get("last_chord"), "chords came back and were played"
    assert cells_after == cells_before, "keys played on the widget did not trigger JupyterLab's shortcuts"
    m = re.search(r"stopped after (\d+) frames", status)
    assert m and int(m.group(1)) > 40
    bench_dir = os.environ.get("MINIGAPT_BENCH_DIR")
    out = (Path(bench_dir) if bench_dir else tmp_path_factory.mktemp("bench")) / "browser_round_trip.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "round_trip_ms_median": round(stats["round_trip_ms_median"], 2),
        "round_trip_ms_max": round(stats["round_trip_ms_max"], 2), "round_trips": stats["round_trips"],
        "kernel_ms_median": stats.get("kernel_ms_median"), "late_chords": stats.get("late_chords"),
        "to_kernel_ms_median": round(stats.get("to_kernel_ms_median") or 0, 2),
        "from_kernel_ms_median": round(stats.get("from_kernel_ms_median") or 0, 2),
        "audio_clock": stats.get("audio_clock"), "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "server_nodelay": os.environ.get("MINIGAPT_LAB_NODELAY") == "1",
        "client": "headless Chromium (Debian)", "screenshot": str(shot)}, indent=2) + "\n")
