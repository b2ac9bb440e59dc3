"""django-elasticsearch-dsl's own example project, ported by changing import lines only, runs
on djangoes against the node: its settings (ELASTICSEARCH_DSL, no ES_SERVERS or ES_INDICES),
rebuild and the command's flags, save-then-search, related updates. The project's tests
(tests/ded_example/test_app/tests.py) run in a child process with its settings, as
``manage.py test`` runs them."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_TESTS = 9


def test_ported_example_project_passes_its_tests(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DJANGOES_EXAMPLE_DB": ""}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "-m", "django", "test", "tests.ded_example.test_app",
         "--settings=tests.ded_example.settings", "-v", "2"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"Ran {EXAMPLE_TESTS} tests" in output, output
    assert "Creating test index 'test_car' for alias 'default'" in output, output
    assert "Destroying test index 'test_car' for alias 'default'" in output, output


def test_ported_files_import_djangoes_instead_of_django_elasticsearch_dsl():
    # What the port changed (see each file's header): these imports, and nothing else names
    # djangoes or the shims.
    changed = {
        "documents.py": {
            "from tests.ded_example.analysis import analyzer",
            "from djangoes_dsl.compat import Document, Index, fields",
            "from djangoes_dsl.compat.registries import registry",
        },
        "models.py": {"from tests.ded_example.six import python_2_unicode_compatible"},
    }
    for name, imports in changed.items():
        lines = (ROOT / "tests" / "ded_example" / "test_app" / name).read_text().splitlines()
        code = [line for line in lines if not line.startswith("#")]
        assert not any("django_elasticsearch_dsl" in line for line in code)
        naming = {line for line in code if "djangoes" in line or "ded_example" in line}
        assert naming == imports
