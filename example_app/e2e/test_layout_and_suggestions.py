"""Suggestions as you type, and the search page on a phone and on a desktop screen."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from catalog.models import Book

SCREENS = {"phone": (390, 844, True), "desktop": (1280, 900, False)}


@pytest.fixture
def screen(page):
    """``screen(name)`` makes the browser's viewport that screen (a phone is emulated as
    one: its width, touch and device pixels); the desktop viewport comes back after."""

    def use(name: str):
        width, height, mobile = SCREENS[name]
        page.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {
                "width": width,
                "height": height,
                "deviceScaleFactor": 2 if mobile else 1,
                "mobile": mobile,
            },
        )
        return width, height

    yield use
    page.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def geometry(page) -> dict:
    return page.execute_script(
        """
        const first = document.querySelector(".hit");
        const r = first ? first.getBoundingClientRect() : null;
        const facets = document.querySelector(".facets").getBoundingClientRect();
        const results = document.querySelector(".results").getBoundingClientRect();
        return {
          innerWidth: window.innerWidth, innerHeight: window.innerHeight,
          scrollWidth: document.documentElement.scrollWidth,
          bodyScrollWidth: document.body.scrollWidth,
          firstTop: r && r.top, firstBottom: r && r.bottom,
          facetsLeft: facets.left, facetsTop: facets.top,
          resultsLeft: results.left, resultsTop: results.top,
        };
        """
    )


def test_suggestions_appear_as_you_type_and_lead_to_the_book(page, catalogue):
    book = Book.objects.select_related("author").order_by("pk").first()
    typed = book.title[: max(3, len(book.title) - 2)]
    page.get(page.url("/"))
    box = page.find_element(By.NAME, "q")
    box.send_keys(typed)
    page.wait.until(
        lambda d: (
            book.title
            in [
                el.text.split("\n")[0] for el in d.find_elements(By.CSS_SELECTOR, "#suggestions li")
            ]
        ),
        f"no suggestion {book.title!r} for {typed!r}",
    )
    assert page.find_element(By.ID, "suggestions").is_displayed()
    assert box.get_attribute("aria-expanded") == "true"
    titles = [
        el.text.split("\n")[0] for el in page.find_elements(By.CSS_SELECTOR, "#suggestions li")
    ]
    for _ in range(titles.index(book.title) + 1):
        box.send_keys(Keys.ARROW_DOWN)
    box.send_keys(Keys.ENTER)
    page.wait.until(lambda d: d.current_url.endswith(book.get_absolute_url()))
    assert book.title in page.find_element(By.TAG_NAME, "h1").text


@pytest.mark.parametrize("name", ["phone", "desktop"])
def test_the_search_page_fits_the_screen(page, catalogue, screen, artifacts, name):
    width, height = screen(name)
    page.get(page.url("/?q=the"))
    page.find_element(By.CSS_SELECTOR, ".hit")
    shape = geometry(page)
    page.save_screenshot(str(artifacts / f"search-{name}-{width}px.png"))
    assert shape["innerWidth"] == width
    # No horizontal scroll: nothing is wider than the screen.
    assert shape["scrollWidth"] <= width, shape
    assert shape["bodyScrollWidth"] <= width, shape
    # The first result is on the first screen, whole.
    assert 0 < shape["firstTop"] < shape["firstBottom"] <= height, shape
    bucket = page.find_element(By.CSS_SELECTOR, ".facet .bucket")
    if name == "desktop":  # the facets beside the results
        assert shape["facetsLeft"] < shape["resultsLeft"], shape
        assert shape["facetsTop"] == shape["resultsTop"], shape
        assert bucket.is_displayed()
    else:  # the facets folded above the results, a tap away
        assert shape["facetsTop"] < shape["resultsTop"], shape
        assert not bucket.is_displayed()
        page.find_element(By.CSS_SELECTOR, ".filters > summary").click()
        page.wait.until(lambda d: bucket.is_displayed())
