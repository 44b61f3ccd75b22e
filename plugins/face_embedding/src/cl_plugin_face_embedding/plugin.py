"""Hook implementations; kept light because ``cl`` imports this module for ``cl --help``."""

from __future__ import annotations

from cl_client.hookspecs import RegisterCommand, RegisterTaskClient, hookimpl


@hookimpl
def cl_register_commands(register: RegisterCommand) -> None:
    register(
        "face-embedding",
        "cl_plugin_face_embedding.cli:app",
        help="Face embeddings of face crops (512-d upstream, 128-d locally).",
    )


@hookimpl
def cl_register_task_clients(register: RegisterTaskClient) -> None:
    register("face_embedding", "cl_plugin_face_embedding.client:FaceEmbeddingClient")
