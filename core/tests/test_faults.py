"""The library against a server that misbehaves on purpose (``faultserver.py``): unsafe result
paths, bodies cut short into destinations that are not plain files, unusable tokens; and token
files kept per auth server."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import threading
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from cl_client.auth import AuthClient, TokenStore
from cl_client.compute import ComputeClient
from cl_client.errors import (
    MalformedResponseError,
    ServiceUnreachableError,
    UnsafeResultPathError,
)
from cl_client.models import Job
from cl_client.tasks import TaskClient, TaskResult
from cl_client.transport import ServiceTransport, safe_join
from faultserver import JOB_ID, Answer, FaultServer, fake_compute, job_record, json_answer

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("cl_isolated")]

T = TypeVar("T")


def run(coro: Coroutine[object, object, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture
def make_server() -> Iterator[Callable[..., FaultServer]]:
    servers: list[FaultServer] = []

    def make(route: Callable[..., Answer]) -> FaultServer:
        server = FaultServer(route)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


async def with_compute(
    server: FaultServer, fn: Callable[[ComputeClient], Coroutine[object, object, T]]
) -> T:
    transport = ServiceTransport("compute", server.url, 5.0, True)
    try:
        return await fn(ComputeClient(transport))
    finally:
        await transport.aclose()


class RawFile(TaskClient[TaskResult]):
    """A task client whose result is the file the job record names, as every real one does."""

    task_type = "hash"

    async def collect(self, job: Job, dest: Path | None = None) -> TaskResult:
        _data, saved = await self.fetch_bytes(job, job.output_path or "output/x", dest)
        return TaskResult(job=job, downloaded=[saved] if saved else [])


# --- unsafe paths named by the server -------------------------------------------------------


@pytest.mark.parametrize("path", ["faces/", "faces//x.png", "../x.png", "/etc/x", "a/./b", ""])
def test_a_crop_or_result_path_the_server_names_is_its_fault(tmp_path: Path, path: str) -> None:
    with pytest.raises(UnsafeResultPathError) as info:
        safe_join(tmp_path, path)
    assert info.value.exit_code == 5
    assert str(info.value).startswith(f"the server named an unsafe result path {path!r}")
    assert isinstance(info.value, MalformedResponseError)


@pytest.mark.parametrize("dest", [False, True])
def test_an_unsafe_output_path_is_never_requested_injected(
    make_server: Callable[..., FaultServer], tmp_path: Path, dest: bool
) -> None:
    job = Job(**job_record("hash", params={"output_path": "faces//../../x.json"}))  # pyright: ignore[reportArgumentType]
    server = make_server(fake_compute(job_record("hash")))

    async def go(compute: ComputeClient) -> TaskResult:
        return await RawFile(compute).collect(job, tmp_path / "out" if dest else None)

    with pytest.raises(UnsafeResultPathError):
        run(with_compute(server, go))
    assert server.requests == [] and list(tmp_path.iterdir()) == []


# --- bodies cut short into special destinations ---------------------------------------------


def test_a_body_cut_short_into_a_fifo_is_an_error_and_the_fifo_stays_injected(
    make_server: Callable[..., FaultServer], tmp_path: Path
) -> None:
    body = json.dumps({"hash_value": "x" * 4000}).encode()
    server = make_server(
        fake_compute(job_record("hash"), {"output/result.json": Answer(200, body, fault="cut")})
    )
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()

    async def go(compute: ComputeClient) -> Path:
        return await compute.download(JOB_ID, "output/result.json", fifo)

    with pytest.raises(ServiceUnreachableError, match=r"cut short|interrupted"):
        run(with_compute(server, go))
    reader.join(10)
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert received and len(received[0]) < len(body)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


def test_a_body_cut_short_into_a_regular_file_leaves_the_old_file_injected(
    make_server: Callable[..., FaultServer], tmp_path: Path
) -> None:
    server = make_server(
        fake_compute(
            job_record("hash"), {"output/result.json": Answer(200, b"y" * 9000, fault="cut")}
        )
    )
    target = tmp_path / "kept.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)

    async def go(compute: ComputeClient) -> Path:
        return await compute.download(JOB_ID, "output/result.json", link)

    with pytest.raises(ServiceUnreachableError):
        run(with_compute(server, go))
    assert target.read_text() == "old" and link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.json", "link.json"]


# --- tokens from the server and on disk -----------------------------------------------------


@pytest.mark.parametrize("token", ["abc\r\ndef", "", "   ", "a b", "tök"])
def test_an_unusable_token_from_the_auth_service_is_refused_unseen_injected(
    make_server: Callable[..., FaultServer], token: str
) -> None:
    server = make_server(lambda _req: json_answer({"access_token": token, "token_type": "bearer"}))

    async def go() -> None:
        transport = ServiceTransport("auth", server.url, 5.0, True)
        try:
            await AuthClient(transport).login("alice", "pw")
        finally:
            await transport.aclose()

    with pytest.raises(MalformedResponseError) as info:
        run(go())
    assert "unusable token" in str(info.value)
    assert token.strip() == "" or token not in str(info.value)


def test_a_token_file_of_the_earlier_single_token_form_is_read(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens")
    path = store.path_for("nas")
    path.parent.mkdir(parents=True)
    legacy = {"access_token": "tok-old\n", "auth_url": "http://a:8000", "username": "pat"}
    path.write_text(json.dumps(legacy))
    path.chmod(0o600)
    record = store.load_record("nas", "http://a:8000")
    assert record is not None and (record.access_token, record.username) == ("tok-old", "pat")
    store.save("nas", "tok-new", auth_url="http://b:8000")
    assert store.load("nas", "http://a:8000") == "tok-old"
    assert store.load("nas", "http://b:8000") == "tok-new"
    assert store.load("nas") == "tok-new"  # the one saved last
    assert store.load_record("nas", "http://c:8000") is None
    assert sorted(json.loads(path.read_text())["tokens"]) == ["http://a:8000", "http://b:8000"]
    # a stored token holding a control character is a corrupt file, and is not shown
    path.write_text(json.dumps({"tokens": {"http://a:8000": {"access_token": "se\x1bcret"}}}))
    with pytest.raises(Exception, match="is corrupt") as info:
        store.load("nas", "http://a:8000")
    assert "se\x1bcret" not in str(info.value)
