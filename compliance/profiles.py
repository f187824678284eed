"""Agreement profiles: which rules judge, with which parameters, in which period.

A profile is one agreement (audit.md, "Profiles"): a name, its source, a validity period,
and the rules it adds to (or whose parameters it changes from) the core. A rule file says
which profiles it belongs to (`profiles = [...]`); a profile file
(`compliance/data/profiles/<name>.toml`) holds the agreement's own facts. A profile's rules
judge only obligations that fell due inside its validity period and inside the rule
version's own (compiled into the rules' conditions, compliance/compiler.py).
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .rules import Citation, Rule, RuleError, RuleSet, describe_error

DEFAULT_PROFILE = "core"


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z0-9-]+$")
    title: str
    source: Citation | None = None
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    extends: str | None = None
    params: dict[str, dict[str, Any]] = {}   # rule id -> parameters that differ from the rule file

    def in_force(self, day: dt.date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and \
            (self.valid_to is None or day <= self.valid_to)


class ProfileError(RuleError):
    """An unknown profile (a usage error) or a broken profile file."""


@lru_cache(maxsize=1)
def load_profiles() -> dict[str, Profile]:
    from .resources import data_path
    folder = data_path("profiles")
    out: dict[str, Profile] = {}
    for path in sorted(folder.glob("*.toml")):
        try:
            profile = Profile.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ProfileError(f"{path}: profilen kan inte läsas: {exc}") from None
        except ValidationError as exc:
            raise ProfileError(f"{path}: {describe_error(exc)}") from None
        if profile.name != path.stem:
            raise ProfileError(f"{path}: name {profile.name!r} ska vara filens namn {path.stem!r}")
        out[profile.name] = profile
    return out


@dataclass
class Selection:
    """The rules a profile judges with, and the parameters it gives them."""
    profile: Profile
    rules: list[Rule]
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    outside: list[str] = field(default_factory=list)    # rules of the folder not in the profile

    def summary(self) -> dict[str, Any]:
        from .sources import describe
        p = self.profile
        return {"name": p.name, "title": p.title,
                "source": describe(p.source) if p.source else None,
                "valid_from": p.valid_from.isoformat() if p.valid_from else None,
                "valid_to": p.valid_to.isoformat() if p.valid_to else None,
                "rules": [r.id for r in self.rules], "outside": self.outside}


def select(ruleset: RuleSet, name: str = DEFAULT_PROFILE) -> Selection:
    """The rules of `ruleset` that profile `name` judges with."""
    profiles = load_profiles()
    if name not in profiles:
        raise ProfileError(f"okänd profil {name!r} (kända: {', '.join(sorted(profiles))})")
    chain, seen = [], set()
    current: str | None = name
    while current is not None:
        if current in seen or current not in profiles:
            raise ProfileError(f"profilen {name!r}: extends {current!r} är okänd eller cirkulär")
        seen.add(current)
        chain.append(profiles[current])
        current = profiles[current].extends
    members = {p.name for p in chain}
    rules = [r for r in ruleset.rules if members & set(r.profiles)]
    params: dict[str, dict[str, Any]] = {}
    for p in reversed(chain):            # the profile itself last: its parameters win
        for rule_id, values in p.params.items():
            rule = ruleset.by_id(rule_id)
            if rule is None:
                raise ProfileError(f"profilen {p.name!r}: params.{rule_id}: ingen sådan regel")
            unknown = set(values) - set(rule.version[0].params)
            if unknown:
                raise ProfileError(f"profilen {p.name!r}: params.{rule_id}: okända parametrar "
                                   f"{', '.join(sorted(unknown))}")
            params.setdefault(rule_id, {}).update(values)
    outside = [r.id for r in ruleset.rules if r not in rules]
    return Selection(profiles[name], rules, params, outside)
