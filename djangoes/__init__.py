"""djangoes: Elasticsearch connections for Django, modelled on ``django.db``."""

import os

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.connection import ConnectionProxy

from .exceptions import (
    ConnectionDoesNotExist,
    IndexCreationError,
    IndexDoesNotExist,
    LiveIndexWriteError,
)
from .handler import DEFAULT_ES_ALIAS, ConnectionHandler, load_backend

__all__ = [
    "DEFAULT_ES_ALIAS",
    "ConnectionDoesNotExist",
    "ConnectionHandler",
    "IndexCreationError",
    "IndexDoesNotExist",
    "LiveIndexWriteError",
    "connection",
    "connections",
    "load_backend",
]

connections = ConnectionHandler()
connection = ConnectionProxy(connections, DEFAULT_ES_ALIAS)


@receiver(setting_changed)
def _reconfigure_on_setting_change(*, setting: str, **kwargs: object) -> None:
    if setting in ("ES_SERVERS", "ES_INDICES"):
        connections.reconfigure()


# A forked child (multiprocessing, gunicorn workers after preload, ...) must not reuse the
# parent's sockets: drop the parent's clients as soon as the child starts.
os.register_at_fork(after_in_child=connections.check_for_multiprocess)
