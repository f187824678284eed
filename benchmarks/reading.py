#!/usr/bin/env python3
"""CPU time of the scan's reading alone (`compliance.reading.read_events`), in this process.

    python benchmarks/reading.py                  # 200 000 rows of CSV and events of JSONL
    python benchmarks/reading.py --rows 1000000 --repeat 3

Reading is where every input line is judged, its units read, its content key made and
duplicates merged (issue 16). Its CPU time is measured here, in one process and without
the engine, because wall times of whole scans say little on a shared machine. The CSV is
the standard-sv export of benchmarks/bench.py, the JSONL the same generator's log; both
are read on one process (no reader processes), best of `--repeat`.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

import bench  # noqa: E402

from compliance.reading import read_events  # noqa: E402


def cpu_of_reading(path: Path, repeat: int) -> tuple[float, dict]:
    best, counts = None, {}
    for _ in range(repeat):
        gc.collect()
        start = time.process_time()
        got = read_events([path], None, 1)
        spent = time.process_time() - start
        best = spent if best is None else min(best, spent)
        counts = got.counts
    return best or 0.0, counts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=20260701)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        csv, log = Path(tmp) / "export.csv", Path(tmp) / "log.jsonl"
        bench.write_csv(csv, args.rows, args.seed)
        bench.write_log(log, args.rows, args.seed)
        for path in (csv, log):
            spent, counts = cpu_of_reading(path, args.repeat)
            per = spent / max(1, counts.get("lines", 0)) * 1e6
            print(f"{path.suffix}: {counts.get('lines', 0):,} lines, reading {spent:.2f} s CPU "
                  f"({per:.1f} us a line), events {counts.get('events', 0):,}, "
                  f"duplicates {counts.get('duplicates', 0):,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
