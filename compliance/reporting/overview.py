"""overview.html for the BUS steering group: one self-contained page (Jinja2 + inline SVG).

Counts findings per rule, unit and half-year, draws the trend with matplotlib (SVG, text as
paths, so no font is fetched) on a continuous time axis, lists repeat absences and computes
the indicators seed 001 asks the BUS secretariat to follow, per half-year and year, split
by the child's gender. Findings for information (status `information`) are shown apart and
never counted as breaches. With a state store it shows the review status, what is new and
what changed since the last run; units the register does not know are listed.
"""

from __future__ import annotations

import functools
import io
import re
from collections import defaultdict
from pathlib import Path
from typing import Mapping

import jinja2
import matplotlib
from matplotlib.figure import Figure

from ..dates_sv import date_sv, half_year, half_year_sv, to_date
from ..deviations import TEMPLATES as TEMPLATES_DIR
from ..resources import template_error
from ..units import Unit
from .scan_data import (CLOSED_REVIEW, REVIEW_ORDER, Scan, clean, clean_text, finding_id_text,
                        finding_states, review_sv, unit_name)

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


def _period_keys(d) -> tuple:
    """The two periods a date counts in: its half-year and its year (none without a date)."""
    h = half_year(d)
    return (("H", h), ("Y", h[0])) if h else ()


def _count_table(title: str, note: str, periods, items) -> dict:
    """items: (date, gender, key) triples; counts distinct keys per period and gender.
    Each item is put into its periods once (not every period compared with every item:
    a million-event log has a hundred thousand cases and 70 periods)."""
    sets = defaultdict(set)
    for d, g, key in items:
        for p in _period_keys(d):
            sets[(p, g)].add(key)
    rows = []
    for p in periods:
        counts = [len(sets.get((p, g), ())) for g, _ in GENDERS]
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
    decided, within, still_open = defaultdict(int), defaultdict(int), defaultdict(int)
    for d, _, _, in_time in sip:
        for p in _period_keys(d):
            if in_time is None:
                still_open[p] += 1
            else:
                decided[p] += 1
                within[p] += in_time is True
    share = [{
        "period": _period_label(p), "year_row": p[0] == "Y", "within": within[p],
        "decided": decided[p], "open": still_open[p],
        "percent": f"{round(100 * within[p] / decided[p])} %" if decided[p] else "–",
    } for p in periods]
    return {"tables": tables, "share": share, "genders": [g for _, g in GENDERS],
            "has_data": bool(periods)}


def _next_half(h: tuple[int, int]) -> tuple[int, int]:
    return (h[0], 2) if h[1] == 1 else (h[0] + 1, 1)


def _half_years(first: tuple[int, int], last: tuple[int, int]) -> list[tuple[int, int]]:
    """Every half-year from `first` to `last`, both included: the continuous time axis."""
    out, h = [], first
    while h <= last:
        out.append(h)
        h = _next_half(h)
    return out


def _runs(halves: list[tuple[int, int]], keep) -> list[list[tuple[int, int]]]:
    """Consecutive stretches of `halves` (in order) for which keep(h) holds."""
    runs: list[list[tuple[int, int]]] = []
    for h in halves:
        if keep(h):
            if runs and _next_half(runs[-1][-1]) == h:
                runs[-1].append(h)
            else:
                runs.append([h])
    return runs


def activity_halves(scan: Scan) -> set[tuple[int, int]]:
    """Half-years in which the log shows any case activity (an empty half-year is a gap
    in the data, not a half-year without breaches)."""
    dates = []
    for c in scan.cases:
        dates.append(c.get("opened"))
        dates += [p.get("start") for p in c.get("sip_processes") or [] if isinstance(p, dict)]
        dates += [m.get("held") for m in c.get("meetings") or [] if isinstance(m, dict)]
        dates += list(c.get("bus_individ_requests") or [])
    return {h for h in map(half_year, dates) if h}


def _matrix(row_keys, col_keys, counts) -> dict:
    rows = []
    for rk, rlabel in row_keys:
        cells = [counts.get((rk, ck), 0) for ck in col_keys]
        rows.append({"id": rk, "label": rlabel, "cells": cells, "total": sum(cells)})
    col_totals = [sum(counts.get((rk, ck), 0) for rk, _ in row_keys) for ck in col_keys]
    return {"rows": rows, "col_totals": col_totals, "total": sum(col_totals)}


def _half_columns(halves: list[tuple[int, int]]) -> list[dict]:
    """The half-year table's columns: the half-years with breaches, and between two that
    are not next to each other a narrow gap column saying which half-years had none."""
    cols: list[dict] = []
    for h in halves:
        if cols and _next_half(cols[-1]["key"]) != h:
            gap = _half_years(_next_half(cols[-1]["key"]), h)[:-1]
            span = half_year_sv(gap[0]) if len(gap) == 1 else f"{half_year_sv(gap[0])} – {half_year_sv(gap[-1])}"
            cols.append({"key": gap[-1], "gap": True, "label": "…", "title": f"Inga avvikelser {span}"})
        cols.append({"key": h, "gap": False, "label": half_year_sv(h), "title": ""})
    return cols


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


def _x(h: tuple[int, int]) -> float:
    """A half-year's place on the time axis, in years: its middle."""
    return h[0] + (0.25 if h[1] == 1 else 0.75)


def trend_chart(rule_ids, rule_labels, counts, active: set[tuple[int, int]]) -> str:
    """Stacked bars: violations per half-year, one colour per rule, on a continuous axis.

    Every half-year from the first to the last takes its place, so that 2005 and 2024 lie
    19 years apart; the total's line is drawn only across half-years the log has data
    for, and stretches without any are shaded. Each bar and line segment carries an id
    (stapel-ÅÅÅÅ-H-n, totalt-n) so that a browser test can measure the axis.
    """
    with_data = {h for (_, h), n in counts.items() if n}
    span = _half_years(min(with_data | active), max(with_data | active))
    fig = Figure(figsize=(10, 4.2), dpi=100)
    ax = fig.add_subplot(111)
    bottom = {h: 0 for h in span}
    for i, rid in enumerate(rule_ids):
        halves = [h for h in span if counts.get((rid, h), 0)]
        if not halves:
            continue
        bars = ax.bar([_x(h) for h in halves], [counts[(rid, h)] for h in halves],
                      bottom=[bottom[h] for h in halves], width=0.4,
                      color=PALETTE[i % len(PALETTE)],
                      label=" ".join(rule_labels[rid].split()))  # no tab or newline to draw
        for rect, h in zip(bars, halves):
            rect.set_gid(f"stapel-{h[0]}-{h[1]}-{i}")
            bottom[h] += counts[(rid, h)]
    known = with_data | active
    for n, run in enumerate(_runs(span, lambda h: h in known)):
        line, = ax.plot([_x(h) for h in run], [bottom[h] for h in run], color="#222222",
                        marker="o", markersize=3.5, linewidth=1.2,
                        label="Totalt" if n == 0 else "_nolegend_")
        line.set_gid(f"totalt-{n}")
    for n, run in enumerate(_runs(span, lambda h: h not in known)):
        ax.axvspan(run[0][0] + (0 if run[0][1] == 1 else 0.5),
                   run[-1][0] + (0.5 if run[-1][1] == 1 else 1.0), color="#e9e9e9", linewidth=0,
                   label="Inga händelser i loggen" if n == 0 else "_nolegend_", zorder=0)
    for h in span:
        if bottom[h]:
            ax.annotate(str(bottom[h]), (_x(h), bottom[h]), textcoords="offset points",
                        xytext=(0, 4), ha="center", fontsize=7)
    years = span[-1][0] - span[0][0] + 1
    if len(span) <= 8:
        ax.set_xticks([_x(h) for h in span], [half_year_sv(h) for h in span])
    else:
        step = next(s for s in (1, 2, 5, 10, 20, 50) if years / s <= 12)
        first = span[0][0] - span[0][0] % step
        ticks = [y for y in range(first, span[-1][0] + 1, step) if y >= span[0][0]]
        ax.set_xticks([y + 0.5 for y in ticks], [str(y) for y in ticks])
        ax.set_xticks([y for y in range(span[0][0], span[-1][0] + 2)], minor=True)
        ax.set_xlabel("År (staplar per halvår: jan–jun till vänster, jul–dec till höger)", fontsize=8)
    ax.set_xlim(span[0][0] + (0 if span[0][1] == 1 else 0.5) - 0.1,
                span[-1][0] + (0.5 if span[-1][1] == 1 else 1.0) + 0.1)
    if len(span) > 3:
        for label in ax.get_xticklabels():
            label.set_rotation(30 if len(span) <= 8 else 0)
            label.set_horizontalalignment("right" if len(span) <= 8 else "center")
    ax.set_ylabel("Avvikelser")
    ax.set_ylim(0, max(list(bottom.values()) + [1]) * 1.25)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title("Avvikelser per halvår", fontsize=10)
    fig.tight_layout()
    return _svg(fig, "Stapeldiagram: avvikelser per halvår och regel, på en sammanhängande tidsaxel")


def rule_titles(findings: list[dict], meta: dict) -> dict[str, str]:
    """Rule id -> its Swedish title: from the findings, else the manifest's rules."""
    titles: dict[str, str] = {}
    for f in findings:
        if f.get("title"):
            titles.setdefault(str(f.get("rule")), clean_text(f["title"]))
    for r, m in meta.items():
        if m.get("title"):
            titles.setdefault(str(r), clean_text(m["title"]))
    return titles


def _review_context(findings: list[dict], states: dict | None, units) -> dict | None:
    """Review status per unit (open, acknowledged, ...) and what is new since the last run."""
    if states is None:
        return None
    counts: dict = defaultdict(int)
    seen = set()
    for f in findings:
        state = states.get(f.get("id")) or {}
        status = "open" if state.get("status") in (None, "reopen") else state["status"]
        seen.add(status)
        counts[(f.get("unit") or "", status)] += 1
        if state.get("new"):
            counts[(f.get("unit") or "", "__new")] += 1
    # every decision a unit can make gets its column, then any the store knows beyond those
    statuses = [s for s in REVIEW_ORDER if s != "reopen"] + sorted(seen - set(REVIEW_ORDER))
    unit_ids = sorted({f.get("unit") or "" for f in findings}, key=lambda u: (unit_name(units, u), u))
    rows = [{"label": unit_name(units, u), "id": u,
             "cells": [counts.get((u, s), 0) for s in statuses], "new": counts.get((u, "__new"), 0)}
            for u in unit_ids]
    return {"statuses": [{"id": s, "label": review_sv(s)} for s in statuses],
            "rows": rows,
            "totals": [sum(r["cells"][i] for r in rows) for i in range(len(statuses))],
            "n_new": sum(r["new"] for r in rows),
            "n_open": sum(1 for f in findings
                          if (states.get(f.get("id")) or {}).get("status", "open") not in CLOSED_REVIEW)}


CHANGE_SV = {"new": "Ny", "changed": "Ändrad", "resolved": "Löst", "reopened": "Återöppnad"}
FIELD_SV = {"status": "status", "due": "förfallodag", "actual": "utfört", "rule_version": "regelversion"}
MAX_CHANGE_ROWS = 200


def _changes_context(scan: Scan, units, rule_titles) -> dict | None:
    """What changed since the last run (changes.jsonl), for the small table."""
    if scan.changes is None:
        return None
    by_id = {f.get("id"): f for f in scan.findings}
    rows = []
    for c in scan.changes:
        f = {**(by_id.get(c.get("id")) or {}), **c}
        fields = c.get("fields") or c.get("changed") or []
        rows.append({
            "change": CHANGE_SV.get(c.get("change"), clean_text(c.get("change"))),
            "rule": rule_titles(f.get("rule")), "rule_id": clean_text(f.get("rule")),
            "unit": unit_name(units, f.get("unit")), "unit_id": clean_text(f.get("unit")),
            "case": clean_text(f.get("case")), "id": finding_id_text(c.get("id")),
            "fields": ", ".join(FIELD_SV.get(x, clean_text(x)) for x in fields) if isinstance(fields, list) else "",
        })
    counts = [{"label": CHANGE_SV[k], "n": sum(1 for c in scan.changes if c.get("change") == k)}
              for k in CHANGE_SV]
    return {"counts": counts, "rows": rows[:MAX_CHANGE_ROWS], "total": len(rows),
            "cut": len(rows) > MAX_CHANGE_ROWS}


UNKNOWN_UNIT_FIELDS = [("cases", "Ärenden"), ("events", "Händelser"), ("findings", "Brister")]


def _unknown_units(manifest: dict) -> dict | None:
    """The manifest's `unknown_units`: units named in the log but not in the register."""
    entries = manifest.get("unknown_units")
    if not isinstance(entries, list):
        return None
    rows = [e if isinstance(e, dict) else {"id": e} for e in entries]
    fields = [(k, label) for k, label in UNKNOWN_UNIT_FIELDS if any(k in r for r in rows)]
    return {"fields": [label for _, label in fields],
            "rows": [{"id": clean_text(r.get("id", r.get("unit"))),
                      "cells": [r.get(k, "") for k, _ in fields]} for r in rows]}


def overview_context(scan: Scan, units: Mapping[str, Unit],
                     review: Mapping[str, Mapping] | None = None) -> dict:
    findings = clean(scan.findings)
    violations = [f for f in findings if f.get("status") == "violation"]
    warnings = [f for f in findings if f.get("status") == "warning"]
    information = [f for f in findings if f.get("status") == "information"]
    meta = scan.rule_meta()

    titles = rule_titles(findings, meta)

    def title(rule):
        return titles.get(str(rule)) or clean_text(rule)

    label = functools.partial(unit_name, units)
    rule_ids = sorted({str(f.get("rule")) for f in violations})
    unit_ids = sorted({f.get("unit") or "" for f in violations}, key=lambda u: (label(u), u))
    halves = sorted({half_year(f.get("due")) for f in violations if half_year(f.get("due"))})

    by_rule_unit, by_rule_half = defaultdict(int), defaultdict(int)
    for f in violations:
        by_rule_unit[(f.get("unit") or "", str(f.get("rule")))] += 1
        if half_year(f.get("due")):
            by_rule_half[(str(f.get("rule")), half_year(f.get("due")))] += 1
    unit_matrix = _matrix([(u, label(u)) for u in unit_ids], rule_ids, by_rule_unit)
    unit_matrix["cols"] = [{"id": r, "title": title(r)} for r in rule_ids]
    half_cols = _half_columns(halves)
    half_matrix = _matrix([(r, title(r)) for r in rule_ids], [c["key"] for c in half_cols],
                          by_rule_half)
    half_matrix["cols"] = half_cols

    absences = defaultdict(lambda: {"meetings": set(), "cases": set()})
    for f in violations:
        if f.get("rule") == "mandatory-attendance" and half_year(f.get("due")):
            a = absences[(f.get("unit") or "", half_year(f.get("due")))]
            a["meetings"].add((str(f.get("case")), str(f.get("meeting"))))
            a["cases"].add(str(f.get("case")))
    repeat = [
        {"unit": label(u), "unit_id": u, "period": half_year_sv(h),
         "meetings": len(a["meetings"]), "cases": len(a["cases"])}
        for (u, h), a in sorted(absences.items(), key=lambda kv: (kv[0][1], label(kv[0][0])))
        if len(a["meetings"]) >= ABSENCE_THRESHOLD
    ]

    info = defaultdict(int)
    for f in information:
        info[(str(f.get("rule")), f.get("unit") or "")] += 1
    information_rows = [{"rule": title(r), "rule_id": r, "unit": label(u), "unit_id": u, "n": n}
                        for (r, u), n in sorted(info.items(), key=lambda kv: (title(kv[0][0]), label(kv[0][1])))]

    tool = scan.manifest.get("tool") or {}
    rules_used = [{"id": clean_text(r.get("id")), "version": clean_text(r.get("version")),
                   "title": clean_text(r.get("title"))} for r in scan.manifest.get("rules") or []
                  if isinstance(r, dict)]
    states = finding_states(scan, review)
    return {
        "as_of": date_sv(scan.manifest.get("as_of")),
        "tool": clean_text(" ".join(str(x) for x in (tool.get("name"), tool.get("version")) if x)),
        "rules_used": rules_used,
        "rules_digest": clean_text(str(scan.manifest.get("rules_digest") or "")[:16]),
        "n_cases": len(scan.cases),
        "n_violations": len(violations),
        "n_warnings": len(warnings),
        "n_deviation_units": len({f.get("unit") for f in violations}),
        "unit_matrix": unit_matrix,
        "half_matrix": half_matrix,
        "chart": (trend_chart(rule_ids, {r: title(r) for r in rule_ids}, by_rule_half, activity_halves(scan))
                  if halves else ""),
        "repeat_absences": repeat,
        "absence_threshold": ABSENCE_THRESHOLD,
        "information": information_rows,
        "review": _review_context(violations + warnings, states, units),
        "changes": _changes_context(scan, units, title),
        "unknown_units": _unknown_units(scan.manifest),
        "indicators": indicators(scan),
        "empty": not findings and not scan.cases,
    }


def plural(n: int, one: str, many: str) -> str:
    """The noun for a count: {{ n|plural("avvikelse", "avvikelser") }}."""
    return one if n == 1 else many


def overview_template(template_dir: Path = TEMPLATES_DIR) -> jinja2.Template:
    """overview.html's template, compiled (TemplateError naming the file when it is
    missing or not valid Jinja)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(template_dir)),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["plural"] = plural
    try:
        return env.get_template(HTML_TEMPLATE)
    except (jinja2.TemplateError, OSError) as exc:
        raise template_error(Path(template_dir) / HTML_TEMPLATE, exc) from None


def render_overview(scan: Scan, units: Mapping[str, Unit], template_dir: Path = TEMPLATES_DIR,
                    review: Mapping[str, Mapping] | None = None) -> str:
    template = overview_template(template_dir)
    context = overview_context(scan, units, review)
    try:
        return template.render(context)
    except (jinja2.TemplateError, OSError) as exc:
        raise template_error(Path(template_dir) / HTML_TEMPLATE, exc) from None


def write_overview(scan: Scan, units: Mapping[str, Unit], out_dir: Path,
                   template_dir: Path = TEMPLATES_DIR,
                   review: Mapping[str, Mapping] | None = None) -> Path:
    path = Path(out_dir) / "overview.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(render_overview(scan, units, template_dir, review), encoding="utf-8")
    tmp.replace(path)
    return path
