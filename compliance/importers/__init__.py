"""Importers: case-system exports (.csv, .xlsx, .xes) -> Records in the canonical shape.

    iter_source_records(path, mapping, key=None) -> Iterator[Record]

One Record per row (CSV/XLSX; `line` = the row number a spreadsheet shows, header = 1)
or per <event> (XES; `line` = the event's line in the file): either `data`, a dict in the
canonical event shape with a stable `id`, or `error`, a reason naming the column. An input
that cannot be read at all raises `SourceError` (a broken mapping: `MappingError`), whose
message is one line fit for stderr.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from ..records import Record
from .ids import IdAssigner
from .mapping import Mapping, MappingError, SourceError, load_mapping, shipped_mappings

SUPPORTED_SUFFIXES = (".csv", ".xlsx", ".xes")

__all__ = [
    "SUPPORTED_SUFFIXES", "IdAssigner", "Mapping", "MappingError", "SourceError",
    "iter_source_records", "load_mapping", "shipped_mappings",
]


def iter_source_records(path: Path, mapping: "str | Path | Mapping | None" = None,
                        key: bytes | None = None, *, ids: IdAssigner | None = None,
                        stats: dict | None = None) -> Iterator[Record]:
    """The Records of one export file, dispatched on its suffix.

    `mapping` (a shipped name, a TOML path or a loaded Mapping; None = standard-sv) is
    used for .csv and .xlsx; .xes needs none. `key`: the secret for person pseudonyms
    (HMAC-SHA256); None = no pseudonyms. `ids`: share one IdAssigner across the files of
    one import so that identical rows in two files still get distinct ids. `stats`: a dict
    that receives counts (`personnummer`: filled Personnummer cells seen, ...).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        from .csvsource import iter_csv_records
        return iter_csv_records(path, load_mapping(mapping), key, ids=ids, stats=stats)
    if suffix == ".xlsx":
        from .xlsxsource import iter_xlsx_records
        return iter_xlsx_records(path, load_mapping(mapping), key, ids=ids, stats=stats)
    if suffix == ".xes":
        from .xes import iter_xes_records
        return iter_xes_records(path, ids=ids)
    raise SourceError(f"{path}: okänt filformat {path.suffix or '(inget)'!r} "
                      f"(stöds: {', '.join(SUPPORTED_SUFFIXES)}, .jsonl)")
