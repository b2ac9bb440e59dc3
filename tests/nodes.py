"""The extra nodes some tests need: a second node and a secured one, named by environment.

``scripts/test`` (noxfile.py) starts them and sets the variables. By hand:

    scripts/es-node start --port 9202      # DJANGOES_TEST_URL_2=http://127.0.0.1:9202
    scripts/es-node start --port 9203 --password <pw>
    # DJANGOES_TEST_SECURE_URL=http://127.0.0.1:9203 DJANGOES_TEST_SECURE_PASSWORD=<pw>

A missing or silent node fails the test that needs it, with this advice; it never skips.
"""

from __future__ import annotations

import base64
import os
import urllib.error
import urllib.request

import pytest


def _answers(url: str, password: str = "") -> str:
    request = urllib.request.Request(f"{url}/_cluster/health")
    if password:
        token = base64.b64encode(f"elastic:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=10):
            return ""
    except (OSError, urllib.error.URLError) as exc:
        return str(exc)


def _require(variable: str, how: str) -> str:
    value = os.environ.get(variable, "")
    if not value:
        pytest.fail(f"{variable} is not set. {how}", pytrace=False)
    return value


def second_url() -> str:
    """Return the URL of a second node (not the main DJANGOES_TEST_URL one)."""
    how = "Start one with 'scripts/es-node start --port 9202' and export DJANGOES_TEST_URL_2."
    url = _require("DJANGOES_TEST_URL_2", how).rstrip("/")
    problem = _answers(url)
    if problem:
        pytest.fail(f"No node answers at DJANGOES_TEST_URL_2={url} ({problem}). {how}")
    return url


def secure_node() -> tuple[str, str]:
    """Return the URL and the 'elastic' password of a node with security on."""
    how = (
        "Start one with 'scripts/es-node start --port 9203 --password <pw>' and export "
        "DJANGOES_TEST_SECURE_URL and DJANGOES_TEST_SECURE_PASSWORD."
    )
    url = _require("DJANGOES_TEST_SECURE_URL", how).rstrip("/")
    password = _require("DJANGOES_TEST_SECURE_PASSWORD", how)
    problem = _answers(url, password)
    if problem:
        pytest.fail(f"The secured node at {url} does not answer ({problem}). {how}")
    return url, password
