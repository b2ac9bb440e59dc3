"""A model of a distributed rebuild's throughput, from CPU per document measured by the bench.

    python -m tests.benchmarks.model RESULTS [--database postgresql] [--rows 100000]
                                     [--cluster-node US]

A document costs CPU in three places: a fill worker (``loader``: reading the page through
the ORM, building and serializing the document, sending it), the node (``node``: indexing
it, once per copy of its shard) and the database server (``database``: the page's queries).
With N worker processes (a core each, on hosts of their own), an M-node cluster of
``node_cores`` cores per node holding P primaries with R replicas, and one database server of
``database_cores`` cores, the rate of the fill is the least of what each tier allows:

    workers   N / loader
    cluster   min(M, P * (1 + R)) * node_cores / (node * (1 + R))
    database  database_cores / database

and the rebuild takes ``fixed + rows / rate`` seconds (``fixed``: the journal, the index
creation, the settings restore and refresh, the swap). Where everything shares one host of
``cores`` cores, as on the bench's machine, the rate is also at most
``cores / (loader + node + database)``.

A document costs a cluster more node CPU than one node (the node that receives a bulk
request forwards each shard's part to the member holding it): ``--cluster-node`` is the CPU
per document of all the members together, as ``scripts/bench --distributed --cluster``
measures it, used for M >= 2 (default: the single node's).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WORKERS = (1, 2, 4, 8, 16, 32)
NODES = (1, 2, 3, 4, 5, 6, 7, 8)


@dataclass(frozen=True)
class Costs:
    """CPU microseconds per document, and the cores of each tier."""

    loader: float
    node: float
    database: float
    node_cores: int = 2
    database_cores: int = 2
    replicas: int = 0
    #: A document's node CPU on a cluster of two or more members, all of them together
    #: (None: the single node's).
    cluster_node: float | None = None

    def rate(self, workers: int, nodes: int, primaries: int | None = None) -> tuple[float, str]:
        """Documents per second, and the tier that limits them."""
        primaries = nodes if primaries is None else primaries
        copies = 1 + self.replicas
        busy_nodes = min(nodes, primaries * copies)
        node = self.node if nodes == 1 or self.cluster_node is None else self.cluster_node
        limits = {
            "workers": workers * 1e6 / self.loader,
            "cluster": busy_nodes * self.node_cores * 1e6 / (node * copies),
            "database": self.database_cores * 1e6 / max(self.database, 1e-9),
        }
        tier = min(limits, key=lambda name: limits[name])
        return limits[tier], tier

    def shared_host(self, workers: int, cores: int) -> float:
        """Documents per second when the workers, the node and the database share ``cores``."""
        alone = self.rate(workers, 1)[0]
        return min(alone, cores * 1e6 / (self.loader + self.node + self.database))


def costs_from(
    results: dict[str, Any], database: str, rows: int, cluster_node: float | None = None
) -> Costs:
    """The rebuild's measured CPU per document (default rebuild; its database server's
    share where measured, PostgreSQL)."""
    measured = results["databases"][database]["rebuild"]
    row = measured.get(str(rows)) or measured[rows]
    rebuild = row["djangoes_rebuild"]
    docs = rebuild["docs"]
    return Costs(
        loader=rebuild["loader_cpu_s"] * 1e6 / docs,
        node=rebuild["node_cpu_s"] * 1e6 / docs,
        database=rebuild.get("database_cpu_s", 0.0) * 1e6 / docs,
        cluster_node=cluster_node,
    )


def table(costs: Costs) -> str:
    """The predicted docs/s for N workers (rows) and M nodes (columns), Markdown."""
    lines = [
        "| workers N \\ nodes M |" + "".join(f" {nodes} |" for nodes in NODES),
        "| ---: |" + " ---: |" * len(NODES),
    ]
    for workers in WORKERS:
        cells = ""
        for nodes in NODES:
            rate, tier = costs.rate(workers, nodes)
            cells += f" {rate:,.0f} ({tier[0]}) |"
        lines.append(f"| {workers} |{cells}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("results")
    parser.add_argument("--database", default="postgresql")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--cluster-node", type=float, default=None)
    args = parser.parse_args()
    results = json.loads(Path(args.results).read_text())
    costs = costs_from(results, args.database, args.rows, args.cluster_node)
    cluster = "" if costs.cluster_node is None else f" ({costs.cluster_node:.1f} µs on a cluster)"
    print(
        f"CPU per document: loader {costs.loader:.1f} µs, node {costs.node:.1f} µs{cluster}, "
        f"database {costs.database:.1f} µs; {costs.node_cores} cores per node, "
        f"{costs.database_cores} for the database, one primary per node, no replicas"
    )
    print(table(costs))
    cores = results["machine"]["cores"] or 1
    print(
        "on one host of "
        + f"{cores} cores: "
        + ", ".join(
            f"{workers} worker(s) {costs.shared_host(workers, cores):,.0f} docs/s"
            for workers in (1, 2)
        )
    )


if __name__ == "__main__":
    main()
