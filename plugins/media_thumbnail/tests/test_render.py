"""Human output of hand-built thumbnail results."""

from __future__ import annotations

from pathlib import Path

import pytest
from cl_client.cli import Output
from cl_client.models import Job
from cl_plugin_media_thumbnail.client import ThumbnailResult
from cl_plugin_media_thumbnail.render import render_thumbnail


def _job(name: str, media_type: str) -> Job:
    return Job(
        job_id="77aa",
        task_type="media_thumbnail",
        status="completed",
        params={"input_path": f"input/{name}", "output_path": "output/thumbnail.jpg"},
        task_output={"media_type": media_type},
    )


def test_saved_video_thumbnail(capsys: pytest.CaptureFixture[str]) -> None:
    saved = Path("/tmp/t/clip.jpg")
    result = ThumbnailResult(
        job=_job("clip.mp4", "video"),
        downloaded=[saved],
        remote_path="output/thumbnail.jpg",
        path=saved,
        format="jpeg",
        width=256,
        height=144,
        size_bytes=20_275,
        media_type="video",
    )
    render_thumbnail(result, Output())
    # The heading (input and job id) is the frame's; the renderer prints only the rows.
    assert capsys.readouterr().out.splitlines() == [
        "thumbnail: /tmp/t/clip.jpg",
        "format:    jpeg",
        "size:      256×144",
        "bytes:     19.8 KiB",
        "source:    video",
    ]


def test_thumbnail_on_the_server_of_unknown_size(capsys: pytest.CaptureFixture[str]) -> None:
    result = ThumbnailResult(
        job=_job("photo.png", "image"),
        remote_path="output/thumbnail.jpg",
        format="unknown",
        size_bytes=512,
    )
    render_thumbnail(result, Output())
    assert capsys.readouterr().out.splitlines() == [
        "thumbnail: output/thumbnail.jpg (on server)",
        "format:    unknown",
        "bytes:     512 B",
    ]


def test_json_carries_the_thumbnail_description() -> None:
    result = ThumbnailResult(
        job=_job("photo.png", "image"),
        remote_path="output/thumbnail.jpg",
        format="jpeg",
        width=100,
        height=67,
        size_bytes=2900,
        media_type="image",
    )
    doc = result.to_json()
    assert doc["task_output"] == {"media_type": "image"}
    assert doc["result"] == {
        "remote_path": "output/thumbnail.jpg",
        "path": None,
        "format": "jpeg",
        "width": 100,
        "height": 67,
        "size_bytes": 2900,
        "media_type": "image",
    }
