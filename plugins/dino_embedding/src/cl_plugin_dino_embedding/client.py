"""Library client for the ``dino_embedding`` compute task.

The vector is not in the job record: the worker writes a NumPy ``.npy`` file to
``params.output_path`` (``output/dino_embedding.npy``, float32, shape ``(384,)``), and
:meth:`DinoEmbeddingClient.collect` reads it from there.

Example::

    async with Client() as client:
        dino = DinoEmbeddingClient(client.compute)
        result = await dino.embed(Path("photo.jpg"))
        print(result.dimension, result.norm)   # 384 1.0
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Final

from cl_client.embedding import EmbeddingClient, EmbeddingResult

#: Where the worker writes the vector when the job record does not say (it always does).
RESULT_FILE: Final = "output/dino_embedding.npy"
#: Length of a DINOv2 ViT-S/14 (CLS token) embedding.
DIMENSION: Final = 384


@dataclass(kw_only=True)
class DinoEmbeddingResult(EmbeddingResult):
    """A DINOv2 ViT-S/14 image embedding: 384 float32 values, L2-normalised unless asked not to."""


class DinoEmbeddingClient(EmbeddingClient[DinoEmbeddingResult]):
    """Typed client for ``POST /jobs/dino_embedding``: ``submit``, ``embed``, ``collect``."""

    task_type: ClassVar[str] = "dino_embedding"
    accepts: ClassVar[tuple[str, ...]] = ("image/",)
    default_file_path = RESULT_FILE
    result_type = DinoEmbeddingResult
