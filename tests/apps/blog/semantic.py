"""An Article Document with an embedding, registered only where a test declares it (the web
process with :func:`declared`, a task worker through ``DJANGOES_WORKER_INDICES`` and
``DJANGOES_WORKER_DOCUMENTS``, tests/worker_settings.py): the suite's other tests never see
its index, and no other Article save calls the embedder."""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Iterator

from django.conf import settings
from django.test import override_settings

from djangoes import connections
from djangoes_dsl import Document, fields, register, registry

from .models import Article

KEY = "semantic_articles"
#: ES_INDICES[KEY]: one shard, no replica.
INDEX = {
    "NAME": "djangoes_semantic_articles",
    "SETTINGS": {"number_of_shards": 1, "number_of_replicas": 0},
}


class SemanticArticleDocument(Document):
    title = fields.Text()
    body = fields.Text()
    embedding = fields.Embedding(source=["title", "body"], embedder="tests.embedders.embedder")

    class Django:
        model = Article


def worker_environment() -> dict[str, str]:
    """The environment of a task worker that delivers this Document (tests/workers.py)."""
    label = f"{SemanticArticleDocument.__module__}.{SemanticArticleDocument.__qualname__}"
    return {
        "DJANGOES_WORKER_INDICES": json.dumps({KEY: INDEX}),
        "DJANGOES_WORKER_DOCUMENTS": json.dumps({KEY: label}),
    }


@contextlib.contextmanager
def declared() -> Iterator[type[Document]]:
    """Declare ES_INDICES[KEY] with the Document registered to it, its index made; delete the
    index (whoever wrote to it) and unregister the Document after the block."""
    servers = copy.deepcopy(settings.ES_SERVERS)
    servers["default"]["INDICES"] = [*servers["default"]["INDICES"], KEY]
    with override_settings(ES_SERVERS=servers, ES_INDICES={**settings.ES_INDICES, KEY: INDEX}):
        register(KEY)(SemanticArticleDocument)
        try:
            connections["default"].create_index(KEY, replace=True)
            yield SemanticArticleDocument
        finally:
            connections["default"].delete_index(KEY)
            registry.unregister(SemanticArticleDocument)
