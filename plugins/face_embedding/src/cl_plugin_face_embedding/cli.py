"""``cl face-embedding embed``: the ArcFace embedding (512 float32 values) of each face crop.

The command is the core's shared embedding command; the client is imported when it runs.
"""

from __future__ import annotations

from cl_client.cli.embedding import embedding_app

app = embedding_app(
    "cl_plugin_face_embedding.client:FaceEmbeddingClient",
    help=(
        "ArcFace embeddings (512 float32 values) of face crops (see `cl face-detection detect -o`)."
    ),
)
