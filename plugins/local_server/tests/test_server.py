"""``LocalServer`` itself: start/stop, context manager, client env, shutdown of running jobs."""

from __future__ import annotations

import os
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


def _accepted_socket_nodelay(server_port: int, client_port: int) -> int:
    """TCP_NODELAY of the server's end of the connection from ``client_port``, read from the kernel
    through a duplicate of the server's own descriptor (the server runs in this process)."""
    for link in Path("/proc/self/fd").iterdir():
        try:
            if not str(link.readlink()).startswith("socket:"):
                continue
            dup = socket.socket(fileno=os.dup(int(link.name)))
        except OSError:
            continue
        with dup:
            if dup.family not in (socket.AF_INET, socket.AF_INET6):
                continue
            try:
                local, peer = dup.getsockname(), dup.getpeername()
            except OSError:
                continue
            if local[1] == server_port and peer[1] == client_port:
                return dup.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    raise AssertionError(f"no accepted connection from port {client_port} found")


#: What each service is sent to be sure it accepted the connection, and how its answer starts.
_HELLO = {
    "auth": (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"HTTP/1.1 200"),
    "compute": (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"HTTP/1.1 200"),
    # MQTT 3.1.1 CONNECT (clean session, keep-alive 60 s, client id "t") → CONNACK accepted.
    "mqtt": (b"\x10\x0d\x00\x04MQTT\x04\x02\x00\x3c\x00\x01t", b"\x20\x02\x00\x00"),
}


@pytest.mark.parametrize("service", sorted(_HELLO))
def test_accepted_connections_have_tcp_nodelay(cl_server: LocalServer, service: str) -> None:
    info = cl_server.info
    url = {"auth": info.auth_url, "compute": info.compute_url, "mqtt": info.mqtt_url}[service]
    port = int(url.rsplit(":", 1)[1])
    hello, answer = _HELLO[service]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(hello)
        assert client.recv(1024).startswith(answer)  # accepted and answered
        assert _accepted_socket_nodelay(port, client.getsockname()[1]) != 0


def test_children_start_without_the_callers_secrets(
    cl_server_factory: ServerFactory,
    make_api: Callable[..., Api],
    media_path: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
    endless_ffmpeg: list[str],
) -> None:
    secrets = {
        "CL_PASSWORD": "pw-secret",
        "CL_TOKEN": "token-secret",
        "CL_SERVER_ADMIN_PASSWORD": "admin-secret",
        "AWS_SECRET_ACCESS_KEY": "aws-secret",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    environ: list[bytes] = []
    seen = threading.Event()

    def ffmpeg(ctx: TaskContext) -> dict[str, object]:
        proc = ctx.processes.popen(endless_ffmpeg)
        try:
            environ.append(Path(f"/proc/{proc.pid}/environ").read_bytes())
            seen.set()
        finally:
            proc.kill()
            proc.wait()
            ctx.processes.release(proc)
        return {}

    server = cl_server_factory.start(executors={"child_env": ffmpeg})
    api = make_api(server)
    assert api.run("child_env", media_path("coffee.jpg"))["status"] == "completed"
    assert seen.is_set()
    env = dict(item.split(b"=", 1) for item in environ[0].split(b"\0") if item)
    assert not {name.encode() for name in secrets} & set(env)
    assert not any(value.encode() in environ[0] for value in secrets.values())
    assert env[b"PATH"] == os.environ["PATH"].encode() and env[b"LC_ALL"] == b"C.UTF-8"
