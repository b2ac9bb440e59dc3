"""When a database change counts as committed, for the writes djangoes sends on commit.

In production a change is committed when its transaction commits: djangoes sends the writes
of a transaction from a commit hook, and sends at once what is saved outside ``atomic()``.

Django's ``TestCase`` (and pytest-django's non-transactional ``django_db``) runs every test
inside atomic blocks that are rolled back at its end, so nothing a test saves would ever be
sent. While test index names are in force (``connections.test_mode``), djangoes treats the
test case's own blocks as the commit boundary:

- a save made when only the test case's blocks are open is sent at once, as in autocommit;
- the writes of a block the code under test opened (``transaction.atomic()``, a view under
  ``ATOMIC_REQUESTS``, ``QuerySet.delete()``...) are sent once the outermost such block has
  exited without rolling back, before the next request to Elasticsearch or the next save,
  whichever comes first; a block (or savepoint) rolled back sends nothing;
- ``captureOnCommitCallbacks(execute=True)`` still runs djangoes' hooks it captured (they
  send nothing twice).

With test names off, tests keep the production behaviour.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from django.db import connections as db_connections
from django.db import transaction

from .adapters.django import (
    in_atomic_block,
    on_commit,
    only_test_case_blocks,
    take_djangoes_hooks,
)

__all__ = ["on_commit", "run_test_commits", "test_commits_active", "waits_for_commit"]

logger = logging.getLogger("djangoes.transactions")

_running = threading.local()


def test_commits_active() -> bool:
    """Return whether test case blocks count as the commit boundary (test names in force)."""
    from . import connections

    return connections.test_mode


def _at_test_boundary(connection: Any) -> bool:
    """Whether only a test case's blocks are open on ``connection``, and it can commit."""
    return (
        only_test_case_blocks(connection)
        and test_commits_active()
        and not transaction.get_rollback(using=connection.alias)
    )


def waits_for_commit(connection: Any) -> bool:
    """Return whether changes made now on ``connection`` wait for a commit.

    False outside ``atomic()``, and at a test case's commit boundary (see the module's
    docstring), where the writes committed earlier in the test are sent first, in order.
    """
    if not in_atomic_block(connection):
        return False
    if not _at_test_boundary(connection):
        return True
    _run(connection)
    return False


def run_test_commits() -> None:
    """Send the writes that the code under test committed in this thread.

    For every database connection of this thread that is back at its test case's commit
    boundary, run the djangoes commit hooks still pending there, in order. Nothing to do in
    production, nor while the code under test is inside its own atomic block.
    """
    for connection in db_connections.all(initialized_only=True):
        if in_atomic_block(connection) and _at_test_boundary(connection):
            _run(connection)


def discard_test_commits() -> None:
    """Drop the djangoes commit hooks pending in this thread's test transactions.

    At the end of a test its rows roll back: what it committed but never observed need not
    be sent.
    """
    for connection in db_connections.all(initialized_only=True):
        if in_atomic_block(connection) and only_test_case_blocks(connection):
            take_djangoes_hooks(connection)


def _run(connection: Any) -> None:
    if getattr(_running, "active", False):
        return  # a hook's own requests: the hooks taken are being run in order already
    hooks = take_djangoes_hooks(connection)
    if not hooks:
        return
    _running.active = True
    try:
        for function, robust in hooks:
            _call(function, robust)
    finally:
        _running.active = False


def _call(function: Callable[[], Any], robust: bool) -> None:
    if not robust:
        function()
        return
    try:
        function()
    except Exception:
        # As Django does for a robust on_commit callback.
        logger.exception("A djangoes commit hook raised in a test transaction.")
