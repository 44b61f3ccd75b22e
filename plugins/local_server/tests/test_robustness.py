"""Two servers on one data dir, damaged videos and deleting running jobs."""

from __future__ import annotations

import random
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cl_local_server.config import ServerConfig
from cl_local_server.executors import TaskContext
from cl_local_server.executors.media import ffmpeg_exe
from cl_local_server.job_store import JobStore
from cl_local_server.server import DataDirInUseError, LocalServer
from typer.testing import CliRunner

if TYPE_CHECKING:
    from cl_local_server.pytest_plugin import ServerFactory
    from conftest import Api

pytestmark = pytest.mark.timeout(120)


def _config(data_dir: Path) -> ServerConfig:
    return ServerConfig(
        auth_port=0, compute_port=0, mqtt_port=0, data_dir=data_dir, auth_mode="none"
    )


def test_claim_stays_atomic_when_another_connection_claims_in_between_injected(
    tmp_path: Path,
) -> None:
    db = tmp_path / "compute.db"
    mine, other = JobStore(db), JobStore(db)
    try:
        mine.create("job-1", "hash", {}, 5)
        mine.create("job-2", "hash", {}, 5)
        stolen: list[str] = []

        # Injected fault: the other connection claims right before our UPDATE runs.
        def interleave(statement: str) -> None:
            if statement.lstrip().upper().startswith("UPDATE") and not stolen:
                record = other.claim_next(["hash"])
                assert record is not None
                stolen.append(str(record["job_id"]))

        mine._conn.set_trace_callback(interleave)  # pyright: ignore[reportPrivateUsage]
        record = mine.claim_next(["hash"])
        assert stolen == ["job-1"]
        assert record is not None and record["job_id"] == "job-2"
        assert record["status"] == "processing"
    finally:
        mine.close()
        other.close()


def test_second_server_on_a_data_dir_is_refused_and_leaves_its_jobs_alone(
    cl_server_factory: ServerFactory,
    make_api: Callable[..., Api],
    media_path: Callable[[str], Path],
    tmp_path: Path,
) -> None:
    release = threading.Event()

    def slow(_ctx: TaskContext) -> dict[str, object]:
        release.wait(30)
        return {}

    data_dir = tmp_path / "data"
    first = cl_server_factory.start(executors={"hls_streaming": slow}, data_dir=data_dir)
    api = make_api(first)
    job_id = api.submit_ok("hls_streaming", media_path("astronaut.mp4"))
    api.wait(job_id, until=("processing",))

    with pytest.raises(DataDirInUseError, match="is in use by another local server") as info:
        LocalServer(_config(data_dir)).start()
    assert str(data_dir) in str(info.value)
    # the refused start did not requeue the running job
    assert api.job(job_id)["status"] == "processing"

    from cl_local_server.cli import app

    ports = ["--port-auth", "0", "--port-compute", "0", "--port-mqtt", "0"]
    result = CliRunner().invoke(app, ["run", "--data-dir", str(data_dir), "--no-auth", *ports])
    assert result.exit_code == 5
    assert result.output.splitlines() == [
        f"error: cannot start the server: data dir {data_dir} is in use by another local server"
    ]

    release.set()
    assert api.wait(job_id)["status"] == "completed"


def test_waiting_start_runs_after_the_other_server_stops(
    cl_server_factory: ServerFactory, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    first = cl_server_factory.start(data_dir=data_dir)
    busy = threading.Event()
    second = LocalServer(_config(data_dir))
    thread = threading.Thread(target=lambda: second.start(on_busy=busy.set))
    thread.start()
    try:
        assert busy.wait(10)
        time.sleep(0.3)
        assert not second.running
        first.stop()
        thread.join(30)
        assert second.running
    finally:
        thread.join(30)
        second.stop()


def _damaged_video(path: Path) -> Path:
    subprocess.run(
        [
            ffmpeg_exe(),
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=duration=60:size=320x240:rate=25",
            "-c:v",
            "mpeg2video",
            "-f",
            "mpegts",
            "-y",
            str(path),
        ],
        check=True,
    )
    data = bytearray(path.read_bytes())
    rng = random.Random(1234)
    for _ in range(len(data) // 200):
        data[rng.randrange(1024, len(data))] = rng.randrange(256)
    path.write_bytes(bytes(data))
    return path


def test_hash_of_a_damaged_video_ends(api: Api, tmp_path: Path) -> None:
    video = _damaged_video(tmp_path / "damaged.ts")
    # the damage makes ffmpeg report far more than a pipe buffer (64 KiB) holds
    noise = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-skip_frame", "nokey", "-i", str(video), "-f", "null", "-"],
        capture_output=True,
        check=False,
    )
    assert len(noise.stderr) > 1 << 16
    job = api.wait(api.submit_ok("hash", video), timeout=60)
    assert job["status"] in ("completed", "error")


def test_delete_of_a_running_job_kills_its_ffmpeg_and_leaves_no_directory(
    cl_server_factory: ServerFactory,
    make_api: Callable[..., Api],
    media_path: Callable[[str], Path],
    wait_until: Callable[..., None],
    endless_ffmpeg: list[str],
) -> None:
    running = threading.Event()
    returned = threading.Event()

    def endless(ctx: TaskContext) -> dict[str, object]:
        proc = ctx.processes.popen(endless_ffmpeg)
        running.set()
        try:
            proc.wait()
        finally:
            ctx.processes.release(proc)
        # like the built-in executors, write the result after the child ends
        ctx.output_path.parent.mkdir(parents=True, exist_ok=True)
        ctx.output_path.write_text("late")
        returned.set()
        return {}

    server = cl_server_factory.start(executors={"hls_streaming": endless})
    api = make_api(server)
    job_id = api.submit_ok("hls_streaming", media_path("astronaut.mp4"))
    assert running.wait(20)
    job_dir = server.config.jobs_dir / job_id
    assert job_dir.is_dir()
    assert api.compute.delete(f"/jobs/{job_id}").status_code == 204
    assert returned.wait(10), "the deleted job's ffmpeg kept running"
    wait_until(lambda: not job_dir.exists(), 10, "the job directory to go")
    assert server.processes.running == 0


def test_retention_deletes_jobs_that_finished_before_it_and_nothing_else(
    cl_server_factory: ServerFactory,
    make_api: Callable[..., Api],
    media_path: Callable[[str], Path],
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    api = make_api(cl_server_factory.start(data_dir=data_dir))
    finished = api.run("hash", media_path("coffee.jpg"))["job_id"]
    api.server.stop()
    api = make_api(cl_server_factory.start(data_dir=data_dir, workers=0))
    queued = api.submit_ok("hash", media_path("coffee.jpg"))
    api.server.stop()
    time.sleep(1.2)  # the finished job is now more than a second old

    one_second = 1 / 86_400
    api = make_api(cl_server_factory.start(data_dir=data_dir, workers=0, retention_days=one_second))
    jobs_dir = data_dir / "compute" / "jobs"
    assert api.compute.get(f"/jobs/{finished}").status_code == 404
    assert not (jobs_dir / finished).exists()
    assert api.job(queued)["status"] == "queued" and (jobs_dir / queued).is_dir()
