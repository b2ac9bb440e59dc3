"""Embeddings with a real model: fill throughput, kNN latency, save → searchable.

    DJANGOES_URL=... python -m tests.benchmarks.vectors [--books 3000] [--searches 200]
        [--saves 30]

Run by ``scripts/bench --vectors``, on the example site's catalogue (``example_app``: its
BookDocument embeds title, tags and summary with wordllama, 256 dimensions) in a SQLite file
of its own. Measures, side by side in one run:

- **fill**: ``search_index rebuild books`` (in the command's process) into an empty index
  (every book embedded) and again (every vector read back, nothing embedded): documents per
  second, and the embedder's share of the process's CPU time (CPU time spent inside
  ``embed()`` / the fill's CPU time);
- **kNN**: ``BookDocument.search().similar_to(text, k=10).execute()`` against the raw client's
  ``search(knn=...)`` with the same vector, the query embedded in both: p50 / p99 (ms), the
  two alternating;
- **save → searchable**: from ``save()`` (inline delivery, on commit) until a search finds
  the new text, when the text of the embedding changed (one embedder call) and when only the
  price changed (the stored vector reused): medians (ms).

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from io import StringIO
from pathlib import Path
from typing import Any

EXAMPLE = Path(__file__).resolve().parents[2] / "example_app"

QUERIES = [
    "a journey across the ocean",
    "coffee and tea",
    "a detective and a disappearance",
    "the history of money",
    "poems about the sea",
    "stars and the night sky",
    "a family secret",
    "mountains and snow",
]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class Timed:
    """CPU time spent inside the embedder's ``embed()`` (wraps the class's method)."""

    def __init__(self, embedder_class: Any) -> None:
        self.cpu = 0.0
        self.calls = 0
        embed = embedder_class.embed

        def timed(embedder: Any, texts: list[str]) -> list[list[float]]:
            started = time.process_time()
            try:
                return embed(embedder, texts)  # type: ignore[no-any-return]
            finally:
                self.cpu += time.process_time() - started
                self.calls += 1

        embedder_class.embed = timed


def fill(timed: Timed) -> dict[str, Any]:
    from catalog.models import Book
    from django.core.management import call_command
    from django.test import override_settings

    from djangoes import connections

    books = Book.objects.count()
    found = {}
    connections["default"].delete_index("books")
    for name in ("embedded", "reused"):
        timed.cpu, timed.calls = 0.0, 0
        cpu, wall = time.process_time(), time.perf_counter()
        # In this process, so that the embedder's CPU time is this process's.
        with override_settings(DJANGOES_REBUILD_PROCESSES=0):
            call_command("search_index", "rebuild", "books", "--no-input", stdout=StringIO())
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        found[name] = {
            "docs_per_s": round(books / wall),
            "embed_calls": timed.calls,
            "embedder_cpu_share": round(timed.cpu / cpu, 3) if cpu else None,
        }
    return {"books": books, **found}


def knn(searches: int) -> dict[str, Any]:
    from catalog.embedding import WordLlamaEmbedder
    from catalog.search_indices import BookDocument

    from djangoes import connections

    client = connections["default"].client
    index = BookDocument.get_read_index()
    embedder = WordLlamaEmbedder()
    ways = {
        "djangoes": lambda text: BookDocument.search().similar_to(text, k=10).execute(),
        "raw": lambda text: client.search(
            index=index,
            knn={
                "field": "embedding",
                "query_vector": embedder.embed([text])[0],
                "k": 10,
                "num_candidates": 100,
            },
            size=10,
        ),
    }
    timings: dict[str, list[float]] = {name: [] for name in ways}
    for n in range(searches):
        text = QUERIES[n % len(QUERIES)]
        for name, way in ways.items():
            started = time.perf_counter()
            way(text)
            timings[name].append(time.perf_counter() - started)
    found = {
        name: {
            "p50_ms": round(1000 * statistics.median(values), 2),
            "p99_ms": round(1000 * percentile(values, 0.99), 2),
        }
        for name, values in timings.items()
    }
    found["p50_ratio"] = round(found["djangoes"]["p50_ms"] / found["raw"]["p50_ms"], 2)
    return found


def searchable(saves: int) -> dict[str, Any]:
    from decimal import Decimal

    from catalog.models import Book
    from catalog.search_indices import BookDocument
    from django.db import transaction

    from djangoes import connections

    client = connections["default"].client
    index = BookDocument.get_read_index()
    delays: dict[str, list[float]] = {"text_changed": [], "price_changed": []}
    for n, book in enumerate(Book.objects.order_by("pk")[:saves]):
        for kind in delays:
            started = time.perf_counter()
            with transaction.atomic():
                if kind == "text_changed":
                    book.summary = f"{book.summary} Revised {n} {time.time_ns()}."
                else:
                    book.price = Decimal(n % 50 + 1) + Decimal(time.time_ns() % 100) / 100
                book.save()
            expected = (
                {"match_phrase": {"summary": book.summary}}
                if kind == "text_changed"
                else {"term": {"price": float(book.price)}}
            )
            query = {"bool": {"filter": [{"ids": {"values": [str(book.pk)]}}, expected]}}
            while not client.search(index=index, query=query, size=0)["hits"]["total"]["value"]:
                time.sleep(0.005)
            delays[kind].append(time.perf_counter() - started)
    return {
        kind: {"median_ms": round(1000 * statistics.median(values), 1)}
        for kind, values in delays.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--books", type=int, default=3000)
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument("--saves", type=int, default=30)
    args = parser.parse_args()

    sys.path.insert(0, str(EXAMPLE))
    database = Path(tempfile.gettempdir()) / f"djangoes-bench-vectors-{args.books}.sqlite3"
    os.environ.setdefault("EXAMPLE_APP_DB", str(database))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_config.settings")
    os.environ.setdefault("DJANGO_DEBUG", "0")
    import django

    django.setup()
    from catalog.embedding import AVAILABLE, WordLlamaEmbedder
    from catalog.models import Book
    from django.core.management import call_command

    if not AVAILABLE:
        raise SystemExit("The benchmark needs the model: pip install 'djangoes[example-vectors]'.")
    call_command("migrate", verbosity=0)
    if Book.objects.count() != args.books:
        call_command("load_sample_data", "--books", str(args.books), "--flush", stdout=StringIO())
    timed = Timed(WordLlamaEmbedder)
    print(
        json.dumps({
            "fill": fill(timed),
            "knn": knn(args.searches),
            "save_to_searchable": searchable(args.saves),
        })
    )  # fmt: skip


if __name__ == "__main__":
    main()
