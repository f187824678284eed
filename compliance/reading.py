"""Reading the input: every line of every file becomes an event, a duplicate, a reject
or a blank line.

`.jsonl` files are judged in pieces, large ones by reader processes; exports in other
formats (CSV, Excel, XES) come through the importers (`compliance/importers`). What
needs the whole input happens in `read_sources`, in input order: the same event read
twice counts once (`duplicates.Merger`, identity by content), events are grouped by case,
and the child's birth dates are checked for plausibility. Units written by name become
ids as the lines are judged (`units.UnitResolver`). A file that cannot be read is one
line naming it; none of its lines count and the other files are read (`failed`).
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import orjson
from pydantic import BaseModel

from .duplicates import CONFLICT, DUPLICATE, Merger, number_sv
from .events import Reject, content_id, content_key, parse_at, parse_event_json, parse_record
from .plausibility import BirthDates
from .privacy import redact, redact_raw
from .records import Record
from .units import UnitResolver

JSONL_SUFFIXES = {".jsonl", ".ndjson"}


class ReadError(Exception):
    """The input cannot be read at all (a reader process died, a broken --mapping); the
    message is one line."""


class UnreadableFile(ReadError):
    """One input file cannot be read, or stopped being readable part-way (a hostile or
    broken export, a file that vanished); the message is one line naming the file. The
    file counts not at all, and the other files are read."""


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
            raise ReadError(f"{p}: filen finns inte")
    return out


_COMMON = frozenset({"id", "case", "type", "at", "unit"})


def _plain(value: Any) -> Any:
    """A field value as the engine's facts take it: dates as day ordinals."""
    if isinstance(value, dt.date):
        return value.toordinal()
    if isinstance(value, BaseModel):
        return {k: _plain(v) for k, v in value.__dict__.items() if v is not None}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _compact(order: int, event: Any, day: dt.date, secs: int) -> tuple[str, str]:
    """An event packed small for the engine's workers: (case, JSON text of a CompactEvent,
    see compliance/facts.py). Every field of its type goes along; the rules choose.

    Text, not orjson's bytes: some orjson versions over-allocate each bytes object to
    4 KB, which for a million events is gigabytes.
    """
    data = event.__dict__          # declared fields; plain dict access (no pydantic getattr)
    fields = {name: _plain(value) for name, value in data.items()
              if value is not None and name not in _COMMON}
    packed = orjson.dumps([order, data["id"], data["type"], day.toordinal(), secs, data["unit"], fields]).decode()
    return data["case"], packed


@dataclass
class InputReport:
    """What the summary on stderr and `manifest.json` say about the input besides the
    counts: files passed over or unreadable, events read more than once, units the
    register does not know, implausible birth dates."""
    skipped: list[str] = field(default_factory=list)        # 'README.md: hoppas över (...)'
    failed: list[str] = field(default_factory=list)         # one line per file that could not be read
    duplicates: list[str] = field(default_factory=list)     # per file: 'a.csv: dubbletter: 302 (...)'
    duplicates_other_files: int = 0
    duplicates_same_file: int = 0
    unknown_units: list[str] = field(default_factory=list)  # as written in the log, sorted
    birth_dates: list[str] = field(default_factory=list)    # 'ärende K1: barnet var 112 år ...'

    def summary_lines(self) -> list[str]:
        lines = list(self.skipped)
        total = self.duplicates_other_files + self.duplicates_same_file
        if total:
            parts = []
            if self.duplicates_other_files:
                parts.append(f"{number_sv(self.duplicates_other_files)} (samma händelse i flera filer)")
            if self.duplicates_same_file:
                parts.append(f"{number_sv(self.duplicates_same_file)} (samma händelse på flera rader i filen)")
            lines.append("dubbletter: " + ", ".join(parts) + "; räknas en gång")
            lines.extend(f"  {line}" for line in self.duplicates)
        if self.unknown_units:
            lines.append("okända verksamheter (finns inte i enhetsregistret): " + ", ".join(self.unknown_units))
        lines.extend(f"varning: {w}" for w in self.birth_dates)
        lines.extend(f"FEL: {line}" for line in self.failed)
        return lines

    def manifest(self) -> dict[str, Any]:
        """The manifest's keys beside `counts` (`unknown_units` is what the overview's
        section "Okända verksamheter" reads)."""
        return {"duplicates": {"other_files": self.duplicates_other_files, "same_file": self.duplicates_same_file},
                "unknown_units": [{"id": u} for u in self.unknown_units],
                "birth_date_warnings": self.birth_dates,
                "skipped_inputs": self.skipped,
                "unreadable_inputs": self.failed}


@dataclass
class _Reading:
    """What reading the input gave: packed events by case, rejects, the counts, and what
    else the summary says about the input."""
    cases: dict[str, list[str]] = field(default_factory=dict)
    rejects: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: {"lines": 0, "events": 0, "rejects": 0, "blank": 0,
                                                            "duplicates": 0})
    inputs: list[dict[str, Any]] = field(default_factory=list)
    paths: list[Path | str] = field(default_factory=list)     # the file of each entry of `inputs`
    report: InputReport = field(default_factory=InputReport)


@dataclass
class Judged:
    """Judged lines of one file (all of it or a stretch): the events as columns, the
    rejects, the blank lines.

    Judging is the costly part; it can run in reader processes, on pieces of a file.
    Columns of plain strings and numbers are much cheaper to send between processes than
    a tuple per line. Everything that needs the whole input (duplicates, grouping by
    case) happens in `read_sources`, in input order.
    """
    n_lines: int = 0
    blank: int = 0
    lines: list[int] = field(default_factory=list)      # each accepted event: its line,
    ids: list[str | None] = field(default_factory=list)  # its id (None: its content digest, as importers make it),
    keys: list[int] = field(default_factory=list)       # its content (events.content_key),
    cases: list[str] = field(default_factory=list)      # its case,
    packed: list[str] = field(default_factory=list)     # its fields for the engine (_compact)
    raws: list[str] | None = None                       # and its raw line (None: read it again when needed)
    rejects: list[tuple[str, int, str, str]] = field(default_factory=list)   # (file, line, reason, redacted raw)
    # (index in the columns, case, type, local date, birth date) of the events the
    # plausibility check needs (case.opened, or with the child's birth date)
    births: list[tuple[int, str, str, dt.date, Any]] = field(default_factory=list)
    unknown: Counter | None = None     # units the register does not know, counted in a reader process

    def judge(self, rec: Record, file_no: int, units: UnitResolver | None = None) -> None:
        """Judge one record: an event, a reject or a blank line."""
        self.n_lines += 1
        if rec.data is None and rec.error is None and not rec.raw.strip():
            self.blank += 1
            return
        result = parse_record(rec)
        if isinstance(result, Reject):
            self.rejects.append((rec.file, rec.line, result.reason, result.raw))
            return
        self.accept(file_no, rec.line, result, parse_at(result.at), rec.raw, rec.file, units, rec.key)

    def accept(self, file_no: int, line: int, event: Any, when: tuple[dt.date, int], raw: str | None,
               file: str, units: UnitResolver | None, key: int | None = None,
               raw_text: Any = None) -> None:
        """An event that passed the model, its units read against the register first (a
        name or alias becomes the unit's id; with --strict-units an unknown unit makes the
        line a reject). `raw_text()` gives the raw line when `raw` is None."""
        if units is not None and units.active:
            event, problem = units.resolve_event(event)
            if problem is not None:
                text = raw if raw is not None else raw_text()
                self.rejects.append((file, line, units.reason(f"fält '{problem[0]}'", problem[1]), redact_raw(text)))
                return
            key = None                 # names may have become ids: the content is the event's now
        self.add(file_no, line, event, when, raw, key)

    def add(self, file_no: int, line: int, event: Any, when: tuple[dt.date, int], raw: str | None,
            key: int | None = None) -> None:
        # Input order as (file, line): ties within a case keep the order of the input.
        case, packed = _compact(file_no << 32 | line, event, *when)
        if key is None:
            key = content_key(event)
        data = event.__dict__
        eid = data["id"]
        index = len(self.lines)
        self.lines.append(line)
        self.ids.append(None if len(eid) == len(case) + 17 and eid == content_id(case, key) else eid)
        self.keys.append(key)
        self.cases.append(case)
        self.packed.append(packed)
        if self.raws is not None:
            self.raws.append(raw)
        # The child's birth date: declared on case.opened, an extra field elsewhere.
        typ = data["type"]
        if typ == "case.opened":
            child = data["child"]
            self.births.append((index, case, typ, when[0], child.birth_date if child is not None else None))
        else:
            extra = event.__pydantic_extra__
            child = extra.get("child") if extra else None
            if isinstance(child, dict) and child.get("birth_date") is not None:
                self.births.append((index, case, typ, when[0], child["birth_date"]))


def judge(records: Iterable[Record], file_no: int, part_lines: int = 50_000,
          units: UnitResolver | None = None) -> Iterator[Judged]:
    """Records of any format, judged in parts of `part_lines` lines (`units`: to read
    the units of records that the importers have not read already)."""
    part = Judged(raws=[])
    for rec in records:
        part.judge(rec, file_no, units)
        if part.n_lines >= part_lines:
            yield part
            part = Judged(raws=[])
    if part.n_lines:
        yield part


def _judge_jsonl(name: str, file_no: int, start: int = 0, end: int | None = None,
                 first_line: int = 1, units: UnitResolver | None = None, shown: str | None = None) -> Judged:
    """The lines of a .jsonl file (or of its byte range start..end) judged (`shown`: the
    file's name in rejects, if not `name`).

    A line that is a valid event takes the fast road (`parse_event_json` on the line's
    text); any other line is judged as a Record like every other format, which gives the
    reason for a reject. An event's raw line is left out: it is needed only when the event
    turns out to be a conflict, and then read again from the file (`_fill_raw`).
    """
    shown = shown or name
    with open(name, "rb") as fh:
        fh.seek(start)
        data = fh.read() if end is None else fh.read(end - start)
    raws = data.split(b"\n")
    if raws[-1] == b"":
        raws.pop()               # the line break that ends the last line starts no line
    del data
    part = Judged()
    resolving = units is not None and units.active
    add = part.add
    for n, raw in enumerate(raws, start=first_line):
        try:
            parsed = parse_event_json(_line_text(raw, n))
        except UnicodeDecodeError:
            parsed = None
        if parsed is None:
            part.judge(_jsonl_record(shown, n, raw), file_no, units)   # says why, or finds it blank
        elif resolving:
            part.accept(file_no, n, parsed[0], parsed[1], None, shown, units,
                        raw_text=lambda raw=raw, n=n: _line_text(raw, n, "replace"))
        else:
            add(file_no, n, parsed[0], parsed[1], None)
    part.n_lines = len(raws)
    part.raws = None
    return part


def read_sources(sources: Iterable[tuple], units: UnitResolver | None = None,
                 as_of: dt.date | None = None) -> _Reading:
    """Account for every judged line of every source, in input order. A source is
    (name, its judged parts[, the file to read raw lines again from]).

    The same event read again (in another file, or on another line of the same one)
    counts once, as a duplicate; an id read before with other content is a reject naming
    the first line (`duplicates.Merger`). A source whose parts raise UnreadableFile counts
    not at all: its events and rejects are taken back, and the next source is read.
    `units`: the resolver the lines were judged with (unknown units are listed); `as_of`:
    "in the future" for the birth dates.
    """
    got = _Reading()
    counts, cases, rejects, report = got.counts, got.cases, got.rejects, got.report
    merger = Merger()
    births = BirthDates(as_of)
    resolving = units is not None and units.active
    files: dict[str, Path | str] = {}
    gc.freeze()    # what exists now is never garbage: keep the collector off it
    try:
        for source in sources:
            name, parts = source[0], source[1]
            path = source[2] if len(source) > 2 else name
            files.setdefault(name, path)
            m_no = merger.file(name)
            mark = len(rejects)
            added: list[list[str]] = []          # the cases of this file's kept events, per part
            file_births: list[tuple] = []
            file_unknown: Counter = Counter()
            unknown_before = Counter(units.unknown) if resolving else None
            lines = blank = events = 0
            try:
                for part in parts:
                    lines += part.n_lines
                    blank += part.blank
                    found = [{"file": f, "line": n, "reason": why, "raw": raw} for f, n, why, raw in part.rejects]
                    verdicts = merger.add_many(part.keys, part.ids, part.cases, m_no, part.lines)
                    if verdicts is None:        # the common case: every event new
                        kept_cases, kept_packed = part.cases, part.packed
                        file_births.extend(part.births)
                    else:
                        keep, conflicts = [], set()
                        for i, (verdict, reason) in enumerate(verdicts):
                            if verdict == CONFLICT:
                                conflicts.add(i)
                                raw = part.raws[i] if part.raws is not None else None
                                found.append({"file": name, "line": part.lines[i], "reason": reason,
                                              "raw": redact_raw(raw) if raw is not None else None})
                            elif verdict != DUPLICATE:
                                keep.append(i)
                        kept_cases = [part.cases[i] for i in keep]
                        kept_packed = [part.packed[i] for i in keep]
                        file_births.extend(b for b in part.births if b[0] not in conflicts)
                    events += len(kept_cases)
                    added.append(kept_cases)
                    for case, packed in zip(kept_cases, kept_packed):
                        case_events = cases.get(case)
                        if case_events is None:
                            cases[case] = [packed]
                        else:
                            case_events.append(packed)
                    rejects.extend(sorted(found, key=lambda r: r["line"]))
                    if part.unknown:
                        file_unknown.update(part.unknown)
            except UnreadableFile as exc:
                merger.forget_file()
                for kept_cases in reversed(added):
                    for case in reversed(kept_cases):
                        case_events = cases[case]
                        case_events.pop()
                        if not case_events:
                            del cases[case]
                del rejects[mark:]
                if unknown_before is not None:
                    units.unknown = unknown_before
                report.failed.append(str(exc) + (f" (de {lines} rader som lästes före felet räknas inte)"
                                                 if lines else ""))
                continue
            counts["lines"] += lines
            counts["blank"] += blank
            counts["events"] += events
            for _, case, typ, day, born in file_births:
                births.see(case, typ, day, born)
            if resolving:
                units.unknown.update(file_unknown)
            got.inputs.append({"path": name, "lines": lines, **merger.manifest_counts(m_no)})
            got.paths.append(path)
    finally:
        gc.unfreeze()
    renames = merger.renames()
    if renames:
        _rename(cases, renames)
    _fill_raw(rejects, files)
    counts["rejects"] = len(rejects)
    counts["duplicates"] = merger.duplicates
    report.duplicates = merger.summary_lines()
    report.duplicates_other_files = sum(c.other_files for c in merger.counts)
    report.duplicates_same_file = sum(c.same_file for c in merger.counts)
    report.unknown_units = units.unknown_units() if resolving else []
    report.birth_dates = births.warnings()
    return got


def _rename(cases: dict[str, list[str]], renames: dict[str, str]) -> None:
    """Kept events take the smaller id of a copy read after them (`Merger.renames`; rare:
    the same events with ids of their own and as imported rows, the rows read first)."""
    for packed_events in cases.values():
        for i, packed in enumerate(packed_events):
            event = orjson.loads(packed)
            new = renames.get(event[1])
            if new is not None:
                event[1] = new
                packed_events[i] = orjson.dumps(event).decode()


def _fill_raw(rejects: list[dict[str, Any]], files: dict[str, Path | str] | None = None) -> None:
    """The raw lines of conflicts judged without them, read again from their files (and
    redacted: no personal number in rejects.jsonl)."""
    missing: dict[str, dict[int, dict[str, Any]]] = {}
    for r in rejects:
        if r["raw"] is None:
            missing.setdefault(r["file"], {})[r["line"]] = r
    for name, by_line in missing.items():
        last = max(by_line)
        path = (files or {}).get(name, name)
        try:
            with open(path, "rb") as fh:
                for n, raw in enumerate(fh, start=1):
                    if n in by_line:
                        by_line[n]["raw"] = redact_raw(_line_text(raw, n, "replace"))
                    if n >= last:
                        break
        except OSError:
            for r in by_line.values():      # gone since it was read: the reason still names the line
                if r["raw"] is None:
                    r["raw"] = ""


PARALLEL_READ_BYTES = 16 << 20    # a .jsonl file at least this big is judged by reader processes
PIECE_BYTES = 16 << 20            # a piece is about this size at most: a reader holds one at a time


READER = "en läsprocess"
_READER_UNITS: UnitResolver | None = None     # in a reader process: its copy of the scan's resolver


def _reader_init(units: UnitResolver | None) -> None:
    global _READER_UNITS
    _READER_UNITS = units


def read_events(paths: list[Path], mapping: str | None = None, workers: int = 1,
                units: UnitResolver | None = None, as_of: dt.date | None = None) -> _Reading:
    """Read every line of every input file (any supported format).

    Large .jsonl files are judged in pieces by `workers` reader processes. A reader that
    dies (killed, out of memory) stops the reading with a ReadError; so does a broken
    `--mapping`. A file that cannot be read is listed in `report.failed` and the others
    are read. `units`: the register's resolver (names and aliases become ids).
    """
    loaded = None
    if any(p.suffix.lower() in (".csv", ".xlsx") for p in paths):
        from .importers import SourceError, load_mapping
        try:
            loaded = load_mapping(mapping)
        except SourceError as exc:
            raise ReadError(str(exc)) from None
    readers = None
    failed = True

    def jsonl_parts(path: Path, name: str, file_no: int) -> Iterator[Judged]:
        nonlocal readers
        size = _size(path)
        if workers > 1 and size >= PARALLEL_READ_BYTES:
            if readers is None:
                from .pool import Children
                readers = Children(workers, READER, init=_reader_init, init_args=(units,))
            try:
                yield from _judged_in_pieces(readers, path, name, file_no, max(workers * 4, -(-size // PIECE_BYTES)))
            except UnreadableFile:
                # pieces of this file may still be under way: the next file gets new readers
                readers.close(kill=True)
                readers = None
                raise
        else:
            yield from _judged_in_pieces(None, path, name, file_no, -(-size // PIECE_BYTES), units)

    def sources():
        from .importers import display
        for file_no, path in enumerate(paths):
            name = display(path)
            if path.suffix.lower() not in JSONL_SUFFIXES:
                # units are read by the importers, before they make an event's id
                yield name, judge(_readable(name, lambda path=path: _source_records(path, loaded, units)),
                                  file_no), path
            else:
                yield name, jsonl_parts(path, name, file_no), path
    try:
        got = read_sources(sources(), units=units, as_of=as_of)
        failed = False
    finally:
        if readers is not None:
            readers.close(kill=failed)
    for item, path in zip(got.inputs, got.paths):
        try:
            item["sha256"] = sha256_file(Path(path))
        except OSError:
            item["sha256"] = None        # gone since it was read
    return got


def _source_records(path: Path, mapping: Any, units: UnitResolver | None = None) -> Iterator[Record]:
    """The Records of an export in another format (CSV, Excel, XES)."""
    from .importers import SUPPORTED_SUFFIXES, SourceError, iter_source_records
    if path.suffix.lower() in SUPPORTED_SUFFIXES:
        return iter_source_records(path, mapping, units=units)
    raise SourceError(f"{redact(str(path))}: okänt filformat {path.suffix!r} (.jsonl, .csv, .xlsx, .xes)")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError as exc:
        raise _unreadable(path, exc) from None


def _judge_piece(piece: tuple[str, int, int, int, int, str]) -> Judged:
    """A piece judged in a reader process, with the units it found unknown."""
    units = _READER_UNITS
    if units is not None and units.active:
        units.unknown = Counter()
    part = _judge_jsonl(*piece[:5], units=units, shown=piece[5])
    if units is not None and units.active:
        part.unknown = units.unknown
    return part


def _judged_in_pieces(readers: Any, path: Path, name: str, file_no: int, parts: int,
                      units: UnitResolver | None = None) -> Iterator[Judged]:
    """The judged pieces of a .jsonl file, in order: by the reader processes `readers`
    in parallel, or one after the other in this process (readers None, with `units`)."""
    from .pool import ChildDied
    try:
        pieces = [(str(path), file_no, start, end, first_line, name)
                  for start, end, first_line in _pieces(path, max(1, parts))]
        if readers is None:
            for piece in pieces:
                yield _judge_jsonl(*piece[:5], units=units, shown=name)
            return
        yield from readers.map_in_order(_judge_piece, pieces)
    except OSError as exc:
        raise _unreadable(name, exc) from None
    except ChildDied as exc:
        raise ReadError(f"{name}: {exc} medan filen lästes") from None


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


def _readable(name: str, make: Any) -> Iterator[Record]:
    """The records of an export (`make()`), any failure to read it turned into one
    UnreadableFile line naming the file: the importers' own (SourceError: a zip bomb, a
    truncated or password-protected workbook, XML that is not XES, missing columns...),
    the system's, and whatever else a hostile file may provoke in a parser."""
    from .importers import SourceError
    try:
        yield from make()
    except SourceError as exc:
        raise UnreadableFile(" ".join(str(exc).split())) from None
    except OSError as exc:
        raise _unreadable(name, exc) from None
    except Exception as exc:  # noqa: BLE001 - a hostile file is a line, never a traceback
        raise UnreadableFile(f"{name}: kan inte läsas ({type(exc).__name__}: {redact(str(exc))[:200]})") from None


def _unreadable(name: Path | str, exc: OSError) -> UnreadableFile:
    return UnreadableFile(f"{redact(str(name))}: kan inte läsas: {exc.strerror or exc}")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


