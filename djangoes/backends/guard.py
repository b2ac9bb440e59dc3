"""Refuse, while test settings are in force, every request that could change a non-test index.

The guard fails closed. It reads the HTTP request the client is about to send (method, path,
query and the body exactly as it will be serialized) and lets it through only when

- it is a read: any ``GET`` or ``HEAD``, or one of the ``POST``/``DELETE`` routes listed in
  ``READ_ROUTES`` (search, count, mget, msearch, field_caps, refresh, closing a scroll, ...); or
- it is a write whose every target is provably a test index: a test name or alias of the
  connection, a name that begins with one (a rebuild's concrete indices; the workers' indices
  seen from the main process of a parallel run) and with no longer live name, or a wildcard
  pattern that can only match such names.

Anything else is refused before it is sent: writes naming a live or unknown index, ``_all``,
wildcards that can reach a live name, date math resolved to a live name, cluster-wide writes
(cluster settings, component templates, pipelines, snapshots, security, ...), routes the guard
does not know, and bodies it cannot read. Names live at any time while test settings were in
force stay protected for the rest of the process (see ``remember_live_names``).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NoReturn
from urllib.parse import parse_qs, unquote

from ..exceptions import LiveIndexWriteError

__all__ = [
    "READ_ROUTES",
    "UnreadableBody",
    "WriteGuard",
    "protected_names",
    "remember_live_names",
    "remember_test_names",
]

# Routes that only read even though their method is not GET or HEAD. "{}" is any one segment.
READ_ROUTES = frozenset(
    """
    POST /_search
    POST /{}/_search
    POST /_search/scroll
    POST /_search/scroll/{}
    DELETE /_search/scroll
    DELETE /_search/scroll/{}
    POST /_msearch
    POST /{}/_msearch
    POST /_search/template
    POST /{}/_search/template
    POST /_msearch/template
    POST /{}/_msearch/template
    POST /_render/template
    POST /_render/template/{}
    POST /_count
    POST /{}/_count
    POST /_cat/count
    POST /_cat/count/{}
    POST /_mget
    POST /{}/_mget
    POST /_field_caps
    POST /{}/_field_caps
    POST /_analyze
    POST /{}/_analyze
    POST /_validate/query
    POST /{}/_validate/query
    POST /{}/_explain/{}
    POST /{}/_termvectors
    POST /{}/_termvectors/{}
    POST /_mtermvectors
    POST /{}/_mtermvectors
    POST /{}/_pit
    DELETE /_pit
    POST /_rank_eval
    POST /{}/_rank_eval
    POST /{}/_terms_enum
    POST /_search_shards
    POST /{}/_search_shards
    POST /{}/_knn_search
    POST /{}/_mvt/{}/{}/{}/{}
    POST /_refresh
    POST /{}/_refresh
    POST /{}/_disk_usage
    POST /_resolve/index/{}
    POST /{}/_eql/search
    DELETE /_eql/search/{}
    POST /{}/_graph/explore
    POST /{}/_rollup_search
    POST /_fleet/_fleet_msearch
    POST /{}/_fleet/_fleet_msearch
    POST /{}/_fleet/_fleet_search
    POST /_async_search
    POST /{}/_async_search
    DELETE /_async_search/{}
    POST /_sql
    POST /_sql/translate
    POST /_sql/close
    DELETE /_sql/async/delete/{}
    POST /_query
    POST /_query/async
    DELETE /_query/async/{}
    POST /_query/async/{}/stop
    POST /_ingest/pipeline/_simulate
    POST /_ingest/pipeline/{}/_simulate
    POST /_ingest/_simulate
    POST /_ingest/{}/_simulate
    POST /_index_template/_simulate
    POST /_index_template/_simulate/{}
    POST /_index_template/_simulate_index/{}
    POST /_scripts/painless/_execute
    POST /_cluster/allocation/explain
    POST /_security/user/_has_privileges
    POST /_security/user/{}/_has_privileges
    """.strip().split("\n    ")
)


def _route_shapes(routes: Iterable[str]) -> dict[tuple[str, int], list[tuple[str, ...]]]:
    shapes: dict[tuple[str, int], list[tuple[str, ...]]] = {}
    for route in routes:
        method, path = route.split()
        parts = tuple(path.strip("/").split("/"))
        shapes.setdefault((method, len(parts)), []).append(parts)
    return shapes


_READ_SHAPES = _route_shapes(READ_ROUTES)

# Write routes under an index expression, "/{index}/<keyword>/...": the numbers of segments
# each takes, and the position of a segment that names another index or alias, if any.
_INDEX_WRITES: dict[str | None, tuple[tuple[int, ...], int | None]] = {
    None: ((1,), None),  # PUT /{index} creates, DELETE /{index} deletes
    "_doc": ((2, 3), None),
    "_create": ((3,), None),
    "_update": ((3,), None),
    "_bulk": ((2,), None),
    "_delete_by_query": ((2,), None),
    "_update_by_query": ((2,), None),
    "_mapping": ((2,), None),
    "_mappings": ((2,), None),
    "_settings": ((2,), None),
    "_alias": ((3,), 2),
    "_aliases": ((3,), 2),
    "_open": ((2,), None),
    "_close": ((2,), None),
    "_block": ((3,), None),
    "_flush": ((2,), None),
    "_forcemerge": ((2,), None),
    "_cache": ((3,), None),
    "_clone": ((3,), 2),
    "_split": ((3,), 2),
    "_shrink": ((3,), 2),
    "_rollover": ((2, 3), 2),
    "_downsample": ((3,), 2),
    "_ilm": ((3,), None),
    "_ccr": ((3,), None),
    "_reload_search_analyzers": ((2,), None),
    "_searchable_snapshots": ((4,), None),
    "_freeze": ((2,), None),
    "_unfreeze": ((2,), None),
}
# Bodies that create an index (or may, like a rollover): their aliases and settings count.
_CREATING = {None, "_clone", "_split", "_shrink", "_rollover"}
# Index operations that, without an index in the path, act on every index.
_ALL_INDICES = {
    "_all", "_settings", "_mapping", "_mappings", "_flush", "_forcemerge", "_cache", "_open",
    "_close", "_block", "_delete_by_query", "_update_by_query",
}  # fmt: skip
_BULK_ACTIONS = {"index": True, "create": True, "update": True, "delete": False}  # has source?
_DATA_STREAM_PARTS = ("_lifecycle", "_options", "_settings", "_mappings")
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


class _Request:
    def __init__(self, method: str, target: str, body_bytes: Callable[[], bytes | None]) -> None:
        self.method = method
        # Split by hand: urlsplit() would read "//name/..." as a host name.
        self.target = target
        path, _, query = target.partition("?")
        self.raw_path = path
        self.segments = [unquote(segment) for segment in path.split("/") if segment]
        self.query = parse_qs(query, keep_blank_values=True)
        self._body_bytes = body_bytes
        self._body: bytes | None = None
        self._body_read = False

    def is_read(self) -> bool:
        if self.method in ("GET", "HEAD"):
            return True
        for shape in _READ_SHAPES.get((self.method, len(self.segments)), ()):
            if all(want in ("{}", got) for want, got in zip(shape, self.segments, strict=True)):
                return True
        return False

    def has_body(self) -> bool:
        if not self._body_read:
            self._body, self._body_read = self._body_bytes(), True
        return self._body is not None

    def body(self) -> bytes:
        data = self._body if self.has_body() else None
        if data is None:
            raise UnreadableBody("it has no body")
        return data

    def json(self) -> Any:
        return _loads(self.body())

    def lines(self) -> list[bytes]:
        """Return the body's lines as Elasticsearch splits a bulk body: at each ``\\n``."""
        data = self.body()
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

    def check(
        self,
        method: str,
        target: str,
        body_bytes: Callable[[], bytes | None],
        endpoint_id: str | None = None,
    ) -> Callable[[], None] | None:
        """Raise ``LiveIndexWriteError`` unless the request is a read or writes only to test
        indices. ``body_bytes`` returns the body as it will be sent (called only when needed).

        Return a callable to run once the request succeeded (it records an index template the
        tests created, so that they may delete it), or None.
        """
        request = _Request(method, target, body_bytes)
        if request.is_read():
            return None
        check = _Check(self, request, endpoint_id)
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

    def __init__(self, guard: WriteGuard, request: _Request, endpoint_id: str | None) -> None:
        self.guard = guard
        self.request = request
        self.endpoint_id = endpoint_id
        self._test_targets: set[str] = set()  # expressions already found to be test indices

    # -- outcome ----------------------------------------------------------------------------

    def refuse(self, reason: str) -> NoReturn:
        request = self.request
        shown = f"{request.method} /{'/'.join(request.segments)}"
        api = f"'{self.endpoint_id}' ({shown})" if self.endpoint_id else shown
        raise LiveIndexWriteError(
            f"Refused {api} while djangoes test settings are in force: {reason}. {_FIX}"
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

    # -- routes -----------------------------------------------------------------------------

    def run(self) -> Callable[[], None] | None:
        request = self.request
        segments = request.segments
        path = request.raw_path
        if (
            not path.startswith("/")
            or "//" in path
            or "#" in request.target
            or any(part in (".", "..") or "\\" in part for part in segments)
        ):
            self.refuse(f"its path '{path}' is not a plain path")
        if "source" in request.query:
            self.refuse("it carries its body in the 'source' query parameter")
        for value in request.query.get("pipeline", ()):
            self.no_pipeline(value, "the 'pipeline' parameter")
        if not segments:
            self.refuse("it is not an API the guard knows to change only test indices")
        first = segments[0]
        if first == "_all" or not first.startswith("_"):
            self.index_route(segments)
            return None
        return self.cluster_route(first, segments)

    def index_route(self, segments: list[str]) -> None:
        keyword = segments[1] if len(segments) > 1 else None
        lengths, target_at = _INDEX_WRITES.get(keyword, ((), None))
        self.target(segments[0])
        if len(segments) not in lengths:
            shape = "/".join(["{index}", *segments[1:2], *["..."] * (len(segments) > 2)])
            self.refuse(
                f"'{self.request.method} /{shape}' is not an API the guard knows to change "
                f"only the indices it names"
            )
        if target_at is not None and len(segments) > target_at:
            self.target(segments[target_at], "the target")
        if keyword in _CREATING and self.request.method in ("PUT", "POST"):
            if self.request.has_body():
                self.index_body(self.request.json())
        elif keyword == "_settings":
            self.settings(self.request.json())
        elif keyword == "_bulk":
            self.bulk(default_index=segments[0])

    def cluster_route(self, first: str, segments: list[str]) -> Callable[[], None] | None:
        count = len(segments)
        second = segments[1] if count > 1 else ""
        if first == "_bulk" and count == 1:
            self.bulk(default_index=None)
        elif first == "_aliases" and count == 1:
            self.alias_actions(self.request.json())
        elif first == "_reindex" and count == 1:
            self.reindex(self.request.json())
        elif first in ("_index_template", "_template") and count == 2 and second[:1] != "_":
            return self.template(first, second)
        elif first == "_data_stream" and count in (2, 3) and second[:1] != "_":
            if count == 3 and segments[2] not in _DATA_STREAM_PARTS:
                self.refuse_cluster()
            self.target(second, "a data stream")
        elif first == "_data_stream" and count == 3 and second in ("_migrate", "_promote"):
            self.target(segments[2], "a data stream")
        elif first == "_data_stream" and count == 2 and second == "_modify":
            self.data_stream_actions(self.request.json())
        elif first == "_create_from" and count == 3:
            self.target(segments[2], "the new index")
            body = self.request.json() if self.request.has_body() else {}
            self.settings(body.get("settings_override") if isinstance(body, dict) else None)
        elif first == "_ilm" and count == 3 and second == "move":
            self.target(segments[2])
        elif first in _ALL_INDICES:
            self.refuse_everything(f"'{self.request.method} /{first}' (no index)")
        else:
            self.refuse_cluster()
        return None

    def refuse_cluster(self) -> NoReturn:
        live = self.guard.live_names
        which = _live(live) if live else "live indices"
        self.refuse(
            f"'/{self.request.segments[0]}' is a cluster-level API that the guard cannot prove "
            f"harmless to {which}"
        )

    # -- bodies -----------------------------------------------------------------------------

    def bulk(self, default_index: str | None) -> None:
        expect_source = False
        for number, line in enumerate(self.request.lines(), 1):
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
        body = self.request.json()
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
        creates = self.request.query.get("create", ["false"])[-1] in ("true", "")
        if not creates and not _created_template(kind, name):
            self.refuse(
                f"it could replace the {label} '{name}', which these tests did not "
                f"create; pass create=true to make a new one"
            )
        return _remember_template(kind, name)
