"""Hook implementations; kept light because ``cl`` imports this module for ``cl --help``."""

from __future__ import annotations

from cl_client.hookspecs import RegisterCommand, RegisterTaskClient, hookimpl


@hookimpl
def cl_register_commands(register: RegisterCommand) -> None:
    register("exif", "cl_plugin_exif.cli:app", help="EXIF metadata (camera, date, GPS) of images.")


@hookimpl
def cl_register_task_clients(register: RegisterTaskClient) -> None:
    register("exif", "cl_plugin_exif.client:ExifClient")
