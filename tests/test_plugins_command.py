"""``cl plugins install`` / ``uninstall`` in a fresh environment made here: the example plugin from
its folder, and a copy of it whose ``cl-client`` range does not admit this core (refused before
anything is installed)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from fresh_env import make_venv, venv_env

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "cl-plugin-example"

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new uv-made environment holding the core alone (built from its folder, not editable)."""
    return make_venv(tmp_path_factory.mktemp("plugins-command"), [str(REPO / "core")])


def _cl(venv: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = venv_env(venv)
    return subprocess.run(
        [str(venv / "bin" / "cl"), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=venv.parent,
        timeout=240,
        check=False,
    )


def _distributions(venv: Path) -> set[str]:
    listed = _cl(venv, "plugins", "--json")
    assert listed.returncode == 0, listed.stderr
    return {entry["distribution"] for entry in json.loads(listed.stdout)}


def test_install_and_uninstall_the_example_from_its_folder(venv: Path) -> None:
    assert "cl-plugin-example" not in _distributions(venv)
    installed = _cl(venv, "plugins", "install", str(EXAMPLE))
    assert installed.returncode == 0, installed.stderr
    assert "installed cl-plugin-example" in installed.stderr
    assert "cl-plugin-example" in _distributions(venv)
    helped = _cl(venv, "--help")
    assert helped.returncode == 0, helped.stderr
    assert any(line.split()[:1] == ["example"] for line in helped.stdout.splitlines())

    removed = _cl(venv, "plugins", "uninstall", "example")
    assert removed.returncode == 0, removed.stderr
    assert "cl-plugin-example" not in _distributions(venv)
    assert _cl(venv, "plugins", "uninstall", "example").returncode == 2


def test_a_plugin_for_another_core_is_refused_before_installing(venv: Path, tmp_path: Path) -> None:
    copy = tmp_path / "cl-plugin-example"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns(".venv", "__pycache__"))
    pyproject = copy / "pyproject.toml"
    text = pyproject.read_text()
    assert '"cl-client>=0.1,<0.2"' in text
    pyproject.write_text(text.replace('"cl-client>=0.1,<0.2"', '"cl-client>=9.0,<10"'))
    refused = _cl(venv, "plugins", "install", str(copy))
    assert refused.returncode == 2, refused.stderr
    line = refused.stderr.strip().splitlines()[-1]
    assert line.startswith("error:")
    assert "cl-client<10,>=9.0" in line
    assert "cl-client 0.1.0" in line
    assert "cl-plugin-example" not in _distributions(venv)


def test_a_missing_folder_is_one_line(venv: Path, tmp_path: Path) -> None:
    result = _cl(venv, "plugins", "install", str(tmp_path / "nothing-here"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: no such plugin folder")
