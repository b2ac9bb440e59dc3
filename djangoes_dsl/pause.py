"""Pause signal-driven indexing for a block of code."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from django.db import models

from .documents import Document

_ALL = object()
_paused: ContextVar[Any] = ContextVar("djangoes_dsl_paused", default=frozenset())


@contextlib.contextmanager
def indexing_paused(*targets: type[Document] | type[models.Model]) -> Iterator[None]:
    """Skip signal-driven indexing in this block (of ``targets`` only, when given).

    Targets are Documents or models. Changes made meanwhile are not queued: after a bulk
    import, run ``manage.py search_index populate`` (or ``rebuild``). The pause is local to
    the current thread (and asyncio task).
    """
    current = _paused.get()
    if not targets or current is _ALL:
        new: Any = _ALL
    else:
        new = frozenset(current) | frozenset(targets)
    token = _paused.set(new)
    try:
        yield
    finally:
        _paused.reset(token)


def is_paused(document: type[Document]) -> bool:
    """Return whether signal-driven indexing of ``document`` is paused here and now."""
    paused = _paused.get()
    if paused is _ALL:
        return True
    return bool(paused) and (document in paused or document.get_model() in paused)
