"""Tasks for the task engine your project runs (see ``djangoes_dsl.delivery``).

Defined for each engine that is installed: ``deliver_batch`` on Django's tasks framework
(``django.tasks``, or the ``django-tasks`` backport), ``deliver_batch_celery`` on Celery
(found by ``app.autodiscover_tasks()``, named ``djangoes_dsl.deliver_batch``).
"""

from __future__ import annotations

from importlib.util import find_spec

from .outbox import deliver

__all__: list[str] = []

if find_spec("django.tasks") is not None:
    from django.tasks import task
elif find_spec("django_tasks") is not None:
    from django_tasks import task  # type: ignore[no-redef]
else:
    task = None  # type: ignore[assignment]

if task is not None:

    @task()
    def deliver_batch(database: str, ids: list[int]) -> dict[str, int]:
        """Send the indexing operations recorded as outbox rows ``ids`` of ``database``."""
        return deliver(database, ids)

    __all__ += ["deliver_batch"]


if find_spec("celery") is not None:
    from celery import shared_task

    @shared_task(name="djangoes_dsl.deliver_batch", acks_late=True, reject_on_worker_lost=True)
    def deliver_batch_celery(database: str, ids: list[int]) -> dict[str, int]:
        """Send the indexing operations recorded as outbox rows ``ids`` of ``database``."""
        return deliver(database, ids)

    __all__ += ["deliver_batch_celery"]
