"""The library examples in README.md run as printed: the first against a server that needs a
login, the batch example against the built-in ``local`` profile."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from cl_local_server.server import LocalServer

REPO = Path(__file__).resolve().parents[1]


def readme_example(marker: str = "") -> str:
    """The first python block of README.md (holding ``marker``)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL) if marker in b]
    assert blocks, f"README.md has no python example with {marker!r}"
    return blocks[0]


def isolated_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """This environment without any CL_* setting, config and state in ``tmp_path``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CL_")}
    env.update(
        CL_CONFIG_DIR=str(tmp_path / "config"), CL_STATE_DIR=str(tmp_path / "state"), **settings
    )
    return env


def run_example(
    code: str, tmp_path: Path, env: dict[str, str], cwd: Path = REPO
) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "example.py"
    script.write_text(code, encoding="utf-8")
    return subprocess.run(
        [sys.executable, str(script)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )


@pytest.mark.timeout(120)
def test_readme_library_example_logs_in_hashes_and_prints(
    cl_server_jwt: LocalServer, tmp_path: Path
) -> None:
    info = cl_server_jwt.info
    env = isolated_env(
        tmp_path,
        **cl_server_jwt.client_env(),
        CL_PROFILE="default",
        CL_USERNAME=info.admin_username,
        CL_PASSWORD=str(info.admin_password),
    )
    run = run_example(readme_example(), tmp_path, env)
    assert run.returncode == 0, run.stderr
    photo = (REPO / "examples" / "media" / "astronaut.jpg").read_bytes()
    md5 = hashlib.md5(photo, usedforsecurity=False).hexdigest()
    assert run.stdout.startswith("completed ")
    assert md5 in run.stdout
    # The login's token was stored for later runs, owner-only.
    token_files = list((tmp_path / "state").rglob("*.json"))
    assert token_files
    assert all(p.stat().st_mode & 0o077 == 0 for p in token_files)


@pytest.mark.timeout(120)
def test_readme_library_example_runs_for_a_user_who_ran_cl_login(
    cl_server_jwt: LocalServer, tmp_path: Path
) -> None:
    """The commonest user: `cl login` once, no CL_PASSWORD in the environment."""
    info = cl_server_jwt.info
    env = isolated_env(tmp_path, **cl_server_jwt.client_env(), CL_PROFILE="default")
    cl = Path(sys.executable).parent / "cl"
    login = subprocess.run(
        [str(cl), "login", "--username", info.admin_username, "--password-stdin"],
        input=f"{info.admin_password}\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert login.returncode == 0, login.stderr
    run = run_example(readme_example(), tmp_path, env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("completed ")


@pytest.mark.timeout(180)
def test_readme_batch_example_hashes_a_folder_and_resumes(tmp_path: Path) -> None:
    """The batch example, as printed, twice: the second run skips what the first saved."""
    example = readme_example("Batch(")
    env = isolated_env(tmp_path, CL_LOCAL_SERVER_DATA_DIR=str(tmp_path / "local-server"))
    work = tmp_path / "work"
    work.mkdir()
    (work / "examples").symlink_to(REPO / "examples")

    def run() -> list[str]:
        done = run_example(example, tmp_path, env, cwd=work)
        assert done.returncode == 0, done.stderr
        return done.stdout.splitlines()

    first = run()
    photo = REPO / "examples" / "media" / "astronaut.jpg"
    md5 = hashlib.md5(photo.read_bytes(), usedforsecurity=False).hexdigest()
    assert f"{photo.relative_to(REPO)} {md5}" in first
    assert (work / "hashes" / "astronaut.jpg.hash.json").is_file()
    assert first[-1] == "1 done, 0 skipped"
    assert run()[-1] == "0 done, 1 skipped"  # resumed from the journal: nothing submitted
