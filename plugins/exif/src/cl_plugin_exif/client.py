"""Library client for the ``exif`` compute task.

The worker runs ExifTool on the upload and writes a summary plus every raw tag to
``output/exif_metadata.json`` (``params.output_path``); :meth:`ExifClient.collect` reads that file.

Example::

    async with Client() as client:
        exif = ExifClient(client.compute)
        result = await exif.extract(Path("photo.jpg"))
        print(result.make, result.model, result.gps_latitude, result.gps_longitude)
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Final, cast

from cl_client.errors import InvalidInputError
from cl_client.models import FormValue, Job, JobCreated, JsonObject
from cl_client.tasks import ProgressCallback, TaskClient, TaskResult

#: Where the worker writes the metadata when the job record does not say (it always does).
RESULT_FILE: Final = "output/exif_metadata.json"

# ExifTool tag names, optionally with a group prefix ("EXIF:Make", "XMP-dc:Title").
_TAG_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_:\-]*")


@dataclass(kw_only=True)
class ExifResult(TaskResult):
    """The metadata of one image. Every summary field may be None (the file lacks it)."""

    make: str | None = None
    model: str | None = None
    date_time_original: str | None = None  # "YYYY:MM:DD HH:MM:SS", as EXIF stores it
    create_date: str | None = None
    image_width: int | None = None
    image_height: int | None = None
    orientation: int | None = None
    iso: int | None = None
    f_number: float | None = None
    exposure_time: str | None = None  # e.g. "1/250"
    focal_length: float | None = None  # mm
    gps_latitude: float | None = None  # signed decimal degrees, north positive
    gps_longitude: float | None = None  # signed decimal degrees, east positive
    gps_altitude: float | None = None  # metres
    software: str | None = None
    #: Every ExifTool tag → its value.
    raw_metadata: JsonObject = field(default_factory=dict[str, object])

    @property
    def requested_tags(self) -> list[str]:
        """The tag filter the job ran with (empty: all tags)."""
        value = self.job.params.get("tags")
        if isinstance(value, list):
            return [str(tag) for tag in cast(list[object], value)]
        if isinstance(value, str):
            return [tag for tag in value.split(",") if tag]
        return []

    def summary(self) -> dict[str, object]:
        """The summary fields (PROTOCOL's exif object without ``raw_metadata``)."""
        return {name: getattr(self, name) for name in SUMMARY_FIELDS}

    @property
    def is_empty(self) -> bool:
        """True when the file carried no metadata at all."""
        return not self.raw_metadata and all(v is None for v in self.summary().values())

    def to_json(self) -> JsonObject:
        out = super().to_json()
        out["result"] = {**self.summary(), "raw_metadata": self.raw_metadata}
        return out


SUMMARY_FIELDS: Final[tuple[str, ...]] = (
    "make",
    "model",
    "date_time_original",
    "create_date",
    "image_width",
    "image_height",
    "orientation",
    "iso",
    "f_number",
    "exposure_time",
    "focal_length",
    "gps_latitude",
    "gps_longitude",
    "gps_altitude",
    "software",
)


def validate_tags(tags: Sequence[str] | str | None) -> list[str]:
    """Normalise a tag filter (a list, or one comma-separated string) to a list of tag names;
    InvalidInputError for a name ExifTool cannot have."""
    if tags is None:
        return []
    items = tags.split(",") if isinstance(tags, str) else list(tags)
    names: list[str] = []
    for item in items:
        name = item.strip()
        if not name:
            if isinstance(tags, str):
                continue  # "Make,,Model" or a trailing comma: harmless
            raise InvalidInputError("tags must not contain an empty tag name")
        if not _TAG_NAME.fullmatch(name):
            raise InvalidInputError(
                f"tags: {name!r} is not an EXIF tag name (letters, digits, '_', '-', ':')"
            )
        names.append(name)
    return names


class ExifClient(TaskClient[ExifResult]):
    """Typed client for ``POST /jobs/exif``."""

    task_type: ClassVar[str] = "exif"
    accepts: ClassVar[tuple[str, ...]] = ("image/", "video/")

    @staticmethod
    def build_form(*, tags: Sequence[str] | str | None = None) -> dict[str, FormValue]:
        """The form fields of an exif job: ``tags`` limits the raw tags returned (e.g.
        ``["Make", "Model"]``); None or empty means all tags."""
        names = validate_tags(tags)
        return {"tags": ",".join(names)} if names else {}

    async def submit(
        self,
        file: str | os.PathLike[str],
        *,
        tags: Sequence[str] | str | None = None,
        priority: int = 5,
    ) -> JobCreated:
        """Upload ``file`` for metadata extraction (see :meth:`build_form`); ``priority``
        0–10."""
        return await self.submit_form(file, self.build_form(tags=tags), priority=priority)

    async def extract(
        self,
        file: str | os.PathLike[str],
        *,
        tags: Sequence[str] | str | None = None,
        priority: int = 5,
        timeout: float | None = 30.0,  # noqa: ASYNC109 - the job's deadline, not a call's
        dest: Path | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> ExifResult:
        """Submit ``file`` and wait for its metadata. With ``dest``, also save the JSON there."""
        created = await self.submit(file, tags=tags, priority=priority)
        return await self.wait_result(
            created.job_id, timeout=timeout, on_progress=on_progress, dest=dest
        )

    async def collect(self, job: Job, dest: Path | None = None) -> ExifResult:
        data, saved = await self.fetch_json(job, job.output_path or RESULT_FILE, dest)
        return parse_exif_result(job, data, [] if saved is None else [saved])


def parse_exif_result(job: Job, data: JsonObject, downloaded: list[Path]) -> ExifResult:
    """Build an :class:`ExifResult` from the decoded metadata file. Fields of the wrong type are
    read as missing rather than failing the whole result."""
    raw = data.get("raw_metadata")
    return ExifResult(
        job=job,
        downloaded=downloaded,
        make=_text(data.get("make")),
        model=_text(data.get("model")),
        date_time_original=_text(data.get("date_time_original")),
        create_date=_text(data.get("create_date")),
        image_width=_integer(data.get("image_width")),
        image_height=_integer(data.get("image_height")),
        orientation=_integer(data.get("orientation")),
        iso=_integer(data.get("iso")),
        f_number=_number(data.get("f_number")),
        exposure_time=_text(data.get("exposure_time")),
        focal_length=_number(data.get("focal_length")),
        gps_latitude=_number(data.get("gps_latitude")),
        gps_longitude=_number(data.get("gps_longitude")),
        gps_altitude=_number(data.get("gps_altitude")),
        software=_text(data.get("software")),
        raw_metadata=cast(JsonObject, raw) if isinstance(raw, dict) else {},
    )


def _text(value: object) -> str | None:
    if isinstance(value, str):
        return value
    # ExifTool in numeric mode gives e.g. an exposure time of 0.004 instead of "1/250".
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _integer(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None
