"""Human output of ``cl hls-streaming generate-manifest``."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cl_client.cli import Output

    from cl_plugin_hls_streaming.client import HlsResult


def render_hls(result: HlsResult, output: Output) -> None:
    """The master playlist, then one row per variant stream with its segment count."""
    master = (
        str(result.master_path)
        if result.master_path is not None
        else f"{result.master_playlist} (on server)"
    )
    pairs: list[tuple[str, object]] = [
        ("master playlist", master),
        ("variants", len(result.streams)),
        ("segments", result.total_segments),
    ]
    if result.include_original:
        pairs.append(("original", "included (stream copy)"))
    if result.folder is not None:
        pairs.append(("saved", f"{len(result.downloaded)} files in {result.folder}"))
    output.key_values(pairs)
    rows = [
        (
            PurePosixPath(stream.playlist).name,
            "—" if stream.resolution is None else f"{stream.resolution[0]}×{stream.resolution[1]}",
            format_bandwidth(stream.bandwidth),
            len(stream.segments),
            f"{stream.duration:.1f} s",
        )
        for stream in result.streams
    ]
    output.table(("playlist", "resolution", "bandwidth", "segments", "duration"), rows)


def format_bandwidth(bits_per_second: int | None) -> str:
    """``3500000`` → ``3.5 Mbit/s``; ``800000`` → ``800 kbit/s``."""
    if bits_per_second is None:
        return "—"
    if bits_per_second >= 1_000_000:
        return f"{bits_per_second / 1_000_000:.1f} Mbit/s"
    return f"{bits_per_second / 1000:.0f} kbit/s"
