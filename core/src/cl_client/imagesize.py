"""Format and pixel size of an image, read from its header in pure Python.

Only the few bytes of the header are needed, so showing "png 451×300" after a conversion costs no
image library. Covers what the server can write: PNG, JPEG, WebP (lossy, lossless, extended), GIF,
BMP and TIFF (classic, not BigTIFF).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

# JPEG start-of-frame markers carry the size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but
# are not frames.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers that stand alone, without a length field.
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD9)})


@dataclass(frozen=True, slots=True)
class ImageInfo:
    format: str  # png, jpeg, webp, gif, bmp, tiff
    width: int
    height: int


def read_image_info(path: Path) -> ImageInfo | None:
    """The format and size of the image file at ``path``, or None if it is not one we can read."""
    return image_info(path.read_bytes())


def image_info(data: bytes) -> ImageInfo | None:
    """The format and size of an image given its bytes (the header is enough for all but JPEG,
    whose size follows its metadata segments)."""
    try:
        if data.startswith(b"\x89PNG\r\n\x1a\n"):
            return _png(data)
        if data.startswith(b"\xff\xd8"):
            return _jpeg(data)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return _webp(data)
        if data[:6] in (b"GIF87a", b"GIF89a"):
            width, height = struct.unpack_from("<HH", data, 6)
            return ImageInfo("gif", width, height)
        if data.startswith(b"BM"):
            return _bmp(data)
        if data[:4] in (b"II*\x00", b"MM\x00*"):
            return _tiff(data)
    except (struct.error, IndexError):
        return None  # truncated header
    return None


def _png(data: bytes) -> ImageInfo | None:
    if data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack_from(">II", data, 16)
    return ImageInfo("png", width, height)


def _jpeg(data: bytes) -> ImageInfo | None:
    pos = 2
    while pos < len(data):
        if data[pos] != 0xFF:
            return None
        # Any number of 0xFF fill bytes may precede a marker.
        while data[pos] == 0xFF:
            pos += 1
        marker = data[pos]
        pos += 1
        if marker in _JPEG_STANDALONE:
            continue
        if marker == 0xD9:  # end of image before any frame
            return None
        (length,) = struct.unpack_from(">H", data, pos)
        if marker in _JPEG_SOF:
            height, width = struct.unpack_from(">HH", data, pos + 3)
            return ImageInfo("jpeg", width, height)
        pos += length
    return None


def _webp(data: bytes) -> ImageInfo | None:
    chunk = data[12:16]
    if chunk == b"VP8 ":
        # Lossy: a 3-byte frame tag, the start code 9d 01 2a, then 14-bit width and height.
        if data[23:26] != b"\x9d\x01\x2a":
            return None
        width, height = struct.unpack_from("<HH", data, 26)
        return ImageInfo("webp", width & 0x3FFF, height & 0x3FFF)
    if chunk == b"VP8L":
        # Lossless: signature 0x2f, then width-1 and height-1 in 14 bits each.
        if data[20] != 0x2F:
            return None
        (bits,) = struct.unpack_from("<I", data, 21)
        return ImageInfo("webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if chunk == b"VP8X":
        # Extended: canvas width-1 and height-1 as 24-bit little-endian after 4 bytes of flags.
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return ImageInfo("webp", width, height)
    return None


def _bmp(data: bytes) -> ImageInfo | None:
    (header_size,) = struct.unpack_from("<I", data, 14)
    if header_size == 12:  # OS/2 BITMAPCOREHEADER: unsigned 16-bit fields
        width, height = struct.unpack_from("<HH", data, 18)
    else:
        width, height = struct.unpack_from("<ii", data, 18)
    # A negative height marks a top-down bitmap.
    return ImageInfo("bmp", abs(width), abs(height))


def _tiff(data: bytes) -> ImageInfo | None:
    order = "<" if data[:2] == b"II" else ">"
    (ifd,) = struct.unpack_from(order + "I", data, 4)
    (count,) = struct.unpack_from(order + "H", data, ifd)
    size: dict[int, int] = {}
    for i in range(count):
        tag, kind = struct.unpack_from(order + "HH", data, ifd + 2 + 12 * i)
        if tag not in (256, 257):
            continue
        value_at = ifd + 2 + 12 * i + 8
        if kind == 3:  # SHORT
            (size[tag],) = struct.unpack_from(order + "H", data, value_at)
        elif kind == 4:  # LONG
            (size[tag],) = struct.unpack_from(order + "I", data, value_at)
    if 256 in size and 257 in size:
        return ImageInfo("tiff", size[256], size[257])
    return None
