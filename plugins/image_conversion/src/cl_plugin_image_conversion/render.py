"""Human output of ``cl image-conversion convert``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cl_client.cli import format_bytes

if TYPE_CHECKING:
    from cl_client.cli import Output

    from cl_plugin_image_conversion.client import ConversionResult


def render_conversion(result: ConversionResult, output: Output) -> None:
    """The converted image: where it is, its format, pixel size and file size."""
    pairs: list[tuple[str, object]] = [
        (
            "file",
            str(result.path) if result.path is not None else f"{result.remote_path} (on server)",
        ),
        ("format", result.format),
    ]
    if result.width is not None and result.height is not None:
        pairs.append(("size", f"{result.width}×{result.height}"))
    pairs.append(("bytes", format_bytes(result.size_bytes)))
    output.key_values(pairs)
