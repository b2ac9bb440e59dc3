"""Report what the client says about ``HOSTS`` and ``PARAMS``, by setting path.

djangoes passes ``PARAMS`` to the client unchanged, as Django passes a database's ``OPTIONS``
to its driver; the rules for them are the client's own. They are read from the client, not
written down again here: the names and declared types of its ``__init__`` arguments, and
the errors it raises while it is built (building a client opens no connection). Each problem
names the setting (``ES_SERVERS['default']['PARAMS']['request_timeout']``) and never shows a
credential.
"""

from __future__ import annotations

import collections.abc
import inspect
import sys
import types
import typing
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.views.decorators.debug import sensitive_variables
from elasticsearch import Elasticsearch

from ..credentials import (
    CREDENTIAL_PARAMS,
    MASK,
    client_credentials,
    mask,
    redact_url,
    secrets_of,
)
from ..handler import DEFAULT_HOSTS
from ..validation import BACKEND, SETTINGS, ConfigurationError, setting_path, show, suggest

__all__ = ["client_argument_problems", "client_name"]

#: Arguments whose value is never shown (they hold or may hold credentials).
_SECRET_PARAMS = (*CREDENTIAL_PARAMS, "headers")

#: Arguments left out when the client is built only to see whether it accepts its arguments:
#: ``sniff_on_start`` makes the client send a request while it is built.
_NOT_WHILE_CHECKING = ("sniff_on_start",)

#: What a node dict in HOSTS holds, as the client takes it.
_NODE_KEYS = ("scheme", "host", "port", "path_prefix")


def client_name(client_class: type) -> str:
    """Return the name users know for ``client_class``: elasticsearch.X for a subclass of X."""
    for base in client_class.__mro__:
        if base.__module__.split(".")[0] == "elasticsearch":
            return f"elasticsearch.{base.__name__}"
    return f"{client_class.__module__}.{client_class.__qualname__}"


@sensitive_variables()
def client_argument_problems(
    client_class: type[Elasticsearch], alias: str, server: Mapping[str, Any]
) -> list[ConfigurationError]:
    """Return the problems the client finds in ``ES_SERVERS[alias]`` (its HOSTS and PARAMS).

    ``server`` has its defaults filled in and passed ``djangoes.validation``'s checks.
    """
    client = client_name(client_class)
    params: Mapping[str, Any] = server["PARAMS"]
    signature = inspect.signature(client_class.__init__)
    accepted = [name for name in signature.parameters if name not in ("self", "_transport")]
    try:
        hints = typing.get_type_hints(client_class.__init__)
    except Exception:  # an annotation that cannot be resolved: check the names only
        hints = {}
    secrets = secrets_of(server)
    problems: list[ConfigurationError] = []
    for name, value in params.items():
        setting = setting_path("ES_SERVERS", alias, "PARAMS", name)
        if name == "hosts":  # djangoes' own rule (see validation.check_server)
            continue
        if name not in accepted:
            older = OLDER_CLIENT_ARGUMENTS.get(name)
            problems.append(
                ConfigurationError(
                    setting,
                    f"{setting} is not an argument of {client}"
                    + (" (it was one of elasticsearch-py 7.x)." if older else "."),
                    f"{older or suggest(name, accepted)}See the arguments of {client}; "
                    f"djangoes passes PARAMS to it unchanged.",
                    BACKEND,
                )
            )
        elif name in hints and _accepts(value, hints[name]) is False:
            shown = f"a value of type {type(value).__name__} (not shown)"
            if name not in _SECRET_PARAMS:
                shown = _show(value, secrets)
            problems.append(
                ConfigurationError(
                    setting,
                    f"{setting} must be {_describe(hints[name])} (as {client} declares "
                    f"it), not {shown}.",
                    f"Give a value of that type, or remove {name!r} from PARAMS for the "
                    f"client's default.",
                    BACKEND,
                )
            )
        elif name in _USABLE and not _USABLE[name][0](value):
            problems.append(
                ConfigurationError(
                    setting,
                    f"{setting} is {_show(value, secrets)}: {client} takes it, but every "
                    f"request would then fail.",
                    f"Give {_USABLE[name][1]}, or remove {name!r} from PARAMS for the client's "
                    f"default.",
                    BACKEND,
                )
            )
    if problems:
        return problems
    return _build_problems(client_class, client, alias, server)


#: Arguments of older clients (elasticsearch-py 7.x and before) that the current one renamed or
#: dropped: what to write instead.
OLDER_CLIENT_ARGUMENTS = {
    "timeout": "Use 'request_timeout' (seconds) instead. ",
    "use_ssl": "Write the node's URL with https:// in HOSTS instead (e.g. "
    "'https://search.example.com:9200'). ",
    "port": "Write the port in each HOSTS URL instead ('http://host:9200'). ",
    "host": "Write the host in HOSTS instead ('http://host:9200'). ",
    "scheme": "Write the scheme in each HOSTS URL instead ('https://host:9200'). ",
    "url_prefix": "Write the path in each HOSTS URL instead ('http://host:9200/prefix'). ",
    "maxsize": "Use 'connections_per_node' instead. ",
    "connection_class": "Use 'node_class' instead (e.g. 'requests' or 'urllib3'). ",
    "sniffer_timeout": "Use 'min_delay_between_sniffing' instead. ",
    "sniff_on_connection_fail": "Use 'sniff_on_node_failure' instead. ",
    "send_get_body_as": "Remove it: the current client sends bodies as the API defines. ",
}


def _statuses(value: Any) -> bool:
    values = [value] if isinstance(value, int) else value
    return all(isinstance(status, int) and 100 <= status <= 599 for status in values)


#: Values the client accepts when it is built, but that make every request fail (a negative
#: timeout or retry count, a status no response has): what to give instead.
_USABLE: dict[str, tuple[Callable[[Any], bool], str]] = {
    "request_timeout": (lambda v: v is None or v > 0, "a number of seconds above 0, or None"),
    "max_retries": (lambda v: v >= 0, "a whole number of retries, 0 or more"),
    "retry_on_status": (_statuses, "HTTP statuses between 100 and 599, e.g. (502, 503, 504)"),
}


def _build_problems(
    client_class: type[Elasticsearch], client: str, alias: str, server: Mapping[str, Any]
) -> list[ConfigurationError]:
    """Build the client as djangoes will; on an error, find the HOSTS entry or PARAMS key."""
    secrets = secrets_of(server)
    params = {k: v for k, v in server["PARAMS"].items() if k not in _NOT_WHILE_CHECKING}
    hosts = list(server["HOSTS"])
    credentials = client_credentials(server)
    if _refusal(client_class, hosts, {**params, **credentials}) is None:
        return []
    problems = []
    good_hosts = []
    for position, host in enumerate(hosts):
        error = _refusal(client_class, [host], {})
        if error is None:
            good_hosts.append(host)
            continue
        setting = setting_path("ES_SERVERS", alias, "HOSTS", position)
        problems.append(
            ConfigurationError(
                setting,
                f"{client} refuses {setting} ({_show_host(host)}): {_said(error, secrets)}",
                f"Write each node as a URL 'scheme://host:port', e.g. {DEFAULT_HOSTS[0]!r}, or "
                f"a dict with 'scheme', 'host' and 'port'; credentials go in USER and PASSWORD.",
                SETTINGS,
            )
        )
    if good_hosts or not hosts:
        for name, value in params.items():
            error = _refusal(client_class, good_hosts, {name: value})
            if error is None:
                continue
            setting = setting_path("ES_SERVERS", alias, "PARAMS", name)
            shown = "" if name in _SECRET_PARAMS else f" ({_show(value, secrets)})"
            problems.append(
                ConfigurationError(
                    setting,
                    f"{client} refuses {setting}{shown}: {_said(error, secrets)}",
                    f"Change {name!r} or remove it from PARAMS; djangoes passes PARAMS to "
                    f"{client} unchanged (and HOSTS as its 'hosts').",
                    BACKEND,
                )
            )
    if not problems:  # refused only together
        error = _refusal(client_class, hosts, {**params, **credentials})
        setting = setting_path("ES_SERVERS", alias)
        problems.append(
            ConfigurationError(
                setting,
                f"{client} refuses the HOSTS and PARAMS of {setting} taken together: "
                f"{_said(error, secrets)}",
                f"Check {setting}['HOSTS'] and ['PARAMS'] against the arguments of {client}.",
                BACKEND,
            )
        )
    return problems


@sensitive_variables()
def _refusal(
    client_class: type[Elasticsearch], hosts: list[Any], params: dict[str, Any]
) -> Exception | None:
    """Return the error ``client_class`` raises when built with these arguments, or None."""
    try:
        with warnings.catch_warnings():  # deprecations: the client built for use warns
            warnings.simplefilter("ignore")
            client = client_class(hosts=hosts or None, **params)
    except Exception as exc:  # whatever it raises while built (it sends nothing) is a refusal
        return exc
    client.close()
    return None


def _show(value: Any, secrets: list[str]) -> str:
    """Return ``show(value)`` with every credential masked before it is shortened."""
    text = mask(show(value, limit=sys.maxsize), secrets)
    return text if len(text) <= 80 else f"{text[:60]}...{text[-12:]} ({len(text):,} characters)"


def _show_host(host: Any) -> str:
    """Return a HOSTS entry as text: a URL without user information, a dict without values
    under keys a node does not have (one may be a credential)."""
    if isinstance(host, Mapping):
        return show({k: v if k in _NODE_KEYS else MASK for k, v in host.items()})
    return show(redact_url(host))


def _said(error: BaseException | None, secrets: list[str]) -> str:
    """Return what the client said, every credential of the server masked."""
    if error is None:
        return "no reason given."
    text = mask(str(error), secrets).rstrip(".")
    return f"{type(error).__name__}: {text}."


# -- the client's declared types ---------------------------------------------------------------

_UNIONS = (typing.Union, types.UnionType)


def _accepts(value: Any, hint: Any) -> bool | None:
    """Return whether ``value`` is of the declared type ``hint``; None when it cannot tell."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if hint is str or origin is type:
        # The client takes more than it declares here: paths for files, names of node
        # classes ('requests'), so these are left to it.
        return None
    if hint is None or hint is type(None):
        return value is None
    if origin in _UNIONS:
        answers = [_accepts(value, arg) for arg in args]
        return None if None in answers and True not in answers else any(answers)
    if hint is float:  # as in typing: an int is a float too, a bool is not a number here
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is tuple:
        if not isinstance(value, (tuple, list)):  # settings often write pairs as lists
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return _all(_accepts(item, args[0]) for item in value)
        return len(value) == len(args) and _all(map(_accepts, value, args))
    if origin is collections.abc.Callable:
        return callable(value)
    if origin in (collections.abc.Mapping, dict):
        if not isinstance(value, Mapping):
            return False
        key, item = args or (Any, Any)
        return _all(_accepts(k, key) and _accepts(v, item) for k, v in value.items())
    if isinstance(origin, type) and issubclass(origin, collections.abc.Iterable):
        if not isinstance(value, origin) or isinstance(value, (str, bytes)):
            return False
        return _all(_accepts(item, args[0]) for item in value) if args else True
    if isinstance(hint, type):
        return isinstance(value, hint)
    return None


def _all(answers: Iterable[bool | None]) -> bool:
    return all(answer is not False for answer in answers)


def _describe(hint: Any) -> str:
    """Return the declared type ``hint`` as text, e.g. 'float or None'."""
    if typing.get_origin(hint) in _UNIONS:
        parts = [_describe(arg) for arg in typing.get_args(hint) if not _is_default(arg)]
        return " or ".join(parts)
    if hint is type(None):
        return "None"
    if isinstance(hint, type) and not typing.get_args(hint):
        return hint.__name__
    return str(hint).replace("typing.", "").replace("collections.abc.", "")


def _is_default(hint: Any) -> bool:
    """Whether ``hint`` is the client's marker type for "not given" (DefaultType)."""
    return isinstance(hint, type) and hint.__name__ == "DefaultType"
