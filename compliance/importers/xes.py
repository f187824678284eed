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

from ..events import content_id, content_key
from ..privacy import contains_personal_number, quote, redact, redact_raw
from ..records import Record
from ..units import UnitResolver
from .mapping import SourceError
from .rows import EMPTY_ROW

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

# Limits that no real event log reaches and that keep a hostile file's memory bounded.
# The file is parsed as a stream (lxml iterparse, without libxml2's "huge tree" mode, no
# entities resolved, no network), each <event> handled when it ends and then dropped.
MAX_DEPTH = 32                  # log > trace > event > list > values > container ... levels
MAX_TRACE_EVENTS = 100_000      # events in one trace (one case)
MAX_HELD_BYTES = 64 << 20       # text held at once: one trace's attributes and unhandled events
MAX_EVENT_ELEMENTS = 1_000      # elements (attributes) inside one event
MAX_VALUE_CHARS = 32_767        # one attribute value, as for a spreadsheet cell
# Attributes that identify something (event-log.md's id fields): a personal number there
# rejects the event; in any other attribute (free text) it is blanked.
ID_ATTRIBUTES = {"id": "id", "org:resource": "unit", "meeting": "meeting", "to": "to",
                 "attendees": "attendees", "scope": "scope", "from": "from"}


def _attr_value(el: etree._Element) -> Any:
    """An attribute element's value (lists and containers nest; depth is bounded by
    MAX_DEPTH, so the recursion is too)."""
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
    """A value with every personal number blanked, inside lists and containers too."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    if isinstance(value, dict):
        return {redact(k): _redacted(v) for k, v in value.items()}
    return value


def _too_long(value: Any) -> bool:
    if isinstance(value, str):
        return len(value) > MAX_VALUE_CHARS
    if isinstance(value, list):
        return any(_too_long(v) for v in value)
    if isinstance(value, dict):
        return any(_too_long(v) for v in value.values())
    return False


def _holds_number(value: Any) -> bool:
    if isinstance(value, list):
        return any(_holds_number(v) for v in value)
    return isinstance(value, str) and len(value) >= 10 and contains_personal_number(value)


def _raw(ev: etree._Element) -> str:
    raw = redact_raw(etree.tostring(ev, encoding="unicode", with_tail=False).strip())
    return raw if len(raw) <= 4 * MAX_VALUE_CHARS else raw[:4 * MAX_VALUE_CHARS] + "…"


def _event_record(file: str, ev: etree._Element, case: str | None, units: UnitResolver | None,
                  check: Callable[[Record], str | None] | None = None) -> Record:
    """One <event> as a Record. With a `check` (the event model's judgement), a rejected
    event is returned as a reject, and an accepted one carries no raw text."""
    line = ev.sourceline or 0

    def reject(reason: str) -> Record:
        return Record(file, line, _raw(ev), None, reason)

    attrs = _attributes(ev)
    if not case:
        return reject("trace: attribut 'concept:name' (ärende) saknas")
    if _holds_number(case):
        return reject("trace: attribut 'concept:name' innehåller ett personnummer, inte ett ärendenummer")
    for key, value in attrs.items():
        if _too_long(value):
            return reject(f"event: attribut {quote(key, 40)}: värdet är längre än {MAX_VALUE_CHARS} tecken")
        if key in ID_ATTRIBUTES and _holds_number(value):
            return reject(f"event: attribut {quote(key, 40)} innehåller ett personnummer")
    typ = attrs.pop("concept:name", None)
    if not typ:
        return reject("event: attribut 'concept:name' (händelse) saknas")
    stamp = attrs.pop("time:timestamp", None)
    at = attrs.pop("at", None) or stamp
    if not at:
        return reject("event: attribut 'time:timestamp' saknas")
    data: dict[str, Any] = {"id": None, "case": case, "type": typ, "at": at}
    unit = attrs.pop("org:resource", None)
    if unit not in (None, ""):
        data["unit"] = unit
    given = attrs.pop("id", None)
    for k, v in attrs.items():
        if k not in data:
            data[redact(k)] = v if k in ID_ATTRIBUTES else _redacted(v)
    if units is not None:
        unknown = units.resolve_fields(data)
        if unknown is not None:
            fld, value = unknown
            attr = "org:resource" if fld == "unit" else fld.split("[")[0]
            return reject(units.reason(f"event: attribut '{attr}'", value))
    try:
        key = content_key(data)
    except (ValueError, TypeError):      # `at` does not parse: the event model says why
        key = None
    if given not in (None, ""):
        data["id"] = str(given)
    else:
        data["id"] = content_id(case, key) if key is not None else f"{case}-"
    if check is None:
        return Record(file, line, _raw(ev), data, None, key)
    rec = Record(file, line, "", data, None, key)
    reason = check(rec)
    return rec if reason is None else reject(reason)


def _element(el: etree._Element) -> str:
    return f"<{_local(el.tag) or '?'}> på rad {el.sourceline or '?'}"


def _held(el: etree._Element) -> int:
    """The characters an element holds itself: its text, tail and attribute values."""
    n = len(el.text or "") + len(el.tail or "")
    for v in el.attrib.values():
        n += len(v)
    return n


def iter_xes_records(path: Path, *, units: UnitResolver | None = None, name: str | None = None,
                     check: Callable[[Record], str | None] | None = None) -> Iterator[Record]:
    """One Record per <event>, streamed: each event is handled when it ends (once its
    trace's case is known) and then dropped, so memory does not grow with the file.
    A file that is not XES, not well-formed XML, or beyond the limits above is one
    SourceError naming the file, the element and its line."""
    file = name if name is not None else str(path)
    if units is not None and not units.active:
        units = None
    try:
        context = etree.iterparse(str(path), events=("start", "end"), huge_tree=False,
                                  resolve_entities=False, no_network=True, load_dtd=False,
                                  remove_comments=True, remove_pis=True)
        depth = 0
        held = 0                      # characters in the tree not yet dropped
        in_event = 0                  # elements inside the current event
        case: str | None = None
        waiting: list[etree._Element] = []   # events of a trace whose case is not yet known
        n_events = 0
        saw_log = False
        for action, el in context:
            if action == "start":
                depth += 1
                if depth > MAX_DEPTH:
                    raise SourceError(f"{file}: elementet {_element(el)} ligger {depth} nivåer djupt "
                                      f"(högst {MAX_DEPTH})")
                if depth == 1:
                    if _local(el.tag) != "log":
                        raise SourceError(f"{file}: ingen XES-fil (rotelementet är <{_local(el.tag)}>, inte <log>)")
                    saw_log = True
                elif depth <= 3:
                    in_event = 0
                    if depth == 2 and _local(el.tag) == "trace":
                        case, n_events = None, 0
                    elif depth == 3 and _local(el.tag) == "event":
                        n_events += 1
                        if n_events > MAX_TRACE_EVENTS:
                            raise SourceError(f"{file}: spåret (trace) vid {_element(el)} har fler än "
                                              f"{MAX_TRACE_EVENTS} händelser")
                else:
                    in_event += 1
                    if in_event > MAX_EVENT_ELEMENTS:
                        raise SourceError(f"{file}: {_element(el)}: fler än {MAX_EVENT_ELEMENTS} "
                                          "element i en händelse eller ett attribut")
                continue
            # action == "end": el is at `depth`
            held += _held(el)
            if held > MAX_HELD_BYTES:
                raise SourceError(f"{file}: spåret (trace) vid {_element(el)} är större än "
                                  f"{MAX_HELD_BYTES >> 20} MiB")
            parent = el.getparent()
            kind = _local(el.tag)
            if depth == 3 and parent is not None and _local(parent.tag) == "trace":
                if kind == "event":
                    if case is not None:
                        yield _event_record(file, el, case, units, check)
                        el.clear(keep_tail=False)
                        parent.remove(el)
                        held = 0
                    else:
                        waiting.append(el)
                elif kind in _SCALARS and el.get("key") == "concept:name" and case is None:
                    case = (el.get("value") or "").strip()
                    for ev in waiting:
                        yield _event_record(file, ev, case, units, check)
                        ev.clear(keep_tail=False)
                        parent.remove(ev)
                    waiting = []
                    held = 0
            elif depth == 2:
                if kind == "trace":
                    for ev in waiting:       # the trace never named its case
                        yield _event_record(file, ev, case, units, check)
                    waiting = []
                elif kind == "event":
                    yield Record(file, el.sourceline or 0, _raw(el), None,
                                 "event: ligger utanför en <trace> (inget ärende)")
                el.clear(keep_tail=False)
                if parent is not None:
                    parent.remove(el)
                held = 0
            depth -= 1
        if not saw_log:
            raise SourceError(f"{file}: ingen XES-fil (elementet <log> saknas)")
    except etree.XMLSyntaxError as exc:
        if "Excessive depth" in str(exc):
            # libxml2 stops at 256 levels while parsing a block, before our count sees them
            raise SourceError(f"{file}: elementen ligger fler än 255 nivåer djupt (högst {MAX_DEPTH}), "
                              f"rad {exc.lineno}") from None
        raise SourceError(f"{file}: ogiltig XML ({redact(' '.join(str(exc).split())[:300])})") from None
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
