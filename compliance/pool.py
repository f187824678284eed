"""The engine's worker processes: cases decided in parallel, and never lost to a crash.

durable-rules' C code can crash on some rule shapes (docs/durable-rules-notes.md), so it
runs only in worker processes. Cases go out in batches; a batch whose worker died is split
and run again in fresh workers, down to one case at a time, and a case that still crashes
alone is reported as an error (errors.jsonl), never dropped.

The workers are forked before the log is read (`start_workers`): a forked process maps its
parent's memory, and forked after reading each worker's resident memory included the whole
read log.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import signal
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Iterable

import orjson

from .compiler import Program

BATCH_CASES = 100      # cases per task sent to a worker
FAULT_ENV = "COMPLIANCE_FAULT_CASE"   # test hook: a worker crashes on this case id


@dataclass
class EngineResult:
    """What the workers decided, in case order: JSON-line blocks of findings, evidence and
    case summaries (one block per batch), the (rule, status) of every finding, and the
    cases that could not be decided."""
    findings: list[bytes]
    evidence: list[bytes]
    summaries: list[bytes]
    tally: list[tuple[str, str]]
    errors: list[dict[str, str]]
    retried_batches: int = 0


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return b"".join([orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in rows])


# --- in the worker ---------------------------------------------------------------------------

_DECIDER: Any = None
_FAULT_CASE: str | None = None


def _init_worker(program: Program, as_of: dt.date, warn_days: int) -> None:
    global _DECIDER, _FAULT_CASE
    import gc
    # A case makes thousands of short-lived objects and no reference cycles worth
    # chasing: collecting less often saved about 7 % of a worker's time.
    gc.set_threshold(50_000, 20, 100)
    from .decide import Decider
    _DECIDER = Decider(program, as_of, warn_days)
    _FAULT_CASE = os.environ.get(FAULT_ENV)


def _run_batch(batch: list[tuple[str, list[str]]]) -> dict[str, Any]:
    """Decide a batch of cases (consecutive in case order) in this worker.

    The batch's findings, evidence and summaries come back as one block of JSON lines
    each, in case order: a million events make a hundred thousand cases, and one small
    object per batch is much cheaper to send and to keep than one per case.
    """
    from .session import CaseTooLarge, OutsideCalendar
    findings, evidence, summaries, tally, errors = [], [], [], [], []
    for case, packed in batch:
        if _FAULT_CASE is not None and case == _FAULT_CASE:
            os.kill(os.getpid(), signal.SIGSEGV)   # test hook: behave like a C-engine crash
        events = orjson.loads("[" + ",".join(packed) + "]")    # CompactEvents, as lists
        try:
            (outcome,) = _DECIDER.decide([(case, events)])
        except (CaseTooLarge, OutsideCalendar) as exc:
            errors.append({"case": case, "reason": str(exc)})
            continue
        except Exception as exc:  # an action or a fact that failed: this case, not the scan
            errors.append({"case": case, "reason": f"{type(exc).__name__}: {exc}"})
            continue
        findings.append(_jsonl(outcome.findings))
        evidence.append(_jsonl(outcome.evidence))
        summaries.append(_jsonl([outcome.summary]))
        tally += [(f["rule"], f["status"]) for f in outcome.findings]
    return {"first": batch[0][0], "findings": b"".join(findings), "evidence": b"".join(evidence),
            "summaries": b"".join(summaries), "tally": tally, "errors": errors}


# --- in the main process ---------------------------------------------------------------------

@dataclass
class StartedWorkers:
    """Worker processes forked ahead of the cases (`start_workers`)."""
    pool: ProcessPoolExecutor
    init_args: tuple

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def _pool(workers: int, init_args: tuple) -> ProcessPoolExecutor:
    import multiprocessing as mp
    return ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork"),
                               initializer=_init_worker, initargs=init_args)


def start_workers(program: Program, as_of: dt.date, workers: int = 2,
                  warn_days: int = 5) -> StartedWorkers:
    """Fork the worker processes now, before the log is read."""
    init_args = (program, as_of, warn_days)
    pool = _pool(max(1, workers), init_args)
    pool.submit(int).result()   # the first task forks every worker of a fork-context pool
    return StartedWorkers(pool, init_args)


def run_cases(cases: Iterable[tuple[str, list[str]]], program: Program, as_of: dt.date,
              workers: int = 2, progress: Any = None, warn_days: int = 5,
              started: StartedWorkers | None = None) -> EngineResult:
    """Decide every case in worker processes; never lose one to a crash.

    With `started` (from `start_workers` with the same arguments) the first round of
    batches runs in those workers; otherwise they are forked here.
    """
    init_args = started.init_args if started is not None else (program, as_of, warn_days)
    first_pool = started.pool if started is not None else None    # None: _run_pool forks
    batches = list(_chunks(cases, BATCH_CASES))
    decided: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    suspects: list[list] = []     # single cases whose worker died: re-run alone
    retried = 0

    def collect(result: dict[str, Any], batch: list) -> None:
        errors.extend(result.pop("errors"))
        decided.append(result)
        if progress is not None:
            progress(sum(len(p) for _, p in batch))

    # Batches in parallel (the first round in the started workers, if any); a batch whose
    # worker died is split in halves and run again in fresh workers.
    failed = _run_pool(batches, workers, init_args, collect, first_pool) if batches or first_pool else []
    while failed:
        batches = []
        for batch in failed:
            retried += 1
            if len(batch) > 1:
                mid = len(batch) // 2
                batches += [batch[:mid], batch[mid:]]
            else:
                suspects.append(batch)
        failed = _run_pool(batches, workers, init_args, collect) if batches else []
    # One case at a time in one worker: a crash now points at exactly that case.
    for batch in suspects:
        for _ in range(2):
            if not _run_pool([batch], 1, init_args, collect):
                break
            retried += 1
        else:
            errors.append({"case": batch[0][0],
                           "reason": "regelmotorn kraschade på ärendet även när det kördes ensamt"})
            if progress is not None:
                progress(len(batch[0][1]))
    # Batches are runs of consecutive cases: in the order of their first case, their
    # blocks are in case order.
    decided.sort(key=lambda r: r["first"])
    return EngineResult([r["findings"] for r in decided if r["findings"]],
                        [r["evidence"] for r in decided if r["evidence"]],
                        [r["summaries"] for r in decided if r["summaries"]],
                        [t for r in decided for t in r["tally"]],
                        sorted(errors, key=lambda e: e["case"]), retried)


def _run_pool(batches: list[list], workers: int, init_args: tuple,
              collect: Any, pool: ProcessPoolExecutor | None = None) -> list[list]:
    """Run batches in `pool`, else in a fresh pool of worker processes; return the
    batches whose worker died."""
    failed = []
    if pool is None:
        import gc
        # Forked workers share the parent's memory until they write to it; a collection in
        # a worker would touch every inherited object. Frozen objects are never collected.
        gc.freeze()
        pool = _pool(max(1, min(workers, len(batches))), init_args)
    with pool:
        futures = {pool.submit(_run_batch, b): b for b in batches}
        try:
            for fut in as_completed(futures):
                try:
                    results = fut.result()
                except (BrokenProcessPool, OSError, EOFError):
                    failed.append(futures[fut])
                    continue
                collect(results, futures[fut])
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)   # the scan stops: no more batches
            raise
    return failed


def _chunks(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk
