"""overview.html for the BUS steering group: one self-contained page (Jinja2 + inline SVG).

Counts findings per rule, unit and half-year, draws the trend with matplotlib (SVG, text as
paths, so no font is fetched), lists repeat absences and computes the indicators seed 001
asks the BUS secretariat to follow, per half-year and year, split by the child's gender.
"""

from __future__ import annotations

import io
import re
from collections import defaultdict
from pathlib import Path

import jinja2
import matplotlib
from matplotlib.figure import Figure

from ..dates_sv import date_sv, half_year, half_year_sv, to_date
from ..deviations import TEMPLATES as TEMPLATES_DIR
from .scan_data import Register, Scan, clean, clean_text

HTML_TEMPLATE = "overview.html.j2"
ABSENCE_THRESHOLD = 3  # meetings missed in one half-year that make a repeat absence

GENDERS = [("female", "Flickor"), ("male", "Pojkar"), ("other", "Annat"), ("unknown", "Uppgift saknas")]
SIP_KINDS = ("sip", "sip_followup")
PALETTE = ["#1f5f8b", "#e07b39", "#3a9d5d", "#b8405e", "#7a5ba6", "#8c6d31", "#4d8fac", "#999999"]


def _gender(case: dict) -> str:
    g = case.get("gender")
    return g if g in dict(GENDERS) else "unknown"


def _periods(dates) -> list[tuple]:
    """('H', (y, h)) for each half-year seen and ('Y', y) for each year, in order."""
    halves = sorted({half_year(d) for d in dates if to_date(d)})
    out = []
    for year in sorted({y for y, _ in halves}):
        out += [("H", hy) for hy in halves if hy[0] == year] + [("Y", year)]
    return out


def _period_label(p) -> str:
    return half_year_sv(p[1]) if p[0] == "H" else f"Helår {p[1]}"


def _in_period(p, d) -> bool:
    d = to_date(d)
    if d is None:
        return False
    return half_year(d) == p[1] if p[0] == "H" else d.year == p[1]


def _count_table(title: str, note: str, periods, items) -> dict:
    """items: (date, gender, key) triples; counts distinct keys per period and gender."""
    rows = []
    for p in periods:
        sets = defaultdict(set)
        for d, g, key in items:
            if _in_period(p, d):
                sets[g].add(key)
        counts = [len(sets[g]) for g, _ in GENDERS]
        rows.append({"period": _period_label(p), "year_row": p[0] == "Y", "counts": counts,
                     "total": sum(counts)})
    return {"title": title, "note": note, "rows": rows}


def indicators(scan: Scan) -> dict:
    sip, sip_meetings, bus_meetings, bus_cases, dates = [], [], [], [], []
    for c in scan.cases:
        case, g = str(c.get("case")), _gender(c)
        for n, p in enumerate(c.get("sip_processes") or []):
            if to_date(p.get("start")):
                sip.append((p.get("start"), g, (case, n), p.get("within_deadline")))
        for m in c.get("meetings") or []:
            held = m.get("held")
            if not to_date(held) or m.get("cancelled") is True:
                continue
            if m.get("kind") in SIP_KINDS:
                sip_meetings.append((held, g, (case, m.get("meeting"))))
            elif m.get("kind") == "bus_individ":
                bus_meetings.append((held, g, (case, m.get("meeting"))))
                bus_cases.append((held, g, case))
        for d in c.get("bus_individ_requests") or []:
            bus_cases.append((d, g, case))
    for seq in (sip, sip_meetings, bus_meetings, bus_cases):
        dates += [t[0] for t in seq]
    periods = _periods(dates)
    tables = [
        _count_table("Antal SIP-processer", "Räknas efter dagen då 30-dagarsfristen började löpa.",
                     periods, [t[:3] for t in sip]),
        _count_table("Antal hållna SIP-möten", "SIP-möten och uppföljningsmöten, efter mötesdag.",
                     periods, sip_meetings),
        _count_table("Antal hållna BUS-individmöten", "Efter mötesdag.", periods, bus_meetings),
        _count_table("Antal ärenden i BUS-individ",
                     "Ärenden som aktualiserats till eller haft möte i BUS-individ under perioden.",
                     periods, bus_cases),
    ]
    share = []
    for p in periods:
        decided = [t for t in sip if _in_period(p, t[0]) and t[3] is not None]
        within = sum(1 for t in decided if t[3] is True)
        still_open = sum(1 for t in sip if _in_period(p, t[0]) and t[3] is None)
        share.append({
            "period": _period_label(p), "year_row": p[0] == "Y", "within": within,
            "decided": len(decided), "open": still_open,
            "percent": f"{round(100 * within / len(decided))} %" if decided else "–",
        })
    return {"tables": tables, "share": share, "genders": [g for _, g in GENDERS],
            "has_data": bool(periods)}


def _matrix(row_keys, col_keys, counts) -> dict:
    rows = []
    for rk, rlabel in row_keys:
        cells = [counts.get((rk, ck), 0) for ck, _ in col_keys]
        rows.append({"label": rlabel, "cells": cells, "total": sum(cells)})
    col_totals = [sum(counts.get((rk, ck), 0) for rk, _ in row_keys) for ck, _ in col_keys]
    return {"cols": [c for _, c in col_keys], "rows": rows, "col_totals": col_totals,
            "total": sum(col_totals)}


def _svg(fig: Figure, label: str) -> str:
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "bus-overview",
                                "svg.image_inline": True}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"',
                 lambda m: f'<svg{m.group(1)} role="img" aria-label="{label}"', svg, count=1)
    return svg


def trend_chart(rule_ids, rule_labels, halves, counts) -> str:
    """Stacked bars: violations per half-year, one colour per rule."""
    fig = Figure(figsize=(min(12, 6 + 0.5 * len(halves)), 3.8), dpi=100)
    ax = fig.add_subplot(111)
    xs = list(range(len(halves)))
    bottom = [0] * len(halves)
    for i, rid in enumerate(rule_ids):
        ys = [counts.get((rid, h), 0) for h in halves]
        ax.bar(xs, ys, bottom=bottom, color=PALETTE[i % len(PALETTE)], label=rule_labels[rid],
               width=0.6)
        bottom = [b + y for b, y in zip(bottom, ys)]
    totals = bottom
    ax.plot(xs, totals, color="#222222", marker="o", linewidth=1.2, label="Totalt")
    for x, t in zip(xs, totals):
        ax.annotate(str(t), (x, t), textcoords="offset points", xytext=(0, 5), ha="center", fontsize=8)
    ax.set_xticks(xs, [half_year_sv(h) for h in halves])
    if len(halves) > 3:
        for label in ax.get_xticklabels():
            label.set_rotation(30)
            label.set_horizontalalignment("right")
    ax.set_ylabel("Avvikelser")
    ax.set_ylim(0, max(totals + [1]) * 1.25)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title("Avvikelser per halvår", fontsize=10)
    fig.tight_layout()
    return _svg(fig, "Stapeldiagram: avvikelser per halvår och regel")


def overview_context(scan: Scan, register: Register) -> dict:
    findings = clean(scan.findings)
    violations = [f for f in findings if f.get("status") == "violation"]
    warnings = [f for f in findings if f.get("status") == "warning"]
    meta = scan.rule_meta()
    rule_ids = sorted({str(f.get("rule")) for f in violations})
    rule_titles = {r: clean_text(next((f.get("title") for f in violations if f.get("rule") == r and f.get("title")),
                                      None) or (meta.get(r) or {}).get("title") or r) for r in rule_ids}
    unit_ids = sorted({f.get("unit") or "" for f in violations}, key=lambda u: (register.label(u or None), u))
    halves = sorted({half_year(f.get("due")) for f in violations if half_year(f.get("due"))})

    by_rule_unit, by_rule_half = defaultdict(int), defaultdict(int)
    for f in violations:
        by_rule_unit[(f.get("unit") or "", str(f.get("rule")))] += 1
        if half_year(f.get("due")):
            by_rule_half[(str(f.get("rule")), half_year(f.get("due")))] += 1
    rule_cols = [(r, r) for r in rule_ids]
    unit_matrix = _matrix([(u, register.label(u or None)) for u in unit_ids], rule_cols, by_rule_unit)
    half_matrix = _matrix([(r, rule_titles[r]) for r in rule_ids],
                          [(h, half_year_sv(h)) for h in halves], by_rule_half)

    absences = defaultdict(lambda: {"meetings": set(), "cases": set()})
    for f in violations:
        if f.get("rule") == "mandatory-attendance" and half_year(f.get("due")):
            a = absences[(f.get("unit") or "", half_year(f.get("due")))]
            a["meetings"].add((str(f.get("case")), str(f.get("meeting"))))
            a["cases"].add(str(f.get("case")))
    repeat = [
        {"unit": register.label(u or None), "unit_id": u, "period": half_year_sv(h),
         "meetings": len(a["meetings"]), "cases": len(a["cases"])}
        for (u, h), a in sorted(absences.items(), key=lambda kv: (kv[0][1], register.label(kv[0][0] or None)))
        if len(a["meetings"]) >= ABSENCE_THRESHOLD
    ]

    tool = scan.manifest.get("tool") or {}
    rules_used = [{"id": clean_text(r.get("id")), "version": clean_text(r.get("version")),
                   "title": clean_text(r.get("title"))} for r in scan.manifest.get("rules") or []
                  if isinstance(r, dict)]
    return {
        "as_of": date_sv(scan.manifest.get("as_of")),
        "tool": clean_text(" ".join(str(x) for x in (tool.get("name"), tool.get("version")) if x)),
        "rules_used": rules_used,
        "rules_digest": clean_text(str(scan.manifest.get("rules_digest") or "")[:16]),
        "n_cases": len(scan.cases),
        "n_violations": len(violations),
        "n_warnings": len(warnings),
        "n_deviation_units": len({f.get("unit") for f in violations}),
        "rule_ids": rule_ids,
        "rule_titles": rule_titles,
        "unit_matrix": unit_matrix,
        "half_matrix": half_matrix,
        "chart": trend_chart(rule_ids, rule_titles, halves, by_rule_half) if halves else "",
        "repeat_absences": repeat,
        "absence_threshold": ABSENCE_THRESHOLD,
        "indicators": indicators(scan),
        "empty": not findings and not scan.cases,
    }


def render_overview(scan: Scan, register: Register, template_dir: Path = TEMPLATES_DIR) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(template_dir)),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    return env.get_template(HTML_TEMPLATE).render(overview_context(scan, register))


def write_overview(scan: Scan, register: Register, out_dir: Path,
                   template_dir: Path = TEMPLATES_DIR) -> Path:
    path = Path(out_dir) / "overview.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(render_overview(scan, register, template_dir), encoding="utf-8")
    tmp.replace(path)
    return path
