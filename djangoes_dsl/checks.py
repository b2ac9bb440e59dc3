"""System checks: catch Document and index configuration mistakes at ``manage.py check``."""

from __future__ import annotations

import inspect
from typing import Any

from django.core import checks
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db import DatabaseError
from elasticsearch import ApiError, TransportError

import djangoes
from djangoes import validation
from djangoes.adapters.django import checks_for_database_command
from djangoes.debug import exposed_credentials
from djangoes.validation import ConfigurationError

from . import conf, outbox, schema
from .adapters import mapping_field_names
from .embeddings import embedding_fields
from .registry import registry
from .values import lookups_of, resolve_lookup

TAG = "djangoes"


#: The check id of each kind of ES_SERVERS / ES_INDICES problem (djangoes.validation).
CONFIGURATION_IDS = {
    validation.SETTINGS: "djangoes_dsl.E000",
    validation.NAMES: "djangoes_dsl.E020",
    validation.DUPLICATES: "djangoes_dsl.E021",
    validation.CREDENTIALS: "djangoes_dsl.E022",
    validation.BACKEND: "djangoes_dsl.E023",
}


def _during_database_command(
    errors: list[Any], what: str, id: str
) -> list[checks.CheckMessage] | None:
    """Return one warning for ``errors`` when a database command (``migrate``) runs; else None.

    A command that names its databases to the checks works on the database, which
    Elasticsearch's settings do not concern: it must run (``migrate`` above all), so the
    problems are summed up in a warning instead of stopping it. ``check`` and every other
    command report them as errors.
    """
    if not errors or not checks_for_database_command():
        return None
    return [
        checks.Warning(
            f"{what} have {len(errors)} problem(s); the first: {errors[0]}",
            hint="Run 'manage.py check' to see them all; connections raise on first use.",
            id=id,
        )
    ]


@checks.register(TAG)
def check_settings(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """ES_SERVERS and ES_INDICES must be valid, and each served index configured."""
    errors = djangoes.connections.configuration_errors()
    summary = _during_database_command(errors, "ES_SERVERS / ES_INDICES", "djangoes_dsl.W010")
    if summary is not None:
        return summary
    if errors:
        return [_configuration_error(error) for error in errors]
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


def _configuration_error(error: ImproperlyConfigured) -> checks.CheckMessage:
    if isinstance(error, ConfigurationError):
        return checks.Error(
            error.problem,
            hint=error.hint or "Fix ES_SERVERS / ES_INDICES as the message says.",
            id=CONFIGURATION_IDS.get(error.kind, "djangoes_dsl.E000"),
        )
    # A custom backend's own problem (its validate_settings() returned a plain one).
    return checks.Error(
        str(error), hint="Fix ES_SERVERS as the message says.", id="djangoes_dsl.E023"
    )


@checks.register(TAG)
def check_dsl_settings(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Every DJANGOES_* setting must be valid; unknown DJANGOES_* names are probably typos."""
    errors = conf.all_errors()
    summary = _during_database_command(errors, "DJANGOES_* settings", "djangoes_dsl.W031")
    messages: list[checks.CheckMessage] = summary or [
        checks.Error(error.problem, hint=error.hint or None, id="djangoes_dsl.E030")
        for error in errors
    ]
    for name, close in conf.unknown_settings():
        messages.append(
            checks.Warning(
                f"{name} is not a setting djangoes_dsl knows; it has no effect.",
                hint=f"{close + ' ' if close else ''}The settings are "
                f"{', '.join(conf.SETTINGS)} (see docs/indexing.md).",
                id="djangoes_dsl.W030",
            )
        )
    return messages


@checks.register(TAG, checks.Tags.security)
def check_credentials_in_reports(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Credentials that Django's error reports would show (HOSTS URLs, some PARAMS)."""
    try:
        exposed = exposed_credentials()
    except ImportError:
        return []  # a DEFAULT_EXCEPTION_REPORTER_FILTER that cannot be imported: Django says so
    return [
        checks.Warning(
            f"{where} holds credentials that Django's error reports (the DEBUG page, the "
            f"ADMINS e-mails) would show in clear: Django's filter hides only settings whose "
            f"key looks secret, never a password inside a HOSTS URL.",
            hint="Give them as USER and PASSWORD (or API_KEY) in the server's settings, or set "
            "DEFAULT_EXCEPTION_REPORTER_FILTER = "
            "'djangoes.debug.SafeExceptionReporterFilter'.",
            id="djangoes_dsl.W020",
        )
        for where in exposed
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
    except (ImproperlyConfigured, KeyError):
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
        errors.extend(_check_hooks(document, name))
        errors.extend(_check_embeddings(document, name))
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


def _check_embeddings(document: Any, name: str) -> list[checks.CheckMessage]:
    """Every embedding's embedder can be imported, says its dims and model, agrees with the
    mapping's dims, and its source names fields of the Document."""
    errors: list[checks.CheckMessage] = []
    names = set(mapping_field_names(document))
    for field_name, field in embedding_fields(document).items():
        spec = field._djangoes_embedder
        where = f"{name}.{field_name}"
        try:
            dims, model = spec.dims, spec.model
        except ImproperlyConfigured as exc:
            errors.append(
                checks.Error(
                    f"{where}: {exc}",
                    hint="Check the embedder= of the fields.Embedding (an importable object "
                    "or class with embed(texts), dims and model).",
                    obj=document,
                    id="djangoes_dsl.E050",
                )
            )
            continue
        declared = field._djangoes_dims
        if declared is not None and declared != dims:
            errors.append(
                checks.Error(
                    f"{where} declares dims={declared}, but its embedder {spec.describe()} "
                    f"(model '{model}') makes vectors of {dims}.",
                    hint=f"Set dims={dims} (or leave dims out: it is taken from the embedder); "
                    "then 'manage.py search_index migrate' rebuilds the index.",
                    obj=document,
                    id="djangoes_dsl.E051",
                )
            )
        unknown = [source for source in field._djangoes_source if source not in names]
        if unknown:
            errors.append(
                checks.Error(
                    f"{where} embeds {unknown}, which are not fields of the Document.",
                    hint=f"Name fields of {name} in source= (one of {sorted(names)}).",
                    obj=document,
                    id="djangoes_dsl.E052",
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

    limit = float(conf.get("DJANGOES_OUTBOX_WARN_AFTER"))
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
def check_shared_kinds(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Documents sharing an index must have distinct kinds (their ids are ``<kind>:<pk>``)."""
    errors: list[checks.CheckMessage] = []
    by_key: dict[str, dict[str, list[Any]]] = {}
    for document in registry.documents:
        key, _ = registry.registration(document)
        by_key.setdefault(key, {}).setdefault(document.get_kind(), []).append(document)
    for key, kinds in by_key.items():
        for kind, documents in kinds.items():
            if len(documents) > 1:
                names = ", ".join(f"{d.__module__}.{d.__qualname__}" for d in documents)
                errors.append(
                    checks.Error(
                        f"Documents {names} share the index '{key}' with the same kind "
                        f"'{kind}', so their documents would overwrite each other.",
                        hint="Give each a distinct Django.kind, e.g. kind = 'book_summary'.",
                        id="djangoes_dsl.E040",
                    )
                )
    return errors


def _served() -> list[tuple[str, str]]:
    """Return ``(key, server alias)`` of every served index ([] while the settings are invalid:
    ``check_settings`` reports them)."""
    try:
        return schema.targets()
    except ImproperlyConfigured:
        return []


@checks.register(TAG, deploy=True)
def check_schema(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Warn when a live index does not match what the code declares (``check --deploy``)."""
    messages: list[checks.CheckMessage] = []
    for key, using in _served():
        if not registry.documents_for_index(key):
            continue  # no fingerprint to compare; 'search_index status' compares the rest
        try:
            declared, live, exists = schema.live_fingerprints(key, using)
        except (ApiError, TransportError) as exc:
            messages.append(
                checks.Warning(
                    f"The index '{key}' on ES_SERVERS['{using}'] could not be checked against "
                    f"its declaration: {djangoes.connections[using].redact(str(exc))}",
                    hint="Make sure the server answers, then run 'manage.py check --deploy'.",
                    id="djangoes_dsl.W041",
                )
            )
            continue
        if exists and live == declared:
            continue
        what = "does not exist" if not exists else "does not match its declaration"
        messages.append(
            checks.Warning(
                f"The index '{key}' on ES_SERVERS['{using}'] {what} (Document mappings, "
                f"SETTINGS or ALIASES changed since it was made).",
                hint=(
                    "Run 'manage.py search_index status' to see the differences and "
                    "'manage.py search_index migrate' to apply them."
                ),
                id="djangoes_dsl.W040",
            )
        )
    return messages


@checks.register(TAG, deploy=True)
def check_node_modules(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Every analysis component and field type an index uses comes from a module its server
    has (``check --deploy``: one request per server whose indices need a module)."""
    from djangoes.backends.capabilities import (
        MODULE_FIX,
        describe,
        missing_modules,
        requirements,
    )

    messages: list[checks.CheckMessage] = []
    for key, using in _served():
        backend = djangoes.connections[using]
        body = schema.declared_body(backend, key)
        if not requirements(body):
            continue
        try:
            missing = missing_modules(backend.client, body)
        except (ApiError, TransportError):
            continue  # W041 says the server cannot be asked
        if missing:
            messages.append(
                checks.Error(
                    f"The index '{key}' cannot be created on ES_SERVERS['{using}']: "
                    f"{describe(missing, key)}.",
                    hint=MODULE_FIX,
                    id="djangoes_dsl.E042",
                )
            )
    return messages


#: The hooks a Document may override that djangoes calls on the class: name -> the arguments
#: it passes (after ``cls``).
CLASS_HOOKS = {
    "get_queryset": (),
    "get_instances_from_related": ("related_instance",),
    "get_related_models": (),
    "get_chunk_size": (),
    "from_instance": ("instance",),
}

#: The hooks djangoes calls on a Document instance: name (or prefix) -> arguments after ``self``.
INSTANCE_HOOKS = {"prepare": ("instance",)}
INSTANCE_HOOK_PREFIXES = {"prepare_": ("instance",)}


def _check_hooks(document: Any, name: str) -> list[checks.CheckMessage]:
    """Return an error for each overridden hook djangoes could not call as it does."""
    from .documents import Document

    errors: list[checks.CheckMessage] = []
    defined = {
        attribute
        for klass in document.__mro__
        if klass not in Document.__mro__
        for attribute in vars(klass)
    }
    for attribute in sorted(defined):
        if attribute in CLASS_HOOKS:
            problem = _hook_problem(document, attribute, CLASS_HOOKS[attribute], on_class=True)
        elif attribute in INSTANCE_HOOKS or attribute.startswith(tuple(INSTANCE_HOOK_PREFIXES)):
            problem = _hook_problem(document, attribute, ("instance",), on_class=False)
        else:
            continue
        if problem is not None:
            message, hint = problem
            errors.append(
                checks.Error(
                    f"{name}.{attribute} {message}.",
                    hint=hint,
                    obj=document,
                    id="djangoes_dsl.E007",
                )
            )
    return errors


def _hook_problem(
    document: Any, attribute: str, arguments: tuple[str, ...], *, on_class: bool
) -> tuple[str, str] | None:
    """Return (what is wrong, how to fix it) for hook ``attribute``, or None when it fits."""
    static = inspect.getattr_static(document, attribute)
    wanted = ", ".join(("cls" if on_class else "self", *arguments))
    shape = f"def {attribute}({wanted})"
    if on_class and not isinstance(static, (classmethod, staticmethod)):
        if not callable(static):
            return f"is {static!r}, not a method", f"Define it as @classmethod {shape}."
        return (
            "is an instance method, but djangoes calls it on the class",
            f"Decorate it with @classmethod: @classmethod {shape}.",
        )
    if not on_class and isinstance(static, (classmethod, staticmethod)):
        return None  # callable on an instance with the same arguments
    if not on_class and not callable(static):
        return f"is {static!r}, not a method", f"Define it as {shape}."
    target = getattr(document, attribute)
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return None  # a callable whose signature cannot be read: trust it
    placeholders = [None] * (len(arguments) + (0 if on_class else 1))
    try:
        signature.bind(*placeholders)
    except TypeError:
        return (
            f"takes {signature}, but djangoes calls it with "
            f"({', '.join(arguments) or 'no arguments'})",
            f"Define it as {'@classmethod ' if on_class else ''}{shape}.",
        )
    return None
