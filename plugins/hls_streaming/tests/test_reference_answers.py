"""``--include-original`` against a server that answers as the January-2026 reference server does:
it writes ``adaptive-orig.m3u8`` and its segments but does not list them in the master playlist.

The local server's own HLS executor runs (real ffmpeg), then the master playlist loses its entry
for the original stream, which is what the reference server's master playlist looks like.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cl_client.testing import ClRunner

if TYPE_CHECKING:
    from cl_local_server.executors import Executor, TaskContext

VIDEO = Path(__file__).resolve().parents[3].parent / "shared" / "media" / "astronaut.mp4"

pytestmark = pytest.mark.timeout(120)


def unlisted_original(ctx: TaskContext) -> dict[str, object]:
    from cl_local_server.executors.hls import run_hls_streaming

    output = run_hls_streaming(ctx)
    master = ctx.output_path / "adaptive.m3u8"
    lines = master.read_text().splitlines()
    kept: list[str] = []
    for line in lines:
        if line == "adaptive-orig.m3u8":
            kept.pop()  # its #EXT-X-STREAM-INF line
            continue
        kept.append(line)
    master.write_text("\n".join(kept) + "\n")
    return output


@pytest.fixture(scope="module")
def cl_module_executors() -> Mapping[str, Executor | None]:
    return {"hls_streaming": unlisted_original}


def test_the_original_stream_is_saved_though_the_master_does_not_list_it(
    cl_run: ClRunner, tmp_path: Path
) -> None:
    out = tmp_path / "stream"
    folder = out / VIDEO.name  # a multi-file result: a folder per input
    result = cl_run(
        "hls-streaming",
        "generate-manifest",
        str(VIDEO),
        "-V",
        "240:400",
        "--include-original",
        "-o",
        str(out),
        "--json",
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert "adaptive-orig" not in (folder / "adaptive.m3u8").read_text()  # as the server wrote it
    streams = doc["result"]["streams"]
    assert [(s["playlist"], s["original"]) for s in streams] == [
        ("output/adaptive-240p-400.m3u8", False),
        ("output/adaptive-orig.m3u8", True),
    ]
    original = (folder / "adaptive-orig.m3u8").read_text()
    segments = [line for line in original.splitlines() if line and not line.startswith("#")]
    assert segments
    for name in segments:
        assert (folder / name).read_bytes()[:1] == b"\x47"
    saved = {Path(p).name for p in doc["downloaded"]}
    assert {"adaptive.m3u8", "adaptive-orig.m3u8", *segments} <= saved
    assert doc["result"]["total_segments"] == doc["task_output"]["total_segments"]


def test_without_include_original_nothing_more_is_fetched(cl_run: ClRunner, tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    result = cl_run(
        "hls-streaming", "generate-manifest", str(VIDEO), "-V", "240:400", "-o", str(folder)
    )
    assert result.exit_code == 0, result.output
    assert not (folder / "adaptive-orig.m3u8").exists()
