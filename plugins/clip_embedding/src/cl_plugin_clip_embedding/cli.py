"""``cl clip-embedding embed``: the MobileCLIP image embedding (512 float32 values) of each file.

Only typer, pathlib, typing and ``cl_client.cli`` are imported here; the client and the rendering
are imported when the command runs, so ``cl --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from cl_client.cli import (
    files_argument,
    jobs_option,
    json_option,
    output_option,
    priority_option,
    run_task,
    timeout_option,
    watch_option,
)

app = typer.Typer(no_args_is_help=True)


@app.callback()
def main() -> None:
    """MobileCLIP image embeddings (512 float32 values) of media files."""


@app.command()
def embed(
    ctx: typer.Context,
    files: Annotated[list[Path], files_argument()],
    normalize: Annotated[
        bool,
        typer.Option(
            "--normalize/--no-normalize", help="L2-normalise the vector (the server default)."
        ),
    ] = True,
    watch: Annotated[bool, watch_option("-w")] = False,
    output: Annotated[Path | None, output_option()] = None,
    timeout: Annotated[float, timeout_option(60)] = 60,
    json_output: Annotated[bool, json_option()] = False,
    jobs: Annotated[int, jobs_option()] = 3,
    priority: Annotated[int, priority_option()] = 5,
) -> None:
    """Compute the embedding of each FILE; --output saves the .npy file(s)."""
    from cl_plugin_clip_embedding.client import ClipEmbeddingClient
    from cl_plugin_clip_embedding.render import render_embedding

    run_task(
        ctx,
        ClipEmbeddingClient,
        files,
        lambda compute, path: ClipEmbeddingClient(compute).submit(
            path, normalize=normalize, priority=priority
        ),
        render_embedding,
        watch=watch,
        output=output,
        timeout=timeout,
        json_output=json_output,
        jobs=jobs,
    )
