"""Exceptions raised by the djangoes connections layer."""

from django.core.exceptions import ImproperlyConfigured
from django.utils.connection import ConnectionDoesNotExist as DjangoConnectionDoesNotExist

__all__ = [
    "ConnectionDoesNotExist",
    "ImproperlyConfigured",
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
