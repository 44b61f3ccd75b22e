"""Media-type detection and ffmpeg probing without libmagic or ffprobe.

Images are recognised by Pillow. Everything else is probed with ``ffmpeg -i`` (imageio-ffmpeg's
bundled binary; there is no ffprobe), whose stream summary on stderr names the video/audio streams,
the frame size and the duration.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from PIL import Image, UnidentifiedImageError

from cl_local_server.executors import ProcessTracker

MediaType = Literal["image", "video", "audio", "text", "url", "file"]

_DURATION = re.compile(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)")
_VIDEO = re.compile(r"Stream #\d+:\d+.*?: Video: (.*)")
_AUDIO = re.compile(r"Stream #\d+:\d+.*?: Audio: ")
_SIZE = re.compile(r"(?<![0-9x])(\d{2,5})x(\d{2,5})(?![0-9x])")
_INPUT = re.compile(r"Input #0, ([^ ]+), from")
_URL = re.compile(rb"^\s*[a-zA-Z][a-zA-Z0-9+.-]*://\S+\s*$")
# ffmpeg demuxers that read still images or render text art (chosen by extension, e.g. .bin):
# a "video" stream from these is not a video.
_IMAGE_DEMUXERS = (
    "image2",
    "gif",
    "apng",
    "webp",
    "tiff",
    "bmp",
    "bin",
    "tty",
    "idf",
    "adf",
    "xbin",
)

Image.MAX_IMAGE_PIXELS = 300_000_000  # allow large photos, still refuse decompression bombs


@functools.cache
def ffmpeg_exe() -> str:
    """The ffmpeg binary shipped by imageio-ffmpeg (or the one it is pointed at by
    IMAGEIO_FFMPEG_EXE)."""
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]


@dataclass(frozen=True)
class Probe:
    demuxer: str | None
    has_video: bool
    has_audio: bool
    width: int | None
    height: int | None
    duration: float | None

    @property
    def is_video(self) -> bool:
        if not self.has_video or self.demuxer is None:
            return False
        return not (
            self.demuxer.endswith("_pipe") or any(self.demuxer == d for d in _IMAGE_DEMUXERS)
        )


def probe(path: Path, processes: ProcessTracker) -> Probe:
    """Parse the stream summary ``ffmpeg -i`` prints (it exits non-zero: no output was given)."""
    _code, _out, err = processes.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], timeout=30)
    text = err.decode("utf-8", "replace")
    demuxer = _INPUT.search(text)
    video = _VIDEO.search(text)
    width = height = None
    if video is not None:
        size = _SIZE.search(video.group(1))
        if size is not None:
            width, height = int(size.group(1)), int(size.group(2))
    duration = None
    dur = _DURATION.search(text)
    if dur is not None:
        duration = int(dur.group(1)) * 3600 + int(dur.group(2)) * 60 + float(dur.group(3))
    return Probe(
        demuxer=demuxer.group(1).split(",")[0] if demuxer else None,
        has_video=video is not None,
        has_audio=_AUDIO.search(text) is not None,
        width=width,
        height=height,
        duration=duration,
    )


def is_image(path: Path) -> bool:
    try:
        with Image.open(path) as img:
            img.verify()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return False
    return True


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still text.
        return exc.start >= len(head) - 3
    return True


def detect_media_type(path: Path, processes: ProcessTracker) -> MediaType:
    """Classify a file by its content: image, video, audio, url (a file holding one URL), text,
    file."""
    if is_image(path):
        return "image"
    with path.open("rb") as fh:
        head = fh.read(8192)
    if head and _looks_like_text(head):
        return "url" if _URL.match(head) else "text"
    if head:
        info = probe(path, processes)
        if info.is_video:
            return "video"
        if info.has_audio and not info.has_video:
            return "audio"
    return "file"
