"""Batches at library scale: a bounded, streaming, journaled batch of one task over many inputs.

::

    async with Client() as client:
        batch = Batch(HashClient(client.compute), {"algorithm": "md5"}, concurrency=8)
        async for outcome in batch.run(Path("photos").rglob("*.jpg")):
            print(outcome.item.path, outcome.result.hash_value if outcome.result else outcome.error)

What it promises:

* **Bounded.** At most ``concurrency`` jobs are in flight (submitted and not yet finished with
  their results collected); the next input is submitted only when a slot frees. Inputs are taken
  lazily from any iterable or async iterable, and outcomes are handed out, not kept, so memory does
  not grow with the number of inputs.
* **Streaming.** Each input's :class:`Outcome` is yielded as soon as it is complete.
* **Journaled and resumable.** With a :class:`~cl_client.journal.Journal`, every submission is
  recorded before the upload, after it and at the end. Running the same batch again (same task,
  form fields and server) re-attaches to jobs still running from an earlier run (even one killed
  with ``kill -9``), skips inputs whose result was saved and whose files are still there, fetches
  the results of finished jobs again when they were not saved (no new job, no upload), and submits
  only what has no job or a failed one. ``force=True`` submits everything again. An upload that
  failed after it was sent may have created a job that cannot be found (the protocol has no job
  listing): it is recorded as ``uncertain`` and submitted again on the next run.
* **Interruptible.** Cancelling the iteration (Ctrl-C, ``task.cancel()``) stops submitting, lets
  uploads already sent finish so their job ids are recorded, leaves submitted jobs running on the
  server and lists them in :attr:`Batch.in_flight`.
* **Deadlines that mean what they say.** ``timeout`` limits a job's processing from when it
  started, not its wait behind the batch's own jobs; ``queue_timeout`` limits that wait.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Final, Generic, Literal, Protocol, TypeVar

from cl_client.errors import (
    ClError,
    InvalidInputError,
    JobTimeoutError,
    NotFoundError,
    SubmissionUncertainError,
)
from cl_client.journal import REATTACH_STATES, InputStat, batch_key
from cl_client.tasks import QUEUE_TIMEOUT, TaskResult, job_failed_error

if TYPE_CHECKING:
    from cl_client.journal import Journal, JournalEntry
    from cl_client.models import FormValue, Job, JobProgress
    from cl_client.tasks import TaskClient

log = logging.getLogger(__name__)

R = TypeVar("R", bound=TaskResult)
R_co = TypeVar("R_co", bound=TaskResult, covariant=True)
R_contra = TypeVar("R_contra", bound=TaskResult, contravariant=True)

#: Jobs in flight at once unless told otherwise.
DEFAULT_CONCURRENCY: Final = 4
#: Inputs up to this size are hashed for the journal on the event loop, larger ones in a thread.
_INLINE_DIGEST_BYTES: Final = 256 * 1024
#: Seconds a cancelled batch waits for uploads already sent, so their job ids are recorded.
_SETTLE_SECONDS: Final = 10.0

OutcomeState = Literal["completed", "failed", "skipped", "submitted"]


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One input: the file, and its path relative to the folder it was found in (``rel``, for
    laying out outputs; the file name for a file given directly)."""

    path: Path
    rel: PurePosixPath

    @classmethod
    def of(cls, value: BatchItem | str | os.PathLike[str]) -> BatchItem:
        if isinstance(value, BatchItem):
            return value
        path = Path(value)
        return cls(path, PurePosixPath(path.name or "input"))


class Destination(Protocol):
    """Where a batch saves each input's results."""

    def path_for(self, item: BatchItem, job: Job) -> Path:
        """What to pass as ``dest`` to the task client's ``collect`` for this input: a file for
        single-file results, a folder for multi-file ones."""
        ...

    def holds(self, item: BatchItem, job_id: str, saved: Sequence[Path]) -> bool:
        """True if ``saved`` (what an earlier run saved for this input) is where this
        destination would put the results, so the input can be skipped."""
        ...


class Folder:
    """Results under ``root``, mirroring each input's ``rel`` path: ``root/a/b.jpg.hash.json``
    for a single-file result (the input's full name, then the server's file name, so
    ``b.jpg`` and ``b.mp4`` never collide), ``root/a/b.mp4/`` holding every file of a
    multi-file result."""

    def __init__(self, root: Path, *, multi_file: bool) -> None:
        self.root = root
        self.multi_file = multi_file

    def _base(self, item: BatchItem) -> Path:
        return self.root.joinpath(*item.rel.parts)

    def path_for(self, item: BatchItem, job: Job) -> Path:
        base = self._base(item)
        if self.multi_file:
            return base
        server_name = PurePosixPath(job.output_path or "output").name or "output"
        return base.with_name(f"{base.name}.{server_name}")

    def holds(self, item: BatchItem, job_id: str, saved: Sequence[Path]) -> bool:
        base = self._base(item).absolute()
        for path in saved:
            if not path.is_file():
                return False
            inside = (
                base in path.parents
                if self.multi_file
                else (path.parent == base.parent and path.name.startswith(base.name + "."))
            )
            if not inside:
                return False
        return bool(saved)


@dataclass(frozen=True, kw_only=True)
class Outcome(Generic[R_co]):
    """What became of one input."""

    item: BatchItem
    state: OutcomeState
    job_id: str | None = None
    #: The final job record (None when skipped, not waited for, or never submitted).
    job: Job | None = None
    result: R_co | None = None
    error: ClError | None = None
    #: Files saved for this input (for a skipped input: those an earlier run saved).
    saved: list[Path] = field(default_factory=list[Path])
    #: True when the job came from an earlier run (re-attached or its result fetched again).
    earlier: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict[str, object]:
        """One JSON object per input: the result's JSON (the job record, ``result`` and
        ``downloaded``) when there is one, else ``job_id``, ``status`` and any ``error``; always
        with ``input``, the local path."""
        out: dict[str, object] = {"input": str(self.item.path)}
        if self.result is not None:
            out.update(self.result.to_json())
        elif self.job is not None:
            out.update(self.job.to_dict())
        else:
            out["job_id"] = self.job_id
            out["status"] = self.state if self.state != "failed" else "error"
        if self.state == "skipped":
            out["skipped"] = True
            out["downloaded"] = [str(p) for p in self.saved]
        if self.error is not None:
            out["error"] = {
                "message": self.error.message,
                "type": type(self.error).__name__,
                "exit_code": self.error.exit_code,
            }
        return out


class BatchObserver(Generic[R_contra]):
    """What a batch tells about its inputs as they move (for progress displays). Every method
    is a no-op here; override the ones you need."""

    def input_seen(self, item: BatchItem) -> None:
        """An input was taken from the iterable."""

    def uploading(self, item: BatchItem, sent: int, size: int) -> None:
        """``sent`` of ``size`` bytes of the input are uploaded."""

    def submitted(self, item: BatchItem, job_id: str) -> None:
        """The job exists on the server (or was found from an earlier run)."""

    def progress(self, item: BatchItem, update: JobProgress) -> None:
        """The job moved (status or progress)."""

    def finished(self, outcome: Outcome[R_contra]) -> None:
        """The input is done; its outcome is about to be yielded."""


@dataclass(frozen=True, slots=True)
class _Plan:
    kind: Literal["submit", "attach", "skip"]
    stat: InputStat
    entry: JournalEntry | None = None


class Batch(Generic[R]):
    """One task over many inputs (see the module docstring).

    ``form`` holds the task's form fields (build them with the task client's ``build_form``);
    together with the task type and the server (``server``, by default the compute client's
    ``server_id``) they identify the batch in the journal.
    """

    def __init__(
        self,
        task: TaskClient[R],
        form: Mapping[str, FormValue] | None = None,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        priority: int = 5,
        timeout: float | None = None,
        queue_timeout: float | None = QUEUE_TIMEOUT,
        dest: Destination | None = None,
        journal: Journal | None = None,
        force: bool = False,
        wait: bool = True,
        observer: BatchObserver[R] | None = None,
        server: str | None = None,
    ) -> None:
        if concurrency < 1:
            raise InvalidInputError(f"concurrency must be at least 1, got {concurrency}")
        from cl_client.compute import form_value

        self.task = task
        self.form: dict[str, str] = {k: form_value(v) for k, v in (form or {}).items()}
        self.concurrency = concurrency
        self.priority = priority
        self.timeout = timeout
        self.queue_timeout = queue_timeout
        self.dest = dest
        self.journal = journal
        self.force = force
        self.wait = wait
        self.observer: BatchObserver[R] = observer or BatchObserver[R]()
        server = server or task.compute.server_id
        self.key = batch_key(server, task.task_type, self.form)
        self._server = server
        #: Counts so far.
        self.completed = 0
        self.failed = 0
        self.skipped = 0
        self.submitted = 0
        #: Jobs submitted and not yet finished: the input and its job id.
        self._in_flight: dict[BatchItem, str] = {}
        # Whether the journal held no row of this batch when the run began (None: not asked yet).
        self._fresh_batch: bool | None = None
        self._largest_in_flight = 0

    # -- what the caller sees ----------------------------------------------------------------

    @property
    def in_flight(self) -> list[tuple[BatchItem, str]]:
        """Inputs whose jobs are on the server and not finished (e.g. after cancelling)."""
        return list(self._in_flight.items())

    @property
    def largest_in_flight(self) -> int:
        """The most jobs that were ever in flight at once (never above ``concurrency``)."""
        return self._largest_in_flight

    async def run(
        self,
        inputs: Iterable[BatchItem | str | os.PathLike[str]]
        | AsyncIterable[BatchItem | str | os.PathLike[str]],
    ) -> AsyncIterator[Outcome[R]]:
        """Process ``inputs``, yielding each input's outcome as it completes."""
        results: asyncio.Queue[Outcome[R] | BaseException | None] = asyncio.Queue(
            maxsize=self.concurrency * 2
        )
        slots = asyncio.Semaphore(self.concurrency)
        workers: set[asyncio.Task[None]] = set()
        uploads: set[asyncio.Task[str]] = set()

        async def work(item: BatchItem, plan: _Plan) -> None:
            try:
                outcome = await self._process(item, plan, uploads)
                self.observer.finished(outcome)
                await results.put(outcome)
            finally:
                slots.release()

        async def produce() -> None:
            try:
                async for raw in _iterate(inputs):
                    item = BatchItem.of(raw)
                    self.observer.input_seen(item)
                    plan = await self._plan(item)
                    if isinstance(plan, Outcome):
                        self.observer.finished(plan)
                        await results.put(plan)
                        continue
                    await slots.acquire()
                    task = asyncio.create_task(work(item, plan))
                    workers.add(task)
                    task.add_done_callback(workers.discard)
                while workers:
                    await asyncio.gather(*list(workers))
                await results.put(None)
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # handed to the consumer, raised there
                await results.put(exc)

        producer = asyncio.create_task(produce())
        try:
            while True:
                got = await results.get()
                if got is None:
                    break
                if isinstance(got, BaseException):
                    raise got
                yield got
        finally:
            left = {producer, *workers}
            while left:
                # Repeated: a cancellation can be lost in a race inside a library call.
                for task in left:
                    task.cancel()
                _, left = await asyncio.wait(left, timeout=1.0)
            if uploads:
                # Uploads already sent: let them finish, so their jobs are recorded and listed.
                pending = set(uploads)
                _, late = await asyncio.wait(pending, timeout=_SETTLE_SECONDS)
                for task in late:
                    task.cancel()
                for outcome in await asyncio.gather(*pending, return_exceptions=True):
                    # Their failures were already recorded in the journal by _submit.
                    del outcome

    # -- one input --------------------------------------------------------------------------

    async def _plan(self, item: BatchItem) -> _Plan | Outcome[R]:
        """Decide from the journal what to do with ``item``: submit, re-attach or skip."""
        try:
            stat = InputStat.of(item.path)
        except OSError as exc:
            return self._failed(item, InvalidInputError(_os_message(exc, item.path)))
        if self.journal is None or self.force:
            return _Plan("submit", stat)
        if self._fresh_batch is None:
            self._fresh_batch = not self.journal.has_batch(self.key)
        if self._fresh_batch:
            return _Plan("submit", stat)  # nothing to resume: no lookup per input
        entry = self.journal.latest(self.key, stat.path)
        if entry is None or entry.job_id is None:
            return _Plan("submit", stat)
        if not await asyncio.to_thread(entry.same_input, stat):
            return _Plan("submit", stat)
        if entry.status == "completed":
            saved = [Path(p) for p in entry.outputs]
            if self.dest is not None and await asyncio.to_thread(
                self.dest.holds, item, entry.job_id, saved
            ):
                self.skipped += 1
                return Outcome(
                    item=item, state="skipped", job_id=entry.job_id, saved=saved, earlier=True
                )
            return _Plan("attach", stat, entry)
        if entry.status in REATTACH_STATES:
            return _Plan("attach", stat, entry)
        return _Plan("submit", stat)

    def _failed(self, item: BatchItem, error: ClError, job_id: str | None = None) -> Outcome[R]:
        self.failed += 1
        return Outcome(item=item, state="failed", job_id=job_id, error=error)

    async def _process(
        self, item: BatchItem, plan: _Plan, uploads: set[asyncio.Task[str]]
    ) -> Outcome[R]:
        row: int | None = plan.entry.id if plan.entry is not None else None
        job_id = plan.entry.job_id if plan.entry is not None else None
        earlier = plan.kind == "attach"
        try:
            if plan.kind == "attach" and job_id is not None:
                self._track(item, job_id)
                self.observer.submitted(item, job_id)
                try:
                    return await self._finish(item, job_id, row, earlier=True)
                except NotFoundError:
                    # The server no longer has it (deleted, or a reset server): submit again.
                    self._in_flight.pop(item, None)
                    earlier = False
            row = None  # a failed upload is recorded by _submit, on a row of its own
            row, job_id = await self._submit(item, plan.stat, uploads)
            if not self.wait:
                self._in_flight.pop(item, None)
                self.submitted += 1
                return Outcome(item=item, state="submitted", job_id=job_id)
            return await self._finish(item, job_id, row, earlier=earlier)
        except OSError as exc:
            # A local write of the results failed (permissions, disk full): this input failed.
            self._in_flight.pop(item, None)
            where = Path(exc.filename) if isinstance(exc.filename, str) else item.path
            return self._failed(item, InvalidInputError(_os_message(exc, where)), job_id)
        except ClError as exc:
            self._in_flight.pop(item, None)
            if row is not None and self.journal is not None and isinstance(exc, JobTimeoutError):
                self.journal.record_status(row, "timeout", error=exc.message)
            return self._failed(item, exc, job_id)

    def _track(self, item: BatchItem, job_id: str) -> None:
        self._in_flight[item] = job_id
        self._largest_in_flight = max(self._largest_in_flight, len(self._in_flight))

    async def _submit(
        self, item: BatchItem, stat: InputStat, uploads: set[asyncio.Task[str]]
    ) -> tuple[int | None, str]:
        row: int | None = None
        if self.journal is not None:
            # Small files are hashed in place: a thread hop costs more than reading them.
            if stat.size <= _INLINE_DIGEST_BYTES:
                stat = stat.with_digest()
            else:
                stat = await asyncio.to_thread(stat.with_digest)
            row = self.journal.record_pending(
                self.key, self._server, self.task.task_type, self.form, stat
            )
        sent = 0

        def on_bytes(n: int) -> None:
            nonlocal sent
            sent += n
            self.observer.uploading(item, sent, stat.size)

        async def upload() -> str:
            # Every journal write of the upload happens here, not in the caller: a cancelled
            # batch still records the jobs it created and the uploads that failed.
            try:
                created = await self.task.submit_form(
                    item.path, self.form, priority=self.priority, on_bytes=on_bytes
                )
            except ClError as exc:
                if row is not None and self.journal is not None:
                    status = "uncertain" if isinstance(exc, SubmissionUncertainError) else "error"
                    self.journal.record_status(row, status, error=exc.message)
                raise
            self._track(item, created.job_id)
            log.debug("%s: submitted as job %s", item.path, created.job_id)
            if row is not None and self.journal is not None:
                self.journal.record_job(row, created.job_id)
            return created.job_id

        task = asyncio.create_task(upload())
        uploads.add(task)
        task.add_done_callback(uploads.discard)
        job_id = await asyncio.shield(task)
        self.observer.submitted(item, job_id)
        return row, job_id

    async def _finish(
        self, item: BatchItem, job_id: str, row: int | None, *, earlier: bool
    ) -> Outcome[R]:
        compute = self.task.compute

        def on_progress(update: JobProgress) -> None:
            self.observer.progress(item, update)

        job = await compute.wait(
            job_id, timeout=self.timeout, queue_timeout=self.queue_timeout, on_progress=on_progress
        )
        if job.failed:
            error = job_failed_error(job)
            if row is not None and self.journal is not None:
                self.journal.record_status(row, "error", error=job.error_message or "failed")
            self._in_flight.pop(item, None)
            self.failed += 1
            return Outcome(
                item=item, state="failed", job_id=job_id, job=job, error=error, earlier=earlier
            )
        dest = self.dest.path_for(item, job) if self.dest is not None else None
        try:
            result = await self.task.collect(job, dest)
        except (ClError, OSError) as exc:
            if isinstance(exc, OSError):
                where = Path(exc.filename) if isinstance(exc.filename, str) else item.path
                exc = InvalidInputError(_os_message(exc, where))
            if row is not None and self.journal is not None:
                self.journal.record_status(row, "collect_failed", error=exc.message)
            self._in_flight.pop(item, None)
            self.failed += 1
            return Outcome(
                item=item, state="failed", job_id=job_id, job=job, error=exc, earlier=earlier
            )
        if row is not None and self.journal is not None:
            self.journal.record_status(row, "completed", outputs=result.downloaded)
        self._in_flight.pop(item, None)
        self.completed += 1
        return Outcome(
            item=item,
            state="completed",
            job_id=job_id,
            job=job,
            result=result,
            saved=list(result.downloaded),
            earlier=earlier,
        )


def _os_message(exc: OSError, path: Path) -> str:
    return f"{exc.strerror or type(exc).__name__}: {path}"


async def _iterate(
    inputs: Iterable[BatchItem | str | os.PathLike[str]]
    | AsyncIterable[BatchItem | str | os.PathLike[str]],
) -> AsyncIterator[BatchItem | str | os.PathLike[str]]:
    if isinstance(inputs, AsyncIterable):
        async for item in inputs:
            yield item
        return
    for item in inputs:
        yield item
        # Let running jobs make progress between inputs taken from a fast iterable.
        await asyncio.sleep(0)


__all__ = [
    "DEFAULT_CONCURRENCY",
    "Batch",
    "BatchItem",
    "BatchObserver",
    "Destination",
    "Folder",
    "Outcome",
    "OutcomeState",
]
