"""Library client for the ``image_conversion`` compute task.

The job's ``task_output`` is empty; the converted image is the file at ``params.output_path``
(``output/converted_<input stem>.<ext>``). :meth:`ImageConversionClient.collect` fetches it and
reads its format and pixel size from the image header.

Example::

    async with Client() as client:
        images = ImageConversionClient(client.compute)
        result = await images.convert(Path("photo.png"), format="webp", dest=Path("out"))
        print(result.path, result.width, result.height)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import ClassVar, Final, Literal, cast

from cl_client.errors import MalformedResponseError
from cl_client.imagesize import image_info
from cl_client.models import FormValue, Job, JobCreated, JsonObject
from cl_client.tasks import (
    ProgressCallback,
    TaskClient,
    TaskResult,
    check_choice,
    check_int_range,
)

ImageFormat = Literal["png", "jpg", "jpeg", "webp", "gif", "bmp", "tiff"]
#: The output formats the server accepts.
FORMATS: Final[tuple[ImageFormat, ...]] = ("png", "jpg", "jpeg", "webp", "gif", "bmp", "tiff")
DEFAULT_QUALITY: Final = 85


@dataclass(kw_only=True)
class ConversionResult(TaskResult):
    """A converted image: where it is on the server and (with ``dest``) locally, and what it is."""

    #: The file's path inside the job, e.g. ``output/converted_photo.webp``.
    remote_path: str
    #: The saved copy, when a destination was given.
    path: Path | None = None
    #: The format read from the file's header (``png``, ``jpeg``, ``webp``, ``gif``, ``bmp``,
    #: ``tiff``), or the requested format if the header is not recognised.
    format: str
    width: int | None = None
    height: int | None = None
    size_bytes: int

    def to_json(self) -> JsonObject:
        out = super().to_json()
        out["result"] = {
            "remote_path": self.remote_path,
            "path": None if self.path is None else str(self.path),
            "format": self.format,
            "width": self.width,
            "height": self.height,
            "size_bytes": self.size_bytes,
        }
        return out


def validate_format(format: str) -> ImageFormat:
    """The format in lower case if the server accepts it; else InvalidInputError."""
    value = format.strip().lower()
    check_choice("format", value, FORMATS)
    return cast(ImageFormat, value)


def validate_quality(quality: int) -> int:
    """``quality`` if it is 1–100; else InvalidInputError."""
    return check_int_range("quality", quality, 1, 100)


def expected_output_path(input_name: str, format: str) -> str:
    """Where the server writes the result: ``output/converted_<stem>.<ext>`` (jpeg as jpg)."""
    ext = "jpg" if format == "jpeg" else format
    return f"output/converted_{PurePosixPath(input_name).stem}.{ext}"


class ImageConversionClient(TaskClient[ConversionResult]):
    """Typed client for ``POST /jobs/image_conversion``."""

    task_type: ClassVar[str] = "image_conversion"
    accepts: ClassVar[tuple[str, ...]] = ("image/",)

    async def submit(
        self,
        file: str | os.PathLike[str],
        *,
        format: str,
        quality: int = DEFAULT_QUALITY,
        priority: int = 5,
    ) -> JobCreated:
        """Upload ``file`` for conversion to ``format`` (png, jpg, jpeg, webp, gif, bmp, tiff).
        ``quality`` 1–100 applies to jpg/jpeg/webp; ``priority`` 0–10. JPEG output drops alpha."""
        form = self.build_form(format=format, quality=quality)
        return await self.submit_form(file, form, priority=priority)

    @staticmethod
    def build_form(*, format: str, quality: int = DEFAULT_QUALITY) -> dict[str, FormValue]:
        """The form fields of a conversion job; InvalidInputError for a bad format or quality."""
        fmt = validate_format(format)
        validate_quality(quality)
        return {"format": fmt, "quality": quality}

    async def convert(
        self,
        file: str | os.PathLike[str],
        *,
        format: str,
        quality: int = DEFAULT_QUALITY,
        priority: int = 5,
        timeout: float | None = 60.0,  # noqa: ASYNC109 - the job's deadline, not a call's
        dest: Path | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> ConversionResult:
        """Submit ``file`` and wait for the converted image. With ``dest`` (a file, or an existing
        folder to save under the server's name), save it there."""
        created = await self.submit(file, format=format, quality=quality, priority=priority)
        return await self.wait_result(
            created.job_id, timeout=timeout, on_progress=on_progress, dest=dest
        )

    async def collect(self, job: Job, dest: Path | None = None) -> ConversionResult:
        remote = job.output_path or _fallback_output_path(job)
        data, saved = await self.fetch_bytes(job, remote, dest)
        info = image_info(data)
        requested = job.params.get("format")
        return ConversionResult(
            job=job,
            downloaded=[] if saved is None else [saved],
            remote_path=remote,
            path=saved,
            format=info.format if info else str(requested or PurePosixPath(remote).suffix[1:]),
            width=info.width if info else None,
            height=info.height if info else None,
            size_bytes=len(data),
        )


def _fallback_output_path(job: Job) -> str:
    # Every server records params.output_path; derive it the way the worker does if one does not.
    input_path = job.params.get("input_path")
    fmt = job.params.get("format")
    if not isinstance(input_path, str) or not isinstance(fmt, str):
        raise MalformedResponseError(f"job {job.job_id} does not name its converted image")
    return expected_output_path(PurePosixPath(input_path).name, fmt)
