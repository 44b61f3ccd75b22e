"""Library client for the ``face_embedding`` compute task.

The input should be one face crop (e.g. a ``faces/face_<i>.png`` saved by ``face_detection``): the
worker resizes the whole image to 112×112 and does no detection. The vector is written to a NumPy
``.npy`` file at ``params.output_path`` (``output/face_embedding.npy``, float32, shape ``(512,)``
from upstream's ArcFace, ``(128,)`` from the local server's SFace: the length is the server's
model's); :meth:`FaceEmbeddingClient.collect` reads it from there. ``task_output`` adds a
sharpness measure, ``quality_score`` (0–1).

Example::

    async with Client() as client:
        faces = FaceEmbeddingClient(client.compute)
        result = await faces.embed(Path("face_0.png"))
        print(result.dimension, result.norm, result.quality_score)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Final, Self

from cl_client.embedding import EmbeddingClient, EmbeddingResult, NpyArray
from cl_client.models import Job, JsonObject

#: Where the worker writes the vector when the job record does not say (it always does).
RESULT_FILE: Final = "output/face_embedding.npy"
#: Length of an embedding from upstream's ArcFace; other servers' models may differ (the local
#: server's SFace gives 128): read ``FaceEmbeddingResult.dimension``.
DIMENSION: Final = 512


@dataclass(kw_only=True)
class FaceEmbeddingResult(EmbeddingResult):
    """A face embedding (float32; 512 values from ArcFace, 128 from SFace) and the crop's sharpness.

    ``quality_score`` is min(variance of the Laplacian ÷ 100, 1.0) as the worker reports it, or
    None when the server does not report one.
    """

    quality_score: float | None = None

    @classmethod
    def from_array(
        cls, job: Job, array: NpyArray, *, file_path: str, saved_path: Path | None = None
    ) -> Self:
        result = super().from_array(job, array, file_path=file_path, saved_path=saved_path)
        score = (job.task_output or {}).get("quality_score")
        if isinstance(score, int | float) and not isinstance(score, bool):
            result.quality_score = float(score)
        return result

    def summary(self) -> JsonObject:
        out = super().summary()
        out["quality_score"] = self.quality_score
        return out

    def extra_rows(self) -> list[tuple[str, object]]:
        """The crop's sharpness, next to the vector's numbers in ``cl face-embedding embed``."""
        if self.quality_score is None:
            return []
        return [("quality", f"{self.quality_score:.3f}")]


class FaceEmbeddingClient(EmbeddingClient[FaceEmbeddingResult]):
    """Typed client for ``POST /jobs/face_embedding``: ``submit``, ``embed``, ``collect``."""

    task_type: ClassVar[str] = "face_embedding"
    accepts: ClassVar[tuple[str, ...]] = ("image/",)
    default_file_path = RESULT_FILE
    result_type = FaceEmbeddingResult
