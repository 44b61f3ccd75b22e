"""Human output of ``cl dino-embedding embed``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cl_client.embedding import embedding_summary

if TYPE_CHECKING:
    from cl_client.cli import Output

    from cl_plugin_dino_embedding.client import DinoEmbeddingResult


def render_embedding(result: DinoEmbeddingResult, output: Output) -> None:
    """One block per file: the vector's dimension, norm, dtype and shape, and the saved .npy."""
    output.key_values(embedding_summary(result), title=result.input_name)
