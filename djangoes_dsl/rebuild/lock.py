"""The rebuild lock: one rebuild per index at a time, with a lease that outlives no one.

Taking the lock is one request: creating the journal ``<NAME>-journal`` (see
:mod:`djangoes_dsl.journal`), whose name is fixed, so a second rebuild started at the same
moment gets ``resource_already_exists_exception``. The journal's ``_meta`` names the owner
(host, process id, a random token, the new index it fills) and the lease's expiry, which
the running rebuild renews as it goes.

A rebuild that finds the lock held looks at its owner: a lease that expired, or an owner on
this host whose process is gone, is a dead rebuild, whose leftovers (its journal and marker
alias, its unfinished new index, an old index it had swapped out) are deleted before the
lock is taken; a live owner is a ``RebuildError`` that names it and its lease.
"""

from __future__ import annotations

import datetime
import logging
import os
import re
import secrets
import socket
from dataclasses import asdict, dataclass
from typing import Any

from elasticsearch import ApiError, BadRequestError, TransportError

from .. import conf
from ..clock import SYSTEM, Clock
from ..journal import Journal
from .errors import RebuildError

logger = logging.getLogger("djangoes_dsl.rebuild")

#: Seconds a rebuild's lease lasts unless renewed (``DJANGOES_REBUILD_LEASE``).
DEFAULT_LEASE = 120.0
#: The timestamp of rebuild index names: ``<NAME>-<20 digits>``.
STAMP_FORMAT = "%Y%m%d%H%M%S%f"


def default_lease() -> float:
    """Return ``DJANGOES_REBUILD_LEASE``, the seconds a rebuild's lease lasts (120)."""
    return float(conf.get("DJANGOES_REBUILD_LEASE"))


def timestamp() -> str:
    return datetime.datetime.now(datetime.UTC).strftime(STAMP_FORMAT)


def _pid_namespace() -> str:
    """Return this process's PID namespace on Linux (containers of one host differ), or ''."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def _running(pid: int) -> bool:
    """Return whether a process ``pid`` runs on this host (signal 0 checks, sends nothing)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process
    try:  # on Linux, a process killed but not yet reaped by its parent is a zombie: gone
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


@dataclass
class Owner:
    """Who holds a rebuild lock, and until when."""

    key: str
    host: str
    pid: int
    pid_namespace: str
    token: str
    new_index: str
    started: str
    expires: str

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> Owner:
        values: dict[str, Any] = {
            name: str(meta.get(name) or "") for name in cls.__dataclass_fields__
        }
        values["pid"] = int(meta.get("pid") or 0)
        return cls(**values)

    def expiry(self) -> datetime.datetime | None:
        try:
            return datetime.datetime.fromisoformat(self.expires)
        except (TypeError, ValueError):
            return None

    def on_this_host(self) -> bool:
        return self.host == socket.gethostname() and self.pid_namespace == _pid_namespace()

    def dead_because(self, clock: Clock = SYSTEM) -> str | None:
        """Return why this owner is dead (its lease judged by ``clock``), or ``None`` while it
        may be running."""
        expiry = self.expiry()
        if expiry is None:
            return "its lock names no lease"
        if expiry <= clock.now():
            return f"its lease expired at {self.expires}"
        if os.name == "posix" and self.pid > 0 and self.on_this_host() and not _running(self.pid):
            return f"its process {self.pid} is gone"
        return None

    def describe(self) -> str:
        return f"host {self.host}, pid {self.pid}, started {self.started}"


@dataclass
class Recovery:
    """What a rebuild cleaned up after a dead one."""

    owner: Owner
    reason: str
    deleted: list[str]

    def __str__(self) -> str:
        return (
            f"cleaned up after a dead rebuild of '{self.owner.key}' ({self.owner.describe()}; "
            f"{self.reason}): deleted {', '.join(repr(name) for name in self.deleted)}."
        )


def lock_status(client: Any, name: str, clock: Clock | None = None) -> str | None:
    """Return what holds the rebuild lock of the index ``name``, ``None`` when nothing does
    (leases judged by ``clock``, default ``RebuildLock.clock``)."""
    meta = Journal(client, name).meta()
    if meta is None:
        return None
    owner = Owner.from_meta(meta)
    reason = owner.dead_because(clock or RebuildLock.clock)
    if reason is None:
        return f"REBUILD RUNNING ({owner.describe()}, lease until {owner.expires})"
    return f"DEAD REBUILD ({owner.describe()}; {reason}; the next rebuild cleans up after it)"


class RebuildLock:
    """The lock of rebuilds of the index NAME on one server, held by one rebuild.

    ``serving`` returns the concrete indices behind NAME and its aliases: the leftovers of
    a dead rebuild never include them. ``clock`` (default: the class's ``clock``, the real
    one) is what the lease is measured with: see :mod:`djangoes_dsl.clock`.
    """

    #: How many times ``acquire`` tries when the lock changes hands under it.
    attempts = 3
    #: The clock of leases, unless one is given (:class:`djangoes_dsl.clock.Clock`).
    clock: Clock = SYSTEM

    def __init__(
        self,
        client: Any,
        name: str,
        *,
        key: str,
        new_index: str,
        serving: Any,
        lease: float | None = None,
        clock: Clock | None = None,
    ) -> None:
        if clock is not None:
            self.clock = clock
        self.journal = Journal(client, name)
        self.client = client
        self.name = name
        self.serving = serving
        self.lease = default_lease() if lease is None else float(lease)
        self.owner = Owner(
            key=key,
            host=socket.gethostname(),
            pid=os.getpid(),
            pid_namespace=_pid_namespace(),
            token=secrets.token_hex(16),
            new_index=new_index,
            started=self.clock.now().isoformat(),
            expires="",
        )
        self.held = False
        self._renewed = 0.0

    def _meta(self) -> dict[str, Any]:
        expires = self.clock.now() + datetime.timedelta(seconds=self.lease)
        self.owner.expires = expires.isoformat()
        return asdict(self.owner)

    def acquire(self) -> Recovery | None:
        """Take the lock, cleaning up after a dead holder; return what was cleaned up."""
        recovery = None
        for _ in range(self.attempts):
            renewed = self.clock.monotonic()
            try:
                self.journal.create(self._meta())
            except BadRequestError as exc:
                if exc.error != "resource_already_exists_exception":
                    raise
                holder = self.holder()
                if holder is None:
                    continue  # released meanwhile
                reason = holder.dead_because(self.clock)
                if reason is None:
                    raise self._busy(holder) from None
                recovery = self._clean_up(holder, reason)
                continue
            self.held, self._renewed = True, renewed
            self._check_alone()
            return recovery
        raise RebuildError(
            f"Could not take the rebuild lock '{self.journal.index}': it changed hands "
            f"{self.attempts} times while this rebuild tried. Run the rebuild again."
        )

    def holder(self) -> Owner | None:
        """Return the owner of the lock, ``None`` when nobody holds it."""
        meta = self.journal.meta()
        return None if meta is None else Owner.from_meta(meta)

    def _busy(self, holder: Owner) -> RebuildError:
        return RebuildError(
            f"A rebuild of '{holder.key}' is already running ({holder.describe()}): it holds "
            f"the lock '{self.journal.index}' with a lease until {holder.expires}, which it "
            f"renews while it runs. Wait for it to end. If that process is stuck, stop it: "
            f"once its lease has expired, the next rebuild cleans up after it."
        )

    def _clean_up(self, holder: Owner, reason: str) -> Recovery:
        """Delete the journal of the dead ``holder`` and the indices it left behind."""
        deleted = [self.journal.index, *self._leftovers(holder)]
        self.journal.delete(*deleted[1:])
        recovery = Recovery(holder, reason, deleted)
        logger.warning("%s: %s", self.owner.key, recovery)
        return recovery

    def _leftovers(self, holder: Owner) -> list[str]:
        """Return the rebuild indices up to ``holder``'s new one that nothing serves."""
        pattern = re.compile(rf"{re.escape(self.name)}-(\d{{20}})")
        found = self.client.indices.get_alias(
            index=f"{self.name}-*", ignore_unavailable=True, allow_no_indices=True
        )
        serving = set(self.serving())
        newest = holder.new_index.rsplit("-", 1)[-1]
        return sorted(
            name
            for name in found.body
            if (match := pattern.fullmatch(name))
            and match.group(1) <= newest
            and name not in serving
        )

    def _check_alone(self) -> None:
        """Fail if another index also holds the marker alias (left by another version)."""
        others = [name for name in self.journal.holders() if name != self.journal.index]
        if others:
            self.release()
            raise RebuildError(
                f"The indices {others} also hold the rebuild marker alias "
                f"'{self.journal.alias}', so writes cannot be journalled. They are left from "
                f"an earlier rebuild: delete them (DELETE /{','.join(others)}) once no "
                f"rebuild runs, and run the rebuild again."
            )

    def renew(self, *, before_swap: bool = False) -> None:
        """Renew the lease when a quarter of it has passed; fail if the lock was lost.

        A request failing is retried at the next call: a moment without the node does not
        end a long fill, a lost lock always does. ``before_swap`` also checks, renewal due or
        not, that this rebuild still holds the lock, and lets request errors raise: the
        lease left is then at least three quarters of it, far more than a swap takes.
        """
        if not self.held:
            return
        started = self.clock.monotonic()
        due = started - self._renewed >= self.lease / 4
        if not due and not before_swap:
            return
        try:
            self.verify()
            if due:
                self.journal.put_meta(self._meta())
                self._renewed = started
        except (ApiError, TransportError) as exc:
            if before_swap:
                raise
            logger.warning(
                "%s: could not renew the lease of the rebuild lock '%s' (%s); retrying.",
                self.owner.key,
                self.journal.index,
                exc,
            )

    def verify(self) -> None:
        """Raise ``RebuildError`` unless this rebuild still holds the lock."""
        holder = self.holder()
        if holder is None or holder.token != self.owner.token:
            self.held = False
            now = f"held by {holder.describe()}" if holder is not None else "gone"
            raise RebuildError(
                f"This rebuild of '{self.owner.key}' lost its lock '{self.journal.index}' "
                f"(now {now}): its lease expired and another rebuild took over. Nothing was "
                f"swapped; run the rebuild again, with a longer DJANGOES_REBUILD_LEASE if its "
                f"steps take longer than {self.lease:.0f} seconds."
            )

    def release(self, *also: str) -> None:
        """Delete the journal (the lock), and the indices ``also``, in one request."""
        if self.held:
            self.held = False
            self.journal.delete(*also)
        elif also:
            self.client.indices.delete(index=",".join(also), ignore_unavailable=True)
