"""django-elasticsearch-dsl's settings, honoured where djangoes' own are absent.

=====================================  =============================================
django-elasticsearch-dsl                djangoes
=====================================  =============================================
``ELASTICSEARCH_DSL``                   ``ES_SERVERS`` (``hosts`` → ``HOSTS``, the
                                        other client arguments → ``PARAMS``)
``ELASTICSEARCH_DSL_AUTOSYNC``          ``DJANGOES_SIGNAL_PROCESSOR = None`` when False
``ELASTICSEARCH_DSL_SIGNAL_PROCESSOR``  ``DJANGOES_SIGNAL_PROCESSOR`` (its Celery
                                        processor: ``DJANGOES_DELIVERY = "celery"``)
``ELASTICSEARCH_DSL_AUTO_REFRESH``      none: ``Document.update(refresh=...)`` only
``ELASTICSEARCH_DSL_INDEX_SETTINGS``    ``ES_INDICES[key]["SETTINGS"]``
``ELASTICSEARCH_DSL_PARALLEL``          ``search_index ... --parallel``
``ELASTICSEARCH_DSL_QUERYSET_PAGINATION``  ``Django.queryset_pagination`` or
                                        ``search_index ... --chunk-size``
=====================================  =============================================
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

import djangoes
from djangoes_dsl import conf

__all__ = [
    "DED_SETTINGS",
    "auto_refresh_enabled",
    "autosync_enabled",
    "default_index_settings",
    "install",
    "parallel_enabled",
    "queryset_pagination",
    "servers_from",
    "used_settings",
]

#: Each django-elasticsearch-dsl setting and what stands for it in djangoes.
DED_SETTINGS = {
    "ELASTICSEARCH_DSL": "ES_SERVERS (and ES_INDICES for the indices)",
    "ELASTICSEARCH_DSL_AUTOSYNC": "DJANGOES_SIGNAL_PROCESSOR = None (for False)",
    "ELASTICSEARCH_DSL_SIGNAL_PROCESSOR": "DJANGOES_SIGNAL_PROCESSOR, and "
    'DJANGOES_DELIVERY = "celery" for its Celery processor',
    "ELASTICSEARCH_DSL_AUTO_REFRESH": "no setting: djangoes does not refresh after signal writes "
    "(its test cases refresh before searches); pass refresh= to update()",
    "ELASTICSEARCH_DSL_INDEX_SETTINGS": 'ES_INDICES["<key>"]["SETTINGS"]',
    "ELASTICSEARCH_DSL_PARALLEL": "the --parallel option of search_index",
    "ELASTICSEARCH_DSL_QUERYSET_PAGINATION": "Django.queryset_pagination on each Document, or "
    "the --chunk-size option of search_index",
}

#: The module django-elasticsearch-dsl's dotted paths name, and this package.
DED_MODULE = "django_elasticsearch_dsl."
COMPAT_MODULE = "djangoes_dsl.compat."

_MISSING = object()


def _setting(name: str, default: Any = None) -> Any:
    return getattr(settings, name, default)


def used_settings() -> list[str]:
    """Return the django-elasticsearch-dsl settings the project sets."""
    return [name for name in DED_SETTINGS if hasattr(settings, name)]


def autosync_enabled() -> bool:
    return bool(_setting("ELASTICSEARCH_DSL_AUTOSYNC", True))


def auto_refresh_enabled() -> bool:
    return bool(_setting("ELASTICSEARCH_DSL_AUTO_REFRESH", True))


def default_index_settings() -> dict[str, Any]:
    return dict(_setting("ELASTICSEARCH_DSL_INDEX_SETTINGS", None) or {})


def parallel_enabled() -> bool:
    return bool(_setting("ELASTICSEARCH_DSL_PARALLEL", False))


def queryset_pagination() -> int | None:
    value = _setting("ELASTICSEARCH_DSL_QUERYSET_PAGINATION", None)
    return int(value) if value else None


def servers_from(value: Any) -> dict[str, dict[str, Any]]:
    """Return ES_SERVERS for an ``ELASTICSEARCH_DSL`` value (elasticsearch.dsl's
    ``connections.configure()`` arguments: ``{alias: client arguments}``)."""
    servers: dict[str, dict[str, Any]] = {}
    for alias, arguments in dict(value).items():
        params = dict(arguments)
        hosts = params.pop("hosts", None)
        server: dict[str, Any] = {"PARAMS": params}
        if hosts is not None:
            server["HOSTS"] = [_url(host) for host in _as_list(hosts)]
        servers[alias] = server
    return servers


def _as_list(hosts: Any) -> list[Any]:
    return [hosts] if isinstance(hosts, (str, dict)) else list(hosts)


def _url(host: Any) -> Any:
    # django-elasticsearch-dsl's own example writes 'localhost:9200', which older clients
    # read as http://localhost:9200; ES_SERVERS HOSTS are URLs.
    if isinstance(host, str) and "://" not in host:
        return f"http://{host}"
    return host


def _signal_processor(autosync: Any, processor: Any) -> Any:
    if autosync is not conf.MISSING and not autosync:
        return None
    if processor is conf.MISSING:
        return conf.MISSING
    if isinstance(processor, str) and processor.startswith(DED_MODULE):
        return COMPAT_MODULE + processor[len(DED_MODULE) :]
    return processor


def _delivery(processor: Any) -> Any:
    name = processor.rsplit(".", 1)[-1] if isinstance(processor, str) else ""
    name = name or getattr(processor, "__name__", "")
    return "celery" if name == "CelerySignalProcessor" else conf.MISSING


def install() -> None:
    """Honour django-elasticsearch-dsl's settings where djangoes' own are absent."""
    conf.add_fallback(
        "DJANGOES_SIGNAL_PROCESSOR",
        ("ELASTICSEARCH_DSL_AUTOSYNC", "ELASTICSEARCH_DSL_SIGNAL_PROCESSOR"),
        _signal_processor,
    )
    conf.add_fallback("DJANGOES_DELIVERY", ("ELASTICSEARCH_DSL_SIGNAL_PROCESSOR",), _delivery)
    declare_servers()
    setting_changed.connect(_on_setting_changed, dispatch_uid="djangoes_dsl.compat.settings")


def declare_servers() -> None:
    """Declare ``ELASTICSEARCH_DSL``'s servers (used while ES_SERVERS is absent)."""
    value = _setting("ELASTICSEARCH_DSL", _MISSING)
    if value is not _MISSING and value:
        djangoes.connections.declare(servers=servers_from(value))


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "ELASTICSEARCH_DSL":
        declare_servers()
    elif setting in ("ELASTICSEARCH_DSL_AUTOSYNC", "ELASTICSEARCH_DSL_SIGNAL_PROCESSOR"):
        from djangoes_dsl.signals import setup_signal_processor

        setup_signal_processor()
