"""A run stopped midway, as a killed CI job or a closed terminal stops it: the test writes
documents, sees them, and its process is killed before anything can undo them. Run in a child
``manage.py test --keepdb`` by tests/test_test_isolation.py."""

import os
import signal

from django.test import TestCase

from tests.apps.shop.models import Product
from tests.apps.shop.search_indices import ProductDocument


class InterruptedTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        Product.objects.create(sku="LEFT-1", title="Left lamp")

    def test_the_run_is_killed_after_writing(self):
        Product.objects.create(sku="LEFT-2", title="Left stool")
        found = sorted(hit.title for hit in ProductDocument.search()[:10].execute())
        self.assertEqual(found, ["Left lamp", "Left stool"])
        os.kill(os.getpid(), signal.SIGKILL)
