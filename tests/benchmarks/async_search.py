"""Concurrent searches from async code, three ways side by side against one node.

    DJANGOES_TEST_URL=... python -m tests.benchmarks.async_search \\
        [--concurrency 50] [--rounds 20] [--documents 2000]

Run by ``scripts/bench --async``. Each round sends ``--concurrency`` searches at once (a match
query on a word of the titles, ten hits each, deserialized as the API returns them), in turn:

- **async**: ``ProductDocument.asearch()...execute()``, djangoes's async API;
- **sync_to_async**: ``sync_to_async(lambda: ProductDocument.search()...execute())()``, what
  an async view does today with a sync-only library (``thread_sensitive=True``, the default);
- **raw**: ``AsyncElasticsearch.search()`` on a client built by hand (hits left as dicts);
- **client**: the same call on ``connections["default"].async_client`` (hits left as dicts),
  which tells the cost of the client from the cost of the DSL;
- **dsl**: elasticsearch.dsl's own ``AsyncSearch`` on the hand-built client (hits as its
  ``Hit`` objects), which tells the cost of elasticsearch.dsl from the cost of djangoes.

The ways alternate within each round, so that the node's and the machine's state is shared
fairly. Prints one JSON line: per way, searches per second and the p50 / p99 latency of one
search (ms); and whether the goals hold: async >= 2x the throughput of
sync_to_async, async's median <= 1.10x raw's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

WORDS = ["lamp", "chair", "table", "desk", "sofa", "shelf", "rug", "clock"]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def fill(documents: int) -> str:
    """Create the products index (live names, this node only) with ``documents`` titles."""
    from djangoes import connections
    from tests.apps.shop.search_indices import ProductDocument

    backend = connections["default"]
    name = backend.create_index("products", replace=True)
    operations: list[dict[str, Any]] = []
    for n in range(documents):
        operations.append({"index": {"_index": name, "_id": str(n + 1)}})
        operations.append({"title": f"{WORDS[n % len(WORDS)]} {n}", "sku": f"S-{n}"})
    backend.bulk(operations=operations, refresh=True)
    return ProductDocument.get_read_index()


async def measure(
    ways: dict[str, Callable[[str], Awaitable[Any]]], concurrency: int, rounds: int
) -> dict[str, dict[str, float]]:
    latencies: dict[str, list[float]] = {name: [] for name in ways}
    busy: dict[str, float] = dict.fromkeys(ways, 0.0)

    async def timed(name: str, word: str) -> None:
        started = time.perf_counter()
        await ways[name](word)
        latencies[name].append(time.perf_counter() - started)

    for name in ways:  # warm up: connections opened, code paths loaded
        await asyncio.gather(*(timed(name, WORDS[n % len(WORDS)]) for n in range(concurrency)))
        latencies[name].clear()
    for round_number in range(rounds):
        order = list(ways)
        order = order[round_number % len(order) :] + order[: round_number % len(order)]
        for name in order:
            started = time.perf_counter()
            await asyncio.gather(
                *(timed(name, WORDS[(round_number + n) % len(WORDS)]) for n in range(concurrency))
            )
            busy[name] += time.perf_counter() - started
    return {
        name: {
            "searches_per_second": round(len(values) / busy[name], 1),
            "p50_ms": round(statistics.median(values) * 1000, 2),
            "p99_ms": round(percentile(values, 0.99) * 1000, 2),
        }
        for name, values in latencies.items()
    }


async def run(concurrency: int, rounds: int, read_index: str, url: str) -> dict[str, Any]:
    from asgiref.sync import sync_to_async
    from elasticsearch import AsyncElasticsearch
    from elasticsearch.dsl import AsyncSearch as PlainAsyncSearch

    from djangoes import connections
    from tests.apps.shop.search_indices import ProductDocument

    raw = AsyncElasticsearch(hosts=[url], request_timeout=30)

    async def with_async_api(word: str) -> Any:
        return list(await ProductDocument.asearch().query("match", title=word)[:10].execute())

    def sync_search(word: str) -> Any:
        return list(ProductDocument.search().query("match", title=word)[:10].execute())

    async def with_sync_to_async(word: str) -> Any:
        return await sync_to_async(sync_search)(word)

    async def with_raw_client(word: str) -> Any:
        response = await raw.search(index=read_index, query={"match": {"title": word}}, size=10)
        return response["hits"]["hits"]

    async def with_plain_dsl(word: str) -> Any:
        search = PlainAsyncSearch(using=raw, index=read_index)
        return list(await search.query("match", title=word)[:10].execute())

    async def with_djangoes_client(word: str) -> Any:
        client = connections["default"].async_client
        response = await client.search(index=read_index, query={"match": {"title": word}}, size=10)
        return response["hits"]["hits"]

    try:
        results = await measure(
            {
                "async": with_async_api,
                "sync_to_async": with_sync_to_async,
                "raw": with_raw_client,
                "client": with_djangoes_client,
                "dsl": with_plain_dsl,
            },
            concurrency,
            rounds,
        )
    finally:
        await raw.close()
        await connections["default"].aclose()
    a, b, c = results["async"], results["sync_to_async"], results["raw"]
    return {
        "concurrency": concurrency,
        "rounds": rounds,
        "results": results,
        "throughput_vs_sync_to_async": round(
            a["searches_per_second"] / b["searches_per_second"], 2
        ),
        "median_vs_raw": round(a["p50_ms"] / c["p50_ms"], 2),
        "median_vs_dsl": round(a["p50_ms"] / results["dsl"]["p50_ms"], 2),
        "goals": {
            "async >= 2x sync_to_async throughput": a["searches_per_second"]
            >= 2 * b["searches_per_second"],
            "async median <= 1.10x raw": a["p50_ms"] <= 1.10 * c["p50_ms"],
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--documents", type=int, default=2000)
    options = parser.parse_args()
    django.setup()
    from djangoes import connections
    from tests.settings import ES_URL

    read_index = fill(options.documents)
    try:
        result = asyncio.run(run(options.concurrency, options.rounds, read_index, ES_URL))
        result["documents"] = options.documents
    finally:
        connections["default"].delete_index("products")
        connections.close_all()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
