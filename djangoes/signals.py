"""Signals sent by the djangoes connections layer."""

from django.dispatch import Signal

#: Sent after the handler dropped its backends and its names in force may have changed
#: (``override_settings``, a switch to or from test names, ``reset()``). Arguments:
#: ``handler``. Nothing in djangoes needs it: whatever derives from the settings asks the
#: handler again when ``handler.generation`` changed.
connections_reset = Signal()

#: Sent while the body of an index about to be created is assembled.
#: Arguments: ``backend``, ``key`` (the ES_INDICES key), ``body`` (a dict to extend in place,
#: e.g. with ``mappings``).
prepare_index_body = Signal()
