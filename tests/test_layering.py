"""djangoes is the lower layer: nothing in it imports djangoes_dsl (or elasticsearch.dsl)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import djangoes

PACKAGE = Path(djangoes.__file__).resolve().parent
FORBIDDEN = ("djangoes_dsl", "elasticsearch.dsl", "elasticsearch_dsl")


def package_of(path: Path) -> str:
    """Return the dotted package a module file of djangoes belongs to."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts if path.name == "__init__.py" else parts[:-1]).removesuffix(".__init__")


def imported_modules(path: Path, package: str) -> set[str]:
    """Return every module an import in ``path`` names (relative ones resolved in ``package``)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None))
            in ("import_module", "__import__", "import_string")
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.add(str(node.args[0].value))
    return found


def forbidden(modules: set[str]) -> set[str]:
    return {m for m in modules if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)}


def test_the_scan_sees_relative_and_dynamic_imports(tmp_path):
    # The scanner itself must be able to find a violation.
    module = PACKAGE / "backends" / "base.py"
    assert package_of(module) == "djangoes.backends"
    assert package_of(PACKAGE / "test" / "__init__.py") == "djangoes.test"
    assert "djangoes.signals.prepare_index_body" in imported_modules(module, "djangoes.backends")
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import importlib\n"
        "from djangoes_dsl import registry\n"
        "from .. import handler\n"
        "importlib.import_module('djangoes_dsl.signals')\n"
    )
    found = imported_modules(bad, "djangoes.test")
    assert "djangoes.handler" in found  # relative imports resolve within the package
    assert forbidden(found) == {
        "djangoes_dsl",
        "djangoes_dsl.registry",
        "djangoes_dsl.signals",
    }


def test_no_module_of_djangoes_imports_the_dsl_layer():
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) >= 10
    offenders = {
        str(path.relative_to(PACKAGE.parent)): sorted(
            forbidden(imported_modules(path, package_of(path)))
        )
        for path in files
    }
    assert {path: bad for path, bad in offenders.items() if bad} == {}


def test_importing_all_of_djangoes_loads_no_dsl_module():
    code = (
        "import sys, pkgutil, importlib, django\n"
        "from django.conf import settings\n"
        "settings.configure()\n"
        "django.setup()\n"
        "import djangoes\n"
        "for info in pkgutil.walk_packages(djangoes.__path__, 'djangoes.'):\n"
        "    if info.name != 'djangoes.test.pytest_plugin':\n"
        "        importlib.import_module(info.name)\n"
        "import djangoes.test.pytest_plugin\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('djangoes', 'elasticsearch')))\n"
        "print('\\n'.join(loaded))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    loaded = set(result.stdout.split())
    assert "djangoes.handler" in loaded
    assert "djangoes.test.runner" in loaded
    assert forbidden(loaded) == set()
