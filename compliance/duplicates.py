"""Duplicates (dubbletter): the same event read twice counts once.

Two events are the same when their content is (`events.content_key`: case, type, local
date and time, unit and the type's fields), whatever their ids or the file, format or
system they came from (event-log.md). The same night exported as CSV and as XES, two
copies of one export, or identical rows inside one export: each event is kept once, and
the others are counted per file as duplicates, not rejected.

Which of its ids a merged event keeps does not depend on the order of the input: it is
the smallest of the ids it was read with (an imported row's id is already a content
digest, so its copies share it). Two events with the same id but different content are
a conflict: the later one is rejected, naming the line of the first.

`Merger` decides line by line, in input order; at the end `renames()` says which kept
events must take a smaller id seen later. It serves `compliance import` and the scan's
reading alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .events import content_id
from .privacy import quote

KEEP, DUPLICATE, CONFLICT = "keep", "duplicate", "conflict"
_LINE_BITS = 32
_FILE_BITS = 16
_POS_BITS = _LINE_BITS + _FILE_BITS


@dataclass
class FileDuplicates:
    """How many of one file's events were already read: from another file, or from an
    earlier line of the same file."""
    other_files: int = 0
    same_file: int = 0

    @property
    def total(self) -> int:
        return self.other_files + self.same_file


def number_sv(n: int) -> str:
    """8155 -> '8 155' (Swedish digit grouping)."""
    return f"{n:,}".replace(",", " ")


class Merger:
    """Keeps each event once, across all the files of one import or scan.

    Memory: one entry per distinct event. An event whose id is its content digest (an
    imported row) costs one integer in a set; an event with an id of its own one entry in
    each of two dicts (id -> content and position, content -> id).
    """

    def __init__(self) -> None:
        self.files: list[str] = []
        self.counts: list[FileDuplicates] = []
        self._seen: dict[str, int] = {}       # own id -> content key << 48 | file << 32 | line
        self._by_key: dict[int, str] = {}     # content key -> smallest own id so far
        self._digests_before: set[int] = set()   # content keys of digest ids, earlier files
        self._digests_now: set[int] = set()      # ... and of the current file
        self._first_id: dict[int, str] = {}   # content key -> the id it was kept with, once renamed
        # What the current file changed, so that a file that fails half-way can be forgotten.
        self._new_ids: list[str] = []
        self._new_keys: list[int] = []
        self._changed: dict[int, tuple] = {}        # content key -> (its id, first id) before
        self._moved: list[int] = []                 # keys taken from _digests_before

    def file(self, name: str) -> int:
        """Start reading a file; its number for `add`."""
        if len(self.files) >= 1 << _FILE_BITS:
            raise ValueError("för många filer")
        self._digests_before |= self._digests_now
        self._digests_now = set()
        self._new_ids, self._new_keys, self._changed, self._moved = [], [], {}, []
        self.files.append(name)
        self.counts.append(FileDuplicates())
        return len(self.files) - 1

    def add(self, key: int, eid: str, case: str, file_no: int, line: int) -> tuple[str, str | None]:
        """Judge one accepted event (in input order): (KEEP, None) for a new event,
        (DUPLICATE, None) for one read before, (CONFLICT, reason) for an id read before
        with other content (the reason names the other line; the line is a reject)."""
        digest = content_id(case, key)
        if eid == digest:                            # a digest id: its copies share it
            return self.add_digest(key, file_no, lambda: digest)
        return self._add_own(key, eid, file_no, line, digest)

    def add_many(self, keys: list[int], ids: list[str | None], cases: list[str], file_no: int,
                 lines: list[int]) -> list[tuple[str, str | None]] | None:
        """`add` for a run of events of one file (a part the scan's reading judged): None
        when every one is new and kept, the usual case, told in a few passes of C code;
        otherwise each one's verdict, as `add` gives it. An id None is the event's content
        digest (`events.content_id`), as the importers make it."""
        if (len(set(keys)) == len(keys) and self._by_key.keys().isdisjoint(keys)
                and self._digests_now.isdisjoint(keys) and self._digests_before.isdisjoint(keys)):
            own = [i for i, eid in enumerate(ids) if eid is not None]
            own_ids = [ids[i] for i in own]
            if len(set(own_ids)) == len(own_ids) and self._seen.keys().isdisjoint(own_ids):
                where = file_no << _LINE_BITS
                if len(own) == len(ids):
                    self._seen.update(zip(ids, (k << _POS_BITS | where | n for k, n in zip(keys, lines))))
                    self._by_key.update(zip(keys, ids))
                    self._new_keys.extend(keys)
                else:
                    own_keys = [keys[i] for i in own]
                    self._seen.update(zip(own_ids, (keys[i] << _POS_BITS | where | lines[i] for i in own)))
                    self._by_key.update(zip(own_keys, own_ids))
                    self._new_keys.extend(own_keys)
                    self._digests_now.update(k for k, eid in zip(keys, ids) if eid is None)
                self._new_ids.extend(own_ids)
                return None
        return [self.add_digest(key, file_no, lambda case=case, key=key: content_id(case, key)) if eid is None
                else self._add_own(key, eid, file_no, line, content_id(case, key))
                for key, eid, case, line in zip(keys, ids, cases, lines)]

    def add_digest(self, key: int, file_no: int, digest: Callable[[], str]) -> tuple[str, None]:
        """`add` for an event whose id is its content digest (`events.content_id`), as the
        importers make it; `digest()` gives that id, asked for only in the rare case that
        the same event was kept with an id of its own (which of the two is smaller)."""
        counts = self.counts[file_no]
        if key in self._digests_now:
            counts.same_file += 1
            return DUPLICATE, None
        if key in self._digests_before:
            counts.other_files += 1
            return DUPLICATE, None
        kept = self._by_key.get(key)
        if kept is None:
            self._digests_now.add(key)
            return KEEP, None
        self._count(counts, kept, file_no)
        own = digest()
        if own < kept:
            self._rename(key, kept, own)
        return DUPLICATE, None

    def _add_own(self, key: int, eid: str, file_no: int, line: int, digest: str) -> tuple[str, str | None]:
        counts = self.counts[file_no]
        where = key << _POS_BITS | file_no << _LINE_BITS | line
        seen = self._seen.get(eid)
        if seen is not None:
            if seen >> _POS_BITS != key:
                first_file = seen >> _LINE_BITS & ((1 << _FILE_BITS) - 1)
                first_line = seen & ((1 << _LINE_BITS) - 1)
                return CONFLICT, (f"fält 'id': händelse-id {quote(eid)} finns redan med annat innehåll "
                                  f"({self.files[first_file]}, rad {first_line})")
            self._count(counts, eid, file_no)
            return DUPLICATE, None
        self._seen[eid] = where
        self._new_ids.append(eid)
        kept = self._by_key.get(key)
        if kept is None:
            if key in self._digests_now or key in self._digests_before:   # read before with a digest id
                if key in self._digests_now:
                    counts.same_file += 1
                    self._digests_now.discard(key)
                else:
                    counts.other_files += 1
                    self._digests_before.discard(key)
                    self._moved.append(key)
                self._new_keys.append(key)
                self._by_key[key] = digest
                if eid < digest:
                    self._rename(key, digest, eid)
                return DUPLICATE, None
            self._by_key[key] = eid
            self._new_keys.append(key)
            return KEEP, None
        self._count(counts, kept, file_no)
        if eid < kept:
            self._rename(key, kept, eid)
        return DUPLICATE, None

    def _count(self, counts: FileDuplicates, kept: str, file_no: int) -> None:
        seen = self._seen.get(kept)
        first_file = seen >> _LINE_BITS & ((1 << _FILE_BITS) - 1) if seen is not None else None
        if first_file == file_no:
            counts.same_file += 1
        else:
            counts.other_files += 1

    def _rename(self, key: int, kept: str, smaller: str) -> None:
        if key not in self._changed:
            self._changed[key] = (self._by_key.get(key), self._first_id.get(key))
        self._first_id.setdefault(key, kept)
        self._by_key[key] = smaller

    def forget_file(self) -> None:
        """Undo everything the current (last) file added: it could not be read to its end,
        and none of its lines counts (its events and rejects are dropped too)."""
        for key, (by_key, first) in self._changed.items():
            for table, value in ((self._by_key, by_key), (self._first_id, first)):
                if value is None:
                    table.pop(key, None)
                else:
                    table[key] = value
        for key in self._new_keys:
            self._by_key.pop(key, None)
            self._first_id.pop(key, None)
        for eid in self._new_ids:
            self._seen.pop(eid, None)
        self._digests_before.update(self._moved)
        self._digests_now = set()
        self._new_ids, self._new_keys, self._changed, self._moved = [], [], {}, []
        self.files.pop()
        self.counts.pop()

    def renames(self) -> dict[str, str]:
        """Kept event id -> the smaller id it must be written with (a copy read later had
        it). Empty in the usual case."""
        return {first: self._by_key[key] for key, first in self._first_id.items()
                if self._by_key[key] != first}

    @property
    def duplicates(self) -> int:
        return sum(c.total for c in self.counts)

    def summary_lines(self) -> list[str]:
        """One line per file with duplicates, for the summary:
        'a.csv: dubbletter: 8 155 (samma händelse i flera filer)'."""
        lines = []
        for name, c in zip(self.files, self.counts):
            parts = []
            if c.other_files:
                parts.append(f"{number_sv(c.other_files)} (samma händelse i flera filer)")
            if c.same_file:
                parts.append(f"{number_sv(c.same_file)} (samma händelse på flera rader i filen)")
            if parts:
                lines.append(f"{name}: dubbletter: " + ", ".join(parts))
        return lines

    def manifest_counts(self, file_no: int) -> dict[str, int]:
        """The duplicates of one file for its entry in manifest.json `inputs`."""
        c = self.counts[file_no]
        return {"duplicates": c.total, "duplicates_other_files": c.other_files,
                "duplicates_same_file": c.same_file}
