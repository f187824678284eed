#!/usr/bin/env python3
"""Benchmark of an incremental night (state.md, "Incremental scans").

    python benchmarks/incremental.py --events 200000 1000000 --workers 2

For each size: a seeded synthetic log (tests/gen.py, as benchmarks/bench.py writes it)
is scanned into a new SQLite store (night 1, as-of 2026-06-16). Night 2's export is the
same log with about 1 % of the cases changed (one event added to each, lines in the same
order) and the as-of date a day later. Night 2 is then scanned twice in the same run, from
copies of the same store: with `--full` and incrementally. Wall time and peak memory as
benchmarks/bench.py measures them; the two nights' outputs are checked byte for byte
(findings, evidence, cases, changes, drafts). Target: the incremental night at most
10 s and at most 0.2x the full night, memory within 700 MB.

Each of the two nights starts on a settled file system (bench.settled_file_system), as a
nightly scan does a day after the last: the full night deletes night 1's drafts at its
end, and without the wait the incremental night, run next, paid for that deletion (its
drafts phase took 44 s instead of about 14).
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import _mb, _phases, compliance_cmd, run_measured, settled_file_system, write_log  # noqa: E402

NIGHT_1, NIGHT_2 = "2026-06-16", "2026-06-17"


def changed_export(night1: Path, night2: Path, share: float, seed: int) -> int:
    """Night 2: night 1's lines, and one new event in about `share` of the cases (appended
    at the end, as a case system exports what was recorded since); how many cases."""
    cases: dict[str, str] = {}
    with night1.open("rb") as fh:
        for line in fh:
            if line.strip():
                e = orjson.loads(line)
                cases.setdefault(e["case"], e.get("unit") or "soc")
    rng = random.Random(seed)
    picked = rng.sample(sorted(cases), max(1, round(len(cases) * share)))
    shutil.copyfile(night1, night2)
    with night2.open("ab") as fh:
        for k, case in enumerate(picked):
            fh.write(orjson.dumps({"id": f"inc-{k}", "case": case, "type": "consent.given",
                                   "at": "2026-06-16", "unit": cases[case]}) + b"\n")
    return len(picked)


def same_outputs(a: Path, b: Path) -> bool:
    names = ["findings.jsonl", "evidence.jsonl", "cases.jsonl", "changes.jsonl", "rejects.jsonl"]
    if any((a / n).read_bytes() != (b / n).read_bytes() for n in names if (a / n).exists() or (b / n).exists()):
        return False
    da, db = a / "deviations", b / "deviations"
    fa = sorted(p.name for p in da.iterdir()) if da.is_dir() else []
    fb = sorted(p.name for p in db.iterdir()) if db.is_dir() else []
    return fa == fb and all((da / n).read_bytes() == (db / n).read_bytes() for n in fa)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, nargs="+", default=[200_000, 1_000_000])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--share", type=float, default=0.01, help="share of cases changed on night 2")
    ap.add_argument("--seed", type=int, default=20260630)
    args = ap.parse_args(argv)
    base = compliance_cmd()
    rows = []
    for n in args.events:
        with tempfile.TemporaryDirectory(prefix="inc-bench-") as tmp_:
            tmp = Path(tmp_)
            log1, log2 = tmp / "night1.jsonl", tmp / "night2.jsonl"
            events, n_cases = write_log(log1, n, args.seed)
            changed = changed_export(log1, log2, args.share, args.seed)
            scan = [*base, "scan", "--workers", str(args.workers)]
            first = run_measured([*scan, str(log1), "--as-of", NIGHT_1, "--out", str(tmp / "out"),
                                  "--state", str(tmp / "state.db")], tmp)
            shutil.copyfile(tmp / "state.db", tmp / "full.db")
            shutil.copytree(tmp / "out", tmp / "out-full", symlinks=True)
            full_probe = settled_file_system(tmp)
            full = run_measured([*scan, str(log2), "--as-of", NIGHT_2, "--out", str(tmp / "out-full"),
                                 "--state", str(tmp / "full.db"), "--full"], tmp)
            inc_probe = settled_file_system(tmp)   # the full night deleted last night's drafts at its end
            inc = run_measured([*scan, str(log2), "--as-of", NIGHT_2, "--out", str(tmp / "out"),
                                "--state", str(tmp / "state.db")], tmp)
            full["probe"], inc["probe"] = full_probe, inc_probe
            for what, r in (("night 1", first), ("full", full), ("incremental", inc)):
                if r["rc"] != 0:
                    print(f"{what}: exit {r['rc']}\n{r['stderr']}", file=sys.stderr)
                    return 1
            same = same_outputs(tmp / "out", tmp / "out-full")
            rows.append((events, n_cases, changed, first, full, inc, same))
            print(f"{events} events, {n_cases} cases, {changed} changed: night 1 {first['wall']:.1f} s, "
                  f"full night 2 {full['wall']:.1f} s, incremental {inc['wall']:.1f} s "
                  f"({inc['wall'] / full['wall']:.2f}x), same outputs: {same}", flush=True)
    print()
    print("| events | cases | changed cases | night 1 (full, store filled) s | night 2 --full s | night 2 incremental s "
          "| incremental/full | peak RSS single MB (full / incr.) | peak RSS tree MB (full / incr.) | same outputs "
          "| file creation before, us/file (full / incr.) | phases of the incremental night |")
    print("|---:|---:|---:|---:|---:|---:|---:|---|---|---|---|---|")
    for events, n_cases, changed, first, full, inc, same in rows:
        print(f"| {events:,} | {n_cases:,} | {changed:,} | {first['wall']:.1f} | {full['wall']:.1f} | "
              f"{inc['wall']:.1f} | {inc['wall'] / full['wall']:.2f} | "
              f"{_mb(full['maxrss_kib'])} / {_mb(inc['maxrss_kib'])} | "
              f"{_mb(full['peak_tree_kib'])} / {_mb(inc['peak_tree_kib'])} | {'yes' if same else 'NO'} | "
              f"{full['probe']:.0f} / {inc['probe']:.0f} | {_phases(inc['stderr'])} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
