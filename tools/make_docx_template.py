"""Build compliance/data/templates/avvikelse.docx, the Word template of the deviation report.

Run once (``python tools/make_docx_template.py``); after that the .docx is the source:
the BUS secretariat may open it in Word and change wording, layout, logos and fonts freely,
as long as the {{ ... }} fields and the {%p ... %} / {%tr ... %} lines stay whole
(see docs/reports.md). Running this script again overwrites such edits.

The fields are filled by docxtpl (Jinja2) from the deviation context built in
compliance/reporting/word.py.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.oxml import OxmlElement
from docx.shared import Cm, Pt, RGBColor

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


def set_language(doc, lang: str = "sv-SE") -> None:
    """Swedish spelling and hyphenation for the whole document (docDefaults)."""
    rpr = doc.styles.element.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    el = rpr.find(qn("w:lang"))
    if el is None:
        el = OxmlElement("w:lang")
        rpr.append(el)
    el.set(qn("w:val"), lang)
    el.set(qn("w:eastAsia"), lang)


def shade(cell, fill: str = "E7EEF5") -> None:
    tcpr = cell._tc.get_or_add_tcPr()
    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), fill)
    tcpr.append(shd)


def field_table(doc, rows, label_width=Cm(5.5), value_width=Cm(11)):
    """A two-column form: bold labels on the left, values (or space to write) on the right."""
    table = doc.add_table(rows=0, cols=2)
    table.style = "Table Grid"
    for label, value, lines in rows:
        cells = table.add_row().cells
        cells[0].width, cells[1].width = label_width, value_width
        shade(cells[0])
        cells[0].paragraphs[0].add_run(label).bold = True
        cells[1].paragraphs[0].add_run(value)
        for _ in range(lines - 1):
            cells[1].add_paragraph("")
    doc.add_paragraph("")
    return table


def main() -> None:
    doc = Document()
    set_language(doc)
    normal = doc.styles["Normal"]
    normal.font.name = "Calibri"
    normal.font.size = Pt(11)
    section = doc.sections[0]
    section.left_margin = section.right_margin = Cm(2.2)

    props = doc.core_properties
    props.title = "Avvikelseblankett för BUS-samverkan"
    props.subject = "Avvikelserapport enligt BUS-överenskommelsen"
    props.author = "BUS-sekretariatet"
    props.last_modified_by = "BUS-sekretariatet"
    props.language = "sv-SE"
    props.created = props.modified = dt.datetime(2025, 1, 1)
    props.revision = 1

    doc.add_heading("Avvikelseblankett för BUS-samverkan", level=0)
    p = doc.add_paragraph()
    p.add_run("Utkast till avvikelserapport – ärende {{ case }}").bold = True
    doc.add_paragraph(
        "Avvikelse i samverkan kring barn och unga i behov av särskilt stöd enligt "
        "BUS-överenskommelsen. Rapporten skickas av ansvarig chef vid rapporterande "
        "verksamhet (chef A) till ansvarig chef vid mottagande verksamhet (chef B), med "
        "kopia till BUS-sekretariatet och sammankallande för BUS-styrgruppen."
    )

    doc.add_heading("Uppgifter om avvikelsen", level=1)
    field_table(doc, [
        ("Datum", "{{ date_sv }}", 1),
        ("Ärende (pseudonym)", "{{ case }}", 1),
        ("Rapporterande verksamhet (A)", "{{ reporting_unit.name }}", 1),
        ("Ansvarig chef (A)", "{{ reporting_unit.manager }}", 1),
        ("Mottagande verksamhet (B)", "{{ receiving_unit.name }}", 1),
        ("Ansvarig chef (B)", "{{ receiving_unit.manager }}", 1),
    ])

    doc.add_heading("Vad har inte fungerat i samverkan", level=1)
    doc.add_paragraph("{%p for item in items %}")
    doc.add_heading("{{ item.number }}. {{ item.title }}", level=2)
    doc.add_paragraph("{{ item.message }}")
    for label, value in [("Skulle ha skett senast: ", "{{ item.due_sv }}"),
                         ("Skedde: ", "{{ item.actual_sv }}"),
                         ("Försening: ", "{{ item.late_sv }}"),
                         ("Regel: ", "{{ item.rule }}, version {{ item.rule_version_sv }}")]:
        p = doc.add_paragraph()
        p.add_run(label).bold = True
        p.add_run(value)
    doc.add_paragraph("{%p for s in item.sources %}")
    q = doc.add_paragraph(style="Quote")
    q.add_run("”{{ s.quote }}”")
    doc.add_paragraph("Källa: {{ s.source_sv }}", style="Quote")
    doc.add_paragraph("{%p endfor %}")
    doc.add_paragraph("{%p endfor %}")

    doc.add_heading("Händelseförlopp", level=1)
    doc.add_paragraph("Händelserna som avvikelsen grundar sig på, i tidsordning.")
    headers = ["Datum", "Tid", "Händelse", "Verksamhet", "Möte", "Händelse-id"]
    table = doc.add_table(rows=4, cols=len(headers))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, headers):
        shade(cell)
        cell.paragraphs[0].add_run(text).bold = True
    table.rows[1].cells[0].paragraphs[0].add_run("{%tr for e in timeline %}")
    for cell, text in zip(table.rows[2].cells, ["{{ e.date_sv }}", "{{ e.time or '' }}",
                                                "{{ e.type_sv }}", "{{ e.unit_name }}",
                                                "{{ e.meeting or '' }}", "{{ e.id }}"]):
        cell.paragraphs[0].add_run(text)
    table.rows[3].cells[0].paragraphs[0].add_run("{%tr endfor %}")
    doc.add_paragraph("")

    doc.add_heading("Förslag till åtgärd", level=1)
    doc.add_paragraph("Fylls i av rapporterande verksamhet (chef A).")
    field_table(doc, [("Förslag till åtgärd", "", 5), ("Datum och underskrift, chef A", "", 2)])

    doc.add_heading("Svar från mottagande verksamhet", level=1)
    doc.add_paragraph(
        "Fylls i av mottagande verksamhet (chef B). Svaret skickas till rapporterande "
        "verksamhet med kopia till sammankallande för BUS-styrgruppen."
    )
    field_table(doc, [("Svar", "", 5), ("Vidtagna eller planerade åtgärder", "", 3),
                      ("Datum och underskrift, chef B", "", 2)])

    doc.add_heading("Avslutning av ärendet", level=1)
    doc.add_paragraph("Fylls i av BUS-styrgruppen (steg 6).")
    field_table(doc, [("Styrgruppens beslut om åtgärder", "", 5),
                      ("Datum för styrgruppsmötet", "", 1),
                      ("Informerade verksamheter (steg 7)", "", 2)])

    doc.add_heading("Kopia till", level=1)
    doc.add_paragraph("BUS-sekretariatet: {{ bus_secretariat }}", style="List Bullet")
    doc.add_paragraph("Sammankallande för BUS-styrgruppen: {{ steering_group_convener }}",
                      style="List Bullet")

    doc.add_heading("Så hanteras avvikelsen", level=1)
    doc.add_paragraph("Rutin för avvikelserapportering enligt BUS-överenskommelsen:")
    for n, step in enumerate(STEPS, 1):
        doc.add_paragraph(f"{n}) {step}")

    footer = section.footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.LEFT
    run = footer.add_run(
        "Utkast från {{ tool }} per {{ as_of_sv }}. Ärendet anges endast med pseudonym; "
        "skriv aldrig personnummer eller namn i blanketten."
    )
    run.font.size = Pt(8)
    run.font.color.rgb = RGBColor(0x55, 0x55, 0x55)

    doc.save(OUT)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
