"""Refuse writes to live indices while test settings are active.

The client calls ``check_write`` before every request. Requests made through the client's
API methods carry an ``endpoint_id`` ("index", "indices.delete", ...) and their path parts;
raw ``client.perform_request(method, path)`` calls carry neither, so their path is parsed.
Whatever is not known to be a read is treated as a write: the guard errs on refusing.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

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
# Path parts that name an index or alias the request changes.
_TARGET_PARTS = ("index", "target", "new_index", "alias")
_BULK_ACTIONS = {"index": True, "create": True, "update": True, "delete": False}  # has source?
# Path segments of raw requests that only read (POST is allowed for these).
_READ_SEGMENTS = frozenset(
    {
        "_search", "_count", "_msearch", "_mget", "_refresh", "_analyze", "_field_caps",
        "_explain", "_validate", "_termvectors", "_mtermvectors", "_pit", "_search_shards",
        "_terms_enum",
    }
)  # fmt: skip


def _names(value: Any) -> Iterator[str]:
    if value is None:
        return
    if isinstance(value, (bytes, str)):
        text = value.decode() if isinstance(value, bytes) else value
        yield from (part.strip() for part in text.split(",") if part.strip())
    elif isinstance(value, Iterable) and not isinstance(value, dict):
        for item in value:
            yield from _names(item)


def _lines(body: Any) -> Iterator[Any]:
    if isinstance(body, (bytes, str)):
        text = body.decode() if isinstance(body, bytes) else body
        lines: Iterable[Any] = text.splitlines()
    else:
        lines = body or ()
    for line in lines:
        if isinstance(line, (bytes, str)):
            if not line.strip():
                continue
            try:
                line = json.loads(line)
            except ValueError:
                line = None
        yield line


def _bulk_targets(body: Any) -> Iterator[str]:
    """Yield the ``_index`` of every action line; source lines are skipped, not parsed."""
    expect_source = False
    for line in _lines(body):
        if expect_source:
            expect_source = False
            continue
        if isinstance(line, dict) and len(line) == 1:
            ((action, meta),) = line.items()
            if action in _BULK_ACTIONS:
                expect_source = _BULK_ACTIONS[action]
                if isinstance(meta, dict):
                    yield from _names(meta.get("_index"))


def _alias_action_targets(body: Any) -> Iterator[str]:
    for action in (body or {}).get("actions", ()) if isinstance(body, dict) else ():
        if not isinstance(action, dict):
            continue
        for spec in action.values():
            if isinstance(spec, dict):
                for field in ("index", "indices", "alias", "aliases"):
                    yield from _names(spec.get(field))


def _raw_targets(method: str, path: str, body: Any) -> set[str]:
    """Return what a raw request (no endpoint id) would change, from its method and path."""
    if method.upper() in ("GET", "HEAD"):
        return set()
    segments = [unquote(part) for part in urlsplit(path).path.split("/") if part]
    if not segments:
        return set()
    if segments[0] == "_bulk" or segments[-1] == "_bulk":
        targets = set(_bulk_targets(body))
        if segments[0] != "_bulk":
            targets.update(_names(segments[0]))
        return targets
    if segments[0] == "_aliases":
        return set(_alias_action_targets(body))
    if segments[0] == "_reindex":
        return _reindex_targets(body)
    if segments[0].startswith("_") or _READ_SEGMENTS.intersection(segments[1:]):
        return set()
    targets = set(_names(segments[0]))
    if len(segments) >= 3 and segments[1] in ("_alias", "_aliases"):
        targets.update(_names(segments[2]))
    return targets


def _reindex_targets(body: Any) -> set[str]:
    dest = body.get("dest") if isinstance(body, dict) else None
    return set(_names(dest.get("index"))) if isinstance(dest, dict) else set()


def write_targets(
    endpoint_id: str | None,
    path_parts: dict[str, Any] | None,
    body: Any,
    method: str = "",
    path: str = "",
) -> set[str]:
    """Return the index or alias names (or patterns) a request would change; empty for reads."""
    if not endpoint_id:
        return _raw_targets(method, path, body) if method else set()
    if endpoint_id in _READ_ENDPOINTS or endpoint_id.startswith(_READ_PREFIXES):
        return set()
    parts = path_parts or {}
    targets: set[str] = set()
    for part in _TARGET_PARTS:
        targets.update(_names(parts.get(part)))
    if endpoint_id in ("indices.put_alias", "indices.delete_alias"):
        targets.update(_names(parts.get("name")))
    if endpoint_id == "bulk":
        targets.update(_bulk_targets(body))
    elif endpoint_id == "indices.update_aliases":
        targets.update(_alias_action_targets(body))
    elif endpoint_id == "reindex":
        targets.update(_reindex_targets(body))
    return targets


def _matches(target: str, live_names: frozenset[str]) -> set[str]:
    if target.startswith("-"):  # an exclusion in a multi-target expression changes nothing
        return set()
    if target in ("_all", "*"):
        return set(live_names)
    if "*" in target or "?" in target:
        return {name for name in live_names if fnmatch.fnmatchcase(name, target)}
    return {target} & live_names


def check_write(
    live_names: frozenset[str],
    endpoint_id: str | None,
    path_parts: dict[str, Any] | None,
    body: Any,
    method: str = "",
    path: str = "",
) -> None:
    """Raise LiveIndexWriteError when the request would change a live index or alias."""
    hit: set[str] = set()
    for target in write_targets(endpoint_id, path_parts, body, method, path):
        hit |= _matches(target, live_names)
    if hit:
        what = f"'{endpoint_id}'" if endpoint_id else f"{method.upper()} {path}"
        raise LiveIndexWriteError(
            f"Refusing {what} on live index name(s) {sorted(hit)} while djangoes test "
            f"settings are active. Tests must use the test names (connection.indices / "
            f"connection.index_names) instead of hard-coded live names."
        )
