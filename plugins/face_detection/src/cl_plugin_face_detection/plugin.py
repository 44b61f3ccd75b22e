"""Hook implementations; kept light because ``cl`` imports this module for ``cl --help``."""

from __future__ import annotations

from cl_client.hookspecs import RegisterCommand, RegisterTaskClient, hookimpl


@hookimpl
def cl_register_commands(register: RegisterCommand) -> None:
    register(
        "face-detection",
        "cl_plugin_face_detection.cli:app",
        help="Face detection with aligned face crops.",
    )


@hookimpl
def cl_register_task_clients(register: RegisterTaskClient) -> None:
    register("face_detection", "cl_plugin_face_detection.client:FaceDetectionClient")
