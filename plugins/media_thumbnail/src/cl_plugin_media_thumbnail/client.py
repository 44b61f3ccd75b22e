"""Library client for the ``media_thumbnail`` compute task.

The thumbnail is a JPEG at ``params.output_path`` (``output/thumbnail.jpg``): for an image, the
image scaled to fit the box (never enlarged); for a video, a 4×4 grid of key frames.
:meth:`MediaThumbnailClient.collect` fetches it and reads its pixel size from the JPEG header.

Example::

    async with Client() as client:
        thumbs = MediaThumbnailClient(client.compute)
        result = await thumbs.generate(Path("photo.jpg"), width=200, height=200, dest=Path("t.jpg"))
        print(result.width, result.height)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Final

from cl_client.imagesize import image_info
from cl_client.models import FormValue, Job, JobCreated, JsonObject
from cl_client.tasks import ProgressCallback, TaskClient, TaskResult, check_int_range

#: Where the worker writes the thumbnail when the job record does not say (it always does).
RESULT_FILE: Final = "output/thumbnail.jpg"


@dataclass(kw_only=True)
class ThumbnailResult(TaskResult):
    """A thumbnail: where it is on the server and (with ``dest``) locally, and its size."""

    #: The file's path inside the job, ``output/thumbnail.jpg``.
    remote_path: str
    #: The saved copy, when a destination was given.
    path: Path | None = None
    #: Read from the file's header: ``jpeg`` (or another format if a server writes one).
    format: str
    width: int | None = None
    height: int | None = None
    size_bytes: int
    #: ``image`` or ``video``, as the server detected it.
    media_type: str | None = None

    def to_json(self) -> JsonObject:
        out = super().to_json()
        out["result"] = {
            "remote_path": self.remote_path,
            "path": None if self.path is None else str(self.path),
            "format": self.format,
            "width": self.width,
            "height": self.height,
            "size_bytes": self.size_bytes,
            "media_type": self.media_type,
        }
        return out


def validate_box(width: int | None, height: int | None) -> None:
    """Each given dimension must be a positive number of pixels; else InvalidInputError."""
    if width is not None:
        check_int_range("width", width, 1, None)
    if height is not None:
        check_int_range("height", height, 1, None)


class MediaThumbnailClient(TaskClient[ThumbnailResult]):
    """Typed client for ``POST /jobs/media_thumbnail``."""

    task_type: ClassVar[str] = "media_thumbnail"
    accepts: ClassVar[tuple[str, ...]] = ("image/", "video/")

    async def submit(
        self,
        file: str | os.PathLike[str],
        *,
        width: int | None = None,
        height: int | None = None,
        maintain_aspect_ratio: bool = True,
        priority: int = 5,
    ) -> JobCreated:
        """Upload an image or video for a thumbnail fitting ``width``×``height`` pixels.

        With neither dimension the box is 256×256; with one, the other follows the aspect ratio.
        ``maintain_aspect_ratio=False`` stretches an image to the exact box. ``priority`` 0–10.
        """
        form = self.build_form(
            width=width, height=height, maintain_aspect_ratio=maintain_aspect_ratio
        )
        return await self.submit_form(file, form, priority=priority)

    @staticmethod
    def build_form(
        *, width: int | None = None, height: int | None = None, maintain_aspect_ratio: bool = True
    ) -> dict[str, FormValue]:
        """The form fields of a thumbnail job; InvalidInputError for a bad box."""
        validate_box(width, height)
        form: dict[str, FormValue] = {"maintain_aspect_ratio": maintain_aspect_ratio}
        if width is not None:
            form["width"] = width
        if height is not None:
            form["height"] = height
        return form

    async def generate(
        self,
        file: str | os.PathLike[str],
        *,
        width: int | None = None,
        height: int | None = None,
        maintain_aspect_ratio: bool = True,
        priority: int = 5,
        timeout: float | None = 60.0,  # noqa: ASYNC109 - the job's deadline, not a call's
        dest: Path | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> ThumbnailResult:
        """Submit ``file`` and wait for its thumbnail. With ``dest`` (a file, or an existing folder
        to save ``thumbnail.jpg`` in), save it there."""
        created = await self.submit(
            file,
            width=width,
            height=height,
            maintain_aspect_ratio=maintain_aspect_ratio,
            priority=priority,
        )
        return await self.wait_result(
            created.job_id, timeout=timeout, on_progress=on_progress, dest=dest
        )

    async def collect(self, job: Job, dest: Path | None = None) -> ThumbnailResult:
        remote = job.output_path or RESULT_FILE
        data, saved = await self.fetch_bytes(job, remote, dest)
        info = image_info(data)
        media_type = (job.task_output or {}).get("media_type")
        return ThumbnailResult(
            job=job,
            downloaded=[] if saved is None else [saved],
            remote_path=remote,
            path=saved,
            format=info.format if info else "unknown",
            width=info.width if info else None,
            height=info.height if info else None,
            size_bytes=len(data),
            media_type=media_type if isinstance(media_type, str) else None,
        )
