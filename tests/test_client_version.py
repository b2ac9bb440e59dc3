"""A client newer than its server: one clear message in commands, signal indexing and the
test runner, instead of ``BadRequestError(400, 'None')``.

The real node refuses a request that asks for the API of its next major version, exactly as
an 8.x server refuses elasticsearch-py 9.x. The client here asks for it through a transport
that rewrites the compatibility headers the client sets; everything else is as it comes.
"""

from __future__ import annotations

import io
import logging
import re

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test import override_settings
from elastic_transport import Transport

from djangoes import ConnectionHandler, connections
from djangoes.backends import creation
from djangoes.backends.compat import IncompatibleServerError
from djangoes.test.utils import setup_djangoes
from tests.apps.shop.models import Product
from tests.conftest import node_version
from tests.settings import ES_SERVERS, ES_URL

SERVER_VERSION = node_version(ES_URL)
NEXT_MAJOR = int(SERVER_VERSION.split(".")[0]) + 1


class NewerApiTransport(Transport):
    """Ask for the API of the server's next major version, as a too new client does."""

    def perform_request(self, method, target, *, headers=None, **kwargs):
        if headers:
            headers = headers.copy()
            for name in ("accept", "content-type"):
                value = headers.get(name)
                if value and "compatible-with=" in value:
                    headers[name] = re.sub(r"\d+$", str(NEXT_MAJOR), value)
        return super().perform_request(method, target, headers=headers, **kwargs)


NEWER = {
    "default": {
        **ES_SERVERS["default"],
        "PARAMS": {"request_timeout": 30, "max_retries": 0, "transport_class": NewerApiTransport},
    }
}


def assert_clear(text: str) -> None:
    assert f"ES_SERVERS['default'] is Elasticsearch {SERVER_VERSION}, which refuses" in text
    assert f"the client asks for the {NEXT_MAJOR}.x API, newer than the server's" in text
    assert "pip install 'elasticsearch>=" in text
    assert "'None'" not in text


def test_every_request_says_what_to_install():
    with override_settings(ES_SERVERS=NEWER):
        client = connections["default"].client
        # A HEAD request's 400 comes without a body; it is explained all the same.
        with pytest.raises(IncompatibleServerError) as head:
            client.indices.exists(index="anything")
        with pytest.raises(IncompatibleServerError) as get:
            client.cluster.health()
    assert_clear(str(head.value))
    assert_clear(str(get.value))
    assert head.value.meta.status == 400  # still the BadRequestError it was
    assert head.value.__cause__ is not None


@pytest.mark.parametrize("action", ["create", "list", "populate"])
def test_management_commands_say_what_to_install(action):
    with override_settings(ES_SERVERS=NEWER), pytest.raises(CommandError) as raised:
        call_command("search_index", action, "products", stdout=io.StringIO())
    assert str(raised.value).startswith(f"search_index {action} failed: ")
    assert_clear(str(raised.value))


@pytest.mark.django_db(transaction=True)
def test_signal_indexing_logs_what_to_install(caplog):
    with (
        override_settings(ES_SERVERS=NEWER),
        caplog.at_level(logging.ERROR, logger="djangoes_dsl.indexing"),
        transaction.atomic(),
    ):
        product = Product.objects.create(sku="V-1", title="Versions")
    assert f"ids {product.pk}" in caplog.text
    assert_clear(caplog.text)


def test_the_test_setup_says_what_to_install():
    servers = {"default": {**NEWER["default"], "INDICES": ["products"]}}
    handler = ConnectionHandler(servers=servers, indices={"products": {"NAME": "versions"}})
    with pytest.raises(creation.TestIndexCreationError) as raised:
        setup_djangoes(handler=handler)
    message = str(raised.value)
    assert message.startswith("Could not create the test index 'test_versions' for alias ")
    assert_clear(message)
    assert "Check the SETTINGS" not in message
