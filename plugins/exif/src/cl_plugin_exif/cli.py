"""``cl exif extract``: EXIF metadata of images, read by the server."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from cl_client.cli import TaskPlan, task_command

if TYPE_CHECKING:
    from cl_plugin_exif.client import ExifResult

app = typer.Typer(
    help="EXIF metadata of images: camera, date taken, exposure, GPS position.",
    no_args_is_help=True,
)


@task_command(app, "extract", default_timeout=30)
def extract(
    tags: Annotated[
        list[str] | None,
        typer.Option(
            "--tag",
            help=(
                "Only this raw tag (repeat, or comma-separate: --tag Make,Model); "
                "default all tags. The table then shows the requested tags."
            ),
            metavar="NAME",
            show_default=False,
        ),
    ] = None,
    raw: Annotated[
        bool,
        typer.Option("--raw", help="Show every raw tag instead of the summary."),
    ] = False,
    file_tags: Annotated[
        bool,
        typer.Option(
            "--file-tags",
            help=(
                "With --raw, also show the File and System tags (about the server's temporary "
                "copy: name, folder, dates, permissions)."
            ),
        ),
    ] = False,
) -> TaskPlan[ExifResult]:
    """Read the metadata of each input on the server and print it as a table.

    With --output, the server's exif_metadata.json (every raw tag) is saved too.
    """
    from cl_client.cli.output import Output
    from cl_client.errors import InvalidInputError

    from cl_plugin_exif.client import ExifClient
    from cl_plugin_exif.render import render_exif

    form = ExifClient.build_form(tags=",".join(tags or []))
    if tags and not form:
        raise InvalidInputError("--tag needs a tag name, e.g. --tag Make")

    def render(result: ExifResult, out: Output) -> None:
        render_exif(result, out, raw=raw, file_tags=file_tags)

    return TaskPlan(ExifClient, form, render)
