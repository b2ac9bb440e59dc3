"""The connection handler: ES_SERVERS and ES_INDICES settings in, backends out."""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.connection import BaseConnectionHandler
from django.utils.module_loading import import_string

from .exceptions import ConnectionDoesNotExist, IndexDoesNotExist
from .signals import connections_reset

if TYPE_CHECKING:
    from .backends.base import BaseBackend

DEFAULT_ES_ALIAS = "default"
DEFAULT_ENGINE = "djangoes.backends.elasticsearch.ElasticsearchBackend"
DEFAULT_HOSTS = ["http://127.0.0.1:9200"]
TEST_PREFIX = "test_"


def load_backend(path: str) -> type[BaseBackend]:
    """Import and return the backend class at the dotted ``path``.

    Raise ImproperlyConfigured naming ``path`` and the import error when it cannot be
    imported.
    """
    try:
        return import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"{path!r} isn't an available ElasticSearch backend. Set ENGINE to the dotted "
            f"path of a backend class, such as {DEFAULT_ENGINE!r}. Error was: {exc}"
        ) from exc


class ConnectionHandler(BaseConnectionHandler):
    """Build and cache one backend per alias of ``ES_SERVERS``."""

    settings_name = "ES_SERVERS"
    exception_class = ConnectionDoesNotExist

    def __init__(
        self,
        servers: Mapping[str, dict[str, Any]] | None = None,
        indices: Mapping[str, dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(servers)
        self._servers_arg = servers
        self._indices_arg = indices
        # Backends live in a plain dict looked up by key (an alias such as '__class__' must
        # not find an attribute). One backend per alias and process, shared by all threads:
        # Django's database handler keeps one connection per thread because a DB-API
        # connection is not thread-safe, but an Elasticsearch client is (it holds a pool of
        # HTTP connections any thread may draw from). Only a fork makes a client unsafe,
        # and ``check_for_multiprocess`` handles that.
        self._backends: dict[str, BaseBackend] = {}
        self._lock = threading.RLock()
        self._pid = os.getpid()
        self._test_mode = False
        self._test_suffix = ""
        self._generation = 0

    # -- settings -------------------------------------------------------------------------

    @property
    def servers(self) -> dict[str, dict[str, Any]]:
        """Return the configured ES_SERVERS, every alias with its defaults filled in.

        Raise ImproperlyConfigured when servers are configured without ``default``.
        """
        return self.settings

    @property
    def generation(self) -> int:
        """Return a number that changes whenever the settings or names in force change.

        Whatever derives from the settings (an index name, a Document's index) may be cached
        until this number changes: after ``override_settings``, a switch to or from test
        names, or ``reset()``. A fork keeps the names, so it keeps the number.
        """
        return self._generation

    def configure_settings(self, settings: Any) -> dict[str, dict[str, Any]]:
        if settings is None:
            settings = getattr(django_settings, "ES_SERVERS", None)
        if settings is None or settings == {}:
            settings = {DEFAULT_ES_ALIAS: {}}
        _require(settings, Mapping, "ES_SERVERS", "a dict of server aliases to settings")
        settings = copy.deepcopy(dict(settings))
        if DEFAULT_ES_ALIAS not in settings:
            raise ImproperlyConfigured("You must define a 'default' ElasticSearch server")
        for alias, server in settings.items():
            _require(server, Mapping, f"ES_SERVERS['{alias}']", "a dict of settings")
            settings[alias] = dict(server)
        for alias, server in settings.items():
            self._fill_server_defaults(alias, server)
        return settings

    @property
    def indices(self) -> dict[str, dict[str, Any]]:
        """Return the configured ES_INDICES, every key with its defaults filled in."""
        try:
            return self.__dict__["_indices_settings"]
        except KeyError:
            pass
        raw = self._indices_arg
        if raw is None:
            raw = getattr(django_settings, "ES_INDICES", None) or {}
        _require(raw, Mapping, "ES_INDICES", "a dict of index keys to settings")
        indices = copy.deepcopy(dict(raw))
        for key, index in indices.items():
            _require(index, Mapping, f"ES_INDICES['{key}']", "a dict of settings")
            indices[key] = dict(index)
        for key, index in indices.items():
            self._fill_index_defaults(key, index)
        _check_test_names_against_live_names(indices)
        # Cached only once valid: a bad setting keeps raising instead of passing the 2nd time.
        self.__dict__["_indices_settings"] = indices
        return indices

    def ensure_server_defaults(self, alias: str) -> None:
        """Fill in the defaults of the server ``alias``: ENGINE, HOSTS, PARAMS, INDICES, TEST."""
        self._fill_server_defaults(alias, self._server(alias))

    def _fill_server_defaults(self, alias: str, server: dict[str, Any]) -> None:
        server.setdefault("ENGINE", DEFAULT_ENGINE)
        server.setdefault("HOSTS", list(DEFAULT_HOSTS))
        server.setdefault("PARAMS", {})
        server.setdefault("INDICES", [])
        if isinstance(server["HOSTS"], str):
            server["HOSTS"] = [server["HOSTS"]]
        where = f"ES_SERVERS['{alias}']"
        _require(server["HOSTS"], (list, tuple), f"{where}['HOSTS']", "a list")
        _require(server["INDICES"], (list, tuple), f"{where}['INDICES']", "a list")
        _require(server["PARAMS"], dict, f"{where}['PARAMS']", "a dict of client arguments")
        _require(server["ENGINE"], str, f"{where}['ENGINE']", "the dotted path of a backend class")
        test = server.setdefault("TEST", {})
        _require(test, dict, f"{where}['TEST']", "a dict")
        test.setdefault("INDICES", list(server["INDICES"]))
        _require(test["INDICES"], (list, tuple), f"{where}['TEST']['INDICES']", "a list")

    def ensure_index_defaults(self, key: str) -> None:
        """Fill in the defaults of the index ``key``: NAME, ALIASES, SETTINGS and TEST."""
        self._fill_index_defaults(key, self._index(key))

    def _fill_index_defaults(self, key: str, index: dict[str, Any]) -> None:
        index.setdefault("NAME", key)
        index.setdefault("ALIASES", [])
        index.setdefault("SETTINGS", None)
        if not isinstance(index["NAME"], str) or not index["NAME"]:
            raise ImproperlyConfigured(
                f"ES_INDICES['{key}']['NAME'] must be a non-empty string, not {index['NAME']!r}."
            )
        index["ALIASES"] = _names_list(index["ALIASES"], f"ES_INDICES['{key}']['ALIASES']")
        settings_kind = (Mapping, type(None))
        settings_expected = "a dict of index settings or None"
        where = f"ES_INDICES['{key}']"
        _require(index["SETTINGS"], settings_kind, f"{where}['SETTINGS']", settings_expected)
        test = index.setdefault("TEST", {})
        _require(test, dict, f"{where}['TEST']", "a dict")
        test.setdefault("NAME", TEST_PREFIX + index["NAME"])
        test.setdefault("ALIASES", [TEST_PREFIX + alias for alias in index["ALIASES"]])
        test.setdefault("SETTINGS", index["SETTINGS"])
        if not isinstance(test["NAME"], str) or not test["NAME"]:
            raise ImproperlyConfigured(
                f"ES_INDICES['{key}']['TEST']['NAME'] must be a non-empty string, "
                f"not {test['NAME']!r}."
            )
        test["ALIASES"] = _names_list(test["ALIASES"], f"ES_INDICES['{key}']['TEST']['ALIASES']")
        _require(test["SETTINGS"], settings_kind, f"{where}['TEST']['SETTINGS']", settings_expected)
        if test["NAME"] == index["NAME"]:
            raise ImproperlyConfigured(
                f"ES_INDICES['{key}']['TEST']['NAME'] is '{test['NAME']}', the same as the live "
                f"NAME: tests would write to the live index. Give the test index another name "
                f"or leave TEST NAME unset to use '{TEST_PREFIX}{index['NAME']}'."
            )
        clash = sorted(set(test["ALIASES"]) & set(index["ALIASES"]))
        if clash:
            raise ImproperlyConfigured(
                f"ES_INDICES['{key}']['TEST']['ALIASES'] contains live alias(es) {clash}: tests "
                f"would write to the live index. Use other names or leave TEST ALIASES unset to "
                f"use the '{TEST_PREFIX}' prefix."
            )

    def prepare_server_test_settings(self, alias: str) -> dict[str, Any]:
        """Return the settings of server ``alias`` as they apply under tests."""
        server = copy.deepcopy(self._server(alias))
        server["INDICES"] = list(server["TEST"]["INDICES"])
        return server

    def prepare_index_test_settings(self, key: str) -> dict[str, Any]:
        """Return the settings of index ``key`` as they apply under tests (test names)."""
        index = copy.deepcopy(self._index(key))
        test = index["TEST"]
        suffix = self._test_suffix
        index["NAME"] = test["NAME"] + suffix
        index["ALIASES"] = [alias + suffix for alias in test["ALIASES"]]
        index["SETTINGS"] = test["SETTINGS"]
        return index

    def get_server_settings(self, alias: str) -> dict[str, Any]:
        """Return the settings of server ``alias`` in force now (live or test)."""
        if self._test_mode:
            return self.prepare_server_test_settings(alias)
        return copy.deepcopy(self._server(alias))

    def get_index_settings(self, key: str) -> dict[str, Any]:
        """Return the settings of index ``key`` in force now (live or test names)."""
        if self._test_mode:
            return self.prepare_index_test_settings(key)
        return copy.deepcopy(self._index(key))

    def get_server_indices(self, server: Mapping[str, Any] | str) -> dict[str, dict[str, Any]]:
        """Return ``{key: index settings}`` for the indices a server (settings or alias) serves."""
        alias = server if isinstance(server, str) else None
        settings = self.get_server_settings(server) if isinstance(server, str) else server
        result = {}
        for key in settings["INDICES"]:
            if key not in self.indices:
                raise IndexDoesNotExist(
                    f"The index '{key}' listed in {self._listed_in(alias, key)} is not "
                    f"configured in ES_INDICES. Add ES_INDICES['{key}'] or remove it from "
                    f"that list."
                )
            result[key] = self.get_index_settings(key)
        return result

    def _listed_in(self, alias: str | None, key: str) -> str:
        if alias is None:
            return "ES_SERVERS INDICES"
        if self._test_mode and key not in self._server(alias)["INDICES"]:
            return f"ES_SERVERS['{alias}']['TEST']['INDICES']"
        return f"ES_SERVERS['{alias}']['INDICES']"

    def live_index_names(self) -> frozenset[str]:
        """Return every live index name and alias configured in ES_INDICES."""
        names: set[str] = set()
        for index in self.indices.values():
            names.add(index["NAME"])
            names.update(index["ALIASES"])
        return frozenset(names)

    def _server(self, alias: str) -> dict[str, Any]:
        try:
            return self.settings[alias]
        except KeyError:
            raise self._does_not_exist(alias) from None

    def _does_not_exist(self, alias: str) -> ConnectionDoesNotExist:
        return ConnectionDoesNotExist(
            f"The connection '{alias}' doesn't exist: ES_SERVERS defines "
            f"{', '.join(repr(name) for name in self.settings)}."
        )

    def _index(self, key: str) -> dict[str, Any]:
        try:
            return self.indices[key]
        except KeyError:
            raise IndexDoesNotExist(f"The index '{key}' is not configured in ES_INDICES.") from None

    # -- which server serves an index ------------------------------------------------------

    def _served(self, alias: str) -> list[str]:
        """Return the keys server ``alias`` serves now (its INDICES, or TEST INDICES)."""
        server = self._server(alias)
        return server["TEST"]["INDICES"] if self._test_mode else server["INDICES"]

    def servers_for_index(self, key: str) -> list[str]:
        """Return the aliases of the servers that serve index ``key`` now, in ES_SERVERS order."""
        return [alias for alias in self.settings if key in self._served(alias)]

    def server_for_index(self, key: str, using: str | None = None) -> str | None:
        """Return the alias of the server that holds index ``key`` now; None if none does.

        With ``using``, that server if it serves ``key``; else ``default`` when it serves
        ``key``, else the first server (in ES_SERVERS order) that does.
        """
        servers = self.servers_for_index(key)
        if using is not None:
            return using if using in servers else None
        if DEFAULT_ES_ALIAS in servers:
            return DEFAULT_ES_ALIAS
        return servers[0] if servers else None

    # -- backends -------------------------------------------------------------------------

    def load_backend(self, alias: str) -> BaseBackend:
        """Prepare and load a backend for the given alias.

        Fill in the defaults of the server and of the indices it serves, take the test
        settings when test names are in force, and return a new backend instance (not
        cached: ``connections[alias]`` is the cached one).
        """
        from .backends.base import BaseBackend

        self.ensure_server_defaults(alias)
        path = self._server(alias)["ENGINE"]
        try:
            backend_class = load_backend(path)
        except ImproperlyConfigured as exc:
            raise ImproperlyConfigured(
                f"ES_SERVERS['{alias}']['ENGINE'] is '{path}', which could not be imported: "
                f"{exc.__cause__ or exc}"
            ) from exc.__cause__ or exc
        if not (isinstance(backend_class, type) and issubclass(backend_class, BaseBackend)):
            raise ImproperlyConfigured(
                f"ES_SERVERS['{alias}']['ENGINE'] is '{path}', which is not a subclass of "
                f"djangoes.backends.base.BaseBackend."
            )
        return backend_class(
            alias,
            self.get_server_settings(alias),
            self.get_server_indices(alias),
            write_guard=self.live_index_names() if self._test_mode else None,
        )

    def create_connection(self, alias: str) -> BaseBackend:
        return self.load_backend(alias)

    def __getitem__(self, alias: str) -> BaseBackend:
        self.check_for_multiprocess()
        backend = self._backends.get(alias)
        if backend is not None:
            return backend
        with self._lock:
            if alias not in self._backends:
                if alias not in self.settings:
                    raise self._does_not_exist(alias)
                self._backends[alias] = self.create_connection(alias)
            return self._backends[alias]

    def __setitem__(self, alias: str, backend: BaseBackend) -> None:
        self._backends[alias] = backend

    def __delitem__(self, alias: str) -> None:
        del self._backends[alias]

    def __iter__(self) -> Iterator[str]:
        return iter(self.settings)

    def all(self, initialized_only: bool = False) -> list[BaseBackend]:
        """Return the backend of every alias (only those built so far with initialized_only)."""
        if initialized_only:
            self.check_for_multiprocess()
            return list(self._backends.values())
        return [self[alias] for alias in self]

    def close_all(self) -> None:
        """Close the client of every backend built so far (it reconnects on next use)."""
        # Only what was built: re-reading settings here could raise mid-override_settings.
        for backend in self.all(initialized_only=True):
            backend.close()

    def check_for_multiprocess(self) -> None:
        """Forget every backend when this process is a fork of the one that built them.

        The child must not use the parent's client: both would read and write the same
        sockets. The parent's objects are dropped, not closed, so the parent keeps working.
        Names stay as they are, so ``generation`` does not change.
        """
        pid = os.getpid()
        if pid != self._pid:
            self._pid = pid
            self._lock = threading.RLock()
            self._backends = {}

    def reset(self) -> None:
        """Close and forget every backend; the next access builds them anew."""
        with self._lock:
            self.close_all()
            self._backends = {}
            self._generation += 1
        connections_reset.send(sender=type(self), handler=self)

    def reconfigure(self) -> None:
        """Re-read ES_SERVERS and ES_INDICES (after a settings change) and reset backends."""
        with self._lock:
            self.close_all()
            self._backends = {}
            self.__dict__.pop("settings", None)
            self.__dict__.pop("_indices_settings", None)
            self._settings = self._servers_arg
            self._generation += 1
        connections_reset.send(sender=type(self), handler=self)

    # -- test settings --------------------------------------------------------------------

    @property
    def test_mode(self) -> bool:
        """Whether backends use the test index names."""
        return self._test_mode

    @property
    def test_suffix(self) -> str:
        """Return the suffix appended to every test name (a parallel worker's, or '')."""
        return self._test_suffix

    def use_test_settings(self, enabled: bool = True, suffix: str = "") -> tuple[bool, str]:
        """Switch every connection to test (or back to live) names; return the old state."""
        old = (self._test_mode, self._test_suffix)
        if old != (enabled, suffix):
            if enabled:
                # Validate every index (test names must not collide) before switching.
                self.indices  # noqa: B018
            self._test_mode, self._test_suffix = enabled, suffix
            self.reset()
        return old


def _require(value: Any, kind: type | tuple[type, ...], setting: str, expected: str) -> None:
    """Raise ImproperlyConfigured naming ``setting`` unless ``value`` is of ``kind``."""
    if not isinstance(value, kind):
        raise ImproperlyConfigured(f"{setting} must be {expected}, not {type(value).__name__}.")


def _names_list(value: Any, setting: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ImproperlyConfigured(f"{setting} must be a list of names, not {value!r}.")
    return list(value)


def _check_test_names_against_live_names(indices: Mapping[str, dict[str, Any]]) -> None:
    """Refuse a test name or alias of one index equal to a live name or alias of any index."""
    live: dict[str, str] = {}
    for key, index in indices.items():
        for name in (index["NAME"], *index["ALIASES"]):
            live.setdefault(name, key)
    for key, index in indices.items():
        for name in (index["TEST"]["NAME"], *index["TEST"]["ALIASES"]):
            if name in live:
                raise ImproperlyConfigured(
                    f"ES_INDICES['{key}']['TEST'] uses the name '{name}', which is a live name "
                    f"or alias of ES_INDICES['{live[name]}']: tests would write to a live "
                    f"index. Give the test index or alias another name."
                )
