"""How a committed batch reaches Elasticsearch: from this process, or from a task worker.

``DJANGOES_DELIVERY`` chooses:

- ``"inline"`` (default): the process that committed sends the batch right after the commit.
- ``"django_tasks"``: one task per committed batch, on Django's tasks framework
  (``django.tasks`` on Django 6.0+; the ``django-tasks`` backport on 5.2), with the
  backend your ``TASKS`` setting configures.
- ``"celery"``: one Celery task per committed batch, on the Celery app of your project.

The queued modes record every operation in the outbox inside the transaction of the change
(durable mode), and the task carries only the outbox row ids: the web request never waits on
Elasticsearch, and a task that is lost (a worker killed, a broker restarted) leaves its rows
for the drainer, while a task that runs twice finds nothing left to do (or sends the newest
state again, which changes nothing).
"""

from __future__ import annotations

import logging
import time

from django.core.exceptions import ImproperlyConfigured

from . import conf, outbox

logger = logging.getLogger("djangoes_dsl.delivery")

INLINE, DJANGO_TASKS, CELERY = "inline", "django_tasks", "celery"
MODES = (INLINE, DJANGO_TASKS, CELERY)


def mode() -> str:
    """Return ``DJANGOES_DELIVERY``: "inline" (default), "django_tasks" or "celery"."""
    return str(conf.get("DJANGOES_DELIVERY"))


def queued() -> bool:
    """Return whether batches are delivered by task workers (not by the committing process)."""
    return mode() != INLINE


def records_first() -> bool:
    """Return whether operations are recorded in the outbox inside the transaction of the
    change: in durable mode (``DJANGOES_DURABLE``) and always when delivery is queued."""
    return outbox.durable() or queued()


def queue() -> str | None:
    """Return ``DJANGOES_TASK_QUEUE``: the queue djangoes's tasks go to (``None``: the
    engine's default queue)."""
    return conf.get("DJANGOES_TASK_QUEUE")


def submit(name: str, *args: object, engine: str | None = None) -> None:
    """Enqueue djangoes's task ``name`` (``deliver_batch``, ``fill_range``, ...) with
    ``args`` on ``engine`` (default: ``DJANGOES_DELIVERY``); raise what the engine raises."""
    chosen = engine or mode()
    if chosen == INLINE:
        raise ImproperlyConfigured(
            f"The task {name!r} needs a task engine, and DJANGOES_DELIVERY is 'inline'. Set "
            f"DJANGOES_DELIVERY to 'django_tasks' or 'celery' (and run its workers)."
        )
    from . import tasks  # the engine's package is imported only when it is chosen

    chosen_queue = queue()
    if chosen == DJANGO_TASKS:
        task = getattr(tasks, name, None)
        if task is None:
            raise ImproperlyConfigured(
                "DJANGOES_DELIVERY is 'django_tasks', but neither django.tasks (Django 6.0) "
                "nor the django-tasks backport can be imported: pip install django-tasks."
            )
        if chosen_queue:
            task = task.using(queue_name=chosen_queue)
        task.enqueue(*args)
        return
    task = getattr(tasks, f"{name}_celery", None)
    if task is None:
        raise ImproperlyConfigured(
            "DJANGOES_DELIVERY is 'celery', but Celery cannot be imported: pip install celery."
        )
    options = {"queue": chosen_queue} if chosen_queue else {}
    task.apply_async(args, retry=False, **options)


#: After an enqueue fails, this process leaves batches to the drainer for this many seconds
#: instead of trying again at every commit: a broker that is down then costs one failed
#: attempt (the engine's connection timeout) per process and period, not one per request.
ENQUEUE_PAUSE = 5.0
_paused_until: dict[str, float] = {}


def enqueue(database: str, ids: list[int]) -> None:
    """Hand the outbox rows ``ids`` of ``database`` to a task worker. Never raises: a batch
    that cannot be enqueued (the broker is down) stays in the outbox for the drainer."""
    if not ids:
        return
    chosen = mode()
    if time.monotonic() < _paused_until.get(chosen, 0.0):
        return  # the engine failed a moment ago: the drainer sends these
    try:
        submit("deliver_batch", database, ids, engine=chosen)
    except Exception as exc:
        _paused_until[chosen] = time.monotonic() + ENQUEUE_PAUSE
        # Only the exception's type and text: a broker URL in a traceback's locals or
        # arguments could carry a password.
        logger.error(
            "Could not enqueue the delivery of %d indexing operation(s) (%s: %s: %s); they "
            "stay in the outbox of database %r, where the drainer finds them. Batches of the "
            "next %.0f seconds are left to the drainer too.",
            len(ids),
            chosen,
            type(exc).__name__,
            exc,
            database,
            ENQUEUE_PAUSE,
        )


def resume() -> None:
    """Try the task engine again at the next commit (after a failed enqueue, batches are left
    to the drainer for ``ENQUEUE_PAUSE`` seconds)."""
    _paused_until.clear()
