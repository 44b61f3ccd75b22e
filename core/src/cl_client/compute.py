"""The compute service client (async): jobs, files, capabilities and the admin endpoints.

Waiting for a job is driven by MQTT events, reconciled over HTTP, and costs the server as little
as the protocol allows:

* While the subscription is live (and was live when the job was submitted), a wait sends no
  request until an event arrives; a terminal event is confirmed with one ``GET /jobs/{id}``
  (events carry no output or error message). A low-rate safety sweep re-checks each job every
  :data:`SWEEP_INTERVAL` seconds in case an event was lost.
* A job that is ``processing`` and has been silent for :data:`SILENCE` seconds is polled every
  :data:`POLL_INTERVAL` seconds: servers before February 2026 publish no ``error`` event, so a
  failure is noticed within about a second either way.
* Without MQTT (broker down, or reconnected since the job started) every job is polled every
  :data:`POLL_INTERVAL` seconds.
* Every repeated status poll of the process passes one token bucket
  (:data:`STATUS_REQUESTS_PER_SECOND`), so thousands of waiters never flood the server; intervals
  stretch instead. Only a job's first look and the confirmation of its terminal event (one each
  per job) go straight through.
* A job's ``timeout`` counts from when it started processing (the ``processing`` event or the
  record), not from submission, so a job queued behind a batch's own jobs does not time out;
  ``queue_timeout`` separately limits how long a job may wait to start.
* Status polls that fail (server restarting, 502/503/504) are retried until the job's own
  deadline; :attr:`ComputeClient.on_notice` is told once that the server is unreachable.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Final, TypeVar
from urllib.parse import quote

import msgspec

from cl_client.errors import (
    ClError,
    InvalidInputError,
    JobTimeoutError,
    MalformedResponseError,
    NotFoundError,
    NoWorkerError,
    ServerError,
    TransportError,
)
from cl_client.models import (
    Capabilities,
    CleanupResult,
    FormValue,
    GuestConfig,
    GuestModeUpdate,
    Health,
    Job,
    JobCreated,
    JobEvent,
    JobProgress,
    JsonObject,
    StorageSize,
)
from cl_client.tasks import QUEUE_TIMEOUT, check_input_file
from cl_client.transport import (
    RETRY_STATUSES,
    ServiceTransport,
    UploadProgress,
    check_relative_path,
    decode,
    encode_path,
)

if TYPE_CHECKING:
    from cl_client.mqtt import JobWatch, MqttMonitor

log = logging.getLogger(__name__)

#: Seconds between status polls of a job that events do not cover.
POLL_INTERVAL: Final = 1.0
#: The first poll of a job submitted while MQTT is down comes sooner: small jobs end fast.
FIRST_POLL: Final = 0.25
#: Seconds of silence after which a processing job is polled even while MQTT is live.
SILENCE: Final = 1.0
#: Seconds between safety re-checks of a job while MQTT is live.
SWEEP_INTERVAL: Final = 30.0
#: Status requests per second for the whole process, shared by every wait.
STATUS_REQUESTS_PER_SECOND: Final = 20.0
#: Longest pause between polls while the server is unreachable.
_UNREACHABLE_MAX_INTERVAL: Final = 5.0

#: Order of job states, for reporting progress monotonically.
_STAGE: Final[dict[str, int]] = {
    "queued": 0,
    "processing": 1,
    "completed": 2,
    "error": 2,
    "failed": 2,
}

ProgressCallback = Callable[[JobProgress], object]
CompleteCallback = Callable[[Job], object]
#: Told about conditions a person should know of while waiting (the server unreachable, …).
NoticeCallback = Callable[[str], object]


class _TokenBucket:
    """Spaces out status requests: at most ``rate`` per second on average, bursts of ``rate``."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._tokens = rate
        self._stamp: float | None = None

    async def acquire(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            if self._stamp is None:
                self._stamp = now
            self._tokens = min(self.rate, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens >= 1:
                self._tokens -= 1
                return
            await asyncio.sleep((1 - self._tokens) / self.rate)


_buckets: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _TokenBucket] = (
    weakref.WeakKeyDictionary()
)


def _status_bucket(rate: float) -> _TokenBucket:
    """The process-wide bucket of the running event loop (one loop, one budget)."""
    loop = asyncio.get_running_loop()
    bucket = _buckets.get(loop)
    if bucket is None:
        bucket = _buckets[loop] = _TokenBucket(rate)
    return bucket


def form_value(value: FormValue) -> str:
    """A form field value as text; booleans as ``true``/``false``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _check_segment(what: str, value: str) -> str:
    """``value`` as one URL path segment: refused if it could name another path, else quoted
    (so ``?``, ``#`` or ``%`` in a job id cannot change the request)."""
    if not value or "/" in value or value in (".", ".."):
        raise InvalidInputError(f"invalid {what} {value!r}")
    return quote(value, safe="")


T = TypeVar("T")


async def _call(callback: Callable[[T], object] | None, arg: T) -> None:
    """Run a user callback, sync or async."""
    if callback is None:
        return
    result = callback(arg)
    if inspect.isawaitable(result):
        await result


class ComputeClient:
    """Async client of the compute service."""

    def __init__(
        self,
        transport: ServiceTransport,
        mqtt: MqttMonitor | None = None,
        *,
        poll_interval: float = POLL_INTERVAL,
        first_poll: float = FIRST_POLL,
        silence: float = SILENCE,
        sweep_interval: float = SWEEP_INTERVAL,
        status_rate: float = STATUS_REQUESTS_PER_SECOND,
        mqtt_connect_timeout: float = 5.0,
        server_id: str | None = None,
    ) -> None:
        self.transport = transport
        #: What names this server in the job journal: its URL, or for a server a launcher starts
        #: per command (new ports every time) the launcher and profile.
        self.server_id = server_id or transport.base_url
        self.mqtt = mqtt
        self.poll_interval = poll_interval
        self.first_poll = first_poll
        self.silence = silence
        self.sweep_interval = sweep_interval
        self.status_rate = status_rate
        self.mqtt_connect_timeout = mqtt_connect_timeout
        #: Called (once per episode) with a line for people, e.g. that the server is unreachable
        #: and the wait keeps trying. ``cl`` prints it on stderr.
        self.on_notice: NoticeCallback | None = None
        # Jobs submitted while the subscription was live, with its epoch then: their waits need
        # no first poll, since every event since creation reaches us.
        self._covered: dict[str, int] = {}
        self._unreachable_noticed = False

    async def _mqtt_ready(self) -> MqttMonitor | None:
        if self.mqtt is None:
            return None
        return self.mqtt if await self.mqtt.start(self.mqtt_connect_timeout) else None

    # -- jobs --------------------------------------------------------------------------------

    async def submit(
        self,
        task_type: str,
        file: str | os.PathLike[str],
        form: Mapping[str, FormValue] | None = None,
        *,
        priority: int = 5,
        check_capability: bool = False,
        on_bytes: UploadProgress | None = None,
    ) -> JobCreated:
        """Upload ``file`` to ``POST /jobs/<task_type>`` with ``form`` and return the new job id.

        With ``check_capability``, fail fast with NoWorkerError when no worker offers the task.
        The MQTT subscription is set up first, so no event of the new job is missed. A failure
        after the upload was sent raises SubmissionUncertainError and is never repeated.
        ``on_bytes`` is called with the size of each uploaded chunk.
        """
        _check_segment("task type", task_type)
        path = check_input_file(file)
        if check_capability:
            await self.require_worker(task_type)
        monitor = await self._mqtt_ready()
        epoch = monitor.epoch if monitor is not None else None
        data = {key: form_value(value) for key, value in (form or {}).items()}
        data["priority"] = form_value(priority)
        response = await self.transport.upload(
            f"/jobs/{task_type}", path, data=data, on_bytes=on_bytes
        )
        created = decode(response, JobCreated, service="compute")
        if monitor is not None and epoch == monitor.epoch and monitor.connected:
            if len(self._covered) >= _MAX_COVERED:
                del self._covered[next(iter(self._covered))]
            self._covered[created.job_id] = monitor.epoch
        return created

    async def get_job(self, job_id: str) -> Job:
        path = f"/jobs/{_check_segment('job id', job_id)}"
        return decode(await self.transport.request("GET", path), Job, service="compute")

    async def delete_job(self, job_id: str) -> None:
        await self.transport.request("DELETE", f"/jobs/{_check_segment('job id', job_id)}")

    async def wait(
        self,
        job_id: str,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - the job's deadline, not an I/O timeout
        queue_timeout: float | None = QUEUE_TIMEOUT,
        on_progress: ProgressCallback | None = None,
        on_complete: CompleteCallback | None = None,
    ) -> Job:
        """Wait until the job is completed or failed and return its final record.

        ``timeout`` limits the job's processing (from when it started), ``queue_timeout`` the
        time it may wait to start (None: no limit); JobTimeoutError when either passes (the job
        keeps running on the server). Progress comes from MQTT events (``source="mqtt"``) and polls
        (``"http"``); each step is reported once, never backwards. See the module docstring for
        when requests are sent.
        """
        _check_segment("job id", job_id)
        return await _Wait(self, job_id, timeout, queue_timeout, on_progress, on_complete).run()

    def _notice_unreachable(self, exc: ClError) -> None:
        if not self._unreachable_noticed:
            self._unreachable_noticed = True
            if self.on_notice is not None:
                self.on_notice(f"{exc.message} — still trying until the job's deadline")

    def _reachable_again(self) -> None:
        if self._unreachable_noticed:
            self._unreachable_noticed = False
            if self.on_notice is not None:
                self.on_notice("the compute service answers again")

    # -- files -------------------------------------------------------------------------------

    def _file_path(self, job_id: str, file_path: str) -> str:
        check_relative_path(file_path)
        return f"/jobs/{_check_segment('job id', job_id)}/files/{encode_path(file_path)}"

    async def download(
        self,
        job_id: str,
        file_path: str,
        dest: Path,
        *,
        on_chunk: Callable[[bytes], object] | None = None,
    ) -> Path:
        """Save a job file and return where it went. ``dest`` is the file to write, an existing
        folder to write into (under the file's base name), or ``-`` for standard output.

        Nothing is written outside ``dest``. A regular file is replaced atomically, so an
        interrupted download leaves nothing behind; a symlink is followed (its target gets the
        content); a device, FIFO or terminal is written in place, never replaced (see
        :meth:`~cl_client.transport.ServiceTransport.download`). ``on_chunk`` sees every piece
        of the file as it arrives."""
        url_path = self._file_path(job_id, file_path)
        is_dir = str(dest) != "-" and dest.is_dir()  # noqa: ASYNC240 - one stat call
        target = dest / file_path.rsplit("/", 1)[-1] if is_dir else dest
        return await self.transport.download(url_path, target, on_chunk=on_chunk)

    async def read_bytes(self, job_id: str, file_path: str) -> bytes:
        """A (small) job file's content, in memory."""
        response = await self.transport.request("GET", self._file_path(job_id, file_path))
        return response.content

    async def read_json(self, job_id: str, file_path: str) -> JsonObject:
        """A JSON object stored as a job file (e.g. ``output/hash.json``)."""
        data = await self.read_bytes(job_id, file_path)
        try:
            value = msgspec.json.decode(data, type=dict[str, object])
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise MalformedResponseError(
                f"job file {file_path} of job {job_id} is not a JSON object: {exc}"
            ) from None
        return value

    # -- service -----------------------------------------------------------------------------

    async def capabilities(self) -> Capabilities:
        response = await self.transport.request("GET", "/capabilities", authenticated=False)
        return decode(response, Capabilities, service="compute")

    async def require_worker(self, task_type: str) -> None:
        """NoWorkerError when no worker offers ``task_type``. Busy workers (0 idle) are fine."""
        if not (await self.capabilities()).offers(task_type):
            raise NoWorkerError(task_type)

    async def health(self) -> Health:
        response = await self.transport.request("GET", "/", authenticated=False)
        return decode(response, Health, service="compute")

    # -- admin -------------------------------------------------------------------------------

    async def guest_mode(self) -> GuestConfig:
        """The guest-mode setting (``GET /admin/config``; newer servers: ``/admin/pref``)."""
        try:
            response = await self.transport.request("GET", "/admin/config")
        except NotFoundError:
            response = await self.transport.request("GET", "/admin/pref")
        return decode(response, GuestConfig, service="compute")

    async def set_guest_mode(self, enabled: bool) -> GuestModeUpdate:
        response = await self.transport.request(
            "PUT", "/admin/config/guest-mode", data={"guest_mode": form_value(enabled)}
        )
        return decode(response, GuestModeUpdate, service="compute")

    async def storage_size(self) -> StorageSize:
        response = await self.transport.request("GET", "/admin/jobs/storage/size")
        return decode(response, StorageSize, service="compute")

    async def cleanup(self, days: int = 7) -> CleanupResult:
        response = await self.transport.request(
            "DELETE", "/admin/jobs/cleanup", params={"days": days}
        )
        return decode(response, CleanupResult, service="compute")


_MAX_COVERED: Final = 10_000


def _is_retryable_status_failure(exc: ClError) -> bool:
    """A failed status poll worth repeating until the job's deadline."""
    return isinstance(exc, TransportError) or (
        isinstance(exc, ServerError) and exc.status_code in RETRY_STATUSES
    )


class _Wait:
    """The state of one wait (see :meth:`ComputeClient.wait`)."""

    def __init__(
        self,
        compute: ComputeClient,
        job_id: str,
        timeout: float | None,
        queue_timeout: float | None,
        on_progress: ProgressCallback | None,
        on_complete: CompleteCallback | None,
    ) -> None:
        self.compute = compute
        self.job_id = job_id
        self.timeout = timeout
        self.queue_timeout = queue_timeout
        self.on_progress = on_progress
        self.on_complete = on_complete
        self.loop = asyncio.get_running_loop()
        self.begun = self.loop.time()
        #: Loop time when the job was first seen out of the queue.
        self.started: float | None = None
        #: The last status the server itself confirmed over HTTP.
        self.confirmed: str | None = None
        self.last_key: tuple[int, float] | None = None
        self.last_event = self.begun
        self.failures = 0
        self.terminal_events = 0

    async def report(self, update: JobProgress) -> None:
        # Events and polls race; report each step once and never step backwards.
        key = (_STAGE.get(update.status, 1), update.progress)
        if self.last_key is None or key > self.last_key:
            self.last_key = key
            await _call(self.on_progress, update)

    def mark_started(self, status: str) -> None:
        if self.started is None and status != "queued":
            self.started = self.loop.time()

    def deadline(self) -> float | None:
        """When the wait gives up: the processing limit once started, else the queue limit."""
        if self.started is not None:
            return None if self.timeout is None else self.started + self.timeout
        if self.queue_timeout is None:
            return None
        return self.begun + self.queue_timeout

    def timed_out(self) -> JobTimeoutError:
        status = self.confirmed or "unknown"
        if self.started is not None:
            what = f"did not finish within {self.timeout:g} s of starting"
        else:
            what = f"did not start within {self.queue_timeout:g} s"
        return JobTimeoutError(
            f"job {self.job_id} {what} (last status the server confirmed: {status}); it keeps "
            f"running on the server — check it later with `cl job get {self.job_id}`",
            job_id=self.job_id,
            last_status=self.confirmed,
        )

    async def poll(self, *, needed: bool = False) -> Job | None:
        """One status request; None when it failed in a way worth retrying (the failure is
        noticed once). Speculative polls pass the process-wide budget; ``needed`` ones (the
        first look at a job, the confirmation of a terminal event) are one per job and do not."""
        compute = self.compute
        if not needed:
            await _status_bucket(compute.status_rate).acquire()
        try:
            job = await compute.get_job(self.job_id)
        except ClError as exc:
            if not _is_retryable_status_failure(exc):
                raise
            self.failures += 1
            compute._notice_unreachable(exc)  # pyright: ignore[reportPrivateUsage]
            return None
        if self.failures:
            self.failures = 0
            compute._reachable_again()  # pyright: ignore[reportPrivateUsage]
        self.confirmed = job.status
        self.mark_started(job.status)
        if job.started_at is not None and self.started is None:
            self.started = self.loop.time()
        return job

    async def finish(self, job: Job) -> Job:
        await self.report(
            JobProgress(
                job_id=self.job_id, status=job.status, progress=float(job.progress), source="http"
            )
        )
        await _call(self.on_complete, job)
        return job

    def next_poll_after(self, covered: bool) -> float:
        """Seconds from now until the next status poll."""
        compute = self.compute
        if self.failures:
            return min(
                compute.poll_interval * (2 ** min(self.failures, 4)), _UNREACHABLE_MAX_INTERVAL
            )
        if not covered:
            return compute.poll_interval
        if self.started is not None:
            # Processing: poll once it has been silent for a while (no `error` event on older
            # servers), then every poll_interval while it stays silent.
            quiet_until = self.last_event + compute.silence
            return max(quiet_until - self.loop.time(), 0.0) or compute.poll_interval
        return compute.sweep_interval

    async def run(self) -> Job:
        compute = self.compute
        await compute._mqtt_ready()  # pyright: ignore[reportPrivateUsage]
        # Watch even while the broker is down: events flow once paho has reconnected.
        monitor = compute.mqtt
        watch: JobWatch | None = monitor.watch(self.job_id) if monitor is not None else None
        epoch = compute._covered.pop(self.job_id, None)  # pyright: ignore[reportPrivateUsage]
        try:
            if epoch is None:
                # Submitted elsewhere, earlier, or while MQTT was down: find out where it is.
                live = monitor is not None and monitor.connected
                first = 0.0 if live else compute.first_poll
                next_poll = self.loop.time() + first
                epoch = monitor.epoch if monitor is not None and monitor.connected else -1
            else:
                next_poll = self.loop.time() + compute.sweep_interval
            while True:
                covered = monitor is not None and monitor.connected and monitor.epoch == epoch
                now = self.loop.time()
                if now >= next_poll:
                    job = await self.poll(needed=self.confirmed is None and not self.failures)
                    if job is not None:
                        if job.is_terminal:
                            return await self.finish(job)
                        await self.report(
                            JobProgress(
                                job_id=self.job_id,
                                status=job.status,
                                progress=float(job.progress),
                                source="http",
                            )
                        )
                        if monitor is not None and monitor.connected and not covered:
                            # Reconciled: from here on, events cover the job again.
                            epoch = monitor.epoch
                            covered = True
                    next_poll = self.loop.time() + self.next_poll_after(covered)
                    continue
                deadline = self.deadline()
                if deadline is not None and now >= deadline:
                    # One last look, so the error names the status the server confirms (and a
                    # job that just ended is not reported as timed out).
                    was_queued = self.started is None
                    job = await self.poll()
                    if job is not None and job.is_terminal:
                        return await self.finish(job)
                    if was_queued and self.started is not None:
                        continue  # it just started: the processing limit applies now
                    raise self.timed_out()
                if not covered:
                    next_poll = min(next_poll, now + compute.poll_interval)
                until = next_poll if deadline is None else min(next_poll, deadline)
                event = await _next_event(watch, until - now)
                if event is None:
                    continue
                self.last_event = self.loop.time()
                self.mark_started(event.event_type)
                progress = float(event.progress) if event.progress is not None else None
                if progress is None:
                    progress = self.last_key[1] if self.last_key is not None else 0.0
                if event.is_terminal:
                    # Events carry no output or error message, and could be forged: confirm.
                    # Only the first goes straight through: a flood of forged events would
                    # otherwise bypass the budget.
                    self.terminal_events += 1
                    job = await self.poll(needed=self.terminal_events == 1)
                    if job is not None and job.is_terminal:
                        await self.report(
                            JobProgress(
                                job_id=self.job_id,
                                status=event.event_type,
                                progress=progress,
                                source="mqtt",
                            )
                        )
                        return await self.finish(job)
                    # The record lags the event (or the event lied): look again soon.
                    next_poll = min(next_poll, self.loop.time() + 0.2)
                    continue
                await self.report(
                    JobProgress(
                        job_id=self.job_id,
                        status=event.event_type,
                        progress=progress,
                        source="mqtt",
                    )
                )
                if self.started is not None and covered:
                    next_poll = self.loop.time() + self.next_poll_after(covered)
        finally:
            if watch is not None:
                watch.close()


async def _next_event(watch: JobWatch | None, wait: float) -> JobEvent | None:
    if wait <= 0:
        return None
    if watch is None:
        await asyncio.sleep(wait)
        return None
    return await watch.get(wait)


__all__ = [
    "QUEUE_TIMEOUT",
    "CompleteCallback",
    "ComputeClient",
    "NoticeCallback",
    "ProgressCallback",
    "form_value",
]
