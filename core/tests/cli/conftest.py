"""Fixtures of the ``cl`` command tests: isolated config, in-process and subprocess runs,
servers."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pytest
from cl_client.testing import ClRunner
from faultserver import FaultServer, Route

from . import echo_plugin

if TYPE_CHECKING:
    from cl_local_server.executors import Executor
    from cl_local_server.pytest_plugin import ClAgainst, ServerFactory
    from cl_local_server.server import LocalServer

REPO = Path(__file__).resolve().parents[3]
MEDIA = REPO.parent / "shared" / "media"

RunCl = ClRunner

#: The fields of a job record (PROTOCOL §4.4), all in every `--json` job document.
JOB_FIELDS = frozenset(
    {
        "job_id",
        "task_type",
        "status",
        "progress",
        "params",
        "task_output",
        "error_message",
        "priority",
        "created_at",
        "updated_at",
        "started_at",
        "completed_at",
    }
)


@dataclass
class Proc:
    returncode: int
    stdout: str
    stderr: str


RunSub = Callable[..., Proc]


@pytest.fixture
def isolated(cl_isolated: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``cl_isolated`` (no CL_* settings from outside, config and tokens in tmp), and no
    PYTHONPATH from outside either; the embedded server's data in tmp too."""
    monkeypatch.delenv("PYTHONPATH", raising=False)
    monkeypatch.setenv("CL_LOCAL_SERVER_DATA_DIR", str(cl_isolated / "local-server"))
    return cl_isolated


@pytest.fixture
def cl(isolated: Path) -> ClRunner:
    """``cl(*args, input=None, env=None)``: the real ``cl`` app run in-process (CliRunner)."""
    return ClRunner()


def cl_command(python_args: Sequence[str] = ()) -> list[str]:
    """The installed ``cl`` console script run by this Python (``-m cl_client.cli`` without one)."""
    script = Path(sys.executable).parent / "cl"
    target = [str(script)] if script.exists() else ["-m", "cl_client.cli"]
    return [sys.executable, *python_args, *target]


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The current environment (already isolated by the fixtures) plus ``extra``."""
    env = dict(os.environ)
    env.update(extra or {})
    return env


@pytest.fixture
def cl_sub(isolated: Path) -> RunSub:
    """``cl_sub(*args, env=None, input=None, timeout=60)``: ``cl`` in a subprocess."""

    def run(
        *args: str,
        env: Mapping[str, str] | None = None,
        input: str | None = None,
        timeout: float = 60,
        python_args: Sequence[str] = (),
    ) -> Proc:
        proc = subprocess.run(
            [*cl_command(python_args), *args],
            env=child_env(env),
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Proc(proc.returncode, proc.stdout, proc.stderr)

    return run


@pytest.fixture(scope="module")
def cl_module_executors() -> Mapping[str, Executor | None]:
    """The test servers run ``cli_echo`` besides the built-in executors (no embedding one)."""
    return {"cli_echo": echo_plugin.echo_executor}


@pytest.fixture(scope="module")
def server(cl_module_server: LocalServer) -> LocalServer:
    """A no-auth server (built-in executors plus ``cli_echo``), one per test module."""
    return cl_module_server


@pytest.fixture(scope="module")
def jwt_server(
    cl_module_server_factory: ServerFactory, cl_module_executors: Mapping[str, Executor | None]
) -> LocalServer:
    """A JWT server (guest mode off, admin ``admin`` / the fixture password), one per module."""
    return cl_module_server_factory.start(auth_mode="jwt", executors=cl_module_executors)


@pytest.fixture(scope="session")
def echo_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the test plugin ``cl echo-test`` (see echo_plugin.py)."""
    return echo_plugin.install(tmp_path_factory.mktemp("echo-site"))


@pytest.fixture
def echo(echo_site: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The test plugin installed for in-process runs (and on PYTHONPATH for subprocesses)."""
    monkeypatch.syspath_prepend(str(echo_site))  # pyright: ignore[reportUnknownMemberType]
    monkeypatch.setenv("PYTHONPATH", str(echo_site))
    import importlib

    return importlib.import_module(echo_plugin.MODULE)


@pytest.fixture
def server_env(server: LocalServer, isolated: Path, cl_against: ClAgainst) -> dict[str, str]:
    """Point ``cl`` (in-process and subprocesses) at the no-auth ``server``."""
    return cl_against(server).env


@pytest.fixture
def jwt_env(jwt_server: LocalServer, isolated: Path, cl_against: ClAgainst) -> dict[str, str]:
    """Point ``cl`` at the JWT ``jwt_server`` (not logged in)."""
    return cl_against(jwt_server).env


#: A broker nobody listens on and no login: with it a fault server plays the whole service.
OFFLINE = {"CL_MQTT_URL": "mqtt://127.0.0.1:9", "CL_NO_AUTH": "1"}


@pytest.fixture
def fault() -> Iterator[list[FaultServer]]:
    """``serve(fault, route)`` starts fault servers; every one is closed at teardown."""
    servers: list[FaultServer] = []
    yield servers
    for server in servers:
        server.close()


def serve(fault: list[FaultServer], route: Route) -> dict[str, str]:
    """Start a fault server for ``route``; the environment pointing ``cl`` at it."""
    server = FaultServer(route)
    fault.append(server)
    return {"CL_COMPUTE_URL": server.url, "CL_AUTH_URL": server.url, **OFFLINE}
