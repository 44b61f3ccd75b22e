"""The developer scripts: their `uv sync` leaves alone what a user added to the environment, and a
missing mosquitto shows as skipped tests with the reason."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.timeout(600)


def _wheel(folder: Path) -> Path:
    """A tiny wheel of a distribution that is not part of the workspace."""
    name, version = "cl_extra_by_user", "1.0"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": "VALUE = 1\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: cl-extra-by-user\nVersion: {version}\n",
        f"{info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = "".join(f"{path},,\n" for path in files) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
        archive.writestr(f"{info}/RECORD", record)
    return wheel


def test_the_scripts_sync_keeps_a_package_the_user_installed(tmp_path: Path) -> None:
    uv = shutil.which("uv")
    assert uv is not None, "uv is needed (scripts/_uv.sh installs it)"
    venv = tmp_path / "venv"
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv)}
    env.pop("VIRTUAL_ENV", None)

    def sync() -> None:
        # What scripts/test and scripts/demo run, in an environment of the test's own.
        proc = subprocess.run(
            ["sh", "-c", ". scripts/_uv.sh && sync_workspace", "scripts/test"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr

    sync()
    python = venv / "bin" / "python"
    subprocess.run(
        [uv, "pip", "install", "--python", str(python), str(_wheel(tmp_path))],
        env=env,
        capture_output=True,
        check=True,
    )
    sync()
    check = subprocess.run(
        [str(python), "-c", "import cl_extra_by_user, cl_client; print(cl_extra_by_user.VALUE)"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.stdout.strip() == "1", check.stderr
    for script in ("scripts/test", "scripts/demo"):
        text = (REPO / script).read_text()
        assert "sync_workspace" in text, script
        assert "uv sync" not in text, f"{script} syncs in its own way"


def test_a_missing_mosquitto_is_reported_as_skipped(tmp_path: Path) -> None:
    test = tmp_path / "test_brokers.py"
    test.write_text("def test_each_broker(cl_broker):\n    assert cl_broker\n")
    no_mosquitto = os.pathsep.join(
        d
        for d in os.environ.get("PATH", "").split(os.pathsep)
        if d and not Path(d, "mosquitto").exists()
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(test), "-rs", "-p", "no:cacheprovider", "-q"],
        cwd=tmp_path,
        env={**os.environ, "PATH": no_mosquitto},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed, 1 skipped" in proc.stdout
    assert "mosquitto is not installed" in proc.stdout
