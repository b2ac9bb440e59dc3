"""Index schemas: what the code declares, what the cluster has, and how to bring one to the other.

The *declared* schema of an index is the body that would create it now
(``backend.get_index_body(key)``: SETTINGS incl. analysis, ALIASES, and the mappings of every
Document registered to it). Every index of registered Documents that djangoes creates (``create``, a
rebuild, test indices, ``migrate``) carries in its mapping's ``_meta`` a record of that
declaration::

    {"djangoes": {"fingerprint": "<sha256 of the normalised declared body>",
                  "settings": [<declared setting names>], "aliases": [<declared aliases>]}}

so one cheap request (``GET <NAME>/_mapping``) tells whether a live index still matches the
code (the deploy check ``djangoes_dsl.W040``). :func:`inspect` compares the declaration with
the live index field by field and classifies each :class:`Difference`:

- *in place*: a new field or multi-field, a new or removed alias, a changed dynamic setting,
  a changed ``search_analyzer``/``ignore_above``/``dynamic``/runtime fields, a missing
  fingerprint;
- *needs rebuild*: a changed field type or analyzer, a removed field, any other changed
  field parameter, a changed static setting (shards, analysis, ...), an index that becomes
  shared by several Documents (its ids change).

:func:`plan` turns an :class:`IndexState` into a :class:`Plan`, and :func:`apply` carries it
out: nothing; in place (``put_mapping``, ``put_settings``, alias updates, then every row
sent again when fields were added, so existing documents get their values, then the new
fingerprint); a zero-downtime rebuild; or, for a missing index, create and fill.
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import djangoes
from djangoes.backends.drift import (
    IN_PLACE_MAPPING_PARAMETERS,
    Difference,
    compare,
    flat_settings,
    text_values,
)

from .documents import KIND_FIELD, Document
from .indexing import bulk_chunk_size, send_operations
from .rebuild import Rebuild, populate
from .registry import registry

META_KEY = "djangoes"

# -- the declared schema ---------------------------------------------------------------------

_building = threading.local()


def declared_body(backend: Any, key: str) -> dict[str, Any]:
    """Return the body that would create index ``key`` now, without the ``_meta`` record."""
    _building.active = True
    try:
        body = copy.deepcopy(backend.get_index_body(key))
    finally:
        _building.active = False
    meta = body.get("mappings", {}).get("_meta")
    if isinstance(meta, dict):
        meta.pop(META_KEY, None)
        if not meta:
            del body["mappings"]["_meta"]
    return body


def normalised(body: dict[str, Any]) -> dict[str, Any]:
    """Return ``body`` in one canonical form: flat settings, sorted aliases, text scalars."""
    mappings = copy.deepcopy(body.get("mappings") or {})
    return {
        "settings": flat_settings(body.get("settings")),
        "aliases": sorted(body.get("aliases") or {}),
        "mappings": text_values(mappings),
    }


def fingerprint(body: dict[str, Any]) -> str:
    """Return the fingerprint of a declared index body (sha256 of its canonical form)."""
    text = json.dumps(normalised(body), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def meta_record(body: dict[str, Any]) -> dict[str, Any]:
    """Return what an index's ``_meta`` keeps of the declaration it was made from."""
    return {
        "fingerprint": fingerprint(body),
        "settings": sorted(flat_settings(body.get("settings"))),
        "aliases": sorted(body.get("aliases") or {}),
    }


def stamp_body(*, backend: Any, key: str, body: dict[str, Any], **kwargs: Any) -> None:
    """Receiver of ``prepare_index_body``: record the declaration in the body's ``_meta``.

    The record describes the whole declaration (with aliases, whatever other receivers add),
    also when the body is built without aliases or changed afterwards (a rebuild's fill
    settings), so an index made from it is "in sync".
    """
    if getattr(_building, "active", False) or not registry.documents_for_index(key):
        return  # indices without Documents are djangoes's alone: their body stays as set
    record = meta_record(declared_body(backend, key))
    mappings = body.setdefault("mappings", {})
    mappings.setdefault("_meta", {})[META_KEY] = record


# -- differences -----------------------------------------------------------------------------


def diff_meta(declared: dict[str, Any], live: dict[str, Any]) -> list[Difference]:
    """Return the difference of the project's own ``_meta`` entries (djangoes' record aside)."""
    declared_meta = {k: v for k, v in (declared.get("_meta") or {}).items() if k != META_KEY}
    live_meta = {k: v for k, v in (live.get("_meta") or {}).items() if k != META_KEY}
    if text_values(declared_meta) == text_values(live_meta):
        return []
    return [
        Difference("mapping _meta", "metadata changed", declared_meta, live_meta, in_place=True)
    ]


def _shared_index(difference: Difference) -> Difference:
    """Return ``difference``, said as what it means when it adds the kind field."""
    if difference.where == f"field {KIND_FIELD}" and difference.what == "new field":
        # A second Document registered to the index: every id becomes <kind>:<pk>.
        return Difference(
            difference.where,
            "new field: the index is now shared by several Documents, whose ids are <kind>:<pk>",
            difference.declared,
        )
    return difference


# -- the state of an index -------------------------------------------------------------------

IN_SYNC = "in sync"
COMPATIBLE = "compatible changes"
NEEDS_REBUILD = "needs rebuild"
MISSING = "missing"


@dataclass
class IndexState:
    """How the live index ``key`` on server ``using`` compares with its declaration."""

    key: str
    using: str
    name: str
    concrete: list[str]
    declared: dict[str, Any]
    fingerprint: str
    live_fingerprint: str | None = None
    differences: list[Difference] = field(default_factory=list)
    refill_pending: bool = False
    declared_aliases: list[str] = field(default_factory=list)
    removed_aliases: list[str] = field(default_factory=list)

    @property
    def state(self) -> str:
        """Return "in sync", "compatible changes", "needs rebuild" or "missing"."""
        if not self.concrete:
            return MISSING
        if any(not difference.in_place for difference in self.differences):
            return NEEDS_REBUILD
        if self.differences:
            return COMPATIBLE
        return IN_SYNC

    @property
    def in_sync(self) -> bool:
        return self.state == IN_SYNC


def targets(keys: list[str] | None = None, using: str | None = None) -> list[tuple[str, str]]:
    """Return ``(key, server alias)`` of every served index (of ``keys``, on ``using``)."""
    found = []
    for key in keys if keys is not None else list(djangoes.connections.indices):
        for alias in registry.servers_for(key):
            if using is None or alias == using:
                found.append((key, alias))
    return found


def inspect(key: str, using: str) -> IndexState:
    """Compare the live index ``key`` on server ``using`` with its declaration (one request)."""
    backend = djangoes.connections[using]
    name = backend.get_index(key)["NAME"]
    declared = declared_body(backend, key)
    state = IndexState(key, using, name, [], declared, fingerprint(declared))
    state.declared_aliases = sorted(declared.get("aliases") or {})
    live = backend.client.indices.get(
        index=name, flat_settings=True, ignore_unavailable=True, allow_no_indices=True
    ).body
    state.concrete = sorted(live)
    if not live:
        return state
    if len(live) > 1:
        state.differences.append(
            Difference(
                f"name {name}",
                f"is an alias of {len(live)} indices ({', '.join(sorted(live))})",
                in_place=False,
            )
        )
    found = live[state.concrete[-1]]
    mappings = found.get("mappings") or {}
    record = (mappings.get("_meta") or {}).get(META_KEY) or {}
    state.live_fingerprint = record.get("fingerprint")
    state.refill_pending = bool(record.get("refill"))
    state.differences += diff_meta(declared.get("mappings") or {}, mappings)
    state.differences += [
        _shared_index(difference)
        for difference in compare(backend.client, declared, found, record.get("settings"))
    ]
    live_aliases = set(found.get("aliases") or {}) - {name}
    for alias in state.declared_aliases:
        if alias not in live_aliases:
            state.differences.append(Difference(f"alias {alias}", "new alias", in_place=True))
    for alias in sorted(set(record.get("aliases") or ()) - set(state.declared_aliases)):
        if alias in live_aliases:
            state.removed_aliases.append(alias)
            state.differences.append(
                Difference(f"alias {alias}", "alias no longer declared", in_place=True)
            )
    if state.refill_pending:
        state.differences.append(
            Difference(
                "documents",
                "an earlier migrate added fields but did not finish sending every row again",
                in_place=True,
                adds_field=True,
            )
        )
    managed = bool(registry.documents_for_index(key))
    if managed and not state.differences and state.live_fingerprint != state.fingerprint:
        state.differences.append(
            Difference(
                "fingerprint",
                "not recorded"
                if state.live_fingerprint is None
                else "recorded for another declaration",
                in_place=True,
            )
        )
    return state


def live_fingerprints(key: str, using: str) -> tuple[str, str | None, bool]:
    """Return ``(declared fingerprint, live fingerprint, exists)`` with one small request.

    Only indices with registered Documents carry a fingerprint (see :func:`stamp_body`).
    """
    backend = djangoes.connections[using]
    name = backend.get_index(key)["NAME"]
    declared = fingerprint(declared_body(backend, key))
    found = backend.client.indices.get_mapping(
        index=name, ignore_unavailable=True, allow_no_indices=True
    ).body
    if not found:
        return declared, None, False
    live = [
        ((mapping.get("mappings") or {}).get("_meta") or {}).get(META_KEY) or {}
        for mapping in found.values()
    ]
    if any(record.get("refill") for record in live):
        return declared, None, True
    fingerprints = {record.get("fingerprint") for record in live}
    return declared, fingerprints.pop() if len(fingerprints) == 1 else None, True


# -- migrating -------------------------------------------------------------------------------

NOTHING = "nothing"
IN_PLACE = "in place"
REBUILD = "rebuild"
CREATE = "create"


@dataclass
class Plan:
    """What ``migrate`` does to one index: an action and its steps, in words."""

    state: IndexState
    action: str
    steps: list[str]


def plan(state: IndexState) -> Plan:
    """Return what brings the live index of ``state`` to its declaration."""
    current = state.state
    if current == IN_SYNC:
        return Plan(state, NOTHING, [])
    if current == MISSING:
        return Plan(state, CREATE, [f"create '{state.name}' and fill it from the database"])
    if current == NEEDS_REBUILD:
        return Plan(
            state,
            REBUILD,
            [f"rebuild '{state.name}' with zero downtime (a new index, filled, then swapped in)"],
        )
    steps = []
    differences = state.differences
    fields = [d for d in differences if d.where.startswith("field ")]
    mapping = [d for d in differences if d.where.startswith("mapping ")]
    if fields or mapping:
        added = sum(1 for d in fields if d.adds_field)
        steps.append(
            f"update the mapping in place ({added} new field(s), "
            f"{len(fields) + len(mapping) - added} changed parameter(s))"
        )
    settings = [d for d in differences if d.where.startswith("setting ")]
    if settings:
        steps.append(f"update {len(settings)} dynamic setting(s)")
    aliases = [d for d in differences if d.where.startswith("alias ")]
    if aliases:
        steps.append(f"update {len(aliases)} alias(es)")
    if any(d.adds_field for d in differences):
        steps.append("send every row again, so existing documents get the new fields")
    steps.append("record the new fingerprint")
    return Plan(state, IN_PLACE, steps)


class MigrateError(Exception):
    """An index could not be brought to its declaration."""


def apply(
    migration: Plan,
    *,
    say: Callable[[str], Any] | None = None,
    chunk_size: int | None = None,
    progress: Callable[[int, int], Any] | None = None,
) -> None:
    """Carry out ``migration`` (see :func:`plan`); ``progress(done, total)`` follows a fill."""
    state = migration.state
    if migration.action == NOTHING:
        return
    documents = registry.documents_for_index(state.key)
    if migration.action == CREATE:
        populate(
            state.key, state.using, documents=documents, chunk_size=chunk_size, progress=progress
        )
        return
    if migration.action == REBUILD:
        Rebuild(
            state.key, state.using, documents=documents, chunk_size=chunk_size, progress=progress
        ).run()
        return
    _apply_in_place(state, documents, say or (lambda message: None), chunk_size, progress)


def _apply_in_place(
    state: IndexState,
    documents: list[type[Document]],
    say: Callable[[str], Any],
    chunk_size: int | None,
    progress: Callable[[int, int], Any] | None = None,
) -> None:
    client = djangoes.connections[state.using].client
    declared = state.declared
    mappings = declared.get("mappings") or {}
    record = meta_record(declared)
    refill = any(d.adds_field for d in state.differences)
    # Until every row is sent again, the index says so: an interrupted migrate is finished
    # by the next one.
    meta = dict(mappings.get("_meta") or {})
    meta[META_KEY] = (
        {"fingerprint": state.live_fingerprint, "refill": True, **_kept(record)}
        if refill
        else record
    )
    # put_mapping's keyword arguments: the mapping's names without the leading "_".
    update = {
        name.lstrip("_"): value
        for name, value in mappings.items()
        if name in IN_PLACE_MAPPING_PARAMETERS or name == "properties"
    }
    update["meta"] = meta
    client.indices.put_mapping(index=",".join(state.concrete), **update)
    settings: dict[str, Any] = {}
    declared_settings = flat_settings(declared.get("settings"))
    for difference in state.differences:
        if difference.where.startswith("setting "):
            name = difference.where.removeprefix("setting ")
            settings[name] = declared_settings.get(name)  # None: back to the default
    if settings:
        client.indices.put_settings(index=",".join(state.concrete), settings=settings)
        say(f"{state.key}: updated the settings {sorted(settings)}.")
    actions: list[dict[str, Any]] = []
    for difference in state.differences:
        if difference.what == "new alias":
            alias = difference.where.removeprefix("alias ")
            actions += [{"add": {"index": index, "alias": alias}} for index in state.concrete]
    for alias in state.removed_aliases:
        actions += [{"remove": {"index": index, "alias": alias}} for index in state.concrete]
    if actions:
        client.indices.update_aliases(actions=actions)
        say(f"{state.key}: updated {len(actions)} alias(es).")
    if refill:
        say(f"{state.key}: sending every row again, so existing documents get the new fields...")
        sent = refill_documents(documents, chunk_size=chunk_size, progress=progress)
        client.indices.refresh(index=",".join(state.concrete))
        say(f"{state.key}: sent {sent:,} document(s) again with their new fields.")
        meta[META_KEY] = record
        client.indices.put_mapping(index=",".join(state.concrete), meta=meta)


def _kept(record: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in record.items() if name != "fingerprint"}


def refill_documents(
    documents: list[type[Document]],
    *,
    chunk_size: int | None = None,
    progress: Callable[[int, int], Any] | None = None,
) -> int:
    """Send every row of ``documents`` to its index again, in primary-key pages.

    Writes go through the indexing pipeline: versioned (a newer signal write wins), and
    recorded by a rebuild running meanwhile. ``progress(sent, total)`` follows each page.
    Raise MigrateError when some fail.
    """

    size = chunk_size or bulk_chunk_size()
    sent = 0
    with_model = [document for document in documents if document.get_model() is not None]
    total = sum(document.get_queryset().count() for document in with_model) if progress else 0
    for document in with_model:
        pks = document.get_queryset().order_by("pk").values_list("pk", flat=True)
        last = None
        while True:
            page = list((pks if last is None else pks.filter(pk__gt=last))[:size])
            if not page:
                break
            failures = send_operations({(document, pk): None for pk in page}, chunk_size=size)
            if failures:
                raise MigrateError(
                    f"Sending the documents of {document.__name__} again failed: {failures[0]}"
                )
            sent += len(page)
            last = page[-1]
            if progress is not None:
                progress(sent, max(total, sent))
    if progress is not None and sent == 0:
        progress(0, 0)
    return sent
