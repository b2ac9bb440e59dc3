"""Credentials, however given, appear on no surface: reprs, messages, DEBUG logs, exceptions
and tracebacks, command output, and Django's error reports with djangoes' filter.

Each way of giving credentials is used against the secured node (the ones that name the
``elastic`` user authenticate; the others are refused with a 401, which is a surface too).
Django's own filter is checked as well: what it shows is what the documentation says, and
what the ``djangoes_dsl.W020`` check warns about.
"""

from __future__ import annotations

import base64
import html
import io
import logging
import re
import socket
import traceback
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import django
import elasticsearch
import pytest
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import RequestFactory, override_settings
from django.utils.log import AdminEmailHandler
from django.views import debug as django_debug

from djangoes import ConnectionHandler, connections
from djangoes.backends import creation
from djangoes.debug import SafeExceptionReporterFilter, exposed_credentials
from djangoes.test.utils import setup_djangoes
from tests.nodes import secure_node

pytestmark = pytest.mark.secured
urlpatterns: list[Any] = []  # error reports resolve the request's path (ROOT_URLCONF)

# Django 6.0 takes ADMINS as addresses; 5.2 as (name, address) pairs.
ADMINS: list[Any] = (
    ["ops@example.com"] if django.VERSION >= (6, 0) else [("ops", "ops@example.com")]
)
DJANGO_HIDES_AUTH_KEYS = bool(
    django_debug.SafeExceptionReporterFilter.hidden_settings.search("basic_auth")
)


@dataclass
class Way:
    id: str
    server: dict[str, Any]
    secrets: list[str]
    valid: bool = True  # False: djangoes refuses the settings (the message is the surface)
    in_url: bool = False  # the secret is in a HOSTS URL
    in_auth_param: bool = False  # in a PARAMS key that Django 5.x hides (…auth…)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def ways(url: str, password: str) -> list[Way]:
    """Every way of giving credentials; ``password`` is the elastic user's."""
    token = f"tok-{uuid.uuid4().hex}"
    key_id, key = f"kid{uuid.uuid4().hex[:8]}", f"key-{uuid.uuid4().hex}"
    reserved = f"p#/?@w-{uuid.uuid4().hex[:8]}"
    host = url.split("://", 1)[1]
    basic = [password, b64(f"elastic:{password}")]
    return [
        Way("USER and PASSWORD", {"USER": "elastic", "PASSWORD": password}, basic),
        Way("API_KEY pair", {"API_KEY": (key_id, key)}, [key, b64(f"{key_id}:{key}")]),
        Way("API_KEY encoded", {"API_KEY": b64(f"{key_id}:{key}")}, [key, b64(f"{key_id}:{key}")]),
        Way("basic_auth pair", {"PARAMS": {"basic_auth": ("elastic", password)}}, basic,
            in_auth_param=True),
        Way("basic_auth base64", {"PARAMS": {"basic_auth": b64(f"elastic:{password}")}}, basic,
            in_auth_param=True),
        Way("http_auth pair", {"PARAMS": {"http_auth": ("elastic", password)}}, basic,
            in_auth_param=True),
        Way("api_key param", {"PARAMS": {"api_key": (key_id, key)}}, [key, b64(f"{key_id}:{key}")]),
        Way("bearer_auth", {"PARAMS": {"bearer_auth": token}}, [token], in_auth_param=True),
        Way("authorization header",
            {"PARAMS": {"headers": {"authorization": f"Basic {b64(f'elastic:{password}')}"}}},
            basic, in_auth_param=True),
        Way("URL user info", {"HOSTS": [f"http://elastic:{password}@{host}"]}, basic,
            in_url=True),
        Way("URL, reserved characters encoded",
            {"HOSTS": [f"http://elastic:{quote(reserved, safe='')}@{host}"]},
            [reserved, quote(reserved, safe=""), b64(f"elastic:{reserved}")], in_url=True),
        Way("URL, reserved characters not encoded",
            {"HOSTS": [f"http://elastic:{reserved}@{host}"]},
            [reserved, b64(f"elastic:{reserved}")], valid=False, in_url=True),
        Way("URL without a scheme", {"HOSTS": [f"elastic:{password}@{host}"]}, basic,
            valid=False, in_url=True),
        Way("URL with a word for a port", {"HOSTS": [f"http://elastic:{password}@h:port"]},
            basic, valid=False, in_url=True),
    ]  # fmt: skip


WAY_IDS = [way.id for way in ways("http://h:1", "pw")]


def readable(text: str) -> str:
    """Return ``text`` as a reader puts it together: HTML entities decoded, and the lines of a
    long repr (``b'...'\n b'...'``, as ``pprint`` wraps it) joined."""
    text = html.unescape(text)
    return re.sub(r"""['"]\)?\s*\n\s*\(?[bru]*['"]""", "", text)


def closed_port_url() -> str:
    """Return the URL of a loopback port nothing listens on: a node that is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(params=[(way, node) for node in ("up", "down") for way in WAY_IDS],
                ids=lambda param: f"{param[0]}, node {param[1]}")  # fmt: skip
def way(request) -> tuple[Way, str]:
    way_id, node = request.param
    url, password = secure_node()
    if node == "down":
        url = closed_port_url()
    (chosen,) = [w for w in ways(url, password) if w.id == way_id]
    return chosen, url


def settings_for(way: Way, url: str) -> dict[str, Any]:
    server = {"HOSTS": [url], "PARAMS": {"max_retries": 0}, **way.server}
    if "PARAMS" in way.server:
        server["PARAMS"] = {"max_retries": 0, **way.server["PARAMS"]}
    return {"ES_SERVERS": {"default": {**server, "INDICES": ["products", "articles"]}}}


def reports(exc: BaseException) -> dict[str, str]:
    """Django's error reports of ``exc`` with djangoes' filter: text, HTML, DEBUG on and off,
    and the e-mail to ADMINS (text and HTML)."""
    request = RequestFactory().get("/search/")
    request.exception_reporter_filter = SafeExceptionReporterFilter()  # as Django documents
    found = {}
    for debug in (False, True):
        with override_settings(DEBUG=debug, ROOT_URLCONF=__name__, ADMINS=ADMINS):
            reporter = django_debug.ExceptionReporter(request, type(exc), exc, exc.__traceback__)
            found[f"report text (DEBUG={debug})"] = reporter.get_traceback_text()
            found[f"report HTML (DEBUG={debug})"] = reporter.get_traceback_html()
            mail.outbox = []
            record = logging.LogRecord(
                "django.request", logging.ERROR, __file__, 1, "Internal Server Error: %s",
                ("/search/",), (type(exc), exc, exc.__traceback__),
            )  # fmt: skip
            record.request = request
            AdminEmailHandler(include_html=True).emit(record)
            (message,) = mail.outbox
            found[f"e-mail text (DEBUG={debug})"] = message.body
            found[f"e-mail HTML (DEBUG={debug})"] = str(message.alternatives[0][0])
    safe = SafeExceptionReporterFilter().get_safe_settings()
    found["safe settings"] = repr(safe)
    return found


def exception_surfaces(name: str, exc: BaseException) -> dict[str, str]:
    return {
        f"{name}: str": str(exc),
        f"{name}: repr": repr(exc),
        f"{name}: traceback": "".join(traceback.format_exception(exc)),
        **{f"{name}: {key}": text for key, text in reports(exc).items()},
    }


def command_output(*args: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(*args, stdout=out, stderr=err)
    except (SystemCheckError, Exception) as exc:  # the output is what matters here
        err.write(f"{type(exc).__name__}: {exc}")
    return out.getvalue() + err.getvalue()


def surfaces(way: Way, url: str, caplog) -> dict[str, str]:
    """Use the configuration every way an application does; return each text it produced."""
    found: dict[str, str] = {}
    with (
        override_settings(**settings_for(way, url)),
        caplog.at_level(logging.DEBUG),
    ):
        if not way.valid:  # refused settings: the error is what a user sees
            with pytest.raises(ImproperlyConfigured) as raised:
                connections["default"]
            found.update(exception_surfaces("settings error", raised.value))
            errors = connections.configuration_errors()
            found["check messages"] = "\n".join(str(error) for error in errors)
            found["manage.py check"] = command_output("check", "--tag", "djangoes")
        else:
            backend = connections["default"]
            found["repr(backend)"] = repr(backend)
            found["str(backend)"] = str(backend)
            found["repr(client)"] = repr(backend.client)
            try:
                backend.client.get(index=f"no-such-{uuid.uuid4().hex[:6]}", id="1")
            except elasticsearch.ApiError as exc:  # 404, or 401 for credentials it refuses
                found.update(exception_surfaces("request error", exc))
            except elasticsearch.ConnectionError as exc:  # the node is down
                found.update(exception_surfaces("connection error", exc))
            found["manage.py search_index list"] = command_output("search_index", "list")
            found["manage.py check"] = command_output("check", "--tag", "djangoes")
    found["logs (DEBUG)"] = caplog.text
    return found


def test_no_surface_shows_the_credentials(way, caplog):
    chosen, url = way
    found = surfaces(chosen, url, caplog)
    leaks = {
        surface: [secret[:4] + "…" for secret in chosen.secrets if secret in readable(text)]
        for surface, text in found.items()
    }
    assert {surface: secrets for surface, secrets in leaks.items() if secrets} == {}
    assert len(found) >= 8  # the surfaces were really produced
    if chosen.valid and "connection error: str" not in found:
        assert "> GET" in found["logs (DEBUG)"]  # the requests were logged
    if chosen.valid:
        assert any(key.startswith(("request error", "connection error")) for key in found)


def test_the_ways_that_name_the_elastic_user_authenticate():
    url, password = secure_node()
    for way in ways(url, password):
        if not way.valid or not any(password in secret for secret in way.secrets):
            continue
        with override_settings(**settings_for(way, url)):
            assert connections["default"].client.security.authenticate()["username"] == "elastic"


def test_what_djangos_own_filter_shows_and_the_check_that_warns_about_it():
    url, password = secure_node()
    plain = django_debug.SafeExceptionReporterFilter()
    for way in ways(url, password):
        with override_settings(**settings_for(way, url)):
            exposed = exposed_credentials(plain) == ["ES_SERVERS['default']"]
            # Django hides keys that look secret: PASSWORD, API_KEY, api_key; on 5.x also the
            # keys with AUTH (basic_auth, bearer_auth, authorization). Never a URL's password.
            assert exposed == (way.in_url or (way.in_auth_param and not DJANGO_HIDES_AUTH_KEYS))
            assert exposed_credentials(SafeExceptionReporterFilter()) == []
            warned = "djangoes_dsl.W020" in command_output("check", "--tag", "djangoes")
            assert warned == exposed, way.id


def test_djangos_debug_page_without_the_filter_shows_frame_variables():
    # What the documentation says: on the DEBUG page Django shows every local variable; the
    # djangoes filter masks the configured credentials in them too.
    url, password = secure_node()
    server = {"default": {"HOSTS": [url], "USER": "elastic", "PASSWORD": password}}
    request = RequestFactory().get("/")
    with override_settings(ES_SERVERS=server, DEBUG=True, ROOT_URLCONF=__name__):
        settings = connections["default"].server  # a local variable holding the password
        with pytest.raises(elasticsearch.NotFoundError) as raised:
            connections["default"].client.get(index="no-such-index", id="1")
        error = raised.value
        plain = django_debug.ExceptionReporter(request, type(error), error, error.__traceback__)
        assert password in plain.get_traceback_html()
        request.exception_reporter_filter = SafeExceptionReporterFilter()
        masked = django_debug.ExceptionReporter(request, type(error), error, error.__traceback__)
        assert password not in masked.get_traceback_html()
    assert settings["PASSWORD"] == password


def test_a_refused_password_in_the_test_setup_says_to_check_the_credentials():
    url, _password = secure_node()
    wrong = f"wrong-{uuid.uuid4().hex}"
    servers = {"default": {"HOSTS": [url], "USER": "elastic", "PASSWORD": wrong,
                           "PARAMS": {"max_retries": 0}, "INDICES": ["products"]}}  # fmt: skip
    handler = ConnectionHandler(servers=servers, indices={"products": {"NAME": "creds"}})
    with pytest.raises(creation.TestIndexCreationError) as raised:
        setup_djangoes(handler=handler)
    message = str(raised.value)
    assert "AuthenticationException(401" in message
    assert message.endswith(
        "The server refused the credentials: check ES_SERVERS['default'] (USER and PASSWORD, "
        "API_KEY, or the credentials in PARAMS or HOSTS)."
    )
    assert "SETTINGS" not in message
    assert wrong not in message


SECRET = f"pw-{uuid.uuid4().hex}"  # a module global: not among any frame's local variables


def test_djangos_filter_hides_the_local_variables_of_djangoes_functions_when_debug_is_off():
    # The settings are refused (the engine does not exist) deep inside djangoes, whose
    # functions that hold server settings are marked with sensitive_variables().
    server = {"USER": "elastic", "PASSWORD": SECRET, "ENGINE": "no.such.Backend"}
    with (
        override_settings(ES_SERVERS={"default": server}),
        pytest.raises(ImproperlyConfigured) as raised,
    ):
        connections["default"]
    del server
    error = raised.value
    request = RequestFactory().get("/")
    request.exception_reporter_filter = django_debug.SafeExceptionReporterFilter()
    with override_settings(DEBUG=False, ROOT_URLCONF=__name__):
        html = django_debug.ExceptionReporter(request, type(error), error, error.__traceback__)
        assert "load_backend" in html.get_traceback_html()  # djangoes' frames are there
        assert SECRET not in html.get_traceback_html()
    with override_settings(DEBUG=True, ROOT_URLCONF=__name__):
        html = django_debug.ExceptionReporter(request, type(error), error, error.__traceback__)
        assert SECRET in html.get_traceback_html()  # Django shows everything with DEBUG on
