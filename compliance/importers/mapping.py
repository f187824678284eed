"""The mapping file: how an export's columns and names become canonical events (TOML).

A mapping file (see docs/imports.md and mappings/standard-sv.toml) has

    format = 1
    name = "..."
    [columns]        canonical field = "Header" or ["Header", "Alternative header"]
    [dates]          formats, time_formats (strftime-like), timezone
    [options]        list_separator, extra_columns, unknown_channel
    [values.FIELD]   "Name in the export" = "canonical value"

Loading checks everything once, so that a broken mapping is one line naming its key:
the fields and closed values against the event models (`fields`), the date formats in
their small language (`dateformats`). `rows.RowConverter` then applies a `Mapping` to
the rows of one table.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .dateformats import DATE_NEEDS, ISO_FALLBACK, ISO_NEEDS, TIME_NEEDS, FormatError, compile_format
from .fields import CLOSED_VALUES, EVENT_TYPES, REQUIRED_COLUMNS, SPECIAL_FIELDS, known_field


class SourceError(Exception):
    """An input that cannot be read at all (one line, no traceback, exit 1)."""


class MappingError(SourceError):
    """A broken mapping file; the message names the key."""


_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
_TOP_KEYS = {"format", "name", "description", "columns", "dates", "options", "values"}
_DATE_KEYS = {"formats", "time_formats", "timezone"}
_OPTION_KEYS = {"list_separator", "extra_columns", "unknown_channel"}


def norm(name: Any) -> str:
    """Names compared ignoring case, spaces (anywhere) and Unicode composition."""
    s = str(name).replace("\ufeff", "")
    if not s.isascii():
        s = unicodedata.normalize("NFC", s)
    return "".join(s.split()).casefold()


def _compile(fmt: str, key: str, need: tuple[str, ...], src: str) -> re.Pattern:
    try:
        return compile_format(fmt, need)
    except FormatError as exc:
        raise MappingError(f"mapping {src}: nyckel '{key}': {exc}") from None


@dataclass
class Mapping:
    name: str
    source: str
    columns: dict[str, tuple[str, ...]]
    date_formats: list[re.Pattern]
    time_formats: list[re.Pattern]
    timezone: str = "Europe/Stockholm"
    list_separator: str = ","
    extra_columns: str = "keep"
    unknown_channel: str = "other"
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    description: str = ""

    def header_of(self, fld: str) -> str:
        return self.columns.get(fld, (fld,))[0]


def shipped_mappings() -> list[str]:
    folder = resources.files("compliance.importers") / "mappings"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_mapping(name_or_path: "str | Path | Mapping | None") -> Mapping:
    """A shipped mapping by name (`standard-sv`), or a TOML file; None = standard-sv."""
    if isinstance(name_or_path, Mapping):
        return name_or_path
    if name_or_path is None:
        name_or_path = "standard-sv"
    text_src = str(name_or_path)
    path = Path(text_src)
    if isinstance(name_or_path, Path) or path.suffix == ".toml" or path.exists() or "/" in text_src:
        if path.exists() and not path.is_file():
            raise MappingError(f"mapping {text_src}: är ingen vanlig fil")
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise MappingError(f"mapping {text_src}: kan inte läsas ({exc.strerror or exc})") from None
        src = text_src
    else:
        res = resources.files("compliance.importers") / "mappings" / f"{text_src}.toml"
        if not res.is_file():
            raise MappingError(
                f"mapping {text_src!r} finns inte (medföljande: {', '.join(shipped_mappings())};"
                " eller ange en TOML-fil)")
        raw = res.read_bytes()
        src = text_src
    try:
        doc = tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise MappingError(f"mapping {src}: filen är inte UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"mapping {src}: ogiltig TOML: {exc}") from None
    return _build(doc, src)


def _str(doc: dict, key: str, src: str, path: str, default: str | None = None) -> str:
    v = doc.get(key, default)
    if not isinstance(v, str) or (default is None and not v.strip()):
        raise MappingError(f"mapping {src}: nyckel '{path}' ska vara en text")
    return v


def _build(doc: dict, src: str) -> Mapping:
    for k in doc:
        if k not in _TOP_KEYS:
            raise MappingError(f"mapping {src}: okänd nyckel '{k}' (tillåtna: {', '.join(sorted(_TOP_KEYS))})")
    fmt = doc.get("format", 1)
    if fmt != 1:
        raise MappingError(f"mapping {src}: nyckel 'format': version {fmt!r} stöds inte (1 väntas)")
    name = _str(doc, "name", src, "name", default=Path(src).stem)
    description = _str(doc, "description", src, "description", default="")

    cols = doc.get("columns")
    if not isinstance(cols, dict):
        raise MappingError(f"mapping {src}: tabellen 'columns' saknas")
    columns: dict[str, tuple[str, ...]] = {}
    for fld, header in cols.items():
        path = f"columns.{fld}"
        if not _FIELD_NAME.match(fld):
            raise MappingError(f"mapping {src}: nyckel '{path}': ogiltigt fältnamn")
        if "." in fld and fld.split(".")[0] in SPECIAL_FIELDS:
            raise MappingError(f"mapping {src}: nyckel '{path}': '{fld.split('.')[0]}' kan inte ha delfält")
        if not known_field(fld):
            raise MappingError(f"mapping {src}: nyckel '{path}': fältet '{fld}' finns inte hos någon "
                               "händelsetyp (compliance.events)")
        if isinstance(header, str):
            header = [header]
        if (not isinstance(header, list) or not header
                or not all(isinstance(h, str) and h.strip() for h in header)):
            raise MappingError(f"mapping {src}: nyckel '{path}' ska vara en kolumnrubrik eller en lista av rubriker")
        columns[fld] = tuple(h.strip() for h in header)
    for fld in REQUIRED_COLUMNS:
        if fld not in columns:
            raise MappingError(f"mapping {src}: nyckel 'columns.{fld}' saknas")
    seen_headers: dict[str, str] = {}
    for fld, headers in columns.items():
        for h in headers:
            other = seen_headers.setdefault(norm(h), fld)
            if other != fld:
                raise MappingError(f"mapping {src}: nyckel 'columns.{fld}': rubriken {h!r} används redan för '{other}'")

    dates = doc.get("dates", {})
    if not isinstance(dates, dict):
        raise MappingError(f"mapping {src}: nyckel 'dates' ska vara en tabell")
    for k in dates:
        if k not in _DATE_KEYS:
            raise MappingError(f"mapping {src}: okänd nyckel 'dates.{k}'")
    formats = dates.get("formats", ["%Y-%m-%d"])
    if not isinstance(formats, list) or not formats or not all(isinstance(f, str) for f in formats):
        raise MappingError(f"mapping {src}: nyckel 'dates.formats' ska vara en lista av format")
    tformats = dates.get("time_formats", ["%H:%M", "%H:%M:%S"])
    if not isinstance(tformats, list) or not all(isinstance(f, str) for f in tformats):
        raise MappingError(f"mapping {src}: nyckel 'dates.time_formats' ska vara en lista av format")
    date_formats = [_compile(f, "dates.formats", DATE_NEEDS, src) for f in formats]
    date_formats += [_compile(f, "dates.formats", ISO_NEEDS, src) for f in ISO_FALLBACK if f not in formats]
    time_formats = [_compile(f, "dates.time_formats", TIME_NEEDS, src) for f in tformats]
    timezone = _str(dates, "timezone", src, "dates.timezone", default="Europe/Stockholm")
    if timezone not in ("Europe/Stockholm", "UTC"):
        raise MappingError(f"mapping {src}: nyckel 'dates.timezone': {timezone!r} stöds inte "
                           "(\"Europe/Stockholm\" eller \"UTC\")")

    opts = doc.get("options", {})
    if not isinstance(opts, dict):
        raise MappingError(f"mapping {src}: nyckel 'options' ska vara en tabell")
    for k in opts:
        if k not in _OPTION_KEYS:
            raise MappingError(f"mapping {src}: okänd nyckel 'options.{k}'")
    sep = _str(opts, "list_separator", src, "options.list_separator", default=",")
    if not sep:
        raise MappingError(f"mapping {src}: nyckel 'options.list_separator' får inte vara tom")
    extra = _str(opts, "extra_columns", src, "options.extra_columns", default="keep")
    if extra not in ("keep", "drop"):
        raise MappingError(f"mapping {src}: nyckel 'options.extra_columns': \"keep\" eller \"drop\"")
    unknown_channel = _str(opts, "unknown_channel", src, "options.unknown_channel", default="other")
    if unknown_channel not in ("other", "reject"):
        raise MappingError(f"mapping {src}: nyckel 'options.unknown_channel': \"other\" eller \"reject\"")

    vals = doc.get("values", {})
    if not isinstance(vals, dict):
        raise MappingError(f"mapping {src}: nyckel 'values' ska vara en tabell")
    values: dict[str, dict[str, str]] = {}
    for fld, table in vals.items():
        if not isinstance(table, dict):
            raise MappingError(f"mapping {src}: nyckel 'values.{fld}' ska vara en tabell")
        if fld not in columns and fld != "unit":
            raise MappingError(f"mapping {src}: nyckel 'values.{fld}': fältet finns inte i 'columns'")
        allowed = CLOSED_VALUES.get(fld)
        out: dict[str, str] = {}
        if allowed:
            out.update({norm(a): a for a in allowed})
        for label, target in table.items():
            if not isinstance(target, str) or not target.strip():
                raise MappingError(f"mapping {src}: nyckel 'values.{fld}.\"{label}\"' ska vara en text")
            if allowed and target not in allowed:
                raise MappingError(f"mapping {src}: nyckel 'values.{fld}.\"{label}\"': {target!r} är inget "
                                   f"tillåtet värde ({', '.join(allowed)})")
            out[norm(label)] = target
        values[fld] = out
    if "type" not in values:
        values["type"] = {norm(a): a for a in EVENT_TYPES}
    if "kind" in columns and "kind" not in values:
        values["kind"] = {norm(a): a for a in CLOSED_VALUES["kind"]}
    return Mapping(name=name, source=src, columns=columns, date_formats=date_formats,
                   time_formats=time_formats, timezone=timezone, list_separator=sep,
                   extra_columns=extra, unknown_channel=unknown_channel, values=values,
                   description=description)
