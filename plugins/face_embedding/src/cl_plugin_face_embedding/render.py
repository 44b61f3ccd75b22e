"""Human output of ``cl face-embedding embed``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cl_client.embedding import embedding_summary

if TYPE_CHECKING:
    from cl_client.cli import Output

    from cl_plugin_face_embedding.client import FaceEmbeddingResult


def render_embedding(result: FaceEmbeddingResult, output: Output) -> None:
    """One block per face crop: dimension, norm, dtype, shape, sharpness and the saved .npy."""
    rows = embedding_summary(result)
    if result.quality_score is not None:
        # Before the "saved" rows, next to the other numbers.
        position = next((i for i, (key, _) in enumerate(rows) if key == "saved"), len(rows))
        rows.insert(position, ("quality", f"{result.quality_score:.3f}"))
    output.key_values(rows, title=result.input_name)
