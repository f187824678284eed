"""Reading the input: every line of every file becomes an event or a reject.

Every input line is accounted for: it becomes an event (packed small for the engine), a
reject (with file, line and reason) or a blank line. `.jsonl` files are judged in pieces,
large ones by reader processes; exports in other formats (CSV, Excel, XES) come through
the importers (`compliance/importers`). What needs the whole input (duplicate ids, grouping
by case) happens in `read_sources`, in input order.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import orjson
from pydantic import BaseModel

from .events import Reject, parse_at, parse_event_json, parse_record
from .records import Record

JSONL_SUFFIXES = {".jsonl", ".ndjson"}


class ReadError(Exception):
    """An input cannot be read at all; the message is one line naming the file."""


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


READER = "en läsprocess"


def read_events(paths: list[Path], mapping: str | None = None, workers: int = 1) -> _Reading:
    """Read every line of every input file (any supported format).

    Large .jsonl files are judged in pieces by `workers` reader processes. A reader that
    dies (killed, out of memory) stops the reading with a ReadError naming the file.
    """
    readers = None
    failed = True
    try:
        def sources():
            nonlocal readers
            for file_no, path in enumerate(paths):
                name = str(path)
                if path.suffix.lower() not in JSONL_SUFFIXES:
                    yield name, judge(_readable(path, _source_records(path, mapping)), file_no)
                    continue
                size = _size(path)
                if workers > 1 and size >= PARALLEL_READ_BYTES:
                    if readers is None:
                        from .pool import Children
                        readers = Children(workers, READER)
                    yield name, _judged_in_pieces(readers, path, file_no, max(workers * 4, -(-size // PIECE_BYTES)))
                else:
                    yield name, _judged_in_pieces(None, path, file_no, -(-size // PIECE_BYTES))
        got = read_sources(sources())
        failed = False
    finally:
        if readers is not None:
            readers.close(kill=failed)
    for item, path in zip(got.inputs, paths):
        item["sha256"] = sha256_file(path)
    return got


def _source_records(path: Path, mapping: str | None) -> Iterator[Record]:
    """The Records of an export in another format (CSV, Excel, XES)."""
    from .importers import SUPPORTED_SUFFIXES, iter_source_records
    if path.suffix.lower() in SUPPORTED_SUFFIXES:
        return iter_source_records(path, mapping)
    raise ReadError(f"{path}: okänt filformat {path.suffix!r} (.jsonl, .csv, .xlsx, .xes)")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError as exc:
        raise _unreadable(path, exc) from None


def _judge_piece(piece: tuple[str, int, int, int, int]) -> Judged:
    return _judge_jsonl(*piece)


def _judged_in_pieces(readers: Any, path: Path, file_no: int, parts: int) -> Iterator[Judged]:
    """The judged pieces of a .jsonl file, in order: by the reader processes `readers`
    in parallel, or one after the other in this process (readers None)."""
    from .pool import ChildDied
    name = str(path)
    try:
        pieces = [(name, file_no, start, end, first_line) for start, end, first_line in _pieces(path, max(1, parts))]
        if readers is None:
            for piece in pieces:
                yield _judge_piece(piece)
            return
        yield from readers.map_in_order(_judge_piece, pieces)
    except OSError as exc:
        raise _unreadable(path, exc) from None
    except ChildDied as exc:
        raise ReadError(f"{path}: {exc} medan filen lästes") from None


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
    """The records of a file, with an unreadable file turned into a ReadError."""
    try:
        yield from records
    except OSError as exc:
        raise _unreadable(path, exc) from None


def _unreadable(path: Path | str, exc: OSError) -> ReadError:
    return ReadError(f"{path}: kan inte läsas: {exc.strerror or exc}")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


