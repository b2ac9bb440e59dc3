"""``ESTestCase``: djangoes' test isolation under django-elasticsearch-dsl's name."""

from __future__ import annotations

from elasticsearch import ApiError, TransportError

import djangoes
from djangoes.test.testcases import DjangoesTestMixin

__all__ = ["ESTestCase", "is_es_online"]


def is_es_online(connection_alias: str = "default") -> bool:
    """Return whether the server ``connection_alias`` answers (its cluster health: some
    distributions do not serve ``GET /``, which ``ping()`` asks)."""
    try:
        djangoes.connections[connection_alias].client.cluster.health()
        return True
    except (ApiError, TransportError):
        return False


class ESTestCase(DjangoesTestMixin):
    """Mix into a Django test case: the class runs against the test indices (created with
    their settings and mappings when the run has not), and each test's documents are
    undone after it, as its rows are rolled back."""
