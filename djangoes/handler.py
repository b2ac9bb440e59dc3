"""The connection handler: ES_SERVERS and ES_INDICES settings in, backends out."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.connection import BaseConnectionHandler
from django.utils.module_loading import import_string
from django.views.decorators.debug import sensitive_variables

from . import validation
from .backends.guard import remember_live_names
from .exceptions import ConnectionDoesNotExist, IndexDoesNotExist
from .signals import connections_reset
from .validation import ConfigurationError

if TYPE_CHECKING:
    from .backends.base import BaseBackend

DEFAULT_ES_ALIAS = "default"
DEFAULT_ENGINE = "djangoes.backends.elasticsearch.ElasticsearchBackend"
DEFAULT_HOSTS = ["http://127.0.0.1:9200"]
TEST_PREFIX = validation.TEST_PREFIX


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
        # Settings declared in code (see ``declare``).
        self._declared_servers: dict[str, dict[str, Any]] | None = None
        self._declared_indices: dict[str, dict[str, Any]] = {}

    # -- settings -------------------------------------------------------------------------

    @property
    def servers(self) -> dict[str, dict[str, Any]]:
        """Return the configured ES_SERVERS, every alias with its defaults filled in.

        Raise ImproperlyConfigured (a ``djangoes.validation.ConfigurationError``) naming the
        first invalid setting, e.g. when servers are configured without ``default``.
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

    def declare(
        self,
        servers: Mapping[str, dict[str, Any]] | None = None,
        indices: Mapping[str, dict[str, Any]] | None = None,
    ) -> None:
        """Add settings declared in code where ES_SERVERS and ES_INDICES say nothing.

        ``servers`` stand for ES_SERVERS while that setting is absent. Each of ``indices``
        whose key ES_INDICES lacks is added to it, served by the ``default`` server unless a
        server lists it. (``djangoes_dsl.compat`` declares django-elasticsearch-dsl's
        ``ELASTICSEARCH_DSL`` and its Documents' ``class Index`` this way.)
        """
        with self._lock:
            if servers is not None:
                self._declared_servers = validation.copy_settings(dict(servers))
            for key, index in (indices or {}).items():
                self._declared_indices[key] = validation.copy_settings(dict(index))
        self.reconfigure()

    def _raw_servers(self, settings: Any) -> Any:
        if settings is None:
            settings = getattr(django_settings, "ES_SERVERS", None)
            if settings is None and self._declared_servers is not None:
                settings = validation.copy_settings(self._declared_servers)
        if settings is None or (isinstance(settings, Mapping) and not settings):
            settings = {DEFAULT_ES_ALIAS: {}}
        return settings

    @sensitive_variables()
    def configure_settings(self, settings: Any) -> dict[str, dict[str, Any]]:
        servers, errors = validation.check_servers(self._raw_servers(settings), DEFAULT_HOSTS)
        if errors:
            raise errors[0]
        for alias, server in servers.items():
            self._fill_server_defaults(alias, server)
        self._serve_declared_indices(servers)
        return servers

    def _serve_declared_indices(self, servers: dict[str, dict[str, Any]]) -> None:
        """Have the default server serve the declared indices no server lists."""
        if not self._declared_indices or DEFAULT_ES_ALIAS not in servers:
            return
        configured = self._configured_indices()
        listed = {key for server in servers.values() for key in server["INDICES"]}
        listed |= {key for server in servers.values() for key in server["TEST"]["INDICES"]}
        default = servers[DEFAULT_ES_ALIAS]
        for key in self._declared_indices:
            if key not in listed and key not in configured:
                default["INDICES"].append(key)
                default["TEST"]["INDICES"].append(key)

    def _configured_indices(self) -> Any:
        raw = self._indices_arg
        if raw is None:
            raw = getattr(django_settings, "ES_INDICES", None) or {}
        return raw

    @property
    def indices(self) -> dict[str, dict[str, Any]]:
        """Return the configured ES_INDICES, every key with its defaults filled in.

        Raise ImproperlyConfigured (a ``djangoes.validation.ConfigurationError``) naming the
        first invalid setting.
        """
        try:
            return self.__dict__["_indices_settings"]
        except KeyError:
            pass
        indices, errors = self._read_indices()
        if errors:
            raise errors[0]
        # Cached only once valid: a bad setting keeps raising instead of passing the 2nd time.
        self.__dict__["_indices_settings"] = indices
        return indices

    def _raw_indices(self) -> Any:
        raw = self._configured_indices()
        if self._declared_indices and isinstance(raw, Mapping):
            declared = {
                key: validation.copy_settings(index)
                for key, index in self._declared_indices.items()
                if key not in raw
            }
            raw = {**declared, **raw}
        return raw

    def _read_indices(self) -> tuple[dict[str, dict[str, Any]], list[ConfigurationError]]:
        raw = self._raw_indices()
        indices, errors = validation.check_indices(raw)
        for key, index in indices.items():
            self._fill_index_defaults(key, index)
        errors += validation.check_index_names(indices, raw)
        return indices, errors

    @sensitive_variables()
    def configuration_errors(self) -> list[ImproperlyConfigured]:
        """Return every problem of ES_SERVERS and ES_INDICES; an empty list when both are valid.

        Never raises: system checks report what this returns. Besides what first use checks
        (see ``djangoes.validation``), each server's ENGINE is imported and checks its own
        settings (the client's PARAMS), and the keys servers list must be in ES_INDICES.
        """
        servers, server_errors = validation.check_servers(
            self._raw_servers(self._servers_arg), DEFAULT_HOSTS
        )
        errors: list[ImproperlyConfigured] = [*server_errors]
        for alias, server in servers.items():
            self._fill_server_defaults(alias, server)
        indices, index_errors = self._read_indices()
        errors += index_errors
        raw_indices = self._raw_indices()
        if isinstance(raw_indices, Mapping):
            errors += validation.check_served_keys(servers, raw_indices)
        for alias, server in servers.items():
            try:
                backend_class = self._backend_class(alias, server["ENGINE"])
            except ConfigurationError as exc:
                errors.append(exc)
                continue
            errors += backend_class.validate_settings(alias, server)
        if self._test_suffix and not index_errors:
            errors += validation.check_index_names(indices, raw_indices, self._test_suffix)
        return errors

    def ensure_server_defaults(self, alias: str) -> None:
        """Fill in the defaults of the server ``alias``: ENGINE, HOSTS, PARAMS, INDICES, TEST."""
        self._fill_server_defaults(alias, self._server(alias))

    def _fill_server_defaults(self, alias: str, server: dict[str, Any]) -> None:
        # Validated already (djangoes.validation): only defaults and normal forms here.
        server.setdefault("ENGINE", DEFAULT_ENGINE)
        server.setdefault("PARAMS", {})
        # Elastic Cloud: the client finds the nodes from the cloud_id, not from HOSTS.
        server.setdefault("HOSTS", [] if server["PARAMS"].get("cloud_id") else list(DEFAULT_HOSTS))
        server.setdefault("INDICES", [])
        if isinstance(server["HOSTS"], str):
            server["HOSTS"] = [server["HOSTS"]]
        server["INDICES"] = list(server["INDICES"])
        test = server.setdefault("TEST", {})
        test.setdefault("INDICES", list(server["INDICES"]))
        test["INDICES"] = list(test["INDICES"])

    def ensure_index_defaults(self, key: str) -> None:
        """Fill in the defaults of the index ``key``: NAME, ALIASES, SETTINGS and TEST."""
        self._fill_index_defaults(key, self._index(key))

    def _fill_index_defaults(self, key: str, index: dict[str, Any]) -> None:
        # Validated already (djangoes.validation): only defaults and normal forms here.
        index.setdefault("NAME", key)
        index.setdefault("ALIASES", [])
        index.setdefault("SETTINGS", None)
        index["ALIASES"] = _names_list(index["ALIASES"])
        test = index.setdefault("TEST", {})
        test.setdefault("NAME", TEST_PREFIX + index["NAME"])
        test.setdefault("ALIASES", [TEST_PREFIX + alias for alias in index["ALIASES"]])
        test.setdefault("SETTINGS", index["SETTINGS"])
        test["ALIASES"] = _names_list(test["ALIASES"])

    def prepare_server_test_settings(self, alias: str) -> dict[str, Any]:
        """Return the settings of server ``alias`` as they apply under tests."""
        server = validation.copy_settings(self._server(alias))
        server["INDICES"] = list(server["TEST"]["INDICES"])
        return server

    def prepare_index_test_settings(self, key: str) -> dict[str, Any]:
        """Return the settings of index ``key`` as they apply under tests (test names)."""
        index = validation.copy_settings(self._index(key))
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
        return validation.copy_settings(self._server(alias))

    def get_index_settings(self, key: str) -> dict[str, Any]:
        """Return the settings of index ``key`` in force now (live or test names)."""
        if self._test_mode:
            return self.prepare_index_test_settings(key)
        return validation.copy_settings(self._index(key))

    def get_server_indices(self, server: Mapping[str, Any] | str) -> dict[str, dict[str, Any]]:
        """Return ``{key: index settings}`` for the indices a server (settings or alias) serves."""
        alias = server if isinstance(server, str) else None
        settings = self.get_server_settings(server) if isinstance(server, str) else server
        result = {}
        for key in settings["INDICES"]:
            if key not in self.indices:
                where = self._listed_in(alias, key)
                problem, hint = validation.unknown_index_message(key, where, self.indices)
                raise IndexDoesNotExist(f"{problem} {hint}")
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

    @sensitive_variables()
    def load_backend(self, alias: str) -> BaseBackend:
        """Prepare and load a backend for the given alias.

        Fill in the defaults of the server and of the indices it serves, take the test
        settings when test names are in force, and return a new backend instance (not
        cached: ``connections[alias]`` is the cached one). The backend class checks the
        server's settings first (``validate_settings``): the first problem is raised.
        """
        self.ensure_server_defaults(alias)
        server = self._server(alias)
        backend_class = self._backend_class(alias, server["ENGINE"])
        errors = backend_class.validate_settings(alias, server)
        if errors:
            raise errors[0]
        return backend_class(
            alias,
            self.get_server_settings(alias),
            self.get_server_indices(alias),
            write_guard=self.live_index_names() if self._test_mode else None,
        )

    def _backend_class(self, alias: str, path: str) -> type[BaseBackend]:
        from .backends.base import BaseBackend

        setting = f"ES_SERVERS['{alias}']['ENGINE']"
        hint = f"Set it to the dotted path of a backend class, such as {DEFAULT_ENGINE!r}."
        try:
            backend_class = load_backend(path)
        except ImproperlyConfigured as exc:
            cause = exc.__cause__ or exc
            problem = f"{setting} is '{path}', which could not be imported: {cause}."
            raise ConfigurationError(setting, problem, hint, validation.BACKEND) from cause
        if not (isinstance(backend_class, type) and issubclass(backend_class, BaseBackend)):
            problem = (
                f"{setting} is '{path}', which is not a subclass of "
                f"djangoes.backends.base.BaseBackend."
            )
            raise ConfigurationError(setting, problem, hint, validation.BACKEND)
        return backend_class

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
        """Re-read ES_SERVERS and ES_INDICES (after a settings change) and rebuild backends.

        A backend built so far whose server settings, apart from the indices it serves, did
        not change is rebuilt at once around the same client (its connection pool is kept,
        its write guard follows the new names); every other client is closed, and its
        backend is built anew on first use.
        """
        with self._lock:
            replaced = self._backends
            self._backends = {}
            self.__dict__.pop("settings", None)
            self.__dict__.pop("_indices_settings", None)
            self._settings = self._servers_arg
            self._generation += 1
            if self._test_mode:
                self._protect_live_names()
            for alias, backend in replaced.items():
                self._keep_client(alias, backend)
        connections_reset.send(sender=type(self), handler=self)

    def _protect_live_names(self) -> None:
        """Have the write guard protect the live names of the settings now in force, for the
        rest of the process (see ``djangoes.backends.guard.remember_live_names``)."""
        try:
            names = self.live_index_names()
        except ImproperlyConfigured:
            return  # names that never come into force: the next use raises the problem
        remember_live_names(names)

    def _keep_client(self, alias: str, old: BaseBackend) -> None:
        """Build the backend of ``alias`` around the client of ``old`` if it fits; close ``old``."""
        try:
            if alias in self.settings and old.client_settings(
                self.get_server_settings(alias)
            ) == old.client_settings(old.server):
                backend = self.load_backend(alias)
                if type(backend) is type(old) and backend.take_client(old):
                    self._backends[alias] = backend
        except Exception:  # a settings change must not raise: the next use raises it
            pass
        finally:
            old.close()

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
                # Validate every index (test names must not collide), and the test names with
                # this suffix, before switching.
                errors = validation.check_index_names(self.indices, self._raw_indices(), suffix)
                if errors:
                    raise errors[0]
            self._test_mode, self._test_suffix = enabled, suffix
            self.reset()
        return old


def _names_list(value: str | list[str] | tuple[str, ...]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)
