"""django-elasticsearch-dsl's signal processors, as djangoes' transaction processor.

Whichever is chosen (``ELASTICSEARCH_DSL_SIGNAL_PROCESSOR``, or ``DJANGOES_SIGNAL_PROCESSOR``)
the writes of a transaction are sent when it commits, in bulk, by djangoes' one signal
path; ``CelerySignalProcessor`` sends them from a Celery task (``DJANGOES_DELIVERY =
"celery"``), deletes included.
"""

from __future__ import annotations

from typing import Any

from djangoes_dsl import signals
from djangoes_dsl.registry import DocumentRegistry, registry

from .documents import post_index

__all__ = [
    "BaseSignalProcessor",
    "CelerySignalProcessor",
    "RealTimeSignalProcessor",
    "post_index",
]


class BaseSignalProcessor(signals.TransactionSignalProcessor):
    """djangoes' processor, built as django-elasticsearch-dsl builds its own (with the
    connections; djangoes' registry is used)."""

    def __init__(self, connections: Any = None) -> None:
        found = connections if isinstance(connections, DocumentRegistry) else registry
        super().__init__(found)

    def handle_delete(self, sender: Any, instance: Any, **kwargs: Any) -> None:
        """Nothing: the documents of a deleted row go in ``handle_pre_delete``, when its
        id is still known."""


class RealTimeSignalProcessor(BaseSignalProcessor):
    """Index on every save and delete: on commit, in bulk."""


class CelerySignalProcessor(BaseSignalProcessor):
    """Index from Celery tasks (djangoes' Celery delivery: one task per committed batch)."""
