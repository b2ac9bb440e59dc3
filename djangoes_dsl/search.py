"""Search and Response that turn hits into model instances, in hit order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypedDict, Unpack

from django.db import models
from elasticsearch import dsl

from .adapters import (
    response_search,
    search_documents,
    search_indices,
    search_using,
    use_response_class,
)
from .autocomplete import autocomplete_query
from .embeddings import embedding_field, query_vector_steps
from .fusion import DEFAULT_RANK_CONSTANT, check_options, linear, rrf
from .steps import Steps, run_steps

#: Hits each ranking of a hybrid search brings to the fusion (Elasticsearch's RRF calls it
#: ``rank_window_size``); the fused results hold at most as many.
DEFAULT_RANK_WINDOW = 100
FUSION_MODES = ("rrf", "linear")


def _document_of(search: Any) -> Any:
    for doc_type in search_documents(search):
        if getattr(getattr(doc_type, "Django", None), "model", None) is not None:
            return doc_type
    raise TypeError(
        "to_queryset() needs a search made by a Document with Django.model, "
        "e.g. MyDocument.search()."
    )


class ValueByPk(models.Expression):
    """``CASE <primary key> WHEN <pk> THEN <value> ... END``: a value for each of some rows.

    One expression for all the rows (a ``Case`` of one ``When`` per row costs a filter's
    resolution per row); NULL for the other rows. ``output_field`` is a number field (its
    values are parameters, as ``Value`` compiles them).
    """

    def __init__(self, values: dict[Any, Any], output_field: models.Field) -> None:
        super().__init__(output_field=output_field)
        self.values = values
        self.column: Any = models.F("pk")
        # Django compares and hashes expressions while it compiles a query (several times
        # per query); its generic identity reads the constructor's arguments each time.
        self._key = (type(self), type(output_field), tuple(values.items()))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ValueByPk):
            return NotImplemented
        return self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def get_source_expressions(self) -> list[Any]:
        return [self.column]

    def set_source_expressions(self, exprs: Sequence[Any]) -> None:
        (self.column,) = exprs

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        column, params = compiler.compile(self.column)
        key = self.column.output_field.get_db_prep_value
        value_of = self.output_field.get_db_prep_value
        sql = [f"CASE {column}"]
        params = list(params)
        for pk, value in self.values.items():  # as Value(value, output_field) compiles
            if value is None:
                sql.append("WHEN %s THEN NULL")
                params.append(key(pk, connection))
            else:
                sql.append("WHEN %s THEN %s")
                params += [key(pk, connection), value_of(value, connection)]
        sql.append("END")
        sql_text = connection.ops.unification_cast_sql(self.output_field) % " ".join(sql)
        return sql_text, tuple(params)


class Response(dsl.Response):
    """A Response whose hits can be turned into model instances."""

    def _hits_by_pk(self, raw: bool = False) -> tuple[Any, dict[Any, Any]]:
        """Return the Document and ``{pk: hit}`` of its hits, in hit order.

        ``raw``: the hits as the node sent them (dicts), not deserialized into Documents.
        """
        document = _document_of(response_search(self))
        found: dict[Any, Any] = {}
        if raw:
            hits = [(hit, hit) for hit in self.to_dict()["hits"]["hits"]]
        else:
            hits = [({"_index": hit.meta.index, "_id": hit.meta.id}, hit) for hit in self.hits]
        pk_from_id = document._id_reader()
        for meta, hit in hits:
            if not document.owns_hit(meta):
                continue  # another Document's hit (a search over several kinds)
            pk = pk_from_id(meta["_id"])
            if pk is not None:
                found.setdefault(pk, hit)
        return document, found

    def to_queryset(self) -> models.QuerySet:
        """Return the hits' rows as a queryset in hit order; rows deleted since are skipped.

        Each instance carries ``search_rank`` (its position among the hits, from 0) and
        ``search_score`` (the hit's score; None when the search sorts by fields).
        """
        document, hits = self._hits_by_pk(raw=True)
        model = document.get_model()
        if not hits:
            return model._default_manager.none()  # type: ignore[no-any-return]
        rank = ValueByPk({pk: n for n, pk in enumerate(hits)}, models.IntegerField())
        score = ValueByPk({pk: hit.get("_score") for pk, hit in hits.items()}, models.FloatField())
        return (  # type: ignore[no-any-return]
            model._default_manager.filter(pk__in=list(hits))
            .annotate(search_rank=rank, search_score=score)
            .order_by("search_rank")
        )

    def instances(self, queryset: models.QuerySet | None = None) -> list[models.Model]:
        """Return the hits' rows as model instances in hit order, with their search data.

        Each instance carries ``search_score``, ``search_highlight`` (``{field: [fragments]}``,
        empty without highlighting) and ``search_hit`` (the hit itself). ``queryset`` (e.g.
        ``Book.objects.select_related("author")``) reads the rows; rows deleted since they
        were indexed are skipped. One query.
        """
        hits, rows = self._rows_of_hits(queryset)
        return _in_hit_order(hits, list(rows) if rows is not None else [])

    async def ainstances(self, queryset: models.QuerySet | None = None) -> list[models.Model]:
        """Return what ``instances()`` returns, the rows read with Django's async ORM."""
        hits, rows = self._rows_of_hits(queryset)
        return _in_hit_order(hits, [row async for row in rows] if rows is not None else [])

    def _rows_of_hits(
        self, queryset: models.QuerySet | None
    ) -> tuple[dict[Any, Any], models.QuerySet | None]:
        """Return ``{pk: hit}`` and the (lazy) queryset of their rows; None: no hits."""
        document, hits = self._hits_by_pk()
        if not hits:
            return hits, None
        if queryset is None:
            queryset = document.get_model()._default_manager.all()
        return hits, queryset.filter(pk__in=list(hits))


def _in_hit_order(hits: dict[Any, Any], rows: list[models.Model]) -> list[models.Model]:
    """Return ``rows`` in the order of ``hits`` (``{pk: hit}``), with their search data."""
    by_pk = {row.pk: row for row in rows}
    found = []
    for pk, hit in hits.items():
        row = by_pk.get(pk)
        if row is None:
            continue
        highlight = getattr(hit.meta, "highlight", None)
        row.search_score = hit.meta.score  # type: ignore[attr-defined]
        row.search_highlight = highlight.to_dict() if highlight is not None else {}  # type: ignore[attr-defined]
        row.search_hit = hit  # type: ignore[attr-defined]
        found.append(row)
    return found


class Autocomplete:
    """``autocomplete()``, for the sync and the async search alike."""

    def autocomplete(self, text: str, fields: list[str] | None = None) -> Any:
        """Return this search narrowed to hits that match ``text`` as typed so far, in the
        fields the Document marks (``Django.autocomplete``) or ``fields`` (see
        djangoes_dsl.autocomplete)."""
        return self.query(autocomplete_query(self, text, fields))  # type: ignore[attr-defined]


class SimilarOptions(TypedDict, total=False):
    """The keyword arguments of ``similar_to()`` (sync) and ``asimilar_to()`` (async)."""

    k: int
    num_candidates: int | None
    field: str | None


class HybridOptions(TypedDict, total=False):
    """The keyword arguments of ``hybrid()`` (sync) and ``ahybrid()`` (async)."""

    fields: list[str] | None
    k: int | None
    num_candidates: int | None
    field: str | None
    mode: str
    rank_constant: int
    rank_window_size: int
    weights: tuple[float, float] | None
    server_side: bool


class VectorSearch:
    """How ``similar_to()`` and ``hybrid()`` build their searches, for the sync and the async
    search alike: as steps (djangoes_dsl.steps) whose only requests compute the query vector,
    sent by the sync side with ``run_steps`` and by the async one with ``arun_steps``."""

    #: The search class of a hybrid search's fused result (HybridSearch, AsyncHybridSearch).
    fused_class: Any

    def _similar_steps(
        self: Any,
        query: Any,
        *,
        k: int = 10,
        num_candidates: int | None = None,
        field: str | None = None,
    ) -> Steps:
        document = _document_of(self)
        name, _ = embedding_field(document, field)
        vector, leave_out = yield from query_vector_steps(document, name, query)
        return self._nearest(name, vector, k, num_candidates, leave_out)

    def _hybrid_steps(
        self: Any,
        text: str,
        *,
        fields: list[str] | None = None,
        k: int | None = None,
        num_candidates: int | None = None,
        field: str | None = None,
        mode: str = "rrf",
        rank_constant: int = DEFAULT_RANK_CONSTANT,
        rank_window_size: int = DEFAULT_RANK_WINDOW,
        weights: tuple[float, float] | None = None,
        server_side: bool = False,
    ) -> Steps:
        if mode not in FUSION_MODES:
            raise ValueError(f"mode={mode!r} is not a fusion mode: use one of {FUSION_MODES}.")
        if rank_window_size < 1:
            raise ValueError(f"rank_window_size={rank_window_size!r} must be 1 or more.")
        check_options(rank_constant, weights, 2)
        if server_side and (mode != "rrf" or weights is not None):
            raise ValueError(
                "server_side=True uses Elasticsearch's rrf retriever: mode='rrf', no weights."
            )
        document = _document_of(self)
        name, embedding = embedding_field(document, field)
        searched = list(fields or embedding._djangoes_source)
        lexical = self.query("multi_match", query=text, fields=searched)
        vector, _ = yield from query_vector_steps(document, name, text)
        nearest = self._nearest(name, vector, k or rank_window_size, num_candidates)
        if server_side:
            return self._rrf_retriever(lexical, nearest, rank_constant, rank_window_size)
        fused = self.fused_class(
            using=search_using(self), index=search_indices(self), doc_type=search_documents(self)
        )
        fused._djangoes_hybrid = {
            "rankings": (lexical, nearest),
            "mode": mode,
            "rank_constant": rank_constant,
            "window": rank_window_size,
            "weights": weights,
        }
        return fused

    def _without_query(self: Any) -> tuple[Any, dict[str, Any] | None]:
        """Return this search without its query (a new one), and the query."""
        body = self.to_dict()
        query = body.pop("query", None)
        fresh = type(self)(
            using=search_using(self), index=search_indices(self), doc_type=search_documents(self)
        )
        fresh.update_from_dict(body)
        return fresh, query

    def _nearest(
        self,
        name: str,
        vector: list[float],
        k: int,
        num_candidates: int | None,
        leave_out: str | None = None,
    ) -> Any:
        if k < 1:
            raise ValueError(f"k={k!r} must be 1 or more.")
        candidates = num_candidates if num_candidates is not None else min(max(100, 2 * k), 10_000)
        if candidates < k:
            raise ValueError(f"num_candidates={candidates!r} must be at least k ({k}).")
        fresh, knn_filter = self._filter_of(leave_out)
        if "size" not in fresh.to_dict():
            fresh = fresh.extra(size=k)
        return fresh.knn(
            name,
            k,
            candidates,
            query_vector=vector,
            filter=dsl.Q(knn_filter) if knn_filter is not None else None,
        )

    def _filter_of(self, leave_out: str | None = None) -> tuple[Any, dict[str, Any] | None]:
        """Return this search without its query, and the query (and ``leave_out``) as one
        filter for a kNN."""
        fresh, query = self._without_query()
        clauses: list[dict[str, Any]] = [query] if query is not None else []
        if leave_out is not None:
            clauses.append({"bool": {"must_not": [{"ids": {"values": [leave_out]}}]}})
        return fresh, ({"bool": {"filter": clauses}} if clauses else None)

    def _rrf_retriever(self, lexical: Any, nearest: Any, rank_constant: int, window: int) -> Any:
        fresh, _ = self._without_query()
        knn = dict(nearest.to_dict()["knn"])
        retriever = {
            "rrf": {
                "retrievers": [
                    {"standard": {"query": lexical.to_dict()["query"]}},
                    {"knn": knn},
                ],
                "rank_constant": rank_constant,
                "rank_window_size": window,
            }
        }
        return fresh.extra(retriever=retriever)


class Search(VectorSearch, Autocomplete, dsl.Search):
    """A Search that returns :class:`Response`, runs as a queryset and pages with Django.

    ``len(search)`` is the number of hits the search returns (its slice), from the same
    request as iterating it: ``django.core.paginator.Paginator(search, 20)`` works, its
    ``count`` from one ``_count`` request and each page from one search request (see also
    :class:`djangoes_dsl.pagination.SearchPaginator`: one request per page in all).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        use_response_class(self, Response)

    def __len__(self) -> int:
        return len(self.execute())

    def to_queryset(self) -> models.QuerySet:
        """Execute the search and return its rows in hit order (see Response.to_queryset)."""
        return self.execute().to_queryset()  # type: ignore[attr-defined,no-any-return]

    def instances(self, queryset: models.QuerySet | None = None) -> list[models.Model]:
        """Execute the search and return its rows with their scores and highlights (see
        Response.instances)."""
        return self.execute().instances(queryset)  # type: ignore[attr-defined,no-any-return]

    def similar_to(self, query: str | models.Model, **options: Unpack[SimilarOptions]) -> Search:
        """Return a kNN search for the ``k`` documents nearest to ``query``.

        ``query`` is a text (embedded with the Document's embedder) or a model instance (its
        document's stored vector; the instance itself is left out). The search's queries
        and filters (``.filter(...)``) are applied inside the kNN, as its ``filter``, so
        ``k`` hits pass them. ``num_candidates`` (default ``max(100, 2 * k)``, at most
        10,000) is how many candidates each shard considers. ``field`` names the embedding
        when the Document has several (default: its only one).
        """
        return run_steps(self._similar_steps(query, **options))  # type: ignore[no-any-return]

    def hybrid(self, text: str, **options: Unpack[HybridOptions]) -> Search:
        """Return a search that ranks by both a lexical query for ``text`` and its kNN.

        The lexical ranking is a ``multi_match`` of ``text`` over ``fields`` (default: the
        fields the embedding is computed from); the kNN ranking is ``similar_to(text,
        k=k)`` (``k`` defaults to ``rank_window_size``, 100). Each brings its best
        ``rank_window_size`` hits, with the search's filters; they are combined in the client:

        - ``mode="rrf"`` (default): reciprocal-rank fusion, ``sum(weight / (rank_constant +
          rank))`` (``rank_constant`` default 60);
        - ``mode="linear"``: the weighted sum of each ranking's scores normalised to 0..1.

        ``weights`` are ``(lexical, kNN)`` (default equal). The result pages like any search
        (slices, ``SearchPaginator``, ``to_queryset()``, ``instances()``), each hit's score
        being the fused one. ``server_side=True`` sends one request with Elasticsearch's
        ``rrf`` retriever instead (an Enterprise licence feature; ``mode="rrf"`` only).
        ``num_candidates`` and ``field`` are ``similar_to()``'s.
        """
        return run_steps(self._hybrid_steps(text, **options))  # type: ignore[no-any-return]


class FusedRankings:
    """Two rankings of the same documents (lexical and kNN), fused in the client: the part of
    :class:`HybridSearch` and the async ``AsyncHybridSearch`` that does not send."""

    _djangoes_hybrid: dict[str, Any]

    @property
    def rankings(self) -> tuple[Any, Any]:
        """The lexical and the kNN search whose rankings are fused (``to_dict()`` of this
        search describes neither: there is no single request)."""
        return self._djangoes_hybrid["rankings"]  # type: ignore[no-any-return]

    def _clone(self) -> Any:
        clone = super()._clone()  # type: ignore[misc]
        clone._djangoes_hybrid = self._djangoes_hybrid
        return clone

    def _fused_steps(self: Any, ignore_cache: bool) -> Steps:
        """Yield both rankings' searches (each answered with its response); return this
        search's slice of the fused result, kept as its response."""
        cached = self.__dict__.get("_djangoes_response")
        if cached is not None and not ignore_cache:
            return cached
        options = self._djangoes_hybrid
        window = options["window"]
        rankings = []
        took = 0
        for search in options["rankings"]:
            answer = (yield search[0:window]).to_dict()
            took += answer.get("took", 0)
            rankings.append(answer["hits"]["hits"])
        if options["mode"] == "rrf":
            fused = rrf(rankings, options["rank_constant"], options["weights"])
        else:
            fused = linear(rankings, options["weights"])
        body = self.to_dict()
        start = int(body.get("from", 0))
        size = int(body.get("size", 10))
        hits = [{**hit, "_score": score} for hit, score in fused[start : start + size]]
        response = Response(
            self,
            {
                "took": took,
                "timed_out": False,
                "hits": {
                    "total": {"value": len(fused), "relation": "eq"},
                    "max_score": fused[0][1] if fused else None,
                    "hits": hits,
                },
            },
        )
        self._djangoes_response = response
        return response


class HybridSearch(FusedRankings, Search):
    """Two rankings of the same documents (lexical and kNN), fused in the client.

    Made by :meth:`Search.hybrid`. ``execute()`` sends both searches (each for its best
    ``rank_window_size`` hits) and answers a :class:`Response` whose hits are the fused
    ranking sliced as this search is (``[from:from + size]``), each with its fused
    ``_score``; the total is the number of hits fused.
    """

    def count(self) -> int:
        """Return the number of hits fused (both rankings are sent, as by ``execute()``)."""
        return int(self.execute().hits.total.value)

    def execute(self, ignore_cache: bool = False) -> Any:
        """Send both rankings, fuse them and return this search's slice of the result."""
        return run_steps(self._fused_steps(ignore_cache))


Search.fused_class = HybridSearch
