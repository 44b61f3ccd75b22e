"""Human output of ``cl media-thumbnail generate``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cl_client.cli import format_bytes

if TYPE_CHECKING:
    from cl_client.cli import Output

    from cl_plugin_media_thumbnail.client import ThumbnailResult


def render_thumbnail(result: ThumbnailResult, output: Output) -> None:
    """The thumbnail: where it is, its format, pixel size and file size, and the source's kind."""
    pairs: list[tuple[str, object]] = [
        (
            "thumbnail",
            str(result.path) if result.path is not None else f"{result.remote_path} (on server)",
        ),
        ("format", result.format),
    ]
    if result.width is not None and result.height is not None:
        pairs.append(("size", f"{result.width}×{result.height}"))
    pairs.append(("bytes", format_bytes(result.size_bytes)))
    if result.media_type is not None:
        pairs.append(("source", result.media_type))
    output.key_values(pairs)
