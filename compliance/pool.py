"""The scan's child processes: engine workers and readers, and cases never lost to a crash.

durable-rules' C code can crash on some rule shapes (docs/durable-rules-notes.md), and any
process can be killed (an OOM killer, an operator), so the engine runs only in worker
processes that the scan forks and watches itself (`Children`), one pipe each: a worker that
dies costs only the batch it was deciding. That batch is split and run again, down to one
case at a time, and a case that still crashes alone is reported as an error
(errors.jsonl), never dropped. When no worker can be started or kept alive (fork fails,
every new worker dies before it is ready, case after case crashes), the scan stops with
one line (`EngineError`) and writes nothing.

Children ignore Ctrl-C (the terminal sends SIGINT to the whole process group): the scan
stops them itself, as it does on SIGTERM and SIGHUP (`Children.close`). A child whose
parent dies sees its pipe close and exits, and on Linux is killed with it.

The engine workers are forked before the log is read (`start_workers`): a forked process
maps its parent's memory, and forked after reading each worker's resident memory included
the whole read log. Replacements for dead workers are forked later, with the parent's
objects frozen out of the garbage collector (`gc.freeze`) so that they stay shared.
"""

from __future__ import annotations

import datetime as dt
import gc
import itertools
import multiprocessing as mp
import os
import signal
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import wait as wait_for
from typing import Any, Callable, Iterable, Iterator

import orjson

from .chunks import chunks
from .compiler import Program

BATCH_CASES = 100        # cases per task sent to a worker
SOLO_ATTEMPTS = 3        # a case alone in a batch is tried this often before it is an error
MAX_CRASHED_CASES = 25   # more cases than this crashing alone: something is wrong with the machine
MAX_EARLY_DEATHS = 3     # new children dying before they are ready, in a row: cannot be rebuilt
FAULT_ENV = "COMPLIANCE_FAULT_CASE"   # test hook: a worker crashes on this case id


class EngineError(Exception):
    """The engine's workers cannot run (cannot be started, die before they are ready,
    crash on case after case); one Swedish line. The scan writes nothing then."""


class ChildDied(Exception):
    """A child process ended while it had a task (killed, crashed)."""

    def __init__(self, what: str, exitcode: int | None):
        self.exitcode = exitcode
        super().__init__(f"{what} avslutades oväntat ({describe_exit(exitcode)})")


def describe_exit(exitcode: int | None) -> str:
    """How a child ended, in words: 'SIGKILL', 'slutkod 1'."""
    if exitcode is None:
        return "okänt hur"
    if exitcode < 0:
        try:
            return signal.Signals(-exitcode).name
        except ValueError:
            return f"signal {-exitcode}"
    return f"slutkod {exitcode}"


@contextmanager
def signals_held() -> Iterator[None]:
    """SIGTERM, SIGHUP and SIGINT held back while a step that must not be cut short runs
    (stopping the children, swapping the output folder); one that came meanwhile is taken
    right after. Only the main thread takes signals, so elsewhere this does nothing."""
    import threading
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = {signal.SIGTERM, signal.SIGHUP, signal.SIGINT}
    before = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


# --- in a child ----------------------------------------------------------------------------------

def _as_child() -> None:
    """A forked child: Ctrl-C is the parent's to handle (it stops its children), SIGTERM
    and SIGHUP end it as they end any process (not the parent's handlers, inherited by the
    fork), and on Linux it dies with its parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)         # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


# The parent's ends of every child's pipe: a child closes the copies its fork gave it, or a
# child would never see its own pipe close (its sibling, or itself, would hold it open).
_PARENT_ENDS: set[Any] = set()


def _child_main(conn: Any, init: Callable[..., None] | None, init_args: tuple) -> None:
    """A child's life: initialize, say so, then run one task at a time until the pipe closes."""
    _as_child()
    for end in list(_PARENT_ENDS):
        end.close()
    _PARENT_ENDS.clear()
    try:
        if init is not None:
            init(*init_args)
    except Exception as exc:     # e.g. the engine does not load: one line for the parent
        _tell(conn, ("failed", None, f"{type(exc).__name__}: {exc}"))
        return
    if not _tell(conn, ("ready", None, None)):
        return
    while True:
        try:
            tag, fn, arg = conn.recv()
        except (EOFError, OSError):
            return                       # the parent is done with us (or gone)
        try:
            result = fn(arg)
        except Exception as exc:
            answer = ("error", tag, exc if _picklable(exc) else RuntimeError(f"{type(exc).__name__}: {exc}"))
        else:
            answer = ("done", tag, result)
        if not _tell(conn, answer):
            return


def _tell(conn: Any, message: tuple) -> bool:
    """Send to the parent; False when it has closed our pipe already (a scan that stopped
    before this child was ready: nothing to say, and no traceback on the user's stderr)."""
    try:
        conn.send(message)
    except OSError:                      # BrokenPipeError, ConnectionResetError
        return False
    return True


def _picklable(exc: Exception) -> bool:
    import pickle
    try:
        pickle.loads(pickle.dumps(exc))
        return True
    except Exception:
        return False


# --- in the parent: the children ------------------------------------------------------------------

@dataclass(eq=False)
class Child:
    process: Any
    conn: Any
    ready: bool = False
    task: int | None = None      # the tag of the task it is running
    runs: int = 0                # tasks it has finished


class Children:
    """Forked child processes that each run one task at a time for this process.

    `what` names them in messages ("en arbetsprocess för regelmotorn"). `init(*init_args)`
    runs once in each child. Events from `wait`: ("done", tag, result), ("error", tag,
    exception raised by the task), ("died", tag or None, exit code).
    """

    def __init__(self, n: int, what: str, init: Callable[..., None] | None = None,
                 init_args: tuple = ()):
        self.what = what
        self.init, self.init_args = init, init_args
        self.children: list[Child] = []
        self.early_deaths = 0
        self.deaths = 0
        self._tags = itertools.count()
        try:
            for _ in range(n):
                self.fork()
        except BaseException:
            self.close(kill=True)
            raise

    def fork(self) -> Child:
        ctx = mp.get_context("fork")
        ours, theirs = ctx.Pipe()
        process = ctx.Process(target=_child_main, args=(theirs, self.init, self.init_args), daemon=True)
        _PARENT_ENDS.add(ours)
        try:
            process.start()
        except OSError as exc:
            _PARENT_ENDS.discard(ours)
            ours.close()
            theirs.close()
            raise EngineError(f"{self.what} kunde inte startas: {exc.strerror or exc}") from None
        theirs.close()
        child = Child(process, ours)
        self.children.append(child)
        return child

    def ensure(self, n: int) -> None:
        """At least `n` children alive (new ones forked with this process's objects frozen)."""
        if len(self.children) < n:
            gc.freeze()
            while len(self.children) < n:
                self.fork()

    def idle(self) -> list[Child]:
        return [c for c in self.children if c.ready and c.task is None]

    def busy(self) -> int:
        return sum(c.task is not None for c in self.children)

    def send(self, child: Child, fn: Callable[[Any], Any], arg: Any) -> int:
        """Give `child` a task; its tag. A child found dead here is reported by `wait`."""
        tag = next(self._tags)
        child.task = tag
        try:
            child.conn.send((tag, fn, arg))
        except (BrokenPipeError, ConnectionResetError, EOFError):
            pass
        return tag

    def wait(self, timeout: float | None = None) -> list[tuple[str, int | None, Any]]:
        """Wait until a child says something or dies; what happened."""
        if not self.children:
            return []
        by_conn = {c.conn: c for c in self.children}
        by_sentinel = {c.process.sentinel: c for c in self.children}
        events: list[tuple[str, int | None, Any]] = []
        gone: set[Child] = set()
        for obj in wait_for(list(by_conn) + list(by_sentinel), timeout):
            child = by_conn.get(obj) or by_sentinel[obj]
            if child in gone:
                continue
            # What it said before it ended comes first; then, if it ended, its death.
            while child.conn.poll():
                try:
                    kind, tag, payload = child.conn.recv()
                except (EOFError, OSError):
                    break
                self._heard(child, kind, tag, payload, events)
            if not child.process.is_alive():
                events.append(self._died(child))
                gone.add(child)
        return events

    def _heard(self, child: Child, kind: str, tag: int | None, payload: Any,
               events: list[tuple[str, int | None, Any]]) -> None:
        if kind == "ready":
            child.ready = True
            self.early_deaths = 0
        elif kind == "failed":
            raise EngineError(f"{self.what} kunde inte komma igång: {payload}")
        else:
            child.task = None
            child.runs += 1
            events.append((kind, tag, payload))

    def _died(self, child: Child) -> tuple[str, int | None, Any]:
        child.process.join()
        child.conn.close()
        _PARENT_ENDS.discard(child.conn)
        self.children.remove(child)
        self.deaths += 1
        exitcode = child.process.exitcode
        if not child.ready:
            self.early_deaths += 1
            if self.early_deaths >= MAX_EARLY_DEATHS:
                raise EngineError(f"{self.what} dog innan den hunnit starta, {self.early_deaths} gånger "
                                  f"i rad (senast {describe_exit(exitcode)}); den kan inte startas om")
        return ("died", child.task, exitcode)

    def close(self, kill: bool = False) -> None:
        """Stop every child: when they are idle, by closing their pipes (they exit); with
        `kill` (the scan stops: a signal, an error) at once, with SIGKILL."""
        with signals_held():
            self._close(kill)

    def _close(self, kill: bool) -> None:
        for c in self.children:
            if kill:
                try:
                    c.process.kill()
                except (OSError, ValueError):
                    pass
            c.conn.close()
            _PARENT_ENDS.discard(c.conn)
        for c in self.children:
            c.process.join(None if kill else 5)
            if c.process.exitcode is None:
                c.process.kill()
                c.process.join()
        self.children = []

    def map_in_order(self, fn: Callable[[Any], Any], args: list[Any]) -> Iterator[Any]:
        """fn(arg) for each arg in the children, the results in the order of `args`; at most
        two tasks a child ahead of the consumer. A child that dies raises ChildDied; an
        exception in fn is raised here in its turn, after the results of the args before
        it (so what was done before a failure does not depend on which child was quicker)."""
        results: dict[int, Any] = {}
        failed: dict[int, BaseException] = {}
        order: dict[int, int] = {}
        sent = done = 0
        while done < len(args):
            for child in self.idle():
                if sent >= len(args) or sent - done >= 2 * max(1, len(self.children)):
                    break
                order[self.send(child, fn, args[sent])] = sent
                sent += 1
            if done in failed:
                raise failed.pop(done)
            if done in results:
                yield results.pop(done)
                done += 1
                continue
            if not self.children:
                raise ChildDied(self.what, None)
            for kind, tag, payload in self.wait():
                if kind == "died":
                    if tag is not None:
                        raise ChildDied(self.what, payload)
                    self.ensure(1 + len(self.children))     # an idle one: replace it
                elif kind == "error":
                    if tag not in order:
                        raise payload
                    failed[order.pop(tag)] = payload
                else:
                    results[order.pop(tag)] = payload


# --- the engine's workers ---------------------------------------------------------------------------

@dataclass
class EngineResult:
    """What the workers decided, in case order: JSON-line blocks of findings, evidence and
    case summaries (one block per batch), the (rule, status) of every finding, the cases
    that could not be decided, and how many batches were run again after a worker died."""
    findings: list[bytes]
    evidence: list[bytes]
    summaries: list[bytes]
    tally: list[tuple[str, str]]
    errors: list[dict[str, str]]
    retried_batches: int = 0
    worker_deaths: int = 0
    # each decided case in case order: (case, stable-until ordinal or None, bytes of its
    # findings, evidence and summary lines in the blocks above) (compliance.incremental)
    per_case: list[tuple[str, int | None, int, int, int]] = field(default_factory=list)


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return b"".join([orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in rows])


_DECIDER: Any = None
_FAULT_CASE: str | None = None


def _init_worker(program: Program, as_of: dt.date, warn_days: int) -> None:
    global _DECIDER, _FAULT_CASE
    # A case makes thousands of short-lived objects and no reference cycles worth
    # chasing: collecting less often saved about 7 % of a worker's time.
    gc.set_threshold(50_000, 20, 100)
    from .decide import Decider
    _DECIDER = Decider(program, as_of, warn_days)
    _FAULT_CASE = os.environ.get(FAULT_ENV)


def _crash_for_test() -> None:
    """The test hook's crash, like the C engine's: SIGSEGV, without the Python dump that
    pytest's faulthandler would print for it (a real crash's dump stays visible)."""
    import faulthandler
    faulthandler.disable()
    os.kill(os.getpid(), signal.SIGSEGV)


def _run_batch(batch: list[tuple[str, list[str]]]) -> dict[str, Any]:
    """Decide a batch of cases (consecutive in case order) in this worker, together: one
    durable-rules call per stage for all of them.

    The batch's findings, evidence and summaries come back as one block of JSON lines
    each, in case order: a million events make a hundred thousand cases, and one small
    object per batch is much cheaper to send and to keep than one per case. A case that
    cannot be decided is an error line; if the engine refuses the batch as a whole, each
    case is decided alone, so that only the case at fault is an error.
    """
    from .decide import CaseFailure
    if _FAULT_CASE is not None and any(case == _FAULT_CASE for case, _ in batch):
        _crash_for_test()
    cases = [(case, orjson.loads("[" + ",".join(packed) + "]")) for case, packed in batch]   # CompactEvents
    try:
        outcomes = _DECIDER.decide_each(cases)
    except Exception:
        outcomes = []
        for one in cases:
            try:
                outcomes += _DECIDER.decide_each([one])
            except Exception as exc:
                outcomes.append(CaseFailure(one[0], exc))
    findings, evidence, summaries, tally, errors, per_case = [], [], [], [], [], []
    for outcome in outcomes:
        if isinstance(outcome, CaseFailure):
            errors.append({"case": outcome.case, "reason": outcome.reason})
            continue
        findings.append(_jsonl(outcome.findings))
        evidence.append(_jsonl(outcome.evidence))
        summaries.append(_jsonl([outcome.summary]))
        tally += [(f["rule"], f["status"]) for f in outcome.findings]
        per_case.append((outcome.case, outcome.stable_until, len(findings[-1]), len(evidence[-1]),
                         len(summaries[-1])))
    return {"first": batch[0][0], "findings": b"".join(findings), "evidence": b"".join(evidence),
            "summaries": b"".join(summaries), "tally": tally, "errors": errors, "per_case": per_case}


ENGINE_WORKER = "en arbetsprocess för regelmotorn"


class StartedWorkers(Children):
    """The engine's worker processes, forked ahead of the cases (`start_workers`)."""

    def __init__(self, n: int, init_args: tuple):
        super().__init__(n, ENGINE_WORKER, _init_worker, init_args)
        self.init_args = init_args


def start_workers(program: Program, as_of: dt.date, workers: int = 2,
                  warn_days: int = 5) -> StartedWorkers:
    """Fork the worker processes now, before the log is read."""
    return StartedWorkers(max(1, workers), (program, as_of, warn_days))


@dataclass
class _Progress:
    """Where the cases are: batches waiting, batches out with a worker, what came back."""
    queue: deque = field(default_factory=deque)           # batches still to run
    out: dict[int, list] = field(default_factory=dict)    # task tag -> batch
    crashes: dict[str, int] = field(default_factory=dict)  # case run alone -> its crashes
    decided: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    retried: int = 0


def run_cases(cases: Iterable[tuple[str, list[str]]], program: Program, as_of: dt.date,
              workers: int = 2, progress: Any = None, warn_days: int = 5,
              started: StartedWorkers | None = None) -> EngineResult:
    """Decide every case in worker processes; never lose one to a crash.

    With `started` (from `start_workers` with the same arguments) the cases run in those
    workers (which this function closes); otherwise they are forked here. Raises
    EngineError when the workers cannot run at all.
    """
    work = _Progress(queue=deque(chunks(cases, BATCH_CASES)))
    team = started
    failed = True
    try:
        if team is None and work.queue:
            gc.freeze()    # forked after reading: keep the read log shared, out of the collector
            team = StartedWorkers(min(max(1, workers), len(work.queue)),
                                  (program, as_of, warn_days))
        while team is not None and (work.queue or work.out):
            team.ensure(min(max(1, workers), len(work.queue) + len(work.out)))
            for child in sorted(team.idle(), key=lambda c: c.runs):    # a fresh one first
                if not work.queue:
                    break
                batch = work.queue.popleft()
                work.out[team.send(child, _run_batch, batch)] = batch
            for kind, tag, payload in team.wait():
                _handle(kind, tag, payload, work, progress)
        failed = False
    finally:
        if team is not None:
            team.close(kill=failed)
    # Batches are runs of consecutive cases: in the order of their first case, their
    # blocks are in case order.
    decided = sorted(work.decided, key=lambda r: r["first"])
    return EngineResult([r["findings"] for r in decided if r["findings"]],
                        [r["evidence"] for r in decided if r["evidence"]],
                        [r["summaries"] for r in decided if r["summaries"]],
                        [t for r in decided for t in r["tally"]],
                        sorted(work.errors, key=lambda e: e["case"]), work.retried,
                        team.deaths if team is not None else 0,
                        [c for r in decided for c in r["per_case"]])


def _handle(kind: str, tag: int | None, payload: Any, work: _Progress, progress: Any) -> None:
    """One event from the workers: a batch decided, or a worker's death (its batch split
    and run again, or, alone and crashed too often, reported)."""
    if kind == "error":
        raise EngineError(f"regelmotorn kunde inte bedöma en sats ärenden: {payload}")
    batch = work.out.pop(tag, None) if tag is not None else None
    if kind == "done":
        work.errors.extend(payload.pop("errors"))
        work.decided.append(payload)
        if progress is not None:
            progress(sum(len(p) for _, p in batch))
        return
    if batch is None:                  # an idle worker died: it is replaced, nothing lost
        return
    work.retried += 1
    if len(batch) > 1:                 # run again in halves, ahead of the rest
        mid = len(batch) // 2
        work.queue.extendleft([batch[mid:], batch[:mid]])
        return
    case = batch[0][0]
    work.crashes[case] = work.crashes.get(case, 0) + 1
    if work.crashes[case] < SOLO_ATTEMPTS:
        work.queue.appendleft(batch)
        return
    work.errors.append({"case": case, "reason": "regelmotorn kraschade på ärendet även när det kördes "
                                                f"ensamt ({describe_exit(payload)})"})
    if progress is not None:
        progress(len(batch[0][1]))
    crashed = sum(n >= SOLO_ATTEMPTS for n in work.crashes.values())
    if crashed > MAX_CRASHED_CASES:
        raise EngineError(f"regelmotorn kraschade på {crashed} ärenden även när de kördes ensamma; "
                          "något är fel med regelmotorn eller maskinen")


