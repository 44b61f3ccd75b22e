"""What the tests that build fresh virtual environments share."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def uv_path() -> str:
    """The ``uv`` on PATH; the test fails (never skips) without one."""
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("uv is needed to build a fresh environment (scripts/_uv.sh installs it)")
    return uv


def make_venv(home: Path, packages: list[str]) -> Path:
    """A new uv-made environment in ``home/venv`` holding ``packages`` (folders or
    requirements), installed from uv's cache when it has them, from the index otherwise. uv runs
    from ``home``, so the workspace's own uv settings play no part."""
    uv = uv_path()
    venv = home / "venv"
    subprocess.run(
        [uv, "venv", "--quiet", "--python", sys.executable, str(venv)], cwd=home, check=True
    )
    install = [uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), *packages]
    offline = subprocess.run([*install, "--offline"], cwd=home, capture_output=True, check=False)
    if offline.returncode != 0:  # something is not in uv's cache yet: fetch it
        subprocess.run(install, cwd=home, check=True)
    return venv


def venv_env(venv: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment for running ``venv``'s programs: no CL_* setting and nothing pointing at
    another Python; ``venv`` (and uv) first on PATH; config and state beside the venv."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CL_") and k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
    }
    env["PATH"] = os.pathsep.join([str(venv / "bin"), str(Path(uv_path()).parent), env["PATH"]])
    env["CL_CONFIG_DIR"] = str(venv.parent / "config")
    env["CL_STATE_DIR"] = str(venv.parent / "state")
    env.update(extra or {})
    return env
