"""The rebuild journal: how writes made during a rebuild reach it, and how it is kept.

A rebuild of the index NAME keeps one journal, the index ``<NAME>-journal``, with the alias
``<NAME>-rebuilding`` (the *marker*). Every bulk request of the signal processor carries,
next to each document action, a journal action addressed to the marker with
``require_alias: true`` (:func:`journal_action`):

- while no rebuild runs, the marker does not exist and Elasticsearch rejects those actions
  with a 404, cheaply and without creating an index (:func:`missed_journal` tells them
  apart from real failures);
- while a rebuild runs, they land in its journal, which the rebuild replays.

The journal's name is fixed, so creating it is also the rebuild's lock: of two rebuilds
that create it at the same moment, the second gets ``resource_already_exists_exception``.
Its ``_meta`` holds the lock's owner and lease (see :mod:`djangoes_dsl.rebuild.lock`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .documents import Document
from .registry import document_label

JOURNAL_SUFFIX = "-rebuilding"
JOURNAL_INDEX_SUFFIX = "-journal"
#: The key of the lock's owner and lease in the journal's ``_meta``.
META_KEY = "djangoes_rebuild"
MAPPINGS = {
    "dynamic": False,
    "properties": {"document": {"type": "keyword"}, "pk": {"type": "keyword"}},
}
#: Journal entries read per search request of a replay.
PAGE_SIZE = 1000


def journal_alias(name: str) -> str:
    """Return the marker alias of the rebuild journal of the index (or alias) ``name``."""
    return f"{name}{JOURNAL_SUFFIX}"


def journal_index(name: str) -> str:
    """Return the name of the rebuild journal of the index ``name`` (fixed: it is the lock)."""
    return f"{name}{JOURNAL_INDEX_SUFFIX}"


def journal_action(document: type[Document], pk: Any, index: str) -> dict[str, Any]:
    """Return the bulk action that records a write of ``document``'s row ``pk`` to ``index``.

    The id is ``<Document>:<pk>``, so a row written many times is one entry.
    """
    label = document_label(document)
    return {
        "_op_type": "index",
        "_index": journal_alias(index),
        "_id": f"{label}:{pk}",
        "require_alias": True,
        "_source": {"document": label, "pk": str(pk)},
    }


def missed_journal(result: dict[str, Any]) -> bool:
    """Return whether a bulk item's result is a journal action while no rebuild runs.

    That is a 404 whose error names the marker alias: it did not exist when the node
    resolved the request. A journal deleted after that (a rebuild finished while the action
    was on its way) is a 404 that names the journal index instead: not a missed journal.
    """
    if result.get("status") != 404 or not str(result.get("_index", "")).endswith(JOURNAL_SUFFIX):
        return False
    error = result.get("error")
    where = error.get("index") if isinstance(error, dict) else None
    return where is None or str(where).endswith(JOURNAL_SUFFIX)


class Journal:
    """The journal of one index on one server: create, read and delete it."""

    def __init__(self, client: Any, name: str) -> None:
        self.client = client
        self.index = journal_index(name)
        self.alias = journal_alias(name)

    def create(self, meta: dict[str, Any]) -> None:
        """Create the journal with the marker alias and ``meta``, in one request.

        Raises the client's ``BadRequestError`` (``resource_already_exists_exception``)
        when the journal exists.
        """
        self.client.indices.create(
            index=self.index,
            settings={"number_of_shards": 1, "number_of_replicas": 0},
            mappings={**MAPPINGS, "_meta": {META_KEY: meta}},
            aliases={self.alias: {}},
            # Return once the alias is in the cluster state: from then on writes address the
            # journal, and wait for its shard themselves if they come that early.
            wait_for_active_shards="0",
        )

    def meta(self) -> dict[str, Any] | None:
        """Return the journal's ``_meta`` entry; ``None`` when there is no journal."""
        response = self.client.options(ignore_status=404).indices.get_mapping(index=self.index)
        mappings = response.body.get(self.index, {}).get("mappings")
        if mappings is None:
            return None
        return dict(mappings.get("_meta", {}).get(META_KEY) or {})

    def put_meta(self, meta: dict[str, Any]) -> None:
        self.client.indices.put_mapping(index=self.index, meta={META_KEY: meta})

    def holders(self) -> list[str]:
        """Return the indices that hold the marker alias (the journal, when it runs alone)."""
        found = self.client.options(ignore_status=404).indices.get_alias(name=self.alias)
        return sorted(
            name
            for name, value in found.body.items()
            if isinstance(value, dict) and "aliases" in value
        )

    def checkpoint(self) -> int:
        """Return the journal's local checkpoint: every entry with a ``_seq_no`` up to it
        has been written (-1: none yet).

        Sequence numbers are given before writes are applied, and concurrent writes are
        applied in any order: after a refresh, an entry may be searchable while one with a
        lower ``_seq_no`` is not yet. Only the checkpoint, read before the refresh, says up
        to where a search saw every entry.
        """
        stats = self.client.indices.stats(index=self.index, metric="docs", level="shards")
        copies = stats["indices"][self.index]["shards"].get("0", [])
        for copy in copies:
            if copy.get("routing", {}).get("primary") and "seq_no" in copy:
                return int(copy["seq_no"]["local_checkpoint"])
        return -1  # no figure from the primary: the next replay reads every entry again

    def entries(self, after: int) -> Iterator[tuple[int, str, str]]:
        """Yield ``(seq_no, document label, pk)`` of the entries written after ``after``.

        Reads in ``_seq_no`` order, a page at a time, what is searchable (refresh first).
        """
        self.client.indices.refresh(index=self.index)
        search_after: list[Any] | None = None
        while True:
            extra: dict[str, Any] = {} if search_after is None else {"search_after": search_after}
            response = self.client.search(
                index=self.index,
                query={"range": {"_seq_no": {"gt": after}}},
                sort=[{"_seq_no": "asc"}],
                seq_no_primary_term=True,
                size=PAGE_SIZE,
                **extra,
            )
            hits = response["hits"]["hits"]
            for hit in hits:
                source = hit["_source"]
                yield hit["_seq_no"], source.get("document", ""), source.get("pk", "")
            if len(hits) < PAGE_SIZE:
                return
            search_after = hits[-1]["sort"]

    def delete(self, *also: str) -> None:
        """Delete the journal (and with it the marker), and the indices ``also``, at once."""
        self.client.indices.delete(index=",".join([self.index, *also]), ignore_unavailable=True)
