"""Every ``DJANGOES_*`` setting of djangoes_dsl, in one table: type, default, rule, meaning.

Read a setting with :func:`get`::

    from djangoes_dsl import conf

    conf.get("DJANGOES_BULK_CHUNK_SIZE")  # 500 unless settings say otherwise

The value is validated on first use, and again whenever the setting (or one it depends on)
is given another value (``override_settings`` included); an invalid value raises
``ImproperlyConfigured`` naming the setting, the value and the fix. ``manage.py check``
validates them all (``djangoes_dsl.E030``) and warns about ``DJANGOES_*`` names it does not
know (``djangoes_dsl.W030``). Some values come back in a form ready to use: the signal
processor and the failure handler as the class or callable a dotted path names.
"""

from __future__ import annotations

import importlib.util
import inspect
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings as django_settings
from django.utils.module_loading import import_string

from djangoes.validation import ConfigurationError, show, suggest

__all__ = ["SETTINGS", "Setting", "add_fallback", "all_errors", "get", "unknown_settings"]

PREFIX = "DJANGOES_"


class Invalid(ValueError):
    """Raised by a validator: ``problem`` completes "NAME is VALUE; ...", ``hint`` is the fix."""

    def __init__(self, problem: str, hint: str = "") -> None:
        super().__init__(problem)
        self.problem = problem
        self.hint = hint


@dataclass(frozen=True)
class Setting:
    """One ``DJANGOES_*`` setting.

    ``validate(value)`` returns the value to use (raising :class:`Invalid`); ``rule`` says in
    words what it accepts, ``doc`` what it does; ``depends`` names settings the rule reads.
    """

    name: str
    default: Any
    rule: str
    doc: str
    validate: Callable[[Any], Any]
    depends: tuple[str, ...] = ()


# -- validators ------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _seconds(minimum: float, *, inclusive: bool) -> Callable[[Any], Any]:
    def validate(value: Any) -> Any:
        ok = _is_number(value) and (value >= minimum if inclusive else value > minimum)
        if not ok:
            rule = f"{'>=' if inclusive else '>'} {minimum:g}"
            raise Invalid(
                f"it must be a number of seconds {rule}",
                "Give a number (e.g. 60), not a string or a timedelta.",
            )
        return value

    return validate


def _integer(minimum: int, *, none: bool = False) -> Callable[[Any], Any]:
    def validate(value: Any) -> Any:
        if none and value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise Invalid(
                f"it must be a whole number >= {minimum}{' or None' if none else ''}",
                "Give a number such as 500, not a string (int(os.environ[...]) converts one).",
            )
        return value

    return validate


def _choice(*choices: str) -> Callable[[Any], Any]:
    def validate(value: Any) -> Any:
        if value not in choices:
            listed = " or ".join(repr(choice) for choice in choices)
            close = suggest(value, choices) if isinstance(value, str) else ""
            raise Invalid(f"it must be {listed}", close.strip())
        return value

    return validate


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid(
            "it must be True or False",
            "Give a boolean; a string such as 'False' would count as true.",
        )
    return value


def _import(value: str, hint: str) -> Any:
    try:
        return import_string(value)
    except ImportError as exc:
        raise Invalid(f"it cannot be imported: {exc}", hint) from exc


#: Values of DJANGOES_SIGNAL_PROCESSOR that switch signal indexing off.
DISABLED_PROCESSOR = ("disabled", "", None)
#: What a signal processor class provides (djangoes_dsl.signals.BaseSignalProcessor does).
PROCESSOR_METHODS = ("setup", "teardown", "enqueue", "send")


def _signal_processor(value: Any) -> Any:
    if value in DISABLED_PROCESSOR:
        return None
    hint = (
        "Give the dotted path of a subclass of djangoes_dsl.signals.BaseSignalProcessor, or "
        "None to switch signal indexing off."
    )
    found = _import(value, hint) if isinstance(value, str) else value
    # Told by what it provides: this module is read by djangoes_dsl.signals, not the reverse.
    if not (
        isinstance(found, type)
        and all(callable(getattr(found, method, None)) for method in PROCESSOR_METHODS)
    ):
        what = "a class" if isinstance(found, type) else f"a {type(found).__name__}"
        raise Invalid(
            f"it names {what} that is not a subclass of djangoes_dsl.signals.BaseSignalProcessor",
            hint,
        )
    return found


def _failure_handler(value: Any) -> Any:
    if value is None or value == "":
        return None
    hint = (
        "Give the dotted path of a function taking one argument (the "
        "djangoes_dsl.indexing.IndexingFailure), or None."
    )
    if not isinstance(value, str) and not callable(value):
        raise Invalid("it must be a dotted path or a callable", hint)
    found = _import(value, hint) if isinstance(value, str) else value
    if not callable(found):
        raise Invalid(f"it names a {type(found).__name__}, which cannot be called", hint)
    try:
        signature = inspect.signature(found)
    except (TypeError, ValueError):  # builtins without a signature: take them as they are
        return found
    try:
        signature.bind(object())
    except TypeError as exc:
        raise Invalid(f"it cannot be called with one argument (the failure): {exc}", hint) from exc
    return found


def _delivery(value: Any) -> Any:
    _choice("inline", "django_tasks", "celery")(value)
    if value == "django_tasks" and not (_installed("django.tasks") or _installed("django_tasks")):
        raise Invalid(
            "it needs django.tasks (Django 6.0) or the django-tasks backport, and neither is "
            "installed",
            "pip install django-tasks, or use 'inline'.",
        )
    if value == "celery" and not _installed("celery"):
        raise Invalid("it needs Celery, which is not installed", "pip install celery.")
    return value


def _queue_name(value: Any) -> Any:
    if value is not None and (not isinstance(value, str) or not value):
        raise Invalid(
            "it must be the name of a queue of your task engine, or None",
            "Give a queue name such as 'indexing' that your workers consume, or None for the "
            "engine's default queue.",
        )
    return value


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _max_backoff(value: Any) -> Any:
    _seconds(0, inclusive=False)(value)
    backoff = get("DJANGOES_RETRY_BACKOFF")
    if value < backoff:
        raise Invalid(
            f"it must be at least DJANGOES_RETRY_BACKOFF ({backoff!r})",
            "Raise it, or lower DJANGOES_RETRY_BACKOFF.",
        )
    return value


# -- the table ---------------------------------------------------------------------------------

_TABLE = [
    Setting(
        "DJANGOES_SIGNAL_PROCESSOR",
        "djangoes_dsl.signals.TransactionSignalProcessor",
        "a dotted path to (or a) subclass of djangoes_dsl.signals.BaseSignalProcessor; None or "
        '"disabled" for none',
        "The processor that turns model signals into index writes.",
        _signal_processor,
    ),
    Setting(
        "DJANGOES_BULK_CHUNK_SIZE",
        500,
        "a whole number >= 1",
        "Rows per bulk request of signal writes.",
        _integer(1),
    ),
    Setting(
        "DJANGOES_INDEXING_ERRORS",
        "log",
        '"log" or "raise"',
        'What a failed write does after the commit: "log" logs it (and hands it to the '
        'failure handler), "raise" also raises djangoes_dsl.indexing.IndexingError.',
        _choice("log", "raise"),
    ),
    Setting(
        "DJANGOES_INDEXING_FAILURE_HANDLER",
        None,
        "None, or a dotted path to (or a) callable taking one argument",
        "Called with each djangoes_dsl.indexing.IndexingFailure after it is logged.",
        _failure_handler,
    ),
    Setting(
        "DJANGOES_REBUILD_PROCESSES",
        None,
        "None or a whole number >= 0",
        "Worker processes of rebuild/populate fills: None chooses, 0 never forks.",
        _integer(0, none=True),
    ),
    Setting(
        "DJANGOES_REBUILD_LEASE",
        120,
        "a number of seconds > 0",
        "How long a rebuild's lock lasts unless the running rebuild renews it.",
        _seconds(0, inclusive=False),
    ),
    Setting(
        "DJANGOES_DURABLE",
        False,
        "True or False",
        "Record indexing operations in the outbox inside the transaction of the change.",
        _boolean,
    ),
    Setting(
        "DJANGOES_OUTBOX_GRACE",
        60,
        "a number of seconds >= 0",
        "How long a recorded operation is left to the process that recorded it before "
        "drainers may send it.",
        _seconds(0, inclusive=True),
    ),
    Setting(
        "DJANGOES_RETRY_BACKOFF",
        1,
        "a number of seconds > 0",
        "The delay before the first retry of a failed operation; it doubles on each attempt.",
        _seconds(0, inclusive=False),
    ),
    Setting(
        "DJANGOES_RETRY_MAX_BACKOFF",
        300,
        "a number of seconds >= DJANGOES_RETRY_BACKOFF",
        "The longest delay between retries.",
        _max_backoff,
        depends=("DJANGOES_RETRY_BACKOFF",),
    ),
    Setting(
        "DJANGOES_OUTBOX_WARN_AFTER",
        600,
        "a number of seconds > 0",
        "Warn about operations pending in the outbox for longer than this.",
        _seconds(0, inclusive=False),
    ),
    Setting(
        "DJANGOES_DELIVERY",
        "inline",
        '"inline", "django_tasks" or "celery"',
        "How committed batches are sent: in the committing process, as a django.tasks task, "
        "or as a Celery task.",
        _delivery,
    ),
    Setting(
        "DJANGOES_TASK_QUEUE",
        None,
        "None, or the name of a queue of your task engine",
        "The queue djangoes's tasks (batch delivery, rebuild ranges) go to; None: the "
        "engine's default queue.",
        _queue_name,
    ),
    Setting(
        "DJANGOES_OUTBOX_CLAIM_LEASE",
        300,
        "a number of seconds > 0",
        "How long a drainer's or task worker's claim on the outbox rows it sends lasts; the "
        "rows of one that dies go to others after that.",
        _seconds(0, inclusive=False),
    ),
    Setting(
        "DJANGOES_REBUILD_RANGE_LEASE",
        60,
        "a number of seconds > 0",
        "How long a worker's claim on a range of a distributed rebuild lasts unless it renews "
        "it; the range of a worker that stops renewing is filled again by another.",
        _seconds(0, inclusive=False),
    ),
    Setting(
        "DJANGOES_REBUILD_RANGE_ATTEMPTS",
        5,
        "a whole number >= 1",
        "Attempts per range of a distributed rebuild (lost or failed) before the rebuild fails.",
        _integer(1),
    ),
]

#: Every ``DJANGOES_*`` setting, by name.
SETTINGS: dict[str, Setting] = {setting.name: setting for setting in _TABLE}

_cache: dict[str, tuple[tuple[Any, ...], Any]] = {}
_lock = threading.Lock()


def _raw(name: str) -> Any:
    return getattr(django_settings, name, _MISSING)


#: ``{DJANGOES_* name: (other settings, convert)}``: where a value comes from when the
#: setting itself is absent (see ``add_fallback``).
_fallbacks: dict[str, tuple[tuple[str, ...], Callable[..., Any]]] = {}


def add_fallback(name: str, sources: tuple[str, ...], convert: Callable[..., Any]) -> None:
    """Take the value of ``name``, while it is absent from settings, from other settings.

    ``convert(*values)`` receives the values of ``sources`` (``MISSING`` for an absent one)
    and returns the value to use, or ``MISSING`` for the default. ``djangoes_dsl.compat``
    honours django-elasticsearch-dsl's settings this way.
    """
    _fallbacks[name] = (tuple(sources), convert)
    _cache.pop(name, None)


#: An absent setting, as ``add_fallback``'s ``convert`` receives and returns it.
MISSING = _MISSING = object()


def get(name: str) -> Any:
    """Return the value of the ``DJANGOES_*`` setting ``name``, validated.

    Raise ``ImproperlyConfigured`` (a ``djangoes.validation.ConfigurationError``) naming the
    setting, its value and the fix when it is invalid; ``KeyError`` for a name not in the
    table.
    """
    setting = SETTINGS[name]
    fallback = _fallbacks.get(name)
    sources = fallback[0] if fallback is not None else ()
    # Validated again whenever the setting or one it depends on holds another object.
    raws = tuple(_raw(each) for each in (name, *setting.depends, *sources))
    cached = _cache.get(name)
    if cached is not None and all(old is new for old, new in zip(cached[0], raws, strict=True)):
        return cached[1]
    raw = raws[0]
    if raw is _MISSING and fallback is not None:
        raw = fallback[1](*raws[len(raws) - len(sources) :])
    if raw is _MISSING:
        raw = setting.default
    try:
        value = setting.validate(raw)
    except Invalid as exc:
        problem = f"{name} is {show(raw)}; {exc.problem}."
        raise ConfigurationError(name, problem, exc.hint) from exc
    with _lock:
        _cache[name] = (raws, value)
    return value


def all_errors() -> list[ConfigurationError]:
    """Return the problems of every ``DJANGOES_*`` setting (an empty list when all are valid)."""
    errors = []
    for name in SETTINGS:
        try:
            get(name)
        except ConfigurationError as exc:
            if exc.setting == name:  # not the error of a setting it depends on
                errors.append(exc)
    return errors


#: ``DJANGOES_*`` settings that the ``djangoes`` package reads itself (see docs/testing.md).
CORE_SETTINGS = ("DJANGOES_TEST_ISOLATION",)


def unknown_settings() -> list[tuple[str, str]]:
    """Return ``(name, hint)`` for each ``DJANGOES_*`` name in settings that is not known."""
    found = []
    known = [*SETTINGS, *CORE_SETTINGS]
    for name in dir(django_settings):
        if name.startswith(PREFIX) and name not in known:
            found.append((name, suggest(name, known).strip()))
    return found
