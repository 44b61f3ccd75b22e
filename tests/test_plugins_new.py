"""``cl plugins new``: the package it writes installs into a fresh environment (with this
repository's core and local server, through the package's own ``[tool.uv.sources]``), shows in
``cl plugins`` and ``cl --help``, runs against a local server, and its own tests pass unchanged.
(The refusals are tested in core/tests/cli/test_cli_plugins_new.py.)"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cl_client.cli.app import app
from fresh_env import uv_path
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[1]


def _new(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["plugins", "new", *args])
    return result.exit_code, result.stdout, result.stderr


def _env(home: Path, venv: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CL_", "UV_PROJECT")) and k not in ("VIRTUAL_ENV", "PYTHONPATH")
    }
    env["PATH"] = os.pathsep.join([str(venv / "bin"), str(Path(uv_path()).parent), env["PATH"]])
    env["CL_CONFIG_DIR"] = str(home / "config")
    env["CL_STATE_DIR"] = str(home / "state")
    env["CL_LOCAL_SERVER_DATA_DIR"] = str(home / "local-server")  # the `local` profile's data
    return env


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=540, check=False
    )


@pytest.mark.timeout(600)
def test_a_new_plugin_installs_runs_and_passes_its_own_tests(tmp_path: Path) -> None:
    uv = uv_path()
    own = tmp_path / "cl-plugin-word-count"
    served = tmp_path / "cl-plugin-md5sum"
    code, _, stderr = _new("word-count", "--dir", str(own))
    assert code == 0, stderr
    code, _, stderr = _new("md5sum", "--task", "hash", "--dir", str(served))
    assert code == 0, stderr
    assert (own / "src" / "cl_plugin_word_count" / "executor.py").is_file()
    assert not (served / "src" / "cl_plugin_md5sum" / "executor.py").exists()  # hash is served
    pyproject = (own / "pyproject.toml").read_text()
    assert '"cl_local_server.executors"' in pyproject
    assert "cl_local_server.executors" not in (served / "pyproject.toml").read_text()

    venv = tmp_path / "venv"
    env = _env(tmp_path, venv)
    made = _run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], tmp_path, env)
    assert made.returncode == 0, made.stderr
    # cl-client and cl-local-server come from the packages' [tool.uv.sources] (this checkout).
    install = [uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python")]
    packages = ["-e", str(own), "-e", str(served), "--group", f"{own / 'pyproject.toml'}:test"]
    installed = _run([*install, "--offline", *packages], tmp_path, env)
    if installed.returncode != 0:  # something is not in uv's cache yet: fetch it
        installed = _run([*install, *packages], tmp_path, env)
    assert installed.returncode == 0, installed.stderr
    shown = _run(
        [str(venv / "bin" / "python"), "-c", "import cl_client; print(cl_client.__file__)"],
        tmp_path,
        env,
    )
    assert shown.stdout.startswith(str(REPO / "core")), shown.stdout

    cl = str(venv / "bin" / "cl")
    listed = _run([cl, "plugins", "--json"], tmp_path, env)
    assert listed.returncode == 0, listed.stderr
    docs = {doc["name"]: doc for doc in json.loads(listed.stdout)}
    for name, task in (("word-count", "word_count"), ("md5sum", "hash")):
        assert docs[name]["error"] is None
        assert docs[name]["commands"] == [name]
        assert docs[name]["task_clients"] == [task]
    helped = _run([cl, "--help"], tmp_path, env)
    assert helped.returncode == 0, helped.stderr
    assert re.search(r"^\s+word-count\s+Line, word and byte counts", helped.stdout, re.MULTILINE)
    assert re.search(r"^\s+md5sum\s", helped.stdout, re.MULTILINE)

    # Against a local server (launched by the `local` profile), which loads the executor.
    notes = tmp_path / "notes.txt"
    notes.write_text("one two three\nfour\n")
    counted = _run([cl, "-p", "local", "word-count", "run", str(notes), "--jsonl"], tmp_path, env)
    assert counted.returncode == 0, counted.stderr
    [record] = [json.loads(line) for line in counted.stdout.splitlines()]
    assert record["result"] == {"lines": 2, "words": 4, "bytes": len(notes.read_bytes())}

    for package in (own, served):
        pytest_cmd = [str(venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        tested = _run(pytest_cmd, package, env)
        assert tested.returncode == 0, f"{package.name}:\n{tested.stdout}\n{tested.stderr}"
        assert re.search(r"\b\d+ passed\b", tested.stdout), tested.stdout
        assert "skipped" not in tested.stdout
