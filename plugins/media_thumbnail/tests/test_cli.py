"""``cl media-thumbnail generate`` and the client end to end against the local server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cl_client.testing import ClRunner, run_with_compute
from cl_plugin_media_thumbnail.client import MediaThumbnailClient, ThumbnailResult
from PIL import Image
from typer.testing import Result

if TYPE_CHECKING:
    from cl_client.compute import ComputeClient
    from cl_local_server.server import LocalServer

REPO = Path(__file__).resolve().parents[3]
MEDIA = REPO.parent / "shared" / "media"
ASTRONAUT = MEDIA / "astronaut.jpg"
CHELSEA = MEDIA / "chelsea.png"
COFFEE = MEDIA / "coffee.jpg"
VIDEO = MEDIA / "astronaut.mp4"


pytestmark = pytest.mark.timeout(60)


def _json(result: Result):  # JSON of any shape, indexed freely by the tests
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_image_thumbnail_fits_the_box(cl_run: ClRunner, tmp_path: Path) -> None:
    target = tmp_path / "cat-thumb.jpg"
    result = cl_run(
        "media-thumbnail", "generate", str(CHELSEA), "-w", "120", "-h", "100", "-o", str(target)
    )
    assert result.exit_code == 0, result.output
    with Image.open(target) as image:
        assert image.format == "JPEG"
        width, height = image.size
    assert width <= 120 and height <= 100
    assert width == 120  # 451×300 is wider than the box: the width is the limit
    assert abs(width / height - 451 / 300) < 0.05
    assert f"size:      {width}×{height}" in result.stdout
    assert "source:    image" in result.stdout


def test_default_box_and_json(cl_run: ClRunner) -> None:
    doc = _json(cl_run("media-thumbnail", "generate", str(COFFEE), "--json"))
    assert doc["params"]["output_path"] == "output/thumbnail.jpg"
    assert doc["result"]["format"] == "jpeg"
    assert (doc["result"]["width"], doc["result"]["height"]) == (256, 171)  # 600×400 in 256×256
    assert doc["result"]["media_type"] == "image"
    assert doc["result"]["path"] is None


def test_one_dimension_keeps_the_aspect_ratio(cl_run: ClRunner) -> None:
    doc = _json(cl_run("media-thumbnail", "generate", str(COFFEE), "-h", "100", "--json"))
    assert doc["params"]["height"] == 100
    assert doc["result"]["height"] == 100
    assert abs(doc["result"]["width"] - 150) <= 1


def test_stretch_fills_the_box(cl_run: ClRunner) -> None:
    doc = _json(
        cl_run(
            "media-thumbnail",
            "generate",
            str(ASTRONAUT),
            "-w",
            "200",
            "-h",
            "50",
            "--stretch",
            "--json",
        )
    )
    assert doc["params"]["maintain_aspect_ratio"] is False
    assert (doc["result"]["width"], doc["result"]["height"]) == (200, 50)


def test_never_larger_than_the_original(cl_run: ClRunner) -> None:
    doc = _json(
        cl_run("media-thumbnail", "generate", str(CHELSEA), "-w", "2000", "-h", "2000", "--json")
    )
    assert (doc["result"]["width"], doc["result"]["height"]) == (451, 300)


def test_video_thumbnail(cl_run: ClRunner, tmp_path: Path) -> None:
    result = cl_run("media-thumbnail", "generate", str(VIDEO), "-o", str(tmp_path), "-t", "60")
    assert result.exit_code == 0, result.output
    saved = tmp_path / "thumbnail.jpg"
    with Image.open(saved) as image:
        assert image.format == "JPEG"
        width, height = image.size
    assert width <= 256 and height <= 256
    assert abs(width / height - 640 / 360) < 0.05  # the grid keeps the video's shape
    assert "source:    video" in result.stdout


def test_several_inputs_into_one_folder(cl_run: ClRunner, tmp_path: Path) -> None:
    docs = _json(
        cl_run(
            "--json",
            "media-thumbnail",
            "generate",
            str(ASTRONAUT),
            str(CHELSEA),
            "-w",
            "64",
            "-o",
            str(tmp_path),
        )
    )
    assert [d["downloaded"] for d in docs] == [
        [str(tmp_path / "astronaut" / "thumbnail.jpg")],
        [str(tmp_path / "chelsea" / "thumbnail.jpg")],
    ]
    for doc in docs:
        with Image.open(doc["downloaded"][0]) as image:
            assert image.width == 64


def test_library_client_generates(
    cl_module_server: LocalServer, cl_isolated: Path, tmp_path: Path
) -> None:
    async def go(compute: ComputeClient) -> ThumbnailResult:
        thumbs = MediaThumbnailClient(compute)
        return await thumbs.generate(ASTRONAUT, width=128, dest=tmp_path / "t.jpg")

    result = run_with_compute(cl_module_server.client_env(), go)
    assert (result.width, result.height) == (128, 128)
    assert result.path == tmp_path / "t.jpg"
    assert result.downloaded == [tmp_path / "t.jpg"]
    assert result.media_type == "image"
