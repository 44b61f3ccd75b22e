"""``cl exif extract``: EXIF metadata of images, read by the server."""

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

DEFAULT_TIMEOUT = 30.0

app = typer.Typer(
    help="EXIF metadata of images: camera, date taken, exposure, GPS position.",
    no_args_is_help=True,
)


@app.command()
def extract(
    ctx: typer.Context,
    files: Annotated[list[Path], files_argument()],
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
    priority: Annotated[int, priority_option()] = DEFAULT_PRIORITY,
    watch: Annotated[bool, watch_option()] = False,
    output: Annotated[Path | None, output_option()] = None,
    timeout: Annotated[float, timeout_option(DEFAULT_TIMEOUT)] = DEFAULT_TIMEOUT,
    json_output: Annotated[bool, json_option()] = False,
    jobs: Annotated[int, jobs_option()] = DEFAULT_JOBS,
) -> None:
    """Read the metadata of each FILE on the server and print it as a table.

    With --output, the server's exif_metadata.json (every raw tag) is saved too.
    """
    from cl_client.compute import ComputeClient
    from cl_client.errors import InvalidInputError
    from cl_client.models import JobCreated

    from cl_plugin_exif.client import ExifClient, validate_tags
    from cl_plugin_exif.render import render_exif

    def check_tags() -> list[str]:
        names = validate_tags(",".join(tags or []))
        if tags and not names:
            raise InvalidInputError("--tag needs a tag name, e.g. --tag Make")
        return names

    names = check_options(ctx, check_tags)

    async def submit(compute: ComputeClient, file: Path) -> JobCreated:
        return await ExifClient(compute).submit(file, tags=names, priority=priority)

    run_task(
        ctx,
        ExifClient,
        files,
        submit,
        lambda result, out: render_exif(result, out, raw=raw),
        watch=watch,
        output=output,
        timeout=timeout,
        json_output=json_output,
        jobs=jobs,
    )
