"""Exceptions raised by the djangoes connections layer."""

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.connection import ConnectionDoesNotExist as DjangoConnectionDoesNotExist
from elasticsearch import ApiError

__all__ = [
    "ConnectionDoesNotExist",
    "ImproperlyConfigured",
    "IndexCreationError",
    "IndexDoesNotExist",
    "LiveIndexWriteError",
]


class _KeyErrorMessage(KeyError):
    # KeyError quotes its message in str(); these carry sentences, so show them as written.
    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ConnectionDoesNotExist(_KeyErrorMessage, DjangoConnectionDoesNotExist):
    """No server with that alias is configured in ES_SERVERS."""


class IndexDoesNotExist(_KeyErrorMessage):
    """No index with that key is configured in ES_INDICES."""


class LiveIndexWriteError(RuntimeError):
    """A write aimed at a live (non-test) index while test settings are active."""


class IndexCreationError(ApiError):
    """Elasticsearch refused to create an index: the message names the ES_INDICES key, the
    settings involved and what to do. An ``elasticsearch.ApiError`` (``meta``, ``body``, and
    ``__cause__`` are the server's answer)."""

    def __init__(self, message: str, error: Any) -> None:
        super().__init__(message, meta=error.meta, body=error.body)
        self.explanation = message

    def __str__(self) -> str:
        return self.explanation
