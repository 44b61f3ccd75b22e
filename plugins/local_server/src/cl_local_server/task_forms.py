"""The form fields of the nine ``POST /jobs/<task>`` routes (PROTOCOL §5) and the params they
store."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import cast

from cl_local_server.forms import FieldError, FieldReader, JsonValue

JsonObject = dict[str, JsonValue]

IMAGE_FORMATS = ("png", "jpg", "jpeg", "webp", "gif", "bmp", "tiff")
#: The ``variants`` of an ``hls_streaming`` form that has none (upstream's form default).
FORM_DEFAULT_HLS_VARIANTS: list[JsonValue] = [
    {"resolution": 720, "bitrate": 3500},
    {"resolution": 480, "bitrate": 1500},
]
#: Upstream's schema default, for params that have no ``variants`` at all.
SCHEMA_DEFAULT_HLS_VARIANTS: list[JsonValue] = [
    *FORM_DEFAULT_HLS_VARIANTS,
    {"resolution": 240, "bitrate": 800},
]

# Reads the task's own fields; returns them plus output_path, given the stored input file name.
TaskForm = Callable[[FieldReader, str], JsonObject]


def _embedding(name: str) -> TaskForm:
    def read(reader: FieldReader, _filename: str) -> JsonObject:
        normalize = reader.boolean("normalize", True)
        return {"output_path": f"output/{name}.npy", "normalize": normalize}

    return read


def _exif(reader: FieldReader, _filename: str) -> JsonObject:
    raw = reader.string("tags") or ""
    tags: list[JsonValue] = [t.strip() for t in raw.split(",") if t.strip()]
    return {"output_path": "output/exif_metadata.json", "tags": tags}


def _face_detection(reader: FieldReader, _filename: str) -> JsonObject:
    confidence = reader.number("confidence_threshold", 0.7, ge=0.0, le=1.0)
    nms = reader.number("nms_threshold", 0.4, ge=0.0, le=1.0)
    return {
        "output_path": "output/face_detection.json",
        "confidence_threshold": confidence,
        "nms_threshold": nms,
    }


def _hash(reader: FieldReader, _filename: str) -> JsonObject:
    algorithm = reader.choice("algorithm", ("sha512", "md5"), required=False) or "sha512"
    return {"output_path": "output/hash.json", "algorithm": algorithm}


def _variant_error(raw: str, why: str) -> FieldError:
    return FieldError(
        "value_error", ("body", "variants"), f"Value error, {why}", raw, {"error": {}}
    )


def parse_variants(raw: str) -> tuple[list[JsonValue], FieldError | None]:
    """A JSON array of ``{"resolution": int>0|null, "bitrate": int>=100|null}`` objects."""
    try:
        parsed = cast(object, json.loads(raw))
    except json.JSONDecodeError:
        return [], _variant_error(raw, "variants must be a JSON array")
    if not isinstance(parsed, list):
        return [], _variant_error(raw, "variants must be a JSON array")
    items = cast(list[object], parsed)
    if not items:
        return [], _variant_error(raw, "At least one variant must be specified")
    variants: list[JsonValue] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            return [], _variant_error(raw, f"variant {index} must be an object")
        spec = cast(dict[str, object], item)
        unknown = set(spec) - {"resolution", "bitrate"}
        if unknown:
            return [], _variant_error(raw, f"variant {index} has unknown keys {sorted(unknown)}")
        res, rate = spec.get("resolution"), spec.get("bitrate")
        if res is not None and (not isinstance(res, int) or isinstance(res, bool) or res <= 0):
            return [], _variant_error(
                raw, f"variant {index}: resolution must be a positive integer or null"
            )
        if rate is not None and (not isinstance(rate, int) or isinstance(rate, bool) or rate < 100):
            return [], _variant_error(
                raw, f"variant {index}: bitrate must be an integer >= 100 or null"
            )
        variants.append({"resolution": res, "bitrate": rate})
    return variants, None


def _hls(reader: FieldReader, _filename: str) -> JsonObject:
    raw = reader.string("variants")
    variants, error = parse_variants(raw) if raw else (list(FORM_DEFAULT_HLS_VARIANTS), None)
    if error is not None:
        reader.add(error)
    include_original = reader.boolean("include_original", False)
    return {"output_path": "output", "variants": variants, "include_original": include_original}


def _image_conversion(reader: FieldReader, filename: str) -> JsonObject:
    fmt = reader.choice("format", IMAGE_FORMATS, required=True)
    quality = reader.integer("quality", 85, ge=1, le=100)
    ext = "jpg" if fmt == "jpeg" else fmt
    stem = PurePosixPath(filename).stem
    return {"output_path": f"output/converted_{stem}.{ext}", "format": fmt, "quality": quality}


def _media_thumbnail(reader: FieldReader, _filename: str) -> JsonObject:
    width = reader.integer("width", None, gt=0)
    height = reader.integer("height", None, gt=0)
    keep = reader.boolean("maintain_aspect_ratio", True)
    return {
        "output_path": "output/thumbnail.jpg",
        "width": width,
        "height": height,
        "maintain_aspect_ratio": keep,
    }


TASK_FORMS: dict[str, TaskForm] = {
    "clip_embedding": _embedding("clip_embedding"),
    "dino_embedding": _embedding("dino_embedding"),
    "exif": _exif,
    "face_detection": _face_detection,
    "face_embedding": _embedding("face_embedding"),
    "hash": _hash,
    "hls_streaming": _hls,
    "image_conversion": _image_conversion,
    "media_thumbnail": _media_thumbnail,
}

_RESERVED = {"file", "priority"}


def generic_form(values: dict[str, str]) -> TaskForm:
    """For task types added by a registered executor: every other form field is kept as a string,
    and the result goes to ``output/``."""

    def read(_reader: FieldReader, _filename: str) -> JsonObject:
        extra: JsonObject = {k: v for k, v in values.items() if k not in _RESERVED}
        return {"output_path": "output", **extra}

    return read
