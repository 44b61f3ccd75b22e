"""Hook implementations; kept light because ``cl`` imports this module for ``cl --help``."""

from __future__ import annotations

from cl_client.hookspecs import RegisterCommand, RegisterTaskClient, hookimpl


@hookimpl
def cl_register_commands(register: RegisterCommand) -> None:
    register("hash", "cl_plugin_hash.cli:app", help="Content hashes (MD5, SHA-512) of media files.")


@hookimpl
def cl_register_task_clients(register: RegisterTaskClient) -> None:
    register("hash", "cl_plugin_hash.client:HashClient")
