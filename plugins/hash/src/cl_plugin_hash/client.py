"""Library client for the ``hash`` compute task.

The hash itself is not in the job record: the worker writes it to ``output/hash.json``
(``params.output_path``), and :meth:`HashClient.collect` reads it from there.

Example::

    async with Client() as client:
        hashes = HashClient(client.compute)
        result = await hashes.compute_hash(Path("photo.jpg"), algorithm="md5")
        print(result.hash_value, result.algorithm)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Final, Literal, cast

from cl_client.errors import MalformedResponseError
from cl_client.models import FormValue, Job, JobCreated, JsonObject
from cl_client.tasks import ProgressCallback, TaskClient, TaskResult, check_choice

HashAlgorithm = Literal["sha512", "md5"]
#: What the server accepts in the ``algorithm`` form field (default ``sha512``).
ALGORITHMS: Final[tuple[HashAlgorithm, ...]] = ("sha512", "md5")
#: Where the worker writes the hash when the job record does not say (it always does).
RESULT_FILE: Final = "output/hash.json"


@dataclass(kw_only=True)
class HashResult(TaskResult):
    """The hash of one file, as read from the job's ``output/hash.json``."""

    #: Hex digest.
    hash_value: str
    #: What was hashed, as the server reports it: ``md5`` (file bytes), ``sha512_image`` (decoded
    #: pixels), ``sha512_video`` (key frames) or ``sha512_generic`` (file bytes).
    algorithm: str
    #: ``image``, ``video``, ``audio``, ``text``, ``url`` or ``file``.
    media_type: str | None = None
    #: Seconds the worker spent hashing.
    process_time: float | None = None

    def to_json(self) -> JsonObject:
        out = super().to_json()
        out["result"] = {
            "hash_value": self.hash_value,
            "algorithm": self.algorithm,
            "media_type": self.media_type,
            "process_time": self.process_time,
        }
        return out


def validate_algorithm(algorithm: str) -> HashAlgorithm:
    """Return ``algorithm`` if the server accepts it; else InvalidInputError."""
    check_choice("algorithm", algorithm, ALGORITHMS)
    return cast(HashAlgorithm, algorithm)


class HashClient(TaskClient[HashResult]):
    """Typed client for ``POST /jobs/hash``."""

    task_type: ClassVar[str] = "hash"

    @staticmethod
    def build_form(*, algorithm: str = "sha512") -> dict[str, FormValue]:
        """The form fields of a hash job; InvalidInputError for an unknown algorithm."""
        return {"algorithm": validate_algorithm(algorithm)}

    async def submit(
        self, file: str | os.PathLike[str], *, algorithm: str = "sha512", priority: int = 5
    ) -> JobCreated:
        """Upload ``file`` for hashing. ``algorithm`` is ``sha512`` (of the decoded media for images
        and videos) or ``md5`` (of the file bytes); ``priority`` 0–10."""
        return await self.submit_form(file, self.build_form(algorithm=algorithm), priority=priority)

    async def compute_hash(
        self,
        file: str | os.PathLike[str],
        *,
        algorithm: str = "sha512",
        priority: int = 5,
        timeout: float | None = 30.0,  # noqa: ASYNC109 - the job's deadline, not a call's
        dest: Path | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> HashResult:
        """Submit ``file`` and wait for its hash. With ``dest``, also save ``hash.json`` there."""
        created = await self.submit(file, algorithm=algorithm, priority=priority)
        return await self.wait_result(
            created.job_id, timeout=timeout, on_progress=on_progress, dest=dest
        )

    async def collect(self, job: Job, dest: Path | None = None) -> HashResult:
        data, saved = await self.fetch_json(job, job.output_path or RESULT_FILE, dest)
        return parse_hash_result(job, data, [] if saved is None else [saved])


def parse_hash_result(job: Job, data: JsonObject, downloaded: list[Path]) -> HashResult:
    """Build a :class:`HashResult` from the decoded ``hash.json``; MalformedResponseError if it
    lacks the hash."""
    hash_value = data.get("hash_value")
    if not isinstance(hash_value, str) or not hash_value:
        raise MalformedResponseError(f"hash result of job {job.job_id} has no hash_value")
    algorithm = data.get("algorithm")
    media_type = data.get("media_type")
    if not isinstance(media_type, str) and job.task_output is not None:
        media_type = job.task_output.get("media_type")
    process_time = data.get("process_time")
    return HashResult(
        job=job,
        downloaded=downloaded,
        hash_value=hash_value,
        algorithm=algorithm if isinstance(algorithm, str) else "unknown",
        media_type=media_type if isinstance(media_type, str) else None,
        process_time=(
            float(process_time)
            if isinstance(process_time, int | float) and not isinstance(process_time, bool)
            else None
        ),
    )
