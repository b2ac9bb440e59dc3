"""A barrier in the task workers the tests start: one worker stops at a known page of its range.

A worker started with ``DJANGOES_WORKER_BARRIER=<directory>`` (tests/apps/worker) watches the
page queries of its fills (Django's ``execute_wrapper``; nothing of djangoes is patched). While
the test has armed the barrier, the first worker to read its ``page``-th page of products since
then becomes the *victim*: it writes its PID into ``victim`` and waits, before that page's
rows are read, on a named pipe that only the test can open. Every other worker goes on. The
test sees the victim arrive (the file, with its PID) and kills it, or releases it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tests.workers import wait_for

ENVIRONMENT = "DJANGOES_WORKER_BARRIER"
#: A page query of the fill of products (keyset pages are LIMITed; nothing else the workers
#: run reads products that way).
PAGE_QUERY = ('FROM "shop_product"', " LIMIT ")


class Barrier:
    """The test's side: arm, see the victim arrive, release."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.armed = directory / "armed"
        self.victim = directory / "victim"
        self.hold = directory / "hold"
        directory.mkdir(parents=True, exist_ok=True)
        if not self.hold.exists():
            os.mkfifo(self.hold)

    def environment(self) -> dict[str, str]:
        return {ENVIRONMENT: str(self.directory)}

    def arm(self, page: int) -> None:
        """Stop the first worker that reads its ``page``-th page of products from now on."""
        self.victim.unlink(missing_ok=True)
        self.armed.write_text(f"{os.urandom(8).hex()} {page}")

    def disarm(self) -> None:
        self.armed.unlink(missing_ok=True)
        self.release()

    def wait(self, timeout: float = 120.0) -> int:
        """Wait until a worker stops at the barrier; return its PID."""
        wait_for(
            lambda: self.victim.exists() and self.victim.read_text().strip(),
            "a worker to stop at the barrier",
            timeout=timeout,
        )
        return int(self.victim.read_text())

    def release(self) -> None:
        """Let a waiting victim go on (if none waits, nothing happens)."""
        try:
            pipe = os.open(self.hold, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            return  # nobody holds the pipe open: no victim waits
        try:
            os.write(pipe, b"go")
        finally:
            os.close(pipe)


class WorkerSide:
    """The worker's side: an ``execute_wrapper`` on every database connection."""

    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)
        self.arming = ""
        self.pages = 0

    def install(self, sender: Any, connection: Any, **kwargs: Any) -> None:
        """``connection_created`` receiver: wrap the new connection's queries."""
        if self not in connection.execute_wrappers:
            connection.execute_wrappers.append(self)

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if all(part in sql for part in PAGE_QUERY):
            self.page()
        return execute(sql, params, many, context)

    def page(self) -> None:
        try:
            arming, page = (self.directory / "armed").read_text().split()
        except (OSError, ValueError):
            return  # not armed
        if arming != self.arming:
            self.arming, self.pages = arming, 0
        self.pages += 1
        if self.pages != int(page):
            return
        try:
            victim = os.open(self.directory / "victim", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return  # another worker stopped first
        # Opened (read and write: it never reads an end of file) before the PID is written:
        # once the test sees the PID, this worker waits on the pipe until the test writes to
        # it, or kills it.
        hold = os.open(self.directory / "hold", os.O_RDWR)
        os.write(victim, str(os.getpid()).encode())
        os.close(victim)
        try:
            os.read(hold, 1)
        finally:
            os.close(hold)
