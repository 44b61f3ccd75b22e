"""Hook implementations; kept light because ``cl`` imports this module for ``cl --help``."""

from __future__ import annotations

from cl_client.hookspecs import RegisterCommand, RegisterTaskClient, hookimpl


@hookimpl
def cl_register_commands(register: RegisterCommand) -> None:
    register(
        "clip-embedding",
        "cl_plugin_clip_embedding.cli:app",
        help="Image embeddings (MobileCLIP, 512-d) of media files.",
    )


@hookimpl
def cl_register_task_clients(register: RegisterTaskClient) -> None:
    register("clip_embedding", "cl_plugin_clip_embedding.client:ClipEmbeddingClient")
