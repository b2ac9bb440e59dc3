"""Fill indices from the database; rebuild them with zero downtime.

A rebuild of the index ``products`` (NAME ``shop_products``):

1. creates the journal ``shop_products-journal-<ts>`` with the alias
   ``shop_products-rebuilding``, the marker every process's signal writes also address
   (see :mod:`djangoes_dsl.indexing`), so from now on every write is recorded;
2. creates ``shop_products-<ts>`` from the configured body, without aliases, with
   ``refresh_interval: -1`` and no replicas;
3. fills it from every Document of the index, reading ``get_queryset()`` in primary-key
   pages (constant memory) and sending bulk requests (``streaming_bulk``, or
   ``parallel_bulk`` with ``parallel``);
4. restores refresh and replicas, refreshes, then replays the journal: the rows written
   since the fill began are read again from the database and indexed (or deleted);
5. swaps in ONE ``_aliases`` call: NAME and ALIASES move to the new index (an old concrete
   index called NAME is removed in the same call, which migrates it to the alias scheme);
6. replays the journal once more (writes that reached the old index before the swap),
   deletes the journal and the old index.

Until step 5 nothing serving changes; if anything fails before it, the new index and the
journal are deleted and the old index keeps serving.
"""

from __future__ import annotations

import copy
import datetime
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import models
from elasticsearch import helpers

import djangoes

from .documents import Document
from .indexing import (
    Operations,
    document_label,
    expand_action,
    journal_alias,
    send_operations,
)
from .progress import Progress
from .registry import registry

logger = logging.getLogger("djangoes_dsl.rebuild")

JOURNAL_MAPPINGS = {
    "dynamic": False,
    "properties": {"document": {"type": "keyword"}, "pk": {"type": "keyword"}},
}


class RebuildError(Exception):
    """A fill, populate or rebuild could not complete."""


@dataclass
class FillResult:
    indexed: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


# -- reading rows ----------------------------------------------------------------------------


def iter_rows(document: type[Document], chunk_size: int) -> Iterator[list[models.Model]]:
    """Yield the document's rows in pages of ``chunk_size``, by primary key (keyset).

    Each page is one query (plus the queryset's prefetches); nothing else is kept, so memory
    does not grow with the table, and rows committed meanwhile are seen by later pages.
    """
    queryset = document.get_queryset().order_by("pk")
    last = None
    while True:
        page_qs = queryset if last is None else queryset.filter(pk__gt=last)
        page = list(page_qs[:chunk_size])
        if page:
            yield page
        if len(page) < chunk_size:
            return
        last = page[-1].pk


def _actions(
    documents: Iterable[type[Document]], index: str, chunk_size: int, progress: Progress | None
) -> Iterator[dict[str, Any]]:
    for document in documents:
        for page in iter_rows(document, chunk_size):
            for row in page:
                yield document.to_action(row, "index", index=index)
            if progress is not None:
                progress.advance(len(page))


def count_rows(documents: Iterable[type[Document]]) -> int:
    return sum(document.get_queryset().count() for document in documents)


def fill(
    client: Any,
    documents: list[type[Document]],
    index: str,
    *,
    chunk_size: int | None = None,
    parallel: int = 0,
    progress: Progress | None = None,
) -> FillResult:
    """Index every row of ``documents`` into ``index``; raise RebuildError on failures."""
    chunk_size = chunk_size or min(document.get_chunk_size() for document in documents)
    result = FillResult()
    started = time.monotonic()
    actions = _actions(documents, index, chunk_size, progress)
    options = {
        "chunk_size": chunk_size,
        "raise_on_error": False,
        "raise_on_exception": False,
        "expand_action_callback": expand_action,
    }
    if parallel:
        results = helpers.parallel_bulk(
            client, actions, thread_count=parallel, queue_size=parallel, **options
        )
    else:
        results = helpers.streaming_bulk(client, actions, max_retries=3, **options)
    for ok, item in results:
        if ok:
            result.indexed += 1
        else:
            ((op, info),) = item.items()
            result.errors.append({"op": op, **info})
    result.seconds = time.monotonic() - started
    if result.errors:
        first = result.errors[0]
        raise RebuildError(
            f"{len(result.errors)} document(s) could not be indexed into '{index}' "
            f"(first: id {first.get('_id')}: {first.get('error')})."
        )
    return result


# -- settings during the fill ----------------------------------------------------------------


def _pop_setting(settings: dict[str, Any], name: str) -> Any:
    value = None
    for key in (name, f"index.{name}"):
        if key in settings:
            value = settings.pop(key)
    nested = settings.get("index")
    if isinstance(nested, dict) and name in nested:
        value = nested.pop(name)
    return value


def fill_settings(body: dict[str, Any]) -> dict[str, Any]:
    """Switch ``body`` to fast-fill settings; return the settings to restore afterwards."""
    settings = body.get("settings") or {}
    body["settings"] = settings
    restore = {
        "number_of_replicas": _pop_setting(settings, "number_of_replicas"),
        "refresh_interval": _pop_setting(settings, "refresh_interval"),
    }
    settings["number_of_replicas"] = 0
    settings["refresh_interval"] = "-1"
    return restore


def timestamp() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y%m%d%H%M%S%f")


# -- the rebuild -----------------------------------------------------------------------------


class Rebuild:
    """A zero-downtime rebuild of the index ``key`` on the server ``using``."""

    replay_rounds = 3

    def __init__(
        self,
        key: str,
        using: str | None = None,
        *,
        documents: list[type[Document]] | None = None,
        chunk_size: int | None = None,
        parallel: int = 0,
        stdout: Any = None,
    ) -> None:
        self.key = key
        self.using = using or registry.choose_server(key, None) or djangoes.DEFAULT_ES_ALIAS
        self.backend = djangoes.connections[self.using]
        self.client = self.backend.client
        self.settings = self.backend.get_index(key)
        self.name: str = self.settings["NAME"]
        self.aliases: list[str] = list(self.settings["ALIASES"])
        self.documents = documents if documents is not None else registry.documents_for_index(key)
        self.chunk_size = chunk_size
        self.parallel = parallel
        self.stdout = stdout
        stamp = timestamp()
        self.new_index = f"{self.name}-{stamp}"
        self.journal = f"{self.name}-journal-{stamp}"
        self.marker = journal_alias(self.name)
        self.replayed = 0
        self._seq_no = -1

    def say(self, message: str) -> None:
        if self.stdout is not None:
            self.stdout.write(message)
        logger.info("%s", message)

    def run(self) -> str:
        """Rebuild; return the new concrete index (NAME's target from now on)."""
        if self.client.indices.exists_alias(name=self.marker):
            raise RebuildError(
                f"A rebuild of '{self.key}' is already running (alias '{self.marker}' exists). "
                f"If it crashed, delete its journal: DELETE /{self.name}-journal-* and the "
                f"unfinished '{self.name}-<timestamp>' index."
            )
        old = self.backend.concrete_indices(self.name)
        self.client.indices.create(
            index=self.journal,
            settings={"number_of_shards": 1, "number_of_replicas": 0},
            mappings=JOURNAL_MAPPINGS,
            aliases={self.marker: {}},
        )
        try:
            body = copy.deepcopy(self.backend.get_index_body(self.key, with_aliases=False))
            restore = fill_settings(body)
            self.client.indices.create(index=self.new_index, **body)
            self.prepare_new_index(restore)
            self.swap(old)
        except BaseException:
            self.client.options(ignore_status=404).indices.delete(
                index=f"{self.new_index},{self.journal}"
            )
            raise
        try:
            self.replay()
        finally:
            self.client.options(ignore_status=404).indices.delete(index=self.journal)
        stale = [index for index in old if index != self.name]
        if stale:
            self.client.options(ignore_status=404).indices.delete(index=",".join(stale))
        self.say(f"{self.key}: '{self.name}' now points to '{self.new_index}'.")
        return self.new_index

    def prepare_new_index(self, restore: dict[str, Any]) -> None:
        progress = Progress(self.key, count_rows(self.documents), self.stdout)
        fill(
            self.client,
            self.documents,
            self.new_index,
            chunk_size=self.chunk_size,
            parallel=self.parallel,
            progress=progress,
        )
        progress.finish()
        self.client.indices.put_settings(index=self.new_index, settings={"index": restore})
        self.client.indices.refresh(index=self.new_index)
        for _ in range(self.replay_rounds):
            if not self.replay():
                break

    def replay(self) -> int:
        """Index again, from the database, the rows the journal recorded; return how many."""
        self.client.indices.refresh(index=self.journal)
        labels = {document_label(document): document for document in self.documents}
        operations: Operations = {}
        search_after = None
        while True:
            extra = {"search_after": search_after} if search_after is not None else {}
            response = self.client.search(
                index=self.journal,
                query={"range": {"_seq_no": {"gt": self._seq_no}}},
                sort=[{"_seq_no": "asc"}],
                seq_no_primary_term=True,
                size=1000,
                **extra,
            )
            hits = response["hits"]["hits"]
            for hit in hits:
                document = labels.get(hit["_source"].get("document"))
                if document is not None:
                    pk = document.get_model()._meta.pk.to_python(hit["_source"]["pk"])
                    operations[(document, pk)] = None
                self._seq_no = max(self._seq_no, hit["_seq_no"])
            if len(hits) < 1000:
                break
            search_after = hits[-1]["sort"]
        if not operations:
            return 0
        failures = send_operations(
            operations, journal=False, target=lambda document: self.new_index
        )
        if failures:
            raise RebuildError(
                f"Replaying the writes made during the rebuild failed: {failures[0]}"
            )
        self.replayed += len(operations)
        self.client.indices.refresh(index=self.new_index)
        return len(operations)

    def swap(self, old: list[str]) -> None:
        """Point NAME and ALIASES at the new index, in one atomic ``_aliases`` call."""
        names = {self.name, *self.aliases}
        actions: list[dict[str, Any]] = []
        current = (
            self.client.indices.get_alias(index=",".join(old), ignore_unavailable=True)
            if old
            else {}
        )
        for index in old:
            if index == self.name:
                actions.append({"remove_index": {"index": index}})
                continue
            for alias in sorted(names & set(current.get(index, {}).get("aliases", {}))):
                actions.append({"remove": {"index": index, "alias": alias}})
        actions.append(
            {"add": {"index": self.new_index, "alias": self.name, "is_write_index": True}}
        )
        actions.extend({"add": {"index": self.new_index, "alias": alias}} for alias in self.aliases)
        self.client.indices.update_aliases(actions=actions)


# -- populate, create, delete ----------------------------------------------------------------


def populate(
    key: str,
    using: str | None = None,
    *,
    documents: list[type[Document]] | None = None,
    chunk_size: int | None = None,
    parallel: int = 0,
    stdout: Any = None,
) -> FillResult:
    """Index every row of the index's Documents into it as it is (created if missing)."""
    using = using or registry.choose_server(key, None) or djangoes.DEFAULT_ES_ALIAS
    backend = djangoes.connections[using]
    name = backend.get_index(key)["NAME"]
    if not backend.concrete_indices(name):
        backend.create_index(key)
    documents = documents if documents is not None else registry.documents_for_index(key)
    progress = Progress(key, count_rows(documents), stdout)
    result = fill(
        backend.client, documents, name, chunk_size=chunk_size, parallel=parallel, progress=progress
    )
    progress.finish()
    backend.refresh(index=name)
    return result
