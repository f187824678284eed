"""Progress bars for people at a terminal: tqdm on stderr, and none for cron or a pipe."""

from __future__ import annotations

import sys
from typing import Any, Callable


def progress_bar(unit: str, desc: str) -> Callable[[int], Any] | None:
    """A factory `total -> bar` (with `update(n)` and `close()`) when stderr is a
    terminal, else None."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm
    return lambda total: tqdm(total=total, unit=unit, file=sys.stderr, desc=desc, leave=False)
