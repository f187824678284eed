"""The data the package ships: rules, profiles, the source register and report templates.

Everything is loaded through `importlib.resources`, so an installed wheel finds it exactly
as a source checkout does (nothing is looked up beside the repository). A user can still
point `--rules DIR` at a folder of their own.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

_DATA = files("compliance") / "data"


class ResourceError(Exception):
    """A packaged file is missing (a broken installation); one line for stderr."""


def data(*parts: str) -> Traversable:
    """A file or folder under `compliance/data/`."""
    node = _DATA
    for part in parts:
        node = node / part
    return node


def data_path(*parts: str) -> Path:
    """The same as a file-system path (a wheel installs its data as plain files)."""
    node = data(*parts)
    if not node.is_file() and not node.is_dir():
        raise ResourceError(f"compliance/data/{'/'.join(parts)}: filen saknas i installationen")
    return Path(str(node))


def templates_dir() -> Path:
    """The report templates (Markdown draft, Word draft, overview page)."""
    return data_path("templates")


def rules_dir() -> Path:
    """The shipped rule files."""
    return data_path("rules")
