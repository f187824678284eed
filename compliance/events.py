"""The canonical case event log (event-log.md), as pydantic v2 models.

One model per event type, joined in a discriminated union on `type`: this is the single
schema of the input. A line that does not fit becomes a `Reject` that names the field
and says why, in Swedish, so that the person who exported the log can fix it.

Dates: `at` is an ISO 8601 date or date-time; the event's date D(e) is its local date in
Europe/Stockholm (a UTC time late in the evening is the next day there). A date-time
without offset is already Stockholm local time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, Literal, Union

import orjson
import pendulum
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError, create_model

from . import calendar as vardagar
from .privacy import contains_personal_number, quote, redact_raw
from .records import Record
from .vocabulary import EVENT_TYPES

STOCKHOLM = pendulum.timezone("Europe/Stockholm")

MeetingKind = Literal["sip", "sip_followup", "bus_individ"]


@lru_cache(maxsize=65536)
def parse_at(value: str) -> tuple[dt.date, int]:
    """`at` -> (local date in Stockholm, seconds since local midnight; -1 for a date only).

    Raises ValueError with a Swedish reason. Cached: exported logs repeat their dates.
    """
    if not value:
        raise ValueError("datum saknas")
    if len(value) == 10:
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"ogiltigt datum {quote(value)}") from None
        return _in_calendar(day, value), -1
    if len(value) < 16 or value[10] not in "Tt ":
        raise ValueError(f"ogiltig tidpunkt {quote(value)} (ISO 8601 väntas)")
    try:
        stamp = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"ogiltig tidpunkt {quote(value)}") from None
    _in_calendar(stamp, value)     # before converting: year 1 or 9999 overflows there
    if stamp.tzinfo is None:
        local = stamp  # naive = Stockholm local time (event-log.md)
    else:
        offset = stamp.utcoffset()
        if offset is None or abs(offset) >= dt.timedelta(hours=18):
            raise ValueError(f"orimlig tidszon i {quote(value)}")
        local = stamp.astimezone(STOCKHOLM)
    return _in_calendar(local.date(), value), local.hour * 3600 + local.minute * 60 + local.second


def _in_calendar(day: dt.date, value: str) -> dt.date:
    """The day, if the business-day calendar knows its year (deadlines are counted in it)."""
    if not vardagar.MIN_YEAR <= day.year <= vardagar.MAX_YEAR:
        raise ValueError(f"{quote(value)} ligger utanför kalendern för vardagar (åren "
                         f"{vardagar.MIN_YEAR}–{vardagar.MAX_YEAR})")
    return day


def _iso_date(value: Any) -> dt.date:
    """A plain ISO date (`2025-03-03`), nothing else: no timestamps, no numbers."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or len(value) != 10:
        raise ValueError(f"ett datum ÅÅÅÅ-MM-DD väntas, inte {quote(value)}")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"ogiltigt datum {quote(value)}") from None


def _at(value: Any) -> str:
    if not isinstance(value, str):   # a list or object cannot even be looked up in the cache
        raise ValueError("datum saknas" if value is None else f"en tidpunkt (text) väntas, inte {quote(value)}")
    parse_at(value)  # validate; the parsed value is cached for later
    return value


def _calendar_date(value: Any) -> dt.date:
    """A plain ISO date that the business-day calendar knows (a meeting's planned date)."""
    day = _iso_date(value)
    return _in_calendar(day, day.isoformat())


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]
CalendarDate = Annotated[dt.date, BeforeValidator(_calendar_date)]
At = Annotated[str, BeforeValidator(_at)]
NonEmpty = Annotated[str, Field(min_length=1)]


class _Base(BaseModel):
    model_config = ConfigDict(extra="allow", strict=False, frozen=True)

    id: NonEmpty
    case: NonEmpty
    at: At
    unit: str | None = None


class Child(BaseModel):
    model_config = ConfigDict(extra="allow")
    initials: str | None = None
    birth_date: IsoDate | None = None
    gender: Literal["female", "male", "other", "unknown"] | None = None


class CaseOpened(_Base):
    type: Literal["case.opened"]
    child: Child | None = None
    district: str | None = None


class SipInitiated(_Base):
    type: Literal["sip.initiated"]


class ConsentGiven(_Base):
    type: Literal["consent.given"]
    by: Literal["guardian", "child"] | None = None
    form: Literal["written", "oral"] | None = None
    scope: list[str] | None = None


class ConsentWithdrawn(_Base):
    type: Literal["consent.withdrawn"]


class MeetingScheduled(_Base):
    type: Literal["meeting.scheduled"]
    meeting: NonEmpty
    kind: MeetingKind
    date: CalendarDate


class MeetingRescheduled(_Base):
    type: Literal["meeting.rescheduled"]
    meeting: NonEmpty
    date: CalendarDate


class MeetingCancelled(_Base):
    type: Literal["meeting.cancelled"]
    meeting: NonEmpty


class InvitationSent(_Base):
    type: Literal["invitation.sent"]
    meeting: NonEmpty
    to: NonEmpty
    channel: Literal["email", "letter", "phone", "other"] | None = None
    text: str | None = None


class MeetingHeld(_Base):
    type: Literal["meeting.held"]
    meeting: NonEmpty
    kind: MeetingKind | None = None
    attendees: list[str]
    chair: str | None = None
    secretary: str | None = None


class BusIndividRequested(_Base):
    type: Literal["bus_individ.requested"]
    meeting: str | None = None


class PlanDocumented(_Base):
    type: Literal["plan.documented"]
    meeting: NonEmpty
    coordinator: str | None = None
    actions: list[dict[str, Any]] | None = None
    follow_up: dict[str, Any] | None = None


class _Deviation(_Base):
    deviation: NonEmpty
    from_: str | None = Field(default=None, alias="from")
    to: str | None = None
    decision: str | None = None


class DeviationFiled(_Deviation):
    type: Literal["deviation.filed"]


class DeviationReplied(_Deviation):
    type: Literal["deviation.replied"]


class DeviationClosed(_Deviation):
    type: Literal["deviation.closed"]


class ProtocolSent(_Base):
    """The BUS-individ protocol (the agreements made at the meeting) sent to those present (001)."""
    type: Literal["protocol.sent"]
    meeting: NonEmpty
    to: list[str] | None = None


class CaseClosed(_Base):
    type: Literal["case.closed"]


class GroupMeetingHeld(_Base):
    type: Literal["group.meeting.held"]
    group: NonEmpty
    attendees: list[str] | None = None


EVENT_MODELS: tuple[type[_Base], ...] = (
    CaseOpened, SipInitiated, ConsentGiven, ConsentWithdrawn, MeetingScheduled,
    MeetingRescheduled, MeetingCancelled, InvitationSent, MeetingHeld,
    BusIndividRequested, PlanDocumented, DeviationFiled, DeviationReplied,
    DeviationClosed, ProtocolSent, CaseClosed, GroupMeetingHeld,
)
EventModel = Annotated[Union[EVENT_MODELS], Field(discriminator="type")]
_ADAPTER: TypeAdapter = TypeAdapter(EventModel)

# The same models with `at` as plain text, checked after validation instead of inside it
# (`parse_event_json`): pydantic calling back into Python for `at` took a fifth of the
# time of reading a large log. Derived from the models above, never written twice.
_AT_AFTER: TypeAdapter = TypeAdapter(Annotated[
    Union[tuple(create_model(m.__name__, __base__=m, at=(str, ...)) for m in EVENT_MODELS)],
    Field(discriminator="type"),
])


@dataclass(slots=True, frozen=True)
class Reject:
    file: str
    line: int
    reason: str
    raw: str


def _field_name(loc: tuple) -> str:
    # ('meeting.held', 'attendees', 0) -> 'attendees[0]'; the union tag is not a field.
    parts = [p for p in loc if not (isinstance(p, str) and p in EVENT_TYPES)]
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out.replace("from_", "from") or "type"


_MESSAGES = {
    "missing": "saknas",
    "string_type": "ska vara text",
    "list_type": "ska vara en lista",
    "dict_type": "ska vara ett objekt",
    "model_type": "ska vara ett objekt",
    "string_too_short": "får inte vara tomt",
    "literal_error": "otillåtet värde",
}


def explain(error: ValidationError) -> str:
    """A pydantic error as one Swedish sentence naming each field."""
    parts = []
    for err in error.errors(include_url=False):
        field = _field_name(tuple(err["loc"]))
        if err["type"] == "union_tag_invalid":
            parts.append(f"fält 'type': okänd händelsetyp {quote(err.get('input', {}).get('type'))}"
                         if isinstance(err.get("input"), dict) else "fält 'type': okänd händelsetyp")
            continue
        if err["type"] == "union_tag_not_found":
            parts.append("fält 'type' saknas")
            continue
        if err["type"] == "value_error":
            text = str(err.get("ctx", {}).get("error", err["msg"]))
        else:
            text = _MESSAGES.get(err["type"], err["msg"])
            if err["type"] == "literal_error":
                text += f" {quote(err.get('input'))} (tillåtna: {err.get('ctx', {}).get('expected', '')})"
        parts.append(f"fält '{field}': {text}")
    return "; ".join(parts)


# --- ids never hold a personal number ------------------------------------------------------

# The fields that identify something (event-log.md): a personal number there would be
# copied into every output, file name and draft. Such a line is rejected.
ID_FIELDS = ("id", "case", "unit", "meeting", "to", "attendees", "scope", "from")


def _type_of(model: type[_Base]) -> str:
    return model.model_fields["type"].annotation.__args__[0]


_ID_ATTRS = {_type_of(m): tuple((name, field.alias or name) for name, field in m.model_fields.items()
                                if (field.alias or name) in ID_FIELDS)
             for m in EVENT_MODELS}


def _holds_number(value: Any) -> bool:
    return type(value) is str and contains_personal_number(value)


def _number_in(name: str, value: Any) -> str | None:
    """`name` (or `name[i]` for an item of a list) when the value holds a personal number."""
    if isinstance(value, list):
        return next((f"{name}[{i}]" for i, item in enumerate(value) if _holds_number(item)), None)
    return name if _holds_number(value) else None


def personal_number_field(event: Any) -> str | None:
    """The first id field of a validated event that holds a personal number (`case`,
    `attendees[1]`, ...), or None. Extra fields with an id field's name count too."""
    data = event.__dict__
    for attr, name in _ID_ATTRS[data["type"]]:
        value = data[attr]
        if type(value) is str:      # the usual case, without a call: ids shorter than ten pass
            if len(value) >= 10 and contains_personal_number(value):
                return name
        elif value is not None:
            found = _number_in(name, value)
            if found is not None:
                return found
    extra = event.__pydantic_extra__
    if extra:
        for name in ID_FIELDS:
            found = _number_in(name, extra.get(name))
            if found is not None:
                return found
    return None


def personal_number_reason(field: str) -> str:
    """The reject reason for an id field holding a personal number; it never repeats it."""
    return (f"fält '{field}': innehåller ett personnummer; ett id ska vara en pseudonym, "
            "aldrig ett personnummer")


def parse_event_json(text: str) -> tuple[Any, tuple[dt.date, int]] | None:
    """A JSON line that is a valid event -> (event, parse_at(event.at)); None otherwise.

    The fast road for the common case. It accepts exactly the lines that `parse_record`
    accepts, with equal events: the models are the same, and `at` and the id fields get
    the same checks. A line it does not accept goes to `parse_record`, which says why.
    """
    try:
        event = _AT_AFTER.validate_json(text)
        when = parse_at(event.at)
    except ValueError:
        return None
    if personal_number_field(event) is not None:
        return None
    return event, when


def parse_record(rec: Record) -> Any:
    """A Record -> an event model, or a Reject naming file, line, field and reason.

    The Reject's `raw` is the line with every personal number removed (`redact_raw`)."""
    if rec.error is not None:
        return Reject(rec.file, rec.line, rec.error, redact_raw(rec.raw))
    data = rec.data
    event = None
    if data is None:
        try:   # the common case: pydantic parses and validates the line in one step
            event = _ADAPTER.validate_json(rec.raw)
        except ValueError:
            pass   # say why below, in the words of each case
        if event is None:
            try:
                data = orjson.loads(rec.raw)
            except orjson.JSONDecodeError as exc:
                return Reject(rec.file, rec.line, f"ogiltig JSON: {exc}", redact_raw(rec.raw))
    if event is None:
        if not isinstance(data, dict):
            return Reject(rec.file, rec.line, "raden är inte ett JSON-objekt", redact_raw(rec.raw))
        try:
            event = _ADAPTER.validate_python(data)
        except ValidationError as exc:
            return Reject(rec.file, rec.line, explain(exc), redact_raw(rec.raw))
    field = personal_number_field(event)
    if field is not None:
        return Reject(rec.file, rec.line, personal_number_reason(field), redact_raw(rec.raw))
    return event


# --- identity by content ------------------------------------------------------------------

# What does not make an event what it is (event-log.md: "case, type, local date and time,
# unit and the type's fields"): its id, free text (`text`), what is known about the child
# (derived from a personal number in one export, typed in another), a plan's `actions`
# (which not every export format can carry), and unknown extra fields.
NOT_IDENTITY = frozenset({"id", "case", "type", "at", "unit", "text", "child", "actions"})
# Lists whose order says nothing: attendees [a, b] and [b, a] are the same meeting.
SET_FIELDS = frozenset({"attendees", "scope", "to"})
_IDENTITY_ATTRS: dict[str, tuple[tuple[str, str], ...]] = {
    _type_of(m): tuple(sorted(((name, field.alias or name) for name, field in m.model_fields.items()
                               if (field.alias or name) not in NOT_IDENTITY), key=lambda a: a[1]))
    for m in EVENT_MODELS
}


def _identity_value(name: str, value: Any) -> Any:
    if value is None or (type(value) in (str, list, dict) and not value):
        return None                   # "", [], {} and a missing field are the same
    if isinstance(value, dt.date):
        return value.isoformat()
    if name in SET_FIELDS and isinstance(value, list):
        try:
            return sorted(set(value))
        except TypeError:             # not text: the line is a reject anyway
            return value
    return value


def content_key(event: Any) -> int:
    """What an event is, as a 64-bit digest: two events with the same key are the same
    event, whatever their ids or the file, format or system they came from (event-log.md).

    The key covers the case, the type, the local date and time in Stockholm (so
    `09:30:00+01:00`, `08:30:00Z` and `09:30:00` are the same moment), the unit and the
    type's fields (meeting, kind, planned date, recipient, channel, attendees as a set,
    ...), but not the id, free text, the child's data, a plan's actions or extra fields.
    `event` is a validated event model or the same event as a dict in canonical shape
    (an importer's row before validation); both give the same key. Raises ValueError
    when `at` does not parse.
    """
    if isinstance(event, dict):
        typ = event.get("type")
        at = event.get("at")
        if not isinstance(at, str):
            raise ValueError("datum saknas")
        day, secs = parse_at(at)
        parts = [event.get("case"), typ, day.toordinal(), secs, event.get("unit") or None]
        for _, name in _IDENTITY_ATTRS.get(typ, ()):
            value = event.get(name)      # mostly text: kept as it is, without a call
            parts.append((value or None) if type(value) is str else _identity_value(name, value))
    else:
        data = event.__dict__
        typ = data["type"]
        day, secs = parse_at(data["at"])
        parts = [data["case"], typ, day.toordinal(), secs, data["unit"] or None]
        for attr, name in _IDENTITY_ATTRS[typ]:
            value = data[attr]
            parts.append((value or None) if type(value) is str else _identity_value(name, value))
    digest = hashlib.blake2b(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS),
                             digest_size=8).digest()
    return int.from_bytes(digest, "big")


# The digest written with the letters a-p for the hex digits 0-f: an id the tool makes
# has no digits of its own, so it can never look like a personal number.
_DIGEST_LETTERS = str.maketrans("0123456789abcdef", "abcdefghijklmnop")


def content_id(case: str, key: int) -> str:
    """The id of an event that came without one (an imported row): its case and content
    key (`K-0001-jbbadpoefghkmnap`), so that the same event gets the same id from every
    export, in every format, on every night."""
    return f"{case}-{format(key, '016x').translate(_DIGEST_LETTERS)}"
