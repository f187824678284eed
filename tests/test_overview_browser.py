"""overview.html in a real browser: Debian's headless chromium renders it offline.

The page is loaded from a copy with a probe script put in front of everything else; the
probe records what the browser fetched, every load error and CSP violation, and the
rendered text (innerText), and leaves them in the DOM that `--dump-dom` prints.
Skips, saying why, where chromium is missing or cannot start (.ci/install-chromium.sh
installs it).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from compliance.reporting import build_reports

DATA = Path(__file__).parent / "data" / "scan_small"

PROBE = """<script>
window.__errors = []; window.__csp = [];
addEventListener('error', function (e) {
  var t = e.target;
  __errors.push(t && t !== window ? (t.tagName + ' ' + (t.src || t.href || '')) : String(e.message));
}, true);
document.addEventListener('securitypolicyviolation', function (e) {
  __csp.push(e.violatedDirective + ' ' + e.blockedURI);
});
addEventListener('load', function () { setTimeout(function () {
  var out = {
    text: document.body.innerText,
    title: document.title,
    resources: performance.getEntriesByType('resource').map(function (r) { return r.name; }),
    errors: __errors, csp: __csp,
    svgs: Array.prototype.map.call(document.querySelectorAll('svg'), function (s) {
      var b = s.getBoundingClientRect(); return [b.width, b.height]; }),
    height: document.documentElement.scrollHeight
  };
  var pre = document.createElement('pre'); pre.id = '__probe';
  pre.textContent = JSON.stringify(out);
  document.documentElement.appendChild(pre);
}, 0); });
</script>"""


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def chromium_args(exe: str, profile: Path) -> list[str]:
    return [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--no-first-run", "--disable-extensions", "--hide-scrollbars", "--window-size=1100,900",
            "--host-resolver-rules=MAP * ~NOTFOUND",  # offline: any lookup fails
            f"--user-data-dir={profile}"]


def probe_page(page: Path, tmp: Path) -> tuple[dict, str]:
    exe = find_chromium()
    if exe is None:
        pytest.skip("chromium is not installed (Debian package 'chromium'; "
                    "run .ci/install-chromium.sh as root)")
    text = page.read_text(encoding="utf-8")
    probed = tmp / "probe.html"
    probed.write_text(text.replace("<head>", "<head>" + PROBE, 1), encoding="utf-8")
    cmd = chromium_args(exe, tmp / "profile") + [
        "--virtual-time-budget=5000", "--enable-logging=stderr", "--v=0", "--dump-dom",
        probed.as_uri()]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                              env=dict(os.environ, LANG="sv_SE.UTF-8"))
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"chromium could not run here: {exc}")
    m = re.search(r'<pre id="__probe">(.*?)</pre>', proc.stdout, re.S)
    if proc.returncode != 0 and m is None:
        pytest.skip(f"chromium could not start here (exit {proc.returncode}): "
                    f"{proc.stderr.strip().splitlines()[-1:]}")
    assert m, f"the probe did not report; chromium stderr:\n{proc.stderr[-2000:]}"
    return json.loads(html.unescape(m.group(1))), proc.stderr


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    build_reports(DATA, out, DATA / "units.toml")
    return out


def test_overview_renders_offline(reports, tmp_path):
    probe, stderr = probe_page(reports / "overview.html", tmp_path)
    # nothing was fetched, nothing failed, nothing was blocked
    assert probe["resources"] == []
    assert probe["errors"] == []
    assert probe["csp"] == []
    assert "Failed to load resource" not in stderr
    assert "Uncaught" not in stderr
    # the rendered page says what the steering group needs
    text = probe["text"]
    assert probe["title"].startswith("Översikt för BUS-styrgruppen")
    for expected in [
        "Översikt för BUS-styrgruppen", "Skanning per 31 december 2025",
        "Avvikelser per regel och verksamhet", "BUP Testby", "Socialtjänsten Testby",
        "hab-okand",  # not in the register: shown by its id
        "Avvikelser per halvår", "jul–dec 2024", "jan–jun 2025", "jul–dec 2025",
        "Upprepade uteblivanden", "Antal SIP-processer", "Antal hållna SIP-möten",
        "Antal hållna BUS-individmöten", "Antal ärenden i BUS-individ",
        "Flickor", "Pojkar", "Helår 2025", "SIP-möte inom 30 dagar", "50 %",
    ]:
        assert expected in text, expected
    assert re.search(r"BUP Testby\s+jan–jun 2025\s+3\s+2", text)
    # the trend chart is drawn, inline, with a real size
    assert probe["svgs"] and all(w > 200 and h > 100 for w, h in probe["svgs"])
    assert not re.search(r"\b\d{6}[-+]?\d{4}\b", text)


def test_empty_overview_renders(tmp_path):
    scan = tmp_path / "scan"
    scan.mkdir()
    (scan / "findings.jsonl").write_text("", encoding="utf-8")
    (scan / "manifest.json").write_text(json.dumps({"as_of": "2025-06-30", "rules": []}),
                                        encoding="utf-8")
    build_reports(scan, tmp_path / "out", None)
    probe, _ = probe_page(tmp_path / "out" / "overview.html", tmp_path)
    assert probe["errors"] == [] and probe["resources"] == []
    assert "Skanningen är tom" in probe["text"]
    assert "inga avvikelser" in probe["text"]
