"""``cl dino-embedding embed``: the DINOv2 image embedding (384 float32 values) of each file.

The command is the core's shared embedding command; the client is imported when it runs.
"""

from __future__ import annotations

from cl_client.cli.embedding import embedding_app

app = embedding_app(
    "cl_plugin_dino_embedding.client:DinoEmbeddingClient",
    help="DINOv2 image embeddings (384 float32 values) of media files.",
)
