"""``cl media-thumbnail generate``: JPEG thumbnails of images and videos, made by the server."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from cl_client.cli import TaskPlan, task_command

if TYPE_CHECKING:
    from cl_plugin_media_thumbnail.client import ThumbnailResult

app = typer.Typer(
    help="JPEG thumbnails of images (scaled to fit a box) and videos (a 4×4 grid of key frames).",
    no_args_is_help=True,
)


@task_command(app, "generate", default_timeout=60)
def generate(
    width: Annotated[
        int | None,
        typer.Option(
            "--width",
            help="Box width in pixels (default 256 when neither is given).",
            metavar="PX",
            show_default=False,
        ),
    ] = None,
    height: Annotated[
        int | None,
        typer.Option(
            "--height",
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
) -> TaskPlan[ThumbnailResult]:
    """Make a thumbnail of each input on the server and print its size.

    Thumbnails are never larger than the original. With --output the JPEG is saved.
    """
    from cl_plugin_media_thumbnail.client import MediaThumbnailClient
    from cl_plugin_media_thumbnail.render import render_thumbnail

    form = MediaThumbnailClient.build_form(
        width=width, height=height, maintain_aspect_ratio=keep_aspect
    )
    return TaskPlan(MediaThumbnailClient, form, render_thumbnail)
