"""The compute service client (async): jobs, files, capabilities and the admin endpoints.

Waiting for a job listens to MQTT first and confirms over HTTP, while polling ``GET /jobs/{id}``
alongside (1 s, then ×1.5 up to 10 s). So a wait finishes even when events are lost, the server
publishes no terminal ``error`` event (older servers), or the broker is down.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Final, TypeVar
from urllib.parse import quote

import msgspec

from cl_client.errors import (
    InvalidInputError,
    JobTimeoutError,
    MalformedResponseError,
    NotFoundError,
    NoWorkerError,
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
from cl_client.tasks import check_input_file
from cl_client.transport import ServiceTransport, check_relative_path, decode, encode_path

if TYPE_CHECKING:
    from cl_client.mqtt import JobWatch, MqttMonitor

log = logging.getLogger(__name__)

POLL_INITIAL: Final = 1.0
POLL_FACTOR: Final = 1.5
POLL_MAX: Final = 10.0

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
        poll_initial: float = POLL_INITIAL,
        poll_factor: float = POLL_FACTOR,
        poll_max: float = POLL_MAX,
        mqtt_connect_timeout: float = 5.0,
    ) -> None:
        self.transport = transport
        self.mqtt = mqtt
        self.poll_initial = poll_initial
        self.poll_factor = poll_factor
        self.poll_max = poll_max
        self.mqtt_connect_timeout = mqtt_connect_timeout

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
    ) -> JobCreated:
        """Upload ``file`` to ``POST /jobs/<task_type>`` with ``form`` and return the new job id.

        With ``check_capability``, fail fast with NoWorkerError when no worker offers the task.
        The MQTT subscription is set up first, so no event of the new job is missed.
        """
        _check_segment("task type", task_type)
        path = check_input_file(file)
        if check_capability:
            await self.require_worker(task_type)
        await self._mqtt_ready()
        data = {key: form_value(value) for key, value in (form or {}).items()}
        data["priority"] = form_value(priority)
        response = await self.transport.upload(f"/jobs/{task_type}", path, data=data)
        return decode(response, JobCreated, service="compute")

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
        on_progress: ProgressCallback | None = None,
        on_complete: CompleteCallback | None = None,
    ) -> Job:
        """Wait until the job is completed or failed and return its final record.

        Progress comes from MQTT events (``source="mqtt"``) and from polling (``"http"``); each
        change is reported once. On a terminal event the record is fetched over HTTP (events carry
        no output or error message). Raises JobTimeoutError after ``timeout`` seconds.
        """
        import asyncio

        _check_segment("job id", job_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout if timeout is not None else None
        monitor = await self._mqtt_ready()
        watch: JobWatch | None = monitor.watch(job_id) if monitor is not None else None
        last: tuple[int, float] | None = None
        status: str | None = None

        async def report(update: JobProgress) -> None:
            # Events and polls race; report each step once and never step backwards.
            nonlocal last, status
            key = (_STAGE.get(update.status, 1), update.progress)
            if last is None or key > last:
                last, status = key, update.status
                await _call(on_progress, update)

        async def finish(job: Job) -> Job:
            await report(
                JobProgress(
                    job_id=job_id, status=job.status, progress=float(job.progress), source="http"
                )
            )
            await _call(on_complete, job)
            return job

        try:
            interval = self.poll_initial
            next_poll = loop.time()
            while True:
                now = loop.time()
                if now >= next_poll:
                    job = await self.get_job(job_id)
                    if job.is_terminal:
                        return await finish(job)
                    await report(
                        JobProgress(
                            job_id=job_id,
                            status=job.status,
                            progress=float(job.progress),
                            source="http",
                        )
                    )
                    next_poll = loop.time() + interval
                    interval = min(interval * self.poll_factor, self.poll_max)
                now = loop.time()
                if deadline is not None and now >= deadline:
                    raise JobTimeoutError(
                        f"job {job_id} did not finish within {timeout:g} s "
                        f"(last status: {status or 'unknown'}) — it goes on on the server; "
                        f"check it later with `cl job get {job_id}`",
                        job_id=job_id,
                        last_status=status,
                    )
                until = next_poll if deadline is None else min(next_poll, deadline)
                event = await self._next_event(watch, until - now)
                if event is None:
                    continue
                progress = float(event.progress) if event.progress is not None else None
                if progress is None:
                    progress = last[1] if last is not None else 0.0
                await report(
                    JobProgress(
                        job_id=job_id, status=event.event_type, progress=progress, source="mqtt"
                    )
                )
                if event.is_terminal:
                    job = await self.get_job(job_id)
                    if job.is_terminal:
                        return await finish(job)
                    # The record lags the event: poll again soon.
                    next_poll = min(next_poll, loop.time() + self.poll_initial)
        finally:
            if watch is not None:
                watch.close()

    @staticmethod
    async def _next_event(watch: JobWatch | None, wait: float) -> JobEvent | None:
        import asyncio

        if wait <= 0:
            return None
        if watch is None:
            await asyncio.sleep(wait)
            return None
        return await watch.get(wait)

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


__all__ = ["CompleteCallback", "ComputeClient", "ProgressCallback", "form_value"]
