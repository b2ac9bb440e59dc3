"""Search tests written the way the pytest-django and Django docs teach: nothing of djangoes
in them. Each one saves rows, searches, and finds exactly what it saved, whatever ran before
it: its documents are gone after it, as its rows are.

tests/test_test_isolation.py runs this module again in child processes: alone, test by test,
in reverse order and under pytest-xdist.
"""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.test import TestCase

from tests.apps.shop.models import Category, Product, Tag
from tests.apps.shop.search_indices import ProductDocument

pytestmark = pytest.mark.django_db


def found(text: str = "") -> list[str]:
    search = ProductDocument.search()
    if text:
        search = search.query("match", title=text)
    return sorted(hit.title for hit in search[:100].execute())


def test_a_saved_row_is_found():
    Product.objects.create(sku="LAMP-1", title="Red lamp")
    assert found("lamp") == ["Red lamp"]


def test_nothing_from_other_tests_is_there():
    assert ProductDocument.search().count() == 0
    Product.objects.create(sku="LAMP-1", title="Blue lamp")
    assert found() == ["Blue lamp"]


def test_updates_and_deletes_are_seen():
    product = Product.objects.create(sku="CHAIR-1", title="Oak chair")
    product.title = "Pine chair"
    product.save()
    assert found("chair") == ["Pine chair"]
    product.delete()
    assert found("chair") == []


def test_related_changes_are_seen():
    kitchen = Category.objects.create(name="kitchen")
    kettle = Product.objects.create(sku="KETTLE-1", title="Kettle", category=kitchen)
    kettle.tags.add(Tag.objects.create(name="steel"))
    kitchen.name = "cooking"
    kitchen.save()
    hit = ProductDocument.search().execute()[0]
    assert (hit.category, list(hit.tags)) == ("cooking", ["steel"])


def test_a_block_is_sent_when_it_exits():
    with transaction.atomic():
        Product.objects.create(sku="DESK-1", title="Standing desk")
        assert found("desk") == []  # not committed yet
    assert found("desk") == ["Standing desk"]


def test_a_rolled_back_block_indexes_nothing():
    Product.objects.create(sku="SOFA-1", title="Green sofa")

    def save_two():
        with transaction.atomic():
            Product.objects.create(sku="SOFA-2", title="Grey sofa")
            Product.objects.create(sku="SOFA-1", title="Duplicate sofa")

    with pytest.raises(IntegrityError):
        save_two()
    assert found("sofa") == ["Green sofa"]


def test_capture_on_commit_callbacks_still_runs_its_callbacks(django_capture_on_commit_callbacks):
    ran = []
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        Product.objects.create(sku="RUG-1", title="Wool rug")
        transaction.on_commit(lambda: ran.append("mine"))
    assert ran == ["mine"]
    assert len(callbacks) >= 1
    assert found("rug") == ["Wool rug"]


@pytest.mark.django_db(transaction=True)
def test_a_transactional_test_is_isolated_too():
    assert ProductDocument.search().count() == 0
    Product.objects.create(sku="BED-1", title="Bunk bed")
    assert found("bed") == ["Bunk bed"]


class CatalogueTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.lamp = Product.objects.create(sku="LAMP-9", title="Desk lamp")
        cls.stool = Product.objects.create(sku="STOOL-9", title="Bar stool")

    def test_the_class_data_is_found(self):
        self.assertEqual(found(), ["Bar stool", "Desk lamp"])

    def test_a_change_to_class_data_is_undone_after_the_test(self):
        self.lamp.title = "Floor lamp"
        self.lamp.save()
        self.stool.delete()
        Product.objects.create(sku="SHELF-9", title="Wall shelf")
        self.assertEqual(found(), ["Floor lamp", "Wall shelf"])

    def test_the_class_data_is_back(self):
        self.assertEqual(found(), ["Bar stool", "Desk lamp"])
        self.assertEqual(found("lamp"), ["Desk lamp"])
