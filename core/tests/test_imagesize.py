"""The pure-Python header reader against images Pillow writes."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from cl_client.imagesize import ImageInfo, image_info, read_image_info
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
MEDIA = REPO.parent / "shared" / "media"

CASES: list[tuple[str, dict[str, object], str]] = [
    ("PNG", {}, "png"),
    ("JPEG", {"quality": 85}, "jpeg"),
    ("JPEG", {"progressive": True}, "jpeg"),
    ("WEBP", {"quality": 80}, "webp"),
    ("WEBP", {"lossless": True}, "webp"),
    ("GIF", {}, "gif"),
    ("BMP", {}, "bmp"),
    ("TIFF", {}, "tiff"),
    ("TIFF", {"compression": "tiff_lzw"}, "tiff"),
]


def _encode(image: Image.Image, fmt: str, options: dict[str, object]) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


@pytest.mark.parametrize(("fmt", "options", "name"), CASES)
@pytest.mark.parametrize("size", [(451, 300), (3, 1000), (1000, 1)])
def test_size_of_what_pillow_writes(
    fmt: str, options: dict[str, object], name: str, size: tuple[int, int]
) -> None:
    image = Image.new("RGB", size, (200, 30, 90))
    assert image_info(_encode(image, fmt, options)) == ImageInfo(name, *size)


def test_webp_with_alpha_uses_the_extended_header() -> None:
    image = Image.new("RGBA", (77, 33), (0, 0, 0, 128))
    assert image_info(_encode(image, "WEBP", {"quality": 50})) == ImageInfo("webp", 77, 33)


def test_jpeg_with_exif_before_the_frame() -> None:
    assert read_image_info(MEDIA / "astronaut.jpg") == ImageInfo("jpeg", 512, 512)
    assert read_image_info(MEDIA / "coffee.jpg") == ImageInfo("jpeg", 600, 400)
    assert read_image_info(MEDIA / "chelsea.png") == ImageInfo("png", 451, 300)


@pytest.mark.parametrize(
    "data",
    [b"", b"hello world", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0\x00", b"RIFF\0\0\0\0WEBPVP8 "],
)
def test_unknown_or_truncated_data_gives_none(data: bytes) -> None:
    assert image_info(data) is None
