"""cl plugin for the ``face_embedding`` compute task: 512-d ArcFace embeddings of face crops.

Adds ``cl face-embedding embed`` and the library client
:class:`cl_plugin_face_embedding.client.FaceEmbeddingClient`.
"""

__version__ = "0.1.0"
