"""How loaded the machine was while the bench ran: load average, and the CPU of other work.

A :class:`Snapshot` reads the machine's busy CPU time (``/proc/stat``) and the bench's own
(this process and the children it waited for, the node, the database server). Between two
snapshots, what the machine spent beyond the bench's own CPU was other processes' work: a
figure measured while they took more than ``OTHERS_LIMIT`` of a core is flagged.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

#: Other processes' CPU, as a share of one core, above which a measurement is flagged.
OTHERS_LIMIT = 0.10
TICK = os.sysconf("SC_CLK_TCK")


def busy_seconds() -> float:
    """CPU seconds every core of the machine spent busy since boot (``/proc/stat``)."""
    try:
        with open("/proc/stat") as stat:
            fields = stat.readline().split()[1:]
    except OSError:
        return 0.0
    # user nice system idle iowait irq softirq steal (guest time is counted in user).
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / TICK


def pidfile_pid(pidfile: str | None) -> int | None:
    """The process id in the first line of ``pidfile`` (None: no such file)."""
    if not pidfile:
        return None
    try:
        with open(pidfile) as file:
            return int(file.readline().strip())
    except (OSError, ValueError):
        return None


def _stat(pid: int | str | None) -> tuple[int, int] | None:
    """A process's parent and the CPU ticks of it and of the children it waited for (None:
    no such process)."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None  # ended meanwhile
    # After the command's ")": ppid is field 4 of stat(5); utime, stime, cutime, cstime 14-17.
    return int(fields[1]), sum(int(value) for value in fields[11:15])


def process_seconds(pidfile: str | None) -> float:
    """CPU seconds of the process named in ``pidfile`` and of the children it waited for
    (a database server's ended sessions); 0 when it names no running process."""
    found = _stat(pidfile_pid(pidfile))
    return found[1] / TICK if found else 0.0


def tree_seconds(roots: Iterable[int | None]) -> float:
    """CPU seconds of the processes ``roots`` and of all their descendants, each with the
    children it waited for (a worker's pool, a database server's sessions, a node's
    controller), read from ``/proc``. Between two calls, a process that started or ended
    in between is counted as long as its parent is in the tree."""
    stats = {int(entry): _stat(entry) for entry in os.listdir("/proc") if entry.isdigit()}
    children: dict[int, list[int]] = {}
    for pid, found in stats.items():
        if found:
            children.setdefault(found[0], []).append(pid)
    ticks, seen = 0, set()
    waiting = [pid for pid in roots if pid is not None]
    while waiting:
        pid = waiting.pop()
        found = stats.get(pid)
        if found and pid not in seen:
            seen.add(pid)
            ticks += found[1]
            waiting.extend(children.get(pid, ()))
    return ticks / TICK


def own_seconds() -> float:
    """CPU seconds of the bench itself: this process, the children it waited for, the node
    (BENCH_NODE_PIDFILE; the members of a cluster, comma-separated) and PostgreSQL
    (BENCH_PG_PIDFILE), as scripts/bench sets them."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (
        own.ru_utime
        + own.ru_stime
        + children.ru_utime
        + children.ru_stime
        + sum(map(process_seconds, os.environ.get("BENCH_NODE_PIDFILE", "").split(",")))
        + process_seconds(os.environ.get("BENCH_PG_PIDFILE"))
    )


@dataclass(frozen=True)
class Snapshot:
    wall: float
    busy: float
    own: float
    load: tuple[float, float, float]

    @classmethod
    def take(cls) -> Snapshot:
        return cls(time.monotonic(), busy_seconds(), own_seconds(), os.getloadavg())

    def since(self, before: Snapshot) -> dict[str, Any]:
        """What happened between ``before`` and this snapshot: wall seconds, the share of
        one core other processes used, the load averages at both ends, and the flag."""
        wall = max(self.wall - before.wall, 1e-9)
        others = max(0.0, (self.busy - before.busy) - (self.own - before.own)) / wall
        return {
            "wall_s": round(wall, 2),
            "others_core_share": round(others, 3),
            "load_before": [round(value, 2) for value in before.load],
            "load_after": [round(value, 2) for value in self.load],
            "loaded": others > OTHERS_LIMIT,
        }


def describe(window: dict[str, Any]) -> str:
    """One line on a window of :meth:`Snapshot.since`, ending in a warning when loaded."""
    line = (
        f"load average {window['load_before'][0]:.2f} before, {window['load_after'][0]:.2f} "
        f"after; other processes used {window['others_core_share']:.0%} of a core "
        f"over {window['wall_s']:,.0f} s"
    )
    if window["loaded"]:
        line += f" — WARNING: above {OTHERS_LIMIT:.0%}, the machine was shared"
    return line
