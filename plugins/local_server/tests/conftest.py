"""Shared helpers: raw httpx/paho access to a running server (never the ``cl`` client)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from cl_local_server.pytest_plugin import ADMIN_PASSWORD
from cl_local_server.server import LocalServer

MEDIA = Path(__file__).parents[3] / ".." / "shared" / "media"
TERMINAL = ("completed", "error")


def media(name: str) -> Path:
    path = MEDIA / name
    assert path.is_file(), f"test media missing: {path}"
    return path


class Api:
    """httpx clients for one server, optionally sending a Bearer token."""

    def __init__(self, server: LocalServer, token: str | None = None) -> None:
        self.server = server
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.compute = httpx.Client(base_url=server.info.compute_url, headers=headers, timeout=30)
        self.auth = httpx.Client(base_url=server.info.auth_url, headers=headers, timeout=30)

    def close(self) -> None:
        self.compute.close()
        self.auth.close()

    def submit(
        self,
        task: str,
        path: Path | None,
        data: Mapping[str, str] | None = None,
        filename: str | None = None,
    ) -> httpx.Response:
        files = None
        if path is not None:
            files = {"file": (filename or path.name, path.read_bytes())}
        return self.compute.post(f"/jobs/{task}", data=dict(data or {}), files=files)

    def submit_ok(self, task: str, path: Path, data: Mapping[str, str] | None = None) -> str:
        response = self.submit(task, path, data)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "queued" and body["task_type"] == task
        return str(body["job_id"])

    def job(self, job_id: str) -> dict[str, Any]:
        response = self.compute.get(f"/jobs/{job_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def wait(
        self, job_id: str, timeout: float = 60, until: tuple[str, ...] = TERMINAL
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if job["status"] in until:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} still {job['status']} after {timeout} s")
            time.sleep(0.02)

    def run(self, task: str, path: Path, data: Mapping[str, str] | None = None) -> dict[str, Any]:
        job = self.wait(self.submit_ok(task, path, data))
        assert job["status"] == "completed", job
        return job

    def download(self, job_id: str, rel: str) -> bytes:
        response = self.compute.get(f"/jobs/{job_id}/files/{rel}")
        assert response.status_code == 200, response.text
        return response.content


def login(server: LocalServer, username: str = "admin", password: str = ADMIN_PASSWORD) -> str:
    response = httpx.post(
        f"{server.info.auth_url}/auth/token", data={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def eventually(check: Callable[[], bool], timeout: float = 10, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class MqttRecorder:
    """Subscribes (MQTT 3.1.1, works with every broker) and records ``(topic, payload, retain)``."""

    def __init__(self, url: str, topics: list[str]) -> None:
        host, port = url.removeprefix("mqtt://").rsplit(":", 1)
        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        self._client.reconnect_delay_set(0.05, 0.2)  # quick teardown once the broker is gone
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda *_: self._subscribed.set()
        self._client.on_connect = lambda c, *_: c.subscribe([(t, 1) for t in topics])
        self._client.connect(host.strip("[]"), int(port))
        self._client.loop_start()
        assert self._subscribed.wait(10), "MQTT subscription not acknowledged"

    def _on_message(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((msg.topic, bytes(msg.payload), bool(msg.retain)))

    def snapshot(self) -> list[tuple[str, bytes, bool]]:
        with self._lock:
            return list(self.messages)

    def events(self, job_id: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for topic, payload, _retain in self.snapshot():
            if topic == "inference/events" and payload:
                event = json.loads(payload)
                if event["job_id"] == job_id:
                    out.append(event)
        return out

    def wait_for(
        self, check: Callable[[list[tuple[str, bytes, bool]]], bool], timeout: float = 10
    ) -> None:
        eventually(lambda: check(self.snapshot()), timeout, "MQTT messages")

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


# Helpers reach the tests as fixtures (never ``from conftest import``), so the suite runs the same
# under any pytest import mode and next to other test folders that have a conftest too.


@pytest.fixture
def endless_ffmpeg() -> list[str]:
    """An ffmpeg command line encoding ten minutes of synthetic video: only a kill ends it early."""
    from cl_local_server.executors.media import ffmpeg_exe

    command = "-v error -re -f lavfi -i testsrc=duration=600 -f null -"
    return [ffmpeg_exe(), *command.split()]


@pytest.fixture
def media_path() -> Callable[[str], Path]:
    return media


@pytest.fixture
def login_token() -> Callable[..., str]:
    return login


@pytest.fixture
def wait_until() -> Callable[..., None]:
    return eventually


@pytest.fixture
def make_api() -> Iterator[Callable[..., Api]]:
    made: list[Api] = []

    def make(server: LocalServer, token: str | None = None) -> Api:
        client = Api(server, token)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def recorder() -> Iterator[Callable[[str, list[str]], MqttRecorder]]:
    made: list[MqttRecorder] = []

    def make(url: str, topics: list[str]) -> MqttRecorder:
        rec = MqttRecorder(url, topics)
        made.append(rec)
        return rec

    yield make
    for rec in made:
        rec.close()


@pytest.fixture
def api(cl_server: LocalServer, make_api: Callable[..., Api]) -> Api:
    return make_api(cl_server)


@pytest.fixture
def admin_api(cl_server_jwt: LocalServer, make_api: Callable[..., Api]) -> Api:
    return make_api(cl_server_jwt, login(cl_server_jwt))
