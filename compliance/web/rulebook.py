"""The rules as the review app shows them: a finding's rule title and the sources its
version cites (the manifest's citations, `compliance.sources`).

The rule files are read once, when first needed (reading and checking them takes about
a second), from `--rules` or the shipped folder, as the scan that filled the store did.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..rules import RuleSet, load_ruleset


@lru_cache(maxsize=4)
def _load(rules_dir: Path | None) -> RuleSet:
    return load_ruleset(rules_dir)     # once per process and folder (several apps in the tests)


class RuleBook:
    def __init__(self, rules_dir: Path | None = None) -> None:
        self.rules_dir = rules_dir
        self._ruleset: RuleSet | None = None
        self._summaries: list[dict[str, Any]] | None = None
        self._lock = threading.Lock()

    def ruleset(self) -> RuleSet:
        with self._lock:
            if self._ruleset is None:
                self._ruleset = _load(self.rules_dir)
            return self._ruleset

    def summaries(self) -> list[dict[str, Any]]:
        """Every rule as the manifest describes it (versions with their cited sources)."""
        ruleset = self.ruleset()
        with self._lock:
            if self._summaries is None:
                self._summaries = [r.summary() for r in ruleset.rules]
            return self._summaries

    def version(self, rule_id: str, valid_from: str | None) -> dict[str, Any] | None:
        """The version of a rule that a finding was judged by (its `rule_version`)."""
        for rule in self.summaries():
            if rule["id"] == rule_id:
                versions = rule["versions"]
                return next((v for v in versions if v["valid_from"] == valid_from), None)
        return None

    def title(self, rule_id: str) -> str | None:
        return next((r["title"] for r in self.summaries() if r["id"] == rule_id), None)
