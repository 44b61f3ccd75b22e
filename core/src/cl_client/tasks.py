"""The base every typed task client builds on.

A plugin's library client subclasses :class:`TaskClient` for one task type: it validates its
parameters before sending (raising :class:`~cl_client.errors.InvalidInputError`), submits through
:meth:`TaskClient.submit_form`, and turns a completed job into a typed result by reading the job's
real result files in :meth:`TaskClient.collect` (through :meth:`TaskClient.fetch_json` or
:meth:`TaskClient.fetch_bytes`).
"""

from __future__ import annotations

import json
import math
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Final, Generic, TypeVar, cast

from cl_client.errors import InvalidInputError, JobFailedError, MalformedResponseError
from cl_client.models import FormValue, Job, JobCreated, JobProgress, JsonObject
from cl_client.transport import check_result_path

if TYPE_CHECKING:
    from cl_client.compute import ComputeClient
    from cl_client.transport import UploadProgress

#: Seconds a job may wait in the server's queue to start before a wait gives up on it (see
#: :meth:`cl_client.compute.ComputeClient.wait`).
QUEUE_TIMEOUT: Final = 600.0

ProgressCallback = Callable[[JobProgress], object]


@dataclass(kw_only=True)
class TaskResult:
    """A finished job and the files saved locally for it. Plugins subclass it with typed fields."""

    job: Job
    downloaded: list[Path] = field(default_factory=list[Path])
    #: What a person knows the input as (the batch sets the local path); see :attr:`title`.
    label: str | None = None

    @property
    def input_name(self) -> str:
        """The uploaded file's name, from ``params.input_path`` (the job id when it has none)."""
        value = self.job.params.get("input_path")
        return Path(value).name if isinstance(value, str) else self.job.job_id

    @property
    def title(self) -> str:
        """The heading of this result in human output: the input and the job id."""
        return f"{self.label or self.input_name} (job {self.job.job_id})"

    def to_json(self) -> JsonObject:
        """What ``--json`` prints: the job record as the server returns it, plus ``downloaded`` when
        files were saved."""
        out = self.job.to_dict()
        if self.downloaded:
            out["downloaded"] = [str(p) for p in self.downloaded]
        return out


R = TypeVar("R", bound=TaskResult)


class TaskClient(ABC, Generic[R]):
    """Typed client for one task type, wrapping a shared
    :class:`~cl_client.compute.ComputeClient`."""

    #: The PROTOCOL task name, e.g. ``"hash"``; also the ``POST /jobs/<task_type>`` route.
    task_type: ClassVar[str]
    #: True when a result spans several files (face crops, HLS): ``dest`` is then a directory.
    multi_file: ClassVar[bool] = False
    #: The media types the task takes, as MIME prefixes (``"image/"``, ``"video/"``); empty means
    #: any file. Files found while walking a folder that match none are skipped, not uploaded.
    accepts: ClassVar[tuple[str, ...]] = ()

    def __init__(self, compute: ComputeClient) -> None:
        self.compute = compute

    async def submit_form(
        self,
        file: str | os.PathLike[str],
        form: Mapping[str, FormValue],
        *,
        priority: int = 5,
        on_bytes: UploadProgress | None = None,
    ) -> JobCreated:
        """Check the file and priority, then upload ``file`` with ``form`` to the task's route.
        ``on_bytes`` is told the size of each uploaded chunk."""
        path = check_input_file(file)
        check_int_range("priority", priority, 0, 10)
        return await self.compute.submit(
            self.task_type, path, form, priority=priority, on_bytes=on_bytes
        )

    @classmethod
    def accepts_file(cls, path: Path) -> bool:
        """Whether a file found in a folder looks like something this task takes (by name)."""
        if not cls.accepts:
            return True
        import mimetypes

        guessed = mimetypes.guess_type(path.name)[0] or ""
        return guessed.startswith(cls.accepts)

    async def result_files(self, job: Job) -> list[str]:
        """The paths of the completed ``job``'s result files inside the job (for ``cl job files``
        and ``cl job download --all``). The default is the main output, ``params.output_path``;
        tasks with more files (face crops, HLS segments) override it."""
        path = job.output_path
        return [path] if path else []

    @abstractmethod
    async def collect(self, job: Job, dest: Path | None = None) -> R:
        """Build the typed result of a completed ``job`` from its result files.

        With ``dest``, also save the result file(s) there: for single-file results ``dest`` is the
        file to write (or an existing directory to write into under the server's file name); for
        ``multi_file`` results it is a directory. Record every saved path in ``downloaded``.
        """

    async def fetch_bytes(
        self, job: Job, file_path: str, dest: Path | None = None
    ) -> tuple[bytes, Path | None]:
        """The content of ``job``'s file ``file_path``, for :meth:`collect`. With ``dest`` the file
        is saved there first (a file, or an existing folder to save into under the server's name)
        and read from the saved copy; the saved path comes back with the content (None without
        ``dest``)."""
        check_result_path(file_path)
        if dest is None:
            return await self.compute.read_bytes(job.job_id, file_path), None
        # Kept as it streams by: dest may be a device, FIFO or stdout, which cannot be read back.
        chunks: list[bytes] = []
        saved = await self.compute.download(job.job_id, file_path, dest, on_chunk=chunks.append)
        return b"".join(chunks), saved

    async def fetch_json(
        self, job: Job, file_path: str, dest: Path | None = None
    ) -> tuple[JsonObject, Path | None]:
        """The JSON object in ``job``'s file ``file_path`` (e.g. ``output/hash.json``), for
        :meth:`collect`. With ``dest`` the file is saved there first (a file, or an existing
        folder to save into under the server's name) and read from the saved copy; the saved path
        comes back with the object (None without ``dest``). MalformedResponseError if the file
        does not hold a JSON object."""
        data, saved = await self.fetch_bytes(job, file_path, dest)
        return parse_json_object(data, f"job file {file_path} of job {job.job_id}"), saved

    async def wait_result(
        self,
        job_id: str,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - the timeout is the job's, not the call's
        on_progress: ProgressCallback | None = None,
        dest: Path | None = None,
        queue_timeout: float | None = QUEUE_TIMEOUT,
    ) -> R:
        """Wait for ``job_id`` to finish and collect its result.

        ``timeout`` limits the job's processing once it started, ``queue_timeout`` its wait to
        start. Raises :class:`~cl_client.errors.JobFailedError` when the job ends in ``error``
        and :class:`~cl_client.errors.JobTimeoutError` when it does not finish in time.
        """
        job = await self.compute.wait(
            job_id, timeout=timeout, queue_timeout=queue_timeout, on_progress=on_progress
        )
        if job.failed:
            raise job_failed_error(job)
        return await self.collect(job, dest)


def job_failed_error(job: Job) -> JobFailedError:
    """The error for a job that ended in ``error``."""
    return JobFailedError(
        f"job {job.job_id} ({job.task_type}) failed: {job.error_message or 'no message'}",
        job_id=job.job_id,
        error_message=job.error_message,
    )


def load_json_file(path: Path) -> JsonObject:
    """The JSON object in a local file; MalformedResponseError if it holds anything else."""
    return parse_json_object(path.read_bytes(), str(path))


def parse_json_object(data: bytes, what: str) -> JsonObject:
    """The JSON object in ``data`` (``what`` names it in errors); MalformedResponseError if it
    is not valid JSON or not an object."""
    try:
        value: object = json.loads(data)
    except ValueError as exc:
        raise MalformedResponseError(f"{what} is not valid JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise MalformedResponseError(f"{what} does not hold a JSON object")
    return cast(JsonObject, value)


# --- validation helpers shared by every task client -----------------------------------------


def check_input_file(file: str | os.PathLike[str]) -> Path:
    """Return ``file`` as a Path if it is an existing, readable regular file; else
    InvalidInputError saying what it is instead (missing, a symlink loop, a folder, …)."""
    import errno
    import stat

    path = Path(file)
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InvalidInputError(f"{path} is a symlink loop (it leads back to itself)") from None
        if exc.errno == errno.ENOENT and path.is_symlink():
            raise InvalidInputError(
                f"file not found: {path} is a symlink to {path.readlink()}, which does not exist"
            ) from None
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            raise InvalidInputError(f"file not found: {path}") from None
        raise InvalidInputError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(mode):
        raise InvalidInputError(f"not a regular file: {path}")
    if not os.access(path, os.R_OK):
        raise InvalidInputError(f"file is not readable: {path}")
    return path


def check_int_range(name: str, value: int, low: int | None, high: int | None) -> int:
    """``value`` if ``low <= value <= high`` (either bound may be None); else InvalidInputError."""
    if (low is not None and value < low) or (high is not None and value > high):
        raise InvalidInputError(f"{name} must be {_range_text(low, high)}, got {value}")
    return value


def check_float_range(name: str, value: float, low: float, high: float) -> float:
    if math.isnan(value) or value < low or value > high:
        raise InvalidInputError(f"{name} must be between {low} and {high}, got {value}")
    return value


def check_choice(name: str, value: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise InvalidInputError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value


def _range_text(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return f"between {low} and {high}"
    if low is not None:
        return f"at least {low}"
    return f"at most {high}"


# --- any task type, without a plugin ----------------------------------------------------------


@dataclass(kw_only=True)
class GenericResult(TaskResult):
    """The result of a job of any task type: the job record, and the main output
    (``params.output_path``) when it is a JSON file (``result`` in :meth:`to_json`, as the
    plugins' results have it)."""

    #: The decoded main output when it is a ``.json`` file, else None.
    output: JsonObject | None = None

    def to_json(self) -> JsonObject:
        out = super().to_json()
        if self.output is not None:
            out["result"] = self.output
        return out


class GenericTaskClient(TaskClient[GenericResult]):
    """A client for a task type no plugin covers: form fields are sent as given and the result is
    the job's main output (``params.output_path``). Make one for a task type with
    :meth:`for_task`::

        client = GenericTaskClient.for_task("hash")(compute)
        created = await client.submit_form("photo.jpg", {"algorithm": "md5"})
        result = await client.wait_result(created.job_id, dest=Path("hash.json"))
    """

    task_type: ClassVar[str] = ""

    @classmethod
    def for_task(cls, task_type: str) -> type[GenericTaskClient]:
        """The client class of ``task_type`` (``POST /jobs/<task_type>``)."""
        if not task_type or "/" in task_type or task_type.strip() != task_type:
            raise InvalidInputError(f"not a task type: {task_type!r}")
        return type(f"GenericTaskClient[{task_type}]", (cls,), {"task_type": task_type})

    async def collect(self, job: Job, dest: Path | None = None) -> GenericResult:
        path = job.output_path
        is_json = bool(path) and path.endswith(".json")
        if not path or (dest is None and not is_json):
            return GenericResult(job=job)
        data, saved = await self.fetch_bytes(job, path, dest)
        output = (
            parse_json_object(data, f"job file {path} of job {job.job_id}") if is_json else None
        )
        return GenericResult(job=job, downloaded=[] if saved is None else [saved], output=output)
