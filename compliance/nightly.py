"""A scan with a state store (`--state`, state.md): the night recorded, the outputs told.

The order of a scan with a store, chosen so that the store and `--out` change together:

1. the store is opened (a new SQLite file is created); a previous scan killed after its
   commit but before its swap is finished first (`finish_publication`);
2. the log is read; its `deviation.filed` events are taken from the packed events;
3. the cases are decided and every output is written into a fresh folder beside `--out`;
4. one transaction: the run, its findings, the log's filings, each case's evidence and
   summary, the comparison with the night before; `changes.jsonl` and the review
   statuses are written into the fresh folder, then the drafts and reports that depend
   on them; the run also records where the fresh folder is;
5. commit;
6. the fresh folder is swapped in (`scanfolder.swap_in`).

A kill before 5 leaves both as they were: the database rolls the transaction back and
the fresh folder is never swapped in. The commit is the point of no return: a kill
between 5 and 6 leaves a complete fresh folder that the store names, and the next scan
or report with the store swaps it in (roll forward, never back). While a scan is
between 5 and 6 it holds a lock on its fresh folder, so nobody else swaps it.
docs/decisions.md says why this order.

`COMPLIANCE_TEST_KILL_AT=<point>` kills the scan with SIGKILL at a named point (the
tests' hook; `KILL_POINTS`).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from .removal import remove_folder

if TYPE_CHECKING:
    from .scan import ScanResult
    from .incremental import Reuse
    from .state import DeviationFiling, RunChanges, Store

# How long a scan waits for another writer of the store, in seconds (default 60).
WAIT_ENV = "COMPLIANCE_STATE_WAIT"
KILL_ENV = "COMPLIANCE_TEST_KILL_AT"
KILL_POINTS = ("outputs-written", "store-staged", "store-finished", "before-commit", "committed",
               "swapping")
_FILED = '"deviation.filed"'


def checkpoint(point: str) -> None:
    """The tests' kill hook: die here, as a power cut or `kill -9` would."""
    if os.environ.get(KILL_ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)


def log_filings(cases: Mapping[str, list[str]]) -> list["DeviationFiling"]:
    """The log's `deviation.filed` events, from the reading's packed events
    (compliance/facts.py, CompactEvent: [order, id, type, day ordinal, secs, unit, fields]).
    Only the few events that mention the type are parsed."""
    from .state import DeviationFiling
    out = []
    for case, events in cases.items():
        for packed in events:
            if _FILED not in packed:
                continue
            _, eid, etype, day, _, _, fields = orjson.loads(packed)
            if etype == "deviation.filed":
                out.append(DeviationFiling(case=case, to=fields.get("to"), reference=fields.get("deviation"),
                                           event_id=eid, date=dt.date.fromordinal(day),
                                           from_unit=fields.get("from_")))
    return out


def lock_wait() -> float:
    """Seconds to wait for another writer: COMPLIANCE_STATE_WAIT, else the store's default."""
    from .state.errors import StateError
    from .state.store import DEFAULT_LOCK_TIMEOUT
    text = os.environ.get(WAIT_ENV)
    if not text:
        return DEFAULT_LOCK_TIMEOUT
    try:
        wait = float(text)
    except ValueError:
        wait = -1.0
    if not 0 <= wait <= 86400:
        raise StateError(f"{WAIT_ENV}={text!r}: ange sekunder, 0–86400")
    return wait


def _lines(chunks: Iterable[bytes]) -> Iterator[dict[str, Any]]:
    for chunk in chunks:
        for line in chunk.splitlines():
            if line:
                yield orjson.loads(line)


class NightlyScan:
    """The store side of one scan: opened before reading, closed after the swap."""

    def __init__(self, state: str, out: Path, full: bool = False) -> None:
        from .state import open_store
        self.store: Store = open_store(state, create=True, lock_timeout=lock_wait())
        self.out = out
        self.full = full              # --full: every case decided again
        self.incremental: Reuse | None = None
        self.filings: list[DeviationFiling] = []
        self.changes: RunChanges | None = None
        self.committed = False        # past the point of no return: the fresh folder must stay
        self._lock: int | None = None
        try:
            done = finish_publication(self.store)
        finally:
            # No connection stays open while the scan forks its readers and workers (a
            # child must not share the parent's database connection); the recording
            # opens a new one.
            self.store.engine.dispose()
        if done is not None:
            print(f"compliance: {done}", file=sys.stderr)

    def take_filings(self, cases: Mapping[str, list[str]]) -> None:
        self.filings = log_filings(cases)

    def reuse(self, result: "ScanResult", program: Any, warn_days: int) -> "Reuse":
        """Which stored case results tonight's scan may take (compliance/incremental.py)."""
        from .incremental import Reuse, context_of
        self.incremental = Reuse(self.store, context_of(result.ruleset.digest() if result.ruleset else "",
                                                        program, result.selection.profile.name
                                                        if result.selection else "core", warn_days),
                                 result.as_of, self.full)
        return self.incremental

    @contextmanager
    def recording(self, result: "ScanResult", tmp: Path) -> Iterator[dict[str, dict[str, Any]]]:
        """Record the night in one transaction while the caller finishes the outputs in
        `tmp` with the review statuses this yields; commits when the block ends."""
        from .state import RunInfo, case_details, recording
        checkpoint("outputs-written")
        self._lock = _lock_folder(tmp)
        info = RunInfo(as_of=result.as_of, rules_digest=result.ruleset.digest() if result.ruleset else "",
                       profile=result.selection.profile.name if result.selection else "core",
                       inputs=result.inputs, counts=result.counts,
                       out_dir=str(self.out.resolve()), staged_dir=str(tmp.resolve()))
        inc = self.incremental
        if inc is None:
            raise RuntimeError("recording before reuse: the scan asks which results to reuse first")
        with recording(self.store, info) as rec:
            # Only what may have changed is staged: the decided cases (all of them with
            # --full), and the reused cases' open findings; the rest of a reused case
            # stands as stored.
            if inc.reused:
                rec.settle_cases(inc.reused)
            rec.add_findings(_lines(inc.recorded))
            checkpoint("store-staged")
            rec.add_deviation_filings(self.filings)
            summaries, evidence = inc.decided_details()
            rec.put_case_details(case_details(_lines(summaries), _lines(evidence)))
            rec.put_case_results(inc.decided)
            rec.forget_case_results_except(inc.keep())
            self.changes = rec.finish()
            rec.write_changes(tmp / "changes.jsonl")
            _note_run(tmp / "manifest.json", self.store.display, self.changes)
            states = rec.report_states()
            checkpoint("store-finished")
            yield states
            checkpoint("before-commit")
        self.committed = True
        checkpoint("committed")

    def close(self) -> None:
        """After the swap: let go of the fresh folder's lock and of the store."""
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None
        self.store.close()


def _lock_folder(folder: Path) -> int:
    """An exclusive lock on a folder, held until its descriptor is closed (or the process
    dies: the kernel lets go of it then, also after kill -9)."""
    import fcntl
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _note_run(manifest_path: Path, store: str, changes: "RunChanges") -> None:
    """manifest.json says which run of which store these outputs are (the manifest is
    rewritten under a temporary name; the fresh folder is not in place yet anyway)."""
    data = orjson.loads(manifest_path.read_bytes())
    data["state"] = {"store": store, "run": changes.run_id, "previous_run": changes.previous_run,
                     "changes": changes.counts()}
    tmp = manifest_path.with_name(manifest_path.name + ".tmp")
    tmp.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
    tmp.replace(manifest_path)


def manifest_run(folder: Path) -> int | None:
    """The store's run whose outputs a scan folder holds (None: a scan without a store)."""
    try:
        state = orjson.loads((folder / "manifest.json").read_bytes()).get("state")
    except (OSError, orjson.JSONDecodeError, AttributeError):
        return None
    return state.get("run") if isinstance(state, dict) else None


def finish_publication(store: "Store") -> str | None:
    """Swap in the newest run's outputs if its scan died after the commit and before the
    swap; a line saying so, or None when there was nothing to do.

    The fresh folder is taken only when its scan no longer holds its lock (it is dead),
    it is still there, and its manifest names that run.
    """
    import fcntl
    from .scanfolder import swap_in
    from .state.runs import latest_publication
    with store.read() as conn:
        pub = latest_publication(conn)
    if pub is None or not os.path.isdir(pub.staged_dir):
        return None
    staged, out = Path(pub.staged_dir), Path(pub.out_dir)
    try:
        fd = os.open(staged, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None                                  # swapped in a moment ago
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None                              # its scan is alive and swapping it in
        try:
            if os.stat(staged).st_ino != os.fstat(fd).st_ino or manifest_run(staged) != pub.run_id:
                return None
        except OSError:
            return None
        swap_in(staged, out)
        for old in out.resolve().parent.iterdir():        # the killed swap's previous outputs
            if old.name.startswith(f".{out.name}.old-"):
                remove_folder(old)
    finally:
        os.close(fd)
    return (f"körning {pub.run_id} avbröts efter att tillståndet sparats; dess utdata är nu "
            f"flyttade på plats i {out}")


def report_review(state: str, scan_dir: Path) -> dict[str, dict[str, Any]]:
    """For `compliance report --state`: the store's review statuses of the present
    findings (`state.review.report_states`), after finishing an interrupted swap. "new"
    is the store's only when the folder holds its newest run; else the folder's own
    changes.jsonl says what was new."""
    from .state import open_store
    from .state.review import report_states
    from .state.runs import latest_run
    with open_store(state) as store:
        done = finish_publication(store)
        if done is not None:
            print(f"compliance: {done}", file=sys.stderr)
        with store.read() as conn:
            newest = latest_run(conn)
            return report_states(conn, with_new=newest is not None and manifest_run(scan_dir) == newest)
