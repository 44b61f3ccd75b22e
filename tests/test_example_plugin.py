"""The example third-party plugin, installed the way its users would install it.

A fresh virtual environment gets the core, the local server and ``examples/cl-plugin-example`` from
their folders (built as wheels, not editable, and none of the workspace's other plugins), so the
example can only work through what it declares and the core's public API. Installs come from uv's
cache when it has everything (no network), else from the package index.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fresh_env import make_venv, venv_env

if TYPE_CHECKING:
    from cl_local_server.server import LocalServer

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "cl-plugin-example"

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new environment with cl-client, cl-local-server, cl-plugin-example and pytest."""
    packages = [str(REPO / "core"), str(REPO / "plugins" / "local_server"), str(EXAMPLE)]
    return make_venv(
        tmp_path_factory.mktemp("example-plugin"), [*packages, "pytest>=8", "pytest-timeout>=2.3"]
    )


def _cl(
    venv: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / "cl"), *args],
        capture_output=True,
        text=True,
        env=venv_env(venv, env),
        timeout=60,
        check=False,
    )


def test_cl_plugins_lists_the_example_and_nothing_else(venv: Path) -> None:
    listed = _cl(venv, "plugins", "--json")
    assert listed.returncode == 0, listed.stderr
    plugins = {entry["distribution"]: entry for entry in json.loads(listed.stdout)}
    assert set(plugins) == {"cl-local-server", "cl-plugin-example"}
    example = plugins["cl-plugin-example"]
    assert example["commands"] == ["example"]
    assert example["version"] == "0.1.0"
    assert example["error"] is None


def test_cl_help_shows_the_example_command(venv: Path) -> None:
    shown = _cl(venv, "--help")
    assert shown.returncode == 0, shown.stderr
    lines = [line.split() for line in shown.stdout.splitlines()]
    assert any(words[:2] == ["example", "Example"] for words in lines), shown.stdout
    sub = _cl(venv, "example", "fingerprint", "--help")
    assert sub.returncode == 0, sub.stderr
    assert "--jobs" in sub.stdout
    assert "--timeout" in sub.stdout


def test_fingerprint_end_to_end_against_a_local_server(
    venv: Path, cl_server: LocalServer, tmp_path: Path
) -> None:
    original = tmp_path / "original.dat"
    original.write_bytes(b"example plugin payload\n" * 100)
    duplicate = tmp_path / "duplicate.dat"
    duplicate.write_bytes(original.read_bytes())
    other = tmp_path / "other.dat"
    other.write_bytes(b"something else\n")

    result = _cl(
        venv,
        "example",
        "duplicates",
        str(original),
        str(duplicate),
        str(other),
        "--json",
        env=cl_server.client_env(),
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    expected = {
        str(path): hashlib.md5(path.read_bytes()).hexdigest()  # noqa: S324 - the server's md5
        for path in (original, duplicate, other)
    }
    assert {entry["file"]: entry["md5"] for entry in report["files"]} == expected
    assert report["duplicates"] == [[str(original), str(duplicate)]]

    human = _cl(
        venv, "example", "duplicates", str(original), str(duplicate), env=cl_server.client_env()
    )
    assert human.returncode == 0, human.stderr
    md5 = expected[str(original)]
    assert f"{md5[:4]}-{md5[4:8]}-{md5[8:12]}  2" in human.stdout

    # The task command on the core's frame: a folder in, one JSON line per file out.
    lines = _cl(
        venv, "example", "fingerprint", str(tmp_path), "--jsonl", env=cl_server.client_env()
    )
    assert lines.returncode == 0, lines.stderr
    got = {r["input"]: r["result"]["md5"] for r in map(json.loads, lines.stdout.splitlines())}
    assert {k: v for k, v in got.items() if k in expected} == expected


def test_the_examples_own_tests_pass_in_that_environment(venv: Path) -> None:
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=EXAMPLE,
        capture_output=True,
        text=True,
        env=venv_env(venv),
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary
    assert "failed" not in summary
    assert "error" not in summary
