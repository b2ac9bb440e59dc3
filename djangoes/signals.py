"""Signals sent by the djangoes connections layer."""

from django.dispatch import Signal

#: Sent after the handler dropped its backends (settings change, test switch, fork).
#: Arguments: ``handler``. Receivers that hold clients (e.g. a DSL registry) refresh them.
connections_reset = Signal()

#: Sent while the body of an index about to be created is assembled.
#: Arguments: ``backend``, ``key`` (the ES_INDICES key), ``body`` (a dict to extend in place,
#: e.g. with ``mappings``).
prepare_index_body = Signal()
