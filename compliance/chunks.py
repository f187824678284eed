"""Items in lists of at most `size`: how the scan sends cases to its workers and how the
store writes and reads rows without holding a night's worth of them at once."""

from __future__ import annotations

import itertools
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk
