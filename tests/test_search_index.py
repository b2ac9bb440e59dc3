"""manage.py search_index against the real node."""

from __future__ import annotations

import os
import socket
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from djangoes import connections
from djangoes_dsl import indexing_paused
from djangoes_dsl.clock import ManualClock
from djangoes_dsl.rebuild import Rebuild, RebuildLock
from tests.apps.blog.models import Article
from tests.apps.blog.search_indices import ArticleDocument
from tests.apps.shop.models import Product
from tests.apps.shop.search_indices import ProductDocument
from tests.indexing_utils import fresh_index, indexed, reset_index

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_indices():
    with fresh_index(ProductDocument):
        reset_index(ArticleDocument)
        with indexing_paused():
            for n in range(30):
                Product.objects.create(sku=f"SKU-{n}", title=f"Product {n}")
            Article.objects.create(title="An article")
        yield


def run(*args: str) -> str:
    out = StringIO()
    call_command("search_index", *args, stdout=out)
    return out.getvalue()


def behind(document) -> list[str]:
    return connections["default"].concrete_indices(document.get_index_name())


def test_populate_all_indices_with_progress():
    output = run("populate", "--chunk-size", "7")
    assert "products: 30/30 (100%)" in output
    assert "indexed 30 documents" in output
    assert len(indexed(ProductDocument)) == 30
    assert len(indexed(ArticleDocument)) == 1


def test_rebuild_one_index_by_key_without_input():
    output = run("rebuild", "products", "--no-input", "--parallel", "2")
    assert "now points to" in output
    assert behind(ProductDocument)[0].startswith(f"{ProductDocument.get_index_name()}-")
    assert behind(ArticleDocument) == [ArticleDocument.get_index_name()]  # untouched
    assert len(indexed(ProductDocument)) == 30


def test_rebuild_and_populate_from_worker_processes():
    output = run("rebuild", "products", "--no-input", "--processes", "2", "--chunk-size", "4")
    assert "products: 30/30 (100%)" in output
    assert "now points to" in output
    assert len(indexed(ProductDocument)) == 30
    output = run("populate", "products", "--processes", "3")
    assert "indexed 30 documents" in output


def test_list_shows_a_running_rebuild_and_rebuild_cleans_up_after_a_dead_one(monkeypatch):
    running = Rebuild("products")
    running.start()
    assert f"REBUILD RUNNING (host {socket.gethostname()}, pid {os.getpid()}" in run(
        "list", "products"
    )
    with pytest.raises(CommandError, match="search_index rebuild failed: A rebuild of 'products'"):
        run("rebuild", "products", "--no-input")
    running.run()
    assert "REBUILD" not in run("list", "products")

    clock = ManualClock()
    monkeypatch.setattr(RebuildLock, "clock", clock)  # the clock of every rebuild lock
    dead = Rebuild("products")
    dead.start()
    assert "REBUILD RUNNING" in run("list", "products")
    clock.advance(dead.lock.lease + 1)  # it stopped renewing: dead
    assert "DEAD REBUILD" in run("list", "products")
    output = run("rebuild", "products", "--no-input")
    assert "products: cleaned up after a dead rebuild of 'products'" in output
    assert output.index("cleaned up") < output.index("products: 30/30 (100%)")
    assert "now points to" in output
    assert len(indexed(ProductDocument)) == 30


def test_rebuild_by_document_name_and_by_model():
    run("rebuild", "ArticleDocument", "--no-input")
    assert len(indexed(ArticleDocument)) == 1
    run("rebuild", "--models", "shop.Product", "--no-input", "--using", "default")
    assert len(indexed(ProductDocument)) == 30


def test_rebuild_in_place():
    run("rebuild", "products", "--in-place", "--no-input")
    assert behind(ProductDocument) == [ProductDocument.get_index_name()]
    assert len(indexed(ProductDocument)) == 30


def test_destructive_actions_ask_first(monkeypatch):
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    assert "Cancelled" in run("delete", "products")
    assert behind(ProductDocument) != []
    monkeypatch.setattr("builtins.input", lambda prompt: "yes")
    run("delete", "products")
    assert behind(ProductDocument) == []


def test_create_delete_and_list():
    run("delete", "articles", "--no-input")
    assert "missing" in run("list", "articles")
    assert "created" in run("create", "articles")
    assert "left as is" in run("create", "articles")
    run("populate", "products")
    listing = run("list")
    assert "products [default]" in listing
    assert "30 docs" in listing
    assert "ProductDocument" in listing


def test_unknown_targets_are_errors_that_name_the_choices():
    with pytest.raises(CommandError, match="neither an ES_INDICES key nor a Document"):
        run("list", "nope")
    for typo, meant in (
        ("prodücts", "products"),
        ("Products", "products"),
        ("articels", "articles"),
        ("productdocument", "ProductDocument"),
    ):
        with pytest.raises(CommandError) as raised:
            run("create", typo)
        assert f"Did you mean '{meant}'? Use one of [" in str(raised.value)
    with pytest.raises(CommandError, match="no registered Document"):
        run("list", "--models", "auth.User")
    with pytest.raises(CommandError, match="No index to act on"):
        run("list", "--using", "elsewhere")
