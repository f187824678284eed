"""Excel workbooks (.xlsx): the first sheet, the first row headers, read-only streaming.

Cells become text the way the mapping's date parser and the CSV path understand it: a
real Excel date becomes `2025-03-14` (or `2025-03-14 09:30:00` when it has a time of
day), a time `09:30:00`, a whole number `12345` (not `12345.0`). Dates typed as text are
parsed with the mapping's date formats, like in CSV.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path
from typing import Any, Iterator

from ..records import Record
from .ids import IdAssigner
from .mapping import EMPTY_ROW, Mapping, RowConverter, SourceError


def cell_text(v: Any) -> str:
    if v is None:
        return ""
    t = type(v)
    if t is str:
        return v
    if t is dt.datetime:
        if v.hour == 0 and v.minute == 0 and v.second == 0 and v.microsecond == 0:
            return v.date().isoformat()
        return v.replace(microsecond=0).isoformat(sep=" ")
    if t is dt.date:
        return v.isoformat()
    if t is dt.time:
        return v.replace(microsecond=0).isoformat()
    if t is bool:
        return "sant" if v else "falskt"
    if t is float and v.is_integer():
        return str(int(v))
    if t is dt.timedelta:  # a duration-formatted cell; take it as a time of day
        s = int(v.total_seconds()) % 86400
        return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"
    return str(v)


def iter_xlsx_records(path: Path, mapping: Mapping, key: bytes | None = None, *,
                      ids: IdAssigner | None = None, stats: dict | None = None,
                      name: str | None = None) -> Iterator[Record]:
    import openpyxl  # imported here: only needed for workbooks

    file = name if name is not None else str(path)
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (OSError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise SourceError(f"{file}: kan inte läsas som .xlsx ({exc})") from None
    try:
        if not wb.worksheets:
            raise SourceError(f"{file}: arbetsboken har inga blad")
        ws = wb.worksheets[0]
        rows = ws.iter_rows(values_only=True)
        header = None
        for header in rows:
            break
        if header is None or not any(c not in (None, "") for c in header):
            raise SourceError(f"{file}: första bladet saknar rubrikrad")
        header = [cell_text(c) for c in header]
        while header and not header[-1].strip():
            header.pop()
        conv = RowConverter(mapping, header, file, key=key, ids=ids, stats=stats, raw_sep=";")
        convert = conv.convert
        row = 1
        pending_empty = 0  # trailing empty rows that Excel keeps in the sheet's dimension
        for values in rows:
            row += 1
            cells = [cell_text(c) for c in values]
            if not "".join(cells).strip():
                pending_empty += 1
                continue
            for k in range(pending_empty, 0, -1):
                yield Record(file, row - k, "", None, EMPTY_ROW)
            pending_empty = 0
            yield convert(cells, row)
    finally:
        wb.close()
