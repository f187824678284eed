"""Build compliance/data/templates/avvikelse.docx, the Word template of the deviation draft.

Run once (``python tools/make_docx_template.py``); after that the .docx is the source:
the BUS secretariat may open it in Word and change wording, layout, logos and fonts freely,
as long as the {{ ... }} fields and the {%p ... %} / {%tr ... %} lines stay whole
(see docs/reports.md). Running this script again overwrites such edits.

The fields are those of a draft's context (`compliance.deviations.case_drafts`); the
template is compiled once and filled by `compliance.reporting.word.WordTemplate`.

Layout choices, so that it prints cleanly: fixed column widths (no word broken inside a
column), the timeline's header row repeated on every page and no row split across pages,
compact empty fields, and only the styles the form uses (python-docx's default template
carries 780 kB of styles that every one of a hundred thousand drafts would repeat).
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Emu, Pt, RGBColor
from lxml import etree

OUT = Path(__file__).resolve().parent.parent / "compliance" / "data" / "templates" / "avvikelse.docx"

STEPS = [
    "Om inte överenskommelse nås mellan parterna kan individ-BUS sammankallas av den part som "
    "ser behovet av detta. Om överenskommelse inte kan nås inom individ-BUS ska frågan om "
    "avvikelserapportering aktualiseras under mötet.",
    "Den föredragande parten som aktualiserat ärendet under individ-BUS tar ansvar för att göra "
    "avvikelserapporteringen till berörda verksamheter och BUS-sekretariatet.",
    "En avvikelserapport skickas av ansvarig chef vid rapporterande verksamhet (chef A) till "
    "ansvarig chef (B) vid den mottagande verksamheten.",
    "När den mottagande verksamheten tagit emot avvikelserna skrivs ett svar som skickas tillbaka "
    "till rapporterande verksamhet samt kopia till sammankallande för BUS-styrgrupp. Kopia på "
    "avvikelserapporten skickas även till BUS-sekretariatet.",
    "Sekreterare för BUS-styrgrupp sammanställer avvikelserapporterna som tas upp som stående "
    "punkt på BUS-styrgruppsmöte och då diskuteras förslag på åtgärder.",
    "BUS-styrgruppen fattar beslut om åtgärder som dokumenteras (under punkten ”Avslutning av "
    "ärendet”). En kopia av den kompletta avvikelserapporten skickas även till BUS-sekretariatet.",
    "Den nya informationen kommuniceras till berörda verksamheter.",
]

TEXT_WIDTH = Cm(16.6)          # A4 minus 2.2 cm margins
# The timeline: widths for the content (a date "30 september 2025", a time, an event
# with its recipient, a unit's name, a meeting id, an event id).
TIMELINE = [("Datum", Cm(2.9), "{{ e.date_sv }}"), ("Tid", Cm(1.1), "{{ e.time }}"),
            ("Händelse", Cm(4.3), "{{ e.what }}"), ("Verksamhet", Cm(4.2), "{{ e.unit_name }}"),
            ("Möte", Cm(1.4), "{{ e.meeting }}"), ("Händelse-id", Cm(2.7), "{{ e.id }}")]
SMALL = Pt(9.5)


def set_language(doc, lang: str = "sv-SE") -> None:
    """Swedish spelling and hyphenation for the whole document (docDefaults)."""
    rpr = doc.styles.element.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    el = rpr.find(qn("w:lang"))
    if el is None:
        el = OxmlElement("w:lang")
        rpr.append(el)
    el.set(qn("w:val"), lang)
    el.set(qn("w:eastAsia"), lang)


def _el(tag: str, **attrs: str):
    el = OxmlElement(tag)
    for k, v in attrs.items():
        el.set(qn(f"w:{k}"), v)
    return el


def shade(cell, fill: str = "E7EEF5") -> None:
    cell._tc.get_or_add_tcPr().append(_el("w:shd", val="clear", color="auto", fill=fill))


def fixed_table(doc, widths, rows: int = 0):
    """A table with fixed column widths (Word and LibreOffice both keep them)."""
    table = doc.add_table(rows=rows, cols=len(widths))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.LEFT
    table.autofit = False
    tblpr = table._tbl.tblPr
    tblpr.append(_el("w:tblLayout", type="fixed"))
    for col, width in zip(table._tbl.tblGrid.findall(qn("w:gridCol")), widths):
        col.set(qn("w:w"), str(int(width.twips)))
    return table


def set_widths(row, widths) -> None:
    for cell, width in zip(row.cells, widths):
        cell.width = width


def keep_row_whole(row, header: bool = False) -> None:
    """No page break inside the row; a header row repeats on every page."""
    trpr = row._tr.get_or_add_trPr()
    trpr.append(_el("w:cantSplit"))
    if header:
        trpr.append(_el("w:tblHeader"))


def field_table(doc, rows, label_width=Cm(6.6)):
    """A two-column form: bold labels on the left, values (or space to write) on the right,
    kept on one page."""
    widths = [label_width, Emu(TEXT_WIDTH - label_width)]
    table = fixed_table(doc, widths)
    for label, value, lines in rows:
        row = table.add_row()
        set_widths(row, widths)
        keep_row_whole(row)
        cells = row.cells
        shade(cells[0])
        run = cells[0].paragraphs[0].add_run(label)
        run.bold, run.font.size = True, SMALL
        cells[1].paragraphs[0].add_run(value)
        for _ in range(lines - 1):
            cells[1].add_paragraph("")
    for row in table.rows[:-1]:
        for cell in row.cells:
            for p in cell.paragraphs:
                p.paragraph_format.keep_with_next = True
    return table


def paragraph(doc, text: str = "", style: str | None = None, size: float | None = None,
              keep_with_next: bool = False, bold_prefix: str = ""):
    p = doc.add_paragraph(style=style)
    if bold_prefix:
        p.add_run(bold_prefix).bold = True
    run = p.add_run(text)
    if size:
        run.font.size = Pt(size)
    if keep_with_next:
        p.paragraph_format.keep_with_next = True
    return p


def tag(doc, text: str) -> None:
    """A docxtpl paragraph tag ({%p ... %}): the paragraph itself disappears when filled."""
    doc.add_paragraph(text)


def build() -> bytes:
    doc = Document()
    set_language(doc)
    normal = doc.styles["Normal"]
    normal.font.name = "Calibri"
    normal.font.size = Pt(10.5)
    normal.paragraph_format.space_after = Pt(3)
    for name, size, before in (("Title", 20, 0), ("Heading 1", 13, 10), ("Heading 2", 11.5, 8)):
        style = doc.styles[name]
        style.font.size = Pt(size)
        style.paragraph_format.space_before = Pt(before)
        style.paragraph_format.space_after = Pt(3)
    section = doc.sections[0]
    section.page_width, section.page_height = Cm(21.0), Cm(29.7)      # A4
    section.left_margin = section.right_margin = Cm(2.2)
    section.top_margin = section.bottom_margin = Cm(1.8)

    props = doc.core_properties
    props.title = "Avvikelserapport (utkast)"
    props.subject = "Avvikelserapport enligt BUS-överenskommelsen"
    props.author = "BUS-sekretariatet"
    props.last_modified_by = "BUS-sekretariatet"
    props.language = "sv-SE"
    props.created = props.modified = dt.datetime(2025, 1, 1)
    props.revision = 1

    tag(doc, "{%p if samverkan %}")
    doc.add_heading("Avvikelseblankett för BUS-samverkan", level=0)
    paragraph(doc, "Utkast till avvikelserapport – ärende {{ case }}, skrivet {{ date_sv }}").runs[0].bold = True
    paragraph(doc, "Avvikelse i samverkan kring barn och unga i behov av särskilt stöd enligt "
              "BUS-överenskommelsen. Rapporten skickas av ansvarig chef vid rapporterande "
              "verksamhet (chef A) till ansvarig chef vid mottagande verksamhet (chef B), med "
              "kopia till BUS-sekretariatet och sammankallande för BUS-styrgruppen.")
    tag(doc, "{%p else %}")
    doc.add_heading("Intern avvikelse", level=0)
    paragraph(doc, "Utkast till avvikelserapport – ärende {{ case }}, skrivet {{ date_sv }}").runs[0].bold = True
    paragraph(doc, "Avvikelse i verksamhetens egen avvikelsehantering (egenkontroll). Ingen annan "
              "verksamhet är berörd: rapporten går till verksamhetens egen chef och skickas inte "
              "utanför verksamheten.")
    tag(doc, "{%p endif %}")

    doc.add_heading("Uppgifter om avvikelsen", level=1)
    field_table(doc, [
        ("Typ av avvikelse", "{{ kind_sv }}", 1),
        ("Datum (utkastet skrivet)", "{{ date_sv }}", 1),
        ("Ärende (pseudonym)", "{{ case }}", 1),
        ("Rapporterande verksamhet (A)", "{{ reporting_unit.name }}", 1),
        ("Ansvarig chef (A)", "{{ reporting_unit.manager }}", 1),
        ("Mottagande verksamhet (B)", "{{ receiving_unit.name }}", 1),
        ("Ansvarig chef (B)", "{{ receiving_unit.manager }}", 1),
    ])
    tag(doc, "{%p if filed %}")
    paragraph(doc, "Redan anmäld avvikelse i ärendet:", keep_with_next=True).runs[0].bold = True
    tag(doc, "{%p for d in filed %}")
    paragraph(doc, "{{ d.reference }}: {{ d.title }} (fynd {{ d.finding }})", style="List Bullet")
    tag(doc, "{%p endfor %}")
    tag(doc, "{%p endif %}")

    doc.add_heading("Vad som inte har uppfyllts", level=1)
    tag(doc, "{%p for item in items %}")
    doc.add_heading("{{ item.number }}. {{ item.title }} ({{ item.date_sv }})", level=2)
    paragraph(doc, "{{ item.message }}", keep_with_next=True)
    paragraph(doc, "{{ item.id }} · regel {{ item.rule }}, version {{ item.rule_version }}",
              bold_prefix="Fynd-id: ", keep_with_next=True)
    tag(doc, "{%p for fact in item.facts %}")
    paragraph(doc, "{{ fact.value }}", bold_prefix="{{ fact.label }}: ", keep_with_next=True)
    tag(doc, "{%p endfor %}")
    tag(doc, "{%p if item.deadline %}")
    paragraph(doc, "{{ item.deadline }}", bold_prefix="Så räknades sista dagen: ", keep_with_next=True)
    tag(doc, "{%p endif %}")
    tag(doc, "{%p for s in item.sources %}")
    tag(doc, "{%p if s.quote %}")
    paragraph(doc, "”{{ s.quote }}”", style="Quote", keep_with_next=True)
    paragraph(doc, "— {{ s.citation }}", style="Quote", size=9)
    tag(doc, "{%p else %}")
    paragraph(doc, "{{ s.citation }}", style="Quote", size=9)
    tag(doc, "{%p endif %}")
    tag(doc, "{%p endfor %}")
    tag(doc, "{%p endfor %}")

    doc.add_heading("Händelseförlopp", level=1)
    paragraph(doc, "Händelserna som avvikelsen grundar sig på, i tidsordning.", keep_with_next=True)
    widths = [w for _, w, _ in TIMELINE]
    table = fixed_table(doc, widths, rows=4)
    for row in table.rows:
        set_widths(row, widths)
    keep_row_whole(table.rows[0], header=True)
    keep_row_whole(table.rows[2])
    for cell, (head, _, _) in zip(table.rows[0].cells, TIMELINE):
        shade(cell)
        run = cell.paragraphs[0].add_run(head)
        run.bold, run.font.size = True, SMALL
    table.rows[1].cells[0].paragraphs[0].add_run("{%tr for e in timeline %}")
    for cell, (_, _, field) in zip(table.rows[2].cells, TIMELINE):
        cell.paragraphs[0].add_run(field).font.size = SMALL
    table.rows[3].cells[0].paragraphs[0].add_run("{%tr endfor %}")

    tag(doc, "{%p if samverkan %}")
    doc.add_heading("Förslag till åtgärd", level=1)
    paragraph(doc, "Fylls i av rapporterande verksamhet (chef A).", keep_with_next=True)
    field_table(doc, [("Förslag till åtgärd", "", 3), ("Datum och underskrift, chef A", "", 1)])
    doc.add_heading("Svar från mottagande verksamhet", level=1)
    paragraph(doc, "Fylls i av mottagande verksamhet (chef B). Svaret skickas till rapporterande "
              "verksamhet med kopia till sammankallande för BUS-styrgruppen.", keep_with_next=True)
    field_table(doc, [("Svar", "", 3), ("Vidtagna eller planerade åtgärder", "", 2),
                      ("Datum och underskrift, chef B", "", 1)])
    doc.add_heading("Avslutning av ärendet", level=1)
    paragraph(doc, "Fylls i av BUS-styrgruppen (steg 6).", keep_with_next=True)
    field_table(doc, [("Styrgruppens beslut om åtgärder", "", 3),
                      ("Datum för styrgruppsmötet", "", 1),
                      ("Informerade verksamheter (steg 7)", "", 1)])
    doc.add_heading("Kopia till", level=1)
    paragraph(doc, "BUS-sekretariatet: {{ bus_secretariat }}", style="List Bullet")
    paragraph(doc, "Sammankallande för BUS-styrgruppen: {{ steering_group_convener }}",
              style="List Bullet")
    doc.add_heading("Så hanteras avvikelsen", level=1)
    paragraph(doc, "Rutin för avvikelserapportering enligt BUS-överenskommelsen:", size=8.5,
              keep_with_next=True)
    for n, step in enumerate(STEPS, 1):
        p = paragraph(doc, f"{n}) {step}", size=8.5, keep_with_next=n < len(STEPS))
        p.paragraph_format.space_after = Pt(1)
    tag(doc, "{%p else %}")
    doc.add_heading("Utredning och åtgärd", level=1)
    paragraph(doc, "Fylls i av verksamhetens ansvariga chef i den egna avvikelsehanteringen.",
              keep_with_next=True)
    field_table(doc, [("Orsak", "", 2), ("Åtgärd och uppföljning", "", 3),
                      ("Datum och underskrift, chef", "", 1)])
    tag(doc, "{%p endif %}")

    footer = section.footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.LEFT
    run = footer.add_run(
        "Utkast skrivet {{ date_sv }} av {{ tool }} ur ärendeloggen, bedömd per {{ as_of_sv }}. "
        "Ärendet anges endast med pseudonym; skriv aldrig personnummer eller namn i blanketten."
    )
    run.font.size = Pt(8)
    run.font.color.rgb = RGBColor(0x55, 0x55, 0x55)

    buf = io.BytesIO()
    doc.save(buf)
    return slim(buf.getvalue())


# --- only what the form uses ---------------------------------------------------------------

_DROP = ("word/stylesWithEffects.xml", "docProps/thumbnail.jpeg")
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def slim(docx: bytes) -> bytes:
    """The package without the parts and styles the form does not use."""
    src = zipfile.ZipFile(io.BytesIO(docx))
    used = set()
    for name in src.namelist():
        if re.fullmatch(r"word/(document|footer\d*|header\d*|numbering)\.xml", name):
            used |= set(re.findall(rb'w:(?:pStyle|rStyle|tblStyle|numStyleLink|styleLink) w:val="([^"]+)"',
                                   src.read(name)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename in _DROP:
                continue
            data = src.read(info)
            if info.filename == "word/styles.xml":
                data = _prune_styles(data, {u.decode() for u in used})
            elif info.filename.endswith(".rels") or info.filename == "[Content_Types].xml":
                for drop in _DROP:
                    base = drop.rsplit("/", 1)[1]
                    data = re.sub(rb"<(?:Relationship|Override)[^>]*" + re.escape(base.encode()) + rb'"[^>]*/>',
                                  b"", data)
            info.date_time = (2025, 1, 1, 0, 0, 0)
            dst.writestr(info, data)
    return out.getvalue()


def _prune_styles(data: bytes, used: set[str]) -> bytes:
    root = etree.fromstring(data)
    styles = {s.get(f"{W}styleId"): s for s in root.findall(f"{W}style")}
    keep = {sid for sid, s in styles.items() if s.get(f"{W}default") == "1"} | (used & set(styles))
    todo = list(keep)
    while todo:                         # what the kept styles are based on or linked to
        s = styles[todo.pop()]
        for ref in ("basedOn", "next", "link"):
            el = s.find(f"{W}{ref}")
            sid = el.get(f"{W}val") if el is not None else None
            if sid in styles and sid not in keep:
                keep.add(sid)
                todo.append(sid)
    for sid, s in styles.items():
        if sid not in keep:
            root.remove(s)
    latent = root.find(f"{W}latentStyles")
    if latent is not None:
        root.remove(latent)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def main() -> None:
    OUT.write_bytes(build())
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
