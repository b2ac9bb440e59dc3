"""Validate ``ES_SERVERS`` and ``ES_INDICES``: what djangoes owns in them.

The handler runs these checks on first use and raises the first problem found; system checks
(``manage.py check``) report them all. Each problem is a :class:`ConfigurationError`, an
``ImproperlyConfigured`` whose message names the setting path, shows the bad value (never a
credential) and says what to do.

What is checked, besides types:

- unknown keys, with the closest known key suggested (``HOST`` → ``HOSTS``);
- ``HOSTS``: a list of node URLs or dicts, not empty, not with ``PARAMS['cloud_id']``; the user
  information of a URL, which djangoes parses itself to mask it (reserved characters
  percent-encoded);
- credentials: ``USER`` with ``PASSWORD``, ``API_KEY``, those in ``PARAMS``, never two ways
  at once, never shown;
- index and alias names, live and test (after the ``test_`` prefix and a worker suffix),
  against Elasticsearch's naming rules;
- duplicates across the whole configuration: a name (index or alias) used twice, and test
  names that collide with live ones.

The client's arguments (``PARAMS``, and what a node URL or dict holds) are the client's to
check: the backend asks it (see ``ElasticsearchBackend.validate_settings``).
"""

from __future__ import annotations

import base64
import difflib
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from .credentials import CREDENTIAL_PARAMS, redact_url, split_url

__all__ = [
    "INDEX_KEYS",
    "INDEX_TEST_KEYS",
    "SERVER_KEYS",
    "SERVER_TEST_KEYS",
    "ConfigurationError",
    "alias_name_problem",
    "check_index",
    "check_index_names",
    "check_indices",
    "check_server",
    "check_servers",
    "copy_settings",
    "index_name_problem",
    "setting_path",
]

TEST_PREFIX = "test_"

#: The keys each part of the settings knows.
SERVER_KEYS = (
    "ENGINE",
    "HOSTS",
    "PARAMS",
    "INDICES",
    "TEST",
    "USER",
    "PASSWORD",
    "API_KEY",
    "OPTIONS",
)
SERVER_TEST_KEYS = ("INDICES",)
INDEX_KEYS = ("NAME", "ALIASES", "SETTINGS", "TEST")
INDEX_TEST_KEYS = ("NAME", "ALIASES", "SETTINGS")

#: Characters Elasticsearch refuses in index and alias names.
FORBIDDEN_NAME_CHARACTERS = '\\/*?"<>| ,#:'
MAX_NAME_BYTES = 255
NAME_RULES = (
    "Index names must be lower case; index and alias names must not start with '_', '-' or "
    "'+', must not be '.' or '..', must not contain spaces, control characters or any of "
    '\\ / * ? " < > | , # :, and must be at most 255 bytes long (UTF-8).'
)

#: The kinds of problems, which system checks report under their own ids.
SETTINGS, NAMES, DUPLICATES, CREDENTIALS, BACKEND = (
    "settings",
    "names",
    "duplicates",
    "credentials",
    "backend",
)


class ConfigurationError(ImproperlyConfigured):
    """A setting of ``ES_SERVERS`` / ``ES_INDICES`` is invalid.

    ``setting`` is the path of the offending key (``ES_SERVERS['default']['HOSTS']``),
    ``problem`` what is wrong, ``hint`` what to do, ``kind`` one of "settings", "names",
    "duplicates", "credentials", "backend". The message is the problem followed by the hint.
    """

    def __init__(
        self, setting: str, problem: str, hint: str = "", kind: str = SETTINGS, *, message: str = ""
    ) -> None:
        self.setting = setting
        self.problem = problem
        self.hint = hint
        self.kind = kind
        super().__init__(message or " ".join(part for part in (problem, hint) if part))


# -- showing values ------------------------------------------------------------------------------


def show(value: Any, limit: int = 80) -> str:
    """Return ``repr(value)``, shortened to about ``limit`` characters."""
    try:
        text = repr(value)
    except Exception:  # a repr that raises must not hide the real problem
        text = f"<{type(value).__name__} object>"
    if len(text) > limit:
        text = f"{text[: limit - 20]}...{text[-12:]} ({len(text):,} characters)"
    return text


def _kind(value: Any) -> str:
    return type(value).__name__


def setting_path(*parts: Any) -> str:
    """Return the path of a setting: ``setting_path("ES_SERVERS", "x", "HOSTS")``."""
    head, *rest = parts
    return str(head) + "".join(f"[{part!r}]" for part in rest)


class _Problems:
    """Collect the problems of one pass over the settings."""

    def __init__(self) -> None:
        self.errors: list[ConfigurationError] = []

    def add(self, setting: str, problem: str, hint: str = "", kind: str = SETTINGS) -> None:
        self.errors.append(ConfigurationError(setting, problem, hint, kind))

    def type(self, setting: str, value: Any, expected: str, hint: str = "") -> None:
        self.add(setting, f"{setting} must be {expected}, not {show(value)}.", hint)

    def secret_type(self, setting: str, value: Any, expected: str, hint: str = "") -> None:
        """Like ``type``, without showing the value (it may be a credential)."""
        shown = "None" if value is None else f"a value of type {_kind(value)} (not shown)"
        self.add(setting, f"{setting} must be {expected}, not {shown}.", hint, CREDENTIALS)

    def unknown_keys(
        self, where: tuple[Any, ...], value: Mapping[Any, Any], known: tuple[str, ...]
    ) -> None:
        for key in value:
            if key in known:
                continue
            setting = setting_path(*where, key)
            if not isinstance(key, str):
                self.add(
                    setting,
                    f"{setting_path(*where)} has the key {show(key)}, which is not a string.",
                    f"Its keys are {', '.join(known)}.",
                )
                continue
            self.add(
                setting,
                f"{setting} is not a setting djangoes knows.",
                f"{suggest(key, known)}Its keys are {', '.join(known)}.",
            )


def suggest(key: str, known: Iterable[str]) -> str:
    """Return "Did you mean 'X'? " for the known key closest to ``key``, or ''.

    Case and accents do not count: ``prodücts`` finds ``products``.
    """
    known = list(known)
    folded = {_folded(candidate): candidate for candidate in reversed(known)}
    if _folded(key) in folded:
        return f"Did you mean {folded[_folded(key)]!r}? "
    matches = difflib.get_close_matches(_folded(key), list(folded), n=1, cutoff=0.6)
    if not matches:
        return ""
    return f"Did you mean {folded[matches[0]]!r}? "


def _folded(text: str) -> str:
    """Return ``text`` in upper case without accents."""
    decomposed = unicodedata.normalize("NFKD", str(text))
    return "".join(char for char in decomposed if not unicodedata.combining(char)).upper()


# -- names -----------------------------------------------------------------------------------


def _name_problem(name: Any, *, lower_case: bool) -> str | None:
    if not isinstance(name, str):
        return f"is {show(name)}, not a string"
    if not name.strip():
        return "is empty"
    if lower_case and name != name.lower():
        return "has upper-case letters"
    if name[0] in "_-+":
        return f"starts with {name[0]!r}"
    if name in (".", ".."):
        return f"is {name!r}"
    forbidden = sorted({c for c in name if c in FORBIDDEN_NAME_CHARACTERS}, key=name.index)
    if forbidden:
        listed = ", ".join("a space" if c == " " else repr(c) for c in forbidden)
        return f"contains {listed}"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "contains a control character"
    size = len(name.encode("utf-8", "surrogatepass"))
    if size > MAX_NAME_BYTES:
        return f"is {size:,} bytes long (at most {MAX_NAME_BYTES} are allowed)"
    return None


def index_name_problem(name: Any) -> str | None:
    """Return why Elasticsearch would refuse ``name`` as an index name; None if it would not."""
    return _name_problem(name, lower_case=True)


def alias_name_problem(name: Any) -> str | None:
    """Return why Elasticsearch would refuse ``name`` as an alias; None if it would not.

    Aliases follow the rules of index names, except that they may have upper-case letters.
    """
    return _name_problem(name, lower_case=False)


def _check_name(
    problems: _Problems,
    setting: str,
    name: Any,
    *,
    alias: bool,
    subject: str = "",
    fix: str = "",
) -> bool:
    reason = alias_name_problem(name) if alias else index_name_problem(name)
    if reason is None:
        return True
    what = "an alias" if alias else "an index name"
    subject = subject or f"{setting} is {show(name)}"
    problems.add(
        setting,
        f"{subject}, which Elasticsearch refuses as {what}: it {reason}.",
        f"{fix}{NAME_RULES}",
        NAMES,
    )
    return False


# -- ES_SERVERS ---------------------------------------------------------------------------------


def check_servers(
    raw: Any, default_hosts: Sequence[str]
) -> tuple[dict[str, dict[str, Any]], list[ConfigurationError]]:
    """Check ``ES_SERVERS``; return a copy of each valid server and the problems found.

    Defaults are not filled in (the handler does that); messages show ``default_hosts``
    (the handler's) as the example of HOSTS.
    """
    problems = _Problems()
    if not isinstance(raw, Mapping):
        problems.type(
            "ES_SERVERS",
            raw,
            "a dict of server aliases to settings",
            f"Use e.g. {{'default': {{'HOSTS': {list(default_hosts)}}}}}.",
        )
        return {}, problems.errors
    if "default" not in raw:
        others = ", ".join(repr(alias) for alias in raw)
        problems.errors.append(
            ConfigurationError(
                "ES_SERVERS['default']",
                "You must define a 'default' ElasticSearch server",
                f"Add ES_SERVERS['default'] (ES_SERVERS defines {others}): name your main "
                f"server 'default'.",
                message="You must define a 'default' ElasticSearch server",
            )
        )
    servers = _check_entries(
        problems,
        "ES_SERVERS",
        raw,
        ("alias", "aliases"),
        "'default' or 'logs'",
        lambda alias, server: check_server(alias, server, default_hosts),
    )
    return servers, problems.errors


def _check_entries(
    problems: _Problems,
    setting: str,
    raw: Mapping[Any, Any],
    noun: tuple[str, str],
    example: str,
    check_entry: Any,
) -> dict[str, dict[str, Any]]:
    """Check each entry of ES_SERVERS or ES_INDICES; return a copy of each valid one."""
    valid: dict[str, dict[str, Any]] = {}
    for key, entry in raw.items():
        if not isinstance(key, str) or not key:
            problems.add(
                f"{setting}[{show(key)}]",
                f"{setting} has the {noun[0]} {show(key)}; {noun[1]} must be non-empty strings.",
                f"Use a name such as {example}.",
            )
            continue
        errors = check_entry(key, entry)
        problems.errors.extend(errors)
        if not errors:
            valid[key] = copy_settings(entry)
    return valid


def copy_settings(value: Any) -> Any:
    """Copy the dicts and lists of settings; share other values (classes, objects).

    Settings may hold objects that cannot be copied, such as ``PARAMS["ssl_context"]``.
    """
    if isinstance(value, Mapping):
        return {key: copy_settings(item) for key, item in value.items()}
    if isinstance(value, list):
        return [copy_settings(item) for item in value]
    return value


def check_server(alias: str, server: Any, default_hosts: Sequence[str]) -> list[ConfigurationError]:
    """Return the problems of ``ES_SERVERS[alias]`` (its own keys, not the indices it lists).

    Messages show ``default_hosts`` as the example of HOSTS.
    """
    problems = _Problems()
    where = ("ES_SERVERS", alias)
    if not isinstance(server, Mapping):
        problems.type(
            setting_path(*where), server, "a dict of settings", "Use e.g. {'HOSTS': [...]}."
        )
        return problems.errors
    problems.unknown_keys(where, server, SERVER_KEYS)
    engine = server.get("ENGINE")
    if "ENGINE" in server and (not isinstance(engine, str) or "." not in engine):
        problems.type(
            setting_path(*where, "ENGINE"),
            engine,
            "the dotted path of a backend class",
            "Leave it unset for 'djangoes.backends.elasticsearch.ElasticsearchBackend'.",
        )
    _check_hosts(problems, where, server, list(default_hosts))
    params = server.get("PARAMS", {})
    if not isinstance(params, Mapping):
        problems.type(
            setting_path(*where, "PARAMS"), params, "a dict of client arguments",
            "Use e.g. {'request_timeout': 10}.",
        )  # fmt: skip
    elif any(not isinstance(name, str) for name in params):
        bad = next(name for name in params if not isinstance(name, str))
        problems.add(
            setting_path(*where, "PARAMS", bad),
            f"{setting_path(*where, 'PARAMS')} has the key {show(bad)}; client arguments are named "
            f"by strings.",
            "Use the argument names of elasticsearch.Elasticsearch, e.g. 'request_timeout'.",
        )
    elif "hosts" in params:
        problems.add(
            setting_path(*where, "PARAMS", "hosts"),
            f"{setting_path(*where, 'PARAMS')} must not contain 'hosts':",
            f"set {setting_path(*where, 'HOSTS')} instead.",
            BACKEND,
        )
    options = server.get("OPTIONS", {})
    if not isinstance(options, Mapping):
        problems.type(setting_path(*where, "OPTIONS"), options, "a dict of backend options")
    _check_keys_list(problems, (*where, "INDICES"), server.get("INDICES", []))
    test = server.get("TEST", {})
    if not isinstance(test, Mapping):
        problems.type(setting_path(*where, "TEST"), test, "a dict", "Use e.g. {'INDICES': [...]}.")
    else:
        problems.unknown_keys((*where, "TEST"), test, SERVER_TEST_KEYS)
        if "INDICES" in test:
            _check_keys_list(problems, (*where, "TEST", "INDICES"), test["INDICES"])
    _check_credentials(problems, where, server)
    return problems.errors


def _check_keys_list(problems: _Problems, where: tuple[Any, ...], value: Any) -> None:
    setting = setting_path(*where)
    if not isinstance(value, (list, tuple)):
        problems.type(setting, value, "a list", "List keys of ES_INDICES, e.g. ['products'].")
        return
    seen: set[str] = set()
    for key in value:
        if not isinstance(key, str) or not key:
            problems.add(
                setting,
                f"{setting} contains {show(key)}; it must list keys of ES_INDICES (strings).",
                "Use e.g. ['products', 'articles'].",
            )
        elif key in seen:
            problems.add(
                setting,
                f"{setting} lists {key!r} twice.",
                "List each index key once.",
                DUPLICATES,
            )
        else:
            seen.add(key)


def _check_hosts(
    problems: _Problems, where: tuple[Any, ...], server: Mapping[str, Any], example: list[str]
) -> None:
    """Check the shape of HOSTS: a list of URLs or dicts. What is in each is the client's."""
    if "HOSTS" not in server:
        return
    setting = setting_path(*where, "HOSTS")
    hosts = server["HOSTS"]
    if isinstance(hosts, str) and len(hosts.split()) + len(hosts.split(",")) + hosts.count(";") > 2:
        urls = [url for url in re.split(r"[\s,;]+", hosts) if url]
        problems.add(
            setting,
            f"{setting} is one string holding {len(urls)} URLs: HOSTS is a list of node URLs, "
            f"one URL per item.",
            f"Write it as a list: {[redact_url(url) for url in urls]!r}.",
        )
        return
    if isinstance(hosts, str):
        hosts = [hosts]
    elif not isinstance(hosts, (list, tuple)):
        problems.type(
            setting, redact_url(hosts) if isinstance(hosts, Mapping) else hosts,
            "a list of node URLs", f"Use e.g. {example}.",
        )  # fmt: skip
        return
    params = server.get("PARAMS")
    cloud = isinstance(params, Mapping) and params.get("cloud_id")
    if cloud:
        problems.add(
            setting,
            f"{setting} and {setting_path(*where, 'PARAMS', 'cloud_id')} are both set; the "
            f"client takes one or the other.",
            "Remove HOSTS when connecting to Elastic Cloud by its cloud_id.",
        )
    elif not hosts:
        problems.add(
            setting,
            f"{setting} is empty: the client would have no node to talk to.",
            f"List node URLs, e.g. {example}, or leave HOSTS unset for that "
            "default (or give PARAMS['cloud_id']).",
        )
    for position, host in enumerate(hosts):
        entry = f"{setting}[{position}]"
        if isinstance(host, str):
            _check_url_credentials(problems, entry, host)
            _check_url_shape(problems, entry, host, example)
        elif not isinstance(host, Mapping):
            problems.type(
                entry,
                host,
                "a node URL or a dict with 'scheme', 'host' and 'port'",
                f"Use e.g. {example[0]!r}.",
            )


def _check_url_shape(problems: _Problems, setting: str, url: str, example: list[str]) -> None:
    """Refuse what a node URL may not carry though the client takes it: another scheme than
    http or https, a query or a fragment (the client keeps them, and requests then fail)."""
    if "://" not in url:
        return  # the client's to judge
    parts = urlsplit(url)
    shown = redact_url(url)
    if parts.scheme.lower() not in ("http", "https"):
        problems.add(
            setting,
            f"{setting} ({shown!r}) has the scheme {parts.scheme!r}: a node talks http or https.",
            f"Use e.g. {example[0]!r}.",
        )
    if parts.query:
        problems.add(
            setting,
            f"{setting} ({shown!r}) has a query string: request options do not go in a node's URL.",
            "Give them in PARAMS (e.g. PARAMS['request_timeout']) and keep the URL to "
            "'scheme://host:port' (with a path prefix if a proxy needs one).",
        )
    if parts.fragment:
        problems.add(
            setting,
            f"{setting} ({shown!r}) has a fragment ('#...'), which a node's URL cannot use.",
            f"Remove it: e.g. {example[0]!r}.",
        )


def _check_url_credentials(problems: _Problems, setting: str, url: str) -> None:
    """Check the user information of a HOSTS URL, which djangoes parses itself to mask it."""
    userinfo = split_url(url.strip()).userinfo
    if userinfo is None:
        return
    shown = show(redact_url(url))
    if any(c in userinfo for c in "/?#@"):
        problems.add(
            setting,
            f"{setting} ({shown}) has user information with a character that ends the "
            f"host part of a URL (one of / ? # @): the client would take part of it for "
            f"the host, path or fragment.",
            "Percent-encode the user name and password "
            "(urllib.parse.quote(password, safe='')) or, better, give them as "
            f"{setting.rsplit('[', 2)[0]}['USER'] and ['PASSWORD'] and leave them out of "
            f"the URL.",
            CREDENTIALS,
        )
    elif ":" not in userinfo:
        problems.add(
            setting,
            f"{setting} ({shown}) has user information without a ':': the client would "
            f"send it as a user name with an empty password.",
            "Write 'scheme://user:password@host:port', or give USER and PASSWORD.",
            CREDENTIALS,
        )


def _check_credentials(
    problems: _Problems, where: tuple[Any, ...], server: Mapping[str, Any]
) -> None:
    user, password, api_key = (server.get(key) for key in ("USER", "PASSWORD", "API_KEY"))
    if "USER" in server and (not isinstance(user, str) or not user):
        problems.type(setting_path(*where, "USER"), user, "a non-empty string (the user name)")
    if "PASSWORD" in server:
        if not isinstance(password, str):
            problems.secret_type(setting_path(*where, "PASSWORD"), password, "a string")
        elif "USER" not in server:
            problems.add(
                setting_path(*where, "PASSWORD"),
                f"{setting_path(*where, 'PASSWORD')} is set without "
                f"{setting_path(*where, 'USER')}.",
                "Give the user name too (e.g. 'elastic').",
                CREDENTIALS,
            )
    if "USER" in server and "PASSWORD" not in server:
        problems.add(
            setting_path(*where, "PASSWORD"),
            f"{setting_path(*where, 'USER')} is set without {setting_path(*where, 'PASSWORD')}.",
            "Give the password too (read it from the environment).",
            CREDENTIALS,
        )
    if "API_KEY" in server and not _valid_api_key(api_key):
        problems.secret_type(
            setting_path(*where, "API_KEY"),
            api_key,
            "an API key: the encoded key as a string, or an (id, api_key) pair",
        )
    ways = []
    if "USER" in server or "PASSWORD" in server:
        ways.append("USER/PASSWORD")
    if "API_KEY" in server:
        ways.append("API_KEY")
    params = server.get("PARAMS")
    if isinstance(params, Mapping):
        ways.extend(f"PARAMS['{name}']" for name in CREDENTIAL_PARAMS if name in params)
        _check_param_credentials(problems, where[1], params)
    hosts = server.get("HOSTS", [])
    hosts = [hosts] if isinstance(hosts, str) else hosts if isinstance(hosts, (list, tuple)) else []
    if any(isinstance(h, str) and split_url(h).userinfo is not None for h in hosts):
        ways.append("user information in HOSTS")
    if len(ways) > 1:
        problems.add(
            setting_path(*where),
            f"{setting_path(*where)} gives credentials in more than one way "
            f"({', '.join(ways)}); the client would use one and ignore the others.",
            "Keep one: USER and PASSWORD (or API_KEY) are recommended, because Django's error "
            "reports hide them.",
            CREDENTIALS,
        )


def _valid_api_key(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value)
    return (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(part, str) and part for part in value)
    )


def _check_param_credentials(problems: _Problems, alias: str, params: Mapping[str, Any]) -> None:
    """Check the credentials given in PARAMS without ever showing them."""
    for name in CREDENTIAL_PARAMS:
        if name not in params:
            continue
        setting, value = setting_path("ES_SERVERS", alias, "PARAMS", name), params[name]
        if name in ("basic_auth", "http_auth") and not (_valid_pair(value) or _basic_token(value)):
            problems.secret_type(
                setting,
                value,
                "a (user, password) pair, or the base64 of 'user:password' as a string",
                f"Or give ES_SERVERS['{alias}']['USER'] and ['PASSWORD'] instead of PARAMS.",
            )
        elif name == "api_key" and not _valid_api_key(value):
            problems.secret_type(
                setting, value, "an API key string or an (id, api_key) pair",
                f"Or give ES_SERVERS['{alias}']['API_KEY'] instead of PARAMS.",
            )  # fmt: skip
        elif name == "bearer_auth" and not (isinstance(value, str) and value):
            problems.secret_type(setting, value, "a token string")


def _valid_pair(value: Any) -> bool:
    return (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(part, str) for part in value)
    )


def _basic_token(value: Any) -> bool:
    """Whether ``value`` is what the client takes as a basic_auth string: base64 of u:p."""
    if not isinstance(value, str):
        return False
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return False
    return ":" in decoded


# -- ES_INDICES ------------------------------------------------------------------------------


def check_indices(raw: Any) -> tuple[dict[str, dict[str, Any]], list[ConfigurationError]]:
    """Check ``ES_INDICES`` index by index; return a copy of each valid index and the problems.

    Names across indices (defaults, duplicates, test names) are checked by
    ``check_index_names`` once the defaults are filled in.
    """
    problems = _Problems()
    if not isinstance(raw, Mapping):
        problems.type(
            "ES_INDICES", raw, "a dict of index keys to settings",
            "Use e.g. {'products': {'NAME': 'shop_products'}}.",
        )  # fmt: skip
        return {}, problems.errors
    indices = _check_entries(
        problems, "ES_INDICES", raw, ("key", "index keys"), "'products'", check_index
    )
    return indices, problems.errors


def check_index(key: str, index: Any) -> list[ConfigurationError]:
    """Return the problems of ``ES_INDICES[key]`` on its own (names as given, types)."""
    problems = _Problems()
    where = ("ES_INDICES", key)
    if not isinstance(index, Mapping):
        problems.type(setting_path(*where), index, "a dict of settings", "Use {} for the defaults.")
        return problems.errors
    problems.unknown_keys(where, index, INDEX_KEYS)
    if "NAME" in index:
        _check_name_value(problems, (*where, "NAME"), index["NAME"])
    elif index_name_problem(key) is not None:
        _check_name(
            problems,
            setting_path(*where),
            key,
            alias=False,
            subject=f"ES_INDICES[{key!r}] has no NAME, so its index name is its key {show(key)}",
            fix="Set NAME to a valid index name. ",
        )
    _check_aliases(problems, (*where, "ALIASES"), index.get("ALIASES", []))
    _check_index_settings(problems, (*where, "SETTINGS"), index.get("SETTINGS"))
    test = index.get("TEST", {})
    if not isinstance(test, Mapping):
        problems.type(
            setting_path(*where, "TEST"), test, "a dict",
            f"Use e.g. {{'NAME': 'test_{key}'}}, or leave TEST unset for the 'test_' names.",
        )  # fmt: skip
    else:
        problems.unknown_keys((*where, "TEST"), test, INDEX_TEST_KEYS)
        if "NAME" in test:
            _check_name_value(problems, (*where, "TEST", "NAME"), test["NAME"])
        if "ALIASES" in test:
            _check_aliases(problems, (*where, "TEST", "ALIASES"), test["ALIASES"])
        if "SETTINGS" in test:
            _check_index_settings(problems, (*where, "TEST", "SETTINGS"), test["SETTINGS"])
    return problems.errors


def _check_name_value(problems: _Problems, where: tuple[Any, ...], name: Any) -> None:
    setting = setting_path(*where)
    if not isinstance(name, str) or not name:
        example = "'test_shop_products'" if "TEST" in where else "'shop_products'"
        problems.add(
            setting,
            f"{setting} must be a non-empty string, not {show(name)}.",
            f"Give the index name, e.g. {example}, or leave NAME unset for the default.",
        )
        return
    _check_name(problems, setting, name, alias=False)


def _check_aliases(problems: _Problems, where: tuple[Any, ...], value: Any) -> None:
    setting = setting_path(*where)
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not all(isinstance(v, str) for v in names):
        problems.add(
            setting,
            f"{setting} must be a list of names, not {show(value)}.",
            "Use e.g. ['products_read'], or [] for none.",
        )
        return
    for position, name in enumerate(names):
        _check_name(problems, f"{setting}[{position}]", name, alias=True)


def _check_index_settings(problems: _Problems, where: tuple[Any, ...], value: Any) -> None:
    setting = setting_path(*where)
    if value is None:
        return
    if not isinstance(value, Mapping):
        problems.add(
            setting,
            f"{setting} must be a dict of index settings or None, not {show(value)}.",
            "Use e.g. {'number_of_shards': 1}.",
        )
        return
    for misplaced in ("settings", "mappings", "aliases"):
        if misplaced in value:
            problems.add(
                setting_path(*where, misplaced),
                f"{setting} contains {misplaced!r}: SETTINGS is the index settings object "
                f"itself, not a creation body.",
                {
                    "settings": "Move what is inside 'settings' up into SETTINGS.",
                    "mappings": "Declare fields on the Document (mappings come from it).",
                    "aliases": "List aliases in ALIASES.",
                }[misplaced],
            )
    nested = value.get("index")
    index: Mapping[str, Any] = nested if isinstance(nested, Mapping) else {}
    for name, minimum in (("number_of_shards", 1), ("number_of_replicas", 0)):
        for path, found in (
            ((*where, name), value.get(name)),
            ((*where, f"index.{name}"), value.get(f"index.{name}")),
            ((*where, "index", name), index.get(name)),
        ):
            if found is not None and not _count_at_least(found, minimum):
                problems.type(setting_path(*path), found, f"a whole number >= {minimum}")
    for path, analysis in (
        ((*where, "analysis"), value.get("analysis")),
        ((*where, "index", "analysis"), index.get("analysis")),
    ):
        if analysis is not None:
            _check_analysis(problems, path, analysis)


#: The sections of an index's analysis settings: each maps names to definitions.
ANALYSIS_SECTIONS = ("analyzer", "normalizer", "tokenizer", "filter", "char_filter")


def _check_analysis(problems: _Problems, where: tuple[Any, ...], analysis: Any) -> None:
    """Check the shape of SETTINGS['analysis']: sections of named definitions (dicts)."""
    setting = setting_path(*where)
    example = "{'analyzer': {'folded': {'type': 'custom', 'tokenizer': 'standard', "
    example += "'filter': ['lowercase']}}}"
    if not isinstance(analysis, Mapping):
        problems.type(setting, analysis, "a dict of analysis sections", f"Use e.g. {example}.")
        return
    for section, definitions in analysis.items():
        path = (*where, section)
        if section not in ANALYSIS_SECTIONS:
            problems.add(
                setting_path(*path),
                f"{setting_path(*path)} is not an analysis section.",
                f"{suggest(str(section), ANALYSIS_SECTIONS)}The sections are "
                f"{', '.join(ANALYSIS_SECTIONS)}.",
            )
            continue
        if not isinstance(definitions, Mapping):
            problems.type(
                setting_path(*path), definitions, f"a dict of named {section} definitions",
                f"Use e.g. {example}.",
            )  # fmt: skip
            continue
        for name, definition in definitions.items():
            if not isinstance(definition, Mapping):
                problems.type(
                    setting_path(*path, name), definition,
                    f"a dict defining the {section} {name!r} (with its 'type')",
                    f"Use e.g. {example}; a list of filters goes in the analyzer's 'filter'.",
                )  # fmt: skip


def _count_at_least(value: Any, minimum: int) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value >= minimum
    return isinstance(value, str) and value.isascii() and value.isdigit() and int(value) >= minimum


# -- names across the configuration -------------------------------------------------------------


def _test_owner(key: str, field: str, given: bool, position: int | None = None) -> str:
    path = f"ES_INDICES[{key!r}]['TEST'][{field!r}]"
    if position is not None:
        path += f"[{position}]"
    return path if given else f"{path} (by default)"


def check_index_names(
    indices: Mapping[str, Mapping[str, Any]],
    raw: Mapping[str, Any] | None = None,
    suffix: str = "",
) -> list[ConfigurationError]:
    """Return the problems of the names of ``indices`` (defaults filled in) taken together.

    Test names are checked as they will be used: with the ``test_`` prefix where they are
    derived, and with ``suffix`` (a parallel worker's). ``raw`` (ES_INDICES as given) tells
    derived test names from given ones. Duplicates are refused: a name or alias used twice
    among the live names, or among the test names, and any test name equal to a live one.
    """
    problems = _Problems()
    raw = raw or {}
    for key, index in indices.items():
        test = index["TEST"]
        given = raw.get(key, {}).get("TEST", {}) if isinstance(raw.get(key), Mapping) else {}
        given = given if isinstance(given, Mapping) else {}
        name_given = "NAME" in given
        with_suffix = f" with the worker suffix {suffix!r}" if suffix else ""
        if suffix or not name_given:
            owner = _test_owner(key, "NAME", name_given)
            _check_name(
                problems,
                owner,
                test["NAME"] + suffix,
                alias=False,
                subject=f"{owner}{with_suffix} is {show(test['NAME'] + suffix)}",
                fix="Shorten NAME or set TEST NAME. " if not name_given else "",
            )
        aliases_given = "ALIASES" in given
        for position, alias in enumerate(test["ALIASES"]):
            if suffix or not aliases_given:
                owner = _test_owner(key, "ALIASES", aliases_given, position)
                _check_name(
                    problems,
                    owner,
                    alias + suffix,
                    alias=True,
                    subject=f"{owner}{with_suffix} is {show(alias + suffix)}",
                )
    before = len(problems.errors)
    _check_duplicates(problems, indices, test=False)
    if len(problems.errors) == before:  # else test names derived from them clash too
        _check_duplicates(problems, indices, test=True)
    _check_test_against_live(problems, indices)
    return problems.errors


def _check_duplicates(
    problems: _Problems, indices: Mapping[str, Mapping[str, Any]], *, test: bool
) -> None:
    seen: dict[str, str] = {}
    for key, index in indices.items():
        names = index["TEST"] if test else index
        prefix = f"ES_INDICES[{key!r}]" + ("['TEST']" if test else "")
        owners = [(f"{prefix}['NAME']", names["NAME"])]
        owners += [
            (f"{prefix}['ALIASES'][{position}]", alias)
            for position, alias in enumerate(names["ALIASES"])
        ]
        for owner, name in owners:
            first = seen.get(name)
            if first is None:
                seen[name] = owner
                continue
            what = "test names" if test else "names"
            problems.add(
                owner,
                f"{owner} is {name!r}, which {first} already uses: index and alias {what} "
                f"share one namespace on a server, so each must be used once.",
                "Give it another name; to search several indices at once, search them by "
                "their names instead of a shared alias.",
                DUPLICATES,
            )


def _check_test_against_live(problems: _Problems, indices: Mapping[str, Mapping[str, Any]]) -> None:
    live: dict[str, str] = {}
    for key, index in indices.items():
        for name in (index["NAME"], *index["ALIASES"]):
            live.setdefault(name, key)
    for key, index in indices.items():
        test = index["TEST"]
        where = f"ES_INDICES[{key!r}]['TEST']"
        if test["NAME"] == index["NAME"]:
            problems.add(
                f"{where}['NAME']",
                f"{where}['NAME'] is '{test['NAME']}', the same as the live NAME: tests would "
                f"write to the live index.",
                f"Give the test index another name or leave TEST NAME unset to use "
                f"'{TEST_PREFIX}{index['NAME']}'.",
                DUPLICATES,
            )
            continue
        clash = sorted(set(test["ALIASES"]) & set(index["ALIASES"]))
        if clash:
            problems.add(
                f"{where}['ALIASES']",
                f"{where}['ALIASES'] contains live alias(es) {clash}: tests would write to the "
                f"live index.",
                f"Use other names or leave TEST ALIASES unset to use the '{TEST_PREFIX}' prefix.",
                DUPLICATES,
            )
            continue
        for name in (test["NAME"], *test["ALIASES"]):
            if name in live:
                problems.add(
                    where,
                    f"{where} uses the name '{name}', which is a live name or alias of "
                    f"ES_INDICES['{live[name]}']: tests would write to a live index.",
                    "Give the test index or alias another name.",
                    DUPLICATES,
                )
                break


# -- servers and indices together ------------------------------------------------------------


def check_served_keys(
    servers: Mapping[str, Mapping[str, Any]], indices: Mapping[str, Any]
) -> list[ConfigurationError]:
    """Return a problem for each key a server lists (INDICES, TEST INDICES) not in ES_INDICES."""
    problems = _Problems()
    for alias, server in servers.items():
        test = server.get("TEST", {})
        for where, keys in (
            (f"ES_SERVERS[{alias!r}]['INDICES']", server.get("INDICES", [])),
            (f"ES_SERVERS[{alias!r}]['TEST']['INDICES']", test.get("INDICES", [])),
        ):
            for key in keys:
                if key not in indices:
                    problems.add(where, *unknown_index_message(key, where, indices))
    return problems.errors


def unknown_index_message(key: str, where: str, indices: Iterable[str]) -> tuple[str, str]:
    """Return (problem, hint) for the key ``key`` listed in ``where`` but not configured."""
    hint = f"Add ES_INDICES['{key}'] or remove it from that list."
    close = suggest(key, indices).strip()
    return (
        f"The index '{key}' listed in {where} is not configured in ES_INDICES.",
        f"{hint} {close}" if close else hint,
    )
