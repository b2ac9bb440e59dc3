"""What a request to Elasticsearch is: the one place requests are classified.

Every API method of elasticsearch-py passes two things to ``perform_request`` besides the
HTTP request: ``endpoint_id``, the API's name (``"indices.create"``, ``"bulk"``), and
``path_parts``, the values it put in the path (``{"index": "shop"}``). The djangoes client
hands them to its transport (``api_call``), and :class:`ApiRequest` reads a request from
them: a *read* (any ``GET``/``HEAD``, or an API of ``READS``), a *search* (a read through the
search machinery, which sees only refreshed documents), or a write, with the index names it
targets in ``parts``. Nothing here depends on Elasticsearch's URL layout, so a new server
version needs no route table.

A raw ``client.perform_request()`` (or ``client.transport.perform_request()``) call carries
neither. For it, ``RAW_APIS`` recognises the few request shapes the project and its tests send
raw — document writes, bulk, alias actions, creating and deleting an index, the common reads —
and names their API; anything else stays unclassified (``endpoint`` is None), which the
live-write guard refuses.

The live-write guard (``djangoes.backends.guard``) and the test support's undo log
(``djangoes.test.undo``) both read this one answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import parse_qs, unquote

__all__ = ["READS", "READS_API_CALL", "SEARCHES", "ApiRequest", "api_call", "current_api_call"]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: APIs that search: they read through the search machinery (near real-time).
SEARCHES = _words(
    """
    search msearch count search_template msearch_template knn_search terms_enum search_mvt
    rank_eval open_point_in_time eql.search sql.query esql.query esql.async_query
    async_search.submit graph.explore rollup.rollup_search fleet.search fleet.msearch cat.count
    """
)

#: APIs that only read, whatever their HTTP method (``GET`` and ``HEAD`` always read).
READS = SEARCHES | _words(
    """
    get exists get_source exists_source mget mtermvectors termvectors explain field_caps
    scroll clear_scroll close_point_in_time search_shards render_search_template
    indices.refresh indices.analyze indices.validate_query indices.disk_usage
    indices.resolve_index indices.simulate_template indices.simulate_index_template
    eql.delete async_search.delete sql.translate sql.clear_cursor sql.delete_async
    esql.async_query_delete esql.async_query_stop ingest.simulate simulate.ingest
    scripts_painless_execute cluster.allocation_explain security.has_privileges
    """
)

# Raw requests: "METHODS path-shape": API. "{index}" is one segment naming indices (not
# beginning with "_"), "{id}" any one segment.
RAW_APIS: dict[str, str] = {
    "PUT POST {index}/_doc/{id}": "index",
    "POST {index}/_doc": "index",
    "PUT POST {index}/_create/{id}": "create",
    "POST {index}/_update/{id}": "update",
    "DELETE {index}/_doc/{id}": "delete",
    "PUT POST _bulk": "bulk",
    "PUT POST {index}/_bulk": "bulk",
    "POST _aliases": "indices.update_aliases",
    "PUT {index}": "indices.create",
    "DELETE {index}": "indices.delete",
    "POST _search": "search",
    "POST {index}/_search": "search",
    "POST _count": "count",
    "POST {index}/_count": "count",
    "POST _msearch": "msearch",
    "POST {index}/_msearch": "msearch",
    "POST _mget": "mget",
    "POST {index}/_mget": "mget",
    "POST _refresh": "indices.refresh",
    "POST {index}/_refresh": "indices.refresh",
}


def _raw_shapes() -> list[tuple[frozenset[str], tuple[str, ...], str]]:
    shapes = []
    for route, endpoint in RAW_APIS.items():
        *methods, path = route.split()
        shapes.append((frozenset(methods), tuple(path.split("/")), endpoint))
    return shapes


_RAW_SHAPES = _raw_shapes()

# The API being called in this context: (endpoint_id, path_parts), set by the client.
_api_call: ContextVar[tuple[str | None, Mapping[str, Any] | None]] = ContextVar(
    "djangoes_api_call", default=(None, None)
)


#: The attribute by which a transport says it reads ``current_api_call()`` (the test
#: transport does); the clients tell only such a transport which API is called.
READS_API_CALL = "reads_api_call"


@contextmanager
def api_call(endpoint_id: str | None, path_parts: Mapping[str, Any] | None) -> Iterator[None]:
    """Tell the transport which API method the request it is about to send comes from."""
    token = _api_call.set((endpoint_id, path_parts))
    try:
        yield
    finally:
        _api_call.reset(token)


def current_api_call() -> tuple[str | None, Mapping[str, Any] | None]:
    """Return the ``(endpoint_id, path_parts)`` of the API method being called, if any."""
    return _api_call.get()


@dataclass
class ApiRequest:
    """One HTTP request about to be sent, and what it is.

    ``endpoint`` is the API's name (None: a raw request of no known shape), ``parts`` the
    values of its path by name, ``raw`` whether it was read from the path rather than told by
    the client. ``body_bytes`` returns the body exactly as it will be sent (None: no body);
    it is called at most once, when the body is needed.
    """

    method: str
    target: str
    endpoint: str | None
    parts: dict[str, str]
    raw: bool
    body_bytes: Callable[[], bytes | None] = field(repr=False, default=lambda: None)
    _body: bytes | None = field(default=None, init=False, repr=False)
    _body_read: bool = field(default=False, init=False, repr=False)

    @classmethod
    def of(
        cls,
        method: str,
        target: str,
        body_bytes: Callable[[], bytes | None] = lambda: None,
        endpoint_id: str | None = None,
        path_parts: Mapping[str, Any] | None = None,
    ) -> ApiRequest:
        """Classify a request: from the API the client said it calls, or from its path."""
        if endpoint_id is None and path_parts is None:
            endpoint_id, path_parts = current_api_call()
        segments = _segments(target)
        if endpoint_id is not None and path_parts is not None:
            parts = {name: unquote(str(value)) for name, value in path_parts.items()}
            # What the client put in the path is what it names (a name passed as a list
            # was joined with commas).
            if all(value in segments for value in parts.values()):
                return cls(method, target, endpoint_id, parts, False, body_bytes)
        endpoint, parts = _raw_api(method, segments)
        return cls(method, target, endpoint, parts, True, body_bytes)

    # -- what it is --------------------------------------------------------------------------

    @property
    def path(self) -> str:
        return self.target.partition("?")[0]

    @cached_property
    def segments(self) -> list[str]:
        """The path's segments, percent-decoded."""
        return _segments(self.target)

    @cached_property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(self.target.partition("?")[2], keep_blank_values=True)

    def param(self, name: str) -> str | None:
        """Return the last value of query parameter ``name`` (None when absent)."""
        values = self.query.get(name)
        return values[-1] if values else None

    @property
    def is_read(self) -> bool:
        """Whether it only reads: ``GET``/``HEAD``, or an API that reads."""
        return self.method in ("GET", "HEAD") or self.endpoint in READS

    @property
    def is_search(self) -> bool:
        """Whether it reads through the search machinery (it sees refreshed documents)."""
        return self.endpoint in SEARCHES

    @property
    def shown(self) -> str:
        """The request for messages: "'indices.create' (PUT /x)", or "PUT /x" when raw."""
        shown = f"{self.method} /{'/'.join(self.segments)}"
        return shown if self.raw or self.endpoint is None else f"'{self.endpoint}' ({shown})"

    # -- its body ----------------------------------------------------------------------------

    def has_body(self) -> bool:
        if not self._body_read:
            self._body, self._body_read = self.body_bytes(), True
        return self._body is not None

    def body(self) -> bytes | None:
        """Return the body as it will be sent (None: no body)."""
        return self._body if self.has_body() else None


def _segments(target: str) -> list[str]:
    # Split by hand: urlsplit() would read "//name/..." as a host name.
    path = target.partition("?")[0]
    return [unquote(segment) for segment in path.split("/") if segment]


def _raw_api(method: str, segments: list[str]) -> tuple[str | None, dict[str, str]]:
    """Return the API a raw request of ``segments`` calls and its path parts ((None, {}))."""
    for methods, shape, endpoint in _RAW_SHAPES:
        if method not in methods or len(shape) != len(segments):
            continue
        parts: dict[str, str] = {}
        for want, got in zip(shape, segments, strict=True):
            if want == "{index}" and got and (not got.startswith("_") or got == "_all"):
                parts["index"] = got
            elif want == "{id}":
                parts["id"] = got
            elif want != got:
                break
        else:
            return endpoint, parts
    return None, {}
