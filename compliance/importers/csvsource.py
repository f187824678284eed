"""CSV exports as offices produce them, streamed row by row.

Encoding: a UTF-8 BOM means UTF-8; a UTF-16 BOM (Excel's "Unicode text") UTF-16;
otherwise the file is checked in 1 MiB chunks and read as UTF-8 if every byte decodes,
else as Windows-1252. Delimiter: `;`, `,` or tab, chosen on the header row (the one under
which most of the mapping's column headers are found). Quoted fields may hold
delimiters, quotes and line breaks. Rows are numbered as a spreadsheet shows them:
header = row 1, however many physical lines a quoted cell spans.
"""

from __future__ import annotations

import codecs
import csv
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ..records import Record
from ..units import UnitResolver
from .mapping import Mapping, SourceError, norm
from .rows import EMPTY_ROW, RowConverter

DELIMITERS = (";", ",", "\t")
_CHUNK = 1 << 20
# The csv module's limit on one field. A cell longer than Excel's 32 767 characters is a
# reject (rows.MAX_CELL_CHARS); one of over a mebibyte is most likely a quote that never
# closes, swallowing the rest of the file, and stops the file with the row where it began.
FIELD_LIMIT = 1 << 20

csv.field_size_limit(FIELD_LIMIT)


def detect_encoding(path: Path) -> str:
    with open(path, "rb") as f:
        head = f.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
            return "utf-16"
        f.seek(0)
        dec = codecs.getincrementaldecoder("utf-8")()
        try:
            while True:
                chunk = f.read(_CHUNK)
                if not chunk:
                    dec.decode(b"", final=True)
                    return "utf-8"
                if chunk.isascii():
                    dec.decode(b"", final=True)  # a split sequence before an ASCII chunk is an error
                    continue
                dec.decode(chunk)
        except UnicodeDecodeError:
            return "cp1252"


def choose_delimiter(first_line: str, mapping: Mapping) -> str:
    known = {norm(h) for headers in mapping.columns.values() for h in headers}
    best, best_score = ";", (-1, -1)
    for d in DELIMITERS:
        try:
            fields = next(csv.reader([first_line], delimiter=d))
        except (csv.Error, StopIteration):
            continue
        score = (sum(1 for f in fields if norm(f) in known), len(fields))
        if score > best_score:
            best, best_score = d, score
    return best


class CsvTable:
    """An open CSV export: its encoding, delimiter, header row, and the rows below it."""

    def __init__(self, path: Path, mapping: Mapping, name: str | None = None):
        self.file = name if name is not None else str(path)
        self.mapping = mapping
        try:
            self.encoding = detect_encoding(path)
            if self.encoding != "utf-16":
                with open(path, "rb") as fh:
                    head = fh.read(1 << 16)
                if head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
                    raise SourceError(f"{self.file}: är en arbetsbok (zip- eller OLE-fil), ingen CSV; "
                                      "spara den som .xlsx eller exportera CSV")
                if b"\x00" in head:
                    raise SourceError(f"{self.file}: är ingen textfil (innehåller NUL-tecken); en CSV-export väntas")
            self._f = open(path, encoding=self.encoding, newline="",
                           errors="replace" if self.encoding == "cp1252" else "strict")
        except OSError as exc:
            raise SourceError(f"{self.file}: kan inte läsas ({exc.strerror or exc})") from None
        try:
            first = self._f.readline(FIELD_LIMIT)
        except UnicodeError as exc:
            self._f.close()
            raise SourceError(f"{self.file}: kan inte avkodas ({exc})") from None
        if not first.strip():
            self._f.close()
            raise SourceError(f"{self.file}: filen är tom eller saknar rubrikrad")
        self.delimiter = choose_delimiter(first, mapping)
        self._f.seek(0)
        self._reader = csv.reader(self._f, delimiter=self.delimiter)
        try:
            self.header = next(self._reader)
        except (csv.Error, UnicodeError) as exc:
            self._f.close()
            raise SourceError(f"{self.file}: rubrikraden kan inte läsas ({exc})") from None

    def close(self) -> None:
        self._f.close()

    def converter(self, key: bytes | None = None, units: UnitResolver | None = None,
                  stats: dict | None = None, check: Callable[[Record], str | None] | None = None
                  ) -> RowConverter:
        if stats is not None:
            stats["encoding"] = self.encoding
            stats["delimiter"] = self.delimiter
        return RowConverter(self.mapping, self.header, self.file, key=key, units=units, stats=stats,
                            raw_sep=self.delimiter, check=check)

    def rows(self) -> Iterator[tuple[int, list[str] | None]]:
        """(row number, cells) for each row below the header; cells None for an empty row
        (a reject), except the empty rows at the very end, which are dropped."""
        trailing: list[int] = []
        last = 1
        try:
            with self._f:
                for last, cells in numbered_rows(self._reader, 2, trailing):
                    yield last, cells
        except (csv.Error, UnicodeError) as exc:
            row = max(last, trailing[-1] if trailing else 0) + 1    # the row that failed
            raise SourceError(f"{self.file}: rad {row}: {csv_problem(exc)}") from None


def numbered_rows(records: Iterable[list[str]], first: int,
                  trailing: list[int]) -> Iterator[tuple[int, list[str] | None]]:
    """(row number, cells) for each record, numbered from `first`. An empty row is a reject,
    (row, None), once a row follows it; the empty rows with none after them are left in
    `trailing` (at the end of a file they are dropped)."""
    row = first - 1
    for cells in records:
        row += 1
        if not cells or (not cells[0] and not "".join(cells).strip()):
            trailing.append(row)
            continue
        for empty in trailing:
            yield empty, None
        trailing.clear()
        yield row, cells



def csv_problem(exc: Exception) -> str:
    """Why the csv module stopped, in Swedish."""
    if isinstance(exc, UnicodeError):
        return f"kan inte avkodas ({exc})"
    text = str(exc)
    if "field larger than field limit" in text:
        return (f"CSV kan inte läsas: ett fält är längre än {csv.field_size_limit()} tecken "
                "(ett citattecken som aldrig avslutas?)")
    if "NUL" in text:
        return "CSV kan inte läsas: raden innehåller NUL-tecken (är filen en textfil?)"
    return f"CSV kan inte läsas ({text})"


def iter_csv_records(path: Path, mapping: Mapping, key: bytes | None = None, *,
                     units: UnitResolver | None = None, stats: dict | None = None,
                     name: str | None = None,
                     check: Callable[[Record], str | None] | None = None) -> Iterator[Record]:
    table = CsvTable(path, mapping, name)
    convert = table.converter(key, units, stats, check).convert
    file = table.file
    for row, cells in table.rows():
        yield Record(file, row, "", None, EMPTY_ROW) if cells is None else convert(cells, row)
