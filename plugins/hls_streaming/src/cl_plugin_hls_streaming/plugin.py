"""Hook implementations; kept light because ``cl`` imports this module for ``cl --help``."""

from __future__ import annotations

from cl_client.hookspecs import RegisterCommand, RegisterTaskClient, hookimpl


@hookimpl
def cl_register_commands(register: RegisterCommand) -> None:
    register(
        "hls-streaming",
        "cl_plugin_hls_streaming.cli:app",
        help="HLS adaptive streams (playlists and segments) of videos.",
    )


@hookimpl
def cl_register_task_clients(register: RegisterTaskClient) -> None:
    register("hls_streaming", "cl_plugin_hls_streaming.client:HlsStreamingClient")
