"""Importers: case-system exports (.csv, .xlsx, .xes) -> Records in the canonical shape.

    iter_source_records(path, mapping, key=None, units=None) -> Iterator[Record]

One Record per row (CSV/XLSX; `line` = the row number a spreadsheet shows, header = 1)
or per <event> (XES; `line` = the event's line in the file): either `data`, a dict in the
canonical event shape with its `id` and its content `key` (events.content_key), or
`error`, a reason naming the column. An input that cannot be read at all, or stops being
readable part-way, raises `SourceError` (a broken mapping: `MappingError`), whose message
is one line fit for stderr naming the file (and sheet, row or element).

`expand_sources` turns the command line's files and folders into the files to read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

from ..records import Record
from ..units import UnitResolver
from .files import Sources, display, expand_sources, not_a_file
from .mapping import Mapping, MappingError, SourceError, load_mapping, shipped_mappings

SUPPORTED_SUFFIXES = (".csv", ".xlsx", ".xes")

__all__ = [
    "SUPPORTED_SUFFIXES", "Mapping", "MappingError", "SourceError", "Sources",
    "expand_sources", "iter_source_records", "load_mapping", "not_a_file", "shipped_mappings",
]


def iter_source_records(path: Path, mapping: "str | Path | Mapping | None" = None,
                        key: bytes | None = None, *, units: UnitResolver | None = None,
                        stats: dict | None = None,
                        check: Callable[[Record], str | None] | None = None) -> Iterator[Record]:
    """The Records of one export file, dispatched on its suffix.

    `mapping` (a shipped name, a TOML path or a loaded Mapping; None = standard-sv) is
    used for .csv and .xlsx; .xes needs none. `key`: the secret for person pseudonyms
    (HMAC-SHA256); None = no pseudonyms. `units`: the unit register's resolver (names and
    aliases become ids; unknown units noted, or rejected when strict). `stats`: a dict
    that receives counts (`personnummer`: filled Personnummer cells seen, ...). `check`:
    the event model's judgement (a reason or None); given, every Record is an accepted
    event or a reject, and accepted ones carry no raw text (`compliance import`); without
    it (the scan judges the records itself) every Record has its raw text.
    """
    path = Path(path)
    name = display(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise SourceError(f"{name}: okänt filformat {path.suffix or '(inget)'!r} "
                          f"(stöds: {', '.join(SUPPORTED_SUFFIXES)}, .jsonl)")
    why = not_a_file(path)
    if why is not None:
        raise SourceError(f"{name}: {why}")
    if suffix == ".csv":
        from .csvsource import iter_csv_records
        return iter_csv_records(path, load_mapping(mapping), key, units=units, stats=stats, name=name,
                                check=check)
    if suffix == ".xlsx":
        from .xlsxsource import iter_xlsx_records
        return iter_xlsx_records(path, load_mapping(mapping), key, units=units, stats=stats, name=name,
                                 check=check)
    from .xes import iter_xes_records
    return iter_xes_records(path, units=units, name=name, check=check)
