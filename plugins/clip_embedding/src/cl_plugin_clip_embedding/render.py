"""Human output of ``cl clip-embedding embed``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cl_client.embedding import embedding_summary

if TYPE_CHECKING:
    from cl_client.cli import Output

    from cl_plugin_clip_embedding.client import ClipEmbeddingResult


def render_embedding(result: ClipEmbeddingResult, output: Output) -> None:
    """One block per file: the vector's dimension, norm, dtype and shape, and the saved .npy."""
    output.key_values(embedding_summary(result), title=result.input_name)
