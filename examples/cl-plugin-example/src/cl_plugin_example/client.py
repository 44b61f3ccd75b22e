"""Library side: MD5 fingerprints of files through the server's existing ``hash`` task.

A third-party plugin needs no server change to present an existing task its own way: it subclasses
the core's :class:`~cl_client.tasks.TaskClient`, sends the task's form fields, and reads the task's
real result file (``params.output_path``, here ``output/hash.json``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cl_client.batch import DEFAULT_CONCURRENCY, Batch
from cl_client.errors import ClError, JobFailedError, JobTimeoutError, MalformedResponseError
from cl_client.models import FormValue, Job, JobCreated, JsonObject
from cl_client.tasks import TaskClient, TaskResult

#: Where the hash task writes its result when ``params.output_path`` is missing (PROTOCOL §5.6).
HASH_FILE = "output/hash.json"
#: Hex digits shown as the short fingerprint (48 bits: ample to tell files apart by eye).
SHORT_DIGITS = 12


@dataclass(kw_only=True)
class Fingerprint(TaskResult):
    """The MD5 of one uploaded file, as the server computed it."""

    md5: str
    media_type: str | None = None

    def to_json(self) -> JsonObject:
        out = super().to_json()
        out["result"] = {"md5": self.md5, "fingerprint": self.short, "media_type": self.media_type}
        return out

    @property
    def short(self) -> str:
        """The first 12 hex digits in groups of four, e.g. ``9e10-7d9d-372b``."""
        head = self.md5[:SHORT_DIGITS]
        return "-".join(head[i : i + 4] for i in range(0, len(head), 4))


class FingerprintClient(TaskClient[Fingerprint]):
    task_type = "hash"

    @staticmethod
    def build_form() -> dict[str, FormValue]:
        """The hash task's form fields for an md5 fingerprint."""
        return {"algorithm": "md5"}

    async def submit(self, file: Path, *, priority: int = 5) -> JobCreated:
        return await self.submit_form(file, self.build_form(), priority=priority)

    async def fingerprint(
        self,
        file: Path,
        *,
        priority: int = 5,
        timeout: float | None = 30.0,  # noqa: ASYNC109 - the job's deadline, not an I/O timeout
    ) -> Fingerprint:
        created = await self.submit(file, priority=priority)
        return await self.wait_result(created.job_id, timeout=timeout)

    async def collect(self, job: Job, dest: Path | None = None) -> Fingerprint:
        path = job.output_path or HASH_FILE
        data = await self.compute.read_json(job.job_id, path)
        digest = data.get("hash_value")
        algorithm = data.get("algorithm")
        if not isinstance(digest, str) or algorithm != "md5":
            raise MalformedResponseError(
                f"job {job.job_id}: {path} holds no md5 hash_value (algorithm {algorithm!r})"
            )
        media_type = data.get("media_type")
        downloaded = [await self.compute.download(job.job_id, path, dest)] if dest else []
        return Fingerprint(
            job=job,
            downloaded=downloaded,
            md5=digest,
            media_type=media_type if isinstance(media_type, str) else None,
        )


@dataclass(frozen=True)
class FileOutcome:
    """One input file and either its fingerprint or why its job did not give one."""

    path: Path
    fingerprint: Fingerprint | None = None
    error: ClError | None = None


async def fingerprint_files(
    client: FingerprintClient,
    files: Sequence[Path],
    *,
    jobs: int = DEFAULT_CONCURRENCY,
    timeout: float | None = 30.0,  # noqa: ASYNC109 - each job's processing deadline
) -> list[FileOutcome]:
    """Fingerprint every file with the core's batch engine (at most ``jobs`` in flight), in the
    order given.

    A job that fails or times out is reported in its outcome and the others go on; anything else
    (no login, server unreachable) concerns every file and is raised.
    """
    batch = Batch(client, client.build_form(), concurrency=jobs, timeout=timeout)
    by_path: dict[Path, FileOutcome] = {}
    async for outcome in batch.run(files):
        error = outcome.error
        if error is not None and not isinstance(error, JobFailedError | JobTimeoutError):
            raise error
        by_path[outcome.item.path] = FileOutcome(
            outcome.item.path, fingerprint=outcome.result, error=error
        )
    return [by_path[path] for path in files]


def duplicate_groups(outcomes: Sequence[FileOutcome]) -> list[list[FileOutcome]]:
    """Files with identical content, groups of two or more, in order of first appearance."""
    groups: dict[str, list[FileOutcome]] = {}
    for outcome in outcomes:
        if outcome.fingerprint is not None:
            groups.setdefault(outcome.fingerprint.md5, []).append(outcome)
    return [group for group in groups.values() if len(group) > 1]
