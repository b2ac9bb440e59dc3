"""Search, filter, page and edit the catalogue in a real browser."""

from __future__ import annotations

import re

from django.db.models import Q
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from catalog.models import Author, Book

from .conftest import SAMPLE_BOOKS


def total(page) -> int:
    return int(page.find_element(By.ID, "result-count").get_attribute("data-total"))


def hit_ids(page) -> list[str]:
    return [el.get_attribute("data-book-id") for el in page.find_elements(By.CSS_SELECTOR, ".hit")]


def search_for(page, words: str) -> None:
    box = page.find_element(By.NAME, "q")
    box.clear()
    box.send_keys(words, Keys.ENTER)
    page.wait.until(lambda d: f"q={words.replace(' ', '+')}" in d.current_url)


def wait_for_total(page, path: str, expected: int) -> None:
    """Reload ``path`` until it reports ``expected`` hits (indexing is near real time)."""

    def reloaded(driver) -> bool:
        driver.get(driver.url(path))
        return total(driver) == expected

    page.wait.until(reloaded, f"{path} never showed {expected} hit(s)")


def test_search_shows_highlighted_hits_and_a_no_results_state(page, catalogue, artifacts):
    word = "lighthouse"
    pattern = rf"\b{word}\b"
    expected = Book.objects.filter(
        Q(title__iregex=pattern) | Q(summary__iregex=pattern) | Q(author__name__iregex=pattern)
    ).count()
    assert expected > 0, f"the sample data should contain '{word}'"

    page.get(page.url("/"))
    assert total(page) == SAMPLE_BOOKS
    search_for(page, word)
    assert total(page) == expected
    assert f"{expected} book" in page.find_element(By.ID, "result-count").text
    marks = page.find_elements(By.CSS_SELECTOR, ".hit mark")
    assert marks
    assert {mark.text.lower() for mark in marks} == {word}
    # The stylesheet is served and applied: highlights have their colour, hits are cards.
    assert (
        page.find_element(By.CSS_SELECTOR, ".hit mark").value_of_css_property("background-color")
        == "rgba(255, 229, 138, 1)"
    )
    page.save_screenshot(str(artifacts / "search-results.png"))

    search_for(page, "xylophonic")
    assert total(page) == 0
    assert "No results" in page.find_element(By.ID, "no-results").text


def test_a_facet_narrows_the_count(page, catalogue, artifacts):
    page.get(page.url("/"))
    assert total(page) == SAMPLE_BOOKS

    bucket = page.find_element(By.CSS_SELECTOR, "#facet-tag a.bucket")
    tag = bucket.get_attribute("data-value")
    count = int(bucket.find_element(By.CSS_SELECTOR, ".count").text)
    bucket.click()
    page.wait.until(lambda d: "tag=" in d.current_url)
    assert total(page) == count == Book.objects.filter(tags__name=tag).count()
    assert count < SAMPLE_BOOKS
    selected = page.find_element(By.CSS_SELECTOR, "#facet-tag a.bucket.selected")
    assert selected.get_attribute("data-value") == tag
    assert f"Tag: {tag}" in page.find_element(By.CSS_SELECTOR, ".chips").text

    # A second facet narrows further (filters across facets combine).
    author = page.find_element(By.CSS_SELECTOR, "#facet-author a.bucket")
    name = author.get_attribute("data-value")
    author.click()
    page.wait.until(lambda d: "author=" in d.current_url)
    narrowed = Book.objects.filter(tags__name=tag, author__name=name).count()
    assert total(page) == narrowed <= count
    page.save_screenshot(str(artifacts / "search-filtered.png"))

    # Removing the tag chip keeps only the author filter.
    chips = page.find_elements(By.CSS_SELECTOR, ".chips a.chip")
    next(chip for chip in chips if chip.text.startswith("Tag:")).click()
    page.wait.until(lambda d: "tag=" not in d.current_url)
    assert total(page) == Book.objects.filter(author__name=name).count()


LONG_NAME = "Maximiliana Wilhelmina Konstanze von Hohenzollern-Sigmaringen-Auerbach"


def test_a_long_author_name_is_shown_whole_in_its_facet(page, catalogue, artifacts):
    # The author with the most books is among the facet's buckets.
    author = max(Author.objects.all(), key=lambda a: a.books.count())
    author.name = LONG_NAME
    author.save()  # its books are re-indexed (related_models)
    wait_for_total(page, f"/?author={LONG_NAME.replace(' ', '+')}", author.books.count())
    page.get(page.url("/"))
    bucket = page.find_element(
        By.CSS_SELECTOR, f'#facet-author a.bucket[data-value="{LONG_NAME}"] .bucket-value'
    )
    assert bucket.text == LONG_NAME
    cut = page.execute_script("return arguments[0].scrollWidth > arguments[0].clientWidth", bucket)
    assert not cut, "the name is cut off"
    facet = page.find_element(By.ID, "facet-author")
    assert bucket.rect["x"] + bucket.rect["width"] <= facet.rect["x"] + facet.rect["width"]
    page.save_screenshot(str(artifacts / "search-long-author.png"))


def test_paging_forward(page, catalogue):
    page.get(page.url("/?sort=title"))
    first = hit_ids(page)
    assert len(first) == 20
    page.find_element(By.CSS_SELECTOR, ".pagination a.page-next").click()
    page.wait.until(lambda d: "page=2" in d.current_url)
    assert page.find_element(By.CSS_SELECTOR, ".pagination .current").text == "2"
    assert "showing 21\u201340" in page.find_element(By.ID, "result-count").text
    second = hit_ids(page)
    assert len(second) == 20
    assert not set(first) & set(second)
    # Sorted by title across the page boundary.
    titles = [Book.objects.get(pk=pk).title.lower() for pk in first + second]
    assert titles == sorted(titles)


def change_form_field(page, path: str, field: str):
    """Open an admin change form; return its ``field`` once the form has loaded."""
    page.get(page.url(path))
    page.wait.until(
        lambda d: d.find_elements(By.NAME, field), f"the form at {path} shows no field {field!r}"
    )
    return page.find_element(By.NAME, field)


def test_an_admin_edit_is_found_by_search(page, catalogue, admin_user):
    page.get(page.url("/admin/login/?next=/admin/"))
    page.find_element(By.NAME, "username").send_keys("admin")
    page.find_element(By.NAME, "password").send_keys("password", Keys.ENTER)
    # Logged in once the admin index has loaded with the user's tools.
    page.wait.until(lambda d: d.current_url.endswith("/admin/"))
    page.wait.until(lambda d: d.find_elements(By.ID, "user-tools"))

    book = Book.objects.order_by("pk").first()
    title = change_form_field(page, f"/admin/catalog/book/{book.pk}/change/", "title")
    title.clear()
    title.send_keys("The Quixotic Zephyr Almanac")
    page.find_element(By.NAME, "_save").click()
    page.wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".messagelist .success"))

    # Indexed on commit by the signal processor; visible once the index refreshes (≤ 1 s).
    wait_for_total(page, "/?q=zephyr", 1)
    hit = page.find_element(By.CSS_SELECTOR, ".hit")
    assert hit.get_attribute("data-book-id") == str(book.pk)
    link = hit.find_element(By.CSS_SELECTOR, ".hit-title a")
    assert link.text == "The Quixotic Zephyr Almanac"
    assert link.find_element(By.TAG_NAME, "mark").text == "Zephyr"

    # Renaming the author re-indexes all of their books (Django.related_models).
    author = book.author
    books = Author.objects.get(pk=author.pk).books.count()
    name = change_form_field(page, f"/admin/catalog/author/{author.pk}/change/", "name")
    name.clear()
    name.send_keys("Wilhelmina Quarrington")
    page.find_element(By.NAME, "_save").click()
    page.wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".messagelist .success"))
    wait_for_total(page, "/?q=quarrington", books)
    assert re.search(r"Wilhelmina Quarrington", page.find_element(By.ID, "facet-author").text)


def test_the_export_link_downloads_what_the_page_shows(page, catalogue):
    import csv
    import io
    import urllib.request

    page.get(page.url("/?tag=Mystery&sort=title&page=2"))
    link = page.find_element(By.ID, "export-csv")
    href = link.get_attribute("href")
    assert "tag=Mystery" in href
    assert "page=" not in href  # every page, not the one shown
    with urllib.request.urlopen(href, timeout=30) as response:
        assert response.headers["Content-Type"] == "text/csv"
        rows = list(csv.reader(io.StringIO(response.read().decode())))
    assert len(rows) - 1 == total(page) == Book.objects.filter(tags__name="Mystery").count()
    titles = [row[1].lower() for row in rows[1:]]
    assert titles == sorted(titles)


def test_the_async_search_api_under_uvicorn_returns_books_in_hit_order(
    browser, asgi_server, catalogue
):
    import json

    from catalog.search_indices import BookDocument

    browser.get(f"{asgi_server}/api/search/?q=garden")
    results = json.loads(browser.find_element(By.TAG_NAME, "body").text)["results"]
    assert results, "the search found nothing"
    query = {"multi_match": {"query": "garden", "fields": ["title^3", "author^2", "summary"]}}
    hits = BookDocument.search().update_from_dict({"query": query})[:10].execute()
    assert [result["id"] for result in results] == [int(hit.meta.id) for hit in hits]
    books = Book.objects.in_bulk([result["id"] for result in results])
    assert [result["title"] for result in results] == [books[r["id"]].title for r in results]
