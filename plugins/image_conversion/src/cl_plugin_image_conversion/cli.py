"""``cl image-conversion convert``: convert images to another format on the server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from cl_client.cli import (
    DEFAULT_JOBS,
    DEFAULT_PRIORITY,
    check_options,
    files_argument,
    jobs_option,
    json_option,
    output_option,
    priority_option,
    run_task,
    timeout_option,
    watch_option,
)

DEFAULT_TIMEOUT = 60.0
DEFAULT_QUALITY = 85

app = typer.Typer(
    help="Convert images to PNG, JPEG, WebP, GIF, BMP or TIFF.",
    no_args_is_help=True,
)


@app.command()
def convert(
    ctx: typer.Context,
    files: Annotated[list[Path], files_argument()],
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
            "-q",
            help="Compression quality 1-100 for jpg/jpeg/webp (other formats ignore it).",
            metavar="1-100",
        ),
    ] = DEFAULT_QUALITY,
    priority: Annotated[int, priority_option()] = DEFAULT_PRIORITY,
    watch: Annotated[bool, watch_option()] = False,
    output: Annotated[Path | None, output_option()] = None,
    timeout: Annotated[float, timeout_option(DEFAULT_TIMEOUT)] = DEFAULT_TIMEOUT,
    json_output: Annotated[bool, json_option()] = False,
    jobs: Annotated[int, jobs_option()] = DEFAULT_JOBS,
) -> None:
    """Convert each FILE on the server and print the new image's format and size.

    With --output, the converted image is saved (a file or folder for one input, a folder for
    several); without it, it stays on the server (`cl download JOB_ID PATH`).
    """
    from cl_client.compute import ComputeClient
    from cl_client.errors import InvalidInputError
    from cl_client.models import JobCreated

    from cl_plugin_image_conversion.client import (
        ImageConversionClient,
        ImageFormat,
        validate_format,
        validate_quality,
    )
    from cl_plugin_image_conversion.render import render_conversion

    def check() -> ImageFormat:
        if format is None:
            raise InvalidInputError("--format is required: png, jpg, jpeg, webp, gif, bmp or tiff")
        chosen = validate_format(format)
        validate_quality(quality)
        return chosen

    chosen = check_options(ctx, check)

    async def submit(compute: ComputeClient, file: Path) -> JobCreated:
        return await ImageConversionClient(compute).submit(
            file, format=chosen, quality=quality, priority=priority
        )

    run_task(
        ctx,
        ImageConversionClient,
        files,
        submit,
        render_conversion,
        watch=watch,
        output=output,
        timeout=timeout,
        json_output=json_output,
        jobs=jobs,
    )
