"""One measurement per child process: ``python -m tests.benchmarks.tasks TASK [ROWS]``.

Prints one JSON object. Run by tests/benchmarks/run.py (scripts/bench), which chooses the
virtualenv (djangoes, or django-elasticsearch-dsl's own) and the database file.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Iterator
from typing import Any


def setup(settings: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = settings
    import django

    django.setup()


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def children_maxrss_mb() -> float:
    """Peak RSS of the largest child process (a rebuild's fill workers), 0 without any."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def node_cpu_seconds() -> float:
    """CPU seconds the node's process has used (user + system, from /proc); 0 when
    BENCH_NODE_PIDFILE (set by scripts/bench) does not name a running process."""
    try:
        with open(os.environ["BENCH_NODE_PIDFILE"]) as pidfile:
            pid = int(pidfile.read().strip())
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (KeyError, OSError, ValueError):
        return 0.0
    # After the command's ")": state is field 3 of stat(5), utime 14 and stime 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """CPU seconds of this process and of its children that ended (fill workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class Clock:
    """Wall time of a measured section, and the CPU time the loader (this process and its
    workers) and the node spent in it: where the time goes when both share the cores."""

    def __enter__(self) -> Clock:
        self.node = node_cpu_seconds()
        self.own = own_cpu_seconds()
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.seconds = time.perf_counter() - self.started
        self.own = own_cpu_seconds() - self.own
        self.node = node_cpu_seconds() - self.node

    def result(self, **values: Any) -> dict[str, Any]:
        return {
            "seconds": self.seconds,
            "loader_cpu_s": self.own,
            "node_cpu_s": self.node,
            **values,
        }


class Counter:
    """Count the HTTP requests a client's transport sends (the real transport, no mocks)."""

    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self.paths: list[str] = []

    def __enter__(self) -> Counter:
        original = self.transport.perform_request

        def perform_request(method: str, target: str, *args: Any, **kwargs: Any) -> Any:
            self.paths.append(f"{method} {target}")
            return original(method, target, *args, **kwargs)

        self.transport.perform_request = perform_request
        return self

    def __exit__(self, *exc: Any) -> None:
        del self.transport.perform_request


# -- the database ----------------------------------------------------------------------------


def seed(rows: int) -> dict[str, Any]:
    """Create the database with ``rows`` products (a category each, every other tagged).

    A SQLite file is written as ``<BENCH_DB>.partial`` and renamed once complete.
    """
    target = os.environ.get("BENCH_DB", "")
    if target and not os.environ.get("BENCH_DATABASE_URL"):
        os.environ["BENCH_DB"] = f"{target}.partial"
        if os.path.exists(os.environ["BENCH_DB"]):
            os.unlink(os.environ["BENCH_DB"])
    setup("tests.benchmarks.settings")
    from django.core.management import call_command

    from djangoes_dsl import indexing_paused
    from tests.apps.shop.models import Category, Product, Tag

    call_command("migrate", verbosity=0)
    categories = [Category.objects.create(name=f"category {n}") for n in range(20)]
    tags = [Tag.objects.create(name=f"tag{n}") for n in range(10)]
    words = ["red", "green", "blue", "light", "heavy", "small", "large", "soft", "hard", "warm"]
    with indexing_paused():
        for start in range(0, rows, 10_000):
            Product.objects.bulk_create(
                Product(
                    sku=f"SKU-{n:07d}",
                    title=f"Product {n} {words[n % 10]} {words[(n // 10) % 10]}",
                    price=n % 1000 + 0.99,
                    category=categories[n % 20],
                )
                for n in range(start, min(rows, start + 10_000))
            )
        through = Product.tags.through
        pks = list(Product.objects.values_list("pk", flat=True))
        through.objects.bulk_create(
            (through(product_id=pk, tag_id=tags[pk % 10].pk) for pk in pks[::2]),
            batch_size=10_000,
        )
    count = Product.objects.count()
    if target and not os.environ.get("BENCH_DATABASE_URL"):
        from django.db import connection

        connection.close()
        os.replace(f"{target}.partial", target)
    return {"rows": count}


# -- rebuild throughput ----------------------------------------------------------------------


def djangoes_rebuild(rows: int, parallel: int = 0, processes: int | None = None) -> dict[str, Any]:
    setup("tests.benchmarks.settings")
    import djangoes
    from djangoes_dsl.rebuild import Rebuild

    backend = djangoes.connections["default"]
    backend.client.indices.delete(index="bench_products*", ignore_unavailable=True)
    backend.create_index("products")
    job = Rebuild("products", parallel=parallel, processes=processes)
    with Clock() as clock:
        job.run()
    assert job.result is not None
    count = backend.client.count(index="bench_products")["count"]
    check_source(backend.client, "bench_products")
    backend.client.indices.delete(index="bench_products*", ignore_unavailable=True)
    return clock.result(
        docs=count,
        processes=job.result.processes,
        maxrss_mb=maxrss_mb(),
        worker_maxrss_mb=children_maxrss_mb(),
    )


def djangoes_rebuild_orjson(rows: int) -> dict[str, Any]:
    """The default rebuild with elasticsearch-py's ``OrjsonSerializer`` in ``PARAMS`` (the
    floor's JSON library, one setting away): what serializing costs the loader."""
    setup("tests.benchmarks.settings")
    from django.conf import settings
    from elasticsearch.serializer import OrjsonSerializer

    server = settings.ES_SERVERS["default"]
    server["PARAMS"] = {**server.get("PARAMS", {}), "serializer": OrjsonSerializer()}
    return djangoes_rebuild(rows)


def djangoes_rebuild_instances(rows: int) -> dict[str, Any]:
    """The rebuild with ``prepare_category``/``prepare_tags`` methods: rows as model instances.

    The same methods and queryset (``select_related``, ``prefetch_related``) as the
    django-elasticsearch-dsl Document.
    """
    setup("tests.benchmarks.settings")
    from tests.apps.shop.search_indices import ProductDocument

    ProductDocument.prepare_category = lambda self, instance: (
        instance.category.name if instance.category_id else None
    )
    ProductDocument.prepare_tags = lambda self, instance: sorted(
        tag.name for tag in instance.tags.all()
    )
    assert ProductDocument._values_reader() is None
    return djangoes_rebuild(rows)


def raw_sources(index: str) -> Iterator[dict[str, Any]]:
    """The documents of the hand-written loader: values() pages, dicts built by hand."""
    from collections import defaultdict

    from tests.apps.shop.models import Category, Product

    categories = dict(Category.objects.values_list("pk", "name"))
    through = Product.tags.through
    fields = ("pk", "sku", "title", "price", "in_stock", "created", "category_id")
    last = 0
    while True:
        page = list(Product.objects.filter(pk__gt=last).order_by("pk").values_list(*fields)[:1000])
        if not page:
            return
        tags = defaultdict(list)
        pks = [row[0] for row in page]
        for product_id, name in through.objects.filter(product_id__in=pks).values_list(
            "product_id", "tag__name"
        ):
            tags[product_id].append(name)
        for pk, sku, title, price, in_stock, created, category_id in page:
            source = {
                "sku": sku,
                "title": title,
                "price": float(price),
                "in_stock": in_stock,
                "created": created,
                "category": categories.get(category_id),
            }
            if tags[pk]:
                source["tags"] = sorted(tags[pk])
            yield {"_index": index, "_id": str(pk), "_source": source}
        last = pks[-1]


def tuned_body(backend: Any) -> dict[str, Any]:
    """The products index body without aliases, refresh off and no replicas (for a load)."""
    body = backend.get_index_body("products", with_aliases=False)
    body["settings"].update({"number_of_replicas": 0, "refresh_interval": "-1"})
    return body


def finish_load(client: Any, index: str) -> None:
    client.indices.put_settings(
        index=index, settings={"index": {"refresh_interval": None, "number_of_replicas": 0}}
    )
    client.indices.refresh(index=index)


def check_source(client: Any, index: str) -> None:
    """Fail unless the first and the last product's documents hold their values.

    So a contender that indexes empty or wrong documents cannot look fast.
    """
    from tests.apps.shop.models import Product

    for product in (Product.objects.order_by("pk").first(), Product.objects.order_by("pk").last()):
        assert product is not None
        expected = {
            "sku": product.sku,
            "title": product.title,
            "price": float(product.price),
            "category": product.category.name if product.category_id else None,
            "tags": sorted(tag.name for tag in product.tags.all()) or None,
        }
        source = client.get(index=index, id=str(product.pk))["_source"]
        found = {name: source.get(name) for name in expected}
        if found.get("tags") == []:
            found["tags"] = None
        if found != expected:
            raise AssertionError(
                f"{index}: document {product.pk} has {source!r}, expected {expected!r}"
            )


def timed_load(index: str, load: Any) -> tuple[Clock, int, Any]:
    """Time ``load(client)`` filling ``index`` as the raw loaders are timed: the tuned index
    created, the settings restored and refreshed after; then check and delete it. Return the
    clock, the documents indexed and what ``load`` returned."""
    import djangoes

    backend = djangoes.connections["default"]
    client = backend.client
    client.indices.delete(index=index, ignore_unavailable=True)
    body = tuned_body(backend)
    with Clock() as clock:
        client.indices.create(index=index, **body)
        loaded = load(client)
        finish_load(client, index)
    count = client.count(index=index)["count"]
    check_source(client, index)
    client.indices.delete(index=index)
    return clock, count, loaded


def raw_bulk(rows: int, helper: str = "streaming_bulk") -> dict[str, Any]:
    """The hand-written loader: values() pages, dicts, elasticsearch.helpers, tuned index."""
    setup("tests.benchmarks.settings")
    from elasticsearch import helpers

    index = "bench_raw"

    def load(client: Any) -> int:
        if helper == "parallel_bulk":
            results = helpers.parallel_bulk(
                client, raw_sources(index), chunk_size=1000, thread_count=4
            )
        else:
            results = helpers.streaming_bulk(client, raw_sources(index), chunk_size=1000)
        return sum(1 for success, _ in results if success)

    clock, count, ok = timed_load(index, load)
    return clock.result(docs=count, ok=ok, maxrss_mb=maxrss_mb())


#: Concurrent connections of the node's ceiling (the node's bulk thread pool is one thread
#: per core; more requests in flight keep it busy while responses travel).
CEILING_CONNECTIONS = 4


def node_ceiling(rows: int, connections: int = CEILING_CONNECTIONS) -> dict[str, Any]:
    """The node's limit: the same documents as pre-serialized NDJSON bodies, sent at once.

    The bodies (1,000 documents each, the loaders' chunk) are built before the clock starts;
    timed are the index creation, ``connections`` threads sending the bodies (each response
    filtered to ``errors``: no Python work per document), the settings restore and the
    refresh, as for the raw loaders.
    """
    setup("tests.benchmarks.settings")
    from concurrent.futures import ThreadPoolExecutor

    import djangoes

    backend = djangoes.connections["default"]
    client = backend.client
    serializer = client.transport.serializers.get_serializer("application/json")
    index = "bench_ceiling"
    client.indices.delete(index=index, ignore_unavailable=True)
    body = tuned_body(backend)
    bodies: list[bytes] = []
    lines: list[bytes] = []
    for number, action in enumerate(raw_sources(index), start=1):
        lines.append(serializer.dumps({"index": {"_id": action["_id"]}}))
        lines.append(serializer.dumps(action["_source"]))
        if number % 1000 == 0:
            bodies.append(b"\n".join(lines) + b"\n")
            lines = []
    if lines:
        bodies.append(b"\n".join(lines) + b"\n")

    def send(ndjson: bytes) -> None:
        response = client.bulk(index=index, operations=ndjson, filter_path="errors")
        if response["errors"]:
            raise AssertionError(f"the node refused documents of {index}")

    with Clock() as clock:
        client.indices.create(index=index, **body)
        with ThreadPoolExecutor(max_workers=connections) as pool:
            list(pool.map(send, bodies))
        finish_load(client, index)
    count = client.count(index=index)["count"]
    check_source(client, index)
    client.indices.delete(index=index)
    return clock.result(
        docs=count, connections=connections, bytes=sum(map(len, bodies)), maxrss_mb=maxrss_mb()
    )


def floor_loader(rows: int) -> dict[str, Any]:
    """The floor (tests/benchmarks/floor.py): driver cursor, inline dicts, orjson,
    pre-serialized bodies; the tuned index, timed as the raw loaders."""
    setup("tests.benchmarks.settings")
    from tests.benchmarks import floor

    index = "bench_floor"
    clock, count, requests = timed_load(index, lambda client: floor.load(client, index))
    return clock.result(docs=count, requests=requests, maxrss_mb=maxrss_mb())


def floor_read(rows: int) -> dict[str, Any]:
    """The floor's reading alone: the driver's rows, no documents built, nothing sent."""
    setup("tests.benchmarks.settings")
    from tests.benchmarks import floor

    with Clock() as clock:
        read = floor.read(rows)
    return clock.result(docs=read)


def orm_read(rows: int) -> dict[str, Any]:
    """The ORM's share: the same keyset pages of the same columns (and the tags of each
    page) read through ``values_list()``, no documents built, nothing sent."""
    setup("tests.benchmarks.settings")
    from tests.apps.shop.models import Product

    through = Product.tags.through
    fields = ("pk", "sku", "title", "price", "in_stock", "created", "category_id")
    read = 0
    with Clock() as clock:
        last = 0
        while True:
            page = list(
                Product.objects.filter(pk__gt=last).order_by("pk").values_list(*fields)[:1000]
            )
            if not page:
                break
            list(
                through.objects.filter(
                    product_id__gte=page[0][0], product_id__lte=page[-1][0]
                ).values_list("product_id", "tag__name")
            )
            read += len(page)
            last = page[-1][0]
    return clock.result(docs=read)


def djangoes_read(rows: int) -> dict[str, Any]:
    """The rebuild's reading alone: the pages of bulk actions its fill sends (values read
    through the ORM, documents prepared), serialized as the sender does, nothing sent."""
    setup("tests.benchmarks.settings")
    import djangoes
    from djangoes_dsl.rebuild.pages import plan_pages, whole
    from djangoes_dsl.registry import registry
    from djangoes_dsl.sender import Sender

    documents = registry.documents_for_index("products")
    sender = Sender(djangoes.connections["default"].client, chunk_size=1000)
    read = size = 0
    with Clock() as clock:
        actions = (
            action for page in plan_pages(whole(documents), "bench_x", 1000) for action in page
        )
        for chunk in sender._chunks(actions):
            read += len(chunk)
            size += sum(len(line.body) for line in chunk)
    return clock.result(docs=read, bytes=size)


#: What a bulk request of the rebuild's fill differs in from the ceiling's, one at a time
#: (then all together): each variant's node CPU per document says what that difference costs.
NODE_VARIANTS = {
    "ceiling": {},
    "index_in_line": {"index_in_line": True},
    "external_versions": {"versions": True},
    "item_statuses": {"filter_path": "items.*.status,items.*.error"},
    "chunks_of_500": {"chunk": 500},
    "refresh_on": {"refresh": True},
    "all_of_them": {
        "index_in_line": True,
        "versions": True,
        "filter_path": "items.*.status,items.*.error",
        "chunk": 500,
    },
}


def node_costs(rows: int, rounds: int = 2) -> dict[str, Any]:
    """The node's CPU per document for the ceiling's requests and for each variant of
    ``NODE_VARIANTS`` (the least of ``rounds`` rounds; bodies built before the clock)."""
    setup("tests.benchmarks.settings")
    from concurrent.futures import ThreadPoolExecutor

    import djangoes

    backend = djangoes.connections["default"]
    client = backend.client
    dumps = client.transport.serializers.get_serializer("application/json").dumps
    index = "bench_variant"
    sources = [(action["_id"], dumps(action["_source"])) for action in raw_sources(index)]
    version = time.time_ns() // 1000
    found: dict[str, list[float]] = {name: [] for name in NODE_VARIANTS}
    for _ in range(rounds):
        for name, variant in NODE_VARIANTS.items():
            meta = b'"_index":"%s",' % index.encode() if variant.get("index_in_line") else b""
            tail = (
                b',"version":%d,"version_type":"external_gte"' % version
                if variant.get("versions")
                else b""
            )
            chunk = variant.get("chunk", 1000)
            bodies = [
                b"".join(
                    b'{"index":{%s"_id":"%s"%s}}\n%s\n' % (meta, doc_id.encode(), tail, source)
                    for doc_id, source in sources[start : start + chunk]
                )
                for start in range(0, len(sources), chunk)
            ]
            filter_path = variant.get("filter_path", "errors")

            def send(ndjson: bytes, filter_path: str = filter_path) -> None:
                client.bulk(index=index, operations=ndjson, filter_path=filter_path)

            client.indices.delete(index=index, ignore_unavailable=True)
            body = backend.get_index_body("products", with_aliases=False)
            if not variant.get("refresh"):
                body = tuned_body(backend)
            client.indices.create(index=index, **body)
            with Clock() as clock, ThreadPoolExecutor(max_workers=CEILING_CONNECTIONS) as pool:
                list(pool.map(send, bodies))
            client.indices.refresh(index=index)
            assert client.count(index=index)["count"] == len(sources)
            found[name].append(clock.node * 1e6 / len(sources))
    client.indices.delete(index=index, ignore_unavailable=True)
    return {name: round(min(values), 2) for name, values in found.items()}


def dedsl_rebuild(rows: int, parallel: int = 0) -> dict[str, Any]:
    setup("tests.benchmarks.dedsl_settings")
    flag = "--parallel" if parallel else "--no-parallel"
    return _dedsl_command_rebuild("dedsl_products", flag, check_source)


def _dedsl_command_rebuild(index: str, flag: str, check: Any) -> dict[str, Any]:
    """``search_index --rebuild -f`` of django-elasticsearch-dsl, timed; ``check`` a
    document of ``index`` after."""
    from io import StringIO

    from django.core.management import call_command
    from elasticsearch.dsl.connections import connections

    client = connections.get_connection()
    client.indices.delete(index=f"{index}*", ignore_unavailable=True)
    args = ["--rebuild", "-f", "--models", "shop.Product", flag]
    with Clock() as clock:
        call_command("search_index", *args, stdout=StringIO())
    client.indices.refresh(index=index)
    count = client.count(index=index)["count"]
    check(client, index)
    client.indices.delete(index=f"{index}*", ignore_unavailable=True)
    return clock.result(docs=count, maxrss_mb=maxrss_mb())


# -- a nested relation: djangoes native, through compat, django-elasticsearch-dsl ---------------


def check_nested(client: Any, index: str) -> None:
    """Fail unless a tagged product's document holds its category and tags objects."""
    tagged = {"nested": {"path": "tags", "query": {"exists": {"field": "tags.name"}}}}
    hits = client.search(index=index, size=1, query=tagged)["hits"]["hits"]
    source = hits[0]["_source"]
    assert source["category"]["name"].startswith("category"), source
    assert source["tags"][0]["name"].startswith("tag"), source


def _rebuild_nested(key: str) -> dict[str, Any]:
    import djangoes
    from djangoes_dsl.rebuild import Rebuild

    backend = djangoes.connections["default"]
    name = backend.get_index(key)["NAME"]
    backend.client.indices.delete(index=f"{name}*", ignore_unavailable=True)
    backend.create_index(key)
    job = Rebuild(key, processes=0)
    with Clock() as clock:
        job.run()
    count = backend.client.count(index=name)["count"]
    check_nested(backend.client, name)
    backend.client.indices.delete(index=f"{name}*", ignore_unavailable=True)
    return clock.result(docs=count, maxrss_mb=maxrss_mb())


def nested_djangoes(rows: int) -> dict[str, Any]:
    setup("tests.benchmarks.settings")
    from djangoes_dsl import register
    from tests.benchmarks.nested import NATIVE_KEY, NestedProductDocument

    register(NATIVE_KEY)(NestedProductDocument)
    assert NestedProductDocument._values_reader() is not None
    return _rebuild_nested(NATIVE_KEY)


def nested_djangoes_instances(rows: int) -> dict[str, Any]:
    """The native Document read as model instances (a prepare method on a property)."""
    setup("tests.benchmarks.settings")
    from djangoes_dsl import register
    from tests.benchmarks.nested import NATIVE_KEY, NestedProductDocument

    NestedProductDocument.prepare_tags__name = lambda self, tag: tag.name
    register(NATIVE_KEY)(NestedProductDocument)
    assert NestedProductDocument._values_reader() is None
    return _rebuild_nested(NATIVE_KEY)


def nested_compat(rows: int) -> dict[str, Any]:
    """django-elasticsearch-dsl's Document module itself, imported without it installed:
    its imports name djangoes_dsl.compat then."""
    setup("tests.benchmarks.settings")
    from tests.benchmarks.dedsl_nested_app import documents

    assert documents.Document.__module__.startswith("djangoes_dsl.compat")
    return _rebuild_nested("dedsl_nested_products")


def nested_dedsl(rows: int) -> dict[str, Any]:
    setup("tests.benchmarks.dedsl_nested_settings")
    return _dedsl_command_rebuild("dedsl_nested_products", "--no-parallel", check_nested)


# -- 1,000 saves in one transaction ----------------------------------------------------------


def _saves(transport: Any, index_exists: Any) -> dict[str, Any]:
    from django.db import transaction

    from tests.apps.shop.models import Category, Product

    category = Category.objects.first()
    with Counter(transport) as counter:
        started = time.perf_counter()
        with transaction.atomic():
            for n in range(1000):
                Product.objects.create(sku=f"TX-{n}", title=f"Saved {n}", category=category)
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "requests": len(counter.paths), "paths": sorted(set(counter.paths))}


def djangoes_saves(rows: int) -> dict[str, Any]:
    setup("tests.benchmarks.settings")
    import djangoes
    from djangoes_dsl import indexing_paused
    from tests.apps.shop.models import Product

    backend = djangoes.connections["default"]
    backend.client.indices.delete(index="bench_products*", ignore_unavailable=True)
    backend.create_index("products")
    try:
        result = _saves(backend.client.transport, None)
        backend.refresh(index="bench_products")
        result["indexed"] = backend.client.count(index="bench_products")["count"]
    finally:
        with indexing_paused():
            Product.objects.filter(sku__startswith="TX-").delete()
        backend.client.indices.delete(index="bench_products*", ignore_unavailable=True)
    return result


def dedsl_saves(rows: int) -> dict[str, Any]:
    setup("tests.benchmarks.dedsl_settings")
    from django.db.models import signals
    from elasticsearch.dsl.connections import connections

    from tests.apps.shop.models import Product

    client = connections.get_connection()
    client.indices.delete(index="dedsl_products", ignore_unavailable=True)
    from tests.benchmarks.dedsl_app.documents import ProductDocument

    ProductDocument._index.create()
    try:
        result = _saves(client.transport, None)
        client.indices.refresh(index="dedsl_products")
        result["indexed"] = client.count(index="dedsl_products")["count"]
    finally:
        receivers = signals.pre_delete.receivers, signals.post_delete.receivers
        signals.pre_delete.receivers, signals.post_delete.receivers = [], []
        signals.pre_delete.sender_receivers_cache.clear()
        signals.post_delete.sender_receivers_cache.clear()
        Product.objects.filter(sku__startswith="TX-").delete()
        signals.pre_delete.receivers, signals.post_delete.receivers = receivers
        client.indices.delete(index="dedsl_products", ignore_unavailable=True)
    return result


# -- search round trip -----------------------------------------------------------------------


def search(rows: int) -> dict[str, Any]:
    """Round trips of the same 10-hit match query: the Document's search against the raw
    client's, and ``to_queryset()`` against the raw client plus ``in_bulk()``, interleaved."""
    setup("tests.benchmarks.settings")
    from elasticsearch import dsl

    import djangoes
    from djangoes_dsl.rebuild import Rebuild
    from tests.apps.shop.models import Product
    from tests.apps.shop.search_indices import ProductDocument

    backend = djangoes.connections["default"]
    client = backend.client
    client.indices.delete(index="bench_products*", ignore_unavailable=True)
    backend.create_index("products")
    Rebuild("products").run()
    read = ProductDocument.get_read_index()

    def with_document() -> int:
        response = ProductDocument.search(using="default").query("match", title="red")[:10]
        hits = response.execute().hits
        assert all(hit.created.tzinfo is not None for hit in hits)  # dates deserialized
        return len(hits)

    def with_client() -> int:
        response = client.search(index=read, query={"match": {"title": "red"}}, size=10)
        return len(response["hits"]["hits"])

    def with_dsl() -> int:
        # elasticsearch.dsl alone (its Search and Hit objects, no Document): what any library
        # built on it pays before its own work.
        search = dsl.Search(using=client, index=read).query("match", title="red")[:10]
        return len([hit.created for hit in search.execute().hits])

    def with_to_queryset() -> int:
        search = ProductDocument.search(using="default").query("match", title="red")[:10]
        return len(list(search.to_queryset()))

    def with_in_bulk() -> int:
        response = client.search(index=read, query={"match": {"title": "red"}}, size=10)
        pks = [int(hit["_id"]) for hit in response["hits"]["hits"]]
        found = Product.objects.in_bulk(pks)
        return len([found[pk] for pk in pks if pk in found])

    calls = {
        "document": with_document,
        "client": with_client,
        "elasticsearch_dsl": with_dsl,
        "to_queryset": with_to_queryset,
        "in_bulk": with_in_bulk,
    }
    timings: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(30):
        for call in calls.values():
            call()
    for _ in range(300):
        for name, call in calls.items():
            started = time.perf_counter()
            assert call() == 10
            timings[name].append(time.perf_counter() - started)
    client.indices.delete(index="bench_products*", ignore_unavailable=True)
    return {
        name: {
            "median_ms": statistics.median(values) * 1000,
            "p95_ms": sorted(values)[int(len(values) * 0.95)] * 1000,
        }
        for name, values in timings.items()
    }


TASKS = {
    "seed": seed,
    "node_ceiling": node_ceiling,
    "djangoes_rebuild": djangoes_rebuild,
    "djangoes_rebuild_parallel": lambda rows: djangoes_rebuild(rows, parallel=2),
    "djangoes_rebuild_one_process": lambda rows: djangoes_rebuild(rows, processes=0),
    "djangoes_rebuild_instances": djangoes_rebuild_instances,
    "djangoes_rebuild_orjson": djangoes_rebuild_orjson,
    "raw_streaming_bulk": lambda rows: raw_bulk(rows, "streaming_bulk"),
    "raw_parallel_bulk": lambda rows: raw_bulk(rows, "parallel_bulk"),
    "floor_loader": floor_loader,
    "floor_read": floor_read,
    "node_costs": node_costs,
    "orm_read": orm_read,
    "djangoes_read": djangoes_read,
    "dedsl_rebuild": dedsl_rebuild,
    "dedsl_rebuild_parallel": lambda rows: dedsl_rebuild(rows, parallel=1),
    "djangoes_saves": djangoes_saves,
    "dedsl_saves": dedsl_saves,
    "search": search,
    "nested_djangoes": nested_djangoes,
    "nested_djangoes_instances": nested_djangoes_instances,
    "nested_compat": nested_compat,
    "nested_dedsl": nested_dedsl,
}


if __name__ == "__main__":
    task, rows = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0
    print(json.dumps(TASKS[task](rows), default=str))
