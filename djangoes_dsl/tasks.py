"""Tasks for the task engine your project runs (see ``djangoes_dsl.delivery``).

Defined for each engine that is installed:

- on Django's tasks framework (``django.tasks``, or the ``django-tasks`` backport):
  ``deliver_batch`` (one per committed batch), ``drain_outbox`` (the periodic drain) and
  ``fill_range`` (one primary-key range of a distributed rebuild or populate);
- on Celery (found by ``app.autodiscover_tasks()``): ``deliver_batch_celery``,
  ``drain_outbox_celery`` and ``fill_range_celery``, named ``djangoes_dsl.deliver_batch``,
  ``djangoes_dsl.drain_outbox`` (the name to use in ``beat_schedule``) and
  ``djangoes_dsl.fill_range``.

Every task is safe to run twice, or at the same time on several workers: rows are claimed
before they are sent, and a write never takes a document back in time.
"""

from __future__ import annotations

from importlib.util import find_spec
from typing import Any

from .outbox import deliver, drain
from .ranges import run_range

__all__: list[str] = []


def drain_due() -> dict[str, int]:
    """Send every outbox operation whose back-off is over, once; return the counts."""
    result = drain(due_only=True)
    return {"sent": result.sent, "retried_later": result.retried_later, "failed": result.failed}


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

    @task()
    def drain_outbox() -> dict[str, int]:
        """Send the outbox operations whose back-off is over (run it every minute)."""
        return drain_due()

    @task()
    def fill_range(using: str, name: str, number: int, token: str) -> dict[str, Any]:
        """Fill one primary-key range of a distributed rebuild (see djangoes_dsl.distributed)."""
        return run_range(using, name, number, token)

    __all__ += ["deliver_batch", "drain_outbox", "fill_range"]


if find_spec("celery") is not None:
    from celery import shared_task

    # acks_late with reject_on_worker_lost: a task whose worker dies goes back to the
    # broker. Results are not kept: nothing waits for them.
    @shared_task(
        name="djangoes_dsl.deliver_batch",
        acks_late=True,
        reject_on_worker_lost=True,
        ignore_result=True,
    )
    def deliver_batch_celery(database: str, ids: list[int]) -> dict[str, int]:
        """Send the indexing operations recorded as outbox rows ``ids`` of ``database``."""
        return deliver(database, ids)

    @shared_task(name="djangoes_dsl.drain_outbox", ignore_result=True)
    def drain_outbox_celery() -> dict[str, int]:
        """Send the outbox operations whose back-off is over (schedule it with beat)."""
        return drain_due()

    @shared_task(
        name="djangoes_dsl.fill_range",
        acks_late=True,
        reject_on_worker_lost=True,
        ignore_result=True,
    )
    def fill_range_celery(using: str, name: str, number: int, token: str) -> dict[str, Any]:
        """Fill one primary-key range of a distributed rebuild (see djangoes_dsl.distributed)."""
        return run_range(using, name, number, token)

    __all__ += ["deliver_batch_celery", "drain_outbox_celery", "fill_range_celery"]
