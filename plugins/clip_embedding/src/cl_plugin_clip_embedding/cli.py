"""``cl clip-embedding embed``: the MobileCLIP image embedding (512 float32 values) of each file.

The command is the core's shared embedding command; the client is imported when it runs.
"""

from __future__ import annotations

from cl_client.cli.embedding import embedding_app

app = embedding_app(
    "cl_plugin_clip_embedding.client:ClipEmbeddingClient",
    help="MobileCLIP image embeddings (512 float32 values) of media files.",
)
