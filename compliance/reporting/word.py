"""Word deviation reports: deviations/<case>__<unit>.docx from compliance/data/templates/avvikelse.docx."""

from __future__ import annotations

import re
from pathlib import Path

from docxtpl import DocxTemplate

from ..dates_sv import date_sv, to_date
from ..deviations import TEMPLATES as TEMPLATES_DIR
from .scan_data import EVENT_TYPES_SV, clean, clean_text, safe_name

DOCX_TEMPLATE = "avvikelse.docx"


def _days(n, unit_one: str, unit_many: str) -> str:
    return f"{n} {unit_one if n == 1 else unit_many}"


def late_sv(item: dict) -> str:
    d, b = item.get("days_late"), item.get("business_days_late")
    if d is None:
        return ""
    if d == 0:
        return "ingen (samma dag)"
    text = _days(d, "dag", "dagar")
    if b is not None:
        text += f" ({_days(b, 'vardag', 'vardagar')})"
    return text


def version_sv(version) -> str:
    if version is None:
        return ""
    return f"{version} (gäller från {date_sv(version)})" if to_date(version) else str(version)


SEED_NAMES = {
    "000": "Storsthlm: BUS-överenskommelsen i Stockholmsregionen",
    "001": "Lokal överenskommelse för samverkan kring barn i behov av särskilt stöd (BUS), Skarpnäck 2018",
    "002": "Lokal BUS-överenskommelse Spånga-Tensta och Rinkeby-Kista",
    "003": "Samverkansavtal BUS, Nynäshamns kommun och Stockholms läns landsting (2004–2005)",
    "004": "BUS Gotland, BarnSam Region Gotland (2013)",
}


def source_sv(seed) -> str:
    """'001_1379bbdc663f102d.txt' -> the agreement's name, with the seed file for reference."""
    seed = "" if seed is None else str(seed)
    if not seed:
        return "okänd källa"
    name = SEED_NAMES.get(seed[:3])
    return f"{name} (källdokument {seed})" if name else f"källdokument {seed}"


def word_context(ctx: dict, manifest: dict, evidence: dict | None = None,
                 label=None) -> dict:
    """The deviation context plus the ready-formatted fields the template shows.

    ``evidence`` (event id -> evidence.jsonl row) and ``label`` (unit id -> name) add the
    recipient of an invitation to its line in the timeline.
    """
    ctx = clean(ctx)
    evidence = evidence or {}
    tool = manifest.get("tool") or {}
    out = dict(ctx)
    out["date_sv"] = date_sv(ctx.get("date"))
    out["as_of_sv"] = date_sv(manifest.get("as_of"))
    out["tool"] = " ".join(str(x) for x in (tool.get("name"), tool.get("version")) if x) or "compliance"
    for key in ("reporting_unit", "receiving_unit"):
        unit = dict(ctx.get(key) or {})
        unit.setdefault("name", unit.get("id") or "")
        unit["name"] = unit.get("name") or unit.get("id") or ""
        unit["manager"] = unit.get("manager") or ""
        out[key] = unit
    items = []
    for n, item in enumerate(ctx.get("items") or [], 1):
        item = dict(item)
        item["number"] = n
        item["title"] = item.get("title") or item.get("rule") or ""
        item["due_sv"] = date_sv(item.get("due"))
        item["actual_sv"] = date_sv(item.get("actual")) or "har inte skett"
        item["late_sv"] = late_sv(item)
        item["rule_version_sv"] = version_sv(item.get("rule_version"))
        item["sources"] = [dict(s, source_sv=s.get("citation") or source_sv(s.get("seed")))
                           for s in item.get("sources") or [] if isinstance(s, dict)]
        items.append(item)
    out["items"] = items
    timeline = []
    for e in ctx.get("timeline") or []:
        e = dict(e)
        e["date_sv"] = date_sv(e.get("date"))
        e["type_sv"] = e.get("type_sv") or EVENT_TYPES_SV.get(e.get("type"), e.get("type") or "")
        to = e.get("to") or (evidence.get(e.get("id")) or {}).get("to")
        if to and e.get("type") == "invitation.sent" and " till " not in e["type_sv"]:
            who = e.get("to_name") or {"guardian": "vårdnadshavare", "child": "barnet"}.get(to) \
                or (label(to) if label else to)
            e["type_sv"] += f" till {clean_text(who)}"
        e["unit_name"] = e.get("unit_name") or e.get("unit") or ""
        timeline.append(e)
    out["timeline"] = timeline
    return out


def docx_stem(ctx: dict) -> str:
    """The draft's own file name (so the .docx sits beside its .md), unless it is unsafe."""
    name = ctx.get("filename")
    if isinstance(name, str) and name and not name.startswith(".") and not re.search(r"[/\\\x00-\x1f]", name):
        return name
    return safe_name(name or f"{ctx.get('case')}__{(ctx.get('receiving_unit') or {}).get('id')}")


def write_deviation_docx(ctx: dict, manifest: dict, out_dir: Path,
                         template_dir: Path = TEMPLATES_DIR, evidence: dict | None = None,
                         label=None) -> Path:
    stem = docx_stem(ctx)
    path = Path(out_dir) / "deviations" / f"{stem}.docx"
    path.parent.mkdir(parents=True, exist_ok=True)
    tpl = DocxTemplate(str(Path(template_dir) / DOCX_TEMPLATE))
    tpl.render(word_context(ctx, manifest, evidence, label), autoescape=True)
    tmp = path.with_suffix(".docx.tmp")
    tpl.save(str(tmp))
    tmp.replace(path)
    return path
