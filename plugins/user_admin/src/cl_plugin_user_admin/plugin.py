"""The ``cl`` hook implementations: registers ``cl user`` by import path, so nothing heavy loads."""

from __future__ import annotations

from cl_client.hookspecs import RegisterCommand, hookimpl


@hookimpl
def cl_register_commands(register: RegisterCommand) -> None:
    register(
        "user",
        "cl_plugin_user_admin.cli:app",
        help="Manage the auth service's users (admin only).",
        panel="Administration",
    )
