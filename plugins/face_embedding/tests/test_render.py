"""Human rendering and JSON of hand-built face embedding results: the quality score."""

from __future__ import annotations

from pathlib import Path

import pytest
from cl_client.cli import Output
from cl_client.embedding import NpyArray, render_embedding
from cl_client.models import Job
from cl_plugin_face_embedding.client import FaceEmbeddingResult


def _result(quality: object, saved: Path | None = None) -> FaceEmbeddingResult:
    job = Job(
        job_id="j1",
        task_type="face_embedding",
        status="completed",
        params={"input_path": "input/face_0.png", "output_path": "output/face_embedding.npy"},
        task_output={"normalized": False, "embedding_dim": 512, "quality_score": quality},
    )
    array = NpyArray(shape=(512,), dtype="float32", values=(3.0, 4.0) + (0.0,) * 510)
    return FaceEmbeddingResult.from_array(
        job, array, file_path="output/face_embedding.npy", saved_path=saved
    )


def test_shows_the_vector_and_its_quality(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    render_embedding(_result(0.4125, tmp_path / "f.npy"), Output())
    # The heading (input and job id) is the frame's; the renderer prints only the rows.
    assert capsys.readouterr().out.splitlines() == [
        "dimension:  512",
        "norm:       5.000000",
        "dtype:      float32",
        "shape:      (512,)",
        "normalized: no",
        "quality:    0.412",
        f"saved:      {tmp_path / 'f.npy'}",
    ]


def test_a_missing_quality_score_is_left_out(capsys: pytest.CaptureFixture[str]) -> None:
    result = _result(None)
    assert result.quality_score is None
    render_embedding(result, Output())
    assert "quality" not in capsys.readouterr().out


def test_json_carries_the_quality_score() -> None:
    document = _result(1)
    assert document.quality_score == 1.0
    assert document.to_json()["result"] == {
        "dimension": 512,
        "norm": 5.0,
        "dtype": "float32",
        "shape": [512],
        "normalized": False,
        "file_path": "output/face_embedding.npy",
        "quality_score": 1.0,
    }
