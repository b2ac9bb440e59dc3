"""django-elasticsearch-dsl's API on djangoes.

Replace ``django_elasticsearch_dsl`` with ``djangoes_dsl.compat`` in imports, and in
INSTALLED_APPS put ``djangoes_dsl``: Documents, fields, the registry, signal processors,
``Search`` and ``ESTestCase`` keep their names and are djangoes' own underneath (indexing on
commit in bulk, ordered writes, the outbox, zero-downtime rebuilds, test isolation). See
docs/migrating.md.
"""

from django.utils.module_loading import autodiscover_modules

from .documents import DocType, Document
from .fields import *  # noqa: F403
from .fields import __all__ as _fields
from .indices import Index

__all__ = ["DocType", "Document", "Index", "autodiscover", *_fields]


def autodiscover() -> None:
    """Import every installed app's ``documents`` module."""
    autodiscover_modules("documents")
