"""The HTML index report in a real headless Chromium: it renders, its table sorts, and a screenshot is taken.

Chromium and chromedriver come from the system packages (`.ci/run` installs them where apt-get works); the test
drives chromedriver over the W3C WebDriver protocol (JSON over HTTP on 127.0.0.1) with urllib, so it needs no
Python package. Without them it is skipped with the reason.

`python tests/test_index_browser.py REPORT.html OUT.png` screenshots any report the same way (docs/index-report.png
is made so).
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = next((path for path in (shutil.which("chromium"), "/usr/bin/chromium") if path and Path(path).exists()),
                None)
CHROMEDRIVER = next((path for path in (shutil.which("chromedriver"), "/usr/bin/chromedriver")
                     if path and Path(path).exists()), None)
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
"""The key of a web element reference in W3C WebDriver responses."""
ROW_ORDER = "return Array.from(document.querySelectorAll('#repos tbody tr')).map(row => row.dataset.repo)"


class Browser:
    """A headless Chromium session through chromedriver: just the commands these tests use."""

    def __init__(self, width: int = 1280, height: int = 900) -> None:
        assert CHROMIUM is not None and CHROMEDRIVER is not None
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self._driver = subprocess.Popen([CHROMEDRIVER, f"--port={port}"], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        self._base = f"http://127.0.0.1:{port}"
        try:
            self._wait_ready()
            capabilities = {"browserName": "chrome", "goog:chromeOptions": {"binary": CHROMIUM, "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{height}", "--force-device-scale-factor=1"]}}
            session = self._call("POST", "/session", {"capabilities": {"alwaysMatch": capabilities}})
            self._session = f"/session/{session['sessionId']}"
        except BaseException:
            self._driver.kill()
            self._driver.wait()
            raise

    def _wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self._call("GET", "/status").get("ready"):
                    return
            except (urllib.error.URLError, ConnectionError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"chromedriver did not answer on {self._base} within {timeout} s")
            time.sleep(0.05)

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        # Always http://127.0.0.1:PORT, chromedriver's own address.
        request = urllib.request.Request(self._base + path, data=data, method=method,  # noqa: S310
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                return json.loads(response.read())["value"]
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"WebDriver {method} {path}: {error.read().decode(errors='replace')[:500]}") from None

    def command(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return self._call(method, self._session + path, body)

    def open(self, url: str) -> None:
        self.command("POST", "/url", {"url": url})

    def run(self, script: str) -> Any:
        return self.command("POST", "/execute/sync", {"script": script, "args": []})

    def click(self, css: str) -> None:
        element = self.command("POST", "/element", {"using": "css selector", "value": css})[ELEMENT]
        self.command("POST", f"/element/{element}/click", {})

    def screenshot(self, path: Path) -> bytes:
        png = base64.b64decode(self.command("GET", "/screenshot"))
        path.write_bytes(png)
        return png

    def close(self) -> None:
        try:
            self.command("DELETE", "")
        finally:
            self._driver.terminate()
            try:
                self._driver.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._driver.kill()
                self._driver.wait()


@pytest.fixture
def browser():
    if CHROMIUM is None or CHROMEDRIVER is None:
        missing = " and ".join(name for name, path in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER))
                               if path is None)
        pytest.skip(f"{missing} not installed (apt-get install chromium chromium-driver; .ci/run does it)")
    session = Browser()
    yield session
    session.close()


def test_the_report_renders_and_sorts_in_chromium(browser, tmp_path):
    from tests.helpers import hubcheck
    from tests.test_index import build_index

    fixture = build_index(tmp_path)
    report = tmp_path / "report.html"
    run = hubcheck("index", str(fixture.index), "--format", "html", "--output", str(report), env=fixture.env)
    assert run.code == 2, run.stderr
    browser.open(report.as_uri())

    assert browser.run("return document.title") == f"hubcheck index: {fixture.index}"
    assert browser.run(ROW_ORDER) == ["acme/broken", "acme/good", "acme/missing", "acme/nohub"]
    chart = browser.run("var box = document.getElementById('status-chart').getBoundingClientRect();"
                        "return [box.width, box.height, document.querySelectorAll('#status-chart rect').length]")
    assert chart[0] > 300 and chart[1] > 50 and chart[2] == 3 + 3, "three bars and three legend keys"
    assert browser.run("return document.querySelector('#repos tbody td.fail') !== null")

    browser.click("#repos th[data-column='findings']")
    assert browser.run(ROW_ORDER) == ["acme/broken", "acme/nohub", "acme/good", "acme/missing"]
    assert browser.run("return document.querySelector(\"th[data-column='findings']\").getAttribute('aria-sort')") \
        == "descending"
    browser.click("#repos th[data-column='findings']")
    assert browser.run(ROW_ORDER) == ["acme/missing", "acme/good", "acme/nohub", "acme/broken"]
    browser.click("#repos th[data-column='status']")
    assert browser.run(ROW_ORDER)[0] == "acme/missing", "errors sort before failures, failures before passes"

    browser.click("#repos tbody tr[data-repo='acme/broken'] a")
    assert browser.run("return location.hash") == "#repo-0"
    assert browser.run("return document.getElementById('repo-0').open")

    assert browser.run("return document.documentElement.scrollWidth <= window.innerWidth"), "nothing widens the page"
    png = browser.screenshot(tmp_path / "index-report.png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (1280, 900) or width >= 800, (width, height)


def test_ci_installs_chromium_before_the_tests():
    from tests.helpers import PROJECT

    ci = (PROJECT / ".ci" / "run").read_text()
    assert "apt-get install -y -qq chromium chromium-driver" in ci
    assert ci.index("chromium-driver") < ci.index("python -m pytest -n 2")


def main(report: str, output: str) -> None:
    """Screenshot REPORT (an index HTML report) into OUTPUT, as the test does."""
    session = Browser(1280, 900)
    try:
        session.open(Path(report).resolve().as_uri())
        session.screenshot(Path(output))
    finally:
        session.close()


if __name__ == "__main__":
    main(*sys.argv[1:3])
