"""The zero-downtime rebuild of one index, as a policy object in steps.

A rebuild of the index ``products`` (NAME ``shop_products``):

``start()``
    takes the lock: creates the journal ``shop_products-journal`` with the marker alias
    ``shop_products-rebuilding``, which every process's signal writes also address, so from
    now on every write is recorded (a dead rebuild's leftovers are cleaned up first, see
    :mod:`.lock`); then creates ``shop_products-<timestamp>`` from the configured body,
    without aliases, with ``refresh_interval: -1`` and no replicas (with its own settings
    when the Documents have fewer than ``Rebuild.fast_fill_rows`` rows);
``fill()``
    fills it from every Document of the index (see :func:`.fill.fill`), renewing the lease;
``finish()``
    restores refresh and replicas (if it changed them), refreshes, replays the journal (the
    rows written since the fill began are read again from the database and indexed, or
    deleted); swaps in ONE ``_aliases`` call: NAME and ALIASES move to the new index (an old
    concrete index called NAME is removed in the same call, which migrates it to the alias
    scheme); replays the journal once more (writes that reached the old index before the
    swap); deletes the journal and the old index. Each replay reads from the journal's
    checkpoint of the replay before. A write still in flight is the sender's to finish (it
    sends again the documents whose journal entries were recorded), so ``finish()`` waits for
    no writer: see docs/architecture.md, "Writes across a rebuild's swap".

Until the swap nothing serving changes; ``abort()`` (which ``run()`` calls on any error)
deletes the new index and the journal, and the old index keeps serving.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import djangoes

from ..clock import Clock
from ..documents import Document
from ..indexing import Operations, send_operations
from ..progress import ProgressCallback
from ..registry import registry
from .errors import RebuildError
from .filling import fill, server_for
from .lock import RebuildLock, Recovery, timestamp
from .pages import count_rows
from .results import FillResult
from .workers import default_processes

logger = logging.getLogger("djangoes_dsl.rebuild")


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


class Rebuild:
    """A zero-downtime rebuild of the index ``key`` on the server ``using``.

    ``run()`` takes every step; ``start()``, ``fill()`` and ``finish()`` take one each (and
    ``abort()`` undoes them before the swap), for a caller that reports between them.
    ``progress(done, total)`` is called as the fill reads pages; ``lease`` is the seconds
    the lock lasts unless renewed (default ``DJANGOES_REBUILD_LEASE``, 120), measured by
    ``clock`` (default ``RebuildLock.clock``, the real one; see :mod:`djangoes_dsl.clock`).
    """

    replay_rounds = 3
    #: From this many rows on, the new index is filled without refreshes or replicas, which
    #: ``finish()`` restores; a smaller fill takes less time than that settings update.
    fast_fill_rows = 50_000

    def __init__(
        self,
        key: str,
        using: str | None = None,
        *,
        documents: list[type[Document]] | None = None,
        chunk_size: int | None = None,
        parallel: int = 0,
        processes: int | None = None,
        progress: ProgressCallback | None = None,
        lease: float | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.key = key
        self.using = server_for(key, using)
        self.backend = djangoes.connections[self.using]
        self.client = self.backend.client
        self.settings = self.backend.get_index(key)
        self.name: str = self.settings["NAME"]
        self.aliases: list[str] = list(self.settings["ALIASES"])
        self.documents = documents if documents is not None else registry.documents_for_index(key)
        self.chunk_size = chunk_size
        self.parallel = parallel
        self.processes = default_processes() if processes is None else processes
        self.progress = progress
        self.new_index = f"{self.name}-{timestamp()}"
        self.lock = RebuildLock(
            self.client,
            self.name,
            key=key,
            new_index=self.new_index,
            serving=self.serving,
            lease=lease,
            clock=clock,
        )
        #: The clock given (``None``: each part uses its class's clock).
        self.clock = clock
        self.journal = self.lock.journal
        #: What ``start()`` cleaned up after a dead rebuild, if anything.
        self.recovered: Recovery | None = None
        #: The fill's result, once filled.
        self.result: FillResult | None = None
        self.replayed = 0
        self.old: list[str] = []
        self.started = self.created = self.filled = self.swapped = self.finished = False
        self._restore: dict[str, Any] | None = None
        self._total: int | None = None
        self._seq_no = -1

    def serving(self) -> list[str]:
        """Return the concrete indices behind NAME and ALIASES."""
        found: list[str] = []
        for name in (self.name, *self.aliases):
            found.extend(self.backend.concrete_indices(name))
        return sorted(set(found))

    # -- the steps -------------------------------------------------------------------------

    def run(self) -> str:
        """Take the steps not taken yet; return the new index (NAME's target from now on)."""
        try:
            if not self.started:
                self.start()
            if not self.filled:
                self.fill()
            self.finish()
        except BaseException:
            self.abort()
            raise
        return self.new_index

    def start(self) -> None:
        """Take the lock (cleaning up after a dead rebuild) and create the new index."""
        self.recovered = self.lock.acquire()
        self.started = True
        try:
            self.old = self.backend.concrete_indices(self.name)
            body = copy.deepcopy(self.backend.get_index_body(self.key, with_aliases=False))
            self._total = count_rows(self.documents)
            if self._total >= self.fast_fill_rows:
                self._restore = fill_settings(body)
            # Without waiting for shard start: writes wait for their shard themselves.
            self.client.indices.create(index=self.new_index, wait_for_active_shards="0", **body)
            self.created = True
        except BaseException:
            self.abort()
            raise

    def fill(self) -> FillResult:
        """Fill the new index from the database, renewing the lease as pages are read."""

        def progress(done: int, total: int) -> None:
            self.lock.renew()
            if self.progress is not None:
                self.progress(done, total)

        self.result = fill(
            self.client,
            self.documents,
            self.new_index,
            chunk_size=self.chunk_size,
            parallel=self.parallel,
            processes=self.processes,
            using=self.using,
            progress=progress,
            total=self._total,
        )
        self.filled = True
        return self.result

    def finish(self) -> str:
        """Restore the settings, catch up with the journal, swap, catch up again, clean up."""
        if self._restore is not None:
            self.client.indices.put_settings(
                index=self.new_index, settings={"index": self._restore}
            )
        self.client.indices.refresh(index=self.new_index)
        for _ in range(self.replay_rounds):
            self.lock.renew()
            if not self.replay():
                break
        self.lock.renew(before_swap=True)  # never swap after another rebuild took over
        self.swap()
        self.swapped = True
        self.replay()
        self.lock.release(*(index for index in self.old if index != self.name))
        self.finished = True
        logger.info("%s: '%s' now points to '%s'.", self.key, self.name, self.new_index)
        return self.new_index

    def abort(self) -> None:
        """Undo what was done: before the swap, the new index goes and the old one serves."""
        if self.finished or not self.started:
            return
        self.started = False
        if self.swapped or not self.created:
            self.lock.release()
        else:
            self.lock.release(self.new_index)

    # -- journal and alias -----------------------------------------------------------------

    def replay(self) -> int:
        """Index again, from the database, the rows the journal recorded; return how many."""
        operations: Operations = {}
        # Read before the refresh that entries() makes: every entry up to it is searchable
        # then. Entries above it are read again next time (one below them may have been
        # applied after the refresh; see Journal.checkpoint).
        checkpoint = self.journal.checkpoint()
        for _, label, pk in self.journal.entries(after=self._seq_no):
            document = registry.document_for_label(label)
            model = document.get_model() if document in self.documents else None
            if document is not None and model is not None:
                operations[(document, model._meta.pk.to_python(pk))] = None
        self._seq_no = max(self._seq_no, checkpoint)
        if not operations:
            return 0
        failures = send_operations(
            operations, journal=False, target=lambda document: self.new_index
        )
        if failures:
            if not self.swapped:
                raise RebuildError(
                    f"Replaying the writes made during the rebuild failed: {failures[0]}"
                )
            raise RebuildError(
                f"Replaying the writes made during the rebuild failed after '{self.name}' was "
                f"swapped to '{self.new_index}': {failures[0]}. The new index serves and may "
                f"miss those writes; the old index was kept. Run the rebuild again."
            )
        self.replayed += len(operations)
        self.client.indices.refresh(index=self.new_index)
        return len(operations)

    def swap(self) -> None:
        """Point NAME and ALIASES at the new index, in one atomic ``_aliases`` call."""
        names = {self.name, *self.aliases}
        actions: list[dict[str, Any]] = []
        old = self.old
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
