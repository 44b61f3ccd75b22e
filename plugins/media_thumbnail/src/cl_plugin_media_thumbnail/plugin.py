"""Hook implementations; kept light because ``cl`` imports this module for ``cl --help``."""

from __future__ import annotations

from cl_client.hookspecs import RegisterCommand, RegisterTaskClient, hookimpl


@hookimpl
def cl_register_commands(register: RegisterCommand) -> None:
    register(
        "media-thumbnail",
        "cl_plugin_media_thumbnail.cli:app",
        help="JPEG thumbnails of images and videos.",
    )


@hookimpl
def cl_register_task_clients(register: RegisterTaskClient) -> None:
    register("media_thumbnail", "cl_plugin_media_thumbnail.client:MediaThumbnailClient")
