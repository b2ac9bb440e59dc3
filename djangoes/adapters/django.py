"""What djangoes needs from Django beyond its public API.

- Commit hooks that survive a savepoint rollback. ``transaction.on_commit()`` ties a hook
  to the savepoints open when it is registered, so a hook registered inside a savepoint is
  dropped when that savepoint rolls back. The signal processor keeps one batch per
  transaction, fed from inside any savepoint; its sending hook must run on commit unless
  the whole transaction rolls back, and after the markers that tell which savepoints
  survived. Django has no public way to register such a hook, nor to ask whether a hook
  is still pending; ``BaseDatabaseWrapper.run_on_commit`` and ``savepoint_ids`` hold that
  state, and ``in_atomic_block`` tells whether changes wait for a commit (autocommit may be
  off outside any ``atomic()``, where ``on_commit()`` refuses to register hooks).
- The number of a parallel test worker. Django's test runner numbers its workers (their
  test databases get that suffix) in a module global and gives no public accessor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.test import runner as django_runner

#: A hook as Django keeps it in ``run_on_commit``: (savepoint ids, function, robust).
CommitHook = tuple[set[str], Callable[[], Any], bool]


def in_atomic_block(connection: Any) -> bool:
    """Return whether ``connection`` is inside ``atomic()`` (changes wait for the commit)."""
    return bool(connection.in_atomic_block)


def savepoint_ids(connection: Any) -> frozenset[str]:
    """Return the ids of the savepoints open on ``connection`` now."""
    return frozenset(connection.savepoint_ids)


def append_commit_hook(connection: Any, function: Callable[[], Any], robust: bool) -> CommitHook:
    """Run ``function`` when the transaction on ``connection`` commits, whatever savepoints
    roll back in between; return the hook (for ``commit_hook_pending``).

    Only a rollback of the whole transaction drops it. ``robust`` as for ``on_commit``.
    """
    hook: CommitHook = (set(), function, robust)
    connection.run_on_commit.append(hook)
    return hook


def commit_hook_pending(connection: Any, hook: CommitHook | None) -> bool:
    """Return whether ``hook`` is still waiting for the commit of ``connection``."""
    hooks = connection.run_on_commit
    if hook is None or not hooks:
        return False
    # A savepoint rollback rebuilds the list (and its tuples): compare the functions.
    function = hook[1]
    return hooks[-1][1] is function or any(pending[1] is function for pending in hooks)


def parallel_worker_id() -> int:
    """Return the number of this parallel test worker (1, 2, ...); 0 outside workers."""
    return int(django_runner._worker_id)  # type: ignore[attr-defined]
