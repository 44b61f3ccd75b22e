"""Human output of ``cl exif extract``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cl_client.cli import Output

    from cl_plugin_exif.client import ExifResult


def render_exif(
    result: ExifResult, output: Output, *, raw: bool = False, file_tags: bool = False
) -> None:
    """A table of the metadata: the summary fields the image has; with a tag filter the requested
    tags instead; with ``raw`` every tag ExifTool reported, except (unless ``file_tags``) those
    about the server's copy of the file (File and System groups). A file without any of these
    says ``no EXIF metadata``, whatever its type."""
    from cl_plugin_exif.client import find_tag, is_file_tag

    requested = result.requested_tags
    rows: list[tuple[str, str]] = []
    if raw:
        rows = [
            (tag, _plain(value))
            for tag, value in result.raw_metadata.items()
            if file_tags or not is_file_tag(tag)
        ]
    elif requested:
        for tag in requested:
            hit = find_tag(result.raw_metadata, tag)
            rows.append((tag, "—" if hit is None else _plain(hit[1])))
    else:
        rows = summary_rows(result)
    saved = [("saved", str(path)) for path in result.downloaded]
    if rows:
        output.table(("field", "value"), rows + saved)
        return
    others = sum(1 for tag in result.raw_metadata if not is_file_tag(tag))
    more = f" ({others} other tags: --raw shows them)" if others and not raw else ""
    output.result(f"no EXIF metadata{more}")
    if saved:
        output.key_values(saved)


def summary_rows(result: ExifResult) -> list[tuple[str, str]]:
    """(label, value) for every summary field that is present, in a reading order."""
    rows: list[tuple[str, str]] = []

    def add(label: str, value: str | None) -> None:
        if value is not None:
            rows.append((label, value))

    add("Make", result.make)
    add("Model", result.model)
    add("Date taken", result.date_time_original)
    add("Created", result.create_date)
    if result.image_width is not None and result.image_height is not None:
        add("Size", f"{result.image_width}×{result.image_height}")
    add("Orientation", _opt(result.orientation))
    add("ISO", _opt(result.iso))
    add("Aperture", None if result.f_number is None else f"f/{result.f_number:g}")
    add("Exposure", None if result.exposure_time is None else f"{result.exposure_time} s")
    add("Focal length", None if result.focal_length is None else f"{result.focal_length:g} mm")
    if result.gps_latitude is not None and result.gps_longitude is not None:
        add("GPS", format_gps(result.gps_latitude, result.gps_longitude))
    add("Altitude", None if result.gps_altitude is None else f"{result.gps_altitude:g} m")
    add("Software", result.software)
    return rows


def format_gps(latitude: float, longitude: float) -> str:
    """Decimal and sexagesimal degrees: ``28.523889, -80.650833 (28°31'26"N 80°39'3"W)``."""
    return (
        f"{latitude:.6f}, {longitude:.6f} ({_dms(latitude, 'N', 'S')} {_dms(longitude, 'E', 'W')})"
    )


def _dms(value: float, positive: str, negative: str) -> str:
    total = round(abs(value) * 3600)
    degrees, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{degrees}°{minutes}'{seconds}\"{positive if value >= 0 else negative}"


def _opt(value: int | None) -> str | None:
    return None if value is None else str(value)


def _plain(value: object) -> str:
    return value if isinstance(value, str) else str(value)
