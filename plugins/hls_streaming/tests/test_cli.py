"""``cl hls-streaming generate-manifest`` and the client end to end against the local server."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cl_client.testing import ClRunner, run_with_compute
from cl_plugin_hls_streaming.client import HlsResult, HlsStreamingClient, HlsVariant
from cl_plugin_hls_streaming.playlist import parse_master_playlist, parse_media_playlist
from typer.testing import Result

if TYPE_CHECKING:
    from cl_client.compute import ComputeClient
    from cl_local_server.executors import TaskContext
    from cl_local_server.pytest_plugin import ClAgainst, ServerFactory
    from cl_local_server.server import LocalServer

REPO = Path(__file__).resolve().parents[3]
MEDIA = REPO.parent / "shared" / "media"
VIDEO = MEDIA / "astronaut.mp4"
IMAGE = MEDIA / "astronaut.jpg"


pytestmark = pytest.mark.timeout(120)

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
HEADING = re.compile(rf"^(?P<input>.+) \(job {UUID}\)$", re.MULTILINE)


def _json(result: Result):  # JSON of any shape, indexed freely by the tests
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _check_playable(folder: Path) -> int:
    """Every playlist the saved master names exists and parses, and so does every segment they
    name (a TS packet starts with the sync byte 0x47). Returns the number of segments."""
    variants = parse_master_playlist((folder / "adaptive.m3u8").read_text())
    assert variants
    segments = 0
    for variant in variants:
        media = parse_media_playlist((folder / variant.uri).read_text())
        assert media.ended
        assert media.segments
        for name in media.segments:
            data = (folder / name).read_bytes()
            assert data[:1] == b"\x47" and len(data) % 188 == 0
            segments += 1
    return segments


def test_default_variants_on_the_server(cl_run: ClRunner) -> None:
    result = cl_run("hls-streaming", "generate-manifest", str(VIDEO))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert re.fullmatch(rf"{re.escape(str(VIDEO))} \(job {UUID}\)", lines[0])
    assert lines[1] == "master playlist: output/adaptive.m3u8 (on server)"
    # The server's default 720p and 480p never go above the 360p source: one 360p variant.
    assert lines[2] == "variants:        1"
    assert lines[4].split() == ["playlist", "resolution", "bandwidth", "segments", "duration"]
    rows = [line.split() for line in lines[5:]]
    assert [(r[0], r[1]) for r in rows] == [("adaptive-360p-1000.m3u8", "640×360")]
    # 4 s of video in 2-second segments
    assert all(r[-1] == "s" and float(r[-2]) == pytest.approx(4.0, abs=0.2) for r in rows)
    assert lines[3] == f"segments:        {sum(int(r[-3]) for r in rows)}"


def test_output_folder_is_playable(cl_run: ClRunner, tmp_path: Path) -> None:
    folder = tmp_path / "stream"
    doc = _json(
        cl_run(
            "hls-streaming",
            "generate-manifest",
            str(VIDEO),
            "-V",
            "360:800",
            "--variant",
            "240p:400k",
            "--include-original",
            "-o",
            str(folder),
            "--json",
        )
    )
    assert doc["params"]["variants"] == [
        {"resolution": 360, "bitrate": 800},
        {"resolution": 240, "bitrate": 400},
    ]
    assert doc["params"]["include_original"] is True
    assert doc["input"] == str(VIDEO)
    # A multi-file result goes to a folder named after the input, inside the output folder.
    assert [p.name for p in folder.iterdir()] == ["astronaut.mp4"]
    folder = folder / "astronaut.mp4"
    segments = _check_playable(folder)
    assert segments == doc["result"]["total_segments"] == doc["task_output"]["total_segments"]
    assert [s["playlist"] for s in doc["result"]["streams"]] == [
        "output/adaptive-360p-800.m3u8",
        "output/adaptive-240p-400.m3u8",
        "output/adaptive-orig.m3u8",
    ]
    saved = sorted(Path(p).relative_to(folder).as_posix() for p in doc["downloaded"])
    assert saved == sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))
    assert doc["result"]["master_path"] == str(folder / "adaptive.m3u8")


def test_two_videos_each_in_its_own_folder(cl_run: ClRunner, tmp_path: Path) -> None:
    copy = tmp_path / "second.mp4"
    copy.write_bytes(VIDEO.read_bytes())
    out = tmp_path / "out"
    result = cl_run(
        "hls-streaming", "generate-manifest", str(VIDEO), str(copy), "-V", "240:300", "-o", str(out)
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["astronaut.mp4", "second.mp4"]
    assert _check_playable(out / "astronaut.mp4") > 0
    assert _check_playable(out / "second.mp4") > 0
    headings = [m["input"] for m in HEADING.finditer(result.stdout)]
    assert sorted(headings) == sorted([str(VIDEO), str(copy)])
    files = sum(1 for p in (out / "second.mp4").rglob("*") if p.is_file())
    assert f"saved:           {files} files in {out / 'second.mp4'}" in result.stdout


def test_an_image_has_no_video_stream(cl_run: ClRunner) -> None:
    result = cl_run("hls-streaming", "generate-manifest", str(IMAGE), "-V", "240")
    assert result.exit_code == 1
    assert re.fullmatch(
        rf"error: job {UUID} \(hls_streaming\) failed: Input file has no video stream\n",
        result.stderr,
    )
    assert result.stdout == ""


def test_a_folder_takes_its_videos_only(cl_run: ClRunner, tmp_path: Path) -> None:
    media = tmp_path / "media"
    (media / "clips").mkdir(parents=True)
    (media / "clips" / "astronaut.mp4").write_bytes(VIDEO.read_bytes())
    (media / "astronaut.jpg").write_bytes(IMAGE.read_bytes())
    out = tmp_path / "hls"
    result = cl_run(
        "hls-streaming", "generate-manifest", str(media), "-V", "240:300", "-o", str(out), "--json"
    )
    docs = _json(result)
    assert [d["input"] for d in docs] == [str(media / "clips" / "astronaut.mp4")]
    assert [p.relative_to(out).as_posix() for p in out.iterdir()] == ["clips"]
    assert _check_playable(out / "clips" / "astronaut.mp4") == docs[0]["result"]["total_segments"]
    assert re.fullmatch(
        r"1 completed, 0 failed, 0 skipped \(already done\) in \d+\.\d s \(\d+\.\d/s\); "
        r"left out: 1 not taken by this task\n",
        result.stderr,
    )


def test_library_client(cl_module_server: LocalServer, cl_isolated: Path, tmp_path: Path) -> None:
    async def go(compute: ComputeClient) -> tuple[HlsResult, HlsResult]:
        hls = HlsStreamingClient(compute)
        read = await hls.generate_manifest(VIDEO, variants=[HlsVariant(240, 300)])
        saved = await hls.generate_manifest(
            VIDEO, variants=[HlsVariant(240, 300)], dest=tmp_path / "lib"
        )
        return read, saved

    read, saved = run_with_compute(cl_module_server.client_env(), go)
    assert [s.resolution for s in read.streams] == [(426, 240)]
    assert read.folder is None and read.downloaded == []
    assert saved.master_path == tmp_path / "lib" / "adaptive.m3u8"
    assert _check_playable(tmp_path / "lib") == saved.total_segments == read.total_segments


# --- a server whose playlist names files outside the output folder ---------------------------


def _hostile_hls(ctx: TaskContext) -> dict[str, object]:
    out = ctx.output_path
    out.mkdir(parents=True, exist_ok=True)
    (out / "adaptive.m3u8").write_text("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\nv.m3u8\n")
    (out / "v.m3u8").write_text(
        "#EXTM3U\n#EXTINF:2,\nok-000.ts\n#EXTINF:2,\n../input/astronaut.mp4\n#EXT-X-ENDLIST\n"
    )
    (out / "ok-000.ts").write_bytes(b"\x47" * 188)
    return {"master_playlist": str(out / "adaptive.m3u8"), "variants_generated": 1}


def test_playlist_names_outside_output_are_refused(
    cl_server_factory: ServerFactory, cl_against: ClAgainst, tmp_path: Path
) -> None:
    hostile = cl_server_factory.start(executors={"hls_streaming": _hostile_hls})
    out = tmp_path / "out"
    result = cl_against(hostile)("hls-streaming", "generate-manifest", str(VIDEO), "-o", str(out))
    assert result.exit_code == 5
    assert result.stderr == (
        "error: output/v.m3u8 names '../input/astronaut.mp4', which is outside output/ "
        "— refusing to fetch it\n"
    )
    # Nothing was written outside the input's folder, and no segment was fetched before the check.
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        "astronaut.mp4",
        "astronaut.mp4/adaptive.m3u8",
        "astronaut.mp4/v.m3u8",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "state"]


def test_job_files_and_download_all_give_a_playable_stream(
    cl_run: ClRunner, tmp_path: Path
) -> None:
    job_id = _json(cl_run("hls-streaming", "generate-manifest", str(VIDEO), "-V", "240", "--json"))[
        "job_id"
    ]
    files = cl_run("job", "files", job_id)
    assert files.exit_code == 0, files.output
    listed = files.stdout.splitlines()
    assert listed[0] == "output/adaptive.m3u8"
    assert any(name.endswith(".m3u8") for name in listed[1:])
    assert sum(1 for name in listed if name.endswith(".ts")) >= 1
    saved = cl_run("job", "download", job_id, "--all", str(tmp_path / "all"))
    assert saved.exit_code == 0, saved.output
    assert len(saved.stdout.splitlines()) == len(listed)
    # Every segment the playlists name came along, where the playlists say.
    assert _check_playable(tmp_path / "all" / "output") >= 1
