"""Just enough M3U8 parsing to follow an HLS master playlist to its variants and segments.

A master playlist lists variant streams (``#EXT-X-STREAM-INF`` followed by the variant playlist's
URI); a media (variant) playlist lists segments (``#EXTINF`` followed by the segment's URI), and
maybe an init section (``#EXT-X-MAP:URI=...``). URIs are relative to the playlist naming them.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from urllib.parse import unquote

from cl_client.errors import MalformedResponseError

# KEY=VALUE pairs of an attribute list; values are quoted strings or bare tokens.
_ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^",]*)')


@dataclass(frozen=True, slots=True)
class VariantEntry:
    """One ``#EXT-X-STREAM-INF`` entry of a master playlist."""

    uri: str
    bandwidth: int | None = None  # bits per second
    resolution: tuple[int, int] | None = None  # width, height
    codecs: str | None = None


@dataclass(frozen=True, slots=True)
class MediaPlaylist:
    """The files a media playlist names, in order, and its total duration."""

    segments: list[str] = field(default_factory=list[str])
    init_sections: list[str] = field(default_factory=list[str])
    duration: float = 0.0
    ended: bool = False


def parse_attributes(text: str) -> dict[str, str]:
    """``BANDWIDTH=800000,CODECS="a,b"`` → ``{"BANDWIDTH": "800000", "CODECS": "a,b"}``."""
    return {key: value.strip('"') for key, value in _ATTRIBUTE.findall(text)}


def _lines(text: str) -> list[str]:
    lines = [line.strip() for line in text.splitlines()]
    if not lines or lines[0].lstrip("\ufeff") != "#EXTM3U":
        raise MalformedResponseError("not an HLS playlist (no #EXTM3U header)")
    return lines


def is_master_playlist(text: str) -> bool:
    """True when the playlist lists variant streams rather than segments."""
    return any(line.startswith("#EXT-X-STREAM-INF:") for line in _lines(text))


def parse_master_playlist(text: str) -> list[VariantEntry]:
    """The variant streams of a master playlist, in order."""
    entries: list[VariantEntry] = []
    pending: dict[str, str] | None = None
    for line in _lines(text):
        if line.startswith("#EXT-X-STREAM-INF:"):
            pending = parse_attributes(line.partition(":")[2])
        elif line and not line.startswith("#") and pending is not None:
            entries.append(
                VariantEntry(
                    uri=line,
                    bandwidth=_int_or_none(pending.get("BANDWIDTH")),
                    resolution=_resolution(pending.get("RESOLUTION")),
                    codecs=pending.get("CODECS"),
                )
            )
            pending = None
    return entries


def parse_media_playlist(text: str) -> MediaPlaylist:
    """The segments (and init sections) a media playlist names, with its total duration."""
    segments: list[str] = []
    init_sections: list[str] = []
    duration = 0.0
    ended = False
    for line in _lines(text):
        if line.startswith("#EXTINF:"):
            length = line.partition(":")[2].partition(",")[0]
            try:
                duration += float(length)
            except ValueError as exc:
                raise MalformedResponseError(f"bad segment duration in {line!r}") from exc
        elif line.startswith("#EXT-X-MAP:"):
            uri = parse_attributes(line.partition(":")[2]).get("URI")
            if uri:
                init_sections.append(uri)
        elif line == "#EXT-X-ENDLIST":
            ended = True
        elif line and not line.startswith("#"):
            segments.append(line)
    return MediaPlaylist(
        segments=segments, init_sections=init_sections, duration=duration, ended=ended
    )


def resolve_uri(playlist_path: str, uri: str, root: str) -> str:
    """The job-relative path of a file named ``uri`` in the playlist at ``playlist_path``.

    Raises MalformedResponseError for anything that is not a plain relative name inside ``root``
    (e.g. ``output``): an absolute path, a URL, or ``..`` climbing out. Such a name would make
    the download write outside the destination folder, or fetch files the stream does not own.
    """
    name = unquote(uri)
    if (
        not name
        or "://" in name
        or name.startswith(("/", "\\"))
        or "\\" in name
        or "\x00" in name
        or re.match(r"^[A-Za-z]:", name)
    ):
        raise MalformedResponseError(f"{playlist_path} names {uri!r}, which is not a relative file")
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(playlist_path), name))
    if not joined.startswith(root.rstrip("/") + "/"):
        raise MalformedResponseError(
            f"{playlist_path} names {uri!r}, which is outside {root}/ — refusing to fetch it"
        )
    return joined


def _int_or_none(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _resolution(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    width, _, height = value.lower().partition("x")
    try:
        return int(width), int(height)
    except ValueError:
        return None
