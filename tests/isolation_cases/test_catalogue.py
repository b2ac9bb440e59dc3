"""Search tests written the way the Django docs teach, with nothing of djangoes in them, run
by djangoes.test.DiscoverRunner: each test finds what it saved and nothing else, in any
order, alone or in parallel."""

from django.db import transaction
from django.test import SimpleTestCase, TestCase, TransactionTestCase

from tests.apps.shop.models import Product
from tests.apps.shop.search_indices import ProductDocument


def found(text=""):
    search = ProductDocument.search()
    if text:
        search = search.query("match", title=text)
    return sorted(hit.title for hit in search[:100].execute())


class CatalogueTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.lamp = Product.objects.create(sku="LAMP-1", title="Desk lamp")
        cls.stool = Product.objects.create(sku="STOOL-1", title="Bar stool")

    def test_the_class_data_is_found(self):
        self.assertEqual(found(), ["Bar stool", "Desk lamp"])

    def test_a_saved_row_is_found_at_once(self):
        Product.objects.create(sku="LAMP-2", title="Floor lamp")
        self.assertEqual(found("lamp"), ["Desk lamp", "Floor lamp"])

    def test_changes_to_the_class_data_are_undone_after_the_test(self):
        self.lamp.title = "Reading lamp"
        self.lamp.save()
        self.stool.delete()
        self.assertEqual(found(), ["Reading lamp"])

    def test_a_block_is_sent_when_it_exits(self):
        with transaction.atomic():
            Product.objects.create(sku="DESK-1", title="Standing desk")
            self.assertEqual(found("standing"), [])
        self.assertEqual(found("standing"), ["Standing desk"])

    def test_a_rolled_back_savepoint_indexes_nothing(self):
        try:
            with transaction.atomic():
                Product.objects.create(sku="SOFA-1", title="Green sofa")
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
        self.assertEqual(found("sofa"), [])

    def test_capture_on_commit_callbacks_keeps_working(self):
        with self.captureOnCommitCallbacks(execute=True), transaction.atomic():
            Product.objects.create(sku="RUG-1", title="Wool rug")
        self.assertEqual(found("rug"), ["Wool rug"])


class OtherCatalogueTests(TestCase):
    def test_nothing_of_other_classes_is_there(self):
        self.assertEqual(found(), [])
        Product.objects.create(sku="BED-1", title="Bunk bed")
        self.assertEqual(found(), ["Bunk bed"])


class TransactionalCatalogueTests(TransactionTestCase):
    def test_a_committed_row_is_found_and_undone_after(self):
        self.assertEqual(found(), [])
        Product.objects.create(sku="CHAIR-1", title="Oak chair")
        self.assertEqual(found(), ["Oak chair"])


class NoDatabaseTests(SimpleTestCase):
    def test_the_index_is_empty(self):
        self.assertEqual(found(), [])
