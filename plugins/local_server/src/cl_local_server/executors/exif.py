"""``exif`` (PROTOCOL §5.3): exiftool when it is on PATH, else Pillow, giving the same object.

exiftool runs as ``exiftool -j -n`` like the reference worker, so ``raw_metadata`` holds ExifTool
tag names with numeric values. Requested ``tags`` filter that output here instead of becoming
``-TAG`` arguments, so no user text can turn into an exiftool option (``-o``, ``-w`` write files).
The Pillow fallback maps EXIF tags to the same ExifTool
names (ISO, CreateDate, ModifyDate, signed decimal GPS) so both give the same structured fields.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import cast

from PIL import ExifTags, Image, TiffImagePlugin, UnidentifiedImageError

from cl_local_server.executors import ProcessTracker, TaskContext
from cl_local_server.forms import JsonValue

# Pillow's EXIF names that ExifTool spells differently.
_EXIFTOOL_NAMES = {
    "ISOSpeedRatings": "ISO",
    "PhotographicSensitivity": "ISO",
    "DateTimeDigitized": "CreateDate",
    "DateTime": "ModifyDate",
    "ExifImageWidth": "ExifImageWidth",
    "ExifImageHeight": "ExifImageHeight",
}
_SKIP = {"ExifOffset", "GPSInfo", "MakerNote", "UserComment", "PrintImageMatching"}


def _number(value: object) -> float | None:
    """A float from an int, float, rational, ``(num, den)`` pair or ``"num den"``/``"num/den"``
    text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, TiffImagePlugin.IFDRational):
        return float(value) if value.denominator else None
    if isinstance(value, tuple | list):
        parts = cast(list[object], list(value))  # pyright: ignore[reportUnknownArgumentType]
        if len(parts) == 2:
            num, den = _number(parts[0]), _number(parts[1])
            if num is not None and den:
                return num / den
        if len(parts) == 1:
            return _number(parts[0])
        return None
    if isinstance(value, str):
        text = value.strip().replace("/", " ")
        pieces = text.split()
        try:
            if len(pieces) == 2:
                den = float(pieces[1])
                return float(pieces[0]) / den if den else None
            if len(pieces) == 1:
                return float(pieces[0])
        except ValueError:
            return None
    return None


def _int(value: object) -> int | None:
    number = _number(value)
    return int(number) if number is not None else None


def _text(value: object) -> str | None:
    if value is None:
        return None
    return str(value).strip("\x00 ") or None


def format_exposure(value: object) -> str | None:
    """Shutter speed as text: ``1/250`` for fractions of a second, ``2`` or ``2.5`` otherwise."""
    if isinstance(value, str) and "/" in value:
        return value.strip()
    seconds = _number(value)
    if seconds is None or seconds <= 0:
        return _text(value)
    if seconds < 1:
        frac = Fraction(seconds).limit_denominator(100000)
        if frac.numerator == 1:
            return f"1/{frac.denominator}"
        return f"1/{round(1 / seconds)}"
    return str(int(seconds)) if seconds.is_integer() else f"{seconds:g}"


def structured(raw: Mapping[str, JsonValue]) -> dict[str, JsonValue]:
    """The typed fields of §5.3 from ExifTool-named raw metadata; every field may be null."""
    fnum = _number(raw.get("FNumber"))
    focal = _number(raw.get("FocalLength"))
    return {
        "make": _text(raw.get("Make")),
        "model": _text(raw.get("Model")),
        "date_time_original": _text(raw.get("DateTimeOriginal")),
        "create_date": _text(raw.get("CreateDate")),
        "image_width": _int(raw.get("ImageWidth")),
        "image_height": _int(raw.get("ImageHeight")),
        "orientation": _int(raw.get("Orientation")),
        "iso": _int(raw.get("ISO")),
        "f_number": round(fnum, 4) if fnum is not None else None,
        "exposure_time": format_exposure(raw.get("ExposureTime")),
        "focal_length": round(focal, 4) if focal is not None else None,
        "gps_latitude": _number(raw.get("GPSLatitude")),
        "gps_longitude": _number(raw.get("GPSLongitude")),
        "gps_altitude": _number(raw.get("GPSAltitude")),
        "software": _text(raw.get("Software")),
        "raw_metadata": dict(raw),
    }


def _json_value(value: object) -> JsonValue | None:
    """EXIF values as JSON: rationals as floats, bytes dropped, tuples as lists."""
    if isinstance(value, TiffImagePlugin.IFDRational):
        return float(value) if value.denominator else None
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value.strip("\x00")
    if isinstance(value, tuple | list):
        items = [_json_value(v) for v in cast(list[object], list(value))]  # pyright: ignore[reportUnknownArgumentType]
        return [i for i in items if i is not None]
    return None


def _dms(value: object, ref: object) -> float | None:
    if not isinstance(value, tuple | list):
        return _number(value)
    parts = [_number(p) for p in cast(list[object], list(value))]  # pyright: ignore[reportUnknownArgumentType]
    if len(parts) != 3 or any(p is None for p in parts):
        return None
    deg, minutes, seconds = (p or 0.0 for p in parts)
    decimal = deg + minutes / 60 + seconds / 3600
    return -decimal if str(ref).upper().startswith(("S", "W")) else decimal


def pillow_metadata(path: Path) -> dict[str, JsonValue]:
    """ExifTool-named metadata read with Pillow; ``{}`` when the file is not an image Pillow
    reads."""
    try:
        img = Image.open(path)
    except (UnidentifiedImageError, OSError):
        return {}
    with img:
        exif = img.getexif()
        raw: dict[str, JsonValue] = {
            "FileType": img.format or None,
            "MIMEType": img.get_format_mimetype() if img.format else None,
            "ImageWidth": img.width,
            "ImageHeight": img.height,
        }
        ifds: list[Mapping[int, object]] = [exif, exif.get_ifd(ExifTags.IFD.Exif)]
        for ifd in ifds:
            for tag_id, value in ifd.items():
                name = ExifTags.TAGS.get(tag_id)
                if name is None or name in _SKIP:
                    continue
                converted = _json_value(value)
                if converted is not None:
                    raw[_EXIFTOOL_NAMES.get(name, name)] = converted
        gps = cast(Mapping[int, object], exif.get_ifd(ExifTags.IFD.GPSInfo))
        for tag_id, value in gps.items():
            name = ExifTags.GPSTAGS.get(tag_id)
            if name is None:
                continue
            converted = _json_value(value)
            if converted is not None:
                raw[name] = converted
        lat = _dms(gps.get(2), gps.get(1))
        lon = _dms(gps.get(4), gps.get(3))
        if lat is not None:
            raw["GPSLatitude"] = lat
        if lon is not None:
            raw["GPSLongitude"] = lon
        alt = _number(gps.get(6))
        if alt is not None:
            # GPSAltitudeRef 1 means below sea level.
            raw["GPSAltitude"] = -alt if gps.get(5) in (1, b"\x01") else alt
    return {k: v for k, v in raw.items() if v is not None}


def exiftool_metadata(path: Path, processes: ProcessTracker) -> dict[str, JsonValue]:
    exe = shutil.which("exiftool")
    if exe is None:
        raise RuntimeError("exiftool is not on PATH")
    # "--" ends the options, so even an odd upload name cannot be read as one.
    args = [exe, "-j", "-n", "--", str(path)]
    code, out, err = processes.run(args, timeout=60)
    try:
        parsed = cast(object, json.loads(out.decode("utf-8", "replace") or "[]"))
    except json.JSONDecodeError as exc:
        raise RuntimeError(f"exiftool failed: {err.decode('utf-8', 'replace').strip()}") from exc
    if code not in (0, 1) or not isinstance(parsed, list) or not parsed:
        return {}
    first = cast(list[object], parsed)[0]
    if not isinstance(first, dict):
        return {}
    raw = cast(dict[str, JsonValue], first)
    # SourceFile is the server-side path; it tells a client nothing.
    raw.pop("SourceFile", None)
    return raw


def extract_metadata(
    path: Path, tags: list[str], processes: ProcessTracker, *, use_exiftool: bool | None = None
) -> dict[str, JsonValue]:
    """The §5.3 object. ``tags`` restricts ``raw_metadata`` (and so the fields) to those tag
    names."""
    if use_exiftool is None:
        use_exiftool = shutil.which("exiftool") is not None
    raw = exiftool_metadata(path, processes) if use_exiftool else pillow_metadata(path)
    if tags:
        # ExifTool tag names are case-insensitive; a "Group:Tag" request matches the tag part.
        wanted = {t.rsplit(":", 1)[-1].strip().lower() for t in tags if t.strip()}
        raw = {k: v for k, v in raw.items() if k.lower() in wanted}
    return structured(raw)


def run_exif(ctx: TaskContext) -> dict[str, object]:
    if not ctx.input_path.is_file():
        raise FileNotFoundError(f"Input file not found: {ctx.params.get('input_path')}")
    raw_tags = ctx.params.get("tags")
    tags = [str(t) for t in cast(list[object], raw_tags)] if isinstance(raw_tags, list) else []
    ctx.progress(10)
    metadata = extract_metadata(ctx.input_path, tags, ctx.processes)
    ctx.output_path.parent.mkdir(parents=True, exist_ok=True)
    ctx.output_path.write_text(json.dumps(metadata, indent=2))
    return dict(metadata)
