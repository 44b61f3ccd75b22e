"""Hook implementations. Keep this module light: ``cl --help`` imports it."""

from __future__ import annotations

from cl_client.hookspecs import RegisterCommand, hookimpl


@hookimpl
def cl_register_commands(register: RegisterCommand) -> None:
    # An import path, not the app: the Typer app is imported only when `cl example` runs.
    register(
        "example",
        "cl_plugin_example.cli:app",
        help="Example plugin: short file fingerprints and duplicates (hash task).",
    )
