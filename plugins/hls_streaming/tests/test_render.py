"""Human output of hand-built HLS results."""

from __future__ import annotations

from pathlib import Path

import pytest
from cl_client.cli import Output
from cl_client.models import Job
from cl_plugin_hls_streaming.client import HlsResult, HlsStream
from cl_plugin_hls_streaming.render import format_bandwidth, render_hls


def _job() -> Job:
    return Job(
        job_id="9e9e",
        task_type="hls_streaming",
        status="completed",
        params={"input_path": "input/clip.mp4", "output_path": "output", "include_original": True},
        task_output={"variants_generated": 2, "total_segments": 3, "include_original": True},
    )


STREAMS = [
    HlsStream(
        playlist="output/adaptive-720p-3500.m3u8",
        bandwidth=3_628_000,
        resolution=(1280, 720),
        segments=["output/adaptive-720p-3500-000.ts", "output/adaptive-720p-3500-001.ts"],
        duration=4.0,
    ),
    HlsStream(
        playlist="output/adaptive-orig.m3u8",
        bandwidth=None,
        resolution=None,
        segments=["output/adaptive-orig-000.ts"],
        duration=4.0,
        original=True,
    ),
]


def test_stream_on_the_server(capsys: pytest.CaptureFixture[str]) -> None:
    render_hls(HlsResult(job=_job(), streams=STREAMS, include_original=True), Output())
    # The heading (input and job id) is the frame's; the renderer prints only the rows.
    assert capsys.readouterr().out.splitlines() == [
        "master playlist: output/adaptive.m3u8 (on server)",
        "variants:        2",
        "segments:        3",
        "original:        included (stream copy)",
        "playlist                 resolution  bandwidth   segments  duration",
        "adaptive-720p-3500.m3u8  1280×720    3.6 Mbit/s  2         4.0 s",
        "adaptive-orig.m3u8       —           —           1         4.0 s",
    ]


def test_saved_stream(capsys: pytest.CaptureFixture[str]) -> None:
    folder = Path("/tmp/clip-hls")
    saved = [folder / name for name in ("adaptive.m3u8", "a.m3u8", "a-000.ts")]
    result = HlsResult(
        job=_job(),
        downloaded=saved,
        streams=STREAMS[:1],
        folder=folder,
        master_path=folder / "adaptive.m3u8",
    )
    render_hls(result, Output())
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "master playlist: /tmp/clip-hls/adaptive.m3u8"
    assert lines[3] == "saved:           3 files in /tmp/clip-hls"


def test_bandwidths() -> None:
    assert format_bandwidth(None) == "—"
    assert format_bandwidth(219_208) == "219 kbit/s"
    assert format_bandwidth(1_128_000) == "1.1 Mbit/s"


def test_json_summarises_the_streams() -> None:
    result = HlsResult(job=_job(), streams=STREAMS, include_original=True)
    assert result.total_segments == 3
    assert result.to_json()["result"] == {
        "master_playlist": "output/adaptive.m3u8",
        "master_path": None,
        "folder": None,
        "include_original": True,
        "total_segments": 3,
        "streams": [
            {
                "playlist": "output/adaptive-720p-3500.m3u8",
                "bandwidth": 3_628_000,
                "resolution": [1280, 720],
                "segments": 2,
                "duration": 4.0,
                "original": False,
            },
            {
                "playlist": "output/adaptive-orig.m3u8",
                "bandwidth": None,
                "resolution": None,
                "segments": 1,
                "duration": 4.0,
                "original": True,
            },
        ],
    }
