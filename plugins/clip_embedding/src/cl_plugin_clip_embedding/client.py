"""Library client for the ``clip_embedding`` compute task.

The vector is not in the job record: the worker writes a NumPy ``.npy`` file to
``params.output_path`` (``output/clip_embedding.npy``, float32, shape ``(512,)``), and
:meth:`ClipEmbeddingClient.collect` reads it from there.

Example::

    async with Client() as client:
        clip = ClipEmbeddingClient(client.compute)
        result = await clip.embed(Path("photo.jpg"))
        print(result.dimension, result.norm)   # 512 1.0
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Final

from cl_client.embedding import EmbeddingClient, EmbeddingResult

#: Where the worker writes the vector when the job record does not say (it always does).
RESULT_FILE: Final = "output/clip_embedding.npy"
#: Length of a MobileCLIP image embedding.
DIMENSION: Final = 512


@dataclass(kw_only=True)
class ClipEmbeddingResult(EmbeddingResult):
    """A MobileCLIP image embedding (512 float32 values, L2-normalised unless asked otherwise)."""


class ClipEmbeddingClient(EmbeddingClient[ClipEmbeddingResult]):
    """Typed client for ``POST /jobs/clip_embedding``: ``submit``, ``embed``, ``collect``."""

    task_type: ClassVar[str] = "clip_embedding"
    accepts: ClassVar[tuple[str, ...]] = ("image/",)
    default_file_path = RESULT_FILE
    result_type = ClipEmbeddingResult
