"""``cl hls-streaming generate-manifest``: HLS adaptive streams of videos, encoded by the server."""

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

DEFAULT_TIMEOUT = 120.0

app = typer.Typer(
    help="HLS adaptive streams of videos: a master playlist, variant playlists and TS segments.",
    no_args_is_help=True,
)


@app.command("generate-manifest")
def generate_manifest(
    ctx: typer.Context,
    files: Annotated[list[Path], files_argument()],
    variants: Annotated[
        list[str] | None,
        typer.Option(
            "--variant",
            "-V",
            help=(
                "A rendition HEIGHT[:KBITS], e.g. 720:3500 or 480 or auto:800 (source height); "
                "repeat for several. Default: 720:3500 and 480:1500."
            ),
            metavar="HEIGHT[:KBITS]",
            show_default=False,
        ),
    ] = None,
    include_original: Annotated[
        bool,
        typer.Option(
            "--include-original",
            help="Also add the source as a stream, copied without re-encoding.",
        ),
    ] = False,
    priority: Annotated[int, priority_option()] = DEFAULT_PRIORITY,
    watch: Annotated[bool, watch_option()] = False,
    output: Annotated[Path | None, output_option()] = None,
    timeout: Annotated[float, timeout_option(DEFAULT_TIMEOUT)] = DEFAULT_TIMEOUT,
    json_output: Annotated[bool, json_option()] = False,
    jobs: Annotated[int, jobs_option()] = DEFAULT_JOBS,
) -> None:
    """Encode each video FILE as an HLS stream and print its variants and segment counts.

    With --output FOLDER the master playlist (adaptive.m3u8), every variant playlist and every
    segment are saved there, ready for a player (one sub-folder per input for several).
    """
    from cl_client.compute import ComputeClient
    from cl_client.models import JobCreated

    from cl_plugin_hls_streaming.client import (
        HlsStreamingClient,
        HlsVariant,
        parse_variant,
        validate_variants,
    )
    from cl_plugin_hls_streaming.render import render_hls

    def check() -> list[HlsVariant] | None:
        return validate_variants([parse_variant(text) for text in variants]) if variants else None

    chosen = check_options(ctx, check)

    async def submit(compute: ComputeClient, file: Path) -> JobCreated:
        return await HlsStreamingClient(compute).submit(
            file, variants=chosen, include_original=include_original, priority=priority
        )

    run_task(
        ctx,
        HlsStreamingClient,
        files,
        submit,
        render_hls,
        watch=watch,
        output=output,
        timeout=timeout,
        json_output=json_output,
        jobs=jobs,
    )
