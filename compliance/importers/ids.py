"""Stable ids for imported events.

Exports carry no event ids, and the rows of tomorrow's export may be in another order or
have new rows before them. An imported event's id is therefore derived from what the
event *is*, never from where its row stands:

    id = <case> "-" <16 hex digits of BLAKE2b-64 over the event's identity fields>

The identity fields are the canonical fields that the mapping produced (case, type, at,
unit, meeting, kind, date, to, channel, attendees and any other mapped field), in an
order fixed by the importer's code (not by the column order of the export or of the
mapping file): the CSV/XLSX importer joins the field names and then their values with
separator characters; the XES importer uses `identity_string` (sorted field names). Free text (`comment`, `text`), the child's derived data (`child`) and unmapped
extra columns are left out, so that correcting a comment or adding a column to the
export does not change ids. Identical rows (same identity) are told apart by their
order of appearance: the second gets the suffix `.2`, the third `.3`, and so on. Which
of two identical rows is which does not matter, so this stays deterministic.
"""

from __future__ import annotations

import hashlib
from typing import Any, Iterable

# Fields that do not make an event what it is.
NOT_IDENTITY = frozenset({"id", "comment", "text", "child"})


def identity_string(data: dict[str, Any], skip: Iterable[str] = NOT_IDENTITY) -> str:
    parts = []
    for key in sorted(data):
        if key in skip:
            continue
        value = data[key]
        if value is None:
            continue
        if isinstance(value, list):
            value = "\x1e".join(str(v) for v in value)
        parts.append(f"{key}\x1d{value}")
    return "\x1f".join(parts)


def base_id(case: str, identity: str) -> tuple[int, str]:
    """(digest as a number, the id before any duplicate suffix) of one event."""
    digest = hashlib.blake2b(identity.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big"), f"{case}-{digest.hex()}"


class IdAssigner:
    """Hands out stable ids; share one instance across the files of one import."""

    __slots__ = ("_seen", "_dups")

    def __init__(self) -> None:
        self._seen: set[int] = set()
        self._dups: dict[int, int] = {}

    def assign(self, case: str, identity: str) -> str:
        return self.claim(*base_id(case, identity))

    def claim(self, digest: int, base: str) -> str:
        """The id of the next event with this identity, in the order of the rows."""
        if digest not in self._seen:
            self._seen.add(digest)
            return base
        count = self._dups.get(digest, 1) + 1
        self._dups[digest] = count
        return f"{base}.{count}"

    def assign_data(self, data: dict[str, Any]) -> str:
        return self.assign(str(data.get("case", "")), identity_string(data))


class DeferredIds:
    """Stands in for IdAssigner where rows are converted out of order (the parallel CSV
    import): hands out the base id and remembers its digest, so that the process that
    sees the rows in order can `claim` the final id."""

    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last: tuple[int, str] | None = None

    def assign(self, case: str, identity: str) -> str:
        self.last = base_id(case, identity)
        return self.last[1]
