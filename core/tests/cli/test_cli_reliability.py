"""Waits that survive the server: a restart mid-wait, transient 503s, uploads that must not be
repeated, SIGTERM during a download, an input that changes while it is uploaded.

The fault server (``faultserver.py``) is a real HTTP server answering wrongly on purpose; tests
that use it say ``injected``. The restart test uses the real local server, stopped and started
again on the same ports and data folder.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pytest
from cl_client.errors import InvalidInputError
from cl_client.transport import ServiceTransport
from faultserver import (
    JOB_ID,
    Answer,
    FaultServer,
    Request,
    fake_compute,
    job_record,
    json_answer,
)

from .conftest import MEDIA, OFFLINE, RunCl, child_env, cl_command, serve

if TYPE_CHECKING:
    from cl_local_server.pytest_plugin import ClAgainst, ServerFactory

pytestmark = pytest.mark.timeout(120)


def test_status_polls_ride_out_transient_503s_injected(
    cl: RunCl, fault: list[FaultServer], isolated: Path
) -> None:
    calls = {"n": 0}
    done = fake_compute(job_record("hash"))

    def route(request: Request) -> Answer:
        if request.method == "GET" and request.path == f"/jobs/{JOB_ID}":
            calls["n"] += 1
            if calls["n"] <= 3:
                return Answer(503, b"restarting")
        return done(request)

    result = cl("job", "wait", JOB_ID, "--json", env=serve(fault, route))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "completed"
    assert calls["n"] >= 4


def test_a_submission_is_never_repeated_after_it_was_sent_injected(
    cl: RunCl, echo: ModuleType, fault: list[FaultServer], isolated: Path
) -> None:
    posts: list[str] = []
    inner = fake_compute(job_record("hash"))

    def route(request: Request) -> Answer:
        if request.method == "POST":
            posts.append(request.path)
            return Answer(fault="reset")  # the body arrived; no answer comes back
        return inner(request)

    result = cl("echo-test", "md5", str(MEDIA / "coffee.jpg"), env=serve(fault, route))
    assert result.exit_code == 5, result.output
    assert "may have been created on the server" in result.stderr
    assert "Traceback" not in result.output
    assert len(posts) == 1  # not retried
    history = json.loads(cl("job", "list", "--json").stdout)
    assert [h["status"] for h in history] == ["uncertain"]


def test_a_wait_survives_a_server_restart(
    cl_server_factory: ServerFactory, cl_against: ClAgainst, echo: ModuleType, tmp_path: Path
) -> None:
    from cl_local_server.pytest_plugin import free_port

    ports = {"auth_port": free_port(), "compute_port": free_port(), "mqtt_port": free_port()}
    data = tmp_path / "server"
    # No worker at first: the job waits in the queue while the server goes away and comes back.
    server = cl_server_factory.start(data_dir=data, workers=0, **ports)
    env = cl_against(server).env
    submitted = subprocess.run(
        [
            *cl_command(),
            *("--no-capability-check", "echo-test", "md5", str(MEDIA / "coffee.jpg")),
            *("--no-wait", "--jsonl"),
        ],
        env=child_env(env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert submitted.returncode == 0, submitted.stderr
    job_id = json.loads(submitted.stdout)["job_id"]
    waiting = subprocess.Popen(
        [*cl_command(), "job", "wait", job_id, "--json"],
        # Polling only (no broker), so the outage is seen by the status requests themselves.
        env=child_env({**env, "CL_RETRY_SECONDS": "1", **OFFLINE}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.5)
    server.stop()
    time.sleep(3)  # longer than one retry budget: the wait itself keeps going
    cl_server_factory.start(data_dir=data, workers=1, **ports)
    out, err = waiting.communicate(timeout=90)
    assert waiting.returncode == 0, err
    assert json.loads(out)["status"] == "completed"
    assert err.count("still trying") == 1  # said once, not per poll
    assert "Traceback" not in err


def test_sigterm_during_a_download_leaves_no_partial_file_injected(
    fault: list[FaultServer], isolated: Path, tmp_path: Path
) -> None:
    started = threading.Event()

    def route(request: Request) -> Answer:
        if "/files/" in request.path:
            started.set()
            return Answer(200, b"x" * 100_000, fault="stall")  # half the body, then nothing
        return json_answer(job_record("hash"))

    dest = tmp_path / "out" / "hash.json"
    proc = subprocess.Popen(
        [*cl_command(), "job", "download", JOB_ID, "output/hash.json", str(dest)],
        env=child_env(serve(fault, route)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert started.wait(30)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert not dest.exists()
    assert not dest.parent.exists() or list(dest.parent.iterdir()) == []


def test_an_input_that_shrinks_during_its_upload_is_refused_in_one_line_injected(
    fault: list[FaultServer], tmp_path: Path
) -> None:
    route = fake_compute(job_record("hash"))
    server = FaultServer(route)
    fault.append(server)
    path = tmp_path / "shrinking.bin"
    path.write_bytes(b"y" * 2_000_000)

    def shrink_after_first_chunk(_size: int) -> None:
        if path.stat().st_size > 10:
            path.write_bytes(b"y" * 10)  # the file changes under the upload

    async def upload() -> None:
        transport = ServiceTransport("compute", server.url, 10, True)
        try:
            await transport.upload("/jobs/hash", path, on_bytes=shrink_after_first_chunk)
        finally:
            await transport.aclose()

    with pytest.raises(InvalidInputError) as caught:
        asyncio.run(upload())
    assert "changed size while it was being uploaded" in caught.value.message
    assert "nothing was submitted" in caught.value.message
