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


#: Where each summary field comes from when the server left it null: ExifTool tag names, the
#: first one present wins. Servers that run ``exiftool -G`` (the January-2026 reference worker
#: without ``tags``) send group-prefixed keys (``EXIF:Make``) and null fields.
FIELD_TAGS: Final[dict[str, tuple[str, ...]]] = {
    "make": ("Make",),
    "model": ("Model",),
    "date_time_original": ("DateTimeOriginal",),
    "create_date": ("CreateDate",),
    "image_width": ("ImageWidth", "ExifImageWidth"),
    "image_height": ("ImageHeight", "ExifImageHeight"),
    "orientation": ("Orientation",),
    "iso": ("ISO",),
    "f_number": ("FNumber", "Aperture"),
    "exposure_time": ("ExposureTime", "ShutterSpeed"),
    "focal_length": ("FocalLength",),
    "gps_latitude": ("GPSLatitude",),
    "gps_longitude": ("GPSLongitude",),
    "gps_altitude": ("GPSAltitude",),
    "software": ("Software",),
}

#: Groups preferred, in order, when a tag is in several (``Composite`` has signed GPS values).
_GROUP_ORDER: Final = ("Composite", "EXIF", "IFD0", "ExifIFD", "GPS", "XMP", "QuickTime", "File")

#: ExifTool groups about the server's copy of the file (its name, folder, dates, permissions),
#: not about the user's file; hidden from ``--raw`` unless asked for.
FILE_GROUPS: Final = frozenset({"File", "System", "ExifTool"})
#: The same tags as ExifTool names them without ``-G``.
FILE_TAGS: Final = frozenset(
    {
        "SourceFile",
        "ExifToolVersion",
        "FileName",
        "Directory",
        "FileSize",
        "FileModifyDate",
        "FileAccessDate",
        "FileInodeChangeDate",
        "FilePermissions",
        "FileType",
        "FileTypeExtension",
        "MIMEType",
    }
)

# EXIF's orientation values as ExifTool prints them without -n.
_ORIENTATIONS: Final = {
    "horizontal (normal)": 1,
    "mirror horizontal": 2,
    "rotate 180": 3,
    "mirror vertical": 4,
    "mirror horizontal and rotate 270 cw": 5,
    "rotate 90 cw": 6,
    "mirror horizontal and rotate 90 cw": 7,
    "rotate 270 cw": 8,
}
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")
_DMS = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*deg\s*(?:(\d+(?:\.\d+)?)'\s*)?(?:(\d+(?:\.\d+)?)\"\s*)?([NSEW])?",
    re.IGNORECASE,
)
_NULL_DATE = re.compile(r"^[0:\s.+\-Z]*$")


def split_tag(key: str) -> tuple[str | None, str]:
    """``"EXIF:Make"`` → ``("EXIF", "Make")``; ``"Make"`` → ``(None, "Make")``."""
    group, sep, name = key.rpartition(":")
    return (group, name) if sep else (None, key)


def is_file_tag(key: str) -> bool:
    """Whether a raw key describes the server's copy of the file (File/System groups)."""
    group, name = split_tag(key)
    if group is not None:
        return group.split("-", 1)[0] in FILE_GROUPS
    return name in FILE_TAGS


def find_tag(raw: JsonObject, name: str) -> tuple[str, object] | None:
    """The key and value of tag ``name`` in ``raw``, plain or group-prefixed (``Make``,
    ``EXIF:Make``); a ``Group:Tag`` name matches that group only. Case-insensitive."""
    want_group, want = split_tag(name)
    found: list[tuple[int, str, object]] = []
    for key, value in raw.items():
        group, tag = split_tag(key)
        if tag.lower() != want.lower():
            continue
        if want_group is not None and (group or "").lower() != want_group.lower():
            continue
        family = (group or "").split("-", 1)[0]
        rank = (
            -1
            if group is None
            else (_GROUP_ORDER.index(family) if family in _GROUP_ORDER else len(_GROUP_ORDER))
        )
        found.append((rank, key, value))
    if not found:
        return None
    _, key, value = min(found, key=lambda item: item[0])
    return key, value


def _from_raw(raw: JsonObject, field: str) -> object:
    for tag in FIELD_TAGS[field]:
        hit = find_tag(raw, tag)
        if hit is None:
            continue
        key, value = hit
        if field in ("gps_latitude", "gps_longitude", "gps_altitude"):
            return _signed_gps(raw, key, value, tag)
        return value
    return None


def _signed_gps(raw: JsonObject, key: str, value: object, tag: str) -> float | None:
    """A GPS value in signed decimal degrees (metres for the altitude): Composite values are
    signed already; the EXIF ones take the sign of their ``…Ref`` tag."""
    number = _degrees(value)
    if number is None:
        return None
    group, _ = split_tag(key)
    if group == "Composite" or number < 0:
        return number
    ref = raw.get(f"{group}:{tag}Ref" if group else f"{tag}Ref")
    ref_text = str(ref).strip().lower() if ref is not None else ""
    if ref_text.startswith(("s", "w", "1", "below")):
        return -number
    return number


def _degrees(value: object) -> float | None:
    if isinstance(value, str):
        match = _DMS.match(value)
        if match:
            deg, minutes, seconds, hemisphere = match.groups()
            total = float(deg) + float(minutes or 0) / 60 + float(seconds or 0) / 3600
            return -total if hemisphere and hemisphere.upper() in "SW" else total
    return _number(value)


def parse_exif_result(job: Job, data: JsonObject, downloaded: list[Path]) -> ExifResult:
    """Build an :class:`ExifResult` from the decoded metadata file. A field the server left null
    is read from ``raw_metadata`` (plain or group-prefixed keys, see :data:`FIELD_TAGS`); fields
    of the wrong type are read as missing rather than failing the whole result, and a null date
    (``0000:00:00 00:00:00``) as absent."""
    raw_value = data.get("raw_metadata")
    raw = cast(JsonObject, raw_value) if isinstance(raw_value, dict) else {}

    def value(field: str) -> object:
        given = data.get(field)
        return given if given is not None else _from_raw(raw, field)

    return ExifResult(
        job=job,
        downloaded=downloaded,
        make=_text(value("make")),
        model=_text(value("model")),
        date_time_original=_date(value("date_time_original")),
        create_date=_date(value("create_date")),
        image_width=_integer(value("image_width")),
        image_height=_integer(value("image_height")),
        orientation=_orientation(value("orientation")),
        iso=_integer(value("iso")),
        f_number=_number(value("f_number")),
        exposure_time=_exposure(value("exposure_time")),
        focal_length=_number(value("focal_length")),
        gps_latitude=_number(value("gps_latitude")),
        gps_longitude=_number(value("gps_longitude")),
        gps_altitude=_number(value("gps_altitude")),
        software=_text(value("software")),
        raw_metadata=raw,
    )


def _text(value: object) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    # ExifTool in numeric mode gives e.g. an exposure time of 0.004 instead of "1/250".
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _date(value: object) -> str | None:
    """A date, or None for EXIF's "no date" (``0000:00:00 00:00:00``)."""
    text = _text(value)
    if text is None or _NULL_DATE.match(text):
        return None
    return text


def _exposure(value: object) -> str | None:
    """Shutter speed as text: ``1/250`` for fractions of a second, ``2`` or ``2.5`` otherwise."""
    if isinstance(value, str):
        return value.strip() or None
    seconds = _number(value)
    if seconds is None or seconds <= 0:
        return None
    if seconds < 1:
        return f"1/{round(1 / seconds)}"
    return f"{seconds:g}"


def _orientation(value: object) -> int | None:
    if isinstance(value, str):
        named = _ORIENTATIONS.get(value.strip().lower())
        if named is not None:
            return named
    return _integer(value)


def _integer(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _number(value: object) -> float | None:
    """A number, also from ExifTool's printed form (``"50.0 mm"``, ``"2.8"``)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        match = _NUMBER.match(value.strip())
        if match:
            return float(match.group())
    return None
