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
from typing import TYPE_CHECKING, Any

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


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            assert proc.wait(20) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


FREE_PORTS = ["--port-auth", "0", "--port-compute", "0", "--port-mqtt", "0"]


def test_cli_keeps_a_generated_password_in_a_private_file_until_it_is_changed(
    tmp_path: Path,
) -> None:
    args = ["run", "--data-dir", str(tmp_path), *FREE_PORTS]
    env = {"CL_SERVER_ADMIN_PASSWORD": ""}
    secret = tmp_path / "admin-password"
    proc, lines = _start_cli(args, env)
    try:
        said = [k for k in lines if "generated password" in k]
        assert said == [
            f"admin user 'admin' created with a generated password, kept in {secret}"
            " (readable only by you) until it is changed"
        ], lines
        assert secret.stat().st_mode & 0o777 == 0o600
        password = secret.read_text().strip()
        assert password and password not in "".join(f"{k}:{v}" for k, v in lines.items())
        token = httpx.post(
            lines["auth"] + "/auth/token", data={"username": "admin", "password": password}
        ).json()["access_token"]
    finally:
        _stop(proc)

    # Still there at the next start, and the start says so; changing the password removes it.
    proc, lines = _start_cli(args, env)
    try:
        assert any(f"was created with a generated password, kept in {secret}" in k for k in lines)
        headers = {"Authorization": f"Bearer {token}"}
        me = httpx.get(lines["auth"] + "/users/me", headers=headers).json()
        changed = httpx.put(
            f"{lines['auth']}/users/{me['id']}", data={"password": "chosen"}, headers=headers
        )
        assert changed.status_code == 200, changed.text
        assert not secret.exists()
    finally:
        _stop(proc)
    proc, lines = _start_cli(args, env)
    try:
        assert not any("generated password" in k for k in lines), lines
    finally:
        _stop(proc)


@pytest.mark.parametrize("service", ["auth", "compute", "mqtt"])
def test_cli_run_on_a_busy_port_fails_in_one_line_and_creates_nothing(
    tmp_path: Path, service: str
) -> None:
    first, lines = _start_cli(["run", "--data-dir", str(tmp_path / "first"), *FREE_PORTS], {})
    try:
        port = lines[service].rsplit(":", 1)[1]
        second_dir = tmp_path / "second"
        cli = [sys.executable, "-c", "from cl_local_server.cli import main; main()"]
        # The later --port option wins.
        args = ["run", "--data-dir", str(second_dir), *FREE_PORTS, f"--port-{service}", port]
        second = subprocess.run(
            [*cli, *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "CL_SERVER_ADMIN_PASSWORD": ""},
        )
        name = "MQTT" if service == "mqtt" else service
        assert second.returncode == 5
        assert second.stderr.splitlines() == [
            f"error: cannot start the server: {name} port {port} is already in use"
            f" (127.0.0.1:{port})"
        ]
        assert second.stdout == ""
        # Nothing was created: no keys, no users, so no admin whose password nobody knows.
        assert sorted(p.name for p in second_dir.iterdir()) == ["server.lock"]
        # The first server is unharmed.
        assert httpx.get(lines["compute"] + "/").status_code == 200
    finally:
        _stop(first)


def test_cli_info_describes_the_local_profile_folder_too(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    media_path: Callable[[str], Path],
) -> None:
    embedded = tmp_path / "embedded"
    monkeypatch.setenv(plugin.DATA_DIR_ENV, str(embedded))
    monkeypatch.setenv("CL_SERVER_DATA_DIR", str(tmp_path / "run"))
    monkeypatch.delenv(plugin.RETENTION_ENV, raising=False)
    launched = plugin.cl_launch("local-server", FakeSettings())  # type: ignore[arg-type]
    assert launched is not None
    with launched as settings:
        httpx.post(
            settings.compute_url + "/jobs/hash",
            files={"file": ("c.jpg", media_path("coffee.jpg").read_bytes())},
        ).raise_for_status()
    result = CliRunner().invoke(app, ["info"])
    assert result.exit_code == 0, result.output
    size = sum(f.stat().st_size for f in (embedded / "compute" / "jobs").rglob("*") if f.is_file())
    assert size > 0
    lines = [" ".join(line.split()) for line in result.output.splitlines()]  # alignment aside
    assert lines[:2] == ["cl server run:", f"data dir: {tmp_path / 'run'} (not created yet)"]
    local = lines[lines.index("local profile (cl -p local):") + 1 :]
    assert local[0] == f"data dir: {embedded}"
    assert local[2] == f"jobs: 1 ({size / 1000:.1f} KB)"
    assert local[-1] == (
        "retention: finished jobs are deleted 7 days after they end"
        f" ({plugin.RETENTION_ENV}; folder: {plugin.DATA_DIR_ENV})"
    )

    monkeypatch.setenv(plugin.RETENTION_ENV, "soon")
    result = CliRunner().invoke(app, ["info"])
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        f"error: {plugin.RETENTION_ENV} must be a number of days above 0, not 'soon'"
    ]


def test_launcher_says_how_long_jobs_are_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(plugin.DATA_DIR_ENV, str(tmp_path / "embedded"))
    monkeypatch.setenv(plugin.RETENTION_ENV, "2.5")
    launched = plugin.cl_launch("local-server", FakeSettings())  # type: ignore[arg-type]
    assert launched is not None
    with launched as settings:
        assert settings.compute_url.startswith("http://127.0.0.1:")
    err = capsys.readouterr().err
    assert f"(data in {tmp_path / 'embedded'}; finished jobs are kept 2.5 days)" in err


# --- executors for a plugin's own task type ---------------------------------------------------

WORD_COUNT_MODULE = """
import json


def word_count(ctx):
    words = len(ctx.input_path.read_text().split())
    ctx.output_path.mkdir(parents=True, exist_ok=True)
    (ctx.output_path / "count.json").write_text(json.dumps({"words": words}))
    return {"words": words}
"""


def _word_count_site(root: Path, *, entry_points: str | None) -> Path:
    """A folder to put on the path holding ``cl_test_word_count.word_count`` and, with
    ``entry_points``, an installed distribution declaring them."""
    root.mkdir(parents=True)
    (root / "cl_test_word_count.py").write_text(WORD_COUNT_MODULE)
    if entry_points is not None:
        dist = root / "cl_test_word_count-0.1.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text(
            "Metadata-Version: 2.1\nName: cl-test-word-count\nVersion: 0.1\n"
        )
        (dist / "entry_points.txt").write_text(f"[cl_local_server.executors]\n{entry_points}")
    return root


def _count_words(compute_url: str, text: str) -> dict[str, Any]:
    with httpx.Client(base_url=compute_url, timeout=30) as http:
        assert http.get("/capabilities").json()["capabilities"].get("word_count") == 2
        response = http.post("/jobs/word_count", files={"file": ("t.txt", text.encode())})
        assert response.status_code == 200, response.text
        job_id = response.json()["job_id"]
        deadline = time.monotonic() + 30
        while (job := http.get(f"/jobs/{job_id}").json())["status"] not in ("completed", "error"):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert job["status"] == "completed", job
        saved = http.get(f"/jobs/{job_id}/files/output/count.json").json()
        assert saved == job["task_output"]
        return job


def test_cli_run_with_an_executor_option_runs_a_new_task_type(tmp_path: Path) -> None:
    site = _word_count_site(tmp_path / "site", entry_points=None)
    args = ["run", "--data-dir", str(tmp_path / "data"), *FREE_PORTS, "--no-auth"]
    proc, lines = _start_cli(
        [*args, "--executor", "word_count=cl_test_word_count:word_count"],
        {"PYTHONPATH": str(site)},
    )
    try:
        assert "word_count" in lines["tasks"].split(", ")
        job = _count_words(lines["compute"], "three little words")
        assert job["task_output"] == {"words": 3} and job["params"]["output_path"] == "output"
    finally:
        _stop(proc)


def test_cli_run_loads_executors_from_entry_points_and_reports_broken_ones(
    tmp_path: Path,
) -> None:
    site = _word_count_site(
        tmp_path / "site",
        entry_points="word_count = cl_test_word_count:word_count\nbroken = cl_test_gone:run\n",
    )
    cli = [sys.executable, "-c", "from cl_local_server.cli import main; main()"]
    proc = subprocess.Popen(
        [*cli, "run", "--data-dir", str(tmp_path / "data"), *FREE_PORTS, "--no-auth"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(site)},
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        compute = ""
        for line in iter(proc.stdout.readline, ""):
            key, _, value = line.partition(":")
            if key == "compute":
                compute = value.strip()
            if line.startswith("ready"):
                break
        assert compute
        assert proc.stderr.readline().strip() == (
            "warning: executor for 'broken' from cl-test-word-count not loaded:"
            " cannot import 'cl_test_gone': No module named 'cl_test_gone'"
        )
        assert _count_words(compute, "one two")["task_output"] == {"words": 2}
    finally:
        _stop(proc)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("word_count", "'word_count' is not of the form TYPE=MODULE:FUNCTION"),
        (
            "word_count=cl_test_word_count",
            "'cl_test_word_count' is not of the form module:function",
        ),
        (
            "word_count=cl_test_nowhere:run",
            "cannot import 'cl_test_nowhere': No module named 'cl_test_nowhere'",
        ),
        ("word_count=cl_test_word_count:nothing", "module 'cl_test_word_count' has no 'nothing'"),
        ("word_count=cl_test_word_count:json", "cl_test_word_count:json is not a function"),
        ("a/b=cl_test_word_count:word_count", "invalid task type 'a/b'"),
    ],
)
def test_cli_run_refuses_a_bad_executor_option_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spec: str, message: str
) -> None:
    monkeypatch.syspath_prepend(str(_word_count_site(tmp_path / "site", entry_points=None)))
    args = ["run", "--data-dir", str(tmp_path / "data"), *FREE_PORTS, "--executor", spec]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert result.output.splitlines() == [f"error: --executor: {message}"]
    assert not (tmp_path / "data").exists()  # refused before anything started


def test_fixture_servers_run_entry_point_and_named_executors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cl_server_factory: ServerFactory
) -> None:
    site = _word_count_site(
        tmp_path / "site", entry_points="word_count = cl_test_word_count:word_count\n"
    )
    monkeypatch.syspath_prepend(str(site))
    server = cl_server_factory.start()
    assert _count_words(server.info.compute_url, "a b c d")["task_output"] == {"words": 4}
    named = cl_server_factory.start(
        executors={"word_count": None, "words": "cl_test_word_count:word_count"}
    )
    assert "word_count" not in named.registry and "words" in named.registry
