"""``cl hash compute``: content hashes of media files, computed by the server."""

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
    help="Content hashes of media files (SHA-512 of the decoded media, or MD5 of the file).",
    no_args_is_help=True,
)


@app.command()
def compute(
    ctx: typer.Context,
    files: Annotated[list[Path], files_argument()],
    algorithm: Annotated[
        str,
        typer.Option(
            "--algorithm",
            "-a",
            help=(
                "sha512: of the decoded pixels (images), key frames (videos) or bytes (other "
                "files); md5: of the file bytes."
            ),
            metavar="sha512|md5",
        ),
    ] = "sha512",
    priority: Annotated[int, priority_option()] = DEFAULT_PRIORITY,
    watch: Annotated[bool, watch_option()] = False,
    output: Annotated[Path | None, output_option()] = None,
    timeout: Annotated[float, timeout_option(DEFAULT_TIMEOUT)] = DEFAULT_TIMEOUT,
    json_output: Annotated[bool, json_option()] = False,
    jobs: Annotated[int, jobs_option()] = DEFAULT_JOBS,
) -> None:
    """Hash each FILE on the server and print the hash and what was hashed.

    With --output, the server's hash.json is saved too (a folder for several files).
    """
    from cl_client.compute import ComputeClient
    from cl_client.models import JobCreated

    from cl_plugin_hash.client import HashClient, validate_algorithm
    from cl_plugin_hash.render import render_hash

    chosen = check_options(ctx, lambda: validate_algorithm(algorithm))

    async def submit(compute: ComputeClient, file: Path) -> JobCreated:
        return await HashClient(compute).submit(file, algorithm=chosen, priority=priority)

    run_task(
        ctx,
        HashClient,
        files,
        submit,
        render_hash,
        watch=watch,
        output=output,
        timeout=timeout,
        json_output=json_output,
        jobs=jobs,
    )
