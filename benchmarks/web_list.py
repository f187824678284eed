"""How fast the review app answers a unit head's list (review-app.md, "Quality").

    python benchmarks/web_list.py [--findings 2000] [--requests 50] [--state URL]

Makes a store (SQLite in a temporary folder unless --state names an empty one) with one
night of synthetic findings for one unit (plus as many for other units, which the list
must leave out) and a few decisions, starts `compliance serve` on a free port on
127.0.0.1, signs in as the unit head through the form, and times GET requests over
loopback: the list (the newest page of the open findings, with counts by rule), the list
filtered, and one finding. Prints the median and the 95th percentile of each; the
target is the list of 2 000 findings in under 300 ms.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

UNIT = "bup-farsta"
PASSWORD = "benchmark-lösenord"
RULES = ["mandatory-attendance", "meeting-within-30-days", "invitation-notice", "consent-before-meeting"]


def make_store(url: str, n: int) -> str:
    import datetime as dt

    from compliance.findings import finding_id
    from compliance.state import RunInfo, add_user, open_store, record_decision, recording
    from compliance.web.passwords import hash_password

    def one(k: int, unit: str) -> dict:
        rule = RULES[k % len(RULES)]
        case, event = f"K-{k:05d}", f"K-{k:05d}-e{k % 7}"
        due = (dt.date(2024, 1, 1) + dt.timedelta(days=k % 700)).isoformat()
        status = "warning" if k % 10 == 0 else "violation"
        return {"id": finding_id(rule, case, event, None, unit), "rule": rule, "case": case, "status": status,
                "event": event, "meeting": None, "unit": unit, "due": due, "actual": None,
                "days_late": 5 + k % 40, "business_days_late": 3 + k % 30, "evidence": [event],
                "message": f"Brist i {case}", "rule_version": "2018-04-17", "title": rule.replace("-", " ").capitalize(),
                "basis": {"from": due, "days": 30, "roll": "forward"}}

    findings = [one(k, UNIT) for k in range(n)] + [one(k, "skola-syd") for k in range(n)]
    store = open_store(url, create=True)
    try:
        with recording(store, RunInfo(as_of=dt.date(2025, 12, 31), rules_digest="0" * 64)) as rec:
            rec.add_findings(findings)
            rec.finish()
        for f in findings[:n:20]:
            record_decision(store, f["id"], "acknowledged", by="bench")
        add_user(store, "anna", "enhetschef", [UNIT], password_hash=hash_password(PASSWORD))
    finally:
        store.close()
    return findings[1]["id"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--findings", type=int, default=2000, help="findings for the unit head's unit")
    ap.add_argument("--requests", type=int, default=50, help="timed requests per URL")
    ap.add_argument("--state", help="an empty store to fill (default: SQLite in a temporary folder)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = args.state or str(Path(tmp) / "bench.db")
        t0 = time.perf_counter()
        some_id = make_store(url, args.findings)
        print(f"store: {args.findings} findings for {UNIT} (+{args.findings} for another unit) "
              f"in {time.perf_counter() - t0:.1f} s", flush=True)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen([sys.executable, "-m", "compliance", "serve", "--state", url, "--port", str(port)],
                                stderr=subprocess.PIPE)
        try:
            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
            deadline = time.monotonic() + 60
            while True:
                try:
                    form = opener.open(base + "/login", timeout=5).read().decode()
                    break
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise SystemExit("serve did not start")
                    time.sleep(0.2)
            token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
            data = urllib.parse.urlencode({"username": "anna", "password": PASSWORD, "csrf_token": token}).encode()
            opener.open(base + "/login", data=data, timeout=10).read()
            targets = [("the list (open findings, newest page, counts by rule)", "/"),
                       ("the list, every present finding", "/?granskning=present"),
                       ("the list, one rule, new or not", "/?regel=mandatory-attendance&status=violation"),
                       ("one finding", f"/findings/{some_id}")]
            for label, path in targets:
                first = opener.open(base + path, timeout=30).read().decode()   # warm-up (rules loaded once)
                heading = re.search(r"<h1>(.*?)</h1>", first).group(1)
                if heading in ("Logga in", "Sidan finns inte", "Åtkomst nekad"):
                    raise SystemExit(f"{path}: {heading}")
                times = []
                for _ in range(args.requests):
                    t = time.perf_counter()
                    body = opener.open(base + path, timeout=30).read()
                    times.append((time.perf_counter() - t) * 1000)
                times.sort()
                p95 = times[min(len(times) - 1, int(round(0.95 * len(times))) - 1)]
                print(f"{label:58} {path[:40]:40} median {statistics.median(times):6.1f} ms  "
                      f"p95 {p95:6.1f} ms  ({len(body) // 1024} kB, {len(times)} requests)", flush=True)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
