"""Invalid settings never stop Django from starting: ``manage.py migrate``, ``check`` and
``shell`` run, ``check`` reports the problem with its id and hint (``migrate``, a database
command, sums the problems up in a warning and goes on), and the first use of what is
misconfigured raises.

Each configuration runs real ``django-admin`` processes with a settings module made from
the suite's settings plus the invalid ones.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

USE_CONNECTION = "from djangoes import connections; connections['default']"

# (id, settings lines, check id, words of the check's message, code that uses it first)
CONFIGURATIONS = [
    ("no default server", "ES_SERVERS = {'main': {'INDICES': ['products', 'articles']}}",
     "djangoes_dsl.E000", "You must define a 'default' ElasticSearch server", USE_CONNECTION),
    ("ES_SERVERS a string", "ES_SERVERS = 'http://127.0.0.1:9200'",
     "djangoes_dsl.E000", "ES_SERVERS must be a dict", USE_CONNECTION),
    ("empty NAME", "ES_INDICES = {'products': {'NAME': ''}, 'articles': {}}",
     "djangoes_dsl.E000", "ES_INDICES['products']['NAME']", USE_CONNECTION),
    ("HOST typo", "ES_SERVERS = {'default': {'HOST': 'http://10.255.255.1:9200'}}",
     "djangoes_dsl.E000", "Did you mean 'HOSTS'?", USE_CONNECTION),
    ("invalid index name", "ES_INDICES = {'products': {'NAME': '_products'}, 'articles': {}}",
     "djangoes_dsl.E020", "ES_INDICES['products']['NAME'] is '_products'", USE_CONNECTION),
    ("shared alias", "ES_INDICES = {'products': {'ALIASES': ['all']}, "
                     "'articles': {'ALIASES': ['all']}}",
     "djangoes_dsl.E021", "ES_INDICES['articles']['ALIASES'][0] is 'all'", USE_CONNECTION),
    ("processor a function", "DJANGOES_SIGNAL_PROCESSOR = 'os.path.join'",
     "djangoes_dsl.E030", "DJANGOES_SIGNAL_PROCESSOR is 'os.path.join'",
     "from djangoes_dsl.signals import setup_signal_processor; setup_signal_processor()"),
    ("negative chunk size", "DJANGOES_BULK_CHUNK_SIZE = -5",
     "djangoes_dsl.E030", "DJANGOES_BULK_CHUNK_SIZE is -5",
     "from djangoes_dsl.indexing import bulk_chunk_size; bulk_chunk_size()"),
    ("failure handler missing", "DJANGOES_INDEXING_FAILURE_HANDLER = 'no.such.handler'",
     "djangoes_dsl.E030", "DJANGOES_INDEXING_FAILURE_HANDLER is 'no.such.handler'",
     "from djangoes_dsl.indexing import failure_handler; failure_handler()"),
]  # fmt: skip


def django_admin(tmp_path: Path, settings: str, *args: str) -> subprocess.CompletedProcess:
    (tmp_path / "bad_settings.py").write_text(
        textwrap.dedent(
            """\
            from tests.settings import *  # noqa: F403

            """
        )
        + settings
        + "\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
        "DJANGO_SETTINGS_MODULE": "bad_settings",
    }
    return subprocess.run(
        [sys.executable, "-m", "django", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("settings", "check_id", "says", "use"),
    [configuration[1:] for configuration in CONFIGURATIONS],
    ids=[configuration[0] for configuration in CONFIGURATIONS],
)
def test_invalid_settings_do_not_stop_manage_py(tmp_path, settings, check_id, says, use):
    migrate = django_admin(tmp_path, settings, "migrate", "--no-input")
    assert migrate.returncode == 0, migrate.stderr
    assert "Apply all migrations" in migrate.stdout
    summary = "djangoes_dsl.W031" if check_id == "djangoes_dsl.E030" else "djangoes_dsl.W010"
    assert f"({summary}) " in migrate.stderr
    assert says in migrate.stderr
    assert "Traceback" not in migrate.stderr

    check = django_admin(tmp_path, settings, "check", "--tag", "djangoes")
    assert check.returncode == 1
    assert f"({check_id}) " in check.stderr
    assert says in check.stderr
    assert "HINT: " in check.stderr
    assert "Traceback" not in check.stderr

    shell = django_admin(tmp_path, settings, "shell", "-c", f"print('shell runs'); {use}")
    assert "shell runs" in shell.stdout
    assert shell.returncode != 0  # the first use raises ...
    assert "ImproperlyConfigured" in shell.stderr or "ConfigurationError" in shell.stderr
    assert says.split(" is ")[0].split("[")[0] in shell.stderr  # ... naming the setting
