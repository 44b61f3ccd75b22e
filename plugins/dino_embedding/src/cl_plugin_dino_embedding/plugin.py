"""Hook implementations; kept light because ``cl`` imports this module for ``cl --help``."""

from __future__ import annotations

from cl_client.hookspecs import RegisterCommand, RegisterTaskClient, hookimpl


@hookimpl
def cl_register_commands(register: RegisterCommand) -> None:
    register(
        "dino-embedding",
        "cl_plugin_dino_embedding.cli:app",
        help="Image embeddings (DINOv2, 384-d) of media files.",
    )


@hookimpl
def cl_register_task_clients(register: RegisterTaskClient) -> None:
    register("dino_embedding", "cl_plugin_dino_embedding.client:DinoEmbeddingClient")
