"""djangoes_dsl.compat: django-elasticsearch-dsl's public names, its settings honoured where
djangoes' own are absent (with a warning naming the native one), its Document's hooks."""

from __future__ import annotations

import datetime
import importlib

import pytest
from django.core.files.storage import FileSystemStorage
from django.db import models
from django.db.models.fields.files import FieldFile
from django.test import override_settings
from elasticsearch.dsl import InnerDoc

from djangoes import ConnectionHandler
from djangoes_dsl import conf, signals
from djangoes_dsl.compat import Document, fields
from djangoes_dsl.compat import conf as ded_conf
from djangoes_dsl.compat.checks import check_ded_settings
from djangoes_dsl.compat.exceptions import RedeclaredFieldError
from djangoes_dsl.management.commands.search_index import parallel_threads
from tests.apps.shop.models import Category, Product

#: The public names of django-elasticsearch-dsl 8.x/9.x, module by module.
DED_MODULES = {
    "": ["Document", "DocType", "Index", "autodiscover", "ObjectField", "NestedField"],
    "documents": ["Document", "DocType", "model_field_class_to_field_class"],
    "fields": [
        "BooleanField", "ByteField", "CompletionField", "DEDField", "DateField", "DoubleField",
        "FileField", "FloatField", "GeoPointField", "GeoShapeField", "IntegerField", "IpField",
        "KeywordField", "ListField", "LongField", "NestedField", "ObjectField",
        "ScaledFloatField", "SearchAsYouTypeField", "ShortField", "TextField", "TimeField",
    ],
    "indices": ["Index"],
    "registries": ["registry", "DocumentRegistry"],
    "signals": [
        "BaseSignalProcessor", "RealTimeSignalProcessor", "CelerySignalProcessor", "post_index",
    ],
    "search": ["Search"],
    "test": ["ESTestCase", "is_es_online"],
    "exceptions": [
        "DjangoElasticsearchDslError", "VariableLookupError", "RedeclaredFieldError",
        "ModelFieldNotMappedError",
    ],
    "apps": ["DEDConfig"],
}  # fmt: skip


@pytest.fixture(autouse=True, scope="module")
def ded_settings_honoured():
    ded_conf.install()  # what djangoes_dsl's ready() does in a project with DED settings


@pytest.mark.parametrize("module", DED_MODULES)
def test_public_modules_and_names(module):
    found = importlib.import_module(f"djangoes_dsl.compat{'.' if module else ''}{module}")
    missing = [name for name in DED_MODULES[module] if not hasattr(found, name)]
    assert missing == []
    registry = importlib.import_module("djangoes_dsl.compat.registries").registry
    assert callable(registry.register_document)


def test_autosync_off_switches_the_signal_processor_off():
    assert signals.get_signal_processor() is not None
    with override_settings(ELASTICSEARCH_DSL_AUTOSYNC=False):
        assert conf.get("DJANGOES_SIGNAL_PROCESSOR") is None
        assert signals.get_signal_processor() is None
        # djangoes' own setting wins when both are set.
        path = "djangoes_dsl.signals.TransactionSignalProcessor"
        with override_settings(DJANGOES_SIGNAL_PROCESSOR=path):
            assert conf.get("DJANGOES_SIGNAL_PROCESSOR") is signals.TransactionSignalProcessor
    assert isinstance(signals.get_signal_processor(), signals.TransactionSignalProcessor)


def test_ded_signal_processor_paths_name_the_compat_processors():
    from djangoes_dsl.compat import signals as ded_signals

    realtime = "django_elasticsearch_dsl.signals.RealTimeSignalProcessor"
    with override_settings(ELASTICSEARCH_DSL_SIGNAL_PROCESSOR=realtime):
        assert conf.get("DJANGOES_SIGNAL_PROCESSOR") is ded_signals.RealTimeSignalProcessor
        assert conf.get("DJANGOES_DELIVERY") == "inline"
        assert isinstance(signals.get_signal_processor(), signals.TransactionSignalProcessor)
    celery = "djangoes_dsl.compat.signals.CelerySignalProcessor"
    with override_settings(ELASTICSEARCH_DSL_SIGNAL_PROCESSOR=celery):
        assert conf.get("DJANGOES_SIGNAL_PROCESSOR") is ded_signals.CelerySignalProcessor
        assert conf.get("DJANGOES_DELIVERY") == "celery"
        with override_settings(DJANGOES_DELIVERY="inline"):
            assert conf.get("DJANGOES_DELIVERY") == "inline"


def test_each_ded_setting_warns_with_its_native_equivalent():
    assert check_ded_settings() == []
    with override_settings(
        ELASTICSEARCH_DSL_PARALLEL=True,
        ELASTICSEARCH_DSL_AUTO_REFRESH=False,
        ELASTICSEARCH_DSL_QUERYSET_PAGINATION=200,
    ):
        warnings = {w.msg.split(" ", 1)[0]: w for w in check_ded_settings()}
    assert sorted(warnings) == [
        "ELASTICSEARCH_DSL_AUTO_REFRESH",
        "ELASTICSEARCH_DSL_PARALLEL",
        "ELASTICSEARCH_DSL_QUERYSET_PAGINATION",
    ]
    assert {w.id for w in warnings.values()} == {"djangoes_dsl.W050"}
    assert "--parallel" in warnings["ELASTICSEARCH_DSL_PARALLEL"].hint
    assert "queryset_pagination" in warnings["ELASTICSEARCH_DSL_QUERYSET_PAGINATION"].hint


def test_parallel_flag_forms():
    assert parallel_threads(None) == 0
    assert parallel_threads(True) == 4  # call_command(..., parallel=True)
    assert parallel_threads(2) == 2
    with override_settings(ELASTICSEARCH_DSL_PARALLEL=True):
        assert parallel_threads(None) == 4
        assert parallel_threads(0) == 0  # --no-parallel


def test_elasticsearch_dsl_setting_becomes_servers():
    value = {"default": {"hosts": "localhost:9200", "request_timeout": 5}, "logs": {"hosts": [
        "https://logs.test:9243"]}}  # fmt: skip
    assert ded_conf.servers_from(value) == {
        "default": {"HOSTS": ["http://localhost:9200"], "PARAMS": {"request_timeout": 5}},
        "logs": {"HOSTS": ["https://logs.test:9243"], "PARAMS": {}},
    }
    # ES_SERVERS, when set, wins. (Without it, the ported example project's run uses
    # ELASTICSEARCH_DSL's servers: tests/test_ded_example.py.)
    handler = ConnectionHandler()
    handler.declare(servers=ded_conf.servers_from(value))
    assert handler.servers["default"]["HOSTS"] != ["http://localhost:9200"]
    assert "logs" not in handler.servers


def test_indices_declared_in_code_are_served_by_the_default_server():
    servers = {"default": {"HOSTS": ["http://127.0.0.1:9"], "INDICES": ["products"]}}
    handler = ConnectionHandler(servers, {"products": {"NAME": "shop"}})
    handler.declare(indices={"car": {"NAME": "car"}, "products": {"NAME": "other"}})
    assert sorted(handler.indices) == ["car", "products"]
    assert handler.indices["products"]["NAME"] == "shop"  # ES_INDICES wins
    assert handler.server_for_index("car") == "default"
    handler.use_test_settings()
    assert handler.get_index_settings("car")["NAME"] == "test_car"
    assert "car" in handler.live_index_names()


class CategoryInner(InnerDoc):
    name = fields.TextField()

    def prepare_name(self, category):
        return f"<{category.name}>"


class ProductDocument(Document):
    category = fields.ObjectField(properties={"name": fields.TextField()})
    shelf = fields.ObjectField(attr="category", doc_class=CategoryInner)
    kind = fields.KeywordField(attr="category.name")

    class Django:
        model = Product
        fields = ["sku", "title", "created"]

    def get_queryset(self):
        return super().get_queryset().filter(in_stock=True)

    def prepare_title_with_related(self, instance, related_to_ignore):
        assert related_to_ignore is None
        return instance.title.upper()


@pytest.mark.django_db
def test_document_hooks_and_mappings():
    mapping = ProductDocument._doc_type.mapping.to_dict()["properties"]
    assert mapping["sku"] == {"type": "text"}  # django-elasticsearch-dsl's type table
    assert mapping["created"] == {"type": "date"}
    assert ProductDocument.django.model is Product
    category = Category.objects.create(name="shoes")
    product = Product.objects.create(sku="A", title="boot", category=category)
    Product.objects.create(sku="B", title="gone", in_stock=False)
    assert list(ProductDocument.get_queryset()) == [product]  # an instance method, on the class
    source = ProductDocument.source(product)
    assert source["title"] == "BOOT"
    assert source["category"] == {"name": "shoes"}
    assert source["kind"] == "shoes"
    assert source["shelf"] == {"name": "<shoes>"}


def test_redeclared_field_is_refused():
    with pytest.raises(RedeclaredFieldError, match="'sku'"):

        class Twice(Document):
            sku = fields.KeywordField()

            class Django:
                model = Product
                fields = ["sku"]


def test_file_and_time_values():
    assert fields.TimeField.djangoes_value(datetime.time(10, 30)) == "10:30:00"
    assert fields.FileField.djangoes_value(None) == ""
    field = fields.ListField(fields.KeywordField())
    assert isinstance(field, fields.KeywordField)
    storage = FileSystemStorage(base_url="/media/")
    stored = FieldFile(None, models.FileField(storage=storage), "logos/a.png")
    assert fields.FileField.djangoes_value(stored) == "/media/logos/a.png"
    assert fields.FileField.djangoes_value(FieldFile(None, models.FileField(), "")) == ""


@pytest.mark.django_db(transaction=True)
def test_registry_sync_methods_go_through_the_signal_processor():
    from djangoes_dsl import indexing_paused
    from djangoes_dsl.compat.registries import registry
    from tests.apps.shop.search_indices import ProductDocument as NativeProductDocument
    from tests.indexing_utils import fresh_index, indexed

    with fresh_index(NativeProductDocument):
        with indexing_paused():
            product = Product.objects.create(sku="R1", title="row")
        assert indexed(NativeProductDocument) == {}
        assert Product in registry
        registry.update(product)
        assert list(indexed(NativeProductDocument)) == [str(product.pk)]
        registry.delete(product)
        assert indexed(NativeProductDocument) == {}
