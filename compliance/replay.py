"""`compliance replay`: one case, step by step, as an auditor checks it (audit.md).

A chronological account: every event of the case with its Stockholm date, type and unit;
for every obligation the case opened, fulfilled or broke, the rule and the version in force
on its due date with the sources it cites, the deadline and how it was computed
(`compliance.explain`), and the verdict with the events it rests on; an obligation that fell
due when no version of its rule was in force says "regeln gällde inte då". It ends with the
findings, which are those `compliance scan` gives for the case: they come from the very same
compiled rules, in a worker process.

Only the case is read from the log: a `.jsonl` line is parsed just far enough to see its
case, and validated only if it is the case's, or if it may claim one of the case's event ids
first (the scan rejects the later of two lines with one id).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import orjson


class ReplayError(Exception):
    """The replay cannot be made; `usage` marks a wrong argument (exit 2), else exit 1."""

    def __init__(self, message: str, usage: bool = False):
        super().__init__(message)
        self.usage = usage


STATUS_SV = {"violation": "brist", "warning": "varning", "information": "information", "met": "uppfyllt"}


# --- reading one case --------------------------------------------------------------------------

class _Lines:
    """A .jsonl file's bytes and where each line starts: lines are found by searching the
    whole file (C speed), not by looking at each line in Python."""

    def __init__(self, path: Path):
        import re
        self.data = path.read_bytes()
        self.starts = [0] + [m.end() for m in re.finditer(b"\n", self.data)]
        if self.starts[-1] == len(self.data):
            self.starts.pop()          # the break that ends the last line starts no line

    def line(self, n: int) -> bytes:
        """Line n (from 1), without its line break."""
        end = self.starts[n] - 1 if n < len(self.starts) else len(self.data)
        return self.data[self.starts[n - 1]:end]

    def holding(self, needles: list[bytes]) -> list[int]:
        """The numbers of the lines that hold any of `needles`."""
        import re
        from bisect import bisect_right
        if not needles:
            return []
        found = re.finditer(b"|".join(re.escape(x) for x in needles), self.data)
        return sorted({bisect_right(self.starts, m.start()) for m in found})


def _case_of(raw: bytes) -> Any:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return data.get("case") if isinstance(data, dict) else None


def read_case(paths: list[Path], case: str, mapping: str | None = None,
              resolver: Any = None) -> tuple[list[str], int]:
    """The case's events, packed as the scan packs them, accepted exactly as the scan
    accepts them (`resolver`: the unit register's, as the scan reads unit names and
    aliases as ids); and how many of the case's lines were rejects."""
    from .reading import _jsonl_record, _source_records, judge, read_sources
    sources: list[tuple[str, Iterable[Any]]] = []
    for file_no, path in enumerate(paths):
        name = str(path)
        if path.suffix.lower() not in (".jsonl", ".ndjson"):
            sources.append((name, judge(_source_records(path, mapping, resolver), file_no)))
            continue
        lines = _Lines(path)
        # Only a line that holds the case id as JSON text can be the case's; with no
        # escape (a backslash) in the line, the id can only be written that one way.
        mine = [n for n in lines.holding([orjson.dumps(case), b"\\"]) if _case_of(lines.line(n)) == case]
        ids = set()
        for n in mine:
            try:
                eid = orjson.loads(lines.line(n)).get("id")
            except (orjson.JSONDecodeError, AttributeError):
                continue
            if isinstance(eid, str):
                ids.add(orjson.dumps(eid))
        # Lines of other cases that may hold one of those ids: they could claim it first.
        own = set(mine)
        others = [n for n in lines.holding(sorted(ids)) if n not in own]
        wanted = sorted(set(mine) | set(others))
        sources.append((name, judge((_jsonl_record(name, n, lines.line(n)) for n in wanted), file_no,
                                    units=resolver)))
    got = read_sources(sources, units=resolver)
    rejected = sum(1 for r in got.rejects if _case_of((r.get("raw") or "").encode()) == case)
    return got.cases.get(case, []), rejected


# --- deciding, in a worker ------------------------------------------------------------------------

@dataclass
class _Job:
    rules_dir: str | None
    profile: str
    as_of: dt.date
    warn_days: int
    case: str
    packed: list[str]


def _decide(job: _Job) -> dict[str, Any]:
    """In a worker process: the scan's findings and the replay's obligations of the case."""
    from .compiler import compile_program
    from .decide import Decider
    from .facts import order_events
    from .scan import prepare
    from .sources import describe
    ruleset, selection, program = prepare(job.rules_dir, job.profile)
    p = selection.profile
    account = compile_program(ruleset, selection.rules, selection.params, (p.valid_from, p.valid_to),
                              replay=True)
    events = [orjson.loads(x) for x in job.packed]
    (scanned,) = Decider(program, job.as_of, job.warn_days).decide([(job.case, events)])
    replayer = Decider(account, job.as_of, job.warn_days)
    (told,) = replayer.decide([(job.case, events)], keep_run=True)
    ordered = order_events(events, job.as_of)
    when = {e[1]: (e[3], e[4], e[1]) for e in ordered}
    order = lambda eid: when.get(eid, (0, 0, eid))  # noqa: E731
    rules = {r.id: r for r in selection.rules}
    findings = {(f["rule"], f["status"], f["event"], f["meeting"], f["unit"], f["due"]): f
                for f in scanned.findings}
    steps: dict[tuple, dict[str, Any]] = {}
    for plan, match in told.run.matches:
        raw = replayer._raw(job.case, plan, match, told.run, order)
        due = dt.date.fromordinal(raw["due"]).isoformat()
        key = (raw["rule"], raw["status"], raw["event"], raw["meeting"], raw["unit"], due, plan.out_of_force)
        if key in steps:
            step = steps[key]
            step["evidence"] = sorted(set(step["evidence"]) | set(raw["evidence"]), key=order)
            step["patterns"] = sorted(set(step["patterns"]) | {plan.when})
            continue
        rule = rules[raw["rule"]]
        version = rule.version_on(dt.date.fromordinal(raw["due"])) if not plan.out_of_force else None
        if version is not None:
            final = replayer._final(raw)
            message = final["message"]
        else:
            message = None
        finding = findings.get(key[:6]) if not plan.out_of_force else None
        steps[key] = {
            "kind": "obligation", "rule": raw["rule"], "title": rule.title,
            "patterns": [plan.when], "status": raw["status"], "in_force": not plan.out_of_force,
            "not_in_force_because": (None if not plan.out_of_force else
                                     ("profile" if not p.in_force(dt.date.fromordinal(raw["due"]))
                                      and any(v.in_force(dt.date.fromordinal(raw["due"])) for v in rule.version)
                                      else "rule")),
            "version": raw["rule_version"],
            "rule_in_force": [{"valid_from": v.valid_from.isoformat(),
                               "valid_to": v.valid_to.isoformat() if v.valid_to else None} for v in rule.version],
            "profile_in_force": {"valid_from": p.valid_from.isoformat() if p.valid_from else None,
                                 "valid_to": p.valid_to.isoformat() if p.valid_to else None},
            "sources": [describe(c) for c in version.sources] if version else [],
            "event": raw["event"], "meeting": raw["meeting"], "unit": raw["unit"],
            "due": due, "basis": raw["basis"],
            "actual": dt.date.fromordinal(raw["actual"]).isoformat() if raw["actual"] else None,
            "evidence": raw["evidence"], "message": message,
            "finding": finding["id"] if finding else None,
        }
    hidden = len(events) - len(ordered)
    return {"findings": scanned.findings, "obligations": list(steps.values()), "events": ordered,
            "hidden": hidden, "profile": {"name": p.name, "title": p.title}}


def replay(paths: list[Path], case: str, as_of: dt.date, profile: str = "core",
           rules_dir: Path | None = None, mapping: str | None = None, warn_days: int = 5,
           units: dict[str, Any] | None = None, resolver: Any = None) -> dict[str, Any]:
    """The account of one case as a JSON-ready dict: case, as_of, profile, steps, findings.
    `units`: the register's units (names in the account); `resolver`: its resolver, so
    that the log's unit names and aliases are read as the scan reads them."""
    packed, rejected = read_case(paths, case, mapping, resolver)
    if not packed:
        if rejected:
            raise ReplayError(f"ärendet {case!r} har bara avvisade rader i loggen ({rejected} st); "
                              f"se 'compliance scan' för skälen")
        raise ReplayError(f"ärendet {case!r} finns inte i loggen", usage=True)
    job = _Job(str(rules_dir) if rules_dir else None, profile, as_of, warn_days, case, packed)
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool
    try:
        with ProcessPoolExecutor(1, mp_context=mp.get_context("fork")) as pool:
            told = pool.submit(_decide, job).result()
    except BrokenProcessPool:
        raise ReplayError(f"regelmotorn kraschade på ärendet {case!r}") from None
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback
        raise ReplayError(f"ärendet {case!r} kunde inte gås igenom: {type(exc).__name__}: {exc}") from None
    return _account(case, as_of, told, units or {}, rejected)


# --- the account --------------------------------------------------------------------------------

def _account(case: str, as_of: dt.date, told: dict[str, Any], units: dict[str, Any],
             rejected: int) -> dict[str, Any]:
    from .explain import deadline_sv
    from .vocabulary import EVENT_NAMES_SV, KIND_SV, RECIPIENT_SV

    def name(unit_id: str | None) -> str | None:
        if not unit_id:
            return None
        u = units.get(unit_id)
        return RECIPIENT_SV.get(unit_id) or (u.name if u is not None else unit_id)

    steps: list[tuple[tuple, dict[str, Any]]] = []
    for k, (_, eid, etype, day, secs, unit, f) in enumerate(told["events"]):
        date = dt.date.fromordinal(day).isoformat()
        details: dict[str, Any] = {}
        for key in ("meeting", "kind", "to", "deviation", "group", "form", "channel"):
            if f.get(key):
                details[key] = f[key]
        if isinstance(f.get("date"), int):
            details["planned"] = dt.date.fromordinal(f["date"]).isoformat()
        if f.get("attendees"):
            details["attendees"] = f["attendees"]
        steps.append(((day, 0, k), {
            "kind": "event", "id": eid, "date": date,
            "time": None if secs < 0 else f"{secs // 3600:02d}:{secs % 3600 // 60:02d}",
            "type": etype, "type_sv": EVENT_NAMES_SV.get(etype, etype), "unit": unit,
            "unit_name": name(unit), "details": details,
            "kind_sv": KIND_SV.get(f.get("kind") or ""), "to_name": name(f.get("to")) if isinstance(f.get("to"), str) else None,
        }))
    for k, ob in enumerate(sorted(told["obligations"], key=lambda o: (o["due"], o["rule"], o["event"] or "", o["unit"] or ""))):
        ob = dict(ob)
        ob["arithmetic"] = deadline_sv(ob["basis"])
        ob["unit_name"] = name(ob["unit"])
        day = dt.date.fromisoformat(ob["due"]).toordinal()
        steps.append(((day, 1, k), ob))
    steps.sort(key=lambda s: s[0])
    return {"case": case, "as_of": as_of.isoformat(), "profile": told["profile"]["name"],
            "profile_title": told["profile"]["title"], "hidden_events": told["hidden"],
            "rejected_lines": rejected, "steps": [s for _, s in steps], "findings": told["findings"]}


def _period(span: dict[str, Any]) -> str:
    if span["valid_to"]:
        return f"{span['valid_from'] or '…'}–{span['valid_to']}"
    return f"från {span['valid_from']}"


def _joined(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consecutive versions as one period: "från 2010-01-01", not three."""
    out: list[dict[str, Any]] = []
    for span in spans:
        if out and out[-1]["valid_to"] and \
                dt.date.fromisoformat(out[-1]["valid_to"]) + dt.timedelta(days=1) == dt.date.fromisoformat(span["valid_from"]):
            out[-1] = {"valid_from": out[-1]["valid_from"], "valid_to": span["valid_to"]}
        else:
            out.append(dict(span))
    return out


def _verdict(step: dict[str, Any]) -> str:
    if not step["in_force"]:
        if step["not_in_force_because"] == "profile":
            why = f"överenskommelsen gällde inte då (den gällde {_period(step['profile_in_force'])})"
        else:
            why = "regeln gällde inte då (den gäller " + ", ".join(_period(v) for v in _joined(step["rule_in_force"])) + ")"
        return f"{why}: ingen bedömning ({STATUS_SV.get(step['status'], step['status'])} om den hade gällt)"
    return f"{STATUS_SV.get(step['status'], step['status'])}: {step['message']}"


def _deadline(step: dict[str, Any]) -> str:
    if step["arithmetic"]:
        return f"Frist: {step['arithmetic']}"
    return f"Dag: {step['due']} (händelsens egen dag)"


def render_text(data: dict[str, Any], markdown: bool = False) -> str:
    """The account in Swedish, as plain text or as Markdown (a file an auditor attaches)."""
    out: list[str] = []
    head = (f"Ärende {data['case']}: genomgång per {data['as_of']} enligt profilen "
            f"{data['profile']} ({data['profile_title']})")
    out += [f"# {head}" if markdown else head, ""]
    if data["hidden_events"]:
        out += [f"{data['hidden_events']} händelser efter bedömningsdagen räknas inte.", ""]
    if data["rejected_lines"]:
        out += [f"{data['rejected_lines']} rader i loggen om ärendet avvisades (se rejects.jsonl från en skanning).", ""]
    bullet = "- " if markdown else "  "
    for step in data["steps"]:
        if step["kind"] == "event":
            time = f" {step['time']}" if step["time"] else ""
            what = step["type_sv"]
            d = step["details"]
            extra = []
            if d.get("meeting"):
                extra.append(f"möte {d['meeting']}" + (f" ({step['kind_sv']})" if step["kind_sv"] else ""))
            if d.get("planned"):
                extra.append(f"planerat till {d['planned']}")
            if step.get("to_name"):
                extra.append(f"till {step['to_name']}")
            if d.get("attendees"):
                extra.append("närvarande: " + ", ".join(d["attendees"]))
            unit = f" – {step['unit_name']}" if step["unit_name"] else ""
            line = f"{step['date']}{time}  {what}{unit}" + (f" ({'; '.join(extra)})" if extra else "") \
                + f" [{step['id']}]"
            out.append(f"{bullet}{line}" if markdown else line)
            continue
        title = f"{step['title']} ({step['rule']}" + (f", version {step['version']})" if step["version"] else ")")
        lines = [f"{'**' if markdown else ''}▸ {title}{'**' if markdown else ''}",
                 _deadline(step),
                 _verdict(step)]
        if step["actual"] and step["in_force"]:
            lines.append(f"Skedde: {step['actual']}")
        if step["unit_name"]:
            lines.append(f"Gäller: {step['unit_name']}")
        lines.append("Grund: händelserna " + ", ".join(step["evidence"]) if step["evidence"] else "Grund: kalendern")
        for s in step["sources"]:
            quote = f" – \"{s['quote']}\"" if s.get("quote") else ""
            lines.append(f"Källa: {s['citation']}{quote}")
        if step["finding"]:
            lines.append(f"Fynd: {step['finding']}")
        if markdown:     # a quoted block, one line each (two spaces end a line in Markdown)
            out.append("")
            out += [f"> {x}  " for x in lines[:-1]] + [f"> {lines[-1]}", ""]
        else:
            out += [f"{step['due']}  {lines[0]}"] + [f"            {x}" for x in lines[1:]]
    out += ["", "## Fynd (som compliance scan ger dem)" if markdown else "Fynd (som compliance scan ger dem):"]
    if not data["findings"]:
        out.append(f"{bullet}inga")
    for f in data["findings"]:
        out.append(f"{bullet}{f['id']} {STATUS_SV.get(f['status'], f['status'])} {f['rule']} "
                   f"(frist {f['due']}): {f['message']}")
    return "\n".join(out) + "\n"
