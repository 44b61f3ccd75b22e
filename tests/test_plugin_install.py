"""A plugin appears in `cl` when its distribution is installed and vanishes cleanly when removed.

Builds a fresh virtual environment holding only the core and one plugin, so nothing else in the
workspace can make the test pass by accident.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fresh_env import uv_path

REPO = Path(__file__).resolve().parents[1]


def _cl(venv: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CL_")}
    env["CL_CONFIG_DIR"] = str(venv / "config")
    env["CL_STATE_DIR"] = str(venv / "state")
    return subprocess.run(
        [str(venv / "bin" / "cl"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.mark.timeout(300)
def test_plugin_appears_when_installed_and_vanishes_when_uninstalled(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    uv = uv_path()
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    install = [uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python")]
    subprocess.run(
        [*install, "-e", str(REPO / "core"), "-e", str(REPO / "plugins" / "hash")], check=True
    )

    with_hash = _cl(venv, "--help")
    assert with_hash.returncode == 0, with_hash.stderr
    assert "hash" in with_hash.stdout
    assert "exif" not in with_hash.stdout  # only what is installed shows up
    listed = _cl(venv, "plugins", "--json")
    assert listed.returncode == 0, listed.stderr
    assert "cl-plugin-hash" in json.dumps(json.loads(listed.stdout))

    subprocess.run(
        [
            uv,
            "pip",
            "uninstall",
            "--quiet",
            "--python",
            str(venv / "bin" / "python"),
            "cl-plugin-hash",
        ],
        check=True,
    )
    without = _cl(venv, "--help")
    assert without.returncode == 0, without.stderr
    assert "Warning" not in without.stderr and "warning" not in without.stderr
    gone = _cl(venv, "hash", "--help")
    assert gone.returncode == 2
    listed_after = _cl(venv, "plugins", "--json")
    assert "cl-plugin-hash" not in listed_after.stdout


PLUGINS = {
    # command group -> (distribution, task type or None)
    "clip-embedding": ("cl-plugin-clip-embedding", "clip_embedding"),
    "dino-embedding": ("cl-plugin-dino-embedding", "dino_embedding"),
    "exif": ("cl-plugin-exif", "exif"),
    "face-detection": ("cl-plugin-face-detection", "face_detection"),
    "face-embedding": ("cl-plugin-face-embedding", "face_embedding"),
    "hash": ("cl-plugin-hash", "hash"),
    "hls-streaming": ("cl-plugin-hls-streaming", "hls_streaming"),
    "image-conversion": ("cl-plugin-image-conversion", "image_conversion"),
    "media-thumbnail": ("cl-plugin-media-thumbnail", "media_thumbnail"),
    "user": ("cl-plugin-user-admin", None),
    "server": ("cl-local-server", None),
}


def test_every_workspace_plugin_is_listed_with_its_commands_and_task_client() -> None:
    """In an environment with every plugin installed (tox env `cross`), each shows up in
    `cl --help` and in `cl plugins --json` with its command and task client, and none failed."""
    from cl_client.cli.app import app
    from typer.testing import CliRunner

    runner = CliRunner()
    helped = runner.invoke(app, ["--help"])
    assert helped.exit_code == 0, helped.output
    listed = runner.invoke(app, ["plugins", "--json"])
    assert listed.exit_code == 0, listed.output
    infos = {info["distribution"]: info for info in json.loads(listed.stdout)}
    for command, (distribution, task_type) in PLUGINS.items():
        assert f"  {command} " in helped.stdout, command
        info = infos[distribution]
        assert info["error"] is None, info
        assert command in info["commands"]
        if task_type is not None:
            assert task_type in info["task_clients"]
