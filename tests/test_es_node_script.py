"""scripts/es-node runs a distribution the user has (--home, --archive) besides the default one,
and says what is wrong with one it cannot use."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import zipfile
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "es-node"


def es_node(*args: str, root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DJANGOES_ES_ROOT": str(root)}
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def fake_home(path: Path, version: str | None) -> Path:
    """Make a directory laid out like an Elasticsearch home (the launcher is never run)."""
    (path / "bin").mkdir(parents=True)
    launcher = path / "bin" / "elasticsearch"
    launcher.write_text("#!/bin/sh\nexit 1\n")
    launcher.chmod(0o755)
    (path / "lib").mkdir()
    if version:
        (path / "lib" / f"elasticsearch-{version}.jar").write_bytes(b"")
    return path


def test_a_home_that_is_not_one_is_refused(tmp_path):
    found = es_node("status", "--home", str(tmp_path / "nowhere"), "--port", "9399", root=tmp_path)
    assert found.returncode == 2
    assert "has no bin/elasticsearch" in found.stderr
    home = fake_home(tmp_path / "elasticsearch-x", version=None)
    found = es_node("status", "--home", str(home), "--port", "9399", root=tmp_path)
    assert found.returncode == 2
    assert "is not an Elasticsearch home (no lib/elasticsearch-<version>.jar)" in found.stderr


def test_the_version_is_read_from_the_home(tmp_path):
    home = fake_home(tmp_path / "elasticsearch-9.1.7", version="9.1.7")
    found = es_node("status", "--home", str(home), "--port", "9399", root=tmp_path)
    assert found.returncode == 3  # stopped
    assert found.stdout.strip() == "stopped http://127.0.0.1:9399"


def test_an_archive_is_unpacked_once_under_the_root(tmp_path):
    source = fake_home(tmp_path / "src" / "elasticsearch-9.2.0", version="9.2.0")
    archive = tmp_path / "elasticsearch-9.2.0-linux-x86_64.zip"
    with zipfile.ZipFile(archive, "w") as packed:
        for file in source.rglob("*"):
            packed.write(file, file.relative_to(source.parent))
    root = tmp_path / "root"
    root.mkdir()
    found = es_node("status", "--archive", str(archive), "--port", "9399", root=root)
    assert found.returncode == 3, found.stderr
    unpacked = root / "dist" / "elasticsearch-9.2.0-linux-x86_64"
    assert (unpacked / "lib" / "elasticsearch-9.2.0.jar").exists()
    (unpacked / "marker").write_text("kept")  # a second call reuses what was unpacked
    assert es_node("status", "--archive", str(archive), "--port", "9399", root=root).returncode == 3
    assert (unpacked / "marker").exists()


def test_a_missing_archive_is_refused(tmp_path):
    found = es_node("start", "--archive", str(tmp_path / "none.tar.gz"), root=tmp_path)
    assert found.returncode == 2
    assert "no such file" in found.stderr


def test_the_usage_names_the_new_options(tmp_path):
    found = es_node("--help", root=tmp_path)
    assert "--home DIR | --archive FILE" in found.stdout + found.stderr


def test_the_node_runs_in_a_session_of_its_own():
    # A Ctrl-C in a terminal signals the foreground process group (scripts/example and the
    # nodes it started): the node must be in a group and session of its own to outlive it.
    # The launcher reports its group and session, then fails, so no node ever runs. As root
    # the launcher runs as the node's user: the home lies under a directory it can read.
    with tempfile.TemporaryDirectory(prefix="djangoes-es-node-") as parent:
        os.chmod(parent, 0o755)
        home = fake_home(Path(parent) / "elasticsearch-9.1.7", version="9.1.7")
        (home / "config").mkdir()
        (home / "config" / "jvm.options").write_text("")
        (home / "bin" / "elasticsearch").write_text(
            '#!/bin/sh\necho "group and session: $(cut -d" " -f5,6 /proc/$$/stat)"\nexit 1\n'
        )
        found = es_node("start", "--home", str(home), "--port", "9399", root=Path(parent))
    assert found.returncode == 1
    reported = re.search(r"group and session: (\d+) (\d+)", found.stderr)
    assert reported, found.stderr
    group, session = (int(n) for n in reported.groups())
    assert group != os.getpgid(0)
    assert session != os.getsid(0)
