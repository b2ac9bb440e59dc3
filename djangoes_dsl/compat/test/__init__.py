"""django-elasticsearch-dsl's test helpers on djangoes' test support."""

from .testcases import ESTestCase, is_es_online

__all__ = ["ESTestCase", "is_es_online"]
