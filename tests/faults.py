"""Run `compliance` with a fault injected at a chosen moment (for subprocess tests).

    python tests/faults.py FAULT -- scan LOG --out OUT ...

The scan runs as the command line runs it; this wrapper only wraps a few of its functions
(nothing in the package knows about it) so that the fault happens exactly at its moment:

- `kill-engine@before-reading`: an engine worker is killed (SIGKILL) after the workers
  were forked and before the log is read;
- `kill-engine@reading`, `kill-reader@reading`: an engine worker (idle) or a busy reader
  is killed while the log is read (after the first piece came back);
- `kill-engine@deciding`: a busy engine worker is killed after the first batch came back;
- `kill-drafts@drafts`: a process rendering the drafts is killed as soon as it was given
  its first batch;
- `no-restart@reading`: an engine worker is killed while reading and every worker forked
  after that dies while it starts;
- `no-fork@reading`: the same, but no new process can be forked at all;
- `pause@reading`, `pause@deciding`: the scan stops at that moment (for a signal), after
  printing `PAUSE <moment> <pids of its children>` on stderr.

Reading always uses reader processes here (small pieces, a little slow), so that every
moment exists with a small log; pass `--workers 2`.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import time
from multiprocessing.connection import wait

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import compliance.pool as pool  # noqa: E402
import compliance.reading as reading  # noqa: E402
import compliance.scan as scan  # noqa: E402

TEAMS: list[pool.Children] = []


def _remember_teams() -> None:
    original = pool.Children.__init__

    def init(self, *args, **kwargs):
        TEAMS.append(self)
        original(self, *args, **kwargs)
    pool.Children.__init__ = init


def _children(what: str) -> list[pool.Child]:
    return [c for team in TEAMS if team.what == what for c in team.children]


def _kill(child: pool.Child) -> None:
    os.kill(child.process.pid, signal.SIGKILL)
    wait([child.process.sentinel], 30)           # dead before the scan goes on


def _pause(moment: str) -> None:
    pids = " ".join(str(c.process.pid) for team in TEAMS for c in team.children)
    print(f"PAUSE {moment} {pids}", file=sys.stderr, flush=True)
    time.sleep(600)


_JUDGE_PIECE = reading._judge_piece


def _slow_judge(piece):
    time.sleep(0.05)
    return _JUDGE_PIECE(piece)


def _slow_readers() -> None:
    reading.PARALLEL_READ_BYTES = 1
    reading.PIECE_BYTES = 16384
    reading._judge_piece = _slow_judge


def _while_reading(action) -> None:
    """`action()` once, after the first judged piece of the log came back."""
    original = reading.read_sources

    def read_sources(sources, **options):
        def watched():
            done = False
            for name, parts, *path in sources:
                def parts_then():
                    nonlocal done
                    for part in parts:
                        yield part
                        if not done:
                            done = True
                            action()
                yield (name, parts_then(), *path)
        return original(watched(), **options)
    reading.read_sources = read_sources


def _before_reading(action) -> None:
    original = scan.read_events

    def read_events(*args, **kwargs):
        action()
        return original(*args, **kwargs)
    scan.read_events = read_events


def _after_first_batch(action) -> None:
    original = pool._handle
    done = False

    def handle(kind, tag, payload, work, progress):
        nonlocal done
        original(kind, tag, payload, work, progress)
        if kind == "done" and not done:
            done = True
            action()
    pool._handle = handle


def _while_writing_drafts(action) -> None:
    """`action()` once, right after the first batch of drafts was given to a process that
    renders them (so that one is busy whatever the machine's speed: after the first draft
    file was written, on a busy machine, every batch could already be back)."""
    import compliance.deviations as deviations
    original = pool.Children.send
    done = False

    def send(self, child, fn, arg):
        nonlocal done
        tag = original(self, child, fn, arg)
        if self.what == deviations.DRAFT_WORKER and not done:
            done = True
            action()
        return tag
    pool.Children.send = send


def _kill_drafts_worker() -> None:
    """Kill a busy process rendering the drafts."""
    import compliance.deviations as deviations
    busy = [c for c in _children(deviations.DRAFT_WORKER) if c.task is not None]
    assert busy, "no busy drafts worker to kill"
    _kill(busy[0])


def _kill_engine(busy: bool = False):
    def action():
        workers = _children(pool.ENGINE_WORKER)
        _kill(next((c for c in workers if c.task is not None), workers[0]) if busy else workers[0])
    return action


def _kill_busy_reader():
    busy = [c for c in _children(reading.READER) if c.task is not None]
    _kill(busy[0])


def _no_restart():
    """Every engine worker forked from now on dies while it starts."""
    def dying_init(*args):
        os.kill(os.getpid(), signal.SIGKILL)
    pool._init_worker = dying_init
    for team in TEAMS:
        if team.what == pool.ENGINE_WORKER:
            team.init = dying_init
    _kill_engine()()


def _no_fork():
    """No process can be forked from now on."""
    import multiprocessing.process as mp_process

    def start(self):
        raise OSError(errno.EAGAIN, os.strerror(errno.EAGAIN))
    mp_process.BaseProcess.start = start
    _kill_engine()()


def main() -> None:
    fault = sys.argv[1]
    assert sys.argv[2] == "--"
    what, _, moment = fault.partition("@")
    _remember_teams()
    _slow_readers()
    actions = {"kill-engine": _kill_engine(busy=moment == "deciding"), "kill-reader": _kill_busy_reader,
               "kill-drafts": _kill_drafts_worker, "no-restart": _no_restart, "no-fork": _no_fork, "pause": lambda: _pause(moment)}
    hooks = {"before-reading": _before_reading, "reading": _while_reading, "deciding": _after_first_batch,
             "drafts": _while_writing_drafts}
    hooks[moment](actions[what])
    from compliance.cli import main as cli
    sys.argv = ["compliance", *sys.argv[3:]]
    cli()


if __name__ == "__main__":
    main()
