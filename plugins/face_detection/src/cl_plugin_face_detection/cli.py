"""``cl face-detection detect``: faces (box, confidence, landmarks, aligned crop) in each image.

Only typer, typing and ``cl_client.cli`` are imported here; the client and the rendering are
imported when the command runs, so ``cl --help`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from cl_client.cli import TaskPlan, task_command

if TYPE_CHECKING:
    from cl_plugin_face_detection.client import FaceDetectionResult

app = typer.Typer(no_args_is_help=True)


@app.callback()
def main() -> None:
    """Face detection: boxes, landmarks and aligned 112×112 face crops."""


@task_command(app, "detect", default_timeout=30)
def detect(
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
) -> TaskPlan[FaceDetectionResult]:
    """Find the faces in each input; --output saves a folder per input with the JSON and every
    face crop."""
    from cl_plugin_face_detection.client import FaceDetectionClient
    from cl_plugin_face_detection.render import render_faces

    form = FaceDetectionClient.build_form(
        confidence_threshold=confidence_threshold, nms_threshold=nms_threshold
    )
    return TaskPlan(FaceDetectionClient, form, render_faces)
