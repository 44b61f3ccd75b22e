"""``cl face-detection detect``: faces (box, confidence, landmarks, aligned crop) in each image.

Only typer, pathlib, typing and ``cl_client.cli`` are imported here; the client and the rendering
are imported when the command runs, so ``cl --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from cl_client.cli import (
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

app = typer.Typer(no_args_is_help=True)


@app.callback()
def main() -> None:
    """Face detection: boxes, landmarks and aligned 112×112 face crops."""


@app.command()
def detect(
    ctx: typer.Context,
    files: Annotated[list[Path], files_argument()],
    confidence_threshold: Annotated[
        float,
        typer.Option(
            "--confidence-threshold",
            metavar="0-1",
            help="Drop faces scoring below this.",
        ),
    ] = 0.7,
    nms_threshold: Annotated[
        float,
        typer.Option(
            "--nms-threshold",
            metavar="0-1",
            help="Overlap above which two boxes count as one face.",
        ),
    ] = 0.4,
    watch: Annotated[bool, watch_option()] = False,
    output: Annotated[Path | None, output_option()] = None,
    timeout: Annotated[float, timeout_option(30)] = 30,
    json_output: Annotated[bool, json_option()] = False,
    jobs: Annotated[int, jobs_option()] = 3,
    priority: Annotated[int, priority_option()] = 5,
) -> None:
    """Find the faces in each FILE; --output saves a folder with the JSON and every face crop."""
    from cl_plugin_face_detection.client import FaceDetectionClient, validate_thresholds
    from cl_plugin_face_detection.render import render_faces

    # Before run_task, so that nothing is uploaded with a bad value.
    check_options(ctx, lambda: validate_thresholds(confidence_threshold, nms_threshold))
    run_task(
        ctx,
        FaceDetectionClient,
        files,
        lambda compute, path: FaceDetectionClient(compute).submit(
            path,
            confidence_threshold=confidence_threshold,
            nms_threshold=nms_threshold,
            priority=priority,
        ),
        render_faces,
        watch=watch,
        output=output,
        timeout=timeout,
        json_output=json_output,
        jobs=jobs,
    )
