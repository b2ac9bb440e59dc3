"""Search by meaning and similar books in a real browser, with the real model (wordllama)."""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from catalog.search_indices import BookDocument

from .test_search_site import hit_ids, search_for, total


def test_match_by_meaning_then_follow_similar_books(page, catalogue, artifacts):
    page.get(page.url("/"))
    search_for(page, "a journey across the ocean")
    by_words = hit_ids(page)

    Select(page.find_element(By.ID, "mode")).select_by_value("meaning")
    page.wait.until(lambda d: "mode=meaning" in d.current_url)
    by_meaning = hit_ids(page)
    assert total(page) > 0
    assert by_meaning != by_words
    expected = BookDocument.search().similar_to("a journey across the ocean", k=100)[:20]
    assert by_meaning == [str(book.pk) for book in expected.to_queryset()]
    page.save_screenshot(str(artifacts / "search-by-meaning.png"))

    page.find_element(By.CSS_SELECTOR, ".hit .hit-title a").click()
    page.wait.until(lambda d: d.find_elements(By.ID, "similar"))
    similar = page.find_elements(By.CSS_SELECTOR, "#similar li")
    assert len(similar) == 5
    first = similar[0].get_attribute("data-book-id")
    similar[0].find_element(By.TAG_NAME, "a").click()
    page.wait.until(lambda d: d.current_url.endswith(f"/books/{first}/"))
    assert page.find_elements(By.ID, "similar")
