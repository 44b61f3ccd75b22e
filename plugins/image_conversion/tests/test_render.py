"""Human output of hand-built conversion results."""

from __future__ import annotations

from pathlib import Path

import pytest
from cl_client.cli import Output
from cl_client.models import Job
from cl_plugin_image_conversion.client import ConversionResult
from cl_plugin_image_conversion.render import render_conversion


def _job() -> Job:
    return Job(
        job_id="b0a1",
        task_type="image_conversion",
        status="completed",
        params={
            "input_path": "input/photo.png",
            "output_path": "output/converted_photo.webp",
            "format": "webp",
            "quality": 85,
        },
        task_output={},
    )


def test_saved_image(capsys: pytest.CaptureFixture[str]) -> None:
    saved = Path("/tmp/out/converted_photo.webp")
    result = ConversionResult(
        job=_job(),
        downloaded=[saved],
        remote_path="output/converted_photo.webp",
        path=saved,
        format="webp",
        width=451,
        height=300,
        size_bytes=21_094,
    )
    render_conversion(result, Output())
    # The heading (input and job id) is the frame's; the renderer prints only the rows.
    assert capsys.readouterr().out.splitlines() == [
        "file:   /tmp/out/converted_photo.webp",
        "format: webp",
        "size:   451×300",
        "bytes:  20.6 KiB",
    ]


def test_image_left_on_the_server_without_a_known_size(capsys: pytest.CaptureFixture[str]) -> None:
    result = ConversionResult(
        job=_job(),
        remote_path="output/converted_photo.webp",
        format="webp",
        size_bytes=900,
    )
    render_conversion(result, Output())
    assert capsys.readouterr().out.splitlines() == [
        "file:   output/converted_photo.webp (on server)",
        "format: webp",
        "bytes:  900 B",
    ]


def test_json_carries_the_image_description() -> None:
    result = ConversionResult(
        job=_job(),
        remote_path="output/converted_photo.webp",
        format="webp",
        width=4,
        height=3,
        size_bytes=10,
    )
    assert result.to_json()["result"] == {
        "remote_path": "output/converted_photo.webp",
        "path": None,
        "format": "webp",
        "width": 4,
        "height": 3,
        "size_bytes": 10,
    }
