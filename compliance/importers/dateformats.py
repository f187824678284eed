"""The date-format language of a mapping's [dates]: strftime-like `%Y-%m-%d`, `%H.%M`.

Only `%Y %y %m %d %H %M %S`, `%%` and literal characters: enough for what case systems
export, and small enough that a format compiles to one regular expression. A format that
asks for more (`%B`, a month's name) is refused when the mapping loads, not on some row.
Parsing gives ISO text (`2025-03-14`, `09:30:00`) with a Swedish reason when it fails.
"""

from __future__ import annotations

import datetime as dt
import re

from ..privacy import quote

DIRECTIVES = {
    "Y": r"(?P<Y>\d{4})", "y": r"(?P<y>\d{2})", "m": r"(?P<m>\d{1,2})",
    "d": r"(?P<d>\d{1,2})", "H": r"(?P<H>\d{1,2})", "M": r"(?P<M>\d{2})",
    "S": r"(?P<S>\d{2})",
}
# Tried after a mapping's own date formats: ISO 8601 always works.
ISO_FALLBACK = ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M")
# What a format must hold: one of the alternatives (`Y|y`) of each group.
DATE_NEEDS = ("Y|y", "m", "d")
ISO_NEEDS = ("Y", "m", "d")
TIME_NEEDS = ("H", "M")


class FormatError(ValueError):
    """A format the language cannot express; the message names the format."""


def compile_format(fmt: str, need: tuple[str, ...]) -> re.Pattern:
    """`%d.%m.%Y` -> a regular expression with the groups Y/y, m, d, H, M, S."""
    out, i = [], 0
    seen = set()
    while i < len(fmt):
        ch = fmt[i]
        if ch == "%":
            if i + 1 >= len(fmt):
                raise FormatError(f"formatet {fmt!r} slutar med '%'")
            d = fmt[i + 1]
            if d == "%":
                out.append("%")
            elif d in DIRECTIVES:
                if d in seen:
                    raise FormatError(f"%{d} två gånger i {fmt!r}")
                seen.add(d)
                out.append(DIRECTIVES[d])
            else:
                raise FormatError(f"%{d} stöds inte i {fmt!r} (tillåtna: %Y %y %m %d %H %M %S)")
            i += 2
        else:
            out.append(re.escape(ch))
            i += 1
    for group in need:
        alts = group.split("|")
        if not any(a in seen for a in alts):
            raise FormatError(f"{fmt!r} saknar %{alts[0]}")
    return re.compile("".join(out) + r"\Z")


def parse_date_text(s: str, formats: list[re.Pattern]) -> tuple[str, str | None]:
    """A date (maybe with a time) -> (`2025-03-14`, `09:30:00` or None) by the first
    format that matches; ValueError with a Swedish reason otherwise."""
    for rx in formats:
        m = rx.match(s)
        if m is None:
            continue
        g = m.groupdict()
        year = int(g["Y"]) if g.get("Y") else 2000 + int(g["y"])
        try:
            d = dt.date(year, int(g["m"]), int(g["d"]))
        except ValueError:
            raise ValueError(f"ogiltigt datum {quote(s)}") from None
        t = None
        if g.get("H") is not None:
            t = _time_from(g, s)
        return d.isoformat(), t
    raise ValueError(f"okänt datumformat {quote(s)}")


def parse_time_text(s: str, formats: list[re.Pattern]) -> str:
    """A time of day -> `09:30:00`; ValueError with a Swedish reason otherwise."""
    for rx in formats:
        m = rx.match(s)
        if m is not None:
            return _time_from(m.groupdict(), s)
    raise ValueError(f"okänt tidsformat {quote(s)}")


def _time_from(g: dict, s: str) -> str:
    h, mi, se = int(g["H"]), int(g["M"]), int(g.get("S") or 0)
    if h > 23 or mi > 59 or se > 59:
        raise ValueError(f"ogiltig tid {quote(s)}")
    return f"{h:02d}:{mi:02d}:{se:02d}"
