"""Refuse, while test settings are in force, every request that could change a non-test index.

The guard fails closed. It reads the request the client is about to send as
``djangoes.backends.requests`` classifies it (the API called and the names in its path; the
query and the body exactly as it will be serialized) and lets it through only when

- it is a read (``ApiRequest.is_read``: any ``GET`` or ``HEAD``, or a reading API such as
  search, count, mget, msearch, field_caps, refresh, closing a scroll); or
- it is a call of a write API listed in ``WRITES`` whose every target — the names in its
  path, and in its body where the body names indices (bulk, alias actions, reindex,
  templates, ...) — is provably a test index: a test name or alias of the connection, a
  name that begins with one (a rebuild's concrete indices; the workers' indices seen from the
  main process of a parallel run) and with no longer live name, or a wildcard pattern that
  can only match such names.

Anything else is refused before it is sent: writes naming a live or unknown index, ``_all``,
wildcards that can reach a live name, date math resolved to a live name, cluster-wide writes
(cluster settings, component templates, pipelines, snapshots, security, ...), APIs the guard
does not know, raw requests of no known shape, and bodies it cannot read. Names live at any
time while test settings were in force stay protected for the rest of the process (see
``remember_live_names``).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NoReturn

from ..exceptions import LiveIndexWriteError
from .requests import ApiRequest

__all__ = [
    "WRITES",
    "UnreadableBody",
    "WriteGuard",
    "protected_names",
    "remember_live_names",
    "remember_test_names",
]


@dataclass(frozen=True)
class _Write:
    """What a write API changes: the indices (aliases, data streams) its path parts in
    ``names`` name, and what its body adds (``body``: how to read it)."""

    names: tuple[str, ...] = ("index",)
    body: str | None = None
    #: Without its first name part it acts on every index (``PUT /_settings``).
    everywhere_without: bool = True
    roles: tuple[str, ...] = ()


def _each(names: str, write: _Write) -> dict[str, _Write]:
    return dict.fromkeys(names.split(), write)


_INDEX = _Write()
_DATA_STREAM = _Write(("name",), roles=("a data stream",))
_TEMPLATE = _Write((), body="template")

#: The write APIs the guard knows, by ``endpoint_id``; any other API that is not a read is
#: refused. A new API of a new server version is refused until it is listed here.
WRITES: dict[str, _Write] = {
    **_each(
        """
        index create update delete delete_by_query update_by_query indices.delete
        indices.put_mapping indices.open indices.close indices.add_block indices.flush
        indices.forcemerge indices.clear_cache indices.reload_search_analyzers indices.freeze
        indices.unfreeze ilm.retry ilm.remove_policy ilm.move_to_step
        """,
        _INDEX,
    ),
    "bulk": _Write(body="bulk", everywhere_without=False),
    "indices.create": _Write(body="index"),
    "indices.put_settings": _Write(body="settings"),
    "indices.put_alias": _Write(("index", "name"), roles=("", "the alias")),
    "indices.delete_alias": _Write(("index", "name"), roles=("", "the alias")),
    "indices.clone": _Write(("index", "target"), body="index", roles=("", "the target")),
    "indices.split": _Write(("index", "target"), body="index", roles=("", "the target")),
    "indices.shrink": _Write(("index", "target"), body="index", roles=("", "the target")),
    "indices.rollover": _Write(("alias", "new_index"), body="index", roles=("", "the target")),
    "indices.downsample": _Write(("index", "target_index"), roles=("", "the target")),
    "indices.update_aliases": _Write((), body="aliases"),
    "reindex": _Write((), body="reindex"),
    "indices.modify_data_stream": _Write((), body="data_streams"),
    "indices.create_from": _Write(("dest",), body="create_from", roles=("the new index",)),
    **_each(
        """
        indices.create_data_stream indices.delete_data_stream indices.migrate_to_data_stream
        indices.promote_data_stream indices.put_data_lifecycle indices.delete_data_lifecycle
        indices.put_data_stream_options indices.delete_data_stream_options
        indices.put_data_stream_settings indices.put_data_stream_mappings
        """,
        _DATA_STREAM,
    ),
    **_each(
        """
        indices.put_index_template indices.delete_index_template indices.put_template
        indices.delete_template
        """,
        _TEMPLATE,
    ),
}

_BULK_ACTIONS = {"index": True, "create": True, "update": True, "delete": False}  # has source?
_PIPELINE_SETTINGS = ("default_pipeline", "final_pipeline")
_LISTED = 5  # live names quoted in a message, at most


# -- the names the guard protects ------------------------------------------------------------

_protected: frozenset[str] = frozenset()
_protected_lock = threading.Lock()


def remember_live_names(names: Iterable[str]) -> None:
    """Protect ``names`` (live index names and aliases) for the rest of the process.

    Every guarded client remembers the live names of the settings it was built with, and the
    connection handler remembers the new ones when the settings change while test settings
    are in force (``ConnectionHandler.reconfigure``), so a name stays protected after
    ``override_settings`` turned it into something else.
    """
    global _protected
    with _protected_lock:
        _protected = _protected | frozenset(name for name in names if name)


def protected_names() -> frozenset[str]:
    """Return every name the guard protects in this process."""
    return _protected


_test_names: frozenset[str] = frozenset()


def remember_test_names(names: Iterable[str]) -> None:
    """Count ``names`` as test indices for the rest of the process.

    A test index stays one after ``override_settings`` dropped it from the configuration,
    so that what a test set up under one configuration can be cleaned up under the next
    (an alias ``migrate`` removes, say). A name that is also live is never a test index:
    the longer of the live and the test names a target begins with decides.
    """
    global _test_names
    with _protected_lock:
        _test_names = _test_names | frozenset(name for name in names if name)


# Index templates created under the guard in this process: the tests may replace and delete
# them, and no others.
_templates: set[tuple[str, str]] = set()


def _remember_template(kind: str, name: str) -> Callable[[], None]:
    def remember() -> None:
        with _protected_lock:
            _templates.add((kind, name))

    return remember


def _created_template(kind: str, name: str) -> bool:
    with _protected_lock:
        return (kind, name) in _templates


# -- name expressions ------------------------------------------------------------------------


def _date_math_pattern(expression: str) -> str:
    """Return a wildcard pattern that matches every name ``<static{date math}static>`` can
    resolve to: each ``{...}`` part becomes ``*``; escaped braces stay literal."""
    inner = expression[1:-1] if expression.endswith(">") else expression[1:]
    out: list[str] = []
    depth = 0
    escaped = False
    for char in inner:
        if escaped:
            escaped = False
            if depth == 0:
                out.append(char)
        elif char == "\\":
            escaped = True
        elif char == "{":
            if depth == 0:
                out.append("*")
            depth += 1
        elif char == "}":
            depth = max(depth - 1, 0)
        elif depth == 0:
            out.append(char)
    return "".join(out)


def _items(expression: str) -> Iterator[tuple[str, str]]:
    """Yield ``(item, pattern)`` for each name of a multi-target expression.

    Exclusions (``-name`` after a wildcard) only remove names, so they are skipped; a
    ``::selector`` is dropped; date math becomes the pattern of every name it can resolve to.
    """
    wildcard_seen = False
    for item in expression.split(","):
        if not item:
            continue
        if item.startswith("-") and wildcard_seen:
            continue
        wildcard_seen = wildcard_seen or "*" in item or "?" in item
        name = item.split("::", 1)[0]
        yield item, _date_math_pattern(name) if name.startswith("<") else name


def _matches(pattern: str, name: str) -> bool:
    parts = re.split(r"[*?]", pattern)
    return re.fullmatch(".*".join(re.escape(part) for part in parts), name) is not None


def _longest_prefix(text: str, names: Iterable[str]) -> str:
    return max((name for name in names if text.startswith(name)), key=len, default="")


def _live(names: Iterable[str]) -> str:
    """Return "the live name 'a'" or "the live names 'a', 'b'" (at most _LISTED quoted)."""
    names = sorted(names)
    shown = ", ".join(f"'{name}'" for name in names[:_LISTED])
    more = f" and {len(names) - _LISTED} more" if len(names) > _LISTED else ""
    return f"the live name{'s' if len(names) > 1 else ''} {shown}{more}"


# -- the request as Elasticsearch will see it ------------------------------------------------


class UnreadableBody(Exception):
    """The body (or a part of it) cannot be read, so what the request writes is unknown.

    Raised by the guard's body parsers and by the ``body_bytes`` callable given to
    ``WriteGuard.check``; the guard turns it into a refusal.
    """


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise UnreadableBody("it has duplicate keys")
    return result


def _loads(data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError) as exc:
        raise UnreadableBody(f"it is not JSON ({exc})") from None


def _json(request: ApiRequest) -> Any:
    data = request.body()
    if data is None:
        raise UnreadableBody("it has no body")
    return _loads(data)


def _lines(request: ApiRequest) -> list[bytes]:
    """Return the body's lines as Elasticsearch splits a bulk body: at each ``\\n``."""
    data = request.body()
    if data is None:
        raise UnreadableBody("it has no body")
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


# -- the guard -------------------------------------------------------------------------------

_FIX = (
    "Tests may write only to test indices: connection.index_names, connection.indices and "
    "names that begin with them. Use those names, or make this request outside the djangoes "
    "test settings."
)


class WriteGuard:
    """Decide whether a request may be sent while test settings are in force.

    ``live_names`` are the live index names and aliases of the settings in force (they are
    remembered for the rest of the process); ``test_names`` are the test names and aliases
    the connection uses — they and the names that begin with them are the test indices.
    """

    def __init__(self, live_names: Iterable[str], test_names: Iterable[str]) -> None:
        self.live_names = frozenset(live_names)
        remember_live_names(self.live_names)
        self.test_names = frozenset(test_names)
        remember_test_names(self.test_names)

    # -- entry point ------------------------------------------------------------------------

    def check(self, request: ApiRequest) -> Callable[[], None] | None:
        """Raise ``LiveIndexWriteError`` unless ``request`` is a read or writes only to test
        indices (its body is read only when needed).

        Return a callable to run once the request succeeded (it records an index template the
        tests created, so that they may delete it), or None.
        """
        if request.is_read:
            return None
        check = _Check(self, request)
        try:
            return check.run()
        except UnreadableBody as exc:
            check.refuse(f"what it writes cannot be told from its body: {exc}")

    def _test_only(self, pattern: str) -> tuple[bool, set[str]]:
        """Return whether every name ``pattern`` can match is a test index, and the live
        names it can reach."""
        protected = protected_names()
        wildcard = re.search(r"[*?]", pattern)
        literal = pattern[: wildcard.start()] if wildcard else pattern
        live_prefix = _longest_prefix(literal, protected)
        test_prefix = _longest_prefix(literal, self.test_names | _test_names)
        # The longest name it begins with decides: 'shop_t-1' is a test index when the test
        # name is 'shop_t', though it also begins with the live name 'shop'.
        in_test_names = len(test_prefix) > len(live_prefix)
        reached = {live_prefix} if live_prefix and not in_test_names else set()
        if wildcard:
            reached |= {
                name for name in protected if name.startswith(literal) or _matches(pattern, name)
            }
        elif pattern in protected:
            reached.add(pattern)
        return in_test_names and not reached, reached


class _Check:
    """One request's check: collect its targets, refuse on the first problem."""

    def __init__(self, guard: WriteGuard, request: ApiRequest) -> None:
        self.guard = guard
        self.request = request
        self._test_targets: set[str] = set()  # expressions already found to be test indices

    # -- outcome ----------------------------------------------------------------------------

    def refuse(self, reason: str) -> NoReturn:
        raise LiveIndexWriteError(
            f"Refused {self.request.shown} while djangoes test settings are in force: "
            f"{reason}. {_FIX}"
        )

    def refuse_everything(self, what: str) -> NoReturn:
        live = self.guard.live_names
        among = f", {_live(live)} among them" if live else ""
        self.refuse(f"{what} can change every index{among}")

    def target(self, expression: Any, role: str = "") -> None:
        """Refuse unless every name of the index expression is a test index."""
        if not isinstance(expression, str):
            raise UnreadableBody(f"{role or 'an index'} is {expression!r}, not a name")
        if expression in self._test_targets:  # bulk lines mostly repeat one index
            return
        if not expression:
            self.refuse_everything(f"an empty {role or 'index'}")
        for item, pattern in _items(expression):
            if pattern.strip("*?") in ("", "_all"):
                self.refuse_everything(f"'{item}'")
            if ":" in pattern:
                self.refuse(f"'{item}' names an index of a remote cluster")
            test_only, reached = self.guard._test_only(pattern)
            if test_only:
                continue
            named = f"'{item}'" + (f" ({role})" if role else "")
            wildcard = "*" in pattern or "?" in pattern
            if not reached:
                what = "can match indices that are not" if wildcard else "is not"
                self.refuse(f"{named} {what} test indices")
            if pattern in reached and not wildcard:
                if item == pattern:
                    self.refuse(f"{named} is a live index or alias")
                self.refuse(f"{named} resolves to {_live([pattern])}")
            if item.startswith("<"):
                self.refuse(f"{named} can resolve to names that begin with {_live(reached)}")
            if wildcard:
                self.refuse(f"{named} can match {_live(reached)} or names that begin with it")
            self.refuse(f"{named} begins with {_live(reached)}, so it is not a test index")
        self._test_targets.add(expression)

    def targets(self, values: Any, role: str) -> None:
        for value in values if isinstance(values, list) else [values]:
            self.target(value, role)

    def no_pipeline(self, name: Any, where: str) -> None:
        if name is not None and name != "_none":
            self.refuse(
                f"it runs the ingest pipeline {name!r} ({where}), and a pipeline can send "
                f"documents to any index"
            )

    def settings(self, settings: Any) -> None:
        """Refuse index settings that name a default or final ingest pipeline."""
        if not isinstance(settings, dict):
            return
        for key, value in settings.items():
            if isinstance(value, dict):
                self.settings(value)
            elif key.rsplit(".", 1)[-1] in _PIPELINE_SETTINGS:
                self.no_pipeline(value, f"index setting '{key}'")

    def index_body(self, body: Any) -> None:
        """Check what a body that creates an index adds: its aliases and settings."""
        if not isinstance(body, dict):
            raise UnreadableBody("it is not an object")
        aliases = body.get("aliases") or {}
        if not isinstance(aliases, dict):
            raise UnreadableBody("'aliases' is not an object")
        for alias in aliases:
            self.target(alias, "an alias")
        if not {"settings", "mappings", "aliases"} & set(body):
            self.settings(body)  # a body of bare settings
        self.settings(body.get("settings"))

    # -- APIs -------------------------------------------------------------------------------

    def run(self) -> Callable[[], None] | None:
        request = self.request
        path = request.path
        segments = request.segments
        if (
            not path.startswith("/")
            or "//" in path
            or "#" in request.target
            or any(part in (".", "..") or "\\" in part for part in segments)
        ):
            self.refuse(f"its path '{path}' is not a plain path")
        query = request.query
        if "source" in query:
            self.refuse("it carries its body in the 'source' query parameter")
        for value in query.get("pipeline", ()):
            self.no_pipeline(value, "the 'pipeline' parameter")
        write = WRITES.get(request.endpoint or "")
        if write is None:
            self.unknown()
        parts = request.parts
        for position, name in enumerate(write.names):
            role = write.roles[position] if position < len(write.roles) else ""
            if name in parts:
                self.target(parts[name], role)
            elif position == 0 and write.everywhere_without:
                self.refuse_everything(f"'{request.endpoint}' without an index")
        body = write.body
        if body == "index" and request.has_body():
            self.index_body(_json(request))
        elif body == "settings":
            self.settings(_json(request))
        elif body == "bulk":
            self.bulk(default_index=parts.get("index"))
        elif body == "aliases":
            self.alias_actions(_json(request))
        elif body == "reindex":
            self.reindex(_json(request))
        elif body == "data_streams":
            self.data_stream_actions(_json(request))
        elif body == "create_from":
            found = _json(request) if request.has_body() else {}
            self.settings(found.get("settings_override") if isinstance(found, dict) else None)
        elif body == "template":
            legacy = request.endpoint in ("indices.put_template", "indices.delete_template")
            return self.template("_template" if legacy else "_index_template", parts["name"])
        return None

    def unknown(self) -> NoReturn:
        """Refuse a request of an API the guard does not know (or of no known API)."""
        request = self.request
        segments = request.segments
        if request.raw and segments and (segments[0] == "_all" or segments[0][:1] != "_"):
            # A raw request under an index: say first if that index is not a test index.
            self.target(segments[0])
        if request.endpoint is None:
            self.refuse(
                "it is a raw request of a shape the guard does not know to change only test "
                "indices; call the client's API method for it instead"
            )
        if "index" in request.parts:
            self.target(request.parts["index"])
            self.refuse(
                f"'{request.endpoint}' is not an API the guard knows to change only the "
                f"indices it names"
            )
        live = self.guard.live_names
        which = _live(live) if live else "live indices"
        self.refuse(
            f"'{request.endpoint}' is a cluster-level API that the guard cannot prove "
            f"harmless to {which}"
        )

    # -- bodies -----------------------------------------------------------------------------

    def bulk(self, default_index: str | None) -> None:
        expect_source = False
        for number, line in enumerate(_lines(self.request), 1):
            if expect_source:  # a document: never an action, whatever it looks like
                expect_source = False
                continue
            if not line.strip():
                continue
            action = _loads(line)
            if not (isinstance(action, dict) and len(action) == 1):
                raise UnreadableBody(f"bulk line {number} is not an action")
            ((kind, meta),) = action.items()
            if kind not in _BULK_ACTIONS or not isinstance(meta, dict):
                raise UnreadableBody(f"bulk line {number} is not an action")
            expect_source = _BULK_ACTIONS[kind]
            index = meta.get("_index", default_index)
            if index is None:
                self.refuse(f"bulk line {number} names no index and the path names none")
            self.target(index, f"bulk line {number}")
            self.no_pipeline(meta.get("pipeline"), f"bulk line {number}")

    def alias_actions(self, body: Any) -> None:
        actions = body.get("actions") if isinstance(body, dict) else None
        if not isinstance(actions, list):
            raise UnreadableBody("it has no list of 'actions'")
        for action in actions:
            if not (isinstance(action, dict) and len(action) == 1):
                raise UnreadableBody(f"the alias action {action!r} is not one action")
            ((kind, spec),) = action.items()
            if kind not in ("add", "remove", "remove_index") or not isinstance(spec, dict):
                raise UnreadableBody(f"the alias action {action!r} is not one the guard knows")
            for field, role in (("index", "an index"), ("indices", "an index")):
                if field in spec:
                    self.targets(spec[field], role)
            for field in ("alias", "aliases"):
                if field in spec:
                    self.targets(spec[field], "an alias")

    def reindex(self, body: Any) -> None:
        dest = body.get("dest") if isinstance(body, dict) else None
        if not isinstance(dest, dict):
            raise UnreadableBody("it has no 'dest'")
        self.target(dest.get("index"), "the reindex destination")
        self.no_pipeline(dest.get("pipeline"), "the reindex destination")
        if body.get("script") is not None:
            self.refuse("a reindex script can send documents to any index (ctx._index)")

    def data_stream_actions(self, body: Any) -> None:
        actions = body.get("actions") if isinstance(body, dict) else None
        if not isinstance(actions, list):
            raise UnreadableBody("it has no list of 'actions'")
        for action in actions:
            if not isinstance(action, dict):
                raise UnreadableBody(f"the data stream action {action!r} is not an object")
            for spec in action.values():
                if not isinstance(spec, dict):
                    raise UnreadableBody(f"the data stream action {action!r} is not an object")
                self.target(spec.get("data_stream"), "a data stream")
                self.target(spec.get("index"), "a backing index")

    def template(self, kind: str, name: str) -> Callable[[], None] | None:
        """Allow an index template only when it can apply to test indices alone and cannot
        replace a template the tests did not create."""
        label = "index template" if kind == "_index_template" else "legacy index template"
        if self.request.method == "DELETE":
            for item in name.split(","):
                if not _created_template(kind, item):
                    self.refuse(
                        f"the {label} '{item}' was not created by these tests, and it can "
                        f"apply to live indices ({_live(self.guard.live_names)})"
                    )
            return None  # a deleted name stays allowed: only these tests could create it
        body = _json(self.request)
        if not isinstance(body, dict):
            raise UnreadableBody("it is not an object")
        patterns = body.get("index_patterns", body.get("template") if kind == "_template" else None)
        if not patterns:
            raise UnreadableBody("it has no 'index_patterns'")
        self.targets(patterns, "an index pattern")
        if body.get("composed_of"):
            self.refuse(
                f"the {label} '{name}' is composed of component templates, whose aliases and "
                f"settings the guard cannot see"
            )
        inner = body.get("template") if kind == "_index_template" else body
        if isinstance(inner, dict):
            self.index_body({key: inner[key] for key in ("aliases", "settings") if key in inner})
        creates = self.request.param("create") in ("true", "")
        if not creates and not _created_template(kind, name):
            self.refuse(
                f"it could replace the {label} '{name}', which these tests did not "
                f"create; pass create=true to make a new one"
            )
        return _remember_template(kind, name)
