"""Schema drift: each class of difference is classified, migrate applies it, status agrees."""

from __future__ import annotations

import contextlib
import copy
import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core import checks
from django.core.management import CommandError, call_command
from django.test import override_settings
from elasticsearch import Elasticsearch

from djangoes import connections
from djangoes.backends import drift
from djangoes_dsl import Document, fields, indexing_paused, register, registry, schema
from tests.apps.blog.models import Article
from tests.apps.shop.search_indices import ProductDocument
from tests.indexing_utils import fresh_index
from tests.settings import ES_URL

pytestmark = pytest.mark.django_db(transaction=True)

KEY = "evolving"
BASE = {"number_of_shards": 1, "number_of_replicas": 0}
ANALYSIS = {
    "analyzer": {
        "plain": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase"]},
        "stopped": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "stop"]},
    }
}


def make(**declared: Any) -> type[Document]:
    """Return a Document class of Article rows with the ``declared`` fields."""
    django = type("Django", (), {"model": Article})
    return type("EvolvingDocument", (Document,), {**declared, "Django": django})


@contextlib.contextmanager
def declared(
    document: type[Document], *, index_settings: dict | None = None, aliases: tuple = ()
) -> Iterator[type[Document]]:
    """Declare ES_INDICES['evolving'] as given, with ``document`` registered to it."""
    servers = copy.deepcopy(settings.ES_SERVERS)
    servers["default"]["INDICES"] = [*servers["default"]["INDICES"], KEY]
    indices = copy.deepcopy(settings.ES_INDICES)
    indices[KEY] = {
        "NAME": "djangoes_evolving",
        "ALIASES": list(aliases),
        "SETTINGS": copy.deepcopy(index_settings if index_settings is not None else BASE),
    }
    with override_settings(ES_SERVERS=servers, ES_INDICES=indices):
        register(KEY)(document)
        try:
            yield document
        finally:
            registry.unregister(document)


@pytest.fixture
def rows():
    with indexing_paused():
        yield [
            Article.objects.create(title=f"Lighthouse {n}", body=f"keeper number {n}")
            for n in range(3)
        ]


@pytest.fixture(autouse=True)
def no_index_left():
    # A plain client: outside the tests' overrides the test name of 'evolving' is no test
    # index of any connection, so the connections' guarded clients refuse to delete it.
    client = Elasticsearch(ES_URL)
    name = f"test_djangoes_evolving{connections.test_suffix}"
    client.indices.delete(index=f"{name},{name}-*", ignore_unavailable=True)
    yield
    client.indices.delete(index=f"{name},{name}-*", ignore_unavailable=True)
    client.close()


def run(*args: str, stdout: Any = None) -> str:
    out = stdout or io.StringIO()
    call_command("search_index", *args, stdout=out)
    return out.getvalue() if stdout is None else ""


class SearchingOutput(io.StringIO):
    """Command output that searches the index at every line it is given."""

    def __init__(self, document: type[Document]) -> None:
        super().__init__()
        self.document = document
        self.counts: list[int] = []

    def write(self, text: str) -> int:
        client = connections["default"].client
        self.counts.append(client.count(index=self.document.get_index_name())["count"])
        return super().write(text)


def status_then_migrate(document: type[Document], state: str) -> SearchingOutput:
    """Check that ``status`` exits with 1 naming ``state``, then migrate while searching the
    index at every line of output: its 3 documents are found throughout."""
    with pytest.raises(CommandError) as status:
        run("status", KEY)
    assert status.value.returncode == 1
    assert f"status: 1 needs attention: '{KEY}' on 'default' ({state})." in str(status.value)
    output = SearchingOutput(document)
    run("migrate", KEY, "--no-input", stdout=output)
    assert output.counts
    assert set(output.counts) == {3}  # search answered throughout
    return output


def create_and_fill(document: Any = None) -> None:
    connections["default"].create_index(KEY)
    run("populate", KEY)


TITLE = fields.Text(analyzer="plain")
CASES = {
    "added field": (
        {"title": TITLE},
        {"title": TITLE, "body": fields.Text()},
        {},
        {},
        (schema.COMPATIBLE, "field body", "new field"),
    ),
    "changed type": (
        {"title": TITLE},
        {"title": fields.Keyword()},
        {},
        {},
        (schema.NEEDS_REBUILD, "field title", "type changed"),
    ),
    "changed analyzer": (
        {"title": TITLE},
        {"title": fields.Text(analyzer="stopped")},
        {},
        {},
        (schema.NEEDS_REBUILD, "field title", "analyzer changed"),
    ),
    "removed field": (
        {"title": TITLE, "body": fields.Text()},
        {"title": TITLE},
        {},
        {},
        (schema.NEEDS_REBUILD, "field body", "removed field"),
    ),
    "new alias": (
        {"title": TITLE},
        {"title": TITLE},
        {},
        {"aliases": ("djangoes_evolving_read",)},
        (schema.COMPATIBLE, "alias test_djangoes_evolving_read", "new alias"),
    ),
    "changed dynamic setting": (
        {"title": TITLE},
        {"title": TITLE},
        {"index_settings": {**BASE, "refresh_interval": "5s"}},
        {"index_settings": {**BASE, "refresh_interval": "30s"}},
        (schema.COMPATIBLE, "setting index.refresh_interval", "setting changed"),
    ),
    "changed static setting": (
        {"title": TITLE},
        {"title": TITLE},
        {},
        {"index_settings": {**BASE, "number_of_shards": 2}},
        (schema.NEEDS_REBUILD, "setting index.number_of_shards", "setting changed"),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_difference_is_classified_and_migrate_brings_the_index_in_sync(case, rows):
    before, after, old_options, new_options, (state, where, what) = CASES[case]
    old_options = {"index_settings": {**BASE, "analysis": ANALYSIS}, **old_options}
    new_options = {"index_settings": {**BASE, "analysis": ANALYSIS}, **new_options}
    for options in (old_options, new_options):
        options["index_settings"] = {"analysis": ANALYSIS, **options["index_settings"]}
    with declared(make(**before), **old_options) as document:
        create_and_fill(document)
        assert schema.inspect(KEY, "default").state == schema.IN_SYNC
    with declared(make(**after), **new_options) as document:
        found = schema.inspect(KEY, "default")
        assert found.state == state, [str(d) for d in found.differences]
        suffix = connections.test_suffix
        described = [(d.where.replace(suffix, ""), d.what) for d in found.differences]
        assert (where, what) in described
        assert len(described) == 1, described

        output = status_then_migrate(document, state)
        assert f"{KEY}: in sync" in output.getvalue()

        assert schema.inspect(KEY, "default").state == schema.IN_SYNC
        assert "in sync" in run("status", KEY)  # exit status 0: no CommandError
        assert "nothing to do; every index is in sync" in run("migrate", KEY, "--no-input")
        hits = document.search().execute()
        assert len(hits) == 3
        if case == "added field":  # existing documents were sent again with the new field
            assert {hit.body for hit in hits} == {f"keeper number {n}" for n in range(3)}


def test_dry_run_prints_the_plan_and_changes_nothing(rows):
    with declared(make(title=fields.Text())) as document:
        create_and_fill(document)
    with declared(make(title=fields.Text(), body=fields.Text())) as document:
        output = run("migrate", KEY, "--dry-run")
        assert "field body: new field: 'text' [in place]" in output
        assert "plan: update the mapping in place (1 new field(s)" in output
        assert "plan: send every row again" in output
        assert "would change; none did" in output
        assert schema.inspect(KEY, "default").state == schema.COMPATIBLE


def test_a_removed_dynamic_setting_and_alias_go_back_in_place(rows):
    tuned = {**BASE, "refresh_interval": "30s"}
    with declared(make(title=fields.Text()), index_settings=tuned, aliases=("djangoes_ev_read",)):
        create_and_fill(make())
    with declared(make(title=fields.Text())):
        found = schema.inspect(KEY, "default")
        assert found.state == schema.COMPATIBLE
        assert {d.what for d in found.differences} == {
            "setting removed (back to its default)",
            "alias no longer declared",
        }
        run("migrate", KEY, "--no-input")
        assert schema.inspect(KEY, "default").state == schema.IN_SYNC
        client = connections["default"].client
        name = connections["default"].get_index(KEY)["NAME"]
        assert client.indices.get_alias(index=name).body[name]["aliases"] == {}


def test_a_missing_index_is_created_and_filled(rows):
    with declared(make(title=fields.Text())) as document:
        assert schema.inspect(KEY, "default").state == schema.MISSING
        output = run("migrate", KEY, "--no-input")
        assert "plan: create" in output
        assert document.search().count() == 3
        assert schema.inspect(KEY, "default").state == schema.IN_SYNC


def test_indices_made_by_create_and_by_rebuild_are_in_sync():
    with fresh_index(ProductDocument):
        assert schema.inspect("products", "default").state == schema.IN_SYNC
        run("rebuild", "products", "--no-input")
        state = schema.inspect("products", "default")
        assert state.state == schema.IN_SYNC, [str(d) for d in state.differences]
        assert state.live_fingerprint == state.fingerprint


def test_an_index_without_a_fingerprint_gets_one_in_place():
    with declared(make(title=fields.Text())):
        backend = connections["default"]
        body = schema.declared_body(backend, KEY)  # no _meta record
        backend.client.indices.create(index=backend.get_index(KEY)["NAME"], **body)
        found = schema.inspect(KEY, "default")
        assert [(d.where, d.what) for d in found.differences] == [("fingerprint", "not recorded")]
        assert found.state == schema.COMPATIBLE
        run("migrate", KEY, "--no-input")
        assert schema.inspect(KEY, "default").live_fingerprint == found.fingerprint


def test_the_fingerprint_ignores_how_settings_are_written():
    nested = {"settings": {"index": {"number_of_shards": "1", "refresh_interval": "5s"}}}
    dotted = {"settings": {"index.number_of_shards": 1, "refresh_interval": "5s"}}
    assert schema.fingerprint(nested) == schema.fingerprint(dotted)
    assert schema.fingerprint(nested) != schema.fingerprint({"settings": {"number_of_shards": 2}})


def test_dynamic_and_static_settings():
    assert drift.is_dynamic_setting("index.refresh_interval")
    assert drift.is_dynamic_setting("index.routing.allocation.include._tier_preference")
    assert not drift.is_dynamic_setting("index.number_of_shards")
    assert not drift.is_dynamic_setting("index.analysis.analyzer.plain.type")


def deploy_warnings() -> list[checks.CheckMessage]:
    return [
        message
        for message in checks.run_checks(include_deployment_checks=True)
        if message.id in ("djangoes_dsl.W040", "djangoes_dsl.W041")
    ]


def test_a_deploy_check_warns_about_a_drifted_index_with_one_request_per_index(rows):
    with declared(make(title=fields.Text())) as document:
        create_and_fill(document)
        assert deploy_warnings() == []
    with declared(make(title=fields.Text(), body=fields.Text())):
        (warning,) = deploy_warnings()
        assert warning.id == "djangoes_dsl.W040"
        assert "The index 'evolving' on ES_SERVERS['default'] does not match" in warning.msg
        assert "search_index migrate" in warning.hint
        run("migrate", KEY, "--no-input")
        assert deploy_warnings() == []


def test_a_deploy_check_says_when_a_server_cannot_be_asked():
    servers = copy.deepcopy(settings.ES_SERVERS)
    servers["default"]["HOSTS"] = ["http://127.0.0.1:1"]
    servers["default"]["PARAMS"] = {"request_timeout": 1, "max_retries": 0}
    with override_settings(ES_SERVERS=servers):
        found = deploy_warnings()
    assert {message.id for message in found} == {"djangoes_dsl.W041"}
    assert "could not be checked" in found[0].msg


def test_status_shows_the_schema_and_the_outbox_of_every_index():
    output = run("status")
    for key in ("products", "articles"):
        name = connections["default"].get_index(key)["NAME"]
        assert f"{key} [default] {name}: in sync (fingerprint " in output
    assert output.count("  outbox: empty") == 2


def test_a_migrate_stopped_before_every_row_was_sent_is_finished_by_the_next(rows):
    with declared(make(title=fields.Text())):
        create_and_fill()
    with declared(make(title=fields.Text(), body=fields.Text())) as document:
        # As a migrate leaves the index after its mapping update, before the rows are sent.
        backend = connections["default"]
        record = schema.meta_record(schema.declared_body(backend, KEY))
        backend.client.indices.put_mapping(
            index=document.get_index_name(),
            properties={"body": {"type": "text"}},
            meta={"djangoes": {**record, "fingerprint": None, "refill": True}},
        )
        found = schema.inspect(KEY, "default")
        assert [d.where for d in found.differences] == ["documents"]
        assert found.state == schema.COMPATIBLE
        assert schema.live_fingerprints(KEY, "default")[1] is None  # the deploy check warns
        assert "send every row again" in run("migrate", KEY, "--no-input")
        assert {hit.body for hit in document.search().execute()} == {
            f"keeper number {n}" for n in range(3)
        }
        assert schema.inspect(KEY, "default").in_sync


# -- no false drift: every field type elasticsearch.dsl offers, as the server stores it -------

#: A declaration of each field type elasticsearch.dsl offers, plain and with common parameters.
FIELD_CASES: dict[str, Callable[[], Any]] = {
    "aggregate_metric_double": lambda: fields.AggregateMetricDouble(
        metrics=["min", "max"], default_metric="max"
    ),
    "alias": lambda: fields.Alias(path="title"),
    "binary": lambda: fields.Binary(),
    "boolean": lambda: fields.Boolean(null_value=False),
    "byte": lambda: fields.Byte(),
    "completion": lambda: fields.Completion(),
    "completion with analyzer": lambda: fields.Completion(analyzer="standard", max_input_length=20),
    "completion with contexts": lambda: fields.Completion(
        contexts=[{"name": "kind", "type": "category"}]
    ),
    "constant_keyword": lambda: fields.ConstantKeyword(value="article"),
    "counted_keyword": lambda: fields.CountedKeyword(),
    "date": lambda: fields.Date(),
    "date with format": lambda: fields.Date(format="yyyy-MM-dd||epoch_millis"),
    "date_nanos": lambda: fields.DateNanos(),
    "date_range": lambda: fields.DateRange(),
    "dense_vector": lambda: fields.DenseVector(dims=3),
    "dense_vector with similarity": lambda: fields.DenseVector(dims=4, similarity="dot_product"),
    "double": lambda: fields.Double(),
    "double_range": lambda: fields.DoubleRange(),
    "flattened": lambda: fields.Flattened(),
    "float": lambda: fields.Float(coerce=False),
    "float_range": lambda: fields.FloatRange(),
    "geo_point": lambda: fields.GeoPoint(ignore_malformed=True),
    "geo_shape": lambda: fields.GeoShape(),
    "half_float": lambda: fields.HalfFloat(),
    "exponential_histogram": lambda: fields.ExponentialHistogram(),
    "histogram": lambda: fields.Histogram(),
    "icu_collation_keyword": lambda: fields.IcuCollationKeyword(),
    "integer": lambda: fields.Integer(null_value=0),
    "integer_range": lambda: fields.IntegerRange(),
    "ip": lambda: fields.Ip(),
    "ip_range": lambda: fields.IpRange(),
    "join": lambda: fields.Join(relations={"question": "answer"}),
    "keyword": lambda: fields.Keyword(),
    "keyword with parameters": lambda: fields.Keyword(ignore_above=256, doc_values=False),
    "long": lambda: fields.Long(),
    "long_range": lambda: fields.LongRange(),
    "match_only_text": lambda: fields.MatchOnlyText(),
    "murmur3": lambda: fields.Murmur3(),
    "nested": lambda: fields.Nested(properties={"name": fields.Keyword(), "age": fields.Integer()}),
    "object": lambda: fields.Object(properties={"name": fields.Text()}),
    "object, dynamic": lambda: fields.Object(dynamic=True),
    "passthrough": lambda: fields.Passthrough(priority=10),
    "percolator": lambda: fields.Percolator(),
    "point": lambda: fields.Point(),
    "rank_feature": lambda: fields.RankFeature(),
    "rank_features": lambda: fields.RankFeatures(),
    "rank_vectors": lambda: fields.RankVectors(dims=3),
    "scaled_float": lambda: fields.ScaledFloat(scaling_factor=100),
    "search_as_you_type": lambda: fields.SearchAsYouType(),
    "shape": lambda: fields.Shape(),
    "short": lambda: fields.Short(),
    "sparse_vector": lambda: fields.SparseVector(),
    "text": lambda: fields.Text(),
    "text with parameters": lambda: fields.Text(
        analyzer="plain",
        search_analyzer="simple",
        index_options="offsets",
        term_vector="with_positions_offsets",
        fields={"raw": fields.Keyword(ignore_above=100)},
    ),
    "token_count": lambda: fields.TokenCount(analyzer="standard"),
    "unsigned_long": lambda: fields.UnsignedLong(),
    "version": lambda: fields.Version(),
    "wildcard": lambda: fields.Wildcard(),
}

#: How a server says it has no such field type (a module or plugin it lacks).
UNKNOWN_TYPE = ("does not exist", "No handler for type", "requires a plugin")


def test_every_field_type_elasticsearch_dsl_offers_is_declared_here():
    offered = {getattr(fields, name).name for name in fields.field_type_names()}
    # "custom" is no type of its own; semantic_text needs an inference endpoint (an ML node).
    declared_types = {"custom", "semantic_text"}
    for make_field in FIELD_CASES.values():
        with contextlib.suppress(AttributeError):  # a type this client does not have
            declared_types.add(make_field().name)
    assert offered - declared_types == set()
    assert "Completion" in dir(fields)


@pytest.mark.parametrize("case", list(FIELD_CASES))
def test_a_created_index_is_in_sync_whatever_its_field_types(case):
    """The server's defaults for a field type (a completion field's analyzer 'simple', ...)
    are no drift: create, then status says in sync and migrate does nothing."""
    try:
        value = FIELD_CASES[case]()
    except AttributeError as exc:
        pytest.skip(f"this elasticsearch.dsl has no such field type: {exc}")
    declaration = {"title": fields.Text(), "value": value}
    with declared(make(**declaration), index_settings={**BASE, "analysis": ANALYSIS}):
        try:
            run("create", KEY)
        except CommandError as exc:
            if any(words in str(exc) for words in UNKNOWN_TYPE):
                pytest.skip(f"this node lacks the field type: {exc}")
            raise
        found = schema.inspect(KEY, "default")
        assert found.state == schema.IN_SYNC, [str(d) for d in found.differences]
        assert "in sync" in run("status", KEY)  # exit status 0: no CommandError
        assert "nothing to do; every index is in sync" in run("migrate", KEY, "--no-input")


def test_a_parameter_no_longer_declared_is_drift_though_the_server_fills_in_others():
    analysis = {"index_settings": {**BASE, "analysis": ANALYSIS}}
    with declared(make(title=fields.Text(analyzer="plain"), tip=fields.Completion()), **analysis):
        run("create", KEY)
    with declared(make(title=fields.Text(), tip=fields.Completion()), **analysis):
        found = schema.inspect(KEY, "default")
        assert [(d.where, d.what) for d in found.differences] == [
            ("field title", "analyzer removed")
        ]
        assert found.state == schema.NEEDS_REBUILD


def test_a_changed_parameter_the_server_also_defaults_is_drift():
    with declared(make(tip=fields.Completion())):
        run("create", KEY)
    with declared(make(tip=fields.Completion(max_input_length=20))):
        found = schema.inspect(KEY, "default")
        assert [(d.where, d.what, d.live, d.declared) for d in found.differences] == [
            ("field tip", "max_input_length changed", "50", "20")
        ]


def test_migrate_shows_the_progress_of_sending_every_row_again(rows):
    with declared(make(title=fields.Text())):
        create_and_fill()
    with declared(make(title=fields.Text(), body=fields.Text())):
        output = run("migrate", KEY, "--no-input", "--chunk-size", "2")
    assert f"{KEY}: sending every row again, so existing documents get the new fields..." in output
    assert f"{KEY}: 3/3 (100%)" in output
    assert f"{KEY}: sent 3 document(s) again with their new fields." in output
