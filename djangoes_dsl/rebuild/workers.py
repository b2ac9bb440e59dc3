"""Fill an index from forked worker processes, each over its own primary-key ranges.

When to fork (:func:`fill_processes`), and the fill itself (:func:`fill_in_processes`): a
:class:`~concurrent.futures.ProcessPoolExecutor` of forked workers, one task per worker. The
workers inherit what they need at the fork (the plans, a queue for their progress, an event
that stops them), so nothing but a task number and its result is pickled.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from django.db import connections as db_connections

import djangoes
from djangoes.adapters.django import in_atomic_block

from .. import conf
from ..documents import Document
from ..sender import BulkResult, Sender
from .errors import RebuildError
from .pages import Page, Plan, plan_pages, split_plans
from .results import FillResult

logger = logging.getLogger("djangoes_dsl.rebuild")

#: A fill in worker processes gives each worker at least this many rows; smaller tables are
#: filled in the calling process (a fork, a database connection and a client per worker
#: would cost more than they save).
MIN_ROWS_PER_PROCESS = 5_000
#: How often the parent looks at its workers while none reports progress (seconds).
POLL_INTERVAL = 0.2
#: Where the kernel cannot end a worker with its parent, how often a worker looks whether
#: its parent is still there (seconds).
PARENT_CHECK_INTERVAL = 1.0
#: prctl(2): ask the kernel for a signal when the parent dies (Linux).
PR_SET_PDEATHSIG = 1


def default_processes() -> int | None:
    """Return ``DJANGOES_REBUILD_PROCESSES``: ``None`` (default) chooses, 0 never forks."""
    value = conf.get("DJANGOES_REBUILD_PROCESSES")
    return None if value is None else int(value)


def available_cpus() -> int:
    """Return the CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _fork_obstacle(automatic: bool) -> str | None:
    """Return why this process should not fork fill workers now (None: it may)."""
    if not hasattr(os, "fork"):
        return "this platform cannot fork"
    for connection in db_connections.all(initialized_only=True):
        if in_atomic_block(connection):
            return (
                f"the database connection '{connection.alias}' is inside a transaction "
                f"(workers would not see its uncommitted rows)"
            )
    if automatic and sys.platform == "darwin":
        return "forking is not reliable on macOS"
    if automatic and threading.active_count() > 1:
        return "other threads are running (a fork copies locks they may hold)"
    return None


def fill_processes(requested: int | None, total_rows: int, *, cpus: int | None = None) -> int:
    """Return how many worker processes a fill of ``total_rows`` rows uses (0: none).

    ``requested`` ``None`` chooses: one worker per CPU (``cpus``, default: the CPUs this
    process may use), at least ``MIN_ROWS_PER_PROCESS`` rows each, when forking is safe
    (not inside a transaction, no other threads, a platform that forks reliably); else 0.
    An explicit number is used as asked, and one that cannot be honoured raises
    ``RebuildError``.
    """
    if requested is not None:
        if requested <= 1:
            return 0
        obstacle = _fork_obstacle(automatic=False)
        if obstacle:
            raise RebuildError(f"Cannot fill in {requested} processes: {obstacle}.")
        return requested
    workers = min(cpus or available_cpus(), total_rows // MIN_ROWS_PER_PROCESS)
    if workers < 2:
        return 0
    obstacle = _fork_obstacle(automatic=True)
    if obstacle:
        logger.info("Filling in this process only: %s.", obstacle)
        return 0
    return workers


# -- in the workers --------------------------------------------------------------------------


@dataclass
class _Job:
    """What every worker inherits at the fork."""

    using: str
    plans: list[Plan]
    index: str
    chunk_size: int
    parallel: int
    reports: Any  # a SimpleQueue of (task number, pid, rows read)
    stop: Any  # an Event: another worker failed, stop after the current page


_job: _Job | None = None


def _start_worker(job: _Job, parent: int) -> None:
    """Initialise a forked worker: it ends with its parent; its own database connections;
    the job to do."""
    global _job
    _die_with_parent(parent)
    _job = job
    # The parent closed its connections before forking; close whatever is left so this
    # process opens its own (an in-memory SQLite database stays: its copy is private).
    db_connections.close_all()


def _die_with_parent(parent: int) -> None:
    """End this worker (SIGTERM) as soon as the process ``parent`` that forked it dies.

    A parent killed with SIGKILL (or by the out-of-memory killer) cannot stop its pool:
    without this its workers would live on, re-parented, blocked reading the pool's pipe
    (each worker holds a copy of its write end, so it never sees the end of it), each with
    a database connection and a client. On Linux the kernel sends the signal
    (``PR_SET_PDEATHSIG``) at once; elsewhere a thread looks every
    ``PARENT_CHECK_INTERVAL`` seconds. The kernel closes the process's connections.
    """
    # The default action, whatever handler the parent had installed (a fork copies them).
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) == 0
        except (OSError, AttributeError):
            armed = False
        if armed:
            if os.getppid() != parent:  # it died before the request: nobody signals now
                os.kill(os.getpid(), signal.SIGTERM)
            return
    watchdog = threading.Thread(
        target=_watch_parent, args=(parent,), name="djangoes-parent-watch", daemon=True
    )
    watchdog.start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_INTERVAL)
    os.kill(os.getpid(), signal.SIGTERM)


def _fill_plan(number: int) -> BulkResult:
    """Fill plan ``number`` of the inherited job (a task of the pool)."""
    job = _job
    assert job is not None, "fill worker started without its job"
    pid = os.getpid()
    job.reports.put((number, pid, 0))

    def pages() -> Iterator[Page]:
        for page in plan_pages(job.plans[number], job.index, job.chunk_size):
            if job.stop.is_set():
                return
            yield page
            job.reports.put((number, pid, len(page)))

    try:
        # djangoes dropped the parent's clients at the fork; this builds this process's own.
        client = djangoes.connections[job.using].client
        return Sender(client, chunk_size=job.chunk_size, parallel=job.parallel).send_pages(pages())
    except BaseException as exc:
        if not _pickles(exc):  # the parent could not receive it
            raise RebuildError(f"{type(exc).__name__}: {exc}") from None
        raise


def _pickles(exc: BaseException) -> bool:
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return False
    return True


# -- in the parent ---------------------------------------------------------------------------


class _ForkContext:
    """The fork start method, keeping the worker processes it starts (for their exit codes)."""

    def __init__(self) -> None:
        self.context = multiprocessing.get_context("fork")
        self.processes: list[Any] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.context, name)

    def Process(self, *args: Any, **kwargs: Any) -> Any:
        process = self.context.Process(*args, **kwargs)
        self.processes.append(process)
        return process


def fill_in_processes(
    using: str,
    documents: list[type[Document]],
    index: str,
    *,
    chunk_size: int,
    parallel: int,
    processes: int,
    advance: Callable[[int], Any],
) -> FillResult:
    """Fill ``index`` from ``processes`` forked workers, each over its own primary-key ranges.

    ``advance(rows)`` is called in this thread as the workers read pages. A worker failing
    (an exception, re-raised here with a note naming the worker; or dying: ``RebuildError``)
    stops the others after their current page and fails the fill once every worker has
    ended: nothing writes to ``index`` once this returns or raises.
    """
    plans = split_plans(documents, processes)
    context = _ForkContext()
    job = _Job(using, plans, index, chunk_size, parallel, context.SimpleQueue(), context.Event())
    pids: dict[int, int] = {}
    # Children must not share this process's database sessions: close them here (they
    # reconnect on next use; an in-memory SQLite database ignores this), children open theirs.
    db_connections.close_all()

    def drain_reports() -> None:
        while not job.reports.empty():
            number, pid, rows = job.reports.get()
            pids[number] = pid
            if rows:
                advance(rows)

    failures: list[tuple[int, BaseException]] = []
    results: dict[int, BulkResult] = {}
    with ProcessPoolExecutor(  # type: ignore[call-overload]  # mp_context: the fork context, delegated
        max_workers=len(plans),
        mp_context=context,
        initializer=_start_worker,
        initargs=(job, os.getpid()),
    ) as pool:
        tasks: dict[Future[BulkResult], int] = {
            pool.submit(_fill_plan, number): number for number in range(len(plans))
        }
        try:
            pending = set(tasks)
            while pending:
                done, pending = wait(pending, timeout=POLL_INTERVAL, return_when=FIRST_COMPLETED)
                drain_reports()
                for task in done:
                    error = task.exception()
                    if error is None:
                        results[tasks[task]] = task.result()
                    else:
                        failures.append((tasks[task], error))
                        job.stop.set()
        finally:
            job.stop.set()  # also on KeyboardInterrupt: workers stop after their page
    drain_reports()
    if failures:
        raise _failure(failures, pids, context.processes)
    result = FillResult(processes=len(plans))
    for number in sorted(results):  # the workers' ranges in primary-key order
        result.add(results[number])
    return result


def _failure(
    failures: list[tuple[int, BaseException]], pids: dict[int, int], processes: list[Any]
) -> BaseException:
    """Return the error a failed fill raises: the first worker's, naming that worker."""
    raised = [(number, error) for number, error in failures if not _broken(error)]
    if raised:
        number, error = min(raised, key=lambda failure: failure[0])
        error.add_note(f"Raised in fill worker {number} (pid {pids.get(number, '?')}).")
        return error
    # A worker process died: the pool stopped the others (SIGTERM) and failed every task.
    numbers = {pid: number for number, pid in pids.items()}
    dead = [
        process for process in processes if process.exitcode not in (0, -signal.SIGTERM, None)
    ] or [process for process in processes if process.exitcode not in (0, None)]
    if not dead:
        return RebuildError(
            f"A fill worker process ended without a result ({failures[0][1]}); "
            f"the fill was stopped."
        )
    process = dead[0]
    return RebuildError(
        f"Fill worker {numbers.get(process.pid, '?')} (pid {process.pid}) ended without a "
        f"result (exit code {process.exitcode}); the other workers were stopped. A negative "
        f"exit code is the signal that ended it (-9: killed, e.g. by the out-of-memory "
        f"killer)."
    )


def _broken(error: BaseException) -> bool:
    return isinstance(error, BrokenProcessPool)
