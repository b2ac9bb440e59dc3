"""Fill an index with every row of its Documents, in this process or in forked workers.

``populate`` fills an index as it is; a rebuild fills its new index (see :mod:`.rebuilder`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import djangoes

from ..documents import Document
from ..progress import ProgressCallback
from ..registry import registry
from ..sender import Sender
from .errors import RebuildError
from .pages import Page, count_rows, plan_pages, whole
from .results import FillResult
from .workers import default_processes, fill_in_processes, fill_processes


def server_for(key: str, using: str | None) -> str:
    """Return ``using``, else the server that serves index ``key`` (``default`` first)."""
    return using or registry.choose_server(key, None) or djangoes.DEFAULT_ES_ALIAS


def fill(
    client: Any,
    documents: list[type[Document]],
    index: str,
    *,
    chunk_size: int | None = None,
    parallel: int = 0,
    processes: int | None = 0,
    using: str | None = None,
    progress: ProgressCallback | None = None,
    total: int | None = None,
) -> FillResult:
    """Index every row of ``documents`` into ``index``; raise RebuildError on failures.

    ``chunk_size`` rows per page and bulk request (default: the Documents' smallest
    ``get_chunk_size()``). ``processes``: 0 fills in this process; N >= 2 forks N workers,
    each reading its own primary-key range with its own database connection and client
    (of the server ``using``); ``None`` chooses (see :func:`fill_processes`). ``parallel``
    threads send the bulk requests of each process. ``progress(done, total)`` is called in
    this thread after every page read (``total``: the rows counted before the fill starts,
    counted here when not given).
    """
    chunk_size = chunk_size or min(document.get_chunk_size() for document in documents)
    started = time.monotonic()
    if total is None:
        total = count_rows(documents) if progress is not None or processes != 0 else 0
    done = 0

    def advance(rows: int) -> None:
        nonlocal done
        done += rows
        if progress is not None:
            progress(done, total)

    if processes != 0:
        if using is None:
            raise ValueError("fill() in worker processes needs the server alias: using=...")
        processes = fill_processes(processes, total)
    if processes:
        assert using is not None
        result = fill_in_processes(
            using,
            documents,
            index,
            chunk_size=chunk_size,
            parallel=parallel,
            processes=processes,
            advance=advance,
        )
    else:
        pages = _counted(plan_pages(whole(documents), index, chunk_size), advance)
        result = FillResult()
        result.add(Sender(client, chunk_size=chunk_size, parallel=parallel).send_pages(pages))
    result.seconds = time.monotonic() - started
    if result.errors:
        first = result.errors[0]
        raise RebuildError(
            f"{len(result.errors)} document(s) could not be indexed into '{index}' "
            f"(first: id {first.get('_id')}: {first.get('error')})."
        )
    return result


def _counted(pages: Iterable[Page], advance: Callable[[int], None]) -> Iterator[Page]:
    for page in pages:
        yield page
        advance(len(page))


def populate_target(key: str, using: str | None) -> tuple[str, Any, str]:
    """Return the server alias, backend and NAME a populate of ``key`` writes to; create
    the index when nothing stands behind NAME."""
    using = server_for(key, using)
    backend = djangoes.connections[using]
    name = backend.get_index(key)["NAME"]
    if not backend.concrete_indices(name):
        backend.create_index(key)
    return using, backend, name


def populate(
    key: str,
    using: str | None = None,
    *,
    documents: list[type[Document]] | None = None,
    chunk_size: int | None = None,
    parallel: int = 0,
    processes: int | None = None,
    progress: ProgressCallback | None = None,
) -> FillResult:
    """Index every row of the index's Documents into it as it is (created if missing).

    ``processes`` as for :func:`fill`; ``None`` takes
    ``DJANGOES_REBUILD_PROCESSES``. ``progress(done, total)`` is called after every page.
    """
    using, backend, name = populate_target(key, using)
    result = fill(
        backend.client,
        documents if documents is not None else registry.documents_for_index(key),
        name,
        chunk_size=chunk_size,
        parallel=parallel,
        processes=default_processes() if processes is None else processes,
        using=using,
        progress=progress,
    )
    backend.refresh(index=name)
    return result
