"""pytest fixtures shared by the tests."""

from __future__ import annotations

import datetime as dt

import pytest


@pytest.fixture
def scan():
    """scan(lines, as_of='2025-12-31', **kw) -> ScanResult, in one worker process."""
    from compliance.scan import scan_lines

    def run(lines, as_of="2025-12-31", **kw):
        return scan_lines(list(lines), dt.date.fromisoformat(as_of), workers=kw.pop("workers", 1), **kw)
    return run
