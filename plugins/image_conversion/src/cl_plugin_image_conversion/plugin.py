"""Hook implementations; kept light because ``cl`` imports this module for ``cl --help``."""

from __future__ import annotations

from cl_client.hookspecs import RegisterCommand, RegisterTaskClient, hookimpl


@hookimpl
def cl_register_commands(register: RegisterCommand) -> None:
    register(
        "image-conversion",
        "cl_plugin_image_conversion.cli:app",
        help="Convert images to PNG, JPEG, WebP, GIF, BMP or TIFF.",
    )


@hookimpl
def cl_register_task_clients(register: RegisterTaskClient) -> None:
    register("image_conversion", "cl_plugin_image_conversion.client:ImageConversionClient")
