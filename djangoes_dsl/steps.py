"""One account of a feature's requests, sent with the sync or the async API.

A *steps* generator yields each request it needs (a search, or one of the requests of
djangoes_dsl.embeddings), is sent back the request's answer, and returns its result.
:func:`run_steps` answers with the sync API and :func:`arun_steps` with the async one: the
sync and the async side of a paginator, a hybrid search or a kNN share one account of what
they ask for and differ only in how they send it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from typing import Any

__all__ = ["Steps", "arun_steps", "run_steps"]

#: Yields each request to send, is answered with the request's answer, returns its result.
Steps = Generator[Any, Any, Any]


def _execute(request: Any) -> Any:
    return request.execute()


def run_steps(steps: Steps, answer: Callable[[Any], Any] = _execute) -> Any:
    """Answer the requests of ``steps`` with ``answer`` (default: ``request.execute()``);
    return its result."""
    try:
        request = next(steps)
        while True:
            request = steps.send(answer(request))
    except StopIteration as done:
        return done.value


async def arun_steps(steps: Steps, answer: Callable[[Any], Awaitable[Any]] = _execute) -> Any:
    """Answer the requests of ``steps`` with ``await answer(request)`` (default: ``await
    request.execute()``, an async search's); return its result."""
    try:
        request = next(steps)
        while True:
            request = steps.send(await answer(request))
    except StopIteration as done:
        return done.value
