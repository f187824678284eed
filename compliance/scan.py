"""`compliance scan`: event logs in; findings, rejects, deviation drafts and a run record out.

Every input line is accounted for: it becomes an event, a reject (with file, line and
reason) or a blank line. Events are grouped by case and decided by the engine in worker
processes. Outputs are written into a temporary folder beside `--out` and swapped in at
the end, so a scan killed part-way leaves the previous outputs whole.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import orjson

from . import __version__
from . import calendar as vardagar
from .engine import StartedWorkers, run_cases, start_workers
from .events import Reject, parse_at, parse_event_json, parse_record
from .records import Record
from .rules import Rule, load_rules, rules_digest

JSONL_SUFFIXES = {".jsonl", ".ndjson"}


class ScanError(Exception):
    """The scan cannot run (unreadable input, broken rule file, unwritable --out)."""


@dataclass
class ScanResult:
    """What a scan found. Findings, evidence and case summaries are kept as the JSON lines
    of their output files (per case, in case order): a million events give hundreds of
    thousands of findings, which as dicts would take several times the memory."""
    as_of: dt.date
    rejects: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    findings_lines: list[bytes] = field(default_factory=list)
    evidence_lines: list[bytes] = field(default_factory=list)
    cases_lines: list[bytes] = field(default_factory=list)

    @property
    def findings(self) -> list[dict[str, Any]]:
        """The findings as dicts, in the order of findings.jsonl."""
        return _parse_lines(self.findings_lines)

    @property
    def evidence(self) -> list[dict[str, Any]]:
        return _parse_lines(self.evidence_lines)

    @property
    def cases(self) -> list[dict[str, Any]]:
        return _parse_lines(self.cases_lines)


def _parse_lines(chunks: list[bytes]) -> list[dict[str, Any]]:
    return [orjson.loads(line) for chunk in chunks for line in chunk.splitlines() if line]


# --- reading ------------------------------------------------------------------------------

def _line_text(raw: bytes, n: int, errors: str = "strict") -> str:
    """Line `n` of a .jsonl file as text: no line break, no BOM on the first line."""
    text = raw.decode("utf-8", errors).rstrip("\r\n")
    return text[1:] if n == 1 and text.startswith("\ufeff") else text


def _jsonl_record(name: str, n: int, raw: bytes) -> Record:
    """Line `n` of a .jsonl file as a Record (not UTF-8: a Record with its error)."""
    try:
        return Record(name, n, _line_text(raw, n))
    except UnicodeDecodeError as exc:
        return Record(name, n, _line_text(raw, n, "replace"), error=f"raden är inte UTF-8 (byte {exc.start})")


def expand_paths(paths: Iterable[Path | str], suffixes: set[str]) -> list[Path]:
    """Files as given, folders expanded to their log files (sorted, for a stable order)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in suffixes))
        elif p.is_file():
            out.append(p)
        else:
            raise ScanError(f"{p}: filen finns inte")
    return out


def _compact(order: int, event: Any, day: dt.date, secs: int) -> tuple[str, str]:
    """The fields the engine needs, packed small: (case, JSON text).

    Text, not orjson's bytes: some orjson versions over-allocate each bytes object to
    4 KB, which for a million events is gigabytes.
    """
    data = event.__dict__          # declared fields; plain dict access (no pydantic getattr)
    fields: dict[str, Any] = {}
    for name in ("meeting", "kind", "to", "attendees"):
        value = data.get(name)
        if value is not None:
            fields[name] = value
    planned = data.get("date")
    if planned is not None:
        fields["date"] = planned.toordinal()
    child = data.get("child")
    if child is not None:
        fields["child"] = {"gender": child.gender}
    packed = orjson.dumps([order, data["id"], data["type"], day.toordinal(), secs, data["unit"], fields]).decode()
    return data["case"], packed


@dataclass
class _Reading:
    """What reading the input gave: packed events by case, rejects, and the counts."""
    cases: dict[str, list[str]] = field(default_factory=dict)
    rejects: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: {"lines": 0, "events": 0, "rejects": 0, "blank": 0})
    inputs: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Judged:
    """Judged lines of one file (all of it or a stretch): the events as columns, the
    rejects, the blank lines.

    Judging is the costly part; it can run in reader processes, on pieces of a file.
    Columns of plain strings and numbers are much cheaper to send between processes than
    a tuple per line. Everything that needs the whole input (duplicate ids, grouping by
    case) happens in `read_sources`, in input order.
    """
    n_lines: int = 0
    blank: int = 0
    lines: list[int] = field(default_factory=list)      # each accepted event: its line,
    ids: list[str] = field(default_factory=list)        # its id,
    cases: list[str] = field(default_factory=list)      # its case,
    packed: list[str] = field(default_factory=list)     # its fields for the engine (_compact)
    raws: list[str] | None = None                       # and its raw line (None: read it again when needed)
    rejects: list[tuple[str, int, str, str]] = field(default_factory=list)   # (file, line, reason, raw)

    def judge(self, rec: Record, file_no: int) -> None:
        """Judge one record: an event, a reject or a blank line."""
        self.n_lines += 1
        if rec.data is None and rec.error is None and not rec.raw.strip():
            self.blank += 1
            return
        result = parse_record(rec)
        if isinstance(result, Reject):
            self.rejects.append((rec.file, rec.line, result.reason, rec.raw))
            return
        self.add(file_no, rec.line, result, parse_at(result.at), rec.raw)

    def add(self, file_no: int, line: int, event: Any, when: tuple[dt.date, int], raw: str | None) -> None:
        # Input order as (file, line): ties within a case keep the order of the input.
        case, packed = _compact(file_no << 32 | line, event, *when)
        self.lines.append(line)
        self.ids.append(event.id)
        self.cases.append(case)
        self.packed.append(packed)
        if self.raws is not None:
            self.raws.append(raw)


def judge(records: Iterable[Record], file_no: int, part_lines: int = 50_000) -> Iterator[Judged]:
    """Records of any format, judged in parts of `part_lines` lines."""
    part = Judged(raws=[])
    for rec in records:
        part.judge(rec, file_no)
        if part.n_lines >= part_lines:
            yield part
            part = Judged(raws=[])
    if part.n_lines:
        yield part


def _judge_jsonl(name: str, file_no: int, start: int = 0, end: int | None = None,
                 first_line: int = 1) -> Judged:
    """The lines of a .jsonl file (or of its byte range start..end) judged.

    A line that is a valid event takes the fast road (`parse_event_json` on the line's
    text); any other line is judged as a Record like every other format, which gives the
    reason for a reject. An event's raw line is left out: it is needed only when the event
    turns out to be a duplicate, and then read again from the file (`_fill_raw`).
    """
    with open(name, "rb") as fh:
        fh.seek(start)
        data = fh.read() if end is None else fh.read(end - start)
    raws = data.split(b"\n")
    if raws[-1] == b"":
        raws.pop()               # the line break that ends the last line starts no line
    del data
    part = Judged()
    add = part.add
    for n, raw in enumerate(raws, start=first_line):
        try:
            parsed = parse_event_json(_line_text(raw, n))
        except UnicodeDecodeError:
            parsed = None
        if parsed is None:
            part.judge(_jsonl_record(name, n, raw), file_no)   # says why, or finds it blank
        else:
            add(file_no, n, parsed[0], parsed[1], None)
    part.n_lines = len(raws)
    return part


def read_sources(sources: Iterable[tuple[str, Iterable[Judged]]]) -> _Reading:
    """Account for every judged line of every source, in input order.

    A later event with an id already accepted is rejected, naming where the first one was.
    """
    got = _Reading()
    counts, cases, rejects = got.counts, got.cases, got.rejects
    names: list[str] = []
    seen: dict[str, int] = {}          # event id -> source number << 32 | line
    gc.freeze()    # what exists now is never garbage: keep the collector off it
    try:
        for name, parts in sources:
            names.append(name)
            file_no = len(names) - 1
            lines = 0
            for part in parts:
                lines += part.n_lines
                counts["blank"] += part.blank
                found = [{"file": f, "line": n, "reason": why, "raw": raw} for f, n, why, raw in part.rejects]
                ids = part.ids
                if len(set(ids)) == len(ids) and seen.keys().isdisjoint(ids):
                    # The common case, in a few passes of C code: no id seen before.
                    seen.update(zip(ids, map((file_no << 32).__or__, part.lines)))
                    accepted: Iterable[tuple[str, str]] = zip(part.cases, part.packed)
                    counts["events"] += len(ids)
                else:
                    keep = []
                    for i, (eid, line) in enumerate(zip(ids, part.lines)):
                        first = seen.get(eid)
                        if first is not None:
                            found.append({"file": name, "line": line,
                                          "raw": part.raws[i] if part.raws is not None else None,
                                          "reason": f"fält 'id': händelse-id {eid!r} finns redan "
                                                    f"({names[first >> 32]}, rad {first & 0xFFFFFFFF})"})
                            continue
                        seen[eid] = file_no << 32 | line
                        keep.append(i)
                    accepted = [(part.cases[i], part.packed[i]) for i in keep]
                    counts["events"] += len(keep)
                for case, packed in accepted:
                    events = cases.get(case)
                    if events is None:
                        cases[case] = [packed]
                    else:
                        events.append(packed)
                rejects.extend(sorted(found, key=lambda r: r["line"]))
            counts["lines"] += lines
            got.inputs.append({"path": name, "lines": lines})
    finally:
        gc.unfreeze()
    _fill_raw(rejects)
    counts["rejects"] = len(rejects)
    return got


def _fill_raw(rejects: list[dict[str, Any]]) -> None:
    """The raw lines of duplicates judged without them, read again from their files."""
    missing: dict[str, dict[int, dict[str, Any]]] = {}
    for r in rejects:
        if r["raw"] is None:
            missing.setdefault(r["file"], {})[r["line"]] = r
    for name, by_line in missing.items():
        last = max(by_line)
        try:
            with open(name, "rb") as fh:
                for n, raw in enumerate(fh, start=1):
                    if n in by_line:
                        by_line[n]["raw"] = _line_text(raw, n, "replace")
                    if n >= last:
                        break
        except OSError as exc:
            raise _unreadable(name, exc) from None


PARALLEL_READ_BYTES = 16 << 20    # a .jsonl file at least this big is judged by reader processes
PIECE_BYTES = 16 << 20            # a piece is about this size at most: a reader holds one at a time


def read_events(paths: list[Path], mapping: str | None = None, workers: int = 1) -> _Reading:
    """Read every line of every input file (any supported format).

    Large .jsonl files are judged in pieces by `workers` reader processes.
    """
    pool = None
    try:
        def sources():
            nonlocal pool
            for file_no, path in enumerate(paths):
                name = str(path)
                if path.suffix.lower() not in JSONL_SUFFIXES:
                    yield name, judge(_readable(path, _source_records(path, mapping)), file_no)
                    continue
                size = _size(path)
                if workers > 1 and size >= PARALLEL_READ_BYTES:
                    if pool is None:
                        import multiprocessing as mp
                        from concurrent.futures import ProcessPoolExecutor
                        pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("fork"))
                    yield name, _judged_in_pieces(pool, path, file_no, max(workers * 4, -(-size // PIECE_BYTES)))
                else:
                    yield name, _judged_in_pieces(None, path, file_no, -(-size // PIECE_BYTES))
        got = read_sources(sources())
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    for item, path in zip(got.inputs, paths):
        item["sha256"] = _sha256(path)
    return got


def _source_records(path: Path, mapping: str | None) -> Iterator[Record]:
    """The Records of an export in another format (CSV, Excel, XES)."""
    from .importers import SUPPORTED_SUFFIXES, iter_source_records
    if path.suffix.lower() in SUPPORTED_SUFFIXES:
        return iter_source_records(path, mapping)
    raise ScanError(f"{path}: okänt filformat {path.suffix!r} (.jsonl, .csv, .xlsx, .xes)")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError as exc:
        raise _unreadable(path, exc) from None


def _judged_in_pieces(pool: Any, path: Path, file_no: int, parts: int) -> Iterator[Judged]:
    """The judged pieces of a .jsonl file, in order: by the reader processes of `pool`
    in parallel, or one after the other in this process (pool None)."""
    name = str(path)
    try:
        pieces = _pieces(path, max(1, parts))
        if pool is None:
            for start, end, first_line in pieces:
                yield _judge_jsonl(name, file_no, start, end, first_line)
            return
        futures = [pool.submit(_judge_jsonl, name, file_no, start, end, first_line)
                   for start, end, first_line in pieces]
        for fut in futures:
            yield fut.result()
    except OSError as exc:
        raise _unreadable(path, exc) from None


def _pieces(path: Path, n: int) -> list[tuple[int, int, int]]:
    """About n byte ranges of a file, each starting at a line: (start, end, first line)."""
    size = path.stat().st_size
    bounds = [0]
    with path.open("rb") as fh:
        for k in range(1, n):
            fh.seek(max(bounds[-1], size * k // n))
            fh.readline()                       # to the start of the next line
            if fh.tell() >= size:
                break
            if fh.tell() > bounds[-1]:
                bounds.append(fh.tell())
        bounds.append(size)
        pieces, line = [], 1
        for start, end in zip(bounds, bounds[1:]):
            pieces.append((start, end, line))
            fh.seek(start)
            line += fh.read(end - start).count(b"\n")
    return pieces


def _readable(path: Path, records: Iterator[Record]) -> Iterator[Record]:
    """The records of a file, with an unreadable file turned into a ScanError."""
    try:
        yield from records
    except OSError as exc:
        raise _unreadable(path, exc) from None


def _unreadable(path: Path | str, exc: OSError) -> ScanError:
    return ScanError(f"{path}: kan inte läsas: {exc.strerror or exc}")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --- scanning -----------------------------------------------------------------------------

def _decide(cases: dict[str, list[str]], rules: list[Rule], as_of: dt.date, workers: int,
            progress: Callable[[int], None] | None, result: ScanResult, warn_days: int = 5,
            drafts: Any = None, started: StartedWorkers | None = None) -> None:
    engine = run_cases(sorted(cases.items()), rules, as_of, workers=workers, progress=progress,
                       warn_days=warn_days, drafts=drafts, started=started)
    # The findings of a case come sorted from its worker and findings.jsonl sorts by case
    # first: the cases in order give the whole file in order.
    result.findings_lines = engine.findings
    result.evidence_lines = engine.evidence
    result.cases_lines = engine.summaries
    result.errors = engine.errors
    per_rule: dict[str, int] = {r.id: 0 for r in rules}
    warnings: dict[str, int] = {}
    for rule, status in engine.tally:
        tally = per_rule if status == "violation" else warnings
        tally[rule] = tally.get(rule, 0) + 1
    result.counts.update({"cases": len(cases), "findings": per_rule, "warnings": warnings,
                          "engine_errors": len(engine.errors),
                          "engine_retried_batches": engine.retried_batches})


def scan_lines(lines: Iterable[str], as_of: dt.date, rules_dir: Path | str | None = None,
               workers: int = 1, file: str = "<input>", warn_days: int = 5) -> ScanResult:
    """Scan JSONL text lines held in memory (for tests and embedding)."""
    rules = load_rules(rules_dir)
    records = (Record(file, n, line.rstrip("\r\n")) for n, line in enumerate(lines, start=1))
    got = read_sources([(file, judge(records, 0))])
    result = ScanResult(as_of=as_of, rules=rules, rejects=got.rejects, counts=got.counts)
    _decide(got.cases, rules, as_of, workers, None, result, warn_days)
    return result


def run_scan(paths: Iterable[Path | str], as_of: dt.date, rules_dir: Path | str | None = None,
             units_path: Path | str | None = None, out_dir: Path | str | None = None,
             workers: int | None = None, mapping: str | None = None,
             report: bool = False, progress_factory: Callable[[int], Any] | None = None,
             warn_days: int = 5) -> ScanResult:
    """The whole scan: read, decide, and (with `out_dir`) write every output."""
    rules = load_rules(rules_dir)
    from .units import load_units
    units, cooperation = load_units(units_path)
    from .importers import SUPPORTED_SUFFIXES
    files = expand_paths(paths, JSONL_SUFFIXES | set(SUPPORTED_SUFFIXES))
    out = Path(out_dir) if out_dir is not None else None
    tmp = _fresh_folder(out) if out is not None else None
    clock = _PhaseClock()
    started = None
    try:
        workers = workers or min(2, os.cpu_count() or 1)
        drafts = None
        if tmp is not None:
            from .deviations import DraftWriter
            (tmp / "deviations").mkdir()
            drafts = DraftWriter(tmp / "deviations", rules, units, cooperation, as_of)
        # The engine's workers are forked before reading, while this process is small.
        started = start_workers(rules, as_of, workers, warn_days, drafts)
        got = read_events(files, mapping, workers)
        clock("reading")
        cases, counts = got.cases, got.counts
        result = ScanResult(as_of=as_of, rejects=got.rejects, counts=counts, inputs=got.inputs,
                            rules=rules)
        bar = progress_factory(counts["events"]) if progress_factory else None
        from .deviations import DraftWriteError
        try:
            workers_now, started = started, None     # run_cases owns them from here
            _decide(cases, rules, as_of, workers, bar.update if bar else None, result, warn_days,
                    drafts, workers_now)
        except DraftWriteError as exc:
            raise ScanError(f"utkasten kan inte skrivas: {exc}") from None
        if bar:
            bar.close()
        clock("rules engine and drafts")
        if out is not None:
            write_outputs(result, out, tmp, units_path, report=report)
            clock("writing outputs")
    except BaseException:
        if started is not None:
            started.close()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    return result


class _PhaseClock:
    """With COMPLIANCE_TIMING=1, the wall time of each phase of a scan on stderr (for the
    benchmark: where the time goes)."""

    def __init__(self) -> None:
        import time
        self._now = time.perf_counter
        self.on = os.environ.get("COMPLIANCE_TIMING") == "1"
        self.last = self._now()
        self.last_cpu = self._cpu()

    @staticmethod
    def _cpu() -> tuple[float, float]:
        """CPU seconds (user + system) of this process and of its finished workers."""
        import resource
        own = resource.getrusage(resource.RUSAGE_SELF)
        workers = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime, workers.ru_utime + workers.ru_stime

    def __call__(self, phase: str) -> None:
        if self.on:
            import sys
            now, cpu = self._now(), self._cpu()
            print(f"tid: {phase}: {now - self.last:.1f} s (CPU: huvudprocess {cpu[0] - self.last_cpu[0]:.1f} s, "
                  f"arbetsprocesser {cpu[1] - self.last_cpu[1]:.1f} s)", file=sys.stderr)
            self.last, self.last_cpu = now, cpu


# --- writing ------------------------------------------------------------------------------

def _fresh_folder(out: Path) -> Path:
    """A new empty folder beside `out`, where the outputs are written before the swap."""
    _check_out(out)
    try:
        return Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.resolve().parent))
    except OSError as exc:
        raise ScanError(f"{out}: kan inte skriva: {exc.strerror}") from None


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ScanError(f"{out}: --out är en fil, inte en mapp")
    if out.is_dir() and any(out.iterdir()) and not (out / "manifest.json").exists():
        raise ScanError(f"{out}: mappen är inte tom och är inte en tidigare skanning; välj en annan --out")
    parent = out.resolve().parent
    if not parent.exists():
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ScanError(f"{out}: mappen kan inte skapas: {exc.strerror}") from None
    if not os.access(parent, os.W_OK):
        raise ScanError(f"{out}: ingen skrivrätt i {parent}")


def _lines(path: Path, chunks: list[bytes]) -> None:
    with path.open("wb") as fh:
        fh.writelines(chunks)


def _jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    with path.open("wb") as fh:
        for row in rows:
            fh.write(orjson.dumps(row) + b"\n")


def manifest(result: ScanResult, units_path: Path | str | None) -> dict[str, Any]:
    return {
        "tool": {"name": "bus-compliance", "version": __version__},
        "as_of": result.as_of.isoformat(),
        "rules": [r.summary() for r in result.rules],
        "rules_digest": rules_digest(result.rules),
        "calendar": vardagar.CALENDAR_SOURCE,
        "inputs": result.inputs,
        "units_file": ({"path": str(units_path), "sha256": _sha256(Path(units_path))}
                       if units_path else None),
        "counts": result.counts,
        "engine_errors": result.errors,
    }


def write_outputs(result: ScanResult, out: Path, tmp: Path, units_path: Path | str | None,
                  report: bool = False) -> None:
    """Write into the fresh folder `tmp` (the drafts are there already), then swap it in."""
    parent = out.resolve().parent
    try:
        _lines(tmp / "findings.jsonl", result.findings_lines)
        _jsonl(tmp / "rejects.jsonl", result.rejects)
        _lines(tmp / "evidence.jsonl", result.evidence_lines)
        _lines(tmp / "cases.jsonl", result.cases_lines)
        if result.errors:
            _jsonl(tmp / "errors.jsonl", result.errors)
        (tmp / "manifest.json").write_bytes(
            orjson.dumps(manifest(result, units_path), option=orjson.OPT_INDENT_2) + b"\n")
        if report:
            from .reporting import build_reports
            build_reports(tmp, tmp, Path(units_path) if units_path else None)
        old = None
        if out.exists():
            old = parent / f".{out.name}.old-{os.getpid()}"
            out.rename(old)
        tmp.rename(out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        raise ScanError(f"{out}: kan inte skriva: {exc.strerror or exc}") from None


def summary_lines(result: ScanResult) -> list[str]:
    c = result.counts
    lines = [f"Rader: {c.get('lines', 0)}, händelser: {c.get('events', 0)}, "
             f"avvisade: {c.get('rejects', 0)}, tomma: {c.get('blank', 0)}; ärenden: {c.get('cases', 0)}"]
    per_rule = c.get("findings", {})
    lines.append("Brister per regel: " + ", ".join(f"{k} {v}" for k, v in sorted(per_rule.items())))
    if c.get("warnings"):
        lines.append("Varningar per regel: " + ", ".join(f"{k} {v}" for k, v in sorted(c["warnings"].items())))
    if result.errors:
        lines.append(f"FEL: {len(result.errors)} ärenden kunde inte bedömas av regelmotorn: "
                     + ", ".join(e["case"] for e in result.errors[:10]))
    return lines
