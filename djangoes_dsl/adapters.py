"""What djangoes_dsl needs from elasticsearch.dsl beyond its public API.

elasticsearch.dsl keeps a Document's index in the class attribute ``_index`` (an ``Index``
with a fixed name and connection alias) and asks the class, through the hooks
``_default_index`` and ``_matches``, which index to read and which hits are its own. djangoes
owns index identity in ``djangoes.connections`` (live or test names, the server that serves
a key), so a Document's ``_index`` is resolved there when it is used, and the hooks answer
from it. elasticsearch.dsl also has no public accessor for a Document's mapped field names,
a Search's document classes, connection and indices, a Response's search, or a Search's
response class in its constructor; and a field's per-value deserialization (``_deserialize``,
which ``Field.deserialize`` calls for a value and for each item of a list) is the hook the
fast ``Date`` field overrides; ``from_es`` deserializes a field only when its ``_coerce``
is on, and builds a document as ``ObjectBase.__init__`` does (its ``meta`` a ``HitMeta`` of
the hit, its values in ``_d_``, the class's ``_defaults`` for the missing ones). All of
these are here, and ``tests/test_adapters.py`` checks each against the installed
elasticsearch.dsl.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo
from typing import Any

from dateutil import tz
from elasticsearch import dsl
from elasticsearch.dsl import field
from elasticsearch.dsl.utils import HitMeta, ObjectBase

#: The attribute elasticsearch.dsl reads a Document's index from.
INDEX_ATTRIBUTE = "_index"


class ResolvedIndex:
    """The ``_index`` of a Document class: asks ``resolve(cls)`` on every access.

    ``resolve`` returns the Index in force, or None when the class is not bound to a
    configured index; then the class's own elasticsearch.dsl Index (from its ``class
    Index``, or unnamed) answers.
    """

    def __init__(self, resolve: Callable[[type], dsl.Index | None], own: Any) -> None:
        self.resolve = resolve
        self.own = own

    def __get__(self, instance: Any, owner: type) -> dsl.Index:
        return self.resolve(owner) or self.own


def install_index_resolver(document: type, resolve: Callable[[type], dsl.Index | None]) -> None:
    """Make ``document._index`` come from ``resolve`` (see ResolvedIndex)."""
    own = document.__dict__.get(INDEX_ATTRIBUTE)
    if isinstance(own, ResolvedIndex):
        own = own.own
    type.__setattr__(document, INDEX_ATTRIBUTE, ResolvedIndex(resolve, own))


def keep_own_index(document: type, index: dsl.Index) -> None:
    """Take ``index`` as the class's own Index (``Index.document()`` assigns one)."""
    resolver = document.__dict__.get(INDEX_ATTRIBUTE)
    if isinstance(resolver, ResolvedIndex):
        resolver.own = index
    else:
        type.__setattr__(document, INDEX_ATTRIBUTE, index)


def unnamed_index_options() -> type:
    """Return ``class Index`` options that give a Document an unnamed Index of its own.

    Without them elasticsearch.dsl reuses the Index of a base Document (and adds the
    subclass's mapping to it).
    """

    class Index:
        name = None

    return Index


def index_name(index: dsl.Index) -> str | None:
    """Return the name of an elasticsearch.dsl Index."""
    return index._name  # type: ignore[no-any-return]


def mapping_field_names(document: type) -> list[str]:
    """Return the names of the top-level fields of a Document's mapping, in order."""
    return list(document._doc_type.mapping)  # type: ignore[attr-defined]


def mapping_fields(document: type) -> dict[str, Any]:
    """Return ``{name: field}`` for the top-level fields of a Document's mapping, in order."""
    mapping = document._doc_type.mapping  # type: ignore[attr-defined]
    return {name: mapping[name] for name in mapping}


def inner_document(field: Any) -> Any:
    """Return the InnerDoc class of an ``Object`` (or ``Nested``) field."""
    return getattr(field, "_doc_class", None)


def object_properties(field: Any) -> dict[str, Any]:
    """Return ``{name: field}`` for the properties of an ``Object`` (or ``Nested``) field,
    whether given as ``properties=`` or as a ``doc_class``."""
    inner = inner_document(field)
    if inner is None:
        return {}
    return mapping_fields(inner)


def coerced_fields(document: type) -> dict[str, Any]:
    """Return ``{name: field}`` for the top-level fields of a Document's mapping, the field
    None when elasticsearch.dsl keeps its values as they come (``_coerce`` off)."""
    mapping = document._doc_type.mapping  # type: ignore[attr-defined]
    return {  # names starting with "_" may be meta fields: left to elasticsearch.dsl
        name: field if field._coerce else None
        for name in mapping
        if not name.startswith("_") and name not in ("self", "meta")
        for field in (mapping[name],)
    }


def value_reader(mapped: Any) -> Callable[[Any], Any]:
    """Return ``read(value)``: ``mapped.deserialize(value)`` for a value of a hit's
    ``_source`` (not None), calling the field's ``_deserialize`` directly for a value that is
    not a list, as ``Field.deserialize`` does."""
    if type(mapped).deserialize is not field.Field.deserialize:
        return mapped.deserialize  # type: ignore[no-any-return]
    one, whole = mapped._deserialize, mapped.deserialize

    def read(value: Any) -> Any:
        return whole(value) if type(value) is list else one(value)

    return read


def document_from_hit(document: type, hit: Any, values: dict[str, Any]) -> Any:
    """Return the ``document`` of ``hit`` holding ``values`` (its deserialized ``_source``),
    as elasticsearch.dsl's ``from_es`` builds it; None when the class has its own
    ``__init__``."""
    if document.__init__ is not ObjectBase.__init__:  # type: ignore[misc]
        return None
    built: Any = object.__new__(document)
    object.__setattr__(built, "meta", HitMeta(hit))
    defaults = document._defaults  # type: ignore[attr-defined]
    if defaults:  # first the defaults, then the values (elasticsearch.dsl's order)
        ordered = {}
        for name, value in defaults.items():
            ordered[name] = (
                values[name] if name in values else value() if callable(value) else value
            )
        values = ordered | values
    object.__setattr__(built, "_d_", values)
    return built


def search_documents(search: Any) -> list[Any]:
    """Return the Document classes (or names) a Search deserializes hits into."""
    return list(getattr(search, "_doc_type", ()))


def search_using(search: Any) -> Any:
    """Return the connection alias (or client) a Search is sent with."""
    return search._using


def search_indices(search: Any) -> list[str] | None:
    """Return the indices a Search is sent to (None: every index)."""
    indices = search._index
    return list(indices) if indices is not None else None


def response_search(response: Any) -> Any:
    """Return the Search a Response answered."""
    return response._search


def use_response_class(search: Any, response_class: type) -> None:
    """Make ``search`` (in place, in its constructor) answer with ``response_class``."""
    search._response_class = response_class


class DocumentHooks:
    """The hooks elasticsearch.dsl calls on a Document class, answered by djangoes.

    ``_default_index``: reads (search, get, mget, exists) go to the read name (the first
    alias, else NAME). ``_matches``: a hit is this Document's when it comes from its index,
    also under the concrete name ``<NAME>-<timestamp>`` a zero-downtime rebuild gives it.
    """

    @classmethod
    def _default_index(cls, index: str | None = None) -> str:
        return index or cls.get_read_index()  # type: ignore[attr-defined,no-any-return]

    @classmethod
    def _matches(cls, hit: dict[str, Any]) -> bool:
        return cls.owns_hit(hit)  # type: ignore[attr-defined,no-any-return]


class ClientProxy:
    """What elasticsearch.dsl's connections registry holds for a djangoes alias.

    Every attribute comes from ``djangoes.connections[alias].client`` at the moment it is
    used, so the registry follows forks, ``override_settings`` and the test switch without
    being told. Private attributes are not passed through: elasticsearch.dsl stamps its own
    user-agent on a registered client that exposes its ``_headers``, and the client keeps
    its own identity (``elasticsearch-py/<version>``).
    """

    __slots__ = ("alias", "get_client")

    def __init__(self, alias: str, get_client: Callable[[str], Any]) -> None:
        object.__setattr__(self, "alias", alias)
        object.__setattr__(self, "get_client", get_client)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.get_client(self.alias), name)

    def __repr__(self) -> str:
        return f"<ClientProxy of connection {self.alias!r}>"


#: The ISO 8601 shapes Elasticsearch returns for dates (``strict_date_optional_time``):
#: ``datetime.fromisoformat`` reads them as ``dateutil`` does, about fifty times faster.
_ISO_8601 = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})?)?"
)
_OFFSETS: dict[timedelta, tzinfo] = {}
_LOCAL_ZONES: dict[tuple[str, ...], tzinfo] = {}


def _dateutil_zone(parsed: datetime, offset: timedelta) -> tzinfo:
    """Return the tzinfo ``dateutil.parser.parse`` gives ``parsed`` (UTC offset ``offset``)."""
    if offset:
        zone = _OFFSETS.get(offset)
        if zone is None:
            zone = _OFFSETS[offset] = tz.tzoffset(None, int(offset.total_seconds()))
        return zone
    # dateutil names a zero offset "UTC" and takes the local zone when that is its name
    # (Django sets TZ to TIME_ZONE), else its own UTC.
    names = time.tzname
    if "UTC" in names:
        local = _LOCAL_ZONES.get(names)
        if local is None:
            local = _LOCAL_ZONES[names] = tz.tzlocal()
        # A zone named UTC all year (names == ("UTC", "UTC")) is UTC on every date.
        if names == ("UTC", "UTC") or parsed.replace(tzinfo=local).tzname() == "UTC":
            return local
    return tz.UTC


class Date(field.Date):
    """elasticsearch.dsl's Date field, reading ISO 8601 strings with the standard library.

    The values are those of elasticsearch.dsl's own parsing (``dateutil``), time zone
    objects included; any other string, and epoch numbers, go to elasticsearch.dsl.
    """

    def _deserialize(self, data: Any) -> Any:
        if type(data) is str and _ISO_8601.fullmatch(data):
            try:
                parsed = datetime.fromisoformat(data)
            except ValueError:
                return super()._deserialize(data)  # elasticsearch.dsl's own error
            offset = parsed.utcoffset()
            if offset is not None:
                return self._finish(parsed.replace(tzinfo=_dateutil_zone(parsed, offset)))
            if self._default_timezone:
                parsed = parsed.replace(tzinfo=self._default_timezone)
            return self._finish(parsed)
        return super()._deserialize(data)

    def _finish(self, parsed: datetime) -> Any:
        # As elasticsearch.dsl: a string read under the format "yyyy-MM-dd" is a date.
        return parsed.date() if self._params.get("format") == "yyyy-MM-dd" else parsed


# -- faceted search (elasticsearch.dsl.faceted_search) ----------------------------------------
# A facet keeps its aggregation's parameters (``field``, intervals, ranges) in ``_params`` and
# a range facet its ranges by key in ``_ranges``; a FacetedSearch keeps the Search it built in
# ``_s``. Reading a filter value typed by a user needs the first two, paging the third.


def mapped_field(document: Any, path: str) -> Any:
    """Return the field that maps ``path`` (dotted for objects and multi-fields) in a
    Document's mapping, or None."""
    mapping = getattr(getattr(document, "_doc_type", None), "mapping", None)
    if mapping is None:
        return None
    try:
        return mapping.resolve_field(path)
    except (KeyError, AttributeError, TypeError):
        return None


def facet_params(facet: Any) -> dict[str, Any]:
    """Return the parameters of a facet's aggregation (``field``, ``calendar_interval``, ...)."""
    return dict(facet._params)


def range_facet_keys(facet: Any) -> list[Any]:
    """Return the keys of a RangeFacet's ranges, in order."""
    return list(facet._ranges)


def faceted_request(faceted: Any) -> Any:
    """Return the Search a FacetedSearch built (slices and ``params()`` included)."""
    return faceted._s


def nested_facet_inner(facet: Any) -> Any:
    """Return the facet a NestedFacet wraps."""
    return facet._inner


def mapped_field_is_multi(mapped: Any) -> bool:
    """Return whether a Document field holds a list (declared with ``multi=True``)."""
    return bool(getattr(mapped, "_multi", False))
