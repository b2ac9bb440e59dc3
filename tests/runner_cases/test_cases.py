"""Run under djangoes.test.DiscoverRunner; each case records the index it used."""

import json
import os
import uuid

from django.test import TransactionTestCase

from djangoes import connections
from tests.apps.blog.models import Article
from tests.apps.blog.search_indices import ArticleDocument
from tests.apps.shop.models import Product
from tests.apps.shop.search_indices import ProductDocument


def record(**data):
    with open(os.environ["DJANGOES_RUNNER_REPORT"], "a") as report:
        report.write(json.dumps(data) + "\n")


class ProductCase(TransactionTestCase):
    def test_product_document_round_trip(self):
        marker = uuid.uuid4().hex
        product = Product.objects.create(sku=marker[:12], title=f"runner {marker}")
        ProductDocument.from_instance(product).save(refresh=True)
        hits = ProductDocument.search(using="default").query("match", title=marker).execute()
        self.assertEqual([h.meta.id for h in hits], [str(product.pk)])
        record(
            case="product",
            write=ProductDocument.get_index_name(),
            read=ProductDocument.get_read_index(),
            hit_index=hits[0].meta.index,
            pid=os.getpid(),
            test_mode=connections.test_mode,
        )


class ArticleCase(TransactionTestCase):
    def test_article_document_round_trip(self):
        marker = uuid.uuid4().hex
        article = Article.objects.create(title=f"runner {marker}")
        ArticleDocument.from_instance(article).save(refresh=True)
        hits = ArticleDocument.search().query("match", title=marker).execute()
        self.assertEqual([h.meta.id for h in hits], [str(article.pk)])
        record(
            case="article",
            write=ArticleDocument.get_index_name(),
            read=ArticleDocument.get_read_index(),
            hit_index=hits[0].meta.index,
            pid=os.getpid(),
            test_mode=connections.test_mode,
        )
