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
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, Literal, Union

import orjson
import pendulum
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError, create_model

from . import calendar as vardagar
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
            raise ValueError(f"ogiltigt datum {value!r}") from None
        return _in_calendar(day, value), -1
    if len(value) < 16 or value[10] not in "Tt ":
        raise ValueError(f"ogiltig tidpunkt {value!r} (ISO 8601 väntas)")
    try:
        stamp = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"ogiltig tidpunkt {value!r}") from None
    _in_calendar(stamp, value)     # before converting: year 1 or 9999 overflows there
    if stamp.tzinfo is None:
        local = stamp  # naive = Stockholm local time (event-log.md)
    else:
        offset = stamp.utcoffset()
        if offset is None or abs(offset) >= dt.timedelta(hours=18):
            raise ValueError(f"orimlig tidszon i {value!r}")
        local = stamp.astimezone(STOCKHOLM)
    return _in_calendar(local.date(), value), local.hour * 3600 + local.minute * 60 + local.second


def _in_calendar(day: dt.date, value: str) -> dt.date:
    """The day, if the business-day calendar knows its year (deadlines are counted in it)."""
    if not vardagar.MIN_YEAR <= day.year <= vardagar.MAX_YEAR:
        raise ValueError(f"{value!r} ligger utanför kalendern för vardagar (åren "
                         f"{vardagar.MIN_YEAR}–{vardagar.MAX_YEAR})")
    return day


def _iso_date(value: Any) -> dt.date:
    """A plain ISO date (`2025-03-03`), nothing else: no timestamps, no numbers."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or len(value) != 10:
        raise ValueError(f"ett datum ÅÅÅÅ-MM-DD väntas, inte {value!r}")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"ogiltigt datum {value!r}") from None


def _at(value: Any) -> str:
    if not isinstance(value, str):   # a list or object cannot even be looked up in the cache
        raise ValueError("datum saknas" if value is None else f"en tidpunkt (text) väntas, inte {value!r}")
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
            parts.append(f"fält 'type': okänd händelsetyp {err.get('input', {}).get('type')!r}"
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
                text += f" {err.get('input')!r} (tillåtna: {err.get('ctx', {}).get('expected', '')})"
        parts.append(f"fält '{field}': {text}")
    return "; ".join(parts)


def parse_event_json(text: str) -> tuple[Any, tuple[dt.date, int]] | None:
    """A JSON line that is a valid event -> (event, parse_at(event.at)); None otherwise.

    The fast road for the common case. It accepts exactly the lines that `parse_record`
    accepts, with equal events: the models are the same, and `at` gets the same check.
    A line it does not accept goes to `parse_record`, which says why.
    """
    try:
        event = _AT_AFTER.validate_json(text)
        return event, parse_at(event.at)
    except ValueError:
        return None


def parse_record(rec: Record) -> Any:
    """A Record -> an event model, or a Reject naming file, line, field and reason."""
    if rec.error is not None:
        return Reject(rec.file, rec.line, rec.error, rec.raw)
    data = rec.data
    if data is None:
        try:   # the common case: pydantic parses and validates the line in one step
            return _ADAPTER.validate_json(rec.raw)
        except ValueError:
            pass   # say why below, in the words of each case
        try:
            data = orjson.loads(rec.raw)
        except orjson.JSONDecodeError as exc:
            return Reject(rec.file, rec.line, f"ogiltig JSON: {exc}", rec.raw)
    if not isinstance(data, dict):
        return Reject(rec.file, rec.line, "raden är inte ett JSON-objekt", rec.raw)
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        return Reject(rec.file, rec.line, explain(exc), rec.raw)

