"""The djangoes_dsl app: connect the DSL registry, discover and bind Documents."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class DjangoesDslConfig(AppConfig):
    name = "djangoes_dsl"
    verbose_name = "djangoes DSL"
    default = True

    def ready(self) -> None:
        from djangoes.signals import connections_reset, prepare_index_body

        from . import checks  # noqa: F401  (registers the system checks)
        from .registry import registry, sync_dsl_connections

        sync_dsl_connections()
        autodiscover_modules("search_indices")
        registry.bind_all()
        connections_reset.connect(_on_connections_reset, dispatch_uid="djangoes_dsl.reset")
        prepare_index_body.connect(_add_mappings, dispatch_uid="djangoes_dsl.mappings")

        from .signals import setup_signal_processor

        setup_signal_processor()


def _on_connections_reset(**kwargs: Any) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from .registry import registry, sync_dsl_connections

    try:
        sync_dsl_connections()
        registry.bind_all()
    except ImproperlyConfigured:
        # Invalid new settings: leave Documents unbound; the system checks and the next use
        # of a connection report the error with its fix.
        registry.unbind_all()


def _add_mappings(*, backend: Any, key: str, body: dict[str, Any], **kwargs: Any) -> None:
    from .registry import registry

    extra = registry.index_body_mappings(key, backend.alias)
    if "mappings" in extra:
        body["mappings"] = extra["mappings"]
    if "analysis" in extra:
        body.setdefault("settings", {})["analysis"] = extra["analysis"]
