"""IEEE 1849 XES: import into canonical events and export from a canonical log.

Mapping (imports.md): trace `concept:name` = case, event `concept:name` = type,
`time:timestamp` = at, `org:resource` = unit; every other canonical field is an attribute
under its own name (`id`, `meeting`, `kind`, `date`, `to`, ...): text as <string>, lists
(attendees, scope) as <list> with <values>, objects (child, follow_up) as <container>.

`time:timestamp` must be a full xs:dateTime, while a canonical `at` may be a date or a
Stockholm local time without offset. The export therefore writes the instant with its
Stockholm offset (a date = local midnight) and, when that text differs from `at`, also a
<string key="at"> with the original, so that an import gives back exactly the same
events. A foreign XES file (ProM, PM4Py, Celonis...) has no `at`; its timestamp is used.

Both directions stream: lxml iterparse (one trace in memory at a time) and lxml xmlfile.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any, Callable, Iterator
from zoneinfo import ZoneInfo

import orjson
from lxml import etree

from ..records import Record
from . import personnummer as pnr_mod
from .ids import IdAssigner
from .mapping import EMPTY_ROW, SourceError

XES_NS = "http://www.xes-standard.org/"
STOCKHOLM = ZoneInfo("Europe/Stockholm")
_FRACTION = re.compile(r"\.0+(?=$|[Zz+-])")
_SCALARS = {"string", "id", "date", "int", "float", "boolean"}
_RESERVED = {"concept:name", "time:timestamp", "org:resource"}


def _local(tag: Any) -> str:
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


# ------------------------------------------------------------------ import


def _attr_value(el: etree._Element) -> Any:
    kind = _local(el.tag)
    v = el.get("value")
    if kind == "int":
        try:
            return int(v)
        except (TypeError, ValueError):
            return v
    if kind == "float":
        try:
            return float(v)
        except (TypeError, ValueError):
            return v
    if kind == "boolean":
        return (v or "").strip().lower() == "true"
    if kind == "date":
        return _FRACTION.sub("", v or "")
    if kind == "list":
        items = el
        for child in el:
            if _local(child.tag) == "values":
                items = child
                break
        return [_attr_value(c) for c in items if _local(c.tag) in _SCALARS | {"list", "container"}]
    if kind == "container":
        return {c.get("key"): _attr_value(c) for c in el
                if _local(c.tag) in _SCALARS | {"list", "container"} and c.get("key")}
    return v if v is not None else ""


def _attributes(el: etree._Element) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for c in el:
        kind = _local(c.tag)
        if kind in _SCALARS or kind in ("list", "container"):
            k = c.get("key")
            if k:
                v = _attr_value(c)
                if isinstance(v, float) and v != v:
                    continue  # NaN: an empty cell in a table-made XES (e.g. pm4py from a DataFrame)
                out[k] = v
    return out


def _redacted(value: Any) -> Any:
    """A value with every personal-number look-alike blanked, inside lists and containers too."""
    if isinstance(value, str):
        return pnr_mod.redact(value)
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    if isinstance(value, dict):
        return {k: _redacted(v) for k, v in value.items()}
    return value


def _event_record(file: str, ev: etree._Element, case: str | None, ids: IdAssigner) -> Record:
    line = ev.sourceline or 0
    raw = pnr_mod.redact(etree.tostring(ev, encoding="unicode", with_tail=False).strip())
    attrs = _attributes(ev)
    if not case:
        return Record(file, line, raw, None, "trace: attribut 'concept:name' (ärende) saknas")
    if pnr_mod.looks_like_personnummer(case):
        return Record(file, line, raw, None,
                      "trace: attribut 'concept:name' ser ut som ett personnummer, inte ett ärendenummer")
    typ = attrs.pop("concept:name", None)
    if not typ:
        return Record(file, line, raw, None, "event: attribut 'concept:name' (händelse) saknas")
    stamp = attrs.pop("time:timestamp", None)
    at = attrs.pop("at", None) or stamp
    if not at:
        return Record(file, line, raw, None, "event: attribut 'time:timestamp' saknas")
    data: dict[str, Any] = {"id": None, "case": case, "type": typ, "at": at}
    unit = attrs.pop("org:resource", None)
    if unit not in (None, ""):
        data["unit"] = unit
    given = attrs.pop("id", None)
    for k, v in attrs.items():
        if k not in data:
            data[k] = _redacted(v)
    data["id"] = str(given) if given not in (None, "") else ids.assign_data(data)
    return Record(file, line, raw, data, None)


def iter_xes_records(path: Path, *, ids: IdAssigner | None = None,
                     name: str | None = None) -> Iterator[Record]:
    """One Record per <event>, streamed one <trace> at a time."""
    file = name if name is not None else str(path)
    ids = ids if ids is not None else IdAssigner()
    try:
        context = etree.iterparse(str(path), events=("end",), huge_tree=True,
                                  resolve_entities=False, no_network=True)
        saw_log = False
        for _, el in context:
            kind = _local(el.tag)
            if kind == "trace":
                case = None
                for c in el:
                    if _local(c.tag) in _SCALARS and c.get("key") == "concept:name":
                        case = (c.get("value") or "").strip()
                        break
                for ev in el:
                    if _local(ev.tag) == "event":
                        yield _event_record(file, ev, case, ids)
                el.clear(keep_tail=False)
                parent = el.getparent()
                if parent is not None:
                    while el.getprevious() is not None:
                        del parent[0]
            elif kind == "log":
                saw_log = True
        if not saw_log:
            raise SourceError(f"{file}: ingen XES-fil (elementet <log> saknas)")
    except etree.XMLSyntaxError as exc:
        raise SourceError(f"{file}: ogiltig XML ({exc})") from None
    except OSError as exc:
        raise SourceError(f"{file}: kan inte läsas ({exc.strerror or exc})") from None


# ------------------------------------------------------------------ export


def xes_timestamp(at: str) -> str:
    """A canonical `at` as an xs:dateTime with offset (dates = local midnight)."""
    if len(at) == 10:
        d = dt.date.fromisoformat(at)
        stamp = dt.datetime(d.year, d.month, d.day, tzinfo=STOCKHOLM)
    else:
        stamp = dt.datetime.fromisoformat(at.replace("z", "Z").replace("Z", "+00:00")
                                          if at.endswith(("Z", "z")) else at)
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=STOCKHOLM)
        else:
            return at  # already an instant: keep the text as it is
    return stamp.isoformat()


def _write_attr(xf, key: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        xf.write(etree.Element("boolean", key=key, value="true" if value else "false"))
    elif isinstance(value, int):
        xf.write(etree.Element("int", key=key, value=str(value)))
    elif isinstance(value, float):
        xf.write(etree.Element("float", key=key, value=repr(value)))
    elif isinstance(value, list):
        with xf.element("list", key=key):
            with xf.element("values"):
                for item in value:
                    _write_attr(xf, "item", item)
    elif isinstance(value, dict):
        with xf.element("container", key=key):
            for k, v in value.items():
                _write_attr(xf, str(k), v)
    else:
        xf.write(etree.Element("string", key=key, value=str(value)))


def _sort_key_fn() -> Callable[[dict], Any]:
    from ..events import parse_at

    def key(e: dict) -> Any:
        try:
            return parse_at(e["at"])
        except (ValueError, TypeError):
            return (dt.date.max, 0)
    return key


def export_xes(log: Path, out: Path, *, validate: Callable[[int, bytes, dict], str | None] | None = None,
               on_reject: Callable[[int, str, str], None] | None = None) -> tuple[int, int]:
    """Write the canonical log `log` as XES to `out`; returns (events, traces).

    Lines that are not events (validate returns a reason) are passed to `on_reject` and
    left out. Traces are in order of first appearance, events in a trace by local date,
    time, then input order (the engine's order). Two passes over the log: the first notes
    where each case's lines are, the second writes one trace at a time.
    """
    cases: dict[str, list[int]] = {}
    with open(log, "rb") as f:
        lineno = 0
        while True:
            pos = f.tell()
            line = f.readline()
            if not line:
                break
            lineno += 1
            if not line.strip():
                if on_reject:
                    on_reject(lineno, EMPTY_ROW, "")
                continue
            try:
                data = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                if on_reject:
                    on_reject(lineno, f"ogiltig JSON: {exc}", line.decode("utf-8", "replace").rstrip("\n"))
                continue
            reason = None
            if not isinstance(data, dict):
                reason = "raden är inte ett JSON-objekt"
            elif validate is not None:
                reason = validate(lineno, line, data)
            else:
                for k in ("id", "case", "type", "at"):
                    if not isinstance(data.get(k), str) or not data.get(k):
                        reason = f"fält '{k}' saknas"
                        break
            if reason is None:
                try:
                    xes_timestamp(data["at"])
                except (ValueError, TypeError):
                    reason = f"fält 'at': ogiltig tidpunkt {data['at']!r}"
            if reason is not None:
                if on_reject:
                    on_reject(lineno, reason, line.decode("utf-8", "replace").rstrip("\n"))
                continue
            cases.setdefault(data["case"], []).append(pos)

    sort_key = _sort_key_fn()
    n_events = 0
    with open(log, "rb") as src, etree.xmlfile(str(out), encoding="utf-8") as xf:
        xf.write_declaration()
        with xf.element("log", {"xes.version": "1849-2016", "xes.features": "nested-attributes",
                                "xmlns": XES_NS}):
            xf.write(etree.Element("extension", name="Concept", prefix="concept",
                                   uri="http://www.xes-standard.org/concept.xesext"))
            xf.write(etree.Element("extension", name="Time", prefix="time",
                                   uri="http://www.xes-standard.org/time.xesext"))
            xf.write(etree.Element("extension", name="Organizational", prefix="org",
                                   uri="http://www.xes-standard.org/org.xesext"))
            xf.write(etree.Element("classifier", name="Activity", keys="concept:name"))
            xf.write(etree.Element("string", key="concept:name", value=f"{log.name}"))
            xf.write("\n")
            for case, positions in cases.items():
                events = []
                for pos in positions:
                    src.seek(pos)
                    events.append(orjson.loads(src.readline()))
                events = sorted(events, key=sort_key)  # stable: input order breaks ties
                with xf.element("trace"):
                    xf.write(etree.Element("string", key="concept:name", value=case))
                    for e in events:
                        with xf.element("event"):
                            _write_event(xf, e)
                        xf.write("\n")
                        n_events += 1
                xf.write("\n")
                xf.flush()
    return n_events, len(cases)


def _write_event(xf, e: dict) -> None:
    at = e["at"]
    stamp = xes_timestamp(at)
    xf.write(etree.Element("string", key="concept:name", value=e["type"]))
    xf.write(etree.Element("date", key="time:timestamp", value=stamp))
    if e.get("unit") is not None:
        xf.write(etree.Element("string", key="org:resource", value=str(e["unit"])))
    if stamp != at:
        xf.write(etree.Element("string", key="at", value=at))
    for k, v in e.items():
        if k in ("case", "type", "at", "unit"):
            continue
        _write_attr(xf, k, v)
