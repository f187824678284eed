"""`compliance review`: list findings with their review status, record a decision, show
a finding's history. Registered on the main command line by compliance/cli.py.

Exit status as everywhere: 0 ran, 2 usage (an unknown decision, a missing reason), 1
could not (no store, locked, unknown finding, a personal number in the text), with one
line on stderr.
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import click
import orjson

STATE_HELP = ("Tillståndet: en fil, sqlite:///SÖKVÄG eller postgresql://användare@värd/databas "
              "(eller miljövariabeln COMPLIANCE_STATE).")
CHANGE_LABELS = {"new": "ny", "changed": "ändrad", "resolved": "löst", "reopened": "återöppnad"}
FIELD_LABELS = {"status": "status", "due": "förfaller", "actual": "utfört", "rule_version": "regelversion"}
STATE_LABELS = {"present": "aktuell", "resolved": "löst"}


def state_option(func: Any) -> Any:
    return click.option("--state", "state", required=True, envvar="COMPLIANCE_STATE", metavar="URL",
                        help=STATE_HELP)(func)


def _fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"compliance: {message}", err=True)
    sys.exit(code)


def _open(state: str):
    from .errors import StateError
    from .store import open_store
    try:
        return open_store(state)
    except StateError as exc:
        _fail(str(exc))


def _stockholm(moment) -> str:
    import pendulum
    return pendulum.instance(moment).in_timezone("Europe/Stockholm").format("YYYY-MM-DD HH:mm")


def _quoted(text: str | None) -> str:
    """Free text on one line, control characters escaped (a reason may hold anything)."""
    return orjson.dumps(text).decode() if text else ""


@click.group("review")
def review() -> None:
    """Granskning av brister: lista med granskningsstatus, fatta beslut, visa historik."""


@review.command("list")
@state_option
@click.option("--unit", "units", multiple=True, metavar="ENHET",
              help="Bara brister till den här enheten (kan upprepas).")
@click.option("--open/--all", "open_only", default=True, show_default=True,
              help="Bara öppna brister (att åtgärda), eller alla, även hanterade och lösta.")
@click.option("--format", "fmt", type=click.Choice(["table", "jsonl"]), default="table", show_default=True,
              help="Tabell för människor eller JSON-rader för system.")
def review_list(state: str, units: tuple[str, ...], open_only: bool, fmt: str) -> None:
    """Lista brister med granskningsstatus och om de är nya sedan förra körningen."""
    from ..privacy import clean_text
    from ..vocabulary import STATUS_SV
    from .errors import StateError
    from .review import reviewed_findings

    store = _open(state)
    try:
        with store.read() as conn:
            items = reviewed_findings(conn, store.dialect, units=units or None,
                                      which="open" if open_only else "all")
            if fmt == "jsonl":
                out = sys.stdout.buffer
                for item in items:
                    out.write(orjson.dumps(_json_line(item)) + b"\n")
                return
            rows = [(item.id, clean_text(item.finding["case"]), item.finding["rule"],
                     clean_text(item.finding.get("unit") or ""),
                     STATUS_SV.get(item.finding["status"], item.finding["status"]), item.finding["due"],
                     item.review.label + (" *" if _reopened_by_change(item.review) else ""),
                     STATE_LABELS[item.state], "ny" if item.new_since_last_run else "")
                    for item in items]
    except StateError as exc:
        _fail(str(exc))
    finally:
        store.close()
    head = ("id", "ärende", "regel", "enhet", "status", "förfaller", "granskning", "läge", "ny")
    widths = [max([len(head[i])] + [len(r[i]) for r in rows]) for i in range(len(head))]
    for r in [head, *rows]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())
    if any(r[6].endswith("*") for r in rows):
        click.echo("* ett tidigare beslut gäller inte längre (beslut före ändring)")
    click.echo(f"{len(rows)} brister" + ("" if open_only else " (alla)"), err=True)


def _reopened_by_change(review: Any) -> bool:
    """Open again because the finding changed after its decision."""
    return bool(review.before_change) and review.decision is None


def _json_line(item: Any) -> dict[str, Any]:
    d = item.review.decision
    return {**item.finding, "state": item.state, "review_status": item.review.status,
            "new_since_last_run": item.new_since_last_run,
            "deviation_reference": item.review.deviation_reference,
            "decision": None if d is None else {
                "decision": d.decision, "by": d.by, "at": d.at.isoformat(), "reason": d.reason,
                "reference": d.reference, "source": d.source},
            "decisions_before_change": len(item.review.before_change)}


@review.command("set")
@click.argument("finding_id")
@click.argument("decision")
@click.option("--reason", help="Skäl (krävs för justified, data-error och reopen). Inga personnummer.")
@click.option("--ref", "reference", help="Avvikelsens referens, t.ex. AV-2025-07 (krävs för deviation-filed).")
@click.option("--by", "by", required=True, help="Vem som fattar beslutet.")
@state_option
def review_set(finding_id: str, decision: str, reason: str | None, reference: str | None, by: str,
               state: str) -> None:
    """Fatta ett beslut om en brist.

    DECISION är ett av: acknowledged (kvitterad), deviation-filed (avvikelse anmäld,
    kräver --ref), justified (motiverad, kräver --reason), data-error (datafel, kräver
    --reason), reopen (öppna igen, kräver --reason). Beslut läggs till och ändras aldrig.
    """
    from .decisions import DECISION_LABELS, check_decision, record_decision
    from .errors import StateError, UsageError
    try:
        check_decision(decision, by=by, reason=reason, reference=reference)   # before opening the store
    except UsageError as exc:
        _fail(str(exc), 2)
    except StateError as exc:
        _fail(str(exc))
    store = _open(state)
    try:
        made = record_decision(store, finding_id, decision, by=by, reason=reason, reference=reference)
    except StateError as exc:
        _fail(str(exc))
    finally:
        store.close()
    click.echo(f"Beslut {made.id}: {finding_id} {DECISION_LABELS[decision]} av {made.by} "
               f"{_stockholm(made.at)}", err=True)


@review.command("history")
@click.argument("finding_id")
@state_option
def review_history(finding_id: str, state: str) -> None:
    """Visa en brists historik: ändringar körning för körning och alla beslut."""
    from ..privacy import clean_text
    from ..vocabulary import STATUS_SV
    from .decisions import DECISION_LABELS
    from .errors import StateError
    from .review import BEFORE_CHANGE, RunChange, finding_history

    store = _open(state)
    try:
        history = finding_history(store, finding_id)
    except StateError as exc:
        _fail(str(exc))
    finally:
        store.close()
    item = history.finding
    f = item.finding
    click.echo(f"Brist {item.id}: {f['rule']}, ärende {clean_text(f['case'])}, enhet {clean_text(f.get('unit') or '–')}")
    click.echo(f"  {STATUS_SV.get(f['status'], f['status'])}, förfaller {f['due']}"
               + (f", utfört {f['actual']}" if f.get("actual") else "")
               + f"; {STATE_LABELS[item.state]}; granskning: {item.review.label}"
               + (f" ({item.review.deviation_reference})" if item.review.deviation_reference else ""))
    for entry in history.timeline():
        if isinstance(entry, RunChange):
            fields = ", ".join(f"{FIELD_LABELS[k]} {v['old'] or '–'} → {v['new'] or '–'}"
                               for k, v in entry.fields.items())
            click.echo(f"  {_stockholm(entry.at)}  körning {entry.run_id} (per {entry.as_of}): "
                       f"{CHANGE_LABELS[entry.change]}" + (f": {fields}" if fields else ""))
            continue
        d, stale = entry
        where = f", från {clean_text(d.from_address)}" if d.from_address else ""   # the review app's client
        text = f"  {_stockholm(d.at)}  beslut av {clean_text(d.by)} ({d.source}{where}): {DECISION_LABELS[d.decision]}"
        if d.reference:
            text += f" {_quoted(d.reference)}"
        if d.reason:
            text += f" — {_quoted(d.reason)}"
        if d.event_id:
            text += f" (händelse {clean_text(d.event_id)} {d.event_date})"
        if stale:
            text += f"  [{BEFORE_CHANGE}]"
        click.echo(text)
