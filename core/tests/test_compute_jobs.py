"""The compute client and the Client facade against the real local server over real sockets."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pytest
from cl_client.auth import TokenStore
from cl_client.client import Client
from cl_client.compute import ComputeClient, form_value
from cl_client.config import ConfigStore, Overrides, Profile, Settings, resolve_settings
from cl_client.errors import (
    AuthenticationError,
    BadRequestError,
    ConfigError,
    InvalidInputError,
    JobTimeoutError,
    MalformedResponseError,
    NotFoundError,
    NoWorkerError,
    PermissionDeniedError,
    ValidationError,
)
from cl_client.models import Job, JobProgress
from cl_client.transport import ServiceTransport
from corelib_support import MEDIA, Reply, Seen, TinyServer, closed_port_url, json_reply

if TYPE_CHECKING:
    from cl_local_server.executors import TaskContext
    from cl_local_server.pytest_plugin import BrokerKind, ServerFactory
    from cl_local_server.server import LocalServer

pytestmark = [pytest.mark.usefixtures("cl_isolated"), pytest.mark.timeout(90)]

T = TypeVar("T")
ASTRONAUT = MEDIA / "astronaut.jpg"


def run(coro: Coroutine[object, object, T]) -> T:
    return asyncio.run(coro)


def settings_for(server: LocalServer, tmp_path: Path, **env: str) -> Settings:
    return resolve_settings(
        env={**server.client_env(), **env}, store=ConfigStore(tmp_path / "cfg.toml")
    )


def client_for(server: LocalServer, tmp_path: Path, **env: str) -> Client:
    return Client(settings_for(server, tmp_path, **env), token_store=TokenStore(tmp_path / "tok"))


async def admin_login(client: Client, server: LocalServer) -> None:
    if server.info.auth_mode == "jwt":
        await client.login(server.info.admin_username, server.info.admin_password)


class Gate:
    """An executor that reports progress in steps, optionally waiting for the test first."""

    def __init__(self, *, fail: bool = False, wait: bool = False) -> None:
        self.fail = fail
        self.release = threading.Event()
        if not wait:
            self.release.set()
        self.started = threading.Event()

    def __call__(self, ctx: TaskContext) -> dict[str, object]:
        self.started.set()
        self.release.wait(30)
        for percent in (25, 50, 75):
            time.sleep(0.1)
            ctx.progress(percent)
        if self.fail:
            raise RuntimeError("model exploded")
        ctx.output_path.parent.mkdir(parents=True, exist_ok=True)
        ctx.output_path.write_bytes(b"embedding")
        return {"embedding_dim": 4, "normalized": True}


# --- submit and wait ------------------------------------------------------------------------


@pytest.mark.parametrize("auth_mode", ["none", "jwt"])
def test_submit_and_wait_reports_progress_from_mqtt(
    cl_server_factory: ServerFactory, cl_broker: BrokerKind, auth_mode: str, tmp_path: Path
) -> None:
    gate = Gate(wait=True)
    server = cl_server_factory.start(
        auth_mode=auth_mode,  # pyright: ignore[reportArgumentType]
        broker=cl_broker,
        executors={"clip_embedding": gate},
    )
    progress: list[JobProgress] = []
    completed: list[Job] = []

    async def scenario() -> Job:
        async with client_for(server, tmp_path) as client:
            await admin_login(client, server)
            created = await client.compute.submit(
                "clip_embedding", ASTRONAUT, {"normalize": True}, priority=7
            )
            assert created.status == "queued" and created.task_type == "clip_embedding"
            assert client.mqtt.connected  # subscribed before the job was submitted
            waiting = asyncio.create_task(
                client.compute.wait(
                    created.job_id,
                    timeout=30,
                    on_progress=progress.append,
                    on_complete=completed.append,
                )
            )
            await asyncio.sleep(0.2)
            gate.release.set()
            return await waiting

    job = run(scenario())
    assert job.status == "completed" and job.progress == 100
    assert job.task_output == {"embedding_dim": 4, "normalized": True}
    assert job.params["normalize"] is True and job.priority == 7
    assert completed == [job]
    via_mqtt = [(p.status, p.progress) for p in progress if p.source == "mqtt"]
    assert ("processing", 25.0) in via_mqtt and ("processing", 75.0) in via_mqtt
    assert progress[-1].status == "completed" and progress[-1].progress == 100
    stages = [
        (p.status != "queued", p.status in ("completed", "error"), p.progress) for p in progress
    ]
    assert stages == sorted(stages)  # never steps backwards


def test_wait_polls_when_the_broker_is_down(
    cl_server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = cl_server_factory.start(auth_mode="none", executors={"clip_embedding": Gate()})
    progress: list[JobProgress] = []

    async def scenario() -> tuple[Job, float]:
        client = client_for(server, tmp_path, CL_MQTT_URL=closed_port_url("mqtt"))
        async with client:
            client.compute.first_poll = 0.1
            start = time.monotonic()
            created = await client.compute.submit("clip_embedding", ASTRONAUT)
            job = await client.compute.wait(created.job_id, timeout=30, on_progress=progress.append)
            assert not client.mqtt.connected
            return job, time.monotonic() - start

    job, took = run(scenario())
    assert job.status == "completed"
    assert progress and all(p.source == "http" for p in progress)
    assert took < 10


@pytest.mark.parametrize("compat", ["current", "legacy"])
def test_a_failing_job_ends_the_wait_with_or_without_an_error_event(
    cl_server_factory: ServerFactory, compat: str, tmp_path: Path
) -> None:
    gate = Gate(fail=True, wait=True)
    server = cl_server_factory.start(
        auth_mode="none",
        compat=compat,  # pyright: ignore[reportArgumentType]
        executors={"clip_embedding": gate},
    )
    progress: list[JobProgress] = []

    async def scenario() -> Job:
        async with client_for(server, tmp_path) as client:
            client.compute.poll_interval = 0.2
            created = await client.compute.submit("clip_embedding", ASTRONAUT)
            waiting = asyncio.create_task(
                client.compute.wait(created.job_id, timeout=30, on_progress=progress.append)
            )
            await asyncio.sleep(0.3)
            gate.release.set()
            return await waiting

    job = run(scenario())
    assert job.status == "error" and job.failed
    assert job.error_message is not None and "model exploded" in job.error_message
    error_events = [p for p in progress if p.source == "mqtt" and p.status == "error"]
    if compat == "current":
        assert error_events  # the terminal event arrived and was confirmed over HTTP
    else:
        assert not error_events  # no terminal event: polling found the end
        assert progress[-1].status == "error" and progress[-1].source == "http"


def test_real_failing_task_and_builtin_executor(cl_server: LocalServer, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not an image")

    async def scenario() -> Job:
        async with client_for(cl_server, tmp_path) as client:
            created = await client.compute.submit("image_conversion", text, {"format": "png"})
            return await client.compute.wait(created.job_id, timeout=30)

    job = run(scenario())
    assert job.status == "error" and job.error_message


def test_wait_times_out_when_no_worker_takes_the_job(
    cl_server: LocalServer, tmp_path: Path
) -> None:
    async def scenario() -> JobTimeoutError:
        async with client_for(cl_server, tmp_path) as client:
            created = await client.compute.submit("dino_embedding", ASTRONAUT)
            with pytest.raises(JobTimeoutError) as info:
                await client.compute.wait(created.job_id, timeout=30, queue_timeout=0.5)
            return info.value

    error = run(scenario())
    assert error.last_status == "queued"
    assert (
        f"job {error.job_id} did not start within 0.5 s (last status the server confirmed: queued)"
    ) in str(error)
    assert error.exit_code == 5


def test_async_callbacks_are_awaited(cl_server: LocalServer, tmp_path: Path) -> None:
    seen: list[str] = []

    async def on_progress(update: JobProgress) -> None:
        await asyncio.sleep(0)
        seen.append(update.status)

    async def on_complete(job: Job) -> None:
        seen.append(f"done:{job.status}")

    async def scenario() -> None:
        async with client_for(cl_server, tmp_path) as client:
            created = await client.compute.submit("hash", ASTRONAUT, {"algorithm": "md5"})
            await client.compute.wait(
                created.job_id, timeout=30, on_progress=on_progress, on_complete=on_complete
            )

    run(scenario())
    assert seen[-2:] == ["completed", "done:completed"]


# --- get, delete, download ------------------------------------------------------------------


def test_get_delete_and_download(cl_server: LocalServer, tmp_path: Path) -> None:
    upload = tmp_path / "my photo ü.jpg"
    upload.write_bytes(ASTRONAUT.read_bytes())
    out = tmp_path / "out"
    out.mkdir()

    async def scenario() -> None:
        async with client_for(cl_server, tmp_path) as client:
            compute = client.compute
            created = await compute.submit("hash", upload, {"algorithm": "md5"})
            job = await compute.wait(created.job_id, timeout=30)
            assert (await compute.get_job(created.job_id)).status == "completed"
            assert job.output_path == "output/hash.json"

            # a file target
            saved = await compute.download(job.job_id, "output/hash.json", out / "h.json")
            assert saved == out / "h.json"
            data = json.loads(saved.read_text())
            assert data["hash_value"] == hashlib.md5(upload.read_bytes()).hexdigest()  # noqa: S324
            assert await compute.read_json(job.job_id, "output/hash.json") == data
            # a directory target: the server's base name, and names that need encoding
            saved = await compute.download(job.job_id, "input/my photo ü.jpg", out)
            assert saved == out / "my photo ü.jpg"
            assert saved.read_bytes() == upload.read_bytes()
            assert (
                await compute.read_bytes(job.job_id, "input/my photo ü.jpg") == saved.read_bytes()
            )
            with pytest.raises(MalformedResponseError, match="not a JSON object"):
                await compute.read_json(job.job_id, "input/my photo ü.jpg")

            # errors the server reports
            with pytest.raises(BadRequestError, match="bad request: Path is not a file"):
                await compute.download(job.job_id, "output", out)
            with pytest.raises(NotFoundError, match="not found: File not found"):
                await compute.download(job.job_id, "output/nothing.bin", out)
            with pytest.raises(NotFoundError):  # a refused download creates no folders
                await compute.download(job.job_id, "output/nothing.bin", out / "new" / "x.bin")
            assert not (out / "new").exists()
            # traversal never leaves the destination, and is refused before sending
            for evil in ("../../../etc/passwd", "/etc/passwd", "output/../../x"):
                with pytest.raises(InvalidInputError):
                    await compute.download(job.job_id, evil, out)

            await compute.delete_job(job.job_id)
            with pytest.raises(NotFoundError, match=f"not found: Job {job.job_id} not found"):
                await compute.get_job(job.job_id)
            with pytest.raises(NotFoundError):
                await compute.delete_job(job.job_id)
            with pytest.raises(InvalidInputError, match="invalid job id"):
                await compute.get_job("../admin")
            # a query or fragment in an id is sent as part of the id, not as a query
            with pytest.raises(NotFoundError, match=r"Job abc\?x=1 not found"):
                await compute.get_job("abc?x=1")

    run(scenario())
    assert sorted(p.name for p in out.iterdir()) == ["h.json", "my photo ü.jpg"]
    assert not (tmp_path.parent / "passwd").exists()


def test_download_failing_midway_leaves_nothing_injected_fault(
    cl_server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    out.mkdir()

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    async def scenario() -> None:
        async with client_for(cl_server, tmp_path) as client:
            created = await client.compute.submit("hash", ASTRONAUT)
            await client.compute.wait(created.job_id, timeout=30)
            with monkeypatch.context() as patch:
                patch.setattr(os, "fsync", disk_full)
                with pytest.raises(OSError, match="No space left"):
                    await client.compute.download(created.job_id, "input/astronaut.jpg", out)

    run(scenario())
    assert list(out.iterdir()) == []


# --- capabilities ---------------------------------------------------------------------------


def test_capabilities_and_require_worker(cl_server_factory: ServerFactory, tmp_path: Path) -> None:
    gate = Gate(wait=True)
    server = cl_server_factory.start(auth_mode="none", executors={"clip_embedding": gate})

    async def scenario() -> None:
        async with client_for(server, tmp_path) as client:
            compute = client.compute
            caps = await compute.capabilities()
            assert caps.num_workers == 2 and caps.offers("hash")
            assert not caps.offers("dino_embedding")
            await compute.require_worker("hash")
            with pytest.raises(NoWorkerError, match="no worker offers dino_embedding"):
                await compute.require_worker("dino_embedding")
            before = (await compute.storage_size()).job_count
            with pytest.raises(NoWorkerError):
                await compute.submit("dino_embedding", ASTRONAUT, check_capability=True)
            assert (await compute.storage_size()).job_count == before  # nothing was uploaded

            # both workers busy: the task shows 0 idle, which is not absence
            ids = [
                (await compute.submit("clip_embedding", ASTRONAUT, check_capability=True)).job_id
                for _ in range(2)
            ]
            deadline = time.monotonic() + 10
            while (await compute.capabilities()).capabilities.get("clip_embedding") != 0:
                assert time.monotonic() < deadline, "workers never showed as busy"
                await asyncio.sleep(0.05)
            await compute.require_worker("clip_embedding")
            gate.release.set()
            for job_id in ids:
                assert (await compute.wait(job_id, timeout=30)).status == "completed"
            # the worker messages seen over MQTT name the same tasks
            workers = client.mqtt.workers()
            assert set(workers) == set(server.worker_ids)
            assert all("clip_embedding" in w.capabilities for w in workers.values())

    run(scenario())


# --- admin and guest mode -------------------------------------------------------------------


def test_admin_endpoints_and_guest_mode(cl_server_jwt: LocalServer, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with client_for(cl_server_jwt, tmp_path / "admin") as admin:
            await admin_login(admin, cl_server_jwt)
            assert (await admin.compute.guest_mode()).guest_mode is False
            assert (await admin.compute.health()).guest_mode is False
            created = await admin.compute.submit("hash", ASTRONAUT)
            await admin.compute.wait(created.job_id, timeout=30)
            size = await admin.compute.storage_size()
            assert size.job_count >= 1 and size.total_size > 0
            with pytest.raises(ValidationError, match="invalid days"):
                await admin.compute.cleanup(-1)
            assert (await admin.compute.cleanup(7)).deleted_count == 0

            async with client_for(cl_server_jwt, tmp_path / "anon") as anonymous:
                with pytest.raises(AuthenticationError, match="Authentication required"):
                    await anonymous.compute.submit("hash", ASTRONAUT)
                update = await admin.compute.set_guest_mode(True)
                assert update.guest_mode is True
                guest_job = await anonymous.compute.submit("hash", ASTRONAUT)
                assert (await anonymous.compute.wait(guest_job.job_id, timeout=30)).status == (
                    "completed"
                )
                assert (await anonymous.compute.health()).guest_mode is True
                assert (await admin.compute.set_guest_mode(False)).guest_mode is False
                with pytest.raises(AuthenticationError):
                    await anonymous.compute.get_job(guest_job.job_id)

    run(scenario())


def test_guest_mode_falls_back_to_admin_pref(
    tiny_server_factory: Callable[[Callable[[Seen], Reply]], TinyServer],
) -> None:
    def route(req: Seen) -> Reply:
        if req.path == "/admin/pref":
            return json_reply(200, {"guest_mode": True, "updated_at": None, "updated_by": None})
        return json_reply(404, {"detail": "Not Found"})

    server = tiny_server_factory(route)

    async def scenario() -> bool:
        transport = ServiceTransport("compute", server.url, 5.0, True)
        try:
            return (await ComputeClient(transport).guest_mode()).guest_mode
        finally:
            await transport.aclose()

    assert run(scenario()) is True
    assert [r.path for r in server.requests] == ["/admin/config", "/admin/pref"]


def test_permission_and_validation_errors_from_the_server(
    cl_server_jwt: LocalServer, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with client_for(cl_server_jwt, tmp_path / "admin") as admin:
            await admin_login(admin, cl_server_jwt)
            await admin.auth.create_user("viewer", "viewer-pw", permissions=["media_store_read"])
            await admin.auth.create_user(
                "worker", "worker-pw", permissions=["ai_inference_support"]
            )
            with pytest.raises(ValidationError) as info:
                await admin.compute.submit("image_conversion", ASTRONAUT, {"quality": 101})
            assert str(info.value).startswith("invalid format: ")
            assert [e.field for e in info.value.errors] == ["format", "quality"]
            assert "(and 1 more error)" in str(info.value)
            with pytest.raises(ValidationError, match="invalid priority"):
                await admin.compute.submit("hash", ASTRONAUT, priority=11)
            with pytest.raises(NotFoundError, match="not found: Job nope not found"):
                await admin.compute.get_job("nope")

        async with client_for(cl_server_jwt, tmp_path / "viewer") as viewer:
            await viewer.login("viewer", "viewer-pw")
            with pytest.raises(PermissionDeniedError) as denied:
                await viewer.compute.submit("hash", ASTRONAUT)
            assert str(denied.value) == (
                "permission denied: Insufficient permissions. Required: ai_inference_support"
            )
            assert denied.value.exit_code == 3

        async with client_for(cl_server_jwt, tmp_path / "worker") as worker:
            await worker.login("worker", "worker-pw")
            created = await worker.compute.submit("hash", ASTRONAUT)
            assert (await worker.compute.wait(created.job_id, timeout=30)).status == "completed"
            with pytest.raises(PermissionDeniedError, match="Admin access required"):
                await worker.compute.storage_size()

    run(scenario())


# --- the Client facade ----------------------------------------------------------------------


def test_client_resolves_its_own_settings(
    cl_server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in cl_server.client_env().items():
        monkeypatch.setenv(key, value)
    ConfigStore().add("mine", Profile(timeout=7))

    async def scenario() -> None:
        async with Client(profile="mine") as client:
            assert client.settings.profile == "mine" and client.settings.timeout == 7.0
            assert client.settings.compute_url == cl_server.info.compute_url
            assert (await client.compute.capabilities()).offers("hash")
            assert client.auth is client.session.auth
            assert client.logout() is False
        async with Client(overrides=Overrides(compute_url="http://127.0.0.1:1")) as other:
            assert other.settings.compute_url == "http://127.0.0.1:1"

    run(scenario())
    with pytest.raises(ValueError, match="not both"):
        Client(settings_for(cl_server, tmp_path), profile="x")


def test_client_with_a_launcher_profile_runs_the_local_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CL_LOCAL_SERVER_DATA_DIR", str(tmp_path / "embedded"))

    async def scenario() -> None:
        client = Client(profile="local")
        assert client.settings.launcher == "local-server"
        with pytest.raises(ConfigError, match="async with Client"):
            _ = client.compute
        async with client:
            assert client.settings.compute_url.startswith("http://127.0.0.1:")
            created = await client.compute.submit("hash", ASTRONAUT, {"algorithm": "md5"})
            job = await client.compute.wait(created.job_id, timeout=30)
            assert job.status == "completed"

    run(scenario())


def test_form_values_are_sent_as_text() -> None:
    assert [form_value(v) for v in (True, False, 3, 0.5, "x")] == ["true", "false", "3", "0.5", "x"]


def test_settings_replace_keeps_sources(cl_server: LocalServer, tmp_path: Path) -> None:
    settings = settings_for(cl_server, tmp_path)
    assert replace(settings, timeout=1.0).sources == settings.sources
