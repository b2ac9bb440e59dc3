"""Does a live index match its declaration? The one place that compares them.

A declared index body (settings, aliases, mappings: ``backend.get_index_body(key)``) and the
live index differ in form even when they agree: Elasticsearch reports settings flat and as
text, and fills in the parameters a field type has by default (a ``completion`` field comes
back with ``analyzer: simple``, ``max_input_length: 50``, ...; a ``dense_vector`` with its
``similarity`` and ``index_options``). So the declaration is first put in the server's own form
(:func:`server_form`: the server resolves the body as it would create it, without creating
anything), and then compared with the live index (:func:`compare`), each :class:`Difference`
classified as changeable in place or needing a new index.

Parameters the declaration does not name are the server's to choose: a value the server fills
in for one is not drift, even when a newer server would fill in another.

``djangoes.backends.creation`` (kept test indices) and ``djangoes_dsl.schema``
(``search_index status`` and ``migrate``) both read their answer from here.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DYNAMIC_SETTINGS",
    "IN_PLACE_MAPPING_PARAMETERS",
    "IN_PLACE_PARAMETERS",
    "Difference",
    "compare",
    "diff_mappings",
    "diff_settings",
    "flat_settings",
    "is_dynamic_setting",
    "server_form",
    "text_values",
]

#: Field parameters Elasticsearch updates in place (put_mapping); any other change of a
#: field's parameters needs a new index.
IN_PLACE_PARAMETERS = frozenset(
    {"search_analyzer", "search_quote_analyzer", "ignore_above", "meta"}
)

#: Top-level mapping parameters put_mapping updates in place.
IN_PLACE_MAPPING_PARAMETERS = frozenset(
    {"dynamic", "date_detection", "numeric_detection", "dynamic_date_formats",
     "dynamic_templates", "runtime", "_meta"}
)  # fmt: skip

#: Index settings that can change on an open index (``index.`` left out); a name ending in
#: "." covers every setting below it. Any other setting is static: it needs a new index.
DYNAMIC_SETTINGS = (
    "number_of_replicas", "auto_expand_replicas", "refresh_interval", "max_result_window",
    "max_inner_result_window", "max_rescore_window", "max_docvalue_fields_search",
    "max_script_fields", "max_ngram_diff", "max_shingle_diff", "max_refresh_listeners",
    "analyze.max_token_count", "highlight.max_analyzed_offset", "max_terms_count",
    "max_regex_length", "query.default_field", "default_pipeline", "final_pipeline",
    "gc_deletes", "hidden", "search.idle.after", "unassigned.node_left.delayed_timeout",
    "translog.durability", "merge.scheduler.max_thread_count", "mapping.total_fields.limit",
    "mapping.depth.limit", "mapping.nested_fields.limit", "mapping.nested_objects.limit",
    "mapping.field_name_length.limit", "blocks.", "routing.", "search.slowlog.",
    "indexing.slowlog.",
)  # fmt: skip


def is_dynamic_setting(name: str) -> bool:
    """Return whether the index setting ``name`` (``index.refresh_interval``) is dynamic."""
    short = name.removeprefix("index.")
    return any(
        short.startswith(known) if known.endswith(".") else short == known
        for known in DYNAMIC_SETTINGS
    )


def text_values(value: Any) -> Any:
    """Return a setting or mapping value as Elasticsearch shows it: scalars as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return [text_values(item) for item in value]
    if isinstance(value, dict):
        return {name: text_values(inner) for name, inner in value.items()}
    return value if value is None else str(value)


def flat_settings(settings: dict[str, Any] | None) -> dict[str, Any]:
    """Return ``settings`` as ``{"index.<name>": value as text}`` (nested or dotted, any type).

    The one normal form of index settings: what ``GET <index>/_settings?flat_settings`` shows.
    """
    found: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for name, inner in value.items():
                walk(f"{prefix}.{name}" if prefix else str(name), inner)
            return
        name = prefix if prefix.startswith("index.") else f"index.{prefix}"
        found[name] = text_values(value)

    walk("", settings or {})
    return found


def server_form(client: Any, body: dict[str, Any]) -> dict[str, Any]:
    """Return the index ``body`` as the server behind ``client`` would store it.

    The server resolves the body without creating anything (``POST
    _index_template/_simulate`` with a pattern no index has), so field parameters it fills in
    by default are there, for every field type and server version. A body the server cannot
    resolve (a field type or analysis component it lacks) is returned as it is: creating the
    index would fail, and the comparison shows what is declared.
    """
    template: dict[str, Any] = {}
    for part in ("settings", "mappings"):
        if body.get(part):
            template[part] = copy.deepcopy(body[part])
    if not template.get("mappings"):
        return copy.deepcopy(body)
    from elasticsearch import ApiError

    try:
        resolved = client.indices.simulate_template(
            index_patterns=[f"djangoes-drift-{uuid.uuid4().hex}-*"],
            template=template,
            composed_of=[],
            priority=0,
        ).body["template"]
    except ApiError:
        return copy.deepcopy(body)
    found = copy.deepcopy(body)
    found["mappings"] = resolved.get("mappings") or {}
    if "_meta" in (body.get("mappings") or {}):
        found["mappings"]["_meta"] = copy.deepcopy(body["mappings"]["_meta"])
    return found


@dataclass(frozen=True)
class Difference:
    """One way a live index differs from its declaration."""

    where: str  # "field title.raw", "setting index.refresh_interval", "alias x", ...
    what: str  # "new field", "type changed", "analyzer changed", ...
    declared: Any = None
    live: Any = None
    in_place: bool = False
    adds_field: bool = False  # existing documents need to be sent again to fill it

    def __str__(self) -> str:
        values = ""
        if self.declared is not None and self.live is not None:
            values = f": {_show(self.live)} -> {_show(self.declared)}"
        elif self.declared is not None:
            values = f": {_show(self.declared)}"
        elif self.live is not None:
            values = f" (live: {_show(self.live)})"
        how = "in place" if self.in_place else "needs rebuild"
        return f"{self.where}: {self.what}{values} [{how}]"

    @property
    def only_live(self) -> bool:
        """Whether the live index merely has more than declared (a field or setting)."""
        return self.what == "removed field" or self.what.startswith("setting removed")


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return repr(value) if isinstance(value, str) else str(value)


def _field_type(spec: dict[str, Any]) -> str:
    return str(spec.get("type") or "object")  # Elasticsearch leaves "object" out


def diff_mappings(
    declared: dict[str, Any], live: dict[str, Any], named: dict[str, Any] | None = None
) -> list[Difference]:
    """Return the differences of a live mapping from the declared one, field by field.

    ``declared`` is best in the server's form (see :func:`server_form`); ``named`` is the
    mapping as written (default: ``declared``): a field parameter it does not name is the
    server's default, compared only when the live index has one the declaration lacks.
    """
    declared = text_values(declared)
    live = text_values(live)
    named = declared if named is None else text_values(named)
    found: list[Difference] = []
    for name in sorted(set(declared) | set(live)):
        if name in ("properties", "_meta"):
            continue
        if declared.get(name) != live.get(name):
            found.append(
                Difference(
                    f"mapping {name}",
                    "mapping parameter changed",
                    declared.get(name),
                    live.get(name),
                    in_place=name in IN_PLACE_MAPPING_PARAMETERS,
                )
            )
    found.extend(
        _diff_fields(
            "",
            declared.get("properties") or {},
            live.get("properties") or {},
            named.get("properties") or {},
        )
    )
    return found


def _diff_fields(
    prefix: str, declared: dict[str, Any], live: dict[str, Any], named: dict[str, Any]
) -> Iterator[Difference]:
    for name in sorted(set(declared) | set(live)):
        path = f"{prefix}{name}"
        mine, theirs = declared.get(name), live.get(name)
        if theirs is None:
            yield Difference(
                f"field {path}",
                "new field",
                _field_type(mine or {}),
                in_place=True,
                adds_field=True,
            )
            continue
        if mine is None:
            yield Difference(f"field {path}", "removed field", live=_field_type(theirs))
            continue
        yield from _diff_field(path, mine, theirs, named.get(name) or {})


def _diff_field(
    path: str, declared: dict[str, Any], live: dict[str, Any], named: dict[str, Any]
) -> Iterator[Difference]:
    kind, live_kind = _field_type(declared), _field_type(live)
    if kind != live_kind:
        yield Difference(f"field {path}", "type changed", kind, live_kind)
        return
    for name in sorted((set(declared) | set(live)) - {"type", "properties", "fields"}):
        mine, theirs = declared.get(name), live.get(name)
        if mine == theirs:
            continue
        if name not in named and (theirs is None or mine is not None):
            continue  # the server's default, then or now: not declared, not drift
        if mine is not None and theirs is not None:
            what = f"{name} changed"
        else:
            what = f"{name} added" if theirs is None else f"{name} removed"
        in_place = name in IN_PLACE_PARAMETERS
        if name == "meta" and kind == "dense_vector":
            # The vectors were computed by the model the meta names: another model's vectors
            # do not compare with them, so every document is embedded anew in a new index.
            in_place = False
        yield Difference(f"field {path}", what, mine, theirs, in_place=in_place)
    for part in ("properties", "fields"):  # object fields, multi-fields
        yield from _diff_fields(
            f"{path}.",
            declared.get(part) or {},
            live.get(part) or {},
            named.get(part) or {},
        )


def diff_settings(
    declared: dict[str, Any], live: dict[str, Any], recorded: list[str] | None = None
) -> list[Difference]:
    """Return the differences of live index settings from the declared ones.

    Both sides in any form (nested or flat). Settings Elasticsearch sets by itself are not
    compared; a setting declared before (``recorded``) and no more is a difference: back to
    its default.
    """
    declared = flat_settings(declared)
    live = flat_settings(live)
    found = []
    for name in sorted(declared):
        if live.get(name) != declared[name]:
            found.append(
                Difference(
                    f"setting {name}",
                    "setting changed" if name in live else "setting added",
                    declared[name],
                    live.get(name),
                    in_place=is_dynamic_setting(name),
                )
            )
    for name in sorted(set(recorded or ()) - set(declared)):
        if name in live:
            found.append(
                Difference(
                    f"setting {name}",
                    "setting removed (back to its default)",
                    live=live[name],
                    in_place=is_dynamic_setting(name),
                )
            )
    return found


def compare(
    client: Any,
    declared: dict[str, Any],
    live: dict[str, Any],
    recorded_settings: list[str] | None = None,
) -> list[Difference]:
    """Return how the ``live`` index (``{"mappings", "settings"}``) differs from the
    ``declared`` body, the declaration first put in the server's form (see
    :func:`server_form`). Aliases are the caller's to compare (it knows which were declared
    before)."""
    resolved = server_form(client, declared)
    return [
        *diff_mappings(
            resolved.get("mappings") or {},
            live.get("mappings") or {},
            named=declared.get("mappings") or {},
        ),
        *diff_settings(
            declared.get("settings") or {}, live.get("settings") or {}, recorded_settings
        ),
    ]
