"""Each exit code of ``cl`` produced by a real case, in a real ``cl`` process.

0 success, 1 a job ended in error, 2 usage error, 3 authentication or permission error, 4 not
found, 5 server or network error, 130 interrupted. Every error is one line, never a traceback.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path
from types import ModuleType
from typing import IO, TYPE_CHECKING

import pytest

from .conftest import MEDIA, RunSub, child_env, cl_command

if TYPE_CHECKING:
    from cl_local_server.server import LocalServer

pytestmark = pytest.mark.timeout(120)


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def _echo(echo: ModuleType) -> None:
    """The test plugin is on PYTHONPATH of every ``cl`` started here."""


def test_exit_0_success(cl_sub: RunSub, server_env: dict[str, str]) -> None:
    proc = cl_sub("echo-test", "md5", str(MEDIA / "astronaut.jpg"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


def test_exit_1_a_job_ended_in_error(
    cl_sub: RunSub, server_env: dict[str, str], tmp_path: Path
) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("fail: the executor refuses this\n")
    proc = cl_sub("echo-test", "run", str(text))
    assert proc.returncode == 1
    line = _one_error_line(proc.stderr)
    assert "(cli_echo) failed: asked to fail" in line


def test_exit_2_usage_error(cl_sub: RunSub, server_env: dict[str, str], tmp_path: Path) -> None:
    missing = cl_sub("echo-test", "run", str(tmp_path / "nope.jpg"))
    assert missing.returncode == 2
    assert _one_error_line(missing.stderr) == f"error: file not found: {tmp_path / 'nope.jpg'}"
    bad_option = cl_sub("echo-test", "run", "--no-such-flag")
    assert bad_option.returncode == 2
    assert "Traceback" not in bad_option.stderr


def test_exit_3_authentication_error(cl_sub: RunSub, jwt_env: dict[str, str]) -> None:
    proc = cl_sub("echo-test", "run", str(MEDIA / "astronaut.jpg"))
    assert proc.returncode == 3
    line = _one_error_line(proc.stderr)
    assert "not authenticated" in line
    job = cl_sub("job", "get", str(uuid.uuid4()))
    assert job.returncode == 3


def test_exit_4_not_found(cl_sub: RunSub, server_env: dict[str, str]) -> None:
    job_id = str(uuid.uuid4())
    proc = cl_sub("job", "get", job_id)
    assert proc.returncode == 4
    assert job_id in _one_error_line(proc.stderr)


def test_exit_5_unreachable_server(cl_sub: RunSub, isolated: Path) -> None:
    port = _closed_port()
    proc = cl_sub(
        "--compute-url",
        f"http://127.0.0.1:{port}",
        "--mqtt-url",
        f"mqtt://127.0.0.1:{port}",
        "--no-auth",
        "echo-test",
        "run",
        str(MEDIA / "astronaut.jpg"),
    )
    assert proc.returncode == 5
    line = _one_error_line(proc.stderr)
    assert f"cannot reach compute service at http://127.0.0.1:{port}" in line


def test_exit_5_no_worker(cl_sub: RunSub, server_env: dict[str, str]) -> None:
    proc = cl_sub("echo-test", "run", "--absent", str(MEDIA / "astronaut.jpg"))
    assert proc.returncode == 5
    assert "no worker offers clip_embedding" in _one_error_line(proc.stderr)


def _wait_for_line(stream: IO[str], needle: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        seen += line
        if needle in line:
            return seen
    raise AssertionError(f"{needle!r} not seen; got: {seen!r}")


def _interrupt(args: list[str], ready: str) -> tuple[int, str]:
    proc = subprocess.Popen(
        [*cl_command(), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    try:
        assert proc.stderr is not None
        seen = _wait_for_line(proc.stderr, ready)
        proc.send_signal(signal.SIGINT)
        _, rest = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, seen + rest


def test_exit_130_interrupting_job_wait(server: LocalServer, server_env: dict[str, str]) -> None:
    # a clip_embedding job on a server without that executor stays queued for ever
    async def submit() -> str:
        from cl_client.client import Client

        async with Client() as client:
            created = await client.compute.submit("clip_embedding", MEDIA / "astronaut.jpg")
            return created.job_id

    job_id = asyncio.run(submit())
    code, stderr = _interrupt(["job", "wait", job_id], "waiting for 1 job(s)")
    assert code == 130, stderr
    assert "error: interrupted" in stderr
    assert "Traceback" not in stderr


def test_exit_130_interrupting_a_task_command(server_env: dict[str, str]) -> None:
    code, stderr = _interrupt(
        [
            "-v",
            "--no-capability-check",
            "echo-test",
            "run",
            "--absent",
            str(MEDIA / "astronaut.jpg"),
            "--timeout",
            "600",
        ],
        "submitted as job",
    )
    assert code == 130, stderr
    assert "error: interrupted" in stderr
    assert "1 still running on the server (see `cl job list`)" in stderr
    assert "run the same command again to resume" in stderr
    assert "Traceback" not in stderr
