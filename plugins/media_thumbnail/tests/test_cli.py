"""``cl media-thumbnail generate`` and the client end to end against the local server."""

from __future__ import annotations

import json
import re
import shutil
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

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def _json(result: Result):  # JSON of any shape, indexed freely by the tests
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_image_thumbnail_fits_the_box(cl_run: ClRunner, tmp_path: Path) -> None:
    target = tmp_path / "cat-thumb.jpg"
    result = cl_run(
        "media-thumbnail",
        "generate",
        str(CHELSEA),
        "--width",
        "120",
        "--height",
        "100",
        "-o",
        str(target),
    )
    assert result.exit_code == 0, result.output
    with Image.open(target) as image:
        assert image.format == "JPEG"
        width, height = image.size
    assert width <= 120 and height <= 100
    assert width == 120  # 451×300 is wider than the box: the width is the limit
    assert abs(width / height - 451 / 300) < 0.05
    lines = result.stdout.splitlines()
    assert re.fullmatch(rf"{re.escape(str(CHELSEA))} \(job {UUID}\)", lines[0])
    assert lines[1] == f"thumbnail: {target}"
    assert f"size:      {width}×{height}" in lines
    assert "source:    image" in lines


def test_default_box_and_json(cl_run: ClRunner) -> None:
    doc = _json(cl_run("media-thumbnail", "generate", str(COFFEE), "--json"))
    assert doc["params"]["output_path"] == "output/thumbnail.jpg"
    assert doc["result"]["format"] == "jpeg"
    assert (doc["result"]["width"], doc["result"]["height"]) == (256, 171)  # 600×400 in 256×256
    assert doc["result"]["media_type"] == "image"
    assert doc["result"]["path"] is None


def test_one_dimension_keeps_the_aspect_ratio(cl_run: ClRunner) -> None:
    doc = _json(cl_run("media-thumbnail", "generate", str(COFFEE), "--height", "100", "--json"))
    assert doc["params"]["height"] == 100
    assert doc["result"]["height"] == 100
    assert abs(doc["result"]["width"] - 150) <= 1


def test_stretch_fills_the_box(cl_run: ClRunner) -> None:
    doc = _json(
        cl_run(
            "media-thumbnail",
            "generate",
            str(ASTRONAUT),
            "--width",
            "200",
            "--height",
            "50",
            "--stretch",
            "--json",
        )
    )
    assert doc["params"]["maintain_aspect_ratio"] is False
    assert (doc["result"]["width"], doc["result"]["height"]) == (200, 50)


def test_never_larger_than_the_original(cl_run: ClRunner) -> None:
    doc = _json(
        cl_run(
            "media-thumbnail",
            "generate",
            str(CHELSEA),
            "--width",
            "2000",
            "--height",
            "2000",
            "--json",
        )
    )
    assert (doc["result"]["width"], doc["result"]["height"]) == (451, 300)


def test_video_thumbnail(cl_run: ClRunner, tmp_path: Path) -> None:
    out = tmp_path / "thumbs"
    out.mkdir()
    result = cl_run("media-thumbnail", "generate", str(VIDEO), "-o", str(out), "-t", "60")
    assert result.exit_code == 0, result.output
    # An existing folder: the input's name, then the server's file name.
    saved = out / "astronaut.mp4.thumbnail.jpg"
    assert [p.name for p in out.iterdir()] == [saved.name]
    assert f"thumbnail: {saved}" in result.stdout.splitlines()
    with Image.open(saved) as image:
        assert image.format == "JPEG"
        width, height = image.size
    assert width <= 256 and height <= 256
    assert abs(width / height - 640 / 360) < 0.05  # the grid keeps the video's shape
    assert "source:    video" in result.stdout


def test_several_inputs_into_one_folder(cl_run: ClRunner, tmp_path: Path) -> None:
    out = tmp_path / "thumbs"  # created: several inputs make it a folder
    docs = _json(
        cl_run(
            "--json",
            "media-thumbnail",
            "generate",
            str(ASTRONAUT),
            str(CHELSEA),
            "--width",
            "64",
            "-o",
            str(out),
        )
    )
    assert {d["input"]: d["downloaded"] for d in docs} == {
        str(ASTRONAUT): [str(out / "astronaut.jpg.thumbnail.jpg")],
        str(CHELSEA): [str(out / "chelsea.png.thumbnail.jpg")],
    }
    for doc in docs:
        with Image.open(doc["downloaded"][0]) as image:
            assert image.width == 64


def test_a_second_run_skips_what_is_saved(cl_run: ClRunner, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(COFFEE, photos / "coffee.jpg")
    shutil.copy(CHELSEA, photos / "chelsea.png")
    out = tmp_path / "thumbs"
    args = ("media-thumbnail", "generate", str(photos), "--width", "64", "-o", f"{out}/")
    first = cl_run(*args, "--json")
    docs = _json(first)
    assert sorted(p.name for p in out.iterdir()) == [
        "chelsea.png.thumbnail.jpg",
        "coffee.jpg.thumbnail.jpg",
    ]
    again = cl_run(*args, "--json")
    redo = _json(again)
    assert all(d["skipped"] is True for d in redo)
    assert {d["input"]: d["job_id"] for d in redo} == {d["input"]: d["job_id"] for d in docs}
    assert re.fullmatch(
        r"0 completed, 0 failed, 2 skipped \(already done\) in \d+\.\d s \(\d+\.\d/s\)\n",
        again.stderr,
    )
    # A saved file gone: that input is fetched again from its earlier job, no new one.
    (out / "coffee.jpg.thumbnail.jpg").unlink()
    third = _json(cl_run(*args, "--json"))
    by_input = {d["input"]: d for d in third}
    coffee = by_input[str(photos / "coffee.jpg")]
    assert "skipped" not in coffee
    assert coffee["job_id"] == {d["input"]: d["job_id"] for d in docs}[str(photos / "coffee.jpg")]
    assert (out / "coffee.jpg.thumbnail.jpg").is_file()
    assert by_input[str(photos / "chelsea.png")]["skipped"] is True


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
