"""``cl face-embedding embed``: the embedding of each face crop (float32; 512 values from
upstream's ArcFace, 128 from the local server's SFace).

The command is the core's shared embedding command; the client is imported when it runs.
"""

from __future__ import annotations

from cl_client.cli.embedding import embedding_app

app = embedding_app(
    "cl_plugin_face_embedding.client:FaceEmbeddingClient",
    help=(
        "Face embeddings of face crops (see `cl face-detection detect -o`): float32 vectors whose"
        " length is the server's model's (upstream ArcFace: 512, local SFace: 128)."
    ),
)
