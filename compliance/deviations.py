"""Draft deviation reports (utkast till avvikelserapport): who writes to whom, and what.

Seed 001's routine is for cooperation problems between units: the reporting unit (chef A)
writes to the receiving unit (chef B), the unit the deviation concerns. deviations.md
(the contract) has two kinds of draft:

- `samverkan`: another unit is the affected party; it reports to the responsible unit,
  on the regional form (*Avvikelseblankett för BUS-samverkan*, steps 1–7 of 001);
- `intern`: no other unit is affected; the responsible unit's own deviation to its own
  head (egenkontroll, SOSFS 2011:9), no copies outside the unit.

B is always the finding's `unit`. A follows the rule file's `[draft]` table
(`compliance.rules.DraftRouting`): the meeting's convener, the invitation's recipient
(guardian and child are not units: then `intern`), the first other unit invited to the
case's meetings (in the unit register's order), or none. One draft per (case, B, A,
kind), named `<case>__<B>.md` (intern) or `<case>__<B>__från__<A>.md` (samverkan), with a
`.docx` beside it (`compliance.reporting.word`). Only violations get drafts.

This module builds a draft's content (`case_drafts`: one context per draft, shared by the
Markdown and the Word draft), renders the Markdown, and writes a scan folder's drafts
(`write_drafts`, which `scan` and `report` both call: drafts are rendered on the output
side, never while deciding).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import orjson
import pendulum

from .dates_sv import date_sv
from .escaping import draft_stem, finding_id_text, md_text
from .explain import deadline_sv
from .removal import remove_folder
from .resources import template_error, templates_dir
from .units import Unit
from .vocabulary import EVENT_NAMES_SV, KIND_SV, NO_DRAFT_DECISIONS, RECIPIENT_SV

TEMPLATES = templates_dir()
MARKDOWN_TEMPLATE = "avvikelse.md.j2"
RUN_DATE_ENV = "COMPLIANCE_RUN_DATE"

SAMVERKAN, INTERN = "samverkan", "intern"
KIND_TITLES_SV = {SAMVERKAN: "Avvikelse i BUS-samverkan", INTERN: "Intern avvikelse"}
NOT_UNITS = frozenset(RECIPIENT_SV)            # guardian, child: invited, but not units

# The agreements by the seed's number, until a rule's source carries its own `citation`.
SEED_NAMES = {
    "000": "Storsthlm: BUS-överenskommelsen i Stockholmsregionen",
    "001": "Lokal överenskommelse BUS Skarpnäck (Skarpnäcks stadsdelsförvaltning m.fl., 2018-04-17)",
    "002": "Lokal BUS-överenskommelse Spånga-Tensta och Rinkeby-Kista",
    "003": "Överenskommelse om BUS, Nynäshamns kommun – Stockholms läns landsting (2004–2005)",
    "004": "Samordnad individuell plan (SIP) för barn och unga, Region Gotland (2013)",
}


def run_date() -> dt.date:
    """The day the drafts are written (the date on them): today in Stockholm, or
    COMPLIANCE_RUN_DATE (YYYY-MM-DD) for tests and for re-creating an old run's drafts."""
    fixed = os.environ.get(RUN_DATE_ENV)
    if fixed:
        try:
            return dt.date.fromisoformat(fixed)
        except ValueError:
            raise ValueError(f"{RUN_DATE_ENV}={fixed!r} är inget datum ÅÅÅÅ-MM-DD") from None
    return pendulum.now("Europe/Stockholm").date()


def rule_sources(rule: Mapping[str, Any]) -> dict[Any, list[Mapping[str, Any]]]:
    """A manifest rule's cited sources by version (`valid_from`); an older manifest's
    sources of the whole rule under None."""
    got: dict[Any, list[Mapping[str, Any]]] = {
        v.get("valid_from"): v.get("sources") or [] for v in rule.get("versions") or [] if isinstance(v, Mapping)}
    if rule.get("sources"):
        got[None] = rule["sources"]
    return got


def _version_sources(by_version: Mapping[Any, list], version: Any) -> list:
    return by_version.get(version) or by_version.get(None) or []


def citation(source: Mapping[str, Any]) -> str:
    """Where a quoted sentence comes from: the source register's one-line citation (title
    — body, date, section) when the scan recorded one, else the agreement's name."""
    if source.get("citation"):
        return str(source["citation"])
    seed = str(source.get("seed") or "")
    name = SEED_NAMES.get(seed[:3])
    return name or (f"källdokument {seed}" if seed else "okänd källa")


# --- routing ------------------------------------------------------------------------------

class Routing:
    """Who writes to whom, per rule (the `[draft]` table of each rule file).

    `rules` are the manifest's `rules[]` entries (or `Rule.summary()`): each may carry
    `draft = {"affected": ..., "kinds": [...]}`. A rule without one (a scan made before
    rule files had it) follows the shipped rule of the same id, else is internal.
    `units` is the unit register, in its file's order.
    """

    def __init__(self, rules: Iterable[Mapping[str, Any]], units: Mapping[str, Any]):
        self.by_rule: dict[str, tuple[str, tuple[str, ...]]] = {}
        shipped: dict[str, Any] | None = None
        for r in rules:
            draft = r.get("draft")
            if not isinstance(draft, Mapping):
                if shipped is None:
                    shipped = _shipped_routing()
                draft = shipped.get(r.get("id"), {})
            self.by_rule[r.get("id")] = (draft.get("affected") or "none", tuple(draft.get("kinds") or ()))
        self.order = {u: n for n, u in enumerate(units)}

    def reporting_unit(self, finding: Mapping[str, Any], summary: Mapping[str, Any] | None,
                       events: Mapping[str, Mapping[str, Any]]) -> str | None:
        """A, the affected unit that reports the finding; None for an internal draft."""
        affected, kinds = self.by_rule.get(finding["rule"], ("none", ()))
        b = finding.get("unit")
        a = None
        meetings = (summary or {}).get("meetings") or []
        if affected == "meeting-convener":
            a = next((m.get("convener") for m in meetings if m.get("meeting") == finding.get("meeting")
                      and finding.get("meeting")), None)
        elif affected == "invitation-recipient":
            a = (events.get(finding.get("event") or "") or {}).get("to")
        elif affected == "case-invited-units":
            invited = {u for m in meetings if not kinds or m.get("kind") in kinds
                       for u in m.get("invited") or () if u and u != b and u not in NOT_UNITS}
            if invited:       # the register's order; units it does not know after, by id
                a = min(invited, key=lambda u: (self.order.get(u, len(self.order)), u))
        if not a or a == b or a in NOT_UNITS:
            return None
        return a


def _shipped_routing() -> dict[str, dict[str, Any]]:
    from .rules import load_ruleset
    try:
        return {r.id: r.draft.model_dump() for r in load_ruleset(None).rules}
    except Exception:  # noqa: BLE001 - a broken installation: every draft internal
        return {}


# --- content ------------------------------------------------------------------------------

def _unit(units: Mapping[str, Unit], unit_id: str | None) -> dict[str, Any]:
    u = units.get(unit_id or "")
    name = (u.name if u and u.name else unit_id) or "okänd verksamhet"
    return {"id": unit_id, "name": name,
            "manager": u.manager if u and u.manager else "ansvarig chef (fylls i)"}


def _decision(decisions: Mapping[str, Any] | None, finding_id: str | None) -> tuple[str | None, str | None]:
    """(decision, reference) of a finding: a value is a decision name, or a mapping with
    `decision` (or `status`) and `reference`."""
    if not decisions or not finding_id:
        return None, None
    got = decisions.get(finding_id)
    if got is None:
        return None, None
    if isinstance(got, str):
        return got, None
    return got.get("decision") or got.get("status"), got.get("reference")


def _days(n: int, one: str, many: str) -> str:
    return f"{n} {one if abs(n) == 1 else many}"


def _late(f: Mapping[str, Any], as_of_sv: str) -> str:
    d, b = f.get("days_late"), f.get("business_days_late")
    if d is None:
        return ""
    text = _days(d, "dag", "dagar")
    if b is not None:
        text += f" ({_days(b, 'vardag', 'vardagar')})"
    return text if f.get("actual") else f"{text} hittills (till {as_of_sv})"


def _invitation_to(f: Mapping[str, Any], events: Mapping[str, Mapping[str, Any]],
                   units: Mapping[str, Unit]) -> tuple[str | None, str | None]:
    """(recipient's name, day sent) of the invitation a finding is about."""
    e = events.get(f.get("event") or "") or {}
    to = e.get("to")
    return (_recipient(to, units) if to else None), e.get("date")


def _recipient(to: str, units: Mapping[str, Unit]) -> str:
    if to in RECIPIENT_SV:
        return RECIPIENT_SV[to]
    u = units.get(to)
    return u.name if u and u.name else to


def _facts(f: Mapping[str, Any], events: Mapping[str, Mapping[str, Any]], evidence_rows: list[Mapping[str, Any]],
           units: Mapping[str, Unit], as_of_sv: str) -> list[tuple[str, str]]:
    """What happened, as label and value lines: per rule, so that each reads truthfully
    (an absence is an absence, not a deadline met on the day)."""
    due, actual = date_sv(f.get("due")), date_sv(f.get("actual"))
    rule = f["rule"]
    if rule == "mandatory-attendance":
        b = f.get("unit")
        sent = next((e.get("date") for e in evidence_rows if e.get("type") == "invitation.sent"
                     and e.get("to") == b and e.get("meeting") == f.get("meeting")), None)
        return [("Kallad verksamhet", _unit(units, b)["name"]),
                ("Kallelsen skickades", date_sv(sent) or "uppgift saknas"),
                ("Mötet hölls", due),
                ("Deltog", "nej: verksamheten var kallad men uteblev från mötet")]
    if rule == "consent-before-meeting":
        return [("Mötet hölls", actual or due),
                ("Samtycke", "gällde inte den dagen (inget samtycke, eller återkallat)")]
    if rule == "sip-before-bus-individ":
        return [("Aktualiserat till BUS-individ", due),
                ("SIP-möte före", "inget SIP-möte hade hållits före den dagen")]
    facts = []
    if rule == "invitation-notice":
        name, _ = _invitation_to(f, events, units)
        if name:
            facts.append(("Kallelsen gick till", name))
        facts += [("Skulle ha skickats senast", due),
                  ("Skickades", actual or f"inte skickad (till {as_of_sv})")]
    elif rule == "meeting-within-30-days":
        facts += [("Skulle ha hållits senast", due),
                  ("Hölls", actual or f"inget SIP-möte hållet (till {as_of_sv})")]
    elif f.get("actual") and f.get("actual") == f.get("due"):
        # What the finding is about happened that day: no lateness to tell, which would
        # read as "on time" ("0 dagar").
        return [("Dag", actual)]
    else:
        facts += [("Skulle ha skett senast", due), ("Skedde", actual or f"har inte skett (till {as_of_sv})")]
    facts.append(("Försening", _late(f, as_of_sv)))
    return facts


def _timeline_row(e: Mapping[str, Any], units: Mapping[str, Unit]) -> dict[str, Any]:
    what = EVENT_NAMES_SV.get(e.get("type"), e.get("type") or "")
    kind = KIND_SV.get(e.get("kind") or "")
    if kind and e.get("type") in ("meeting.scheduled", "meeting.held"):
        what += f" ({kind})"
    if e.get("type") in ("meeting.scheduled", "meeting.rescheduled") and e.get("planned"):
        what += f" till {date_sv(e['planned'])}"
    if e.get("type") == "invitation.sent" and e.get("to"):
        what += f" till {_recipient(e['to'], units)}"
    return {"id": e.get("id"), "date": e.get("date"), "date_sv": date_sv(e.get("date")),
            "time": e.get("time") or "", "what": what,
            "unit_name": _unit(units, e.get("unit"))["name"] if e.get("unit") else "",
            "meeting": e.get("meeting") or ""}


def case_drafts(findings: list[Mapping[str, Any]], evidence: list[Mapping[str, Any]],
                summary: Mapping[str, Any] | None, routing: Routing, units: Mapping[str, Unit],
                cooperation: Mapping[str, str], sources: Mapping[str, Mapping[Any, list[Mapping[str, Any]]]],
                written: dt.date, as_of: dt.date | str | None,
                decisions: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The drafts of one case: one context per (B, A, kind), in file-name order.

    `findings`, `evidence` and `summary` are the case's lines of findings.jsonl,
    evidence.jsonl and cases.jsonl; `sources` maps a rule id to its versions' cited
    sources (`rule_sources`);
    `written` is the day the drafts are written; `decisions` maps a finding id to its
    review decision (state.md): a finding filed as a deviation, justified or a data error
    gets no draft, and a filed deviation is named in the case's drafts to the same unit.
    """
    events = {e.get("id"): e for e in evidence}
    as_of_sv = date_sv(as_of)
    groups: dict[tuple[str, str | None], list[Mapping[str, Any]]] = {}
    filed: dict[str, list[dict[str, Any]]] = {}
    for f in findings:
        if f.get("status") != "violation":
            continue
        decision, reference = _decision(decisions, f.get("id"))
        if decision == "deviation-filed":
            filed.setdefault(f.get("unit") or "", []).append(
                {"reference": reference or "utan referens", "finding": finding_id_text(f.get("id")),
                 "title": f.get("title") or f["rule"]})
        if decision in NO_DRAFT_DECISIONS:
            continue
        a = routing.reporting_unit(f, summary, events)
        groups.setdefault((f.get("unit") or "", a), []).append(f)
    case = findings[0]["case"] if findings else ""
    drafts = []
    for (b, a), items in groups.items():
        kind = SAMVERKAN if a else INTERN
        receiving = _unit(units, b)
        ids = list(dict.fromkeys(e for f in items for e in f.get("evidence") or ()))
        rows = sorted((events[i] for i in ids if i in events),
                      key=lambda e: (e.get("date") or "", e.get("time") or "", e.get("id") or ""))
        drafts.append({
            "filename": draft_stem(case, b, a),
            "kind": kind, "kind_sv": KIND_TITLES_SV[kind], "samverkan": kind == SAMVERKAN,
            "case": case,
            "date": written.isoformat(), "date_sv": date_sv(written),
            "as_of": str(as_of or ""), "as_of_sv": as_of_sv,
            "reporting_unit": _unit(units, a) if a else receiving,
            "receiving_unit": receiving,
            "bus_secretariat": cooperation.get("bus_secretariat", ""),
            "steering_group_convener": cooperation.get("steering_group_convener", ""),
            "filed": filed.get(b, []),
            "items": [_item(n, f, events, rows, units, sources, as_of_sv) for n, f in enumerate(items, 1)],
            "timeline": [_timeline_row(e, units) for e in rows],
        })
    drafts.sort(key=lambda d: d["filename"])
    return drafts


def _item(n: int, f: Mapping[str, Any], events: Mapping[str, Mapping[str, Any]],
          rows: list[Mapping[str, Any]], units: Mapping[str, Unit],
          sources: Mapping[str, Mapping[Any, list[Mapping[str, Any]]]], as_of_sv: str) -> dict[str, Any]:
    day = f.get("actual") or f.get("due")
    return {
        "number": n, "id": finding_id_text(f.get("id") or ""), "rule": f["rule"],
        "title": f.get("title") or f["rule"], "rule_version": f.get("rule_version") or "",
        "date": day, "date_sv": date_sv(day),
        "message": f.get("message") or "",
        "facts": [{"label": k, "value": v} for k, v in _facts(f, events, rows, units, as_of_sv)],
        "deadline": deadline_sv(f.get("basis")) or "",
        "meeting": f.get("meeting") or "",
        "sources": [{"quote": s.get("quote") or "", "citation": citation(s)}
                    for s in _version_sources(sources.get(f["rule"]) or {}, f.get("rule_version"))
                    if isinstance(s, Mapping)],
    }


# --- Markdown -------------------------------------------------------------------------------

class DictFirstEnvironment(jinja2.Environment):
    """`item.title` looks up the dict key first: the contexts are dicts, and Jinja's
    default (attribute first, then key) costs a failed getattr every time."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


def markdown_template() -> jinja2.Template:
    """The Markdown draft's template. Every value it prints passes `md_text`: one line, no
    bidi controls, no personal number, nothing that ends a table cell or makes a link."""
    env = DictFirstEnvironment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                               undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                               trim_blocks=True, lstrip_blocks=True, finalize=md_text,
                               autoescape=False)
    try:
        template = env.get_template(MARKDOWN_TEMPLATE)
    except (jinja2.TemplateError, OSError) as exc:
        raise template_error(TEMPLATES / MARKDOWN_TEMPLATE, exc) from None
    # A template's globals are a ChainMap over the environment's, copied key by key into
    # every render's context: as a plain dict they cost far less.
    template.globals = dict(template.globals)
    return template


def check_templates(word: bool, overview: bool) -> None:
    """Load the templates a scan will fill (the Markdown draft's; with `word` the Word
    draft's; with `overview` overview.html's), so that a missing or broken one stops the
    scan at once, with its one line (TemplateError), not after a night's reading and
    deciding. A field a template names that the drafts lack is found only when filled."""
    markdown_template()
    if word:
        from .reporting.word import WordTemplate
        WordTemplate()
    if overview:
        from .reporting.overview import overview_template
        overview_template()


def render_markdown(template: jinja2.Template, draft: Mapping[str, Any]) -> bytes:
    try:
        return template.render(draft).encode("utf-8")
    except jinja2.TemplateError as exc:     # a field the template names that drafts lack
        raise template_error(template.filename or MARKDOWN_TEMPLATE, exc) from None


# --- writing a scan folder's drafts ----------------------------------------------------------

class DraftContent:
    """What the drafts of a scan say: the routing and sources from its manifest, the unit
    register, the day written and the review decisions, applied case by case."""

    def __init__(self, manifest: Mapping[str, Any], units: Mapping[str, Unit],
                 cooperation: Mapping[str, str], written: dt.date,
                 decisions: Mapping[str, Any] | None = None):
        rules = [r for r in manifest.get("rules") or [] if isinstance(r, Mapping)]
        self.routing = Routing(rules, units)
        self.sources = {r.get("id"): rule_sources(r) for r in rules}
        self.units, self.cooperation, self.written = units, cooperation, written
        self.as_of = manifest.get("as_of")
        self.decisions = decisions
        tool = manifest.get("tool") or {}
        self.tool = " ".join(str(x) for x in (tool.get("name"), tool.get("version")) if x) or "compliance"

    def case(self, lines: Any) -> list[dict[str, Any]]:
        """The drafts of one case from its lines (`compliance.reporting.contexts.CaseLines`)."""
        loads = orjson.loads
        summary = loads(lines.summary) if lines.summary else None
        drafts = case_drafts([loads(x) for x in lines.findings], [loads(x) for x in lines.evidence],
                             summary, self.routing, self.units, self.cooperation, self.sources,
                             self.written, self.as_of, self.decisions)
        for d in drafts:
            d["tool"] = self.tool
        return drafts


FORMATS = frozenset({"md", "docx"})


@dataclass
class DraftsWritten:
    """What `write_drafts` wrote: the number of drafts and of files, and the folder."""
    folder: Path
    drafts: int = 0
    files: int = 0
    withheld: int = 0        # violations with a decision that takes them out of the drafts

    def paths(self) -> list[Path]:
        return sorted(self.folder.iterdir()) if self.folder.is_dir() else []


class _Renderer:
    """Renders the drafts of a batch of cases (in a worker process, or here)."""

    def __init__(self, content: DraftContent, formats: frozenset[str]):
        self.content = content
        self.markdown = markdown_template() if "md" in formats else None
        self.word = None
        if "docx" in formats:
            from .reporting.word import WordTemplate
            self.word = WordTemplate()

    def batch(self, cases: list[Any]) -> tuple[int, int, list[tuple[str, bytes]]]:
        """(drafts, violations, [(file name, content), ...]) of the cases."""
        drafts, violations, files = 0, 0, []
        for lines in cases:
            violations += lines.violations
            for d in self.content.case(lines):
                drafts += 1
                if self.markdown is not None:
                    files.append((d["filename"] + ".md", render_markdown(self.markdown, d)))
                if self.word is not None:
                    files.append((d["filename"] + ".docx", self.word.render(d)))
        return drafts, violations, files


_RENDERER: _Renderer | None = None


def _init_renderer(content: DraftContent, formats: frozenset[str]) -> None:
    global _RENDERER
    _RENDERER = _Renderer(content, formats)


def _render_batch(cases: list[Any]) -> tuple[int, int, list[tuple[str, bytes]]]:
    assert _RENDERER is not None
    return _RENDERER.batch(cases)


BATCH_VIOLATIONS = 200          # about a hundred drafts a task


def _batches(cases: Iterable[Any]) -> Iterator[list[Any]]:
    batch, size = [], 0
    for lines in cases:
        batch.append(lines)
        size += lines.violations
        if size >= BATCH_VIOLATIONS:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def write_drafts(scan_dir: os.PathLike | str, register: Any, written: dt.date,
                 formats: Iterable[str] = FORMATS, decisions: Mapping[str, Any] | None = None,
                 workers: int = 2, progress: Callable[[int], Any] | None = None,
                 out_dir: os.PathLike | str | None = None) -> DraftsWritten:
    """Write every draft of a scan folder into `out_dir/deviations/` (default: the scan
    folder's own), as Markdown and/or Word (`formats`), replacing what was there.

    `register` is the unit register (`compliance.reporting.scan_data.Register`, or the
    pair `compliance.units.load_units` returns); `written` the day the drafts are written
    (`run_date()`); `decisions` maps a finding id to its review decision (state.md).
    The scan folder is read one case at a time and the drafts are rendered by `workers`
    processes; `progress(total)` may give a bar (`update(n)`, `close()`)
    counted in violations. The drafts go into a new folder that replaces `deviations/`
    only when all are written: a full disk raises DraftWriteError (one line naming the
    file) and leaves the old folder as it was.
    """
    from .reporting.contexts import scan_cases
    from .reporting.scan_data import load_scan_manifest

    formats = frozenset(formats)
    if not formats <= FORMATS:
        raise ValueError(f"okänt format: {sorted(formats - FORMATS)}")
    scan_dir = Path(scan_dir)
    out = Path(out_dir) if out_dir is not None else scan_dir
    manifest = load_scan_manifest(scan_dir)
    units, cooperation = _register(register)
    content = DraftContent(manifest, units, cooperation, written, decisions)
    final = out / "deviations"
    tmp = _new_folder(out, ".deviations.tmp")
    result = DraftsWritten(final)
    counts = manifest.get("counts") or {}
    total = sum(v for v in (counts.get("findings") or {}).values() if isinstance(v, int))
    bar = progress(total) if progress is not None else None
    prefix = os.path.join(str(tmp), "")
    try:
        batches = _batches(scan_cases(scan_dir))
        if workers <= 1 or total < 2 * BATCH_VIOLATIONS:     # a few drafts: no processes to fork
            renderer = _Renderer(content, formats)
            done: Iterator[tuple] = (renderer.batch(b) for b in batches)
        else:
            done = _in_workers(batches, workers, (content, formats))
        # The files are created here, in one process: creating files in one folder from
        # several processes at once made each creation several times slower (the folder
        # is locked for every new name), and this process is otherwise idle.
        for drafts, violations, files in done:
            for name, data in files:
                write_file(prefix + name, data)
            result.drafts += drafts
            result.files += len(files)
            if bar is not None:
                bar.update(violations)
        replace_folder(tmp, final)
    except BaseException:
        remove_folder(tmp)
        raise
    finally:
        if bar is not None:
            bar.close()
    if decisions:
        result.withheld = _withheld(scan_dir, decisions)
    return result


DRAFT_WORKER = "en arbetsprocess för avvikelseutkasten"
DRAFT_ATTEMPTS = 2        # a batch whose worker died this often is rendered in this process


def _in_workers(batches: Iterator[list[Any]], workers: int, init: tuple) -> Iterator[tuple]:
    """The batches rendered by `workers` forked processes (`pool.Children`), one batch per
    worker at a time (memory flat: the scan folder is read only as fast as the drafts are
    written).

    Rendering is plain Python, so a worker that dies was killed from outside (the OOM
    killer, an operator): its batch is given to another, and after DRAFT_ATTEMPTS deaths
    rendered here; when no worker can be started, the rest is rendered here. The drafts
    are the same either way, only slower."""
    from collections import deque

    from .pool import Children, EngineError

    source = iter(batches)
    again: deque = deque()                       # batches whose worker died
    out: dict[int, list[Any]] = {}               # task tag -> batch
    deaths: dict[int, int] = {}                  # id(batch) -> deaths of its workers
    here: list[_Renderer] = []

    def render_here(batch: list[Any]) -> tuple:
        if not here:
            here.append(_Renderer(*init))
        return here[0].batch(batch)

    team = None
    failed = True
    try:
        team = Children(workers, DRAFT_WORKER, _init_renderer, init)
        exhausted = False
        while True:
            for child in team.idle():
                batch = again.popleft() if again else (None if exhausted else next(source, None))
                if batch is None:
                    exhausted = True
                    break
                out[team.send(child, _render_batch, batch)] = batch
            if exhausted and not out and not again:
                break
            for kind, tag, payload in team.wait():
                if kind == "done":
                    out.pop(tag, None)
                    yield payload
                elif kind == "error":
                    raise payload
                else:                            # died
                    batch = out.pop(tag, None) if tag is not None else None
                    if batch is not None:
                        deaths[id(batch)] = deaths.get(id(batch), 0) + 1
                        if deaths[id(batch)] >= DRAFT_ATTEMPTS:
                            yield render_here(batch)
                        else:
                            again.append(batch)
                    team.ensure(workers)
        failed = False
    except EngineError:                          # no worker can be started: the rest here
        if team is not None:
            team.close(kill=True)
            team = None
        for batch in [*out.values(), *again, *source]:
            yield render_here(batch)
        failed = False
    finally:
        if team is not None:
            team.close(kill=failed)


def _register(register: Any) -> tuple[Mapping[str, Unit], Mapping[str, str]]:
    if register is None:
        from .units import load_units
        return load_units(None)
    return register


def _new_folder(parent: Path, prefix: str) -> Path:
    """A new empty folder in `parent`, with the mode the umask gives (not mkdtemp's 0700)."""
    parent.mkdir(parents=True, exist_ok=True)
    for n in range(1000):
        path = parent / f"{prefix}-{os.getpid()}-{n}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
        except OSError as exc:
            raise DraftWriteError(str(path), exc) from None
    raise DraftWriteError(str(parent), reason="ingen ledig tillfällig mapp")


def replace_folder(new: Path, final: Path) -> None:
    """Put a finished folder in place of the old one (if any), then delete the old."""
    old = None
    try:
        if final.exists():
            old = final.with_name(f".{final.name}.old-{os.getpid()}")
            final.rename(old)
        new.rename(final)
    except OSError as exc:
        raise DraftWriteError(str(final), exc) from None
    if old is not None:
        remove_folder(old)


def _withheld(scan_dir: Path, decisions: Mapping[str, Any]) -> int:
    n = 0
    with (scan_dir / "findings.jsonl").open("rb") as fh:
        for line in fh:
            if line.strip():
                f = orjson.loads(line)
                if f.get("status") == "violation" and _decision(decisions, f.get("id"))[0] in NO_DRAFT_DECISIONS:
                    n += 1
    return n


# --- the scan's own drafts, until the scan calls write_drafts -----------------------------

class DraftWriteError(Exception):
    """A draft could not be written (disk full, no permission): one line naming the file.
    `error` is the OSError, for a caller that words it in Swedish."""

    def __init__(self, path: str, error: OSError | None = None, reason: str | None = None):
        self.path, self.error = path, error
        super().__init__(f"{path}: {reason or (error.strerror if error and error.strerror else error)}")


_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def write_file(path: str, data: bytes) -> None:
    """Create `path` (it must not exist: two drafts never share a name) with `data`;
    DraftWriteError naming the file when it cannot be written. The mode follows the umask.
    os-level calls: half the time of Path.write_bytes for a small file."""
    try:
        fd = os.open(path, _CREATE, 0o666)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
    except OSError as exc:
        raise DraftWriteError(path, exc) from None

