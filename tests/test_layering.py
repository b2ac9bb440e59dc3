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


def _type_checking_only(tree: ast.AST) -> set[int]:
    """Return the ids of the nodes inside ``if TYPE_CHECKING:`` blocks (never run)."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(inner) for child in node.body for inner in ast.walk(child))
    return skipped


def imported_modules(path: Path, package: str) -> set[str]:
    """Return every module an import in ``path`` names (relative ones resolved in ``package``),
    at module level or inside functions; not those only type checkers read."""
    tree = ast.parse(path.read_text(), filename=str(path))
    skipped = _type_checking_only(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
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


# -- no import cycles ------------------------------------------------------------------------

ROOT = PACKAGE.parent
PACKAGES = ("djangoes", "djangoes_dsl")


def project_modules() -> dict[str, Path]:
    modules = {}
    for name in PACKAGES:
        for path in sorted((ROOT / name).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if path.name == "__init__.py" else parts)] = path
    return modules


def dependencies(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Return the project modules each module imports (a name imported from a package counts
    as that submodule when there is one, else as the package)."""
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = imported_modules(path, package)
        graph[name] = {
            module
            for module in found
            if module in modules
            and module != name
            # "from . import conf" names the package too: only the submodule counts.
            and not any(other.startswith(module + ".") for other in found & modules.keys())
        }
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return the import cycles of ``graph`` (its strongly connected parts of 2+ modules)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in sorted(graph[module]):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            part = []
            while True:
                other = stack.pop()
                part.append(other)
                if other == module:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_the_cycle_finder_sees_a_lazy_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    modules = project_modules()
    assert "djangoes_dsl.tasks" in dependencies(modules)["djangoes_dsl.delivery"]  # lazy


def test_there_are_no_import_cycles():
    assert cycles(dependencies(project_modules())) == []
