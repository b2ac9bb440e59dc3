"""Read the rows of Documents as pages of bulk actions, by primary key.

A page is one query (plus one per to-many lookup or prefetch) of ``chunk_size`` rows after
the last primary key read (keyset pagination): nothing else is kept, so memory does not
grow with the table, and rows committed meanwhile are seen by later pages. A *plan* says
what one fill (or one worker of a fill) reads: ``(Document, after, upto)`` per Document,
the rows ``after < pk <= upto`` (``None``: unbounded).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import Any

from ..documents import Document

#: ``(Document, after, upto)``: the Document's rows with ``after < pk <= upto``.
Part = tuple[type[Document], Any, Any]
Plan = list[Part]
Page = list[dict[str, Any]]


def iter_pages(
    document: type[Document], index: str, chunk_size: int, after: Any = None, upto: Any = None
) -> Iterator[Page]:
    """Yield the bulk actions that index the document's rows into ``index``, a page at a time.

    Pages of ``chunk_size`` rows in primary-key order; ``after`` and ``upto`` limit the rows
    to ``after < pk <= upto``.
    """
    queryset = document.get_queryset().order_by("pk")
    if upto is not None:
        queryset = queryset.filter(pk__lte=upto)
    last = after
    while True:
        page_qs = queryset if last is None else queryset.filter(pk__gt=last)
        page = document.read_actions(page_qs, index, limit=chunk_size)
        if page:
            yield [action for _, action in page]
        if len(page) < chunk_size:
            return
        last = page[-1][0]


def plan_pages(plan: Plan, index: str, chunk_size: int) -> Iterator[Page]:
    """Yield the pages of every part of ``plan``, in order."""
    for document, after, upto in plan:
        yield from iter_pages(document, index, chunk_size, after, upto)


def whole(documents: Iterable[type[Document]]) -> Plan:
    """Return the plan that reads every row of ``documents``."""
    return [(document, None, None) for document in documents]


def count_rows(documents: Iterable[type[Document]]) -> int:
    """Return how many rows ``documents`` index (one ``COUNT`` query each)."""
    return sum(document.get_queryset().count() for document in documents)


def split_ranges(document: type[Document], parts: int) -> list[tuple[Any, Any]]:
    """Split the document's rows into up to ``parts`` primary-key ranges of equal size.

    Returns ``(after, upto)`` pairs (``after < pk <= upto``, ``None`` unbounded) that cover
    every primary key, also those of rows created later. One query per boundary.
    """
    pks = (
        document.get_queryset()
        .select_related(None)
        .prefetch_related(None)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    count = pks.count()
    parts = max(1, min(parts, count))
    bounds: list[Any] = []
    for part in range(1, parts):
        pk = pks[count * part // parts - 1]
        if not bounds or pk != bounds[-1]:
            bounds.append(pk)
    return list(itertools.pairwise([None, *bounds, None]))


def split_plans(documents: Iterable[type[Document]], parts: int) -> list[Plan]:
    """Return up to ``parts`` plans that together read every row of ``documents`` once.

    Plan ``n`` holds the ``n``-th primary-key range of every Document, so the plans are
    about equal in size and, taken in order, follow primary-key order per Document.
    """
    plans: list[Plan] = [[] for _ in range(parts)]
    for document in documents:
        for number, (after, upto) in enumerate(split_ranges(document, parts)):
            plans[number].append((document, after, upto))
    return [plan for plan in plans if plan]
