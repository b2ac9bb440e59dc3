"""Real faults for the fault suite: a node of our own to kill, freeze and restart.

The node is started with ``scripts/es-node`` (same version as the suite's main node, on the
port ``DJANGOES_FAULT_ES_PORT``, by default the main node's port + 6), and every signal goes
to the PID that es-node wrote — never to a process found by name.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.test import override_settings

from djangoes import connections
from tests.conftest import node_version
from tests.settings import ES_URL
from tests.workers import wait_for

ROOT = Path(__file__).resolve().parent.parent
ES_NODE = ROOT / "scripts" / "es-node"


def fault_port() -> int:
    default = int(ES_URL.rsplit(":", 1)[1].rstrip("/")) + 6
    return int(os.environ.get("DJANGOES_FAULT_ES_PORT", default))


@dataclass
class FaultNode:
    """A node of our own: started, SIGKILLed, SIGSTOPped and restarted by its PID."""

    version: str
    port: int
    url: str = ""
    events: list[str] = field(default_factory=list)

    @property
    def pidfile(self) -> Path:
        root = Path(os.environ.get("DJANGOES_ES_ROOT", "/tmp/djangoes-es"))
        return root / f"node-{self.version}-{self.port}" / "es.pid"

    @property
    def pid(self) -> int:
        return int(self.pidfile.read_text().strip())

    def start(self) -> str:
        out = subprocess.run(
            [str(ES_NODE), "start", "--version", self.version, "--port", str(self.port)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        self.url = out.strip().splitlines()[-1]
        self.events.append(f"started (pid {self.pid})")
        return self.url

    def stop(self) -> None:
        subprocess.run(
            [str(ES_NODE), "stop", "--version", self.version, "--port", str(self.port)],
            check=False,
            capture_output=True,
        )

    def kill(self) -> None:
        """SIGKILL the node and wait until its process is gone."""
        pid = self.pid
        os.kill(pid, signal.SIGKILL)
        _wait_for(lambda: not alive(pid), f"node pid {pid} to end")
        self.events.append(f"killed (pid {pid})")

    def freeze(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)
        self.events.append(f"frozen (pid {self.pid})")

    def thaw(self) -> None:
        os.kill(self.pid, signal.SIGCONT)
        self.events.append(f"thawed (pid {self.pid})")

    def restart(self) -> None:
        """Start the node again (same data directory); return when it is healthy."""
        self.start()
        _wait_for(self.healthy, "the node to be healthy again")

    def healthy(self) -> bool:
        request = f"{self.url}/_cluster/health?wait_for_status=yellow&timeout=5s"
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.load(response)["status"] in ("green", "yellow")
        except OSError:
            return False

    @contextlib.contextmanager
    def serving(self, **params: Any) -> Iterator[None]:
        """Point every connection at this node (test names; test indices created)."""
        servers = {
            "default": {
                **settings.ES_SERVERS["default"],
                "HOSTS": [self.url],
                "PARAMS": {"request_timeout": 5, "max_retries": 0, **params},
            }
        }
        with override_settings(ES_SERVERS=servers):
            backend = connections["default"]
            # Creating an index may take longer than a write on a busy machine.
            patient = backend.client.options(request_timeout=120)
            names = [backend.get_index(key)["NAME"] for key in backend.server_indices]
            # Concrete indices only (a rebuild leaves NAME an alias of NAME-<timestamp>).
            pattern = ",".join(f"{name},{name}-*" for name in names)
            patient.indices.delete(index=pattern, ignore_unavailable=True, expand_wildcards="all")
            for key in backend.server_indices:
                patient.indices.create(
                    index=backend.get_index(key)["NAME"], **backend.get_index_body(key)
                )
            try:
                yield
            finally:
                if self.healthy():
                    patient.indices.delete(
                        index=pattern, ignore_unavailable=True, expand_wildcards="all"
                    )


def alive(pid: int) -> bool:
    """Return whether the process ``pid`` runs (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed process stays a zombie until its parent reaps it: that is gone too.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _wait_for(condition: Any, what: str, timeout: float = 180.0) -> None:
    wait_for(condition, what, timeout)


def start_fault_node() -> FaultNode:
    node = FaultNode(node_version(ES_URL), fault_port())
    node.start()
    return node


@dataclass(frozen=True)
class Comparison:
    """The database and the index, row by row: what is missing, stale or a ghost."""

    rows: int
    documents: int
    lost: list[str]
    stale: list[str]
    ghosts: list[str]

    @property
    def exact(self) -> bool:
        return not (self.lost or self.stale or self.ghosts)

    def __str__(self) -> str:
        return (
            f"{self.rows} rows, {self.documents} documents: {len(self.lost)} lost, "
            f"{len(self.stale)} stale, {len(self.ghosts)} ghosts"
        )


def compare(expected: dict[str, Any], found: dict[str, Any]) -> Comparison:
    """Compare ``{id: values}`` of the database (``expected``) and of the index."""
    lost = sorted(set(expected) - set(found))
    ghosts = sorted(set(found) - set(expected))
    stale = sorted(pk for pk in set(expected) & set(found) if expected[pk] != found[pk])
    return Comparison(len(expected), len(found), lost, stale, ghosts)
