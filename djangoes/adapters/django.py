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
- The atomic blocks a test case opened. Django's ``TestCase`` (and pytest-django's
  non-transactional ``django_db``) runs each test inside atomic blocks that never commit; it
  marks them ``_from_testcase`` and the connection lists the open blocks in
  ``atomic_blocks``. djangoes treats the test's own blocks as the commit boundary while test
  index names are in force (see ``djangoes.transactions``), which needs to know whether every
  open block is one of them, and to run its own commit hooks (only those: they are tagged)
  when the blocks of the code under test have exited.
- Prefetched to-many relations without a queryset per row. ``prefetch_related()`` builds,
  for every row, the relation's manager and a filtered queryset that holds the prefetched
  objects (``_result_cache``, ``_prefetch_done``) in ``instance._prefetched_objects_cache``:
  most of the cost of reading rows as model instances. ``prefetch_to_many`` fills the same
  cache with querysets that hold the same objects and build their query (from the manager,
  as Django does) only when something asks for it; the lookups come from the queryset's
  ``_prefetch_related_lookups``.
- The number of a parallel test worker. Django's test runner numbers its workers (their
  test databases get that suffix) in a module global and gives no public accessor.
- Whether the system checks run for a command that works on the database (``migrate``).
  Such a command names its databases to the checks (``get_check_kwargs``), but a check
  cannot tell from its ``databases`` argument: from Django 6.1 ``run_checks`` passes every
  alias when none was named. The command's check arguments tell: the local
  ``check_kwargs`` of ``BaseCommand.execute``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from django.core.management.base import BaseCommand
from django.db import models, transaction
from django.test import runner as django_runner

#: A hook as Django keeps it in ``run_on_commit``: (savepoint ids, function, robust).
CommitHook = tuple[set[str], Callable[[], Any], bool]


def in_atomic_block(connection: Any) -> bool:
    """Return whether ``connection`` is inside ``atomic()`` (changes wait for the commit)."""
    return bool(connection.in_atomic_block)


def savepoint_ids(connection: Any) -> frozenset[str]:
    """Return the ids of the savepoints open on ``connection`` now."""
    return frozenset(connection.savepoint_ids)


class DjangoesHook:
    """A commit hook of djangoes: tagged so that ``take_djangoes_hooks`` finds it.

    It carries the ``__qualname__`` of the function it runs: Django's log of a robust hook
    that raised names the hook by it.
    """

    def __init__(self, function: Callable[[], Any]) -> None:
        self.function = function
        self.__qualname__ = getattr(function, "__qualname__", type(function).__qualname__)

    def __call__(self) -> Any:
        return self.function()


def on_commit(connection: Any, function: Callable[[], Any]) -> None:
    """Run ``function`` on commit unless the savepoints open now roll back (``on_commit``),
    tagged as a djangoes hook."""
    transaction.on_commit(DjangoesHook(function), using=connection.alias)


def append_commit_hook(connection: Any, function: Callable[[], Any], robust: bool) -> CommitHook:
    """Run ``function`` when the transaction on ``connection`` commits, whatever savepoints
    roll back in between; return the hook (for ``commit_hook_pending``).

    Only a rollback of the whole transaction drops it. ``robust`` as for ``on_commit``.
    """
    hook: CommitHook = (set(), DjangoesHook(function), robust)
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


def only_test_case_blocks(connection: Any) -> bool:
    """Return whether ``connection`` is inside atomic blocks that test cases opened, and
    only those (Django's ``TestCase`` marks its blocks ``_from_testcase``)."""
    blocks = connection.atomic_blocks
    return bool(blocks) and all(block._from_testcase for block in blocks)


def take_djangoes_hooks(connection: Any) -> list[tuple[Callable[[], Any], bool]]:
    """Remove the djangoes hooks from the pending commit hooks of ``connection``; return
    them, in the order they were registered, as ``(function, robust)``."""
    taken = [(hook[1], hook[2]) for hook in connection.run_on_commit if _ours(hook)]
    if taken:
        connection.run_on_commit = [hook for hook in connection.run_on_commit if not _ours(hook)]
    return taken


def _ours(hook: CommitHook) -> bool:
    return isinstance(hook[1], DjangoesHook)


def parallel_worker_id() -> int:
    """Return the number of this parallel test worker (1, 2, ...); 0 outside workers."""
    return int(django_runner._worker_id)  # type: ignore[attr-defined]


def prefetch_lookups(queryset: models.QuerySet) -> tuple[Any, ...]:
    """Return the ``prefetch_related()`` lookups of ``queryset``."""
    return tuple(queryset._prefetch_related_lookups)  # type: ignore[attr-defined]


class _LazyPrefetched:
    """A prefetched queryset whose other attributes come, on first use, from the one
    Django's prefetch would have built (the relation manager's ``get_queryset()``)."""

    def __getattr__(self, name: str) -> Any:
        source = self.__dict__.pop("_djangoes_prefetched_from", None)
        if source is None or name.startswith("__"):
            raise AttributeError(name)
        instance, cache_name, attribute = source
        cache = instance._prefetched_objects_cache
        mine = cache.pop(cache_name)
        try:
            real = getattr(instance, attribute).get_queryset()
        finally:
            cache[cache_name] = mine
        for key, value in real.__dict__.items():
            self.__dict__.setdefault(key, value)
        return getattr(self, name)


_LAZY_CLASSES: dict[type, type] = {}


def _lazy_class(queryset_class: type) -> type:
    lazy = _LAZY_CLASSES.get(queryset_class)
    if lazy is None:
        lazy = _LAZY_CLASSES[queryset_class] = type(
            queryset_class.__name__, (_LazyPrefetched, queryset_class), {}
        )
    return lazy


def to_many_lookup(model: type[models.Model], lookup: Any) -> bool:
    """Return whether ``prefetch_to_many`` takes ``lookup`` on rows of ``model``: the name
    of a to-many relation (many-to-many, reverse foreign key), without ``Prefetch``."""
    if not isinstance(lookup, str) or "__" in lookup:
        return False
    descriptor = getattr(model, lookup, None)
    related_manager_cls = getattr(descriptor, "related_manager_cls", None)
    return related_manager_cls is not None and hasattr(
        related_manager_cls, "get_prefetch_querysets"
    )


def prefetch_to_many(instances: Sequence[models.Model], lookup: str) -> None:
    """Prefetch the to-many relation ``lookup`` of ``instances`` (see ``to_many_lookup``).

    One query, as ``prefetch_related_objects(instances, lookup)``; afterwards
    ``instance.<lookup>.all()`` is a queryset of the same objects, in the same order.
    """
    if not instances:
        return
    first = instances[0]
    manager = getattr(first, lookup)
    related, related_key, instance_key, single, cache_name, _ = manager.get_prefetch_querysets(
        instances
    )
    if single or related._prefetch_related_lookups:
        models.prefetch_related_objects(list(instances), lookup)
        return
    groups: dict[Any, list[Any]] = {}
    for obj in related:
        groups.setdefault(related_key(obj), []).append(obj)
    queryset_class = type(manager.get_queryset())
    if issubclass(queryset_class, _LazyPrefetched):
        queryset_class = queryset_class.__mro__[2]
    lazy = _lazy_class(queryset_class)
    model = related.model
    for instance in instances:
        queryset: Any = object.__new__(lazy)
        queryset.__dict__.update(
            model=model,
            _result_cache=groups.get(instance_key(instance), []),
            _prefetch_done=True,
            _prefetch_related_lookups=(),
            _djangoes_prefetched_from=(instance, cache_name, lookup),
        )
        try:
            cache = instance._prefetched_objects_cache  # type: ignore[attr-defined]
        except AttributeError:
            cache = instance._prefetched_objects_cache = {}  # type: ignore[attr-defined]
        cache[cache_name] = queryset


def checks_for_database_command() -> bool:
    """Return whether the system checks running now were asked for by a management command
    that names its databases to them (``migrate``)."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code is BaseCommand.execute.__code__:
            return "databases" in (frame.f_locals.get("check_kwargs") or {})
        frame = frame.f_back  # type: ignore[assignment]
    return False  # run_checks() called directly, not by a command
