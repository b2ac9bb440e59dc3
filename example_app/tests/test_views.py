"""The search page and the book page, against the test index on a real node."""

import pytest
from django.urls import reverse
from django.utils.html import strip_tags
from elasticsearch import ConnectionError as ESConnectionError

from catalog.models import Book
from catalog.search import PAGE_SIZE, BookSearch
from catalog.search_indices import BookDocument

SEARCH = reverse("catalog:search")


def get(client, **params):
    response = client.get(SEARCH, params)
    assert response.status_code == 200
    return response


def facet(response, param):
    return next(f for f in response.context["results"].facets if f.param == param)


def test_query_finds_highlighted_hits_as_model_instances(client, catalogue):
    response = get(client, q="zanzibar cipher")
    results = response.context["results"]
    assert results.total == 1
    (result,) = results.results
    assert isinstance(result.book, Book)
    assert result.book == catalogue["cipher"]
    # Adjacent matched words may share one <mark> (the phrase matched).
    assert result.title.startswith("The <mark>Zanzibar")
    assert strip_tags(result.title) == "The Zanzibar Cipher"
    assert b"The <mark>Zanzibar" in response.content


def test_highlights_escape_the_stored_text(client, catalogue):
    response = get(client, q="codebreaker")
    snippet = response.context["results"].results[0].snippet
    assert "<mark>codebreaker</mark>" in snippet
    assert "&lt;script&gt;" in snippet
    assert b"<script>alert" not in response.content


def test_author_name_matches_and_ranks_title_phrases_first(client, catalogue):
    results = get(client, q="ada quill").context["results"]
    assert {r.book.title for r in results.results} == {"The Zanzibar Cipher", "Quiet Orchards"}
    assert "<mark>" in results.results[0].author
    assert strip_tags(results.results[0].author) == "Ada Quill"


def test_isbn_finds_its_book(client, catalogue):
    results = get(client, q="978-0-00-000001-9").context["results"]
    assert [r.book for r in results.results] == [catalogue["cipher"]]


def test_facets_count_the_matching_books(client, catalogue):
    response = get(client)
    results = response.context["results"]
    assert results.total == Book.objects.count() == 47
    tags = {b.value: b.count for b in facet(response, "tag").buckets}
    assert tags["Mystery"] == Book.objects.filter(tags__name="Mystery").count()
    years = [int(b.value) for b in facet(response, "year").buckets]
    assert years == sorted(years, reverse=True)


def test_a_facet_filter_narrows_the_results(client, catalogue):
    response = get(client, tag="Mystery")
    results = response.context["results"]
    expected = Book.objects.filter(tags__name="Mystery").count()
    assert 0 < results.total == expected < Book.objects.count()
    assert all("Mystery" in [t.name for t in r.book.tags.all()] for r in results.results)
    (mystery,) = [b for b in facet(response, "tag").buckets if b.value == "Mystery"]
    assert mystery.selected
    assert mystery.url == "?"  # choosing it again removes the filter
    assert response.context["active_filters"] == [("Tag", "Mystery", "?")]


def test_filters_combine_across_facets_and_or_within_one(client, catalogue):
    results = get(client, author="Ada Quill", year=["1999", "2001"]).context["results"]
    assert results.total == 2
    results = get(client, author="Ada Quill", year="2001").context["results"]
    assert [r.book.title for r in results.results] == ["Quiet Orchards"]


def test_a_selected_value_without_hits_stays_visible(client, catalogue):
    response = get(client, q="zanzibar", tag="Poetry")
    assert response.context["results"].total == 0
    (poetry,) = [b for b in facet(response, "tag").buckets if b.value == "Poetry"]
    assert poetry.selected
    assert poetry.count == 0


def test_pagination(client, catalogue):
    first = get(client, sort="title").context["results"]
    assert (first.page.number, first.page.num_pages) == (1, 3)
    assert len(first.results) == PAGE_SIZE
    assert not first.page.has_previous
    assert first.page.next_url == "?sort=title&page=2"

    second = get(client, sort="title", page=2).context["results"]
    assert (second.first, second.last) == (21, 40)
    assert not {r.book.pk for r in first.results} & {r.book.pk for r in second.results}

    titles = [r.book.title.lower() for r in first.results + second.results]
    assert titles == sorted(titles)


def test_pages_past_the_end_show_the_last_page(client, catalogue):
    results = get(client, page=99).context["results"]
    assert results.page.number == 3
    assert len(results.results) == 47 - 2 * PAGE_SIZE


def test_bad_parameters_are_ignored(client, catalogue):
    query = BookSearch.from_params(get(client, page="x", year="later", sort="?").wsgi_request.GET)
    assert (query.page, query.filters, query.sort) == (1, {}, "")


def test_no_results(client, catalogue):
    response = get(client, q="xylophonic")
    assert response.context["results"].total == 0
    assert b'id="no-results"' in response.content
    assert "Nothing matches “<strong>xylophonic</strong>”" in response.content.decode()


def test_node_unavailable_is_a_page_not_a_crash(client, catalogue, monkeypatch):
    def unavailable(self, params):
        raise ESConnectionError("connection refused")

    monkeypatch.setattr(BookSearch, "run", unavailable)
    response = client.get(SEARCH, {"q": "cipher"})
    assert response.status_code == 503
    assert b"Search is unavailable" in response.content


def test_a_saved_book_is_searchable_after_commit(
    client, catalogue, django_capture_on_commit_callbacks
):
    book = catalogue["cipher"]
    with django_capture_on_commit_callbacks(execute=True):
        book.title = "The Zanzibar Palimpsest"
        book.save()
    BookDocument._index.refresh()
    results = get(client, q="palimpsest").context["results"]
    assert [r.book for r in results.results] == [book]


def test_renaming_a_tag_reindexes_its_books(client, catalogue, django_capture_on_commit_callbacks):
    tag = catalogue["mystery"]
    count = tag.books.count()
    with django_capture_on_commit_callbacks(execute=True):
        tag.name = "Whodunit"
        tag.save()
    BookDocument._index.refresh()
    assert get(client, tag="Whodunit").context["results"].total == count


def test_book_page(client, catalogue):
    book = catalogue["cipher"]
    response = client.get(book.get_absolute_url())
    assert response.status_code == 200
    assert b"The Zanzibar Cipher" in response.content
    assert b"?author=Ada%20Quill" in response.content


@pytest.mark.django_db
def test_missing_book_is_404(client):
    assert client.get(reverse("catalog:book", args=[999999])).status_code == 404


def export(client, **params) -> list[list[str]]:
    import csv
    import io

    response = client.get(reverse("catalog:export"), params)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


def test_the_export_streams_every_matching_book_page_after_page(client, catalogue, monkeypatch):
    from catalog import search

    monkeypatch.setattr(search, "EXPORT_PAGE_SIZE", 10)  # 47 books: five requests
    header, *rows = export(client, sort="title")
    assert header == search.EXPORT_COLUMNS
    assert len(rows) == Book.objects.count() == 47
    titles = [row[1] for row in rows]
    assert titles == sorted(titles, key=str.lower)
    assert len(set(titles)) == len({book.title for book in Book.objects.all()})
    cipher = next(row for row in rows if row[0] == "9780000000019")
    assert cipher[1:4] == ["The Zanzibar Cipher", "Ada Quill", "1999"]
    assert cipher[-1] == "Mystery"


def test_the_export_keeps_the_query_and_filters(client, catalogue):
    _, *rows = export(client, author="Ada Quill", sort="oldest")
    assert [row[1] for row in rows] == ["The Zanzibar Cipher", "Quiet Orchards"]
    response = get(client, author="Ada Quill", page=1)
    assert 'href="/export.csv?author=Ada+Quill"' in response.content.decode()


def test_a_results_page_is_one_search_request(client, catalogue):
    from djangoes import connections

    transport = connections["default"].client.transport
    sent = []
    original = transport.perform_request

    def counting(method, target, *args, **kwargs):
        sent.append(target)
        return original(method, target, *args, **kwargs)

    transport.perform_request = counting
    try:
        results = get(client, sort="title", page=2).context["results"]
    finally:
        del transport.perform_request
    assert (results.first, results.last, results.total) == (21, 40, 47)
    assert len(sent) == 1  # hits, count, highlights and facets in one request
