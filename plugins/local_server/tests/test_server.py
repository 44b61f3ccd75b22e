"""``LocalServer`` itself: start/stop, context manager, client env, shutdown of running jobs."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from cl_local_server import LocalServer, ServerConfig
from cl_local_server.executors import TaskContext

if TYPE_CHECKING:
    from cl_local_server.pytest_plugin import ServerFactory
    from conftest import Api

pytestmark = pytest.mark.timeout(60)


def test_context_manager_and_info(tmp_path: Path) -> None:
    config = ServerConfig(
        auth_port=0,
        compute_port=0,
        mqtt_port=0,
        data_dir=tmp_path,
        auth_mode="none",
        bcrypt_rounds=4,
    )
    started = time.monotonic()
    with LocalServer(config) as server:
        assert time.monotonic() - started < 3
        info = server.info
        assert (
            info.data_dir == tmp_path
            and info.auth_mode == "none"
            and info.admin_username == "admin"
        )
        assert info.admin_password and info.admin_password_generated
        env = server.client_env()
        assert env == {
            "CL_AUTH_URL": info.auth_url,
            "CL_COMPUTE_URL": info.compute_url,
            "CL_MQTT_URL": info.mqtt_url,
            "CL_NO_AUTH": "1",
        }
        assert httpx.get(info.compute_url + "/").status_code == 200
        assert httpx.get(info.auth_url + "/").status_code == 200
        host, port = info.mqtt_url.removeprefix("mqtt://").rsplit(":", 1)
        socket.create_connection((host, int(port)), timeout=2).close()
    assert not server.running
    with pytest.raises(RuntimeError):
        _ = server.info
    with pytest.raises(httpx.ConnectError):
        httpx.get(info.compute_url + "/")
    server.stop()  # stopping twice is harmless


def test_jwt_env_has_no_no_auth(cl_server_jwt: LocalServer) -> None:
    assert "CL_NO_AUTH" not in cl_server_jwt.client_env()


def test_port_in_use_fails_cleanly(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        config = ServerConfig(auth_port=port, compute_port=0, mqtt_port=0, data_dir=tmp_path)
        server = LocalServer(config)
        with pytest.raises(OSError):
            server.start()
        assert not server.running


def test_unreachable_external_broker_fails(tmp_path: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    config = ServerConfig(
        auth_port=0, compute_port=0, data_dir=tmp_path, mqtt_url=f"mqtt://127.0.0.1:{port}"
    )
    with pytest.raises(ConnectionError):
        LocalServer(config).start()
    with pytest.raises(ValueError, match="scheme"):
        LocalServer(
            ServerConfig(auth_port=0, compute_port=0, data_dir=tmp_path, mqtt_url="mqtts://x:1")
        ).start()


def test_stop_kills_ffmpeg_and_requeues(
    cl_server_factory: ServerFactory,
    make_api: Callable[..., Api],
    media_path: Callable[[str], Path],
    tmp_path: Path,
    endless_ffmpeg: list[str],
) -> None:
    spawned: list[int] = []
    running = threading.Event()

    def endless(ctx: TaskContext) -> dict[str, object]:
        proc = ctx.processes.popen(endless_ffmpeg)
        spawned.append(proc.pid)
        running.set()
        try:
            proc.wait()
        finally:
            ctx.processes.release(proc)
        raise RuntimeError("ffmpeg was killed")

    data_dir = tmp_path / "data"
    server = cl_server_factory.start(executors={"hls_streaming": endless}, data_dir=data_dir)
    api = make_api(server)
    job_id = api.submit_ok("hls_streaming", media_path("astronaut.mp4"))
    assert running.wait(20)
    assert api.job(job_id)["status"] == "processing"
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 10
    assert spawned and not Path(f"/proc/{spawned[0]}").exists()  # killed and reaped
    # the interrupted job goes back to the queue for the next start
    again = cl_server_factory.start(data_dir=data_dir, workers=0)
    job = make_api(again).job(job_id)
    assert job["status"] == "queued" and job["started_at"] is None
