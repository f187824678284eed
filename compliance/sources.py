"""The source register: the documents the rules cite, the way a person looks them up.

An auditor finds a law by its SFS number and paragraph, and an agreement by its title,
who adopted it, when, and the section (audit.md, "Sources a person can look up"). The
register (`compliance/data/sources.toml`) holds that much of every source; a rule version
cites an entry with the section and the quoted sentence (`rules.Citation`), and every
output prints the citation in one line:

    2 kap. 7 § socialtjänstlagen (2001:453), i lydelse från 2010-01-01
    Lokal överenskommelse BUS Skarpnäck — Skarpnäcks stadsdelsförvaltning, …,
      undertecknad 2018-04-17, avsnitt "Rutiner för avvikelserapportering", steg 3
"""

from __future__ import annotations

import datetime as dt
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from .rules import Citation, Rule, RuleError, describe_error


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["lag", "föreskrift", "överenskommelse"]
    title: str
    short: str | None = None
    body: str
    sfs: str | None = None
    date: str | None = None
    date_text: str | None = None
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None


@lru_cache(maxsize=1)
def register() -> dict[str, Source]:
    """The shipped register, keyed by the reference the rule files use."""
    from .resources import data_path
    path = data_path("sources.toml")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return {key: Source.model_validate(value) for key, value in data.items()}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RuleError(f"{path}: källregistret kan inte läsas: {exc}") from None
    except ValidationError as exc:
        raise RuleError(f"{path}: {describe_error(exc)}") from None


def check_citations(rule: Rule, path: Path) -> None:
    """Every source a rule cites must be in the register."""
    known = register()
    for version in rule.version:
        for k, cite in enumerate(version.sources):
            if cite.ref not in known:
                raise RuleError(f"{path}: version {version.valid_from}: sources.{k}.ref: okänd källa "
                                f"{cite.ref!r} (kända: {', '.join(sorted(known))})")


def citation_sv(cite: Citation) -> str:
    """The citation in one line, as an auditor looks it up."""
    src = register()[cite.ref]
    if src.kind == "lag":
        text = f"{cite.section} {src.title}" if cite.section else src.title[0].upper() + src.title[1:]
        if cite.in_force_from:
            text += f", i lydelse från {cite.in_force_from.isoformat()}"
        return text
    text = f"{src.short or src.title} — {src.body}"
    if src.date:
        text += f", {src.date_text} {src.date}" if src.date_text else f", {src.date}"
    if cite.section:
        text += f", avsnitt {cite.section}"
    return text


def describe(cite: Citation) -> dict[str, Any]:
    """A citation with the register's facts, as the manifest, drafts and replay carry it."""
    src = register()[cite.ref]
    return {"ref": cite.ref, "title": src.title, "body": src.body, "sfs": src.sfs, "date": src.date,
            "section": cite.section,
            "in_force_from": cite.in_force_from.isoformat() if cite.in_force_from else None,
            "quote": cite.quote, "citation": citation_sv(cite)}
