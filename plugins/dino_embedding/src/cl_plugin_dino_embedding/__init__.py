"""cl plugin for the ``dino_embedding`` compute task: 384-d DINOv2 image embeddings.

Adds ``cl dino-embedding embed`` and the library client
:class:`cl_plugin_dino_embedding.client.DinoEmbeddingClient`.
"""

__version__ = "0.1.0"
