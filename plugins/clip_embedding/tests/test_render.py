"""Human rendering and JSON of hand-built clip embedding results."""

from __future__ import annotations

from pathlib import Path

import pytest
from cl_client.cli import Output
from cl_client.embedding import NpyArray
from cl_client.models import Job
from cl_plugin_clip_embedding.client import ClipEmbeddingResult
from cl_plugin_clip_embedding.render import render_embedding


def _result(saved: Path | None = None) -> ClipEmbeddingResult:
    job = Job(
        job_id="j1",
        task_type="clip_embedding",
        status="completed",
        params={
            "input_path": "input/photo.jpg",
            "output_path": "output/clip_embedding.npy",
            "normalize": True,
        },
        task_output={"embedding_dim": 512, "normalized": True},
    )
    array = NpyArray(shape=(512,), dtype="float32", values=(0.0, 0.6, 0.8) + (0.0,) * 509)
    return ClipEmbeddingResult.from_array(
        job, array, file_path="output/clip_embedding.npy", saved_path=saved
    )


def test_shows_dimension_norm_dtype_and_shape(capsys: pytest.CaptureFixture[str]) -> None:
    render_embedding(_result(), Output())
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "photo.jpg",
        "dimension:  512",
        "norm:       1.000000",
        "dtype:      float32",
        "shape:      (512,)",
        "normalized: yes",
    ]


def test_shows_the_saved_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    render_embedding(_result(tmp_path / "e.npy"), Output())
    assert f"saved:      {tmp_path / 'e.npy'}" in capsys.readouterr().out


def test_prints_nothing_in_json_mode(capsys: pytest.CaptureFixture[str]) -> None:
    render_embedding(_result(), Output(json_mode=True))
    assert capsys.readouterr().out == ""


def test_json_is_the_record_plus_the_vector_description(tmp_path: Path) -> None:
    document = _result(tmp_path / "e.npy").to_json()
    assert document["job_id"] == "j1"
    assert document["task_output"] == {"embedding_dim": 512, "normalized": True}
    assert document["downloaded"] == [str(tmp_path / "e.npy")]
    assert document["result"] == {
        "dimension": 512,
        "norm": 1.0,
        "dtype": "float32",
        "shape": [512],
        "normalized": True,
        "file_path": "output/clip_embedding.npy",
    }
