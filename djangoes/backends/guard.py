"""Refuse writes to live indices while test settings are active."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from ..exceptions import LiveIndexWriteError

# Endpoints that read or inspect, never change an index; anything else is treated as a write.
_READ_ENDPOINTS = frozenset(
    {
        "count", "exists", "exists_source", "explain", "field_caps", "get", "get_source",
        "mget", "msearch", "msearch_template", "mtermvectors", "open_point_in_time",
        "rank_eval", "search", "search_mvt", "search_shards", "search_template",
        "terms_enum", "termvectors", "indices.analyze", "indices.field_usage_stats",
        "indices.recovery", "indices.refresh", "indices.resolve_index", "indices.segments",
        "indices.shard_stores", "indices.stats", "indices.validate_query", "indices.disk_usage",
    }
)  # fmt: skip
_READ_PREFIXES = ("indices.get", "indices.exists")
_BULK_ACTIONS = ("index", "create", "update", "delete")


def _names(value: Any) -> Iterator[str]:
    if value is None:
        return
    if isinstance(value, str):
        yield from (part.strip() for part in value.split(","))
    elif isinstance(value, Iterable):
        for item in value:
            yield from _names(item)


def _bulk_targets(body: Any) -> Iterator[str]:
    lines: Iterable[Any]
    if isinstance(body, (bytes, str)):
        text = body.decode() if isinstance(body, bytes) else body
        lines = (json.loads(line) for line in text.splitlines() if line.strip())
    else:
        lines = body or ()
    for line in lines:
        if isinstance(line, (bytes, str)):
            try:
                line = json.loads(line)
            except ValueError:
                continue
        if isinstance(line, dict) and len(line) == 1:
            (action, meta), = line.items()
            if action in _BULK_ACTIONS and isinstance(meta, dict):
                yield from _names(meta.get("_index"))


def _alias_action_targets(body: Any) -> Iterator[str]:
    for action in (body or {}).get("actions", ()) if isinstance(body, dict) else ():
        for spec in action.values():
            if isinstance(spec, dict):
                for field in ("index", "indices", "alias", "aliases"):
                    yield from _names(spec.get(field))


def write_targets(endpoint_id: str | None, path_parts: dict[str, Any] | None, body: Any) -> set[str]:
    """Return the index or alias names a request would change (empty for reads)."""
    if not endpoint_id or endpoint_id in _READ_ENDPOINTS or endpoint_id.startswith(_READ_PREFIXES):
        return set()
    parts = path_parts or {}
    targets = set(_names(parts.get("index")))
    if endpoint_id in ("indices.put_alias", "indices.delete_alias"):
        targets.update(_names(parts.get("name")))
    if endpoint_id == "bulk":
        targets.update(_bulk_targets(body))
    elif endpoint_id == "indices.update_aliases":
        targets.update(_alias_action_targets(body))
    return targets


def check_write(
    live_names: frozenset[str], endpoint_id: str | None, path_parts: dict[str, Any] | None, body: Any
) -> None:
    """Raise LiveIndexWriteError when the request would change a live index or alias."""
    hit = write_targets(endpoint_id, path_parts, body) & live_names
    if hit:
        raise LiveIndexWriteError(
            f"Refusing '{endpoint_id}' on live index name(s) {sorted(hit)} while djangoes test "
            f"settings are active. Tests must use the test names (connection.indices / "
            f"connection.index_names) instead of hard-coded live names."
        )
