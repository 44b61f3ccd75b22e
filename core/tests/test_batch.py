"""The batch engine (``cl_client.batch``) and its journal, against the real local server.

Jobs in flight are counted on the server itself (its job database), not only by the client.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, TypeVar

import pytest
from cl_client.auth import TokenStore
from cl_client.batch import Batch, BatchItem, Folder, Outcome
from cl_client.client import Client
from cl_client.config import ConfigStore, resolve_settings
from cl_client.journal import Journal, JournalError
from cl_client.models import Job
from cl_client.tasks import TaskClient, TaskResult

if TYPE_CHECKING:
    from cl_local_server.executors import TaskContext
    from cl_local_server.pytest_plugin import ServerFactory
    from cl_local_server.server import LocalServer

pytestmark = [pytest.mark.usefixtures("cl_isolated"), pytest.mark.timeout(120)]

T = TypeVar("T")
TASK = "batch_test"


def run(coro: Coroutine[object, object, T]) -> T:
    return asyncio.run(coro)


@dataclass(kw_only=True)
class Md5Result(TaskResult):
    md5: str


class Md5Client(TaskClient[Md5Result]):
    """The test task: the server writes the md5 of the input to ``output/md5.txt``."""

    task_type: ClassVar[str] = TASK

    async def collect(self, job: Job, dest: Path | None = None) -> Md5Result:
        data, saved = await self.fetch_bytes(job, "output/md5.txt", dest)
        return Md5Result(job=job, md5=data.decode(), downloaded=[saved] if saved else [])


class Executor:
    """md5 of the input after ``delay`` seconds (or once ``gate`` opens); fails on "fail"."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.gate = threading.Event()
        self.gate.set()
        self.runs = 0

    def __call__(self, ctx: TaskContext) -> dict[str, object]:
        self.runs += 1
        self.gate.wait(60)
        time.sleep(self.delay)
        data = ctx.input_path.read_bytes()
        if data.startswith(b"fail"):
            raise ValueError("asked to fail")
        ctx.output_path.mkdir(parents=True, exist_ok=True)
        (ctx.output_path / "md5.txt").write_text(hashlib.md5(data).hexdigest())  # noqa: S324
        return {"size": len(data)}


def start(factory: ServerFactory, executor: Executor, **config: object) -> LocalServer:
    return factory.start(executors={TASK: executor}, **config)


def client_for(server: LocalServer, tmp_path: Path) -> Client:
    settings = resolve_settings(env=server.client_env(), store=ConfigStore(tmp_path / "cfg.toml"))
    return Client(settings, token_store=TokenStore(tmp_path / "tok"))


def make_inputs(folder: Path, n: int, prefix: str = "file") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for i in range(n):
        path = folder / f"{prefix}{i:03d}.txt"
        path.write_text(f"content {prefix} {i}")
        paths.append(path)
    return paths


def server_jobs(server: LocalServer, status: tuple[str, ...] = ()) -> int:
    """Jobs the server holds (of the given states)."""
    return sum(1 for job in server.job_records() if not status or job["status"] in status)


class ActiveSampler:
    """Samples the number of queued or processing jobs on the server in a thread."""

    def __init__(self, server: LocalServer) -> None:
        self.server = server
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, server_jobs(self.server, ("queued", "processing")))
            time.sleep(0.005)

    def __enter__(self) -> ActiveSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# --- bounded, streaming ---------------------------------------------------------------------


def test_at_most_k_jobs_are_on_the_server_and_outcomes_stream(
    cl_server_factory: ServerFactory, tmp_path: Path
) -> None:
    executor = Executor(delay=0.05)
    server = start(cl_server_factory, executor)
    inputs = make_inputs(tmp_path / "in", 30)
    seen_at: list[float] = []

    async def scenario() -> tuple[list[Outcome[Md5Result]], int]:
        async with client_for(server, tmp_path) as client:
            batch = Batch(Md5Client(client.compute), concurrency=3, timeout=30)
            outcomes: list[Outcome[Md5Result]] = []
            with ActiveSampler(server) as sampler:
                async for outcome in batch.run(iter(inputs)):
                    seen_at.append(time.monotonic())
                    outcomes.append(outcome)
            assert batch.largest_in_flight <= 3
            return outcomes, sampler.peak

    outcomes, peak = run(scenario())
    assert 1 <= peak <= 3
    assert len(outcomes) == 30 and all(o.ok for o in outcomes)
    for outcome in outcomes:
        assert outcome.result is not None
        expected = hashlib.md5(outcome.item.path.read_bytes()).hexdigest()  # noqa: S324
        assert outcome.result.md5 == expected
    # The first outcome arrived well before the last: results stream.
    assert seen_at[-1] - seen_at[0] > 0.3


def test_inputs_are_taken_lazily_from_an_async_iterable(
    cl_server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = start(cl_server_factory, Executor())
    inputs = make_inputs(tmp_path / "in", 6)
    taken: list[int] = []

    async def source() -> AsyncIterator[Path]:
        for i, path in enumerate(inputs):
            taken.append(i)
            yield path

    async def scenario() -> list[int]:
        async with client_for(server, tmp_path) as client:
            batch = Batch(Md5Client(client.compute), concurrency=2, timeout=30)
            taken_when_first: list[int] = []
            async for _ in batch.run(source()):
                if not taken_when_first:
                    taken_when_first = list(taken)
            return taken_when_first

    when_first = run(scenario())
    # At the first outcome only the inputs for the window (and the next waiting for a slot)
    # were taken, not all six.
    assert len(when_first) <= 4


# --- cancellation ---------------------------------------------------------------------------


def test_cancelling_leaves_submitted_jobs_on_the_server_and_lists_them(
    cl_server_factory: ServerFactory, tmp_path: Path
) -> None:
    executor = Executor()
    executor.gate.clear()  # nothing finishes
    server = start(cl_server_factory, executor)
    inputs = make_inputs(tmp_path / "in", 10)

    async def scenario() -> list[tuple[BatchItem, str]]:
        async with client_for(server, tmp_path) as client:
            batch = Batch(Md5Client(client.compute), concurrency=4, timeout=30)

            async def consume() -> None:
                async for _ in batch.run(inputs):
                    pass

            task = asyncio.create_task(consume())
            while len(batch.in_flight) < 4:  # noqa: ASYNC110 - the batch fills its window
                await asyncio.sleep(0.02)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return batch.in_flight

    in_flight = run(scenario())
    executor.gate.set()
    assert len(in_flight) == 4
    assert {item.path for item, _ in in_flight} == set(inputs[:4])
    assert server_jobs(server) == 4  # nothing more was submitted after the cancel


# --- deadlines ------------------------------------------------------------------------------


def test_queue_time_behind_the_batch_does_not_count_toward_the_timeout(
    cl_server_factory: ServerFactory, tmp_path: Path
) -> None:
    # 1 worker, jobs of 0.3 s, 12 in flight: the last one waits ~3.6 s in the queue; the
    # per-job timeout of 1.5 s must not fire on any of them.
    server = start(cl_server_factory, Executor(delay=0.3), workers=1)
    inputs = make_inputs(tmp_path / "in", 24)

    async def scenario() -> list[Outcome[Md5Result]]:
        async with client_for(server, tmp_path) as client:
            batch = Batch(Md5Client(client.compute), concurrency=12, timeout=1.5)
            return [o async for o in batch.run(inputs)]

    outcomes = run(scenario())
    assert [o.error for o in outcomes if o.error is not None] == []


def test_a_job_that_never_starts_hits_the_queue_timeout(
    cl_server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = start(cl_server_factory, Executor(), workers=0)
    [path] = make_inputs(tmp_path / "in", 1)

    async def scenario() -> Outcome[Md5Result]:
        async with client_for(server, tmp_path) as client:
            batch = Batch(Md5Client(client.compute), timeout=30, queue_timeout=0.5)
            return [o async for o in batch.run([path])].pop()

    outcome = run(scenario())
    assert outcome.error is not None
    assert "did not start within 0.5 s" in outcome.error.message
    assert "last status the server confirmed: queued" in outcome.error.message


# --- the journal and resuming ---------------------------------------------------------------


def test_resume_skips_saved_results_reattaches_and_redoes_changed_inputs(
    cl_server_factory: ServerFactory, tmp_path: Path
) -> None:
    executor = Executor()
    server = start(cl_server_factory, executor)
    inputs = make_inputs(tmp_path / "in", 8)
    out = tmp_path / "out"
    journal_path = tmp_path / "journal.sqlite3"

    async def go(force: bool = False) -> list[Outcome[Md5Result]]:
        async with client_for(server, tmp_path) as client:
            with Journal(journal_path) as journal:
                batch = Batch(
                    Md5Client(client.compute),
                    concurrency=3,
                    timeout=30,
                    dest=Folder(out, multi_file=False),
                    journal=journal,
                    force=force,
                )
                items = [BatchItem.of(p) for p in inputs]
                return [o async for o in batch.run(items)]

    first = run(go())
    assert all(o.state == "completed" for o in first)
    assert server_jobs(server) == 8
    saved = sorted(p.name for p in out.iterdir())
    # The server names the result "output" (its params.output_path for this task).
    assert saved == [f"file{i:03d}.txt.output" for i in range(8)]

    again = run(go())
    assert [o.state for o in again] == ["skipped"] * 8
    assert server_jobs(server) == 8  # nothing submitted

    inputs[2].write_text("changed content")
    (out / "file005.txt.output").unlink()  # a saved result went missing
    third = run(go())
    states = {o.item.path.name: (o.state, o.earlier) for o in third}
    assert states["file002.txt"] == ("completed", False)  # changed: a new job
    assert states["file005.txt"] == ("completed", True)  # fetched again from its old job
    assert sum(1 for s, _ in states.values() if s == "skipped") == 6
    assert server_jobs(server) == 9

    forced = run(go(force=True))
    assert all(o.state == "completed" and not o.earlier for o in forced)
    assert server_jobs(server) == 17


def test_resume_reattaches_to_jobs_still_running(
    cl_server_factory: ServerFactory, tmp_path: Path
) -> None:
    executor = Executor()
    executor.gate.clear()
    server = start(cl_server_factory, executor)
    inputs = make_inputs(tmp_path / "in", 5)
    journal_path = tmp_path / "journal.sqlite3"

    async def interrupted() -> int:
        async with client_for(server, tmp_path) as client:
            with Journal(journal_path) as journal:
                batch = Batch(Md5Client(client.compute), concurrency=5, journal=journal)

                async def consume() -> None:
                    async for _ in batch.run(inputs):
                        pass

                task = asyncio.create_task(consume())
                while len(batch.in_flight) < 5:  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                return len(batch.in_flight)

    assert run(interrupted()) == 5
    executor.gate.set()

    async def resumed() -> list[Outcome[Md5Result]]:
        async with client_for(server, tmp_path) as client:
            with Journal(journal_path) as journal:
                batch = Batch(Md5Client(client.compute), concurrency=5, journal=journal)
                return [o async for o in batch.run(inputs)]

    outcomes = run(resumed())
    assert all(o.state == "completed" and o.earlier for o in outcomes)
    assert server_jobs(server) == 5  # re-attached, not submitted again


def test_failed_inputs_are_submitted_again_on_resume(
    cl_server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = start(cl_server_factory, Executor())
    folder = tmp_path / "in"
    [good] = make_inputs(folder, 1)
    bad = folder / "bad.txt"
    bad.write_text("fail this one")
    journal_path = tmp_path / "journal.sqlite3"

    async def go() -> dict[str, Outcome[Md5Result]]:
        async with client_for(server, tmp_path) as client:
            with Journal(journal_path) as journal:
                batch = Batch(Md5Client(client.compute), journal=journal, timeout=30)
                return {o.item.path.name: o async for o in batch.run([good, bad])}

    first = run(go())
    assert first["bad.txt"].state == "failed" and first["file000.txt"].ok
    bad.write_text("now fine")
    second = run(go())
    assert second["bad.txt"].state == "completed" and not second["bad.txt"].earlier
    assert second["file000.txt"].earlier  # its result fetched again, no new job
    assert server_jobs(server) == 3


def test_the_journal_takes_concurrent_writers(tmp_path: Path) -> None:
    from cl_client.journal import InputStat

    path = tmp_path / "journal.sqlite3"
    Journal(path).close()
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with Journal(path) as journal:
                for i in range(50):
                    stat = InputStat(f"/in/{n}/{i}", 1, 1)
                    row = journal.record_pending("key", "http://x", "hash", {}, stat)
                    journal.record_job(row, f"job-{n}-{i}")
                    journal.record_status(row, "completed", outputs=[])
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with Journal(path) as journal:
        rows = list(journal.history(limit=None))
    assert len(rows) == 400
    assert {r.status for r in rows} == {"completed"}


def test_a_corrupt_journal_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(JournalError) as caught:
        Journal(path)
    message = caught.value.message
    assert str(path) in message and "CL_NO_JOURNAL=1" in message
    assert "\n" not in message
