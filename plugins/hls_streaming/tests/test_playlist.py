"""M3U8 parsing and the rule that playlist names stay inside the output folder."""

from __future__ import annotations

import pytest
from cl_client.errors import MalformedResponseError
from cl_plugin_hls_streaming.playlist import (
    VariantEntry,
    is_master_playlist,
    parse_attributes,
    parse_master_playlist,
    parse_media_playlist,
    resolve_uri,
)

MASTER = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-STREAM-INF:BANDWIDTH=3628000,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2"
adaptive-720p-3500.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=1628000,RESOLUTION=854x480
adaptive-480p-1500.m3u8
"""

MEDIA = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:VOD
#EXTINF:2.002000,
adaptive-720p-3500-000.ts
#EXTINF:1.998,
adaptive-720p-3500-001.ts
#EXT-X-ENDLIST
"""


def test_master_playlist_variants() -> None:
    assert is_master_playlist(MASTER)
    assert parse_master_playlist(MASTER) == [
        VariantEntry("adaptive-720p-3500.m3u8", 3628000, (1280, 720), "avc1.64001f,mp4a.40.2"),
        VariantEntry("adaptive-480p-1500.m3u8", 1628000, (854, 480), None),
    ]


def test_media_playlist_segments_and_duration() -> None:
    assert not is_master_playlist(MEDIA)
    media = parse_media_playlist(MEDIA)
    assert media.segments == ["adaptive-720p-3500-000.ts", "adaptive-720p-3500-001.ts"]
    assert media.duration == pytest.approx(4.0)
    assert media.ended
    assert media.init_sections == []


def test_fmp4_init_section_and_crlf() -> None:
    text = '#EXTM3U\r\n#EXT-X-MAP:URI="init.mp4"\r\n#EXTINF:4,\r\nseg-1.m4s\r\n'
    media = parse_media_playlist(text)
    assert media.init_sections == ["init.mp4"]
    assert media.segments == ["seg-1.m4s"]
    assert not media.ended


def test_attribute_lists_with_quoted_commas() -> None:
    assert parse_attributes('BANDWIDTH=800000,CODECS="a,b",RESOLUTION=640x360') == {
        "BANDWIDTH": "800000",
        "CODECS": "a,b",
        "RESOLUTION": "640x360",
    }


def test_not_a_playlist() -> None:
    with pytest.raises(MalformedResponseError, match="no #EXTM3U header"):
        parse_master_playlist("<html>oops</html>")
    with pytest.raises(MalformedResponseError, match="bad segment duration"):
        parse_media_playlist("#EXTM3U\n#EXTINF:abc,\nx.ts\n")


@pytest.mark.parametrize(
    ("playlist", "uri", "expected"),
    [
        ("output/adaptive.m3u8", "adaptive-720p-3500.m3u8", "output/adaptive-720p-3500.m3u8"),
        ("output/adaptive.m3u8", "v1/index.m3u8", "output/v1/index.m3u8"),
        ("output/v1/index.m3u8", "seg%20one.ts", "output/v1/seg one.ts"),
        ("output/v1/index.m3u8", "../v2/seg.ts", "output/v2/seg.ts"),
    ],
)
def test_relative_names_resolve_inside_output(playlist: str, uri: str, expected: str) -> None:
    assert resolve_uri(playlist, uri, "output") == expected


@pytest.mark.parametrize(
    "uri",
    [
        "../input/astronaut.mp4",
        "%2e%2e/input/astronaut.mp4",
        "v1/../../secret",
        "/etc/passwd",
        "http://example.com/seg.ts",
        "C:/x.ts",
        "..\\x.ts",
        "",
    ],
)
def test_names_escaping_the_folder_are_refused(uri: str) -> None:
    with pytest.raises(MalformedResponseError, match=r"output/adaptive\.m3u8 names"):
        resolve_uri("output/adaptive.m3u8", uri, "output")
