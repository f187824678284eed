"""Word deviation drafts: `deviations/<name>.docx` from compliance/data/templates/avvikelse.docx.

The template is an ordinary Word document with docxtpl's tags (`{{ case }}`, `{%p for
item in items %}`, `{%tr for e in timeline %}`), which the BUS secretariat may edit in
Word (docs/reports.md). docxtpl parses and compiles the template again for every document
(about 65 ms each); a scan writes a hundred thousand. So the template is compiled once:
docxtpl's own `patch_xml` turns the tags of each text part (document, headers, footers)
into plain Jinja, compiled once per process; every other part of the package is
compressed once. A document is then one Jinja render of its XML, one compression of it,
and a zip written around the parts (`_Zip`).

Every value passes `display_text` (one line, no bidi controls, no personal number) and is
XML-escaped (Jinja's autoescape).
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import escape

from ..escaping import display_text
from ..resources import templates_dir

DOCX_TEMPLATE = "avvikelse.docx"
TEMPLATES_DIR = templates_dir()
_TEXT_PART = re.compile(r"word/(?:document|header\d*|footer\d*|footnotes|endnotes)\.xml")
_STATIC_MIN = 1000           # template text at least this long is compressed once
_DOS_DATE = 1 << 5 | 1       # 1980-01-01 00:00: reruns give equal files


@lru_cache(maxsize=65536)
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

        path = Path(path) if path is not None else TEMPLATES_DIR / DOCX_TEMPLATE
        env = DictFirstEnvironment(finalize=_finalize, undefined=jinja2.StrictUndefined)
        patcher = DocxTemplate(str(path))
        self.parts: list[tuple[bytes, Any, dict[str, _Stored]]] = []
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                data = z.read(info)
                name = info.filename.encode("utf-8")
                if _TEXT_PART.fullmatch(info.filename) and b"{" in data:
                    template = env.from_string(patcher.patch_xml(data.decode("utf-8")))
                    self.parts.append((name, template, _static_texts(template)))
                else:
                    self.parts.append((name, _Stored.of(data, 9, zlib.Z_FINISH), {}))

    def render(self, draft: Mapping[str, Any]) -> bytes:
        z = _Zip()
        for name, part, statics in self.parts:
            z.add(name, part if isinstance(part, _Stored) else _deflate(part.generate(draft), statics))
        return z.finish()


def _static_texts(template: jinja2.Template) -> dict[str, "_Stored"]:
    """The template's long literal texts (what it yields as it is), each compressed once
    and ending on a full flush, so that it can stand in any deflate stream."""
    texts, todo = set(), [template.root_render_func.__code__]
    while todo:
        code = todo.pop()
        for c in code.co_consts:
            if isinstance(c, str) and len(c) >= _STATIC_MIN:
                texts.add(c)
            elif hasattr(c, "co_consts"):
                todo.append(c)
    return {t: _Stored.of(t.encode("utf-8"), 9, zlib.Z_FULL_FLUSH) for t in texts}


def _deflate(pieces: Iterable[str], statics: Mapping[str, "_Stored"]) -> "_Stored":
    """One part, deflated: the pieces a template yields, its long literal texts taken as
    compressed once and the rest (the values and the short texts around them) compressed
    now. After a full flush a deflate stream depends on nothing before it, so the
    compressed blocks can follow each other."""
    c = zlib.compressobj(1, zlib.DEFLATED, -15)
    out: list[bytes] = []
    buf: list[str] = []
    crc = size = 0
    pending = False              # compressed data not yet flushed
    for piece in pieces:
        static = statics.get(piece)
        if static is None:
            buf.append(piece)
            continue
        if buf:
            raw = "".join(buf).encode("utf-8")
            buf = []
            out.append(c.compress(raw))
            crc, size, pending = zlib.crc32(raw, crc), size + len(raw), True
        if pending:
            out.append(c.flush(zlib.Z_FULL_FLUSH))
            pending = False
        out.append(static.data)
        crc, size = zlib.crc32(static.raw, crc), size + static.size
    if buf:
        raw = "".join(buf).encode("utf-8")
        out.append(c.compress(raw))
        crc, size = zlib.crc32(raw, crc), size + len(raw)
    out.append(c.flush(zlib.Z_FINISH))
    return _Stored(b"".join(out), crc, size)


class _Stored:
    """A part as raw deflate data with its CRC and size (and, for a template text, the
    text itself, for the CRC of the part it stands in)."""
    __slots__ = ("data", "crc", "size", "raw")

    def __init__(self, data: bytes, crc: int, size: int, raw: bytes = b""):
        self.data, self.crc, self.size, self.raw = data, crc, size, raw

    @classmethod
    def of(cls, raw: bytes, level: int, mode: int) -> "_Stored":
        c = zlib.compressobj(level, zlib.DEFLATED, -15)
        return cls(c.compress(raw) + c.flush(mode), zlib.crc32(raw), len(raw), raw)


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
