"""cl plugin for the ``clip_embedding`` compute task: 512-d MobileCLIP image embeddings.

Adds ``cl clip-embedding embed`` and the library client
:class:`cl_plugin_clip_embedding.client.ClipEmbeddingClient`.
"""

__version__ = "0.1.0"
