"""overview.html in a real browser: Debian's headless chromium renders it offline.

The page is loaded from a copy with a probe script put in front of everything else; the
probe records what the browser fetched, every load error and CSP violation, and the
rendered text (innerText), and leaves them in the DOM that `--dump-dom` prints.
Skips, saying why, where chromium is missing or cannot start (.ci/install-tools.sh
installs it); with COMPLIANCE_CI=1 (on CI, where it must run) that is a failure instead.
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
    marks: Array.prototype.map.call(
      document.querySelectorAll('svg [id^="stapel-"], svg [id^="totalt-"]'), function (e) {
      var b = e.getBoundingClientRect(); return [e.id, b.left, b.right, b.top, b.bottom]; }),
    height: document.documentElement.scrollHeight
  };
  var pre = document.createElement('pre'); pre.id = '__probe';
  pre.textContent = JSON.stringify(out);
  document.documentElement.appendChild(pre);
}, 0); });
</script>"""


def unavailable(reason: str) -> None:
    """Skip, saying why; on CI (COMPLIANCE_CI=1) the browser must be there: fail."""
    if os.environ.get("COMPLIANCE_CI") == "1":
        pytest.fail(f"COMPLIANCE_CI=1 but {reason}")
    pytest.skip(reason)


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
        unavailable("chromium is not installed (Debian package 'chromium'; "
                    "run .ci/install-tools.sh as root)")
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
        unavailable(f"chromium could not run here: {exc}")
    m = re.search(r'<pre id="__probe">(.*?)</pre>', proc.stdout, re.S)
    if proc.returncode != 0 and m is None:
        unavailable(f"chromium could not start here (exit {proc.returncode}): "
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


def test_trend_axis_is_continuous(tmp_path):
    """Half-years 2005 and 2024 lie 19 years apart on the chart, not side by side, and
    the total's line does not join them."""
    scan = tmp_path / "scan"
    scan.mkdir()
    findings = [{"id": f"{n:016x}", "rule": "meeting-within-30-days", "case": f"K-{n}",
                 "status": "violation", "unit": "soc", "due": due, "title": "SIP-möte inom 30 dagar",
                 "event": f"K-{n}-1", "meeting": None, "actual": None, "evidence": [f"K-{n}-1"],
                 "message": "Inget SIP-möte har hållits.", "rule_version": "2003-01-01",
                 "days_late": 5, "business_days_late": 3}
                for n, due in enumerate(["2005-03-01", "2005-09-01", "2005-09-02", "2024-03-01"])]
    (scan / "findings.jsonl").write_text("".join(json.dumps(f) + "\n" for f in findings), encoding="utf-8")
    (scan / "manifest.json").write_text(json.dumps({"as_of": "2025-06-30", "rules": []}), encoding="utf-8")
    build_reports(scan, tmp_path / "out", None)
    probe, _ = probe_page(tmp_path / "out" / "overview.html", tmp_path)
    marks = {m[0]: m[1:] for m in probe["marks"]}
    centre = {key: (marks[f"stapel-{key}-0"][0] + marks[f"stapel-{key}-0"][1]) / 2
              for key in ("2005-1", "2005-2", "2024-1")}
    step = centre["2005-2"] - centre["2005-1"]
    assert step > 3
    assert abs((centre["2024-1"] - centre["2005-1"]) / step - 38) < 0.5  # 38 half-years apart
    # the bar of jul-dec 2005 is twice as high as that of jan-jun (two violations)
    heights = {k: marks[f"stapel-{k}-0"][3] - marks[f"stapel-{k}-0"][2] for k in ("2005-1", "2005-2")}
    assert abs(heights["2005-2"] / heights["2005-1"] - 2) < 0.05
    # two pieces of line: 2005 and 2024, nothing drawn across the years between
    assert sorted(k for k in marks if k.startswith("totalt-")) == ["totalt-0", "totalt-1"]
    assert marks["totalt-0"][1] < centre["2005-2"] + step
    assert marks["totalt-1"][0] > centre["2024-1"] - step
