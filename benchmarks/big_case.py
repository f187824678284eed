#!/usr/bin/env python3
"""One consent-heavy case of N events, scanned alone: the cost of a single big case.

    python benchmarks/big_case.py 4000 8000 50000 [--timeout 300]

A case that stalls keeps its worker from every other case of the night (issue 15), so its
cost must stay close to linear in its events. The case (tests/gen.py, `consent_heavy_case`,
also in tests/test_big_case.py) is a long history: consent given and withdrawn again and
again, often several times a day, SIP initiatives now and then (some while consent is
withdrawn), and SIP meetings planned, invited to and held. Each size is scanned by
`compliance scan --workers 1` in a subprocess; printed: wall time, the rules engine's CPU
time (the scan's COMPLIANCE_TIMING phases: on a shared machine the steadier figure), peak
RSS of the scan, findings, errors.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from gen import consent_heavy_case  # noqa: E402

# Runs the scan, stopped with SIGTERM (which stops its workers too) after the timeout.
WRAPPER = r"""
import json, resource, subprocess, sys, time
t0 = time.perf_counter()
p = subprocess.Popen(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
try:
    _, err = p.communicate(timeout=float(sys.argv[1]))
except subprocess.TimeoutExpired:
    p.terminate()
    _, err = p.communicate()
    sys.exit(3)
wall = time.perf_counter() - t0
print(json.dumps({"rc": p.returncode, "wall": wall,
                  "maxrss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
                  "stderr": err.decode("utf-8", "replace")[-3000:]}))
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sizes", type=int, nargs="+")
    ap.add_argument("--as-of", default="2026-06-30")
    ap.add_argument("--timeout", type=float, default=600.0)
    args = ap.parse_args(argv)
    print("| events | scan wall s | engine CPU s | peak RSS MB | findings | errors |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp) / "big.jsonl"
            log.write_text("\n".join(consent_heavy_case(n)) + "\n")
            cmd = [sys.executable, "-c", WRAPPER, str(args.timeout), sys.executable, "-m", "compliance",
                   "scan", str(log), "--as-of", args.as_of, "--out", str(Path(tmp) / "out"), "--workers", "1"]
            t0 = time.perf_counter()
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ, COMPLIANCE_TIMING="1"))
            if p.returncode != 0:
                print(f"| {n:,} | > {time.perf_counter() - t0:.0f} (stopped) | | | | |", flush=True)
                continue
            res = json.loads(p.stdout)
            engine = re.search(r"rules engine[^(]*\(CPU: huvudprocess ([0-9.]+) s, arbetsprocesser ([0-9.]+) s",
                               res["stderr"])
            cpu = f"{float(engine[1]) + float(engine[2]):.1f}" if engine else "?"
            out = Path(tmp) / "out"
            if res["rc"] not in (0, 1) or not (out / "findings.jsonl").exists():
                print(f"| {n:,} | the scan failed ({res['rc']}): {res['stderr'][-300:]!r} | | | | |", flush=True)
                continue
            findings = sum(1 for _ in open(out / "findings.jsonl"))
            errors = [json.loads(line)["reason"] for line in open(out / "errors.jsonl")] \
                if (out / "errors.jsonl").exists() else []
            print(f"| {n:,} | {res['wall']:.1f} | {cpu} | {res['maxrss_kib'] / 1024:.0f} | {findings} | "
                  f"{len(errors)}{': ' + errors[0] if errors else ''} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
