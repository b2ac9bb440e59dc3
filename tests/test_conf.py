"""djangoes_dsl.conf: every DJANGOES_* setting, its default, validation on first use and after
a change, the checks that report them, and report() keeping failed ids whatever is set."""

from __future__ import annotations

import importlib.util
import io
import logging
import re

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import BaseCommand, call_command
from django.db import transaction
from django.test import override_settings

from djangoes import connections
from djangoes_dsl import conf
from djangoes_dsl.indexing import bulk_chunk_size, failure_handler
from djangoes_dsl.signals import TransactionSignalProcessor, get_signal_processor
from tests.apps.shop.models import Product
from tests.apps.shop.search_indices import ProductDocument
from tests.indexing_utils import reset_index


def messages(**kwargs):
    found = checks.run_checks(tags=["djangoes"], **kwargs)
    return [m for m in found if m.id.startswith("djangoes_dsl.")]


def test_every_setting_has_its_documented_default():
    expected = {
        "DJANGOES_SIGNAL_PROCESSOR": TransactionSignalProcessor,
        "DJANGOES_BULK_CHUNK_SIZE": 500,
        "DJANGOES_INDEXING_ERRORS": "log",
        "DJANGOES_INDEXING_FAILURE_HANDLER": None,
        "DJANGOES_REBUILD_PROCESSES": None,
        "DJANGOES_REBUILD_LEASE": 120,
        "DJANGOES_DURABLE": False,
        "DJANGOES_OUTBOX_GRACE": 60,
        "DJANGOES_RETRY_BACKOFF": 1,
        "DJANGOES_RETRY_MAX_BACKOFF": 300,
        "DJANGOES_OUTBOX_WARN_AFTER": 600,
        "DJANGOES_DELIVERY": "inline",
        "DJANGOES_TASK_QUEUE": None,
        "DJANGOES_OUTBOX_CLAIM_LEASE": 300,
        "DJANGOES_REBUILD_RANGE_LEASE": 60,
        "DJANGOES_REBUILD_RANGE_ATTEMPTS": 5,
    }
    assert {name: conf.get(name) for name in conf.SETTINGS} == expected
    for setting in conf.SETTINGS.values():
        assert setting.rule
        assert setting.doc


def test_a_changed_setting_is_validated_again():
    assert bulk_chunk_size() == 500
    with override_settings(DJANGOES_BULK_CHUNK_SIZE=-5):
        with pytest.raises(ImproperlyConfigured, match=r"^DJANGOES_BULK_CHUNK_SIZE is -5; "):
            bulk_chunk_size()
        with pytest.raises(ImproperlyConfigured):  # still invalid: not cached as valid
            bulk_chunk_size()
    with override_settings(DJANGOES_BULK_CHUNK_SIZE=50):
        assert bulk_chunk_size() == 50
    assert bulk_chunk_size() == 500


def test_the_max_backoff_is_validated_again_when_the_backoff_changes():
    with override_settings(DJANGOES_RETRY_MAX_BACKOFF=5):
        assert conf.get("DJANGOES_RETRY_MAX_BACKOFF") == 5
        with override_settings(DJANGOES_RETRY_BACKOFF=10):
            with pytest.raises(ImproperlyConfigured, match="at least DJANGOES_RETRY_BACKOFF"):
                conf.get("DJANGOES_RETRY_MAX_BACKOFF")
            # The check names the setting that is wrong, once.
            (error,) = conf.all_errors()
            assert error.setting == "DJANGOES_RETRY_MAX_BACKOFF"


def test_a_failure_handler_given_as_a_callable_or_a_path():
    def handler(failure):
        return None

    with override_settings(DJANGOES_INDEXING_FAILURE_HANDLER=handler):
        assert failure_handler() is handler
    with override_settings(DJANGOES_INDEXING_FAILURE_HANDLER="logging.getLogger"):
        assert failure_handler() is logging.getLogger


@pytest.mark.parametrize(("delivery", "module"), [("celery", "celery"), ("django_tasks", None)])
def test_a_delivery_needs_its_task_engine_installed(delivery, module):
    modules = [module] if module else ["django.tasks", "django_tasks"]
    installed = any(importlib.util.find_spec(name) for name in _importable(modules))
    with override_settings(DJANGOES_DELIVERY=delivery):
        if installed:
            assert conf.get("DJANGOES_DELIVERY") == delivery
        else:
            with pytest.raises(ImproperlyConfigured, match="installed") as raised:
                conf.get("DJANGOES_DELIVERY")
            assert "pip install" in str(raised.value)


def _importable(names):
    for name in names:
        try:
            importlib.util.find_spec(name)
        except ImportError:
            continue
        yield name


# -- checks ----------------------------------------------------------------------------------


def test_invalid_djangoes_settings_are_check_errors_with_hints():
    with override_settings(DJANGOES_BULK_CHUNK_SIZE="abc", DJANGOES_DURABLE="yes"):
        found = messages()
    assert [m.id for m in found] == ["djangoes_dsl.E030", "djangoes_dsl.E030"]
    assert found[0].msg.startswith("DJANGOES_BULK_CHUNK_SIZE is 'abc'; it must be a whole number")
    assert found[1].msg.startswith("DJANGOES_DURABLE is 'yes'; it must be True or False")
    assert all(m.hint for m in found)


def test_an_unknown_djangoes_setting_is_a_warning_naming_the_closest():
    with override_settings(DJANGOES_BULK_CHUNKSIZE=5):
        (message,) = messages()
    assert message.id == "djangoes_dsl.W030"
    assert (
        message.msg
        == "DJANGOES_BULK_CHUNKSIZE is not a setting djangoes_dsl knows; it has no effect."
    )
    assert message.hint.startswith("Did you mean 'DJANGOES_BULK_CHUNK_SIZE'? The settings are")


@pytest.mark.parametrize(
    ("indices", "check_id", "says"),
    [
        ({"products": {"NAME": "Shop"}}, "djangoes_dsl.E020", "['NAME'] is 'Shop'"),
        ({"products": {"ALIASES": ["r"]}, "articles": {"ALIASES": ["r"]}}, "djangoes_dsl.E021",
         "ES_INDICES['articles']['ALIASES'][0] is 'r'"),
    ],
)  # fmt: skip
def test_names_and_duplicates_have_their_own_check_ids(indices, check_id, says):
    with override_settings(ES_INDICES={"products": {}, "articles": {}, **indices}):
        found = [m for m in messages() if m.id == check_id]
    assert len(found) == 1
    assert says in found[0].msg
    assert found[0].hint


def test_credentials_and_backend_problems_have_their_own_check_ids(settings):
    server = settings.ES_SERVERS["default"]
    with override_settings(ES_SERVERS={"default": {**server, "USER": "elastic"}}):
        (credentials,) = messages()
    assert credentials.id == "djangoes_dsl.E022"
    assert credentials.msg == (
        "ES_SERVERS['default']['USER'] is set without ES_SERVERS['default']['PASSWORD']."
    )
    with override_settings(ES_SERVERS={"default": {**server, "PARAMS": {"request_timout": 3}}}):
        (backend,) = messages()
    assert backend.id == "djangoes_dsl.E023"
    assert "Did you mean 'request_timeout'?" in backend.hint


def test_every_problem_is_reported_at_once():
    servers = {"default": {"HOST": "http://h:1", "PARAMS": [], "INDICES": "products"}}
    with override_settings(ES_SERVERS=servers):
        found = messages()
    assert [m.id for m in found] == ["djangoes_dsl.E000"] * 3
    assert [m.msg.split(" ")[0] for m in found] == [
        "ES_SERVERS['default']['HOST']",
        "ES_SERVERS['default']['PARAMS']",
        "ES_SERVERS['default']['INDICES']",
    ]


class DatabaseCommand(BaseCommand):
    """A command that names its database to the system checks, as ``migrate`` does."""

    requires_system_checks = ["djangoes"]

    def get_check_kwargs(self, options):
        return {**super().get_check_kwargs(options), "databases": ["default"]}

    def handle(self, *args, **options):
        self.stdout.write("ran")


def test_a_database_command_is_warned_not_stopped():
    # migrate names its database to the checks: it must run, the problems are summed up.
    out, err = io.StringIO(), io.StringIO()
    with override_settings(ES_SERVERS={"main": {}}, DJANGOES_BULK_CHUNK_SIZE=0):
        assert {m.id for m in messages()} == {"djangoes_dsl.E000", "djangoes_dsl.E030"}
        call_command(DatabaseCommand(), skip_checks=False, stdout=out, stderr=err)
    assert out.getvalue() == "ran\n"
    report = err.getvalue()
    assert re.findall(r"\((djangoes_dsl\.\w+)\)", report) == [
        "djangoes_dsl.W010",
        "djangoes_dsl.W031",
    ]
    assert "WARNINGS:" in report
    assert "ERRORS:" not in report
    assert "You must define a 'default' ElasticSearch server" in report
    assert "DJANGOES_BULK_CHUNK_SIZE is 0" in report


def test_an_invalid_processor_is_reported_and_raised_where_it_is_set_up():
    assert isinstance(get_signal_processor(), TransactionSignalProcessor)
    says = r"^DJANGOES_SIGNAL_PROCESSOR is 'os\.path\.join'"
    with (
        pytest.raises(ImproperlyConfigured, match=says),
        override_settings(DJANGOES_SIGNAL_PROCESSOR="os.path.join"),
    ):
        pass
    assert isinstance(get_signal_processor(), TransactionSignalProcessor)


# -- report(): the failed ids are logged before anything that can raise ----------------------


@pytest.mark.django_db(transaction=True)
@override_settings(DJANGOES_INDEXING_FAILURE_HANDLER="no.such.handler")
def test_failed_ids_are_logged_before_a_bad_failure_handler_raises(caplog):
    reset_index(ProductDocument)
    backend = connections[ProductDocument.get_using()]
    name = ProductDocument.get_index_name()
    backend.client.indices.delete(index=name)
    backend.client.indices.create(index=name, mappings={"properties": {"sku": {"type": "long"}}})
    try:
        with caplog.at_level(logging.ERROR), transaction.atomic():
            product = Product.objects.create(sku="not-a-number", title="Broken")
    finally:
        reset_index(ProductDocument)
    records = [r for r in caplog.records if r.name == "djangoes_dsl.indexing"]
    assert f"ids {product.pk}" in records[0].getMessage()
    # Then the handler's problem, raised by report() and logged by the robust commit hook.
    assert "DJANGOES_INDEXING_FAILURE_HANDLER is 'no.such.handler'" in caplog.text
    assert caplog.text.index(f"ids {product.pk}") < caplog.text.index("no.such.handler")
