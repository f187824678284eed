"""Excel workbooks (.xlsx): the first sheet, the first row headers, read-only streaming.

Cells become text the way the mapping's date parser and the CSV path understand it: a
real Excel date becomes `2025-03-14` (or `2025-03-14 09:30:00` when it has a time of
day), a time `09:30:00`, a whole number `12345` (not `12345.0`). Dates typed as text are
parsed with the mapping's date formats, like in CSV.

A workbook is a zip of XML files, and a hostile one can hide almost anything in a few
megabytes: a zip bomb, one cell of gigabytes, millions of rows. Before openpyxl opens it,
`check_workbook` reads the zip's directory and refuses what no export needs (limits
below, each with a message saying which); the first sheet is then read through once for
its longest cell and its number of rows. What openpyxl reads is therefore bounded, and
so is the memory of an import. Encrypted (password-protected) workbooks are OLE files,
not zips, and are named as such.
"""

from __future__ import annotations

import datetime as dt
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any, Callable, Iterator

from ..privacy import quote
from ..records import Record
from ..units import UnitResolver
from .mapping import Mapping, SourceError
from .rows import EMPTY_ROW, RowConverter

MAX_ROWS = 1_048_576                 # Excel's own limit of rows in a sheet
MAX_MEMBERS = 10_000                 # files inside the zip
MAX_TOTAL_BYTES = 2 << 30            # all files of the zip, uncompressed
MAX_RATIO = 100                      # uncompressed : compressed, for a file over 1 MiB
RATIO_FROM_BYTES = 1 << 20
MAX_SHARED_STRINGS_BYTES = 64 << 20  # the shared strings are held in memory whole
MAX_PART_BYTES = 16 << 20            # any other XML part (workbook, styles, relationships)
MAX_TOKEN_BYTES = 1 << 20            # one cell (or tag) of the XML: Excel's cells hold 32 767 characters
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_CHUNK = 1 << 20                     # at most MAX_TOKEN_BYTES: see _scan
_ROW_TAGS = (b"<row ", b"<row>", b"<row/", b":row ", b":row>", b":row/")


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


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.0f} MiB" if n >= 1 << 20 else f"{n} byte"


def _zip_entries(fh, size: int, file: str) -> int:
    """The number of files the zip's end record declares (before zipfile reads them all)."""
    tail_len = min(size, 65_535 + 22)
    fh.seek(size - tail_len)
    tail = fh.read(tail_len)
    pos = tail.rfind(b"PK\x05\x06")
    if pos < 0 or pos + 22 > len(tail):
        raise SourceError(f"{file}: inte en hel .xlsx: zip-katalogen saknas (filen är avkortad eller trasig)")
    entries = struct.unpack_from("<H", tail, pos + 10)[0]
    if entries == 0xFFFF and pos >= 20 and tail[pos - 20:pos - 16] == b"PK\x06\x07":   # zip64
        offset = struct.unpack_from("<Q", tail, pos - 12)[0]
        if offset + 56 <= size:
            fh.seek(offset)
            record = fh.read(56)
            if record[:4] == b"PK\x06\x06":
                entries = struct.unpack_from("<Q", record, 32)[0]
    return entries


def _is_xml_part(name: str) -> bool:
    return name.lower().endswith((".xml", ".rels"))


def _scan(zf: zipfile.ZipFile, member: str, where: str, count_rows: bool = False,
          upto: int | None = None) -> int:
    """Read one XML part through (or its first `upto` bytes): its longest stretch without
    '<' (one cell's text, or one tag) must fit MAX_TOKEN_BYTES. Returns the number of
    rows (sheet parts)."""
    rows = 0
    run = 0
    tail = b""
    read = 0
    with zf.open(member) as src:
        while upto is None or read < upto:
            chunk = src.read(_CHUNK)
            if not chunk:
                break
            read += len(chunk)
            # A stretch longer than a chunk must cross a chunk's edge: find and rfind suffice.
            first = chunk.find(b"<")
            if first < 0:
                run += len(chunk)
            else:
                run += first
                if run > MAX_TOKEN_BYTES:
                    break
                run = len(chunk) - chunk.rfind(b"<") - 1
            if run > MAX_TOKEN_BYTES:
                break
            if count_rows:
                both = tail + chunk
                rows += sum(both.count(tag) for tag in _ROW_TAGS)
                tail = chunk[-4:]
    if run > MAX_TOKEN_BYTES:
        raise SourceError(f"{where}: en cell är större än {_mib(MAX_TOKEN_BYTES)} "
                          "(Excel rymmer 32 767 tecken i en cell); filen läses inte")
    return rows


def _too_many_rows(zf: zipfile.ZipFile, info: zipfile.ZipInfo, file: str) -> None:
    """A sheet that expands very much is often millions of empty or repeated rows: count
    them in its first 64 MiB and say so when they are beyond Excel's limit."""
    if "worksheets/" not in info.filename.lower():
        return
    rows = _scan(zf, info.filename, f"{file}: delen {quote(info.filename)}", count_rows=True, upto=64 << 20)
    if rows > MAX_ROWS:
        raise SourceError(f"{file}: delen {quote(info.filename)} har fler än {MAX_ROWS} rader "
                          "(Excels gräns); filen läses inte")


def check_workbook(path: Path, file: str) -> None:
    """Refuse, with one line naming the file and the limit, a workbook that is not a
    plain .xlsx or could make reading it unbounded: empty, not a zip, encrypted
    (password-protected, an OLE file), truncated, too many parts, a part that expands
    too much (a zip bomb), too large in all, or shared strings with an oversized cell."""
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, 2)
            fh.seek(0)
            magic = fh.read(8)
            if size == 0:
                raise SourceError(f"{file}: filen är tom (0 byte), ingen arbetsbok")
            if magic == OLE_MAGIC:
                raise SourceError(f"{file}: arbetsboken är lösenordsskyddad (krypterad) eller en gammal "
                                  ".xls-fil; spara den som .xlsx utan lösenord")
            if not magic.startswith(b"PK"):
                raise SourceError(f"{file}: är ingen .xlsx-arbetsbok (inte en zip-fil)")
            entries = _zip_entries(fh, size, file)
    except OSError as exc:
        raise SourceError(f"{file}: kan inte läsas ({exc.strerror or exc})") from None
    if entries > MAX_MEMBERS:
        raise SourceError(f"{file}: zip-filen har {entries} delar (högst {MAX_MEMBERS}); ingen arbetsbok")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            total = 0
            for info in infos:
                name = info.filename
                if info.flag_bits & 0x1:
                    raise SourceError(f"{file}: delen {quote(name)} är krypterad; spara arbetsboken utan lösenord")
                total += info.file_size
                if info.file_size > RATIO_FROM_BYTES and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                    _too_many_rows(zf, info, file)     # the likelier reason, said as such
                    raise SourceError(
                        f"{file}: delen {quote(name)} packas upp {info.file_size // max(info.compress_size, 1)} "
                        f"gånger större (högst {MAX_RATIO}); en zip-bomb? Filen läses inte")
                lower = name.lower()
                if lower.endswith("sharedstrings.xml"):
                    if info.file_size > MAX_SHARED_STRINGS_BYTES:
                        raise SourceError(
                            f"{file}: de delade texterna ({quote(name)}) är {_mib(info.file_size)} "
                            f"(högst {_mib(MAX_SHARED_STRINGS_BYTES)}); exportera som CSV i stället")
                elif _is_xml_part(name) and "worksheets/" not in lower and info.file_size > MAX_PART_BYTES:
                    raise SourceError(f"{file}: delen {quote(name)} är {_mib(info.file_size)} "
                                      f"(högst {_mib(MAX_PART_BYTES)})")
            if total > MAX_TOTAL_BYTES:
                raise SourceError(f"{file}: arbetsboken är {_mib(total)} uppackad (högst "
                                  f"{_mib(MAX_TOTAL_BYTES)}); exportera som CSV i stället")
            for info in infos:
                if info.filename.lower().endswith("sharedstrings.xml"):
                    _scan(zf, info.filename, f"{file}: de delade texterna")
    except SourceError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError) as exc:
        raise SourceError(f"{file}: trasig .xlsx ({_why(exc)})") from None


def _why(exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:200]
    return quote(text, 200)[1:-1] if text else type(exc).__name__


def iter_xlsx_records(path: Path, mapping: Mapping, key: bytes | None = None, *,
                      units: UnitResolver | None = None, stats: dict | None = None,
                      name: str | None = None,
                      check: Callable[[Record], str | None] | None = None) -> Iterator[Record]:
    import openpyxl  # imported here: only needed for workbooks

    file = name if name is not None else str(path)
    check_workbook(path, file)
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:   # openpyxl raises anything on a broken part; never a traceback
        raise SourceError(f"{file}: kan inte läsas som .xlsx ({_why(exc)})") from None
    try:
        if not wb.worksheets:
            raise SourceError(f"{file}: arbetsboken har inga blad")
        ws = wb.worksheets[0]
        sheet = f"{file}: blad {quote(ws.title, 40)}"
        # openpyxl's name of the sheet's part; without it (another openpyxl), every sheet
        member = getattr(ws, "_worksheet_path", None)
        try:
            with zipfile.ZipFile(path) as zf:
                members = [member] if member else [n for n in zf.namelist() if "worksheets/" in n.lower()]
                n_rows = max((_scan(zf, m, sheet, count_rows=True) for m in members), default=0)
        except SourceError:
            raise
        except Exception as exc:
            raise SourceError(f"{sheet}: kan inte läsas ({_why(exc)})") from None
        if n_rows > MAX_ROWS:
            raise SourceError(f"{sheet}: har {n_rows} rader (högst {MAX_ROWS}, Excels gräns); "
                              "filen läses inte")
        yield from _sheet_records(ws, file, sheet, mapping, key, units, stats, check)
    finally:
        wb.close()


def _sheet_records(ws: Any, file: str, sheet: str, mapping: Mapping, key: bytes | None,
                   units: UnitResolver | None, stats: dict | None,
                   check: Callable[[Record], str | None] | None) -> Iterator[Record]:
    rows = ws.iter_rows(values_only=True)
    row = 1

    def next_row() -> Any:
        try:
            return next(rows, None)
        except Exception as exc:   # a broken cell or tag deep in the sheet
            raise SourceError(f"{sheet}, rad {row}: kan inte läsas ({_why(exc)})") from None

    header = next_row()
    if header is None or not any(c not in (None, "") for c in header):
        raise SourceError(f"{sheet}: saknar rubrikrad (första raden är tom)")
    header = [cell_text(c) for c in header]
    while header and not header[-1].strip():
        header.pop()
    conv = RowConverter(mapping, header, file, key=key, units=units, stats=stats, raw_sep=";", check=check)
    convert = conv.convert
    pending_empty = 0  # trailing empty rows that Excel keeps in the sheet's dimension
    while True:
        row += 1
        values = next_row()
        if values is None:
            return
        if row > MAX_ROWS:
            raise SourceError(f"{sheet}: fler än {MAX_ROWS} rader (Excels gräns); filen läses inte")
        cells = [cell_text(c) for c in values]
        if not "".join(cells).strip():
            pending_empty += 1
            continue
        for k in range(pending_empty, 0, -1):
            yield Record(file, row - k, "", None, EMPTY_ROW)
        pending_empty = 0
        yield convert(cells, row)
