"""``cl image-conversion convert`` and the client end to end against the local server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cl_client.testing import ClRunner, run_with_compute
from cl_plugin_image_conversion.client import ConversionResult, ImageConversionClient
from PIL import Image
from typer.testing import Result

if TYPE_CHECKING:
    from cl_client.compute import ComputeClient
    from cl_local_server.server import LocalServer

REPO = Path(__file__).resolve().parents[3]
MEDIA = REPO.parent / "shared" / "media"
ASTRONAUT = MEDIA / "astronaut.jpg"
CHELSEA = MEDIA / "chelsea.png"


pytestmark = pytest.mark.timeout(60)


def _json(result: Result):  # JSON of any shape, indexed freely by the tests
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_png_to_webp_saved_to_a_file(cl_run: ClRunner, tmp_path: Path) -> None:
    target = tmp_path / "cat.webp"
    result = cl_run(
        "image-conversion", "convert", str(CHELSEA), "-f", "webp", "-q", "70", "-o", str(target)
    )
    assert result.exit_code == 0, result.output
    with Image.open(target) as image:
        assert image.format == "WEBP"
        assert image.size == (451, 300)
    assert result.stdout.splitlines() == [
        "chelsea.png",
        f"file:   {target}",
        "format: webp",
        "size:   451×300",
        f"bytes:  {target.stat().st_size / 1024:.1f} KiB",
    ]


def test_jpeg_to_png_saved_into_a_folder(cl_run: ClRunner, tmp_path: Path) -> None:
    doc = _json(
        cl_run(
            "image-conversion",
            "convert",
            str(ASTRONAUT),
            "--format",
            "png",
            "-o",
            str(tmp_path),
            "--json",
        )
    )
    saved = tmp_path / "converted_astronaut.png"
    assert doc["downloaded"] == [str(saved)]
    assert doc["params"]["output_path"] == "output/converted_astronaut.png"
    assert doc["result"] == {
        "remote_path": "output/converted_astronaut.png",
        "path": str(saved),
        "format": "png",
        "width": 512,
        "height": 512,
        "size_bytes": saved.stat().st_size,
    }
    with Image.open(saved) as image:
        assert image.format == "PNG"
        assert image.size == (512, 512)


def test_without_output_the_size_is_read_from_the_server_copy(cl_run: ClRunner) -> None:
    result = cl_run("image-conversion", "convert", str(CHELSEA), "-f", "jpeg")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1:4] == [
        "file:   output/converted_chelsea.jpg (on server)",
        "format: jpeg",
        "size:   451×300",
    ]


def test_two_files_each_into_its_own_folder(cl_run: ClRunner, tmp_path: Path) -> None:
    docs = _json(
        cl_run(
            "--json",
            "image-conversion",
            "convert",
            str(ASTRONAUT),
            str(CHELSEA),
            "-f",
            "gif",
            "-o",
            str(tmp_path),
        )
    )
    assert [d["result"]["format"] for d in docs] == ["gif", "gif"]
    for source, size in ((ASTRONAUT, (512, 512)), (CHELSEA, (451, 300))):
        with Image.open(tmp_path / source.stem / f"converted_{source.stem}.gif") as image:
            assert image.size == size


def test_a_file_that_is_no_image_ends_in_error(cl_run: ClRunner, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not an image\n")
    result = cl_run("image-conversion", "convert", str(text), str(CHELSEA), "-f", "png")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {text}: job ")
    assert "(image_conversion) ended in error" in result.stderr
    assert "size:   451×300" in result.stdout  # the other input still finished


def test_library_client_converts(
    cl_module_server: LocalServer, cl_isolated: Path, tmp_path: Path
) -> None:
    async def go(compute: ComputeClient) -> tuple[ConversionResult, ConversionResult]:
        images = ImageConversionClient(compute)
        kept = await images.convert(CHELSEA, format="bmp")
        saved = await images.convert(ASTRONAUT, format="tiff", dest=tmp_path / "a.tiff")
        return kept, saved

    kept, saved = run_with_compute(cl_module_server.client_env(), go)
    assert (kept.format, kept.width, kept.height, kept.path) == ("bmp", 451, 300, None)
    assert kept.remote_path == "output/converted_chelsea.bmp"
    assert saved.path == tmp_path / "a.tiff"
    with Image.open(tmp_path / "a.tiff") as image:
        assert (image.format, image.size) == ("TIFF", (512, 512))
    assert (saved.width, saved.height) == (512, 512)
