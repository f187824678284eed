"""Word deviation drafts: `deviations/<name>.docx` from compliance/data/templates/avvikelse.docx.

The template is an ordinary Word document with docxtpl's tags (`{{ case }}`, `{%p for
item in items %}`, `{%tr for e in timeline %}`), which the BUS secretariat may edit in
Word (docs/reports.md). docxtpl parses and compiles the template again for every document
(about 65 ms each); a scan writes a hundred thousand. So the template is compiled once:
docxtpl's own `patch_xml` turns the tags of each text part (document, headers, footers)
into plain Jinja, compiled once per process; every other part of the package is
compressed once. A document is then one Jinja render of its XML, one compression of it
(a footer that is the same for every draft of a run: once), and a zip written around
the parts (`_Zip`): about 0.2 ms.

Every value passes `display_text` (one line, no bidi controls, no personal number) and is
XML-escaped (`_finalize`).
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta
from markupsafe import escape

from ..escaping import CACHE, display_text
from ..resources import template_error, templates_dir

DOCX_TEMPLATE = "avvikelse.docx"
TEMPLATES_DIR = templates_dir()
_TEXT_PART = re.compile(r"word/(?:document|header\d*|footer\d*|footnotes|endnotes)\.xml")
_DOS_DATE = 1 << 5 | 1       # 1980-01-01 00:00: reruns give equal files


@lru_cache(maxsize=CACHE)
def _xml_text(text: str) -> str:
    return str(escape(display_text(text)))


def _finalize(value: Any) -> str:
    """Every value a Word template prints: as a report shows it, XML-escaped (cached: the
    same names, titles and quotes recur in draft after draft)."""
    if type(value) is int:
        return str(value)
    return _xml_text(value if type(value) is str else display_text(value))


class WordTemplate:
    """The Word template, compiled once; `render(draft)` gives a .docx as bytes.

    `draft` is a context of `compliance.deviations.case_drafts` (with `tool`, the tool's
    name and version, for the footer).
    """

    def __init__(self, path: Path | str | None = None):
        import zipfile

        from docxtpl import DocxTemplate       # only its tag parser, once

        from ..deviations import DictFirstEnvironment

        path = self.path = Path(path) if path is not None else TEMPLATES_DIR / DOCX_TEMPLATE
        env = DictFirstEnvironment(finalize=_finalize, undefined=jinja2.StrictUndefined)
        self.parts: list[tuple[bytes, Any]] = []
        try:
            patcher = DocxTemplate(str(path))
            with zipfile.ZipFile(path) as z:
                for info in z.infolist():
                    data = z.read(info)
                    name = info.filename.encode("utf-8")
                    if _TEXT_PART.fullmatch(info.filename) and b"{" in data:
                        self.parts.append((name, _TextPart(env, patcher.patch_xml(data.decode("utf-8")))))
                    else:
                        self.parts.append((name, _Stored.of(data, 9)))
        except (OSError, zipfile.BadZipFile, UnicodeDecodeError, jinja2.TemplateError) as exc:
            raise template_error(path, exc) from None

    def render(self, draft: Mapping[str, Any]) -> bytes:
        z = _Zip()
        try:
            for name, part in self.parts:
                z.add(name, part if isinstance(part, _Stored) else part.render(draft))
        except jinja2.TemplateError as exc:     # a field the template names that drafts lack
            raise template_error(self.path, exc) from None
        return z.finish()


class _TextPart:
    """A part with fields (the document, a header or footer), compiled once.

    A part that prints only plain values (a footer: the date written, the tool, the as-of
    date) is the same for every draft of a run: it is rendered and compressed once per
    set of values."""

    def __init__(self, env: jinja2.Environment, source: str):
        self.template = env.from_string(source)
        self.names = sorted(jinja2.meta.find_undeclared_variables(env.parse(source)))
        self.cache: dict[tuple, _Stored] = {}

    def render(self, draft: Mapping[str, Any]) -> "_Stored":
        values = tuple(draft.get(n) for n in self.names)
        if not all(type(v) is str for v in values):
            return self._render(draft)
        got = self.cache.get(values)
        if got is None:
            if len(self.cache) >= 64:
                self.cache.clear()
            got = self.cache[values] = self._render(draft)
        return got

    def _render(self, draft: Mapping[str, Any]) -> "_Stored":
        # Level 1: a third of the time of level 6 for a tenth more bytes.
        return _Stored.of(self.template.render(draft).encode("utf-8"), 1)


class _Stored:
    """A part as raw deflate data, with its CRC and size."""
    __slots__ = ("data", "crc", "size")

    def __init__(self, data: bytes, crc: int, size: int):
        self.data, self.crc, self.size = data, crc, size

    @classmethod
    def of(cls, raw: bytes, level: int) -> "_Stored":
        c = zlib.compressobj(level, zlib.DEFLATED, -15)
        return cls(c.compress(raw) + c.flush(), zlib.crc32(raw), len(raw))


class _Zip:
    """A minimal zip writer (deflate, no zip64: a draft is far below 4 GB), so that parts
    compressed once are written as they are. Fixed timestamps: reruns give equal bytes."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.central: list[bytes] = []
        self.offset = 0

    def add(self, name: bytes, part: _Stored) -> None:
        head = _LOCAL.pack(0x04034B50, 20, 0x800, 8, 0, _DOS_DATE, part.crc, len(part.data),
                           part.size, len(name), 0)
        self.central.append(_CENTRAL.pack(0x02014B50, 20, 20, 0x800, 8, 0, _DOS_DATE, part.crc,
                                          len(part.data), part.size, len(name), 0, 0, 0, 0, 0,
                                          self.offset) + name)
        self.chunks += (head, name, part.data)
        self.offset += len(head) + len(name) + len(part.data)

    def finish(self) -> bytes:
        central = b"".join(self.central)
        end = _END.pack(0x06054B50, 0, 0, len(self.central), len(self.central), len(central),
                        self.offset, 0)
        return b"".join(self.chunks) + central + end


_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")


def docx_context(draft: Mapping[str, Any], manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The draft's context plus what only the Word form shows (the tool, in its footer)."""
    tool = manifest.get("tool") or {}
    name = " ".join(str(x) for x in (tool.get("name"), tool.get("version")) if x) or "compliance"
    return {**draft, "tool": name}


def write_deviation_docx(draft: Mapping[str, Any], manifest: Mapping[str, Any], out_dir: Path,
                         template_dir: Path = TEMPLATES_DIR) -> Path:
    """One Word draft into `out_dir/deviations/` (for a template being edited: the scan's
    drafts are written by `compliance.deviations.write_drafts`)."""
    path = Path(out_dir) / "deviations" / f"{draft['filename']}.docx"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = WordTemplate(Path(template_dir) / DOCX_TEMPLATE).render(docx_context(draft, manifest))
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path
