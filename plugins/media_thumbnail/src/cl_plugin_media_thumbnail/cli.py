"""``cl media-thumbnail generate``: JPEG thumbnails of images and videos, made by the server."""

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

app = typer.Typer(
    help="JPEG thumbnails of images (scaled to fit a box) and videos (a 4×4 grid of key frames).",
    no_args_is_help=True,
)


@app.command()
def generate(
    ctx: typer.Context,
    files: Annotated[list[Path], files_argument()],
    width: Annotated[
        int | None,
        typer.Option(
            "--width",
            "-w",
            help="Box width in pixels (default 256 when neither is given).",
            metavar="PX",
            show_default=False,
        ),
    ] = None,
    height: Annotated[
        int | None,
        typer.Option(
            "--height",
            "-h",
            help="Box height in pixels; with only one dimension the other follows the aspect.",
            metavar="PX",
            show_default=False,
        ),
    ] = None,
    keep_aspect: Annotated[
        bool,
        typer.Option(
            "--keep-aspect/--stretch",
            help="Fit inside the box keeping the aspect ratio, or stretch images to the box.",
        ),
    ] = True,
    priority: Annotated[int, priority_option()] = DEFAULT_PRIORITY,
    watch: Annotated[bool, watch_option()] = False,
    output: Annotated[Path | None, output_option()] = None,
    timeout: Annotated[float, timeout_option(DEFAULT_TIMEOUT)] = DEFAULT_TIMEOUT,
    json_output: Annotated[bool, json_option()] = False,
    jobs: Annotated[int, jobs_option()] = DEFAULT_JOBS,
) -> None:
    """Make a thumbnail of each FILE on the server and print its size.

    Thumbnails are never larger than the original. With --output the JPEG is saved (a file or
    folder for one input, a folder for several).
    """
    from cl_client.compute import ComputeClient
    from cl_client.models import JobCreated

    from cl_plugin_media_thumbnail.client import MediaThumbnailClient, validate_box
    from cl_plugin_media_thumbnail.render import render_thumbnail

    check_options(ctx, lambda: validate_box(width, height))

    async def submit(compute: ComputeClient, file: Path) -> JobCreated:
        return await MediaThumbnailClient(compute).submit(
            file,
            width=width,
            height=height,
            maintain_aspect_ratio=keep_aspect,
            priority=priority,
        )

    run_task(
        ctx,
        MediaThumbnailClient,
        files,
        submit,
        render_thumbnail,
        watch=watch,
        output=output,
        timeout=timeout,
        json_output=json_output,
        jobs=jobs,
    )
