"""The test matrix: each session installs its own Django and client and runs the suite
against a real Elasticsearch node started by scripts/es-node.

Run everything with ``scripts/test``; one session with e.g.
``scripts/test -s "tests(py3.11-django5.2-es8)"``.
"""

from __future__ import annotations

import json
import os
import urllib.request

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "tests", "example"]

ES8_SERVER = os.environ.get("DJANGOES_ES8_VERSION", "8.19.21")
# The 9.x server of the 9.x client sessions; an empty DJANGOES_ES9_VERSION leaves them out.
ES9_SERVER = os.environ.get("DJANGOES_ES9_VERSION", "9.5.3")
PORTS = {"8": 9200, "9": 9250}

# Client 9.x only talks to 9.x servers; client 8.x talks to 8.x (and 9.x) servers.
CLIENTS = {
    "8.18": "elasticsearch>=8.18,<8.19",
    "8": "elasticsearch>=8.19,<9",
    "9": "elasticsearch>=9,<10",
}
DJANGO = {"4.2": "Django>=4.2,<5.0", "5.2": "Django>=5.2,<6.0", "6.0": "Django>=6.0,<6.1"}

MATRIX = [
    nox.param("3.11", "4.2", "8.18", id="py3.11-django4.2-es8.18"),
    nox.param("3.11", "5.2", "8", id="py3.11-django5.2-es8"),
    nox.param("3.12", "6.0", "8", id="py3.12-django6.0-es8"),
]
if ES9_SERVER:
    MATRIX += [
        nox.param("3.11", "5.2", "9", id="py3.11-django5.2-es9"),
        nox.param("3.12", "6.0", "9", id="py3.12-django6.0-es9"),
    ]


# The password of the secured test node: local to this machine, only for the test suite.
SECURE_PASSWORD = "djangoes-test-secret"


def start_node(session: nox.Session, client: str, offset: int = 0, password: str = "") -> str:
    """Start (or reuse) a node whose version suits ``client`` and return its URL.

    ``offset`` picks another port (a second node); ``password`` turns security on.
    """
    major = "9" if client == "9" else "8"
    version = ES9_SERVER if major == "9" else ES8_SERVER
    args = ["--version", version, "--port", str(PORTS[major] + offset)]
    if password:
        args += ["--password", password]
    out = session.run("scripts/es-node", "start", *args, external=True, silent=True)
    return out.strip().splitlines()[-1]


def has_security(url: str) -> bool:
    """Whether the node at ``url`` has the x-pack security module."""
    with urllib.request.urlopen(f"{url}/_nodes/_local/plugins?filter_path=**.modules.name") as r:
        nodes = json.load(r)["nodes"].values()
    return any(m["name"] == "x-pack-security" for node in nodes for m in node["modules"])


def node_env(session: nox.Session, client: str) -> tuple[dict[str, str], list[str]]:
    """Start the main, a second and a secured node; return the suite's environment and the
    pytest arguments it needs.

    A 9.x home that scripts/es-node had to assemble from Maven artifacts (because Maven
    Central has no integ-test-zip of that version) has no x-pack, so no secured node can run
    on it: then only the main and the second node start, and the tests marked ``secured``
    are deselected with ``-m "not secured"``, explicitly, rather than failing.
    """
    env = {
        "DJANGOES_TEST_URL": start_node(session, client),
        "DJANGOES_TEST_URL_2": start_node(session, client, offset=1),
    }
    if not has_security(env["DJANGOES_TEST_URL"]):
        session.log("this Elasticsearch has no security module: not running the secured tests")
        return env, ["-m", "not secured"]
    env["DJANGOES_TEST_SECURE_URL"] = start_node(session, client, 2, SECURE_PASSWORD)
    env["DJANGOES_TEST_SECURE_PASSWORD"] = SECURE_PASSWORD
    return env, []


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """ruff (pinned: formatting must not drift between runs) and mypy on both packages."""
    session.install("ruff==0.17.6", "mypy>=1.10", "django-stubs>=5.0", "-e", ".", CLIENTS["8"])
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy", "djangoes", "djangoes_dsl")


@nox.session(name="tests")
@nox.parametrize(("python", "django", "client"), MATRIX)
def tests(session: nox.Session, django: str, client: str) -> None:
    session.install("-e", ".[test]", DJANGO[django], CLIENTS[client])
    env, pytest_args = node_env(session, client)
    session.run("python", "-m", "pytest", *pytest_args, *session.posargs, env=env)


EXAMPLE_MATRIX = [nox.param("3.11", "5.2", "8", id="py3.11-django5.2-es8")]
if ES9_SERVER:
    EXAMPLE_MATRIX.append(nox.param("3.12", "6.0", "9", id="py3.12-django6.0-es9"))


@nox.session(name="example")
@nox.parametrize(("python", "django", "client"), EXAMPLE_MATRIX)
def example(session: nox.Session, django: str, client: str) -> None:
    """The example site's own Django tests and its browser tests in headless Chromium."""
    session.run("scripts/install-chromium", external=True)
    session.install("-e", ".[test,browser]", DJANGO[django], CLIENTS[client])
    url = start_node(session, client)
    env = {"DJANGOES_URL": url, "DJANGOES_TEST_URL": url}
    session.chdir("example_app")
    session.run("python", "-m", "pytest", *session.posargs, env=env)
