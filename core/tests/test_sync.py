"""The blocking facade against a real local server: from a plain script (a subprocess), and from
inside a running event loop, as in a notebook cell."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cl_client.errors import NotFoundError
from cl_client.models import JobProgress
from cl_client.sync import Client, iterate, run
from cl_client.tasks import GenericTaskClient

if TYPE_CHECKING:
    from cl_local_server.pytest_plugin import ClAgainst
    from cl_local_server.server import LocalServer

pytestmark = pytest.mark.timeout(120)


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()  # noqa: S324 - what the server computes


SCRIPT = textwrap.dedent(
    """
    import json, sys, threading
    from cl_client.sync import Client
    from cl_client.tasks import GenericTaskClient

    files = sys.argv[1:]
    seen = []
    with Client() as client:
        created = client.submit("hash", files[0], {"algorithm": "md5"})
        job = client.wait(created.job_id, timeout=30,
                          on_progress=lambda p: seen.append(threading.current_thread().name))
        saved = client.download(created.job_id, job.output_path, files[0] + ".hash.json")
        hashes = client.task(GenericTaskClient.for_task("hash"))
        typed = hashes.wait_result(created.job_id)
        batch = {str(o.item.path): o.result.output["hash_value"]
                 for o in client.batch(hashes, files, {"algorithm": "md5"})}
    print(json.dumps({"status": job.status, "saved": str(saved), "typed": typed.output,
                      "batch": batch, "threads": sorted(set(seen))}))
    """
)


def test_a_plain_script_submits_waits_downloads_and_batches(
    cl_server: LocalServer, cl_against: ClAgainst, tmp_path: Path
) -> None:
    cl_against(cl_server)
    files: list[Path] = []
    for i in range(3):
        path = tmp_path / f"f{i}.bin"
        path.write_bytes(f"content {i}".encode() * 100)
        files.append(path)
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), *map(str, files)],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["status"] == "completed"
    assert json.loads(Path(report["saved"]).read_text())["hash_value"] == md5(files[0].read_bytes())
    assert report["typed"]["hash_value"] == md5(files[0].read_bytes())
    assert report["batch"] == {str(p): md5(p.read_bytes()) for p in files}
    assert report["threads"] in ([], ["MainThread"])  # callbacks run on the caller's thread


def test_works_inside_a_running_event_loop(
    cl_server: LocalServer, cl_against: ClAgainst, tmp_path: Path
) -> None:
    cl_against(cl_server)
    photo = tmp_path / "photo.bin"
    photo.write_bytes(b"inside a loop")
    threads: list[str] = []

    async def cell() -> str:
        # A notebook cell: a loop is running in this thread, and the facade blocks anyway.
        assert asyncio.get_running_loop().is_running()
        with Client() as client:
            hashes = client.task(GenericTaskClient.for_task("hash"))
            created = hashes.submit_form(photo, {"algorithm": "md5"})
            result = hashes.wait_result(
                created.job_id,
                timeout=30,
                on_progress=lambda _p: threads.append(threading.current_thread().name),
            )
            assert result.output is not None
            return str(result.output["hash_value"])

    assert asyncio.run(cell()) == md5(photo.read_bytes())
    assert set(threads) <= {"MainThread"}


def test_errors_and_callback_failures_propagate(
    cl_server: LocalServer, cl_against: ClAgainst, tmp_path: Path
) -> None:
    cl_against(cl_server)
    photo = tmp_path / "photo.bin"
    photo.write_bytes(b"x" * 10)

    class Stop(Exception):
        pass

    called_on: list[str] = []

    def refuse(_progress: JobProgress) -> None:
        called_on.append(threading.current_thread().name)
        raise Stop

    with Client() as client:
        with pytest.raises(NotFoundError):
            client.get_job("00000000-0000-0000-0000-000000000000")
        created = client.submit("hash", photo)
        with pytest.raises(Stop):
            client.wait(created.job_id, timeout=30, on_progress=refuse)
        assert called_on == ["MainThread"]  # the caller's thread, and only once
        # the facade still works after a failed call, and run() reaches the async API
        job = client.run(lambda c: c.compute.wait(created.job_id, timeout=30))
        assert job.status == "completed"
        assert client.capabilities().offers("hash")


def test_leaving_a_batch_early_closes_it(
    cl_server: LocalServer, cl_against: ClAgainst, tmp_path: Path
) -> None:
    cl_against(cl_server)
    files: list[Path] = []
    for i in range(6):
        path = tmp_path / f"g{i}.bin"
        path.write_bytes(bytes([i]) * 50)
        files.append(path)
    with Client() as client:
        outcomes = client.batch(GenericTaskClient.for_task("hash"), files, concurrency=2)
        first = next(outcomes)
        assert first.result is not None
        outcomes.close()  # cancels the rest on the facade's loop; no error, no hang
        assert client.capabilities().offers("hash")


def test_iterate_and_run_wrap_any_coroutine() -> None:
    async def numbers() -> AsyncIterator[int]:
        for i in range(3):
            await asyncio.sleep(0)
            yield i

    assert list(iterate(numbers())) == [0, 1, 2]

    async def add(a: int, b: int) -> int:
        return a + b

    assert run(add(2, 3)) == 5
