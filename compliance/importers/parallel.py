"""A large CSV import on several processes, with the same output as on one.

Converting and validating a row costs about 25 µs; reading it with the csv module about
1 µs. So this process reads the rows (quoted line breaks and row numbers are handled in
one place, `CsvTable.rows`) and hands them in chunks to worker processes, which convert,
validate and serialise them. The results come back in row order, and only this process
decides what depends on the order of the rows: the suffix of an id whose identity was
seen before (ids.py). The output is byte for byte the one of the sequential import.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import IO, Any, Callable

import orjson

from ..records import Record
from .csvsource import EMPTY_ROW, CsvTable
from .ids import DeferredIds, IdAssigner
from .mapping import Mapping

PARALLEL_BYTES = 8 << 20    # a CSV file at least this big is converted on several processes
CHUNK_ROWS = 2000
EVENT, REJECT = 0, 1

# In a worker: (converter, its DeferredIds, the validator, file name); set before the fork.
_STATE: tuple | None = None


def _convert_chunk(chunk: list[tuple[int, list[str] | None]]) -> tuple[list[tuple], int]:
    """In a worker: each row as (EVENT, id digest and base or None, JSON line) or
    (REJECT, id digest and base or None, reject line); and the personal numbers seen."""
    assert _STATE is not None
    conv, ids, check, file = _STATE
    seen_before = conv.stats["personnummer"]
    out = []
    dumps = orjson.dumps
    for row, cells in chunk:
        if cells is None:
            out.append((REJECT, None, dumps({"file": file, "line": row, "reason": EMPTY_ROW, "raw": ""})))
            continue
        ids.last = None
        rec = conv.convert(cells, row)
        reason = rec.error if rec.error is not None else check(rec)
        if reason is None:
            out.append((EVENT, ids.last, dumps(rec.data)))
        else:
            out.append((REJECT, ids.last, dumps({"file": rec.file, "line": rec.line,
                                                 "reason": reason, "raw": rec.raw})))
    return out, conv.stats["personnummer"] - seen_before


def import_csv(path: Path, mapping: Mapping, key: bytes | None, ids: IdAssigner, stats: dict,
               check: Callable[[Record], str | None], events_out: IO[bytes],
               rejects_out: IO[bytes], workers: int = 2) -> tuple[int, int, int]:
    """Import one CSV file into the open outputs; (rows, events, rejects)."""
    global _STATE
    table = CsvTable(path, mapping)
    deferred = DeferredIds()
    conv = table.converter(key, deferred, {"personnummer": 0})
    stats["encoding"], stats["delimiter"] = table.encoding, table.delimiter
    stats.setdefault("personnummer", 0)
    _STATE = (conv, deferred, check, table.file)   # inherited by the forked workers
    rows = events = rejects = 0
    dumps = orjson.dumps

    def take(result: tuple[list[tuple], int]) -> None:
        nonlocal rows, events, rejects
        out, personnummer = result
        stats["personnummer"] += personnummer
        for kind, last, line in out:
            rows += 1
            if last is not None:
                final = ids.claim(*last)
                if final != last[1]:     # an identity seen before: the id gets its suffix
                    line = line.replace(b'"id":' + dumps(last[1]), b'"id":' + dumps(final), 1)
            if kind == EVENT:
                events_out.write(line)
                events_out.write(b"\n")
                events += 1
            else:
                rejects_out.write(line)
                rejects_out.write(b"\n")
                rejects += 1

    try:
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
            pending: deque[Any] = deque()
            it = table.rows()
            while chunk := list(itertools.islice(it, CHUNK_ROWS)):
                pending.append(pool.submit(_convert_chunk, chunk))
                if len(pending) > 2 * workers:        # bounded memory: results in order
                    take(pending.popleft().result())
            while pending:
                take(pending.popleft().result())
    finally:
        _STATE = None
    return rows, events, rejects
