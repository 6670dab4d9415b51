"""One real headless-browser run of the explorer: `streamlit run app.py` in a subprocess, Debian's
chromium renders it, and the rendered DOM must hold the app's title and no exception box."""

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("streamlit")

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
TITLE = "Attention co-design explorer"
DEADLINE_S = 45


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, until: float, log: Path) -> None:
    while time.monotonic() < until:
        if proc.poll() is not None:
            raise AssertionError(f"streamlit exited with code {proc.returncode}:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError("streamlit did not answer /_stcore/health in time")


def _dump_dom(url: str) -> str:
    with tempfile.TemporaryDirectory() as profile:
        out = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
             "--virtual-time-budget=15000", "--dump-dom", url],
            capture_output=True, text=True, timeout=40)
    return out.stdout


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} not installed (apt-get install chromium)")
def test_app_renders_in_headless_chromium(tmp_path):
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    until = time.monotonic() + DEADLINE_S
    log_path = tmp_path / "streamlit.log"
    log = open(log_path, "w")  # closed in finally
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_healthy(url, proc, until, log_path)
        # Chromium's virtual time runs ahead of the real server: the first loads may dump the page
        # before the script's first run has arrived over the websocket, so load again until it has.
        dom = ""
        while time.monotonic() < until:
            dom = _dump_dom(url)
            if TITLE in dom:
                break
        assert TITLE in dom, f"title not rendered in {DEADLINE_S} s; DOM tail: {dom[-500:]}"
        assert 'data-testid="stException"' not in dom
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
