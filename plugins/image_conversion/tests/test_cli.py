"""``cl image-conversion convert`` and the client end to end against the local server."""

from __future__ import annotations

import json
import re
import shutil
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

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def _json(result: Result):  # JSON of any shape, indexed freely by the tests
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_png_to_webp_saved_to_a_file(cl_run: ClRunner, tmp_path: Path) -> None:
    target = tmp_path / "cat.webp"
    result = cl_run(
        "image-conversion",
        "convert",
        str(CHELSEA),
        "-f",
        "webp",
        "--quality",
        "70",
        "-o",
        str(target),
    )
    assert result.exit_code == 0, result.output
    with Image.open(target) as image:
        assert image.format == "WEBP"
        assert image.size == (451, 300)
    lines = result.stdout.splitlines()
    assert re.fullmatch(rf"{re.escape(str(CHELSEA))} \(job {UUID}\)", lines[0])
    assert lines[1:] == [
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
    # An existing folder: the input's name, then the server's file name.
    saved = tmp_path / "astronaut.jpg.converted_astronaut.png"
    assert doc["input"] == str(ASTRONAUT)
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


def test_two_files_each_named_after_its_input(cl_run: ClRunner, tmp_path: Path) -> None:
    out = tmp_path / "converted"
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
            str(out),
        )
    )
    assert [d["result"]["format"] for d in docs] == ["gif", "gif"]
    assert sorted(p.name for p in out.iterdir()) == [
        "astronaut.jpg.converted_astronaut.gif",
        "chelsea.png.converted_chelsea.gif",
    ]
    for source, size in ((ASTRONAUT, (512, 512)), (CHELSEA, (451, 300))):
        saved = out / f"{source.name}.converted_{source.stem}.gif"
        assert {d["input"]: d["downloaded"] for d in docs}[str(source)] == [str(saved)]
        with Image.open(saved) as image:
            assert image.size == size


def test_a_file_that_is_no_image_ends_in_error(cl_run: ClRunner, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not an image\n")
    result = cl_run("image-conversion", "convert", str(text), str(CHELSEA), "-f", "png")
    assert result.exit_code == 1
    error, summary = result.stderr.splitlines()
    assert re.fullmatch(
        rf"error: {re.escape(str(text))}: job {UUID} \(image_conversion\) failed: "
        r"cannot identify image file .*notes\.txt'",
        error,
    )
    assert re.fullmatch(
        r"1 completed, 1 failed, 0 skipped \(already done\) in \d+\.\d s \(\d+\.\d/s\)", summary
    )
    # The other input still finished, under its own heading.
    lines = result.stdout.splitlines()
    assert re.fullmatch(rf"{re.escape(str(CHELSEA))} \(job {UUID}\)", lines[0])
    assert "size:   451×300" in lines


def test_a_folder_takes_its_images_only(cl_run: ClRunner, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    (photos / "cats").mkdir(parents=True)
    shutil.copy(CHELSEA, photos / "cats" / "chelsea.png")
    (photos / "notes.txt").write_text("not an image\n")
    out = tmp_path / "webp"
    result = cl_run("image-conversion", "convert", str(photos), "-f", "webp", "-o", str(out))
    assert result.exit_code == 0, result.output
    saved = [p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()]
    assert saved == ["cats/chelsea.png.converted_chelsea.webp"]
    assert f"file:   {out / saved[0]}" in result.stdout.splitlines()
    assert re.fullmatch(
        r"1 completed, 0 failed, 0 skipped \(already done\) in \d+\.\d s \(\d+\.\d/s\); "
        r"left out: 1 not taken by this task\n",
        result.stderr,
    )


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
