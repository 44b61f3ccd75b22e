"""The console command, the ``cl`` plugin hooks and the launcher (run without the ``cl`` client)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from cl_local_server import plugin
from cl_local_server.cli import app
from typer.testing import CliRunner

if TYPE_CHECKING:
    from cl_local_server.pytest_plugin import ServerFactory

pytestmark = pytest.mark.timeout(60)

HEAVY = ("httpx", "paho", "numpy", "PIL", "cv2", "starlette", "uvicorn", "amqtt")


def test_light_modules_import_nothing_heavy() -> None:
    code = (
        "import sys, json\n"
        "import cl_local_server, cl_local_server.plugin, cl_local_server.cli\n"
        "import cl_local_server.pytest_plugin\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_register_hooks() -> None:
    commands: list[tuple[str, str, str]] = []
    plugin.cl_register_commands(
        lambda name, target, *, help, panel=None: commands.append((name, target, help))
    )
    assert [(n, t) for n, t, _h in commands] == [("server", "cl_local_server.cli:app")]
    profiles: dict[str, object] = {}
    plugin.cl_register_profiles(lambda name, profile: profiles.__setitem__(name, profile))
    local = profiles["local"]
    assert getattr(local, "auth_mode") == "none" and getattr(local, "launcher") == "local-server"  # noqa: B009


@dataclass(frozen=True)
class FakeSettings:
    """Stands in for the core's Settings: the launcher only reads and replaces these fields."""

    profile: str = "local"
    auth_url: str = "http://localhost:8000"
    compute_url: str = "http://localhost:8002"
    mqtt_url: str = "mqtt://localhost:1883"
    auth_mode: str = "none"
    events_topic: str = "inference/events"
    workers_topic: str = "inference/workers"
    launcher: str | None = "local-server"


def test_launcher(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    media_path: Callable[[str], Path],
) -> None:
    monkeypatch.setenv(plugin.DATA_DIR_ENV, str(tmp_path / "embedded"))
    assert plugin.cl_launch("something-else", FakeSettings()) is None  # type: ignore[arg-type]
    launched = plugin.cl_launch("local-server", FakeSettings())  # type: ignore[arg-type]
    assert launched is not None
    with launched as settings:
        assert settings.compute_url != FakeSettings.compute_url and settings.auth_mode == "none"
        health = httpx.get(settings.compute_url + "/").json()
        assert health["guestMode"] == "on"
        assert httpx.get(settings.auth_url + "/").status_code == 200
        assert settings.mqtt_url.startswith("mqtt://127.0.0.1:")
        r = httpx.post(
            settings.compute_url + "/jobs/hash",
            files={"file": ("c.jpg", media_path("coffee.jpg").read_bytes())},
        )
        job_id = r.json()["job_id"]
        compute_url = settings.compute_url
    # the exit waited for the job; the server is gone
    with pytest.raises(httpx.ConnectError):
        httpx.get(compute_url + "/")
    captured = capsys.readouterr()
    assert captured.out == "" and "local server" in captured.err
    # jobs persist for the next command's server
    again = plugin.cl_launch("local-server", FakeSettings())  # type: ignore[arg-type]
    assert again is not None
    with again as settings:
        job = httpx.get(f"{settings.compute_url}/jobs/{job_id}").json()
        assert job["status"] == "completed"


def test_cli_info_and_reset(tmp_path: Path) -> None:
    runner = CliRunner()
    data = tmp_path / "data"
    result = runner.invoke(app, ["info", "--data-dir", str(data)])
    assert result.exit_code == 0 and "not created yet" in result.output
    (data / "keys").mkdir(parents=True)
    result = runner.invoke(app, ["reset", "--data-dir", str(data)], input="n\n")
    assert result.exit_code != 0 and data.exists()
    result = runner.invoke(app, ["reset", "--data-dir", str(data), "--yes"])
    assert result.exit_code == 0 and not data.exists()
    result = runner.invoke(app, ["run", "--compat", "ancient", "--data-dir", str(data)])
    assert result.exit_code != 0


def test_reset_refuses_a_data_dir_a_running_server_holds(
    cl_server_factory: ServerFactory, tmp_path: Path
) -> None:
    data = tmp_path / "held"
    server = cl_server_factory.start(data_dir=data)
    runner = CliRunner()
    refused = runner.invoke(app, ["reset", "--data-dir", str(data), "--yes"])
    assert refused.exit_code == 2
    assert "a local server is running on it" in refused.output
    assert (data / "keys").is_dir()
    # no terminal and no --yes: nothing is deleted either
    asked = runner.invoke(app, ["reset", "--data-dir", str(data)])
    assert asked.exit_code == 2 and "no terminal to ask on — pass --yes" in asked.output
    server.stop()
    done = runner.invoke(app, ["reset", "--data-dir", str(data), "--yes"])
    assert done.exit_code == 0, done.output
    assert not data.exists()


def _start_cli(
    args: list[str], env: dict[str, str]
) -> tuple[subprocess.Popen[str], dict[str, str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", "from cl_local_server.cli import main; main()", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **env},
    )
    assert proc.stdout is not None
    lines: dict[str, str] = {}
    deadline = time.monotonic() + 30
    for line in proc.stdout:
        key, _, value = line.partition(":")
        lines[key.strip()] = value.strip()
        if line.startswith("ready") or time.monotonic() > deadline:
            break
    assert "ready" in "".join(lines), lines
    return proc, lines


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_cli_run_foreground(tmp_path: Path, sig: signal.Signals) -> None:
    args = [
        "run",
        "--data-dir",
        str(tmp_path),
        "--port-auth",
        "0",
        "--port-compute",
        "0",
        "--port-mqtt",
        "0",
    ]
    proc, lines = _start_cli(args, {"CL_SERVER_ADMIN_PASSWORD": "from-env"})
    try:
        assert httpx.get(lines["compute"] + "/").json()["guestMode"] == "off"
        r = httpx.post(
            lines["auth"] + "/auth/token", data={"username": "admin", "password": "from-env"}
        )
        assert r.status_code == 200
        assert "created with password" not in "".join(lines)  # a given password is not echoed
        proc.send_signal(sig)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with pytest.raises(httpx.ConnectError):
        httpx.get(lines["compute"] + "/")


def test_cli_prints_generated_password_once(tmp_path: Path) -> None:
    args = [
        "run",
        "--data-dir",
        str(tmp_path),
        "--port-auth",
        "0",
        "--port-compute",
        "0",
        "--port-mqtt",
        "0",
        "--no-auth",
    ]
    env = {"CL_SERVER_ADMIN_PASSWORD": ""}
    for round_ in range(2):
        proc, lines = _start_cli(args, env)
        try:
            generated = [v for k, v in lines.items() if "created with password" in k]
            assert bool(generated) == (round_ == 0), lines
            assert httpx.get(lines["compute"] + "/").json()["guestMode"] == "on"
            proc.send_signal(signal.SIGINT)
            assert proc.wait(20) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
