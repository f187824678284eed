"""The review app in a real browser: Playwright drives Debian's headless chromium against
`compliance serve` started by the test on a free port on 127.0.0.1 (SQLite and
PostgreSQL), and the server is stopped with SIGTERM at the end.

A unit head signs in, filters the list, opens a finding, records a decision, reloads
and sees it, signs out, and is refused another unit's finding. Skips, saying why, where
chromium or Playwright is missing; with COMPLIANCE_CI=1 that is a failure instead.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from web_support import OTHER, filled_url, ids, new_store_url, store_url, PASSWORD  # noqa: F401

CHROMIUM = "/usr/bin/chromium"


def unavailable(reason: str) -> None:
    if os.environ.get("COMPLIANCE_CI") == "1":
        pytest.fail(f"COMPLIANCE_CI=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`compliance serve` in a process of its own, as an operator starts it."""

    def __init__(self, state: str, tmp: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / "serve.log"
        units = tmp / "units.toml"
        units.write_text('[[unit]]\nid = "bup-farsta"\nname = "BUP Farsta"\n\n'
                         '[[unit]]\nid = "skola-syd"\nname = "Skola Syd"\n', encoding="utf-8")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "compliance", "serve", "--state", state, "--port", str(self.port),
             "--units", str(units)], stdout=subprocess.DEVNULL, stderr=self.log.open("wb"))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited {self.proc.returncode}: {self.log.read_text()}")
            try:
                urllib.request.urlopen(self.url + "/login", timeout=2).read()
                return
            except OSError:
                time.sleep(0.2)
        self.proc.kill()
        raise AssertionError("serve did not answer within 60 s")

    def stop(self) -> int:
        """SIGTERM, as a service manager stops it; the exit status."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("serve did not stop within 20 s of SIGTERM") from None


@pytest.fixture
def browser():
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        unavailable("chromium is not installed (Debian package 'chromium'; .ci/install-chromium.sh)")
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        unavailable("Playwright is not installed (pip install playwright)")
    with sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium"),
                                  args=["--no-sandbox", "--disable-dev-shm-usage"])
        except Error as exc:
            unavailable(f"chromium could not start here: {str(exc).splitlines()[0]}")
        yield b
        b.close()


def test_a_unit_head_reviews_and_decides_in_a_browser(filled_url, browser, tmp_path):
    server = Server(filled_url, tmp_path)
    found = ids()
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="sv-SE")
        problems: list[str] = []
        page.on("console", lambda m: problems.append(f"{m.text} {m.location.get('url')}")
                if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(str(e)))

        page.goto(server.url + "/")
        assert page.url.startswith(server.url + "/login")              # not signed in: the form
        page.fill("#username", "anna")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(server.url + "/")
        assert page.inner_text("h1") == "Mina avvikelser"
        rows = page.locator("table.lista tbody tr")
        assert rows.count() == 3
        assert found["other"] not in page.content()

        # filter: only new since last night
        page.check("input[name=ny]")
        page.click(".filter button[type=submit]")
        page.wait_for_load_state()
        assert "ny=1" in page.url and rows.count() == 1
        assert found["own_new"] in rows.first.inner_text()
        page.uncheck("input[name=ny]")
        page.select_option("select[name=regel]", "mandatory-attendance")
        page.click(".filter button[type=submit]")
        page.wait_for_load_state()
        assert rows.count() == 1 and "Kallade aktörer deltar" in rows.first.inner_text()

        # open the finding
        page.goto(server.url + "/?regel=mandatory-attendance")
        page.click(f"a[href='/findings/{found['own']}']")
        page.wait_for_url(server.url + f"/findings/{found['own']}")
        assert page.inner_text("#fynd-id") == found["own"]
        assert page.inner_text("#granskning") == "öppen"
        assert "BUP Farsta" in page.inner_text(".ingress")

        # the script shows the reference only for "avvikelse anmäld"
        assert not page.is_visible("#reference")
        page.check("input[name=decision][value=deviation-filed]")
        assert page.is_visible("#reference")
        page.check("input[name=decision][value=justified]")
        page.fill("#reason", 'Mötet flyttades på vårdnadshavares begäran <b>"akut"</b>')
        page.click(".beslutsformular button[type=submit]")
        page.wait_for_url(f"**/findings/{found['own']}?sparat=1*")
        assert "Beslutet sparades." in page.inner_text("#beslut")

        page.reload()
        assert page.inner_text("#granskning") == "motiverad"
        history = page.inner_text("ol.historik")
        assert 'Beslut av anna' in history and 'Mötet flyttades på vårdnadshavares begäran <b>"akut"</b>' in history

        # off the open list now
        page.goto(server.url + "/")
        assert found["own"] not in page.content() and rows.count() == 2

        assert problems == []                  # no script error, nothing blocked by the CSP, no missing file

        # another unit's finding: 404, nothing of it shown
        answer = page.goto(server.url + f"/findings/{found['other']}")
        assert answer.status == 404 and found["other"] not in page.content()
        assert page.inner_text("h1") == "Sidan finns inte"
        answer = page.goto(server.url + f"/units/{OTHER}.xlsx")
        assert answer.status == 404

        # sign out: the list is gone
        page.goto(server.url + "/")
        page.click("text=Logga ut")
        page.wait_for_url(server.url + "/login")
        page.goto(server.url + "/")
        assert page.url.startswith(server.url + "/login")
    finally:
        status = server.stop()
    assert status == 0, server.log.read_text()
    assert "Granskningsappen stoppad." in server.log.read_text()
