"""A three-node cluster of the tests' own, on loopback: members stopped and started by PID.

Started with ``scripts/es-node start --nodes 3`` (the version of the suite's main node, HTTP
ports ``DJANGOES_CLUSTER_ES_PORT`` .. +2, default the main node's port + 10); one member is
stopped (by the PID es-node wrote) and started again with ``stop``/``start --port``.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.test import override_settings

from djangoes import connections
from tests.conftest import node_version
from tests.settings import ES_URL

from .faults import ES_NODE

SIZE = 3


def cluster_port() -> int:
    default = int(ES_URL.rsplit(":", 1)[1].rstrip("/")) + 10
    return int(os.environ.get("DJANGOES_CLUSTER_ES_PORT", default))


@dataclass
class Cluster:
    version: str
    port: int
    urls: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)

    def _run(self, action: str, *args: str, check: bool = True) -> str:
        done = subprocess.run(
            [str(ES_NODE), action, "--version", self.version, *args],
            capture_output=True,
            text=True,
            check=False,
        )
        if check and done.returncode:
            raise AssertionError(f"es-node {action} {' '.join(args)} failed:\n{done.stderr}")
        return done.stdout.strip()

    def start(self) -> Cluster:
        out = self._run("start", "--nodes", str(SIZE), "--port", str(self.port))
        self.urls = out.splitlines()[-1].split(",")
        return self

    def stop(self) -> None:
        self._run("stop", "--nodes", str(SIZE), "--port", str(self.port), check=False)

    def stop_member(self, url: str) -> None:
        """Stop the member at ``url`` by its PID (the others keep the cluster)."""
        self._run("stop", "--port", url.rsplit(":", 1)[1])
        self.events.append(f"stopped {url}")

    def start_member(self, url: str) -> None:
        """Start the member at ``url`` again; return once the cluster has all its nodes."""
        self._run("start", "--port", url.rsplit(":", 1)[1])
        self.events.append(f"started {url}")

    def request(self, path: str, url: str | None = None) -> Any:
        with urllib.request.urlopen(f"{url or self.urls[0]}{path}", timeout=30) as response:
            return json.load(response)

    def live(self) -> list[str]:
        """The members that answer."""
        found = []
        for url in self.urls:
            with contextlib.suppress(OSError):
                self.request("/_cluster/health?timeout=1s", url)
                found.append(url)
        return found

    def node_of_primary(self, index: str) -> str:
        """Return the URL of the member holding the (first) primary shard of ``index``."""
        live = self.live()
        shards = self.request(f"/_cat/shards/{index}?format=json&h=prirep,node", live[0])
        node = next(shard["node"] for shard in shards if shard["prirep"] == "p")
        port = int(node.rsplit("-", 1)[1])  # es-node names members node-<HTTP port>
        return next(url for url in self.urls if url.endswith(f":{port}"))

    @contextlib.contextmanager
    def serving(self, replicas: int = 1) -> Iterator[None]:
        """Point every connection at the cluster, with ``replicas`` replicas per index."""
        servers = {
            "default": {
                **settings.ES_SERVERS["default"],
                "HOSTS": list(self.urls),
                "PARAMS": {"request_timeout": 30, "max_retries": 3, "retry_on_timeout": True},
            }
        }
        indices = {
            key: {
                **index,
                "SETTINGS": {**(index.get("SETTINGS") or {}), "number_of_replicas": replicas},
            }
            for key, index in settings.ES_INDICES.items()
        }
        with override_settings(ES_SERVERS=servers, ES_INDICES=indices):
            backend = connections["default"]
            client = backend.client.options(request_timeout=120)
            names = [backend.get_index(key)["NAME"] for key in backend.server_indices]
            pattern = ",".join(f"{name},{name}-*" for name in names)
            client.indices.delete(index=pattern, ignore_unavailable=True)
            for key in backend.server_indices:
                backend.create_index(key)
            client.cluster.health(wait_for_status="green", timeout="120s")
            try:
                yield
            finally:
                client.indices.delete(index=pattern, ignore_unavailable=True)


def start_cluster() -> Cluster:
    return Cluster(node_version(ES_URL), cluster_port()).start()
