"""One input line or row, before the event model has judged it.

Every line of every input file becomes exactly one Record, so that the summary can
account for all of them: either it becomes an event or it is rejected with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Record:
    file: str            # path as given on the command line
    line: int            # 1-based line (JSONL) or row number as a spreadsheet shows it
    raw: str             # the raw line or row, for the reject file
    data: dict[str, Any] | None = None   # canonical event shape, not yet validated
    error: str | None = None             # set when the line could not even be read
    key: int | None = None               # an importer's row: its content key (events.content_key)
