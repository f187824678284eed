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


class TemplateError(ResourceError):
    """A report or draft template that is missing or broken; one line naming the file."""


def templates_dir() -> Path:
    """The report templates (Markdown draft, Word draft, overview page).

    Not checked here: a missing folder is, like a missing file, a TemplateError when a
    template is opened (`template_error`), so that importing never fails."""
    return Path(str(data("templates")))


def template_error(path: Path | str, exc: Exception) -> TemplateError:
    """What went wrong with the template at `path`, in one Swedish line (Jinja's own
    words in parentheses, for whoever edits the template)."""
    import zipfile

    import jinja2

    if isinstance(exc, (jinja2.TemplateNotFound, FileNotFoundError, NotADirectoryError)):
        return TemplateError(f"{path}: mallen finns inte (en trasig installation?)")
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return TemplateError(f"{path}, rad {exc.lineno}: mallen är felaktig ({exc.message})")
    if isinstance(exc, jinja2.TemplateError):
        return TemplateError(f"{path}: mallen kan inte fyllas i ({exc.message})")
    if isinstance(exc, zipfile.BadZipFile):
        return TemplateError(f"{path}: mallen är ingen Word-fil (docx)")
    if isinstance(exc, OSError):
        return TemplateError(f"{path}: mallen kan inte läsas ({exc.strerror or exc})")
    return TemplateError(f"{path}: mallen kan inte användas ({type(exc).__name__}: {exc})")


def rules_dir() -> Path:
    """The shipped rule files."""
    return data_path("rules")
