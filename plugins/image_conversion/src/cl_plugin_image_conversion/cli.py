"""``cl image-conversion convert``: convert images to another format on the server."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from cl_client.cli import TaskPlan, task_command

if TYPE_CHECKING:
    from cl_plugin_image_conversion.client import ConversionResult

DEFAULT_QUALITY = 85

app = typer.Typer(
    help="Convert images to PNG, JPEG, WebP, GIF, BMP or TIFF.",
    no_args_is_help=True,
)


@task_command(app, "convert", default_timeout=60)
def convert(
    format: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help="Output format (required): png, jpg, jpeg, webp, gif, bmp or tiff.",
            metavar="png|jpg|jpeg|webp|gif|bmp|tiff",
            show_default=False,
        ),
    ] = None,
    quality: Annotated[
        int,
        typer.Option(
            "--quality",
            help="Compression quality 1-100 for jpg/jpeg/webp (other formats ignore it).",
            metavar="1-100",
        ),
    ] = DEFAULT_QUALITY,
) -> TaskPlan[ConversionResult]:
    """Convert each input on the server and print the new image's format and size.

    With --output, the converted image is saved; without it, it stays on the server
    (`cl job download JOB_ID PATH`).
    """
    from cl_client.errors import InvalidInputError

    from cl_plugin_image_conversion.client import ImageConversionClient
    from cl_plugin_image_conversion.render import render_conversion

    if format is None:
        raise InvalidInputError("--format is required: png, jpg, jpeg, webp, gif, bmp or tiff")
    form = ImageConversionClient.build_form(format=format, quality=quality)
    return TaskPlan(ImageConversionClient, form, render_conversion)
