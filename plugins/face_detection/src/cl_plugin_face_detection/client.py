"""Library client for the ``face_detection`` compute task.

The worker writes the detections to ``params.output_path`` (``output/face_detection.json``) and one
aligned 112×112 crop per face to ``faces/face_<i>.png`` (named by each face's ``file_path``).
:meth:`FaceDetectionClient.collect` reads the JSON and, given a folder, saves it and every crop.
Coordinates are normalised to [0, 1]; :meth:`BoundingBox.to_pixels` converts them.

Example::

    async with Client() as client:
        detector = FaceDetectionClient(client.compute)
        result = await detector.detect(Path("group.jpg"), dest=Path("faces-out"))
        for face in result.faces:
            print(face.confidence, face.bbox.to_pixels(result.image_width, result.image_height),
                  face.crop_path)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import ClassVar, Final, cast

from cl_client.errors import InvalidInputError, MalformedResponseError, UnsafeResultPathError
from cl_client.models import FormValue, Job, JobCreated, JsonObject
from cl_client.tasks import ProgressCallback, TaskClient, TaskResult, check_float_range
from cl_client.transport import check_result_path, safe_join

#: Where the worker writes the detections when the job record does not say (it always does).
RESULT_FILE: Final = "output/face_detection.json"
#: Server defaults of the two thresholds.
DEFAULT_CONFIDENCE: Final = 0.7
DEFAULT_NMS: Final = 0.4
#: Landmark names in the order a list form carries them.
LANDMARK_NAMES: Final[tuple[str, ...]] = (
    "right_eye",
    "left_eye",
    "nose_tip",
    "mouth_right",
    "mouth_left",
)


@dataclass(frozen=True)
class BoundingBox:
    """A face box in normalised coordinates: (x1, y1) top left, (x2, y2) bottom right, in [0, 1]."""

    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    def to_pixels(self, image_width: int, image_height: int) -> tuple[int, int, int, int]:
        """The box in pixels of an image of the given size: ``(x1, y1, x2, y2)``, rounded."""
        return (
            round(self.x1 * image_width),
            round(self.y1 * image_height),
            round(self.x2 * image_width),
            round(self.y2 * image_height),
        )


@dataclass(kw_only=True)
class DetectedFace:
    """One detected face. ``file_path`` is its crop on the server (``faces/face_<i>.png``);
    ``crop_path`` the local copy when one was saved."""

    index: int
    bbox: BoundingBox
    confidence: float
    landmarks: dict[str, tuple[float, float]] = field(
        default_factory=dict[str, tuple[float, float]]
    )
    file_path: str | None = None
    crop_path: Path | None = None

    def to_json(self) -> JsonObject:
        return {
            "index": self.index,
            "bbox": {
                "x1": self.bbox.x1,
                "y1": self.bbox.y1,
                "x2": self.bbox.x2,
                "y2": self.bbox.y2,
            },
            "confidence": self.confidence,
            "landmarks": {name: [x, y] for name, (x, y) in self.landmarks.items()},
            "file_path": self.file_path,
            "crop_path": str(self.crop_path) if self.crop_path is not None else None,
        }


@dataclass(kw_only=True)
class FaceDetectionResult(TaskResult):
    """The faces found in one image, read from the job's ``output/face_detection.json``.

    ``saved_path`` is the local copy of that JSON when the result was saved to a folder.
    """

    faces: list[DetectedFace] = field(default_factory=list[DetectedFace])
    image_width: int | None = None
    image_height: int | None = None
    file_path: str = RESULT_FILE
    saved_path: Path | None = None

    @property
    def num_faces(self) -> int:
        return len(self.faces)

    def to_json(self) -> JsonObject:
        out = super().to_json()
        out["result"] = {
            "num_faces": self.num_faces,
            "image_width": self.image_width,
            "image_height": self.image_height,
            "faces": [face.to_json() for face in self.faces],
            "file_path": self.file_path,
            "saved_path": str(self.saved_path) if self.saved_path is not None else None,
        }
        return out


def validate_thresholds(confidence_threshold: float, nms_threshold: float) -> None:
    """Both thresholds must lie in [0, 1]; else InvalidInputError naming the command line's flag
    and the keyword argument."""
    check_float_range(
        "--confidence-threshold (confidence_threshold)", confidence_threshold, 0.0, 1.0
    )
    check_float_range("--nms-threshold (nms_threshold)", nms_threshold, 0.0, 1.0)


class FaceDetectionClient(TaskClient[FaceDetectionResult]):
    """Typed client for ``POST /jobs/face_detection``: ``submit``, ``detect``, ``collect``."""

    task_type: ClassVar[str] = "face_detection"
    accepts: ClassVar[tuple[str, ...]] = ("image/",)
    multi_file: ClassVar[bool] = True

    async def submit(
        self,
        file: str | os.PathLike[str],
        *,
        confidence_threshold: float = DEFAULT_CONFIDENCE,
        nms_threshold: float = DEFAULT_NMS,
        priority: int = 5,
    ) -> JobCreated:
        """Upload ``file`` for detection. Faces scoring below ``confidence_threshold`` (0–1) are
        dropped; ``nms_threshold`` (0–1) is the overlap above which two boxes count as one face."""
        form = self.build_form(
            confidence_threshold=confidence_threshold, nms_threshold=nms_threshold
        )
        return await self.submit_form(file, form, priority=priority)

    @staticmethod
    def build_form(
        *, confidence_threshold: float = DEFAULT_CONFIDENCE, nms_threshold: float = DEFAULT_NMS
    ) -> dict[str, FormValue]:
        """The form fields of a detection job; InvalidInputError for thresholds outside 0–1."""
        validate_thresholds(confidence_threshold, nms_threshold)
        return {"confidence_threshold": confidence_threshold, "nms_threshold": nms_threshold}

    async def detect(
        self,
        file: str | os.PathLike[str],
        *,
        confidence_threshold: float = DEFAULT_CONFIDENCE,
        nms_threshold: float = DEFAULT_NMS,
        priority: int = 5,
        timeout: float | None = 30.0,  # noqa: ASYNC109 - the job's wait limit, not an I/O timeout
        dest: Path | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> FaceDetectionResult:
        """Submit ``file`` and wait for the faces. With ``dest`` (a folder), save the JSON and every
        crop there: ``dest/face_detection.json`` and ``dest/faces/face_<i>.png``."""
        created = await self.submit(
            file,
            confidence_threshold=confidence_threshold,
            nms_threshold=nms_threshold,
            priority=priority,
        )
        return await self.wait_result(
            created.job_id, timeout=timeout, on_progress=on_progress, dest=dest
        )

    async def collect(self, job: Job, dest: Path | None = None) -> FaceDetectionResult:
        remote = job.output_path or RESULT_FILE
        if dest is not None:
            _prepare_folder(dest)
        data, saved = await self.fetch_json(
            job, remote, dest / PurePosixPath(remote).name if dest else None
        )
        result = parse_face_detection(job, data, file_path=remote)
        if dest is None or saved is None:
            return result
        result.saved_path = saved
        result.downloaded.append(saved)
        for face in result.faces:
            if face.file_path is None:
                continue
            # Same relative layout as on the server (faces/face_<i>.png), never outside dest.
            target = safe_join(dest, face.file_path)
            face.crop_path = await self.compute.download(job.job_id, face.file_path, target)
            result.downloaded.append(face.crop_path)
        return result

    async def result_files(self, job: Job) -> list[str]:
        """The JSON and every face crop it names."""
        result = await self.collect(job)
        return [result.file_path, *(f.file_path for f in result.faces if f.file_path)]


def _prepare_folder(dest: Path) -> None:
    # Not created here: the first download creates it, so a failed job leaves no empty folder.
    if dest.exists() and not dest.is_dir():
        raise InvalidInputError(
            f"{dest} is a file; face detection results are saved to a folder "
            "(the JSON and every face crop)"
        )


def safe_relative_parts(file_path: str) -> tuple[str, ...]:
    """The parts of a server-named relative path; UnsafeResultPathError (a
    MalformedResponseError) if it could leave the destination folder (absolute, ``..``, empty
    segments such as ``faces/`` or ``faces//x.png``, backslashes, a drive letter)."""
    parts = check_result_path(file_path).parts
    if ":" in parts[0]:
        raise UnsafeResultPathError(file_path, "it starts with a drive letter")
    return parts


# --- parsing face_detection.json --------------------------------------------------------------


def parse_face_detection(job: Job, data: JsonObject, *, file_path: str) -> FaceDetectionResult:
    """Build a :class:`FaceDetectionResult` from the decoded ``face_detection.json``.

    Accepts the current shape (``bbox`` an object, landmarks ``[x, y]`` pairs), the list forms a
    serialiser could emit instead, and the older flat faces ``{x1, y1, x2, y2, confidence}``.
    """
    raw_faces = data.get("faces")
    if not isinstance(raw_faces, list):
        raise MalformedResponseError(f"face detection result of job {job.job_id} has no faces list")
    faces: list[DetectedFace] = []
    for index, raw in enumerate(cast("list[object]", raw_faces)):
        if not isinstance(raw, dict):
            raise MalformedResponseError(f"face {index} of job {job.job_id} is not an object")
        faces.append(_parse_face(index, cast(JsonObject, raw), job.job_id))
    return FaceDetectionResult(
        job=job,
        faces=faces,
        image_width=_optional_int(data.get("image_width")),
        image_height=_optional_int(data.get("image_height")),
        file_path=file_path,
    )


def _parse_face(index: int, raw: JsonObject, job_id: str) -> DetectedFace:
    where = f"face {index} of job {job_id}"
    bbox_value = raw.get("bbox", raw)  # older servers put x1..y2 on the face itself
    if isinstance(bbox_value, dict):
        box = cast(JsonObject, bbox_value)
        coords = [box.get(key) for key in ("x1", "y1", "x2", "y2")]
    elif isinstance(bbox_value, list):
        coords = cast("list[object]", bbox_value)
    else:
        coords = []
    numbers = [_number(value) for value in coords]
    if len(numbers) != 4 or any(n is None for n in numbers):
        raise MalformedResponseError(f"{where} has no readable bbox")
    x1, y1, x2, y2 = (cast(float, n) for n in numbers)

    confidence = _number(raw.get("confidence"))
    if confidence is None:
        raise MalformedResponseError(f"{where} has no confidence")
    file_path = raw.get("file_path")
    if isinstance(file_path, str) and file_path:
        safe_relative_parts(file_path)
    else:
        file_path = None
    return DetectedFace(
        index=index,
        bbox=BoundingBox(x1, y1, x2, y2),
        confidence=confidence,
        landmarks=_parse_landmarks(raw.get("landmarks")),
        file_path=file_path,
    )


def _parse_landmarks(value: object) -> dict[str, tuple[float, float]]:
    """Landmarks as name → (x, y); from an object of pairs, a list of pairs or a flat list."""
    points: dict[str, tuple[float, float]] = {}
    if isinstance(value, dict):
        for name, point in cast(JsonObject, value).items():
            pair = _pair(point)
            if pair is not None:
                points[name] = pair
    elif isinstance(value, list):
        items = cast("list[object]", value)
        if all(_number(v) is not None for v in items) and len(items) % 2 == 0:
            items = [[items[i], items[i + 1]] for i in range(0, len(items), 2)]
        for name, point in zip(LANDMARK_NAMES, items, strict=False):
            pair = _pair(point)
            if pair is not None:
                points[name] = pair
    return points


def _pair(value: object) -> tuple[float, float] | None:
    if isinstance(value, list | tuple):
        items = list(cast("list[object] | tuple[object, ...]", value))
    elif isinstance(value, dict):
        point = cast(JsonObject, value)
        items = [point.get("x"), point.get("y")]
    else:
        return None
    if len(items) != 2:
        return None
    x, y = _number(items[0]), _number(items[1])
    return None if x is None or y is None else (x, y)


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _optional_int(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None
