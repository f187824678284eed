"""Plausibility of the child's birth date: a warning for the summary, not a reject.

A birth date usually comes from a ten-digit personal number, whose century is a guess
(imports.md): `121212-1212` is a child born in 2012, or someone born in 1912 when the
export wrote `+` (or, with twelve digits, 19121212-1212, the published test identity
"Tolvan"). BUS and SIP concern children and young people: a child older than 25 when
its case was opened, or born in the future, most likely has a wrong number, and the
reports' statistics by age would be wrong. The case is named so that it can be checked.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from .privacy import redact

MAX_AGE = 25


def _age(born: dt.date, on: dt.date) -> int:
    """Age in whole years on a day."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and len(value) == 10:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


class BirthDates:
    """Collects each case's opening date and the child's birth dates, event by event
    (in any order), and says which cases are implausible.

    `today`: the reference for "in the future" (the scan's as-of date; today for an
    import)."""

    def __init__(self, today: dt.date | None = None) -> None:
        self.today = today or dt.date.today()
        self._opened: dict[str, int] = {}              # case -> first case.opened (ordinal)
        self._born: dict[str, tuple[int, int]] = {}    # case -> (birth date, date of its event)

    def see(self, case: str, typ: str, day: dt.date, birth_date: Any) -> None:
        """One event: its case, type, local date and the child's birth date (or None).

        Only cases with a birth date are remembered (a million-row import has a hundred
        thousand cases): a case opened before any of its events gave a birth date is
        judged at the date of that event instead (the Personnummer column is normally on
        the opening row)."""
        born = _date(birth_date)
        if typ == "case.opened" and (born is not None or case in self._born):
            known = self._opened.get(case)
            if known is None or day.toordinal() < known:
                self._opened[case] = day.toordinal()
        if born is not None:
            known_born = self._born.get(case)
            if known_born is None or day.toordinal() < known_born[1]:
                self._born[case] = (born.toordinal(), day.toordinal())

    def see_event(self, event: Any) -> None:
        """The same for an event model or an event in canonical shape (a dict)."""
        from .events import parse_at
        if isinstance(event, dict):
            child, case, typ, at = event.get("child"), event.get("case"), event.get("type"), event.get("at")
            born = child.get("birth_date") if isinstance(child, dict) else None
        else:
            data = event.__dict__
            child, case, typ, at = data.get("child"), data["case"], data["type"], data["at"]
            born = getattr(child, "birth_date", None) if child is not None else None
        if typ != "case.opened" and born is None:
            return
        try:
            day = parse_at(at)[0]
        except (ValueError, TypeError):
            return
        self.see(case, typ, day, born)

    def warnings(self) -> list[str]:
        """One line per implausible case, sorted by case (Swedish, no birth date shown)."""
        out = []
        for case in sorted(self._born):
            born_ord, seen_on = self._born[case]
            born = dt.date.fromordinal(born_ord)
            opened = dt.date.fromordinal(self._opened.get(case, seen_on))
            name = redact(case)
            if born > self.today:
                out.append(f"ärende {name}: barnets födelsedatum ligger i framtiden; kontrollera personnumret")
            elif _age(born, opened) > MAX_AGE:
                out.append(f"ärende {name}: barnet var {_age(born, opened)} år när ärendet öppnades "
                           f"{opened.isoformat()} (över {MAX_AGE}); kontrollera personnumret (fel sekel?)")
        return out
