"""Row conversion: one row of an export's table, under a mapping, as one Record.

`RowConverter` applies a mapping (`mapping.Mapping`) to the rows of one table (CSV or
XLSX) and makes one `Record` per row: an event in the canonical shape, or a reject whose
reason names the export's column (`kolumn 'Möte': saknas (behövs för meeting.held)`).
What a type needs and which values are allowed come from the event models
(`fields`); dates are read in the mapping's date formats (`dateformats`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable

from ..events import content_id, content_key
from ..privacy import REDACTED, contains_personal_number, quote, redact, redact_raw
from ..records import Record
from ..units import UnitResolver
from . import personnummer as pnr_mod
from .dateformats import parse_date_text, parse_time_text
from .fields import CLOSED_VALUES, EMPTY_LISTS, FREE_FIELDS, LIST_FIELDS, NEEDS, REQUIRED_COLUMNS, \
    SPECIAL_FIELDS, UNIT_FIELDS
from .mapping import Mapping, SourceError, norm

EMPTY_ROW = "tom rad"     # the reason of an empty row's reject, in every format
# Excel's own limit for the text of one cell: a longer cell was not typed by anyone.
MAX_CELL_CHARS = 32_767
_CACHE_MAX = 200_000


class _Reject(Exception):
    pass


class RowConverter:
    """Turns the rows of one table into Records, under one mapping.

    `units`: the unit register's resolver (names and aliases become ids; unknown units are
    noted, or with --strict-units rejected). Each event's `id` is the one the export gives
    (an `id` column), else its content digest (events.content_id), and the Record carries
    its content key for merging duplicates. `check`: the event model's judgement of a
    converted row (a reason or None); with it every Record is an accepted event or a
    reject, and only rejects carry their raw row."""

    def __init__(self, mapping: Mapping, header: list[Any], file: str, *,
                 key: bytes | None = None, units: UnitResolver | None = None,
                 stats: dict | None = None, raw_sep: str = ";",
                 check: Callable[[Record], str | None] | None = None) -> None:
        self.m = mapping
        self.check = check
        self.file = file
        self.key = key
        self.units = units if units is not None and units.active else None
        self.stats = stats if stats is not None else {}
        self.stats.setdefault("personnummer", 0)
        self.raw_sep = raw_sep
        self.header = ["" if h is None else str(h).replace("\ufeff", "").strip() for h in header]
        self.ncols = len(self.header)
        by_norm: dict[str, int] = {}
        for i, h in enumerate(self.header):
            if h:
                by_norm.setdefault(norm(h), i)
        self.index: dict[str, int] = {}
        self.col_name: dict[str, str] = {}
        used: set[int] = set()
        for fld, headers in mapping.columns.items():
            for h in headers:
                i = by_norm.get(norm(h))
                if i is not None:
                    self.index[fld] = i
                    self.col_name[fld] = self.header[i]
                    used.add(i)
                    break
        missing = [mapping.header_of(f) for f in REQUIRED_COLUMNS if f not in self.index]
        if missing:
            raise SourceError(
                f"{file}: kolumn {', '.join(repr(m) for m in missing)} saknas i rubrikraden "
                f"(mapping {mapping.name}; rubriker: {', '.join(quote(h, 40) for h in self.header[:40] if h)}"
                f"{', ...' if len(self.header) > 40 else ''})")
        # An unmapped column becomes an extra field under its header (never a personal number).
        self.extras = [] if mapping.extra_columns == "drop" else [
            (i, redact(h)) for i, h in enumerate(self.header) if i not in used and h]
        # in a fixed order (not that of [columns] in the mapping or of the export's
        # columns); the fields that are not part of what an event is (child.*, text) last
        generic = sorted((f, i) for f, i in self.index.items() if f not in SPECIAL_FIELDS)
        self.generic = [(f, i) for f, i in generic if f.split(".")[0] not in FREE_FIELDS]
        self.generic_free = [(f, i) for f, i in generic if f.split(".")[0] in FREE_FIELDS]
        self._caches: dict[str, dict] = {}
        self._date_cache: dict[Any, Any] = {}
        self._time_cache: dict[Any, Any] = {}
        self.unit_values = mapping.values.get("unit")
        self.simple = [(f, self.index[f]) for f in ("unit", "meeting", "kind", "to", "channel") if f in self.index]
        self.i_case, self.i_type, self.i_at = self.index["case"], self.index["type"], self.index["at"]
        g = self.index.get
        self.i_time, self.i_date, self.i_attendees = g("at_time"), g("date"), g("attendees")
        self.i_comment, self.i_id, self.i_pnr = g("comment"), g("id"), g("personnummer")
        self.utc = mapping.timezone == "UTC"
        for f in ("type", "unit", "meeting", "kind", "to", "channel", "attendees"):
            self._caches.setdefault(f, {})

    # ---- helpers
    def _col(self, fld: str) -> str:
        return self.col_name.get(fld) or self.m.header_of(fld)

    def _column_of(self, i: int) -> str:
        """The header of column i as a reason may name it."""
        h = self.header[i] if i < self.ncols else ""
        return redact(h) if h else f"nr {i + 1}"

    @staticmethod
    def _cached(cache: dict, s: str, parse: Any, column: str) -> Any:
        """Parse `s` once per distinct text (exports repeat their dates); reject on error.

        The cache holds the parsed value, or the ValueError for text that does not parse.
        """
        r = cache.get(s)
        if r is None:
            try:
                r = parse(s.strip())
            except ValueError as exc:
                r = exc
            if len(cache) > _CACHE_MAX:
                cache.clear()
            cache[s] = r
        if type(r) is ValueError:
            raise _Reject(f"kolumn '{column}': {r}")
        return r

    def _date(self, fld: str, s: str) -> tuple[str, str | None]:
        return self._cached(self._date_cache, s,
                            lambda t: parse_date_text(t, self.m.date_formats), self._col(fld))

    def _time(self, s: str) -> str:
        return self._cached(self._time_cache, s,
                            lambda t: parse_time_text(t, self.m.time_formats), self._col("at_time"))

    def _value(self, fld: str, s: str) -> str:
        """A name from the export -> canonical value via [values.fld] ("" for blank).

        Every field read here is an id or a name from a closed list: one holding a
        personal number rejects the row."""
        cache = self._caches.get(fld)
        if cache is None:
            cache = self._caches[fld] = {}
        r = cache.get(s)
        if r is not None:
            return r
        v = s.strip()
        if not v:
            r = ""
        elif contains_personal_number(v):
            raise _Reject(f"kolumn '{self._col(fld)}': innehåller ett personnummer")
        else:
            table = self.m.values.get(fld)
            if table is not None:
                got = table.get(norm(v))
                if got is not None:
                    r = got
                elif fld == "channel" and self.m.unknown_channel == "other":
                    r = "other"
                elif fld in CLOSED_VALUES:
                    what = {"type": "okänd händelse", "kind": "okänd mötestyp", "channel": "okänd kanal"}
                    raise _Reject(f"kolumn '{self._col(fld)}': {what.get(fld, 'okänt värde')} {quote(v)}")
                else:
                    r = v
            else:
                r = v
            if fld in UNIT_FIELDS and self.unit_values is not None and r == v:
                r = self.unit_values.get(norm(v), v)
        if len(cache) > _CACHE_MAX:
            cache.clear()
        cache[s] = r
        return r

    def _raw(self, cells: list[str], pnr_i: int | None) -> str:
        """The row as `rejects.jsonl` shows it: the Personnummer cell blanked, every
        personal number removed, an overlong cell cut."""
        if (pnr_i is not None and cells[pnr_i].strip()) or max(map(len, cells), default=0) > MAX_CELL_CHARS:
            cells = [c if len(c) <= MAX_CELL_CHARS else f"{c[:200]}… ({len(c)} tecken)" for c in cells]
            if pnr_i is not None and cells[pnr_i].strip():
                cells[pnr_i] = REDACTED
        sep = self.raw_sep
        raw = sep.join(cells)
        if raw.count(sep) != len(cells) - 1 or '"' in raw or "\n" in raw or "\r" in raw:
            raw = sep.join(
                ('"' + c.replace('"', '""') + '"') if (sep in c or '"' in c or "\n" in c or "\r" in c) else c
                for c in cells)
        return redact_raw(raw)

    # ---- the row
    def convert(self, cells: list[str], row: int) -> Record:
        """One row as a Record. With a `check` (the event model's judgement, see
        __init__), a row the model rejects is returned as a reject here, and an accepted
        row carries no raw text (building it is a fifth of the cost of a row, and only
        rejects show it)."""
        n = self.ncols
        if len(cells) != n:
            if len(cells) < n:
                cells = list(cells) + [""] * (n - len(cells))
            elif any(c.strip() for c in cells[n:]):
                return Record(self.file, row, self._raw(cells, self.i_pnr), None,
                              f"raden har {len(cells)} fält men rubrikraden {n}")
            else:
                cells = cells[:n]
        longest = max(map(len, cells), default=0)
        if longest > MAX_CELL_CHARS:
            i = next(i for i, c in enumerate(cells) if len(c) == longest)
            return Record(self.file, row, self._raw(cells, self.i_pnr), None,
                          f"kolumn '{self._column_of(i)}': cellen har {longest} tecken "
                          f"(högst {MAX_CELL_CHARS})")
        try:
            data, key = self._data(cells)
        except _Reject as exc:
            return Record(self.file, row, self._raw(cells, self.i_pnr), None, str(exc))
        check = self.check
        if check is None:
            return Record(self.file, row, self._raw(cells, self.i_pnr), data, None, key)
        rec = Record(self.file, row, "", data, None, key)
        reason = check(rec)
        if reason is not None:
            return Record(self.file, row, self._raw(cells, self.i_pnr), None, reason)
        return rec

    def _data(self, cells: list[str]) -> tuple[dict[str, Any], int | None]:
        # The hot path of a million-row import: cached conversions, few method calls.
        case = cells[self.i_case]
        if not case or case[0].isspace() or case[-1].isspace():
            case = case.strip()
            if not case:
                if not "".join(cells).strip():
                    raise _Reject(EMPTY_ROW)
                raise _Reject(f"kolumn '{self._col('case')}': ärendenummer saknas")
        if len(case) >= 10 and contains_personal_number(case):
            raise _Reject(f"kolumn '{self._col('case')}': innehåller ett personnummer, inte ett ärendenummer")
        caches = self._caches
        s = cells[self.i_type]
        typ = caches["type"].get(s) or self._value("type", s)
        if not typ:
            raise _Reject(f"kolumn '{self._col('type')}': händelse saknas")
        s = cells[self.i_at]
        r = self._date_cache.get(s)
        if r is None or type(r) is ValueError:
            if not s or s.isspace():
                raise _Reject(f"kolumn '{self._col('at')}': datum saknas")
            r = self._date("at", s)
        day, clock = r
        i = self.i_time
        if i is not None:
            s = cells[i]
            if s:
                r = self._time_cache.get(s)
                if type(r) is str:
                    clock = r
                elif not s.isspace():
                    clock = self._time(s)
        if clock is None:
            at = day
        elif self.utc:
            at = f"{day}T{clock}Z"
        else:
            at = f"{day}T{clock}"
        data: dict[str, Any] = {"id": None, "case": case, "type": typ, "at": at}

        value = self._value
        for fld, i in self.simple:
            s = cells[i]
            if s:
                v = caches[fld].get(s)
                if v is None:
                    v = value(fld, s)
                if v:
                    data[fld] = v
        i = self.i_date
        if i is not None:
            s = cells[i]
            if s and not s.isspace():
                data["date"] = self._date("date", s)[0]
        i = self.i_attendees
        if i is not None:
            s = cells[i]
            if s and not s.isspace():
                data["attendees"] = [value("attendees", p) for p in s.split(self.m.list_separator) if p.strip()]
        if self.generic:
            self._generic(cells, data, self.generic)
        if self.units is not None:
            unknown = self.units.resolve_fields(data)
            if unknown is not None:
                fld, v = unknown
                raise _Reject(self.units.reason(f"kolumn '{self._col(fld.split('[')[0])}'", v))

        need = NEEDS.get(typ)
        if need:
            for fld in EMPTY_LISTS.get(typ, ()):
                data.setdefault(fld, [])
            for fld in need:
                if fld not in data:
                    raise _Reject(f"kolumn '{self._col(fld)}': saknas (behövs för {typ})")

        if self.generic_free:
            self._generic(cells, data, self.generic_free)
        i = self.i_comment
        if i is not None:
            s = cells[i]
            if s and not s.isspace():
                data["comment"] = redact(s.strip())
        pnr_i = self.i_pnr
        if pnr_i is not None:
            s = cells[pnr_i]
            if s and not s.isspace():
                self._personnummer(s, day, data)

        try:
            key = content_key(data)
        except ValueError:       # an `at` outside the calendar: the event model rejects the row
            key = None
        i = self.i_id
        given = cells[i].strip() if i is not None else ""
        if given and len(given) >= 10 and contains_personal_number(given):
            raise _Reject(f"kolumn '{self._col('id')}': innehåller ett personnummer")
        data["id"] = given or (content_id(case, key) if key is not None else f"{case}-")

        for i, h in self.extras:
            s = cells[i]
            if s and not s.isspace():
                k = h if h not in data else f"extra:{h}"
                data[k] = redact(s.strip())
        return data, key

    def _generic(self, cells: list[str], data: dict[str, Any], fields: list[tuple[str, int]]) -> None:
        for fld, i in fields:
            v = cells[i]
            if not v or v.isspace():
                continue
            v = v.strip()
            last = fld.rsplit(".", 1)[-1]
            if last == "date" or last.endswith("_date"):
                v = self._date(fld, v)[0]
            elif fld in LIST_FIELDS:
                v = [self._value(fld, p) for p in v.split(self.m.list_separator) if p.strip()]
            elif fld in self.m.values or fld in UNIT_FIELDS:
                v = self._value(fld, v)
                if not v:
                    continue
            else:
                v = redact(v)
            if "." in fld:
                top, sub = fld.split(".", 1)
                data.setdefault(top, {})[sub] = v
            else:
                data[fld] = v

    def _personnummer(self, s: str, day: str, data: dict[str, Any]) -> None:
        self.stats["personnummer"] += 1
        try:
            p = pnr_mod.parse_personnummer(s, dt.date.fromisoformat(day))
        except ValueError as exc:
            raise _Reject(f"kolumn '{self._col('personnummer')}': {exc}") from None
        child = data.get("child")
        if not isinstance(child, dict):
            child = data["child"] = {}
        child["birth_date"] = p.birth_date.isoformat()
        child["gender"] = p.gender
        if self.key is not None:
            child["pseudonym"] = pnr_mod.pseudonym(p, self.key)
