"""CONTRIBUTING.md's path for a plugin author works as written, from a clean folder outside the
workspace: the guide's pyproject.toml (cl-client and cl-local-server taken from a clone, as they
are not on the package index), its commands, and the wheel check of "Publishing".

The plugin's code is the example plugin's, copied as the guide suggests; its pyproject.toml is
replaced by the guide's.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GUIDE = REPO / "CONTRIBUTING.md"

pytestmark = pytest.mark.timeout(600)


def _section(title: str) -> str:
    text = GUIDE.read_text(encoding="utf-8")
    start = text.index(f"\n### {title}\n")
    end = text.find("\n### ", start + 1)
    return text[start : end if end > 0 else None]


def _blocks(section: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", section, flags=re.DOTALL)


def _env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CL_", "UV_PROJECT", "VIRTUAL_ENV")) and k != "PYTHONPATH"
    }
    env["UV_PYTHON"] = sys.executable
    return env


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{shlex.join(cmd)} in {cwd}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def test_the_guides_plugin_path_works_from_a_clone(tmp_path: Path) -> None:
    uv = shutil.which("uv")
    assert uv is not None, "uv is needed (scripts/_uv.sh installs it)"
    work = tmp_path / "work"
    work.mkdir()
    (work / "cl").symlink_to(REPO)  # the author's clone of the repository
    plugin = work / "cl-plugin-example"
    shutil.copytree(
        REPO / "examples" / "cl-plugin-example",
        plugin,
        ignore=shutil.ignore_patterns(".venv", "dist", "__pycache__", "uv.lock"),
    )
    [pyproject] = _blocks(_section("pyproject.toml"), "toml")
    (plugin / "pyproject.toml").write_text(pyproject)
    env = _env()
    env["CL_CONFIG_DIR"] = str(tmp_path / "config")
    env["CL_STATE_DIR"] = str(tmp_path / "state")

    [commands] = _blocks(_section("Working on a plugin from a clone"), "console")
    ran = []
    for line in commands.splitlines():
        if not line.strip():
            continue
        args = shlex.split(line)
        assert args[0] == "uv"
        proc = _run([uv, *args[1:]], plugin, env)
        ran.append(args)
        if args[1:3] == ["run", "cl"]:
            listed = _run([uv, "run", "cl", "plugins", "--json"], plugin, env)
            docs = {d["name"]: d for d in json.loads(listed.stdout)}
            assert docs["example"]["error"] is None
            assert docs["example"]["missing_targets"] == []
            assert "example" in proc.stdout
    assert ["uv", "run", "pytest"] in ran

    # Publishing, step 3: the wheel in a fresh environment, cl-client from the clone.
    _run([uv, "build", "--wheel", "--out-dir", str(plugin / "dist")], plugin, env)
    [wheel] = (plugin / "dist").glob("cl_plugin_example-*.whl")
    fresh = tmp_path / "try"
    _run([uv, "venv", "--quiet", str(fresh)], tmp_path, env)
    _run(
        [
            uv,
            "pip",
            "install",
            "--python",
            str(fresh / "bin" / "python"),
            str(work / "cl" / "core"),
            str(wheel),
        ],
        plugin,
        env,
    )
    listed = _run([str(fresh / "bin" / "cl"), "plugins", "--json"], tmp_path, env)
    assert [d["name"] for d in json.loads(listed.stdout)] == ["example"]
    helped = _run([str(fresh / "bin" / "cl"), "--help"], tmp_path, env)
    assert re.search(r"^\s+example\s", helped.stdout, re.MULTILINE)
