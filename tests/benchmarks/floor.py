"""The floor: the cheapest loader Python allows for the products the other loaders index.

No ORM and no Document: the database driver's own cursor (``sqlite3``, or ``psycopg`` on
PostgreSQL) reads keyset pages with ``fetchmany``, each document is a dict built inline and
serialized by orjson, and the NDJSON bodies go to the node pre-serialized, as the node
ceiling's do (the index name in the URL, no per-document results). What any loader built on
Django spends beyond it per document is what the ORM and the library add.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

import orjson

#: Documents per page and per bulk request (the other loaders' chunk).
PAGE = 1000
#: Threads sending bodies while the main thread reads the next pages.
SENDERS = 2

PRODUCTS = (
    "SELECT id, sku, title, price, in_stock, created, category_id FROM shop_product "
    "WHERE id > {mark} ORDER BY id LIMIT {page}"
)
TAGS = (
    "SELECT pt.product_id, t.name FROM shop_product_tags pt JOIN shop_tag t ON t.id = pt.tag_id "
    "WHERE pt.product_id BETWEEN {mark} AND {mark} ORDER BY pt.product_id, t.name"
)


def connect() -> tuple[Any, str]:
    """A DB-API connection to the bench's database (Django's settings name it) and its
    parameter mark."""
    from django.db import connection

    settings = connection.settings_dict
    if connection.vendor == "postgresql":
        import psycopg

        return (
            psycopg.connect(
                dbname=settings["NAME"],
                user=settings["USER"],
                password=settings["PASSWORD"],
                host=settings["HOST"],
                port=settings["PORT"],
            ),
            "%s",
        )
    import sqlite3

    return sqlite3.connect(settings["NAME"]), "?"


def pages(cursor: Any, mark: str) -> Iterator[tuple[list[Any], dict[int, list[str]]]]:
    """Yield every product's row, ``PAGE`` at a time, with the tag names of the page's
    products (keyset pages: each page's query starts after the last id read)."""
    products = PRODUCTS.format(mark=mark, page=PAGE)
    tags_of = TAGS.format(mark=mark)
    last = 0
    while True:
        cursor.execute(products, (last,))
        page = cursor.fetchmany(PAGE)
        if not page:
            return
        tags: dict[int, list[str]] = {}
        cursor.execute(tags_of, (page[0][0], page[-1][0]))
        for product_id, name in cursor.fetchall():
            tags.setdefault(product_id, []).append(name)
        yield page, tags
        last = page[-1][0]


def bodies(cursor: Any, mark: str, sqlite: bool) -> Iterator[bytes]:
    """Yield the NDJSON bodies of every product, ``PAGE`` documents each."""
    cursor.execute("SELECT id, name FROM shop_category")
    categories = dict(cursor.fetchall())
    dumps = orjson.dumps
    for page, tags in pages(cursor, mark):
        lines = []
        for pk, sku, title, price, in_stock, created, category_id in page:
            source = {
                "sku": sku,
                "title": title,
                "price": float(price),
                "in_stock": bool(in_stock),
                # SQLite's driver returns the text Django stored, without the "T".
                "created": created.replace(" ", "T") if sqlite else created,
                "category": categories.get(category_id),
            }
            found = tags.get(pk)
            if found:
                source["tags"] = found
            lines.append(b'{"index":{"_id":"%d"}}\n' % pk)
            lines.append(dumps(source))
            lines.append(b"\n")
        yield b"".join(lines)


def load(client: Any, index: str) -> int:
    """Index every product into ``index``; return the bulk requests sent."""
    from django.db import connection as django_connection

    connection, mark = connect()
    sqlite = django_connection.vendor == "sqlite"

    def send(ndjson: bytes) -> None:
        response = client.bulk(index=index, operations=ndjson, filter_path="errors")
        if response["errors"]:
            raise AssertionError(f"the node refused documents of {index}")

    requests = 0
    try:
        cursor = connection.cursor()
        with ThreadPoolExecutor(max_workers=SENDERS) as pool:
            pending: set[Future[None]] = set()
            for body in bodies(cursor, mark, sqlite):
                pending.add(pool.submit(send, body))
                requests += 1
                if len(pending) >= 2 * SENDERS:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        future.result()
            for future in pending:
                future.result()
    finally:
        connection.close()
    return requests


def read(rows: int) -> int:
    """Read every product's row as :func:`load` does, and nothing more: the database
    driver's share of the floor. Return the rows read."""
    connection, mark = connect()
    try:
        return sum(len(page) for page, _ in pages(connection.cursor(), mark))
    finally:
        connection.close()
