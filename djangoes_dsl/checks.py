"""System checks: catch Document and index configuration mistakes at ``manage.py check``."""

from __future__ import annotations

from typing import Any

from django.core import checks
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured

import djangoes

from .registry import registry
from .values import lookups_of, resolve_lookup

TAG = "djangoes"


@checks.register(TAG)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """ES_SERVERS and ES_INDICES must be valid, and each served index configured."""
    try:
        djangoes.connections.settings  # noqa: B018
        djangoes.connections.indices  # noqa: B018
        for alias in djangoes.connections:
            djangoes.connections.get_server_indices(alias)
    except (ImproperlyConfigured, KeyError) as exc:
        return [
            checks.Error(
                str(exc),
                hint="Fix ES_SERVERS / ES_INDICES as the message says.",
                id="djangoes_dsl.E000",
            )
        ]
    served = {key for alias in djangoes.connections for key in _indices_of(alias)}
    return [
        checks.Warning(
            f"ES_INDICES['{key}'] is served by no server.",
            hint=f"Add '{key}' to the INDICES of an ES_SERVERS entry, or remove it.",
            id="djangoes_dsl.W001",
        )
        for key in djangoes.connections.indices
        if key not in served
    ]


def _indices_of(alias: str) -> list[str]:
    return list(djangoes.connections.get_server_settings(alias)["INDICES"])


@checks.register(TAG)
def check_documents(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Every registered Document has a configured, served index and existing model fields."""
    errors: list[checks.CheckMessage] = []
    try:
        djangoes.connections.settings  # noqa: B018
        configured = djangoes.connections.indices
    except ImproperlyConfigured:
        return errors  # reported by check_settings
    for document in registry.documents:
        key, using = registry.registration(document)
        name = f"{document.__module__}.{document.__qualname__}"
        if key not in configured:
            errors.append(
                checks.Error(
                    f"{name} is registered to the index '{key}', which is not in ES_INDICES.",
                    hint=f"Add ES_INDICES['{key}'] or register it to one of {sorted(configured)}.",
                    obj=document,
                    id="djangoes_dsl.E001",
                )
            )
            continue
        servers = registry.servers_for(key)
        if not servers:
            errors.append(
                checks.Error(
                    f"{name} is registered to the index '{key}', which no server serves.",
                    hint=f"Add '{key}' to the INDICES of an ES_SERVERS entry.",
                    obj=document,
                    id="djangoes_dsl.E002",
                )
            )
        elif using is not None and using not in servers:
            errors.append(
                checks.Error(
                    f"{name} is registered with using='{using}', but ES_SERVERS['{using}'] "
                    f"does not serve the index '{key}'.",
                    hint=f"Use one of {servers} or add '{key}' to that server's INDICES.",
                    obj=document,
                    id="djangoes_dsl.E005",
                )
            )
        elif using is None and len(servers) > 1 and djangoes.DEFAULT_ES_ALIAS not in servers:
            errors.append(
                checks.Warning(
                    f"{name}: the index '{key}' is served by {servers}; '{servers[0]}' is used.",
                    hint=f"Choose one with @register('{key}', using='...').",
                    obj=document,
                    id="djangoes_dsl.W002",
                )
            )
        errors.extend(_check_model_fields(document, name))
    errors.extend(_check_shared_mappings())
    return errors


def _check_model_fields(document: Any, name: str) -> list[checks.CheckMessage]:
    model = document.get_model()
    if model is None:
        return []
    errors: list[checks.CheckMessage] = []
    for field_name in getattr(document.Django, "fields", ()):
        try:
            model._meta.get_field(field_name)
        except FieldDoesNotExist:
            errors.append(
                checks.Error(
                    f"{name}.Django.fields names '{field_name}', which "
                    f"{model._meta.label} does not have.",
                    hint=f"Remove it, or declare it on the Document with a prepare_{field_name}().",
                    obj=document,
                    id="djangoes_dsl.E003",
                )
            )
    for field_name, path in lookups_of(document).items():
        try:
            resolve_lookup(model, path)
        except ValueError as exc:
            errors.append(
                checks.Error(
                    f"{name}.Django.lookups['{field_name}'] is invalid: {exc}.",
                    hint="Give a path of relations ending at a field, like 'category__name'.",
                    obj=document,
                    id="djangoes_dsl.E006",
                )
            )
    return errors


def _check_shared_mappings() -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    seen: set[tuple[str, str]] = set()
    for document in registry.documents:
        key, _ = registry.registration(document)
        binding = document.get_binding()
        using = binding.using if binding is not None else None
        if using is None or (key, using) in seen:
            continue
        seen.add((key, using))
        sharing = registry.documents_for_index(key, using)
        if len(sharing) < 2:
            continue
        try:
            registry.get_index(key, using).to_dict()  # type: ignore[union-attr]
        except ValueError as exc:
            names = ", ".join(doc.__name__ for doc in sharing)
            errors.append(
                checks.Error(
                    f"Documents {names} share the index '{key}' with conflicting mappings: {exc}",
                    hint="Give shared fields the same type and options, or use separate indices.",
                    id="djangoes_dsl.E004",
                )
            )
    return errors


@checks.register(TAG, deploy=True)
def check_outbox(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Warn when indexing operations have waited in the outbox too long (``check --deploy``)."""
    from django.conf import settings
    from django.db import DatabaseError

    from . import outbox

    limit = float(getattr(settings, "DJANGOES_OUTBOX_WARN_AFTER", 600))
    try:
        entries = outbox.status()
    except DatabaseError:
        return []  # not migrated yet: nothing can be waiting
    messages: list[checks.CheckMessage] = []
    for entry in entries:
        age = entry.oldest_age or 0.0
        if entry.failed or age > limit:
            messages.append(
                checks.Warning(
                    f"{entry.pending:,} indexing operation(s) of {entry.document} wait in the "
                    f"outbox of database '{entry.database}' (the oldest for {age:,.0f}s) and "
                    f"{entry.failed:,} were refused by Elasticsearch.",
                    hint=(
                        "Run 'manage.py search_index sync' (and keep 'search_index sync "
                        "--watch' or a periodic drain running); see 'search_index status'. "
                        "Refused operations need a fix, then 'sync --include-failed'."
                    ),
                    id="djangoes_dsl.W003",
                )
            )
    return messages


@checks.register(TAG)
def check_delivery(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """DJANGOES_DELIVERY must name a mode whose task engine can be imported."""
    from importlib.util import find_spec

    from . import delivery

    try:
        mode = delivery.mode()
        delivery.queue()
    except ImproperlyConfigured as exc:
        return [
            checks.Error(
                str(exc), hint="Fix the setting as the message says.", id="djangoes_dsl.E050"
            )
        ]
    missing = {
        delivery.DJANGO_TASKS: (
            find_spec("django.tasks") is None and find_spec("django_tasks") is None,
            "Install the django-tasks backport (pip install 'djangoes[tasks]'), or use "
            "Django 6.0, whose django.tasks is built in.",
        ),
        delivery.CELERY: (
            find_spec("celery") is None,
            "Install Celery (pip install 'djangoes[celery]') and define your Celery app.",
        ),
    }
    absent, hint = missing.get(mode, (False, ""))
    if not absent:
        return []
    return [
        checks.Error(
            f"DJANGOES_DELIVERY is {mode!r}, but its task engine cannot be imported.",
            hint=hint,
            id="djangoes_dsl.E051",
        )
    ]
