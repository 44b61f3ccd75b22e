"""cl plugin for the ``face_embedding`` compute task: embeddings of face crops (the server's model:
ArcFace, 512 values, upstream; SFace, 128 values, on the local server).

Adds ``cl face-embedding embed`` and the library client
:class:`cl_plugin_face_embedding.client.FaceEmbeddingClient`.
"""

__version__ = "0.1.0"
