"""Search and Response that turn hits into model instances, in hit order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import models
from elasticsearch import dsl

from .adapters import response_search, search_documents, use_response_class
from .autocomplete import autocomplete_query


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


class Search(Autocomplete, dsl.Search):
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
