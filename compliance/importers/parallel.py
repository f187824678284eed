"""A large CSV import on several processes, with the same output as on one.

Converting and validating a row costs about 25 µs; reading it with the csv module a few.
The file is cut into pieces of about 1 MB at row boundaries; each worker process reads,
converts, validates and serialises the rows of its pieces. The results come back in
file order, and only this process decides what depends on the order of the rows: the
row numbers (the rows before a piece), the empty rows at the end of the file (dropped)
and which events are duplicates of ones written before (duplicates.py). The output is
byte for byte the one of the sequential import (tests/test_importers.py).

Cutting at row boundaries without parsing the file relies on its quoting being regular:
every quote opens a field, closes it, or is doubled inside it. A file with a quote
elsewhere (or in UTF-16) is read row by row in this process instead, and only the
converting is spread over the workers.
"""

from __future__ import annotations

import csv
import io
import mmap
import multiprocessing as mp
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterable

import orjson

from ..chunks import chunks
from ..events import content_id
from ..records import Record
from ..units import UnitResolver
from .csvsource import CsvTable, csv_problem, numbered_rows
from .files import display
from .mapping import Mapping, SourceError
from .rows import EMPTY_ROW

PARALLEL_BYTES = 8 << 20    # a CSV file at least this big is converted on several processes
PIECE_BYTES = 1 << 20       # about this much of the file per task
CHUNK_ROWS = 2000           # rows per task when the rows are read here
EVENT, REJECT = 0, 1
_QUOTE, _CR, _LF = 34, 13, 10

# In a worker: (converter, the validator, path, encoding, delimiter, unit resolver); set
# before the fork.
_STATE: tuple | None = None


def _convert(rows: Iterable[tuple[int, list[str] | None]]) -> tuple[list[tuple], int, dict]:
    """In a worker: each row as (EVENT, (content key, id, case, plausibility facts), JSON
    line, row), the id (and the case, unless the plausibility check needs it) None for a
    digest id (less to send), or (REJECT, None,
    (reason, raw), row); the personal numbers seen; and the unknown units seen (the
    worker's resolver counts them in its own copy)."""
    assert _STATE is not None
    from .cli import event_facts, event_key
    conv = _STATE[0]
    units = _STATE[5]
    own_ids = conv.i_id is not None        # else every id is the content digest
    if units is not None:
        units.unknown.clear()
    seen_before = conv.stats["personnummer"]
    out = []
    dumps = orjson.dumps
    for row, cells in rows:
        if cells is None:
            out.append((REJECT, None, (EMPTY_ROW, ""), row))
            continue
        rec = conv.convert(cells, row)        # judged by the event model too
        if rec.error is None:
            data = rec.data
            key = event_key(rec)
            facts = event_facts(data)
            if own_ids and data["id"] != content_id(data["case"], key):
                ident = (key, data["id"], data["case"], facts)
            else:          # a digest id: the key alone says which event it is
                ident = (key, None, data["case"] if facts is not None else None, facts)
            out.append((EVENT, ident, dumps(data), row))
        else:
            out.append((REJECT, None, (rec.error, rec.raw), row))
    unknown = dict(units.unknown) if units is not None else {}
    return out, conv.stats["personnummer"] - seen_before, unknown


def _convert_rows(chunk: list[tuple[int, list[str] | None]]) -> tuple:
    """In a worker: rows read (and numbered) by the main process."""
    out, personnummer, unknown = _convert(chunk)
    return out, personnummer, unknown, 0, [], None


def _convert_piece(start: int, end: int) -> tuple:
    """In a worker: the rows of the bytes start..end of the file, numbered from 1.

    Returns (items, personnummer, unknown units, records, trailing empty rows, error): the
    empty rows at the end of the piece are left to the main process (they are rejects
    only when a row follows somewhere), and a CSV error comes back as (row, message)."""
    assert _STATE is not None
    path, encoding, delimiter = _STATE[2:5]
    with open(path, "rb") as fh:
        fh.seek(start)
        data = fh.read(end - start)
    text = data.decode("cp1252", "replace") if encoding == "cp1252" else data.decode("utf-8")
    rows: list[tuple[int, list[str] | None]] = []
    pending: list[int] = []
    error = None
    try:
        for item in numbered_rows(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter),
                                  1, pending):
            rows.append(item)
    except csv.Error as exc:
        error = csv_problem(exc)
    records = max(rows[-1][0] if rows else 0, pending[-1] if pending else 0)
    out, personnummer, unknown = _convert(rows)
    if error is not None:
        error = (records + 1, error)     # the row that failed
    return out, personnummer, unknown, records, pending, error


def row_starts(path: Path, delimiter: str, piece_bytes: int) -> list[int] | None:
    """Byte offsets that start a row: the first after the header row, then one about
    every `piece_bytes`, and the file's end; None when the quoting is not regular."""
    delim = ord(delimiter)
    with open(path, "rb") as fh:
        try:
            mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:          # an empty file
            return None
    with mm:
        n = len(mm)
        q = mm.find(b'"')
        in_quotes = False

        def walk(upto: int) -> bool:
            """Follow the quotes before `upto`; False at a quote in no regular place."""
            nonlocal q, in_quotes
            while q != -1 and q < upto:
                if not in_quotes:
                    if q > 0 and mm[q - 1] not in (delim, _LF, _CR):
                        return False
                    in_quotes = True
                    q = mm.find(b'"', q + 1)
                    continue
                after = mm[q + 1] if q + 1 < n else None
                if after == _QUOTE:                     # "" inside a quoted field
                    q = mm.find(b'"', q + 2)
                    continue
                if after is not None and after not in (delim, _LF, _CR):
                    return False
                in_quotes = False
                q = mm.find(b'"', q + 1)
            return True

        starts: list[int] = []
        look_from = 0
        while True:
            nl = mm.find(b"\n", look_from)
            if nl == -1:
                break
            if not walk(nl):
                return None
            if in_quotes:                 # a line break inside a quoted field
                look_from = nl + 1
                continue
            starts.append(nl + 1)
            look_from = nl + 1 + piece_bytes
        if not walk(n) or in_quotes or not starts:
            return None
        if b"\r" in mm[:starts[0]].rstrip(b"\r\n"):
            return None          # a header row that may end at a lone carriage return
        if starts[-1] != n:
            starts.append(n)
        return starts


def import_csv(path: Path, mapping: Mapping, key: bytes | None, units: UnitResolver | None,
               stats: dict, check: Callable[[Record], str | None], writer: Any,
               workers: int = 2) -> None:
    """Import one CSV file through `writer` (cli.ImportWriter), in the file's order."""
    global _STATE
    table = CsvTable(path, mapping, display(path))
    # The workers convert with forked copies of `conv`; each piece reports how many
    # personal numbers and which unknown units it saw, added up here.
    if units is not None and not units.active:
        units = None
    conv = table.converter(key, units, stats, check)
    starts = None
    if table.encoding in ("utf-8", "utf-8-sig", "cp1252"):
        starts = row_starts(path, table.delimiter, PIECE_BYTES)
    file = table.file
    _STATE = (conv, check, str(path), table.encoding, table.delimiter, units)
    offset = 1              # the row before the next piece (the header is row 1)
    pending: list[int] = []  # empty rows not yet known to be followed by a row
    def take(result: tuple) -> None:
        nonlocal offset, pending
        out, personnummer, unknown, records, trailing, error = result
        stats["personnummer"] += personnummer
        if units is not None:
            units.unknown.update(unknown)
        if out and pending:        # empty rows with a row after them: rejects
            for row in pending:
                writer.reject(file, row, EMPTY_ROW, "")
            pending = []
        for kind, ident, payload, row in out:
            if kind == EVENT:
                key_, eid, case, facts = ident
                writer.event(key_, eid, case, offset + row, payload, facts, file)
            else:
                writer.reject(file, offset + row, *payload)
        if error is not None:
            raise SourceError(f"{file}: rad {offset + error[0]}: {error[1]}")
        pending += [offset + r for r in trailing]
        offset += records

    try:
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
            if starts is not None:
                tasks = (pool.submit(_convert_piece, a, b) for a, b in zip(starts, starts[1:]))
            else:                  # rows read here, numbered by CsvTable.rows
                offset = 0
                tasks = (pool.submit(_convert_rows, chunk) for chunk in chunks(table.rows(), CHUNK_ROWS))
            pending_tasks: deque[Any] = deque()
            for fut in tasks:
                pending_tasks.append(fut)
                if len(pending_tasks) > 2 * workers:        # bounded memory, results in order
                    take(pending_tasks.popleft().result())
            while pending_tasks:
                take(pending_tasks.popleft().result())
    finally:
        _STATE = None
        table.close()
