#!/usr/bin/env python3
"""Benchmark of `compliance scan` (and optionally `compliance import`) on synthetic logs.

    python benchmarks/bench.py                         # 100k and 1M events
    python benchmarks/bench.py --events 100000 1000000 --workers 2
    python benchmarks/bench.py --events 20000 --generate-only   # generator + parse floor only
    python benchmarks/bench.py --import-csv 1000000    # also time `compliance import`
    python benchmarks/bench.py --reports               # also the reports of each scan

For each size it writes a seeded synthetic log (tests/gen.py, ~10 events a case,
streamed to disk in chunks) into a temporary folder, then measures

* the parse floor: reading the file and `orjson.loads` of every line, in this process;
* the full scan: `compliance scan LOG --as-of 2026-06-30 --out TMP` run as a subprocess
  of a fresh wrapper process per size; wall time around the scan only, peak RSS as
  (a) the wrapper's `getrusage(RUSAGE_CHILDREN).ru_maxrss` = the largest single
  process of the scan's tree, and (b) the sum of VmRSS over the whole process tree,
  polled from /proc every 20 ms (Linux; workers add up there);
* events/s, scan/floor, and the linearity ratio time(largest)/time(smallest);
* the yardstick (benchmarks/yardstick.py: the five core rules in plain single-process
  Python) on the same log, after the scans: the scan's wall time over its (issue 15's
  target: at most 0.5) and whether both found the same violations (`--no-yardstick`: not);
* with --reports, after the (best) scan of each size: the deviation drafts alone
  (`compliance.deviations.write_drafts`, Markdown and Word, as `report` writes them) and
  the whole `compliance report SCAN --out DIR`, each measured like the scan, with their
  wall time as a multiple of the scan's (the target: the reports of the 1M-event scan
  in at most 1.5x its wall time, peak memory flat in the number of drafts: the table
  counts the drafts each wrote).

Prints a Markdown table and writes it to benchmarks/results.md (see --results).
When the `compliance` CLI (or its `scan`/`import` command) does not exist yet, the
script says so and still reports the generator and the parse floor.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import random  # noqa: E402

from gen import generate_cases  # noqa: E402
from reference import parse_at  # noqa: E402

from compliance.vocabulary import CHANNEL_SV, EVENT_NAMES_SV, KIND_SV, RECIPIENT_SV  # noqa: E402

CHUNK_CASES = 1000

# The wrapper runs one command, times it and reports the largest child RSS (KiB on Linux).
WRAPPER = r"""
import json, resource, subprocess, sys, time
out, cmd = sys.argv[1], sys.argv[2:]
t0 = time.perf_counter()
p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
wall = time.perf_counter() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(out, "w") as fh:
    json.dump({"rc": p.returncode, "wall": wall, "maxrss_kib": ru.ru_maxrss,
               "user": ru.ru_utime, "sys": ru.ru_stime,
               "stderr": p.stderr.decode("utf-8", "replace")[-4000:],
               "stdout": p.stdout.decode("utf-8", "replace")[-2000:]}, fh)
"""


# --------------------------------------------------------------------------- generation

def write_log(path: Path, n_events: int, seed: int, start_year=2003, end_year=2026) -> tuple[int, int]:
    """Stream whole synthetic cases to `path` until at least `n_events`; (events, cases)."""
    rng = random.Random(seed)
    n = cases = 0
    with open(path, "wb") as fh:
        while n < n_events:
            evs = generate_cases(rng, CHUNK_CASES, start_year, end_year, first_case=cases + 1)
            # stop at a case boundary once the target is reached
            buf = []
            last_case = None
            for ev in evs:
                if n >= n_events and ev["case"] != last_case:
                    break
                if ev["case"] != last_case:
                    cases += 1
                    last_case = ev["case"]
                buf.append(orjson.dumps(ev))
                n += 1
            fh.write(b"\n".join(buf) + b"\n")
    return n, cases


# The standard-sv export names (imports.md); the extension events are left out.
HANDELSE = {k: v for k, v in EVENT_NAMES_SV.items() if not k.startswith(("deviation.", "group."))}
KIND, TO, CHANNEL = KIND_SV, RECIPIENT_SV, CHANNEL_SV
CSV_COLUMNS = ["Ärende", "Händelse", "Datum", "Tid", "Enhet", "Möte", "Mötestyp",
               "Planerat datum", "Mottagare", "Kanal", "Deltagare"]


def event_to_row(ev: dict) -> list[str] | None:
    typ = HANDELSE.get(ev["type"])
    if typ is None:
        return None
    d, t = parse_at(ev["at"])
    return [ev["case"], typ, d.isoformat(), t.strftime("%H:%M") if t else "",
            ev.get("unit", ""), ev.get("meeting", ""), KIND.get(ev.get("kind", ""), ""),
            ev.get("date", ""), TO.get(ev.get("to", ""), ev.get("to", "")),
            CHANNEL.get(ev.get("channel", ""), ""), ",".join(ev.get("attendees", []))]


def write_csv(path: Path, n_rows: int, seed: int) -> int:
    """A standard-sv export (imports.md) of `n_rows` rows, `;`, UTF-8 with BOM."""
    rng = random.Random(seed)
    n = cases = 0
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh, delimiter=";", lineterminator="\r\n")
        w.writerow(CSV_COLUMNS)
        while n < n_rows:
            for ev in generate_cases(rng, CHUNK_CASES, first_case=cases + 1):
                row = event_to_row(ev)
                if row is None:
                    continue
                w.writerow(row)
                n += 1
                if n >= n_rows:
                    break
            cases += CHUNK_CASES
    return n


# --------------------------------------------------------------------------- measuring

def parse_floor(path: Path) -> float:
    t0 = time.perf_counter()
    n = 0
    with open(path, "rb") as fh:
        for line in fh:
            if line.strip():
                orjson.loads(line)
                n += 1
    return time.perf_counter() - t0


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
            ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kib(root: int, include_root: bool = False) -> int:
    kids = _children_map()
    total, stack = 0, list(kids.get(root, []))
    if include_root:
        total += _rss_kib(root)
    while stack:
        pid = stack.pop()
        total += _rss_kib(pid)
        stack.extend(kids.get(pid, []))
    return total


def run_measured(cmd: list[str], workdir: Path) -> dict:
    """Run `cmd` under a fresh wrapper process; wall, rc, peak RSS (single and tree sum).

    The file system is synced first, so that writing back what was written before (the
    generated log, an earlier scan's drafts) is not charged to this run.
    """
    out = workdir / f"measure-{time.monotonic_ns()}.json"
    if hasattr(os, "sync"):
        os.sync()
    env = dict(os.environ, COMPLIANCE_TIMING="1")
    proc = subprocess.Popen([sys.executable, "-c", WRAPPER, str(out), *cmd], env=env)
    peak_tree = 0
    can_poll = os.path.isdir("/proc")
    while proc.poll() is None:
        if can_poll:
            peak_tree = max(peak_tree, tree_rss_kib(proc.pid))
        time.sleep(0.02)
    res = json.loads(out.read_text()) if out.exists() else {"rc": proc.returncode, "wall": None,
                                                             "maxrss_kib": 0, "stderr": ""}
    res["peak_tree_kib"] = peak_tree if can_poll else None
    return res


def file_creation_us(workdir: Path, n: int = 2000) -> float:
    """Microseconds to create one small file here now: a probe of the file system's state.

    A scan of a million events creates 123 000 draft files. On this VM's ext4 one creation
    took about 35 us on a settled file system but 300-1100 us for about 5.5 minutes after
    a mass deletion (ext4 steps past recently deleted inodes: docs/decisions.md), which
    alone can add half a minute of system time to a scan. The probe's files stay until the
    end (deleting them would disturb the next run).
    """
    folder = os.path.join(tempfile.mkdtemp(prefix="probe-", dir=workdir), "")
    data = b"x" * 2500
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)
    t0 = time.perf_counter()
    for i in range(n):      # as the scan writes its drafts (deviations.DraftWriter)
        fd = os.open(f"{folder}p{i}.md", flags, 0o644)
        os.write(fd, data)
        os.close(fd)
    return (time.perf_counter() - t0) / n * 1e6


def settled_file_system(workdir: Path, threshold_us: float = 100.0, limit_s: float = 420.0) -> float:
    """Wait until creating a file here takes at most `threshold_us` again (the file system
    has settled after a mass deletion, as it has when a nightly scan starts 24 hours after
    the last), for at most `limit_s` seconds; the last probe's microseconds a file.

    Without it the order of the measured runs decides their times: a scan that swaps in
    its outputs deletes the previous ones at its end, and the next run then pays for it
    (file_creation_us)."""
    deadline = time.monotonic() + limit_s
    while True:
        if hasattr(os, "sync"):
            os.sync()
        us = file_creation_us(workdir)
        if us <= threshold_us or time.monotonic() >= deadline:
            return us
        time.sleep(10)


def _phases(stderr: str) -> str:
    """The scan's phase times (COMPLIANCE_TIMING=1 lines 'tid: PHASE: N s'), in one cell."""
    got = [line[5:].strip() for line in stderr.splitlines() if line.startswith("tid: ")]
    return "; ".join(got)


# The drafts alone, as `report` writes them: write_drafts over the scan folder.
DRAFTS = r"""
import datetime as dt, sys
from pathlib import Path
from compliance.deviations import write_drafts
got = write_drafts(Path(sys.argv[1]), None, dt.date(2026, 7, 1),
                   workers=int(sys.argv[3]), out_dir=Path(sys.argv[2]))
print(f"{got.drafts} drafts, {got.files} files")
"""


def measure_reports(base: list[str], scan_out: Path, tmp: Path, n: int, workers: int | None,
                    whole: bool = True, scan_cmd: list[str] | None = None) -> dict:
    """The drafts alone (Markdown and Word), then (`whole`) the whole `compliance report`
    of one scan folder and the scan again with `--report` (its reports in the same run)."""
    got = {}
    commands = [("drafts", [sys.executable, "-c", DRAFTS, str(scan_out), str(tmp / f"drafts-{n}"),
                            str(workers or 2)])]
    if whole:
        commands.append(("report", [*base, "report", str(scan_out), "--out", str(tmp / f"report-{n}")]))
        if scan_cmd:
            again = list(scan_cmd)
            again[again.index("--out") + 1] = str(tmp / f"scan-report-{n}")
            commands.append(("scan --report", [*again, "--report"]))
    for what, cmd in commands:
        probe = file_creation_us(tmp)
        m = run_measured(cmd, tmp)
        # the drafts it wrote (one .md each): its peak memory should not grow with them
        out = Path(cmd[cmd.index("--out") + 1]) if "--out" in cmd else Path(cmd[4])   # DRAFTS: argv[2]
        m["drafts"] = sum(1 for _ in (out / "deviations").glob("*.md"))
        err = m["stderr"].strip().splitlines()
        m["note"] = (f"exit {m['rc']}: {err[-1] if err else ''}" if m["rc"] != 0
                     else m["stdout"].strip().splitlines()[-1] if what == "drafts" and m["stdout"].strip() else "")
        m["probe"] = probe
        m["note"] = f"{m['note']} (load {_load()})".strip()
        m["phases"] = _phases(m.get("stderr", ""))
        got[what] = m
        print(f"  {what} {_s(m['wall'])} s (CPU {m.get('user', 0):.0f} s user, {m.get('sys', 0):.0f} s system; "
              f"file creation before it "
              f"{probe:.0f} us a file), peak RSS {_mb(m['maxrss_kib'])} MB (single), "
              f"{_mb(m['peak_tree_kib'])} MB (tree) {m['note']}", file=sys.stderr)
    return got


def _load() -> str:
    """The 1-minute load average just after a run: other work on the machine slows it."""
    return f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "n/a"


def compliance_cmd() -> list[str] | None:
    exe = shutil.which("compliance")
    return [exe] if exe else [sys.executable, "-m", "compliance"]


def command_available(base: list[str], sub: str) -> tuple[bool, str]:
    try:
        p = subprocess.run([*base, sub, "--help"], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    if p.returncode != 0:
        lines = (p.stderr or p.stdout).strip().splitlines()
        return False, lines[-1] if lines else f"exit status {p.returncode}"
    return True, ""


# ------------------------------------------------------------------------- the yardstick

AGREE_KEYS = ("rule", "case", "event", "meeting", "unit", "due", "actual", "days_late",
              "business_days_late")


def _violations(path: Path) -> set[tuple]:
    """The violations of a findings file, as tuples of AGREE_KEYS."""
    out = set()
    with open(path, "rb") as fh:
        for line in fh:
            f = orjson.loads(line)
            if f.get("status", "violation") == "violation":
                out.add(tuple(f.get(k) for k in AGREE_KEYS))
    return out


def measure_yardstick(log: Path, scan_out: Path, tmp: Path, as_of: str, scan_wall: float) -> dict:
    """The yardstick (benchmarks/yardstick.py: the five core rules in plain single-process
    Python) on the same log, measured like the scan right after it; the scan's wall time as
    a multiple of the yardstick's (issue 15's target: at most 0.5), and whether the two
    found the same violations."""
    out = tmp / f"yardstick-{log.stem}.jsonl"
    m = run_measured([sys.executable, str(ROOT / "benchmarks" / "yardstick.py"), str(log),
                      "--as-of", as_of, "--out", str(out)], tmp)
    res = {"wall": m["wall"], "cpu": m.get("user", 0) + m.get("sys", 0), "rss": m["maxrss_kib"],
           "ratio": None, "agree": "n/a"}
    if m["rc"] != 0 or not out.exists():
        res["agree"] = f"yardstick exit {m['rc']}"
        return res
    res["ratio"] = scan_wall / m["wall"]
    ours, theirs = _violations(scan_out / "findings.jsonl"), _violations(out)
    res["agree"] = "yes" if ours == theirs else \
        f"no: {len(ours - theirs)} only in the scan, {len(theirs - ours)} only in the yardstick"
    res["violations"] = len(theirs)
    out.unlink()
    return res


def yardstick_lines(rows: list[dict]) -> list[str]:
    measured = [r for r in rows if r.get("yardstick")]
    if not measured:
        return []
    lines = ["## The scan against the yardstick (benchmarks/yardstick.py)", "",
             "yardstick = the five core rules in plain single-process Python, run on the same log"
             " right after the scans; scan/yardstick = the best scan's wall time over the"
             " yardstick's (target: at most 0.5); agree = the same violations on "
             + ", ".join(AGREE_KEYS), "",
             "| events | scan wall s | yardstick wall s | yardstick CPU s | scan/yardstick |"
             " scan peak RSS single MB | scan peak RSS tree MB | yardstick peak RSS MB | violations | agree |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in measured:
        y = r["yardstick"]
        ratio = f"{y['ratio']:.2f}" if y["ratio"] is not None else "n/a"
        lines.append(f"| {r['events']:,} | {_s(r['wall'])} | {_s(y['wall'])} | {_s(y['cpu'])} | {ratio} | "
                     f"{_mb(r['rss1'])} | {_mb(r['rsst'])} | {_mb(y['rss'])} | "
                     f"{y.get('violations', 'n/a')} | {y['agree']} |")
    return lines + [""]


def _mb(kib) -> str:
    return "n/a" if not kib else f"{kib / 1024:.0f}"


def _s(x) -> str:
    return "n/a" if x is None else f"{x:.2f}"


# --------------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, nargs="+", default=[100_000, 1_000_000],
                    help="log sizes in events (default: 100000 1000000)")
    ap.add_argument("--workers", type=int, default=None,
                    help="pass --workers N to compliance scan (default: the CLI's own)")
    ap.add_argument("--as-of", default="2026-06-30")
    ap.add_argument("--seed", type=int, default=20260630)
    ap.add_argument("--import-csv", type=int, default=None, metavar="N",
                    help="also write a standard-sv CSV of N rows and time `compliance import`")
    ap.add_argument("--generate-only", action="store_true",
                    help="only the generator and the parse floor (no CLI)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--repeat", type=int, default=1,
                    help="scan each log this many times; the table shows the best run")
    ap.add_argument("--reports", nargs="?", const="all", choices=["all", "drafts"], default=None,
                    help="also measure the drafts and `compliance report` of each scan "
                         "(`--reports drafts`: the drafts only)")
    ap.add_argument("--no-yardstick", action="store_true",
                    help="do not run the plain-Python yardstick after the scans")
    ap.add_argument("--results", default=str(ROOT / "benchmarks" / "results.md"))
    args = ap.parse_args(argv)
    date.fromisoformat(args.as_of)

    tmp = Path(tempfile.mkdtemp(prefix="compliance-bench-"))
    base = compliance_cmd()
    scan_ok, scan_why = (False, "--generate-only") if args.generate_only else \
        command_available(base, "scan")
    if not scan_ok and not args.generate_only:
        print(f"NOTE: `compliance scan` is not available ({scan_why}); "
              "reporting the generator and the parse floor only.", file=sys.stderr)

    rows = []
    try:
        for n in sorted(args.events):
            log = tmp / f"log-{n}.jsonl"
            t0 = time.perf_counter()
            n_ev, n_cases = write_log(log, n, args.seed)
            gen_s = time.perf_counter() - t0
            size_mb = log.stat().st_size / 1e6
            floor = parse_floor(log)
            print(f"[{n_ev} events, {n_cases} cases, {size_mb:.0f} MB] generated in "
                  f"{gen_s:.1f} s, parse floor {floor:.2f} s", file=sys.stderr)
            row = {"events": n_ev, "cases": n_cases, "mb": size_mb, "gen": gen_s,
                   "floor": floor, "wall": None, "rss1": None, "rsst": None,
                   "findings": None, "note": "", "cpu": None, "phases": ""}
            if scan_ok:
                walls = []
                for rep in range(args.repeat):
                    # Each run writes into a folder of its own, deleted only at the end:
                    # deleting 100 000 files here slowed the file system for minutes after.
                    out = tmp / f"out-{n}-{rep}"
                    cmd = [*base, "scan", str(log), "--as-of", args.as_of, "--out", str(out)]
                    if args.workers is not None:
                        cmd += ["--workers", str(args.workers)]
                    probe = file_creation_us(tmp)
                    m = run_measured(cmd, tmp)
                    if m["rc"] != 0:
                        err = m["stderr"].strip().splitlines()
                        row["note"] = f"scan exit {m['rc']}: {err[-1] if err else ''}"
                        print(f"  scan failed: {row['note']}", file=sys.stderr)
                        break
                    walls.append((m["wall"], probe, _load()))
                    if row["wall"] is None or m["wall"] < row["wall"]:   # the best run
                        row.update(wall=m["wall"], rss1=m["maxrss_kib"], rsst=m["peak_tree_kib"],
                                   cpu=m["user"] + m["sys"], phases=_phases(m["stderr"]), out=out)
                    row["rss1"] = max(row["rss1"] or 0, m["maxrss_kib"])
                    row["rsst"] = max(row["rsst"] or 0, m["peak_tree_kib"] or 0)
                    fj = out / "findings.jsonl"
                    if fj.exists():
                        with open(fj, "rb") as fh:
                            row["findings"] = sum(1 for _ in fh)
                    print(f"  scan {m['wall']:.2f} s (CPU {m['user'] + m['sys']:.0f} s; file creation "
                          f"before it {probe:.0f} us a file), peak RSS "
                          f"{_mb(m['maxrss_kib'])} MB (single), {_mb(m['peak_tree_kib'])} MB (tree); "
                          f"{_phases(m['stderr'])}", file=sys.stderr)
                if walls:
                    row["note"] = (row["note"] + " " if row["note"] else "") + \
                        "runs: " + ", ".join(f"{w:.1f} s ({us:.0f} us/file, load {ld})" for w, us, ld in walls)
                if walls and not args.no_yardstick:
                    row["yardstick"] = measure_yardstick(log, row["out"], tmp, args.as_of, row["wall"])
                if walls and args.reports:
                    row["reports"] = measure_reports(base, row["out"], tmp, n, args.workers,
                                                     whole=args.reports == "all", scan_cmd=cmd)
            if not args.keep:
                log.unlink(missing_ok=True)
            rows.append(row)

        imp = None
        if args.import_csv:
            imp = {"rows": args.import_csv, "note": ""}
            imp_ok, imp_why = (False, "--generate-only") if args.generate_only else \
                command_available(base, "import")
            src = tmp / "export.csv"
            t0 = time.perf_counter()
            write_csv(src, args.import_csv, args.seed + 1)
            imp["gen"] = time.perf_counter() - t0
            imp["mb"] = src.stat().st_size / 1e6
            if not imp_ok:
                imp["note"] = f"`compliance import` not available ({imp_why})"
                print(f"NOTE: {imp['note']}", file=sys.stderr)
            else:
                cmd = [*base, "import", str(src), "--mapping", "standard-sv",
                       "--out", str(tmp / "log.jsonl")]
                m = run_measured(cmd, tmp)
                imp.update(rc=m["rc"], wall=m["wall"], rss1=m["maxrss_kib"],
                           rsst=m["peak_tree_kib"])
                if m["rc"] != 0:
                    err = m["stderr"].strip().splitlines()
                    imp["note"] = f"import exit {m['rc']}: {err[-1] if err else ''}"
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}", file=sys.stderr)

    md = render(rows, imp, args, scan_ok, scan_why)
    print(md)
    Path(args.results).write_text(md, encoding="utf-8")
    print(f"written {args.results}", file=sys.stderr)
    return 0


def render(rows, imp, args, scan_ok, scan_why) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"- run: {time.strftime('%Y-%m-%d %H:%M')} · `python benchmarks/bench.py "
        f"{' '.join(sys.argv[1:])}`".rstrip(),
        f"- machine: {platform.platform()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}",
        f"- scan: `compliance scan LOG --as-of {args.as_of} --out TMP`"
        + (f" `--workers {args.workers}`" if args.workers is not None else "")
        + ("" if scan_ok else f" — **not run**: {scan_why}"),
        f"- log: seeded synthetic (tests/gen.py, seed {args.seed}), cases 2003–2026",
        "- parse floor = read + `orjson.loads` of every line in one process; peak RSS single ="
        " largest process of the scan (ru_maxrss of children), tree = sum of VmRSS over"
        " the process tree, polled every 20 ms (pages shared by forked workers count"
        " once per process, so the tree figure is an upper bound)",
        "",
        "- the file system is synced before each measured command; scan CPU s = user + system"
        " time of the whole process tree; phases from `COMPLIANCE_TIMING=1`",
        "- note: every run's wall time, with the time to create one small file measured just"
        " before it (us/file; about 35 on a settled file system here, several times more for"
        " minutes after a mass deletion: the scan creates one draft file per deviation report)",
        "",
        "| events | cases | log MB | generate s | parse floor s | scan wall s | scan CPU s |"
        " events/s | scan/floor | peak RSS single MB | peak RSS tree MB | findings | phases |"
        " note |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in rows:
        eps = f"{r['events'] / r['wall']:,.0f}" if r["wall"] else "n/a"
        ratio = f"{r['wall'] / r['floor']:.1f}" if r["wall"] else "n/a"
        lines.append(
            f"| {r['events']:,} | {r['cases']:,} | {r['mb']:.0f} | {r['gen']:.1f} | "
            f"{r['floor']:.2f} | {_s(r['wall'])} | {_s(r['cpu'])} | {eps} | {ratio} | "
            f"{_mb(r['rss1'])} | {_mb(r['rsst'])} | "
            f"{r['findings'] if r['findings'] is not None else 'n/a'} | {r['phases']} | "
            f"{r['note']} |")
    lines.append("")
    measured = [r for r in rows if r.get("reports")]
    if measured:
        lines += [
            "## Reports of each scan (`--reports`)",
            "",
            "drafts = `write_drafts` (Markdown and Word, as `report` writes them); report = the"
            " whole `compliance report SCAN --out DIR` (drafts, unit lists, upcoming.xlsx,"
            " overview.html); scan --report = the scan again with its reports in the same run"
            " (its phases say where the time went); × scan = wall time over the scan's best wall"
            " time above (for scan --report, the reports' share: (wall − scan) / scan)",
            "",
            "| events | what | wall s | × scan | CPU s (user + system) | peak RSS single MB | peak RSS tree MB |"
            " drafts | file creation before (us/file) | note |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for r in measured:
            for what, m in r["reports"].items():
                ratio = "n/a"
                if m.get("wall") and r["wall"]:
                    ratio = f"{(m['wall'] - r['wall']) / r['wall']:.2f}" if what == "scan --report" \
                        else f"{m['wall'] / r['wall']:.2f}"
                cpu = f"{m['user']:.1f} + {m['sys']:.1f}" if m.get("wall") else "n/a"
                lines.append(f"| {r['events']:,} | {what} | {_s(m.get('wall'))} | {ratio} | {cpu} | "
                             f"{_mb(m.get('maxrss_kib'))} | {_mb(m.get('peak_tree_kib'))} | "
                             f"{m['drafts'] if m.get('drafts') is not None else ''} | {m['probe']:.0f} | {m['note']} {m.get('phases', '')} |")
        lines.append("")
    lines += yardstick_lines(rows)
    if len(rows) >= 2:
        a, b = rows[0], rows[-1]
        size_ratio = b["events"] / a["events"]
        fl = b["floor"] / a["floor"]
        lines.append(f"Linearity (events ×{size_ratio:.1f}, {a['events']:,} → {b['events']:,}): "
                     f"parse floor ×{fl:.2f}" +
                     (f", scan ×{b['wall'] / a['wall']:.2f}" if a["wall"] and b["wall"]
                      else ", scan n/a") +
                     f" (×{size_ratio:.1f} = linear).")
        lines.append("")
    if imp:
        lines += [
            "## Import (`compliance import FILE --mapping standard-sv --out LOG`)",
            "",
            "| rows | CSV MB | generate s | wall s | rows/s | peak RSS single MB |"
            " peak RSS tree MB | note |",
            "|---:|---:|---:|---:|---:|---:|---:|---|",
            f"| {imp['rows']:,} | {imp['mb']:.0f} | {imp['gen']:.1f} | {_s(imp.get('wall'))} | "
            + (f"{imp['rows'] / imp['wall']:,.0f}" if imp.get("wall") and not imp["note"]
               else "n/a")
            + f" | {_mb(imp.get('rss1'))} | {_mb(imp.get('rsst'))} | {imp['note']} |",
            "",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
