"""`compliance doctor`: does the rules engine load and decide on this machine?

durable-rules is a C extension: on a new Python, a new distribution or a broken build it
can fail to load, or crash the process that loads it. So the check runs in a worker
process (a fresh interpreter, `python -m compliance.doctor`) and this process only reads
what it says: a crash there is one Swedish line here, never a traceback.

The worker loads the engine (`compliance.durable`), optionally creates rulesets from
given rule definitions (`compliance rules validate`), and decides a tiny built-in case
(`PROVFALL`) through the same path a scan takes, with the shipped rules. The case has a
late invitation and an absent unit beside an invitation in time, a present unit, consent
in force and a meeting within 30 days, so both a rule that fires and one that must stay
silent (`none()`) are exercised.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

TIMEOUT_S = 120

#: The built-in case: (id, type, at, extra fields); all events by the unit "soc".
CASE = "PROVFALL"
_EVENTS = [
    ("D1", "case.opened", "2025-03-03", {}),
    ("D2", "sip.initiated", "2025-03-03", {}),
    ("D3", "consent.given", "2025-03-03", {"by": "guardian", "form": "written"}),
    ("D4", "meeting.scheduled", "2025-03-04", {"meeting": "M1", "kind": "sip", "date": "2025-03-31"}),
    ("D5", "invitation.sent", "2025-03-05", {"meeting": "M1", "to": "bup"}),      # in time
    ("D6", "invitation.sent", "2025-03-14", {"meeting": "M1", "to": "skola"}),    # 4 days late
    ("D7", "meeting.held", "2025-03-31", {"meeting": "M1", "kind": "sip", "attendees": ["soc", "bup"]}),
]
AS_OF = dt.date(2025, 12, 31)
#: What the spec says of it (checked against tests/reference.py): (rule, event, unit, due, actual).
EXPECTED = [
    ("invitation-notice", "D6", "soc", "2025-03-10", "2025-03-14"),   # send by roll_back(03-31 - 21)
    ("mandatory-attendance", "D7", "skola", "2025-03-31", "2025-03-31"),
]

#: The worker's steps, named in the line that reports a crash during one of them.
_STEPS = {"load": "när regelmotorn laddades", "ruleset": "när regelmotorn tog emot regelfilerna",
          "decide": "när regelmotorn bedömde provfallet"}


class EngineBroken(Exception):
    """The engine does not work here; the message (one Swedish line) says what is broken."""


class RulesRejected(EngineBroken):
    """The engine works but refused the rule definitions it was given."""


@dataclass(frozen=True)
class Health:
    """What the worker found: the engine loaded (and decided the built-in case)."""
    python: str
    executable: str
    durable: str
    shim: bool
    calendar: str

    def lines(self) -> list[str]:
        shim = ("används (Python 3.13 och senare saknar PyEval_CallObject)" if self.shim
                else "behövs inte")
        return [
            f"Python {self.python} ({self.executable})",
            f"durable-rules {self.durable}; PyEval_CallObject-shim: {shim}",
            f"Kalender för vardagar: {self.calendar}",
            f"Provfallet {CASE} bedömdes rätt: {len(EXPECTED)} väntade brister, inga andra.",
            "Regelmotorn fungerar.",
        ]


def case_lines() -> list[str]:
    """The built-in case as event-log lines."""
    return [json.dumps({"id": eid, "case": CASE, "type": etype, "at": at, "unit": "soc", **extra})
            for eid, etype, at, extra in _EVENTS]


def check(definitions: list[str] | None = None, decide: bool = True, timeout: float = TIMEOUT_S) -> Health:
    """Load the engine in a worker process; raise EngineBroken with one Swedish line.

    `definitions`: compiled rulesets (JSON) the engine must accept; `decide`: also decide
    the built-in case.
    """
    package_parent = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ)
    # The worker imports this very package, also when it runs from a checkout.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), package_parent) if p)
    request = json.dumps({"definitions": definitions or [], "decide": decide})
    try:
        # Its own process group: the worker's own engine workers go with it on a timeout.
        proc = subprocess.Popen([sys.executable, "-m", "compliance.doctor"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                start_new_session=True)
    except OSError as exc:
        raise EngineBroken(f"kunde inte starta en arbetsprocess: {exc.strerror}") from None
    try:
        stdout, _ = proc.communicate(request, timeout=timeout)
    except BaseException as exc:    # the timeout, or Ctrl-C: leave no worker behind
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        if isinstance(exc, subprocess.TimeoutExpired):
            raise EngineBroken(f"arbetsprocessen svarade inte inom {timeout:g} s") from None
        raise
    said = [s for s in map(_said, stdout.splitlines()) if s]
    last = said[-1] if said else {}
    if "error" in last:
        raise (RulesRejected if last.get("rules") else EngineBroken)(last["error"])
    if proc.returncode != 0 or "python" not in last:
        step = _STEPS[last.get("step", "load")]
        raise EngineBroken(f"arbetsprocessen dog {step} ({_how_it_ended(proc.returncode)})")
    return Health(last["python"], last["executable"], last["durable"], last["shim"], last["calendar"])


def _said(line: str) -> dict | None:
    """One of the worker's JSON lines; None for anything else a library printed."""
    try:
        said = json.loads(line)
    except ValueError:
        return None
    return said if isinstance(said, dict) else None


def _how_it_ended(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"slutstatus {returncode}"


# --- the worker ---------------------------------------------------------------------------

def _say(**what: object) -> None:
    print(json.dumps(what), flush=True)


def _decide_case() -> str | None:
    """Decide the built-in case; None if the answer is the spec's, else why not."""
    from .scan import scan_lines
    result = scan_lines(case_lines(), AS_OF, workers=1, file="provfall")
    if result.rejects:
        return f"provfallet {CASE} avvisades: {result.rejects[0]['reason']}"
    if result.errors:
        return f"provfallet {CASE} kunde inte bedömas: {result.errors[0]['reason']}"
    got = sorted((f["rule"], f["event"], f["unit"], f["due"], f["actual"])
                 for f in result.findings if f["status"] == "violation")
    if got != sorted(EXPECTED):
        return (f"provfallet {CASE} bedömdes fel: {len(got)} brister i stället för de "
                f"{len(EXPECTED)} väntade ({', '.join(g[0] for g in got) or 'inga'})")
    return None


def _worker() -> None:
    """Run by `python -m compliance.doctor`: one JSON line per step on stdout, the last one
    the result ({"error": ...} or the facts of a working engine)."""
    request = json.loads(sys.stdin.read() or "{}")
    _say(step="load")
    try:
        from . import calendar as vardagar
        from .durable import EngineUnavailable, durable_version, load_engine, shim_used
        try:
            engine = load_engine()
        except EngineUnavailable as exc:
            _say(error=str(exc))
            return
        for k, definition in enumerate(request.get("definitions", [])):
            _say(step="ruleset")
            try:
                engine.create_ruleset(f"validate{k}", definition)
            except Exception as exc:  # noqa: BLE001 - whatever the C engine raises, as one line
                _say(error=f"durable-rules tog inte emot regelfilerna: {exc}", rules=True)
                return
        if request.get("decide", True):
            _say(step="decide")
            wrong = _decide_case()
            if wrong:
                _say(error=wrong)
                return
    except Exception as exc:  # noqa: BLE001 - the parent shows it as one line
        _say(error=f"oväntat fel i arbetsprocessen: {type(exc).__name__}: {exc}")
        return
    _say(python=platform.python_version(), executable=sys.executable, durable=durable_version(),
         shim=shim_used(),
         calendar=f"{vardagar.CALENDAR_SOURCE}, åren {vardagar.MIN_YEAR}–{vardagar.MAX_YEAR}")


if __name__ == "__main__":
    _worker()
