"""`compliance scan`: event logs in; findings, rejects, deviation drafts and a run record out.

A scan, step by step (docs/design.md):
1. the rule files are loaded and compiled for the profile (`rules`, `profiles`, `compiler`);
2. the engine's worker processes are forked (`pool.start_workers`), before reading;
3. every input line becomes an event or a reject (`reading`);
4. the cases are decided in the workers (`pool`, `decide`, `session`);
5. the outputs are written into a fresh folder, the deviation drafts rendered from them
   (`deviations.write_drafts`), and the folder swapped in (`scanfolder`).

A scan that cannot finish writes nothing: an error, a dead reader, workers that cannot be
started again, SIGTERM, SIGHUP or Ctrl-C (`ScanInterrupted`) stop every child process and
remove the temporary folder; the previous outputs in `--out` stay as they were.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import orjson

from .compiler import Program, compile_program
from .pool import EngineError, StartedWorkers, run_cases, signals_held, start_workers
from .profiles import DEFAULT_PROFILE, Selection, select
from .reading import JSONL_SUFFIXES, InputReport, ReadError, judge, read_events, read_sources
from .records import Record
from .removal import remove_folder
from .rules import Rule, RuleSet, load_ruleset
from .scanfolder import OutputError, fresh_folder, write_outputs


class ScanError(Exception):
    """The scan cannot run (unreadable input, broken rule file, unwritable --out)."""


STOPPING_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


class ScanInterrupted(BaseException):
    """The scan was stopped by SIGTERM, SIGHUP or SIGINT (Ctrl-C); it exits with 128 +
    the signal's number (143, 129, 130), as a shell reports a process the signal ended.
    A BaseException, like KeyboardInterrupt: no `except Exception` may swallow it."""

    def __init__(self, signum: int):
        self.signum = signum
        self.exit_code = 128 + signum
        name = "Ctrl-C (SIGINT)" if signum == signal.SIGINT else signal.Signals(signum).name
        super().__init__(f"avbruten av {name}; inget skrevs, tidigare utdata är orörda")


@contextmanager
def _stopped_by_signals():
    """SIGTERM, SIGHUP (cron, systemd, a closed terminal) and Ctrl-C raise ScanInterrupted
    in this process, so that the scan stops its children and removes its temporary folder
    on the way out (only the main thread can take signals; elsewhere nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise ScanInterrupted(signum)
    before = {sig: signal.signal(sig, stop) for sig in STOPPING_SIGNALS}
    try:
        yield
    except KeyboardInterrupt:      # Ctrl-C before our handler was in place
        raise ScanInterrupted(signal.SIGINT) from None
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


@dataclass
class ScanResult:
    """What a scan found. Findings, evidence and case summaries are kept as the JSON lines
    of their output files (per case, in case order): a million events give hundreds of
    thousands of findings, which as dicts would take several times the memory."""
    as_of: dt.date
    rejects: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    ruleset: RuleSet | None = None
    selection: Selection | None = None
    findings_lines: list[bytes] = field(default_factory=list)
    evidence_lines: list[bytes] = field(default_factory=list)
    cases_lines: list[bytes] = field(default_factory=list)
    changes: Any = None      # with a state store: what changed since its last run (state.RunChanges)
    # files skipped or unreadable, duplicates, unknown units, birth dates (summary, manifest)
    input_report: InputReport = field(default_factory=InputReport)

    @property
    def rules(self) -> list[Rule]:
        return self.selection.rules if self.selection else []

    @property
    def findings(self) -> list[dict[str, Any]]:
        """The findings as dicts, in the order of findings.jsonl."""
        return _parse_lines(self.findings_lines)

    @property
    def evidence(self) -> list[dict[str, Any]]:
        return _parse_lines(self.evidence_lines)

    @property
    def cases(self) -> list[dict[str, Any]]:
        return _parse_lines(self.cases_lines)


def _parse_lines(chunks: list[bytes]) -> list[dict[str, Any]]:
    return [orjson.loads(line) for chunk in chunks for line in chunk.splitlines() if line]


def prepare(rules_dir: Path | str | None, profile: str) -> tuple[RuleSet, Selection, Program]:
    """The rules of a folder, selected by a profile and compiled."""
    ruleset = load_ruleset(rules_dir)
    selection = select(ruleset, profile)
    p = selection.profile
    program = compile_program(ruleset, selection.rules, selection.params, (p.valid_from, p.valid_to))
    return ruleset, selection, program


def _decide(cases: dict[str, list[str]], program: Program, as_of: dt.date, workers: int,
            progress: Callable[[int], None] | None, result: ScanResult, warn_days: int = 5,
            started: StartedWorkers | None = None, reuse: Any = None) -> None:
    # With a store, only the cases whose stored results cannot be reused go to the engine
    # (compliance/incremental.py); the outputs are then put together in case order.
    todo = cases if reuse is None else reuse.to_decide(cases)
    engine = run_cases(sorted(todo.items()), program, as_of, workers=workers, progress=progress,
                       warn_days=warn_days, started=started)
    if reuse is not None:
        reuse.merge(engine)
    # The findings of a case come sorted from its worker and findings.jsonl sorts by case
    # first: the cases in order give the whole file in order.
    result.findings_lines = engine.findings
    result.evidence_lines = engine.evidence
    result.cases_lines = engine.summaries
    result.errors = engine.errors
    per_rule: dict[str, int] = {r.id: 0 for r in result.rules}
    others: dict[str, dict[str, int]] = {"warning": {}, "information": {}}
    for rule, status in engine.tally:
        tally = per_rule if status == "violation" else others.setdefault(status, {})
        tally[rule] = tally.get(rule, 0) + 1
    result.counts.update({"cases": len(cases), "findings": per_rule, "warnings": others["warning"],
                          "information": others["information"],
                          "engine_errors": len(engine.errors),
                          "engine_retried_batches": engine.retried_batches,
                          "engine_worker_deaths": engine.worker_deaths})


def scan_lines(lines: Iterable[str], as_of: dt.date, rules_dir: Path | str | None = None,
               workers: int = 1, file: str = "<input>", warn_days: int = 5,
               profile: str = DEFAULT_PROFILE) -> ScanResult:
    """Scan JSONL text lines held in memory (for tests and embedding)."""
    ruleset, selection, program = prepare(rules_dir, profile)
    records = (Record(file, n, line.rstrip("\r\n")) for n, line in enumerate(lines, start=1))
    got = read_sources([(file, judge(records, 0))], as_of=as_of)
    result = ScanResult(as_of=as_of, rejects=got.rejects, counts=got.counts, ruleset=ruleset,
                        selection=selection, input_report=got.report)
    _decide(got.cases, program, as_of, workers, None, result, warn_days)
    return result


def run_scan(paths: Iterable[Path | str], as_of: dt.date, rules_dir: Path | str | None = None,
             units_path: Path | str | None = None, out_dir: Path | str | None = None,
             workers: int | None = None, mapping: str | None = None,
             report: bool = False, progress_factory: Callable[[int], Any] | None = None,
             warn_days: int = 5, profile: str = DEFAULT_PROFILE, docx: bool = True,
             drafts_progress: Callable[[int], Any] | None = None, state: str | None = None,
             full: bool = False, strict_units: bool = False) -> ScanResult:
    """The whole scan: read, decide, and (with `out_dir`) write every output: the
    drafts in Markdown, and with `report` the reports for people (the drafts in Word too,
    unless `docx` is false). `progress_factory(events)` and `drafts_progress(findings)`
    may give progress bars. With `state` (a --state value) the night is recorded in the
    store (compliance/nightly.py), and the cases whose stored results still hold are not
    decided again, unless `full` (compliance/incremental.py). Unit names and aliases in
    the log are read as the register's ids; with `strict_units` an unknown unit makes its
    line a reject.

    A file that cannot be read is named in `result.input_report.failed` and the others
    are scanned (the command then exits 1); when no file can be read, or with `state`
    (a night with a file missing would mark its findings resolved), nothing is written
    and ScanError names every such file (docs/decisions.md)."""
    ruleset, selection, program = prepare(rules_dir, profile)
    from .units import load_register
    register = load_register(units_path)
    units, cooperation = register.units, register.cooperation
    from .importers import SUPPORTED_SUFFIXES, expand_sources
    sources = expand_sources(paths, JSONL_SUFFIXES | set(SUPPORTED_SUFFIXES))
    if not sources.files and (sources.problems or sources.skipped):
        # nothing to read: each named file that cannot be read on its own line
        raise ScanError("\n".join(sources.problems) if sources.problems else
                        "; ".join([*sources.skipped_lines(), "ingen fil att granska"]))
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        from .deviations import check_templates
        from .resources import ResourceError
        try:
            check_templates(word=report and docx, overview=report)
        except ResourceError as exc:
            raise ScanError(str(exc)) from None
    with _stopped_by_signals():
        return _run(sources.files, as_of, out, ruleset, selection, program, units, cooperation, units_path,
                    workers, mapping, report, progress_factory, warn_days, docx, drafts_progress, state,
                    register.resolver(strict_units), sources, full)


def _run(files: list[Path], as_of: dt.date, out: Path | None, ruleset: RuleSet, selection: Selection,
         program: Program, units: Any, cooperation: Any, units_path: Path | str | None,
         workers: int | None, mapping: str | None, report: bool,
         progress_factory: Callable[[int], Any] | None, warn_days: int, docx: bool,
         drafts_progress: Callable[[int], Any] | None, state: str | None,
         resolver: Any = None, sources: Any = None, full: bool = False) -> ScanResult:
    from .state.errors import StateError
    night = None
    try:
        if state is not None and out is not None:
            from .nightly import NightlyScan
            night = NightlyScan(state, out, full=full)
        tmp = fresh_folder(out) if out is not None else None
    except (OutputError, StateError) as exc:
        if night is not None:
            night.close()
        raise ScanError(str(exc)) from None
    clock = _PhaseClock()
    started = None
    try:
        workers = workers or min(2, os.cpu_count() or 1)
        # The engine's workers are forked before reading, while this process is small.
        started = start_workers(program, as_of, workers, warn_days)
        try:
            got = read_events(files, mapping, workers, units=resolver, as_of=as_of)
        except ReadError as exc:
            raise ScanError(str(exc)) from None
        clock("reading")
        if sources is not None:
            got.report.skipped = sources.skipped_lines()
            got.report.failed[:0] = sources.problems
        _check_unreadable(got.report.failed, got.inputs, night is not None)
        cases, counts = got.cases, got.counts
        result = ScanResult(as_of=as_of, rejects=got.rejects, counts=counts, inputs=got.inputs,
                            ruleset=ruleset, selection=selection, input_report=got.report)
        if night is not None:
            night.take_filings(cases)
        bar = progress_factory(counts["events"]) if progress_factory else None
        workers_now, started = started, None     # run_cases owns them from here
        reuse = night.reuse(result, program, warn_days) if night is not None else None
        _decide(cases, program, as_of, workers, bar.update if bar else None, result, warn_days,
                workers_now, reuse)
        del cases, got                           # the drafts' workers are forked small
        if bar:
            bar.close()
        clock("rules engine")
        if out is not None:
            try:
                write_outputs(result, out, tmp, units_path, report=report, docx=docx,
                              register=(units, cooperation), workers=workers,
                              progress=drafts_progress, clock=clock, night=night)
            except (OutputError, StateError) as exc:
                raise ScanError(str(exc)) from None
            result.changes = night.changes if night is not None else None
            clock("writing outputs")
    except (EngineError, StateError) as exc:    # (the store's, while deciding: before anything is recorded)
        _clean_up(started, tmp)
        raise ScanError(f"{exc}; inget skrevs, tidigare utdata är orörda") from None
    except BaseException:
        _clean_up(started, tmp if not (night is not None and night.committed) else None)
        # (a committed run's folder is swapped in by the next report or scan)
        raise
    finally:
        if night is not None:
            night.close()
    return result


def _check_unreadable(failed: list[str], read: list[Any], with_state: bool) -> None:
    """Files that could not be read stop the scan before anything is written when no
    file was read at all, or when the night goes into a state store (findings of the
    missing file would count as resolved); otherwise the others are scanned."""
    if not failed:
        return
    if not read:
        raise ScanError("\n".join(failed))
    if with_state:
        raise ScanError("\n".join([*failed, "med --state skrivs inget när en fil inte kan läsas (dess brister "
                                            "skulle räknas som åtgärdade); tidigare utdata och tillståndet är orörda"]))


def _clean_up(started: StartedWorkers | None, tmp: Path | None) -> None:
    """After a failure: every child stopped, the temporary folder gone (no signal may cut
    this short; one that comes meanwhile is taken afterwards)."""
    with signals_held():
        if started is not None:
            started.close(kill=True)
        if tmp is not None:
            remove_folder(tmp)


class _PhaseClock:
    """With COMPLIANCE_TIMING=1, the wall time of each phase of a scan on stderr (for the
    benchmark: where the time goes)."""

    def __init__(self) -> None:
        import time
        self._now = time.perf_counter
        self.on = os.environ.get("COMPLIANCE_TIMING") == "1"
        self.last = self._now()
        self.last_cpu = self._cpu()

    @staticmethod
    def _cpu() -> tuple[float, float]:
        """CPU seconds (user + system) of this process and of its finished workers."""
        import resource
        own = resource.getrusage(resource.RUSAGE_SELF)
        workers = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime, workers.ru_utime + workers.ru_stime

    def __call__(self, phase: str) -> None:
        if self.on:
            import sys
            now, cpu = self._now(), self._cpu()
            print(f"tid: {phase}: {now - self.last:.1f} s (CPU: huvudprocess {cpu[0] - self.last_cpu[0]:.1f} s, "
                  f"arbetsprocesser {cpu[1] - self.last_cpu[1]:.1f} s)", file=sys.stderr)
            self.last, self.last_cpu = now, cpu


def summary_lines(result: ScanResult) -> list[str]:
    c = result.counts
    lines = [f"Rader: {c.get('lines', 0)}, händelser: {c.get('events', 0)}, "
             f"avvisade: {c.get('rejects', 0)}, tomma: {c.get('blank', 0)}, dubbletter: {c.get('duplicates', 0)}; "
             f"ärenden: {c.get('cases', 0)}"]
    lines.extend(result.input_report.summary_lines())
    if result.selection is not None and result.selection.profile.name != DEFAULT_PROFILE:
        lines.append(f"Profil: {result.selection.profile.name} ({result.selection.profile.title})")
    per_rule = c.get("findings", {})
    lines.append("Brister per regel: " + ", ".join(f"{k} {v}" for k, v in sorted(per_rule.items())))
    if c.get("warnings"):
        lines.append("Varningar per regel: " + ", ".join(f"{k} {v}" for k, v in sorted(c["warnings"].items())))
    if c.get("information"):
        lines.append("Information per regel: " + ", ".join(f"{k} {v}" for k, v in sorted(c["information"].items())))
    if result.selection is not None and result.selection.outside:
        lines.append(f"Regler i regelmappen som profilen {result.selection.profile.name} inte använder: "
                     + ", ".join(result.selection.outside))
    if result.changes is not None:
        lines.append(result.changes.summary_line())
    if c.get("engine_worker_deaths") or c.get("engine_retried_batches"):
        lines.append(f"Arbetsprocesser för regelmotorn som dog och ersattes: {c.get('engine_worker_deaths', 0)}; "
                     f"satser som kördes om: {c.get('engine_retried_batches', 0)}")
    if result.errors:
        lines.append(f"FEL: {len(result.errors)} ärenden kunde inte bedömas av regelmotorn: "
                     + ", ".join(e["case"] for e in result.errors[:10]))
    return lines
