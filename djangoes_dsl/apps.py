"""The djangoes_dsl app: register the connections with elasticsearch.dsl, discover Documents."""

from __future__ import annotations

import logging
from typing import Any

from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import autodiscover_modules
from elasticsearch.dsl import async_connections as dsl_async_connections
from elasticsearch.dsl import connections as dsl_connections

import djangoes
from djangoes.signals import prepare_index_body

from .adapters import ClientProxy

logger = logging.getLogger("djangoes_dsl")


class DjangoesDslConfig(AppConfig):
    name = "djangoes_dsl"
    verbose_name = "djangoes DSL"
    default = True

    def ready(self) -> None:
        """Register checks, connections and Documents; never raise on invalid settings.

        Invalid ES_SERVERS / ES_INDICES / DJANGOES_* settings must not stop ``manage.py``
        (``migrate``, ``check``, ``shell`` have to run): ``manage.py check`` reports them, and
        the first use of a connection raises.
        """
        from . import checks  # noqa: F401  (registers the system checks)
        from .schema import stamp_body
        from .signals import setup_signal_processor

        ded_settings = _django_elasticsearch_dsl_settings()
        sync_dsl_connections()
        autodiscover_modules("search_indices")
        if ded_settings:
            # A django-elasticsearch-dsl project: its Documents live in documents modules.
            autodiscover_modules("documents")
        prepare_index_body.connect(_add_mappings, dispatch_uid="djangoes_dsl.mappings")
        # Every index body records the declaration it comes from (see schema.py).
        prepare_index_body.connect(stamp_body, dispatch_uid="djangoes_dsl.schema")
        setting_changed.connect(_on_setting_changed, dispatch_uid="djangoes_dsl.settings")
        try:
            setup_signal_processor()
        except ImproperlyConfigured as exc:
            logger.error(
                "Signal indexing is off: %s Run 'manage.py check' to see every problem.", exc
            )


def _django_elasticsearch_dsl_settings() -> list[str]:
    """Honour the django-elasticsearch-dsl settings the project sets (see
    ``djangoes_dsl.compat.conf``); return their names."""
    from .compat import conf as ded_conf

    used = ded_conf.used_settings()
    if used:
        from .compat import checks  # noqa: F401  (registers the check of these settings)

        ded_conf.install()
    return used


_synced_aliases: set[str] = set()


def _client(alias: str) -> Any:
    return djangoes.connections[alias].client


def _async_client(alias: str) -> Any:
    return djangoes.connections[alias].async_client


def sync_dsl_connections() -> None:
    """Register every ES_SERVERS alias with elasticsearch.dsl's connections registries.

    What is registered stands for ``djangoes.connections[alias].client`` in
    ``elasticsearch.dsl.connections``, and for the running event loop's
    ``djangoes.connections[alias].async_client`` in ``elasticsearch.dsl.async_connections``
    (see ``adapters.ClientProxy``): no client is built until a request is made. Invalid
    ES_SERVERS register nothing; ``manage.py check`` reports them.
    """
    try:
        configured = set(djangoes.connections)
    except ImproperlyConfigured:
        configured = set()
    for alias in _synced_aliases - configured:
        dsl_connections.remove_connection(alias)
        dsl_async_connections.remove_connection(alias)
    for alias in configured - _synced_aliases:
        dsl_connections.add_connection(alias, ClientProxy(alias, _client))  # type: ignore[arg-type]
        dsl_async_connections.add_connection(alias, ClientProxy(alias, _async_client))  # type: ignore[arg-type]
    _synced_aliases.clear()
    _synced_aliases.update(configured)


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "ES_SERVERS":
        sync_dsl_connections()


def _add_mappings(*, backend: Any, key: str, body: dict[str, Any], **kwargs: Any) -> None:
    from .registry import registry

    extra = registry.index_body_mappings(key, backend.alias)
    if "mappings" in extra:
        body["mappings"] = extra["mappings"]
    if "analysis" in extra:
        body.setdefault("settings", {})["analysis"] = extra["analysis"]
