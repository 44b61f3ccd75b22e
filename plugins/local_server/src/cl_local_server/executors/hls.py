"""``hls_streaming`` (PROTOCOL §5.7): libx264 + ffmpeg's hls muxer, file names exactly as upstream.

Output under ``output/``: ``adaptive.m3u8`` (master), per variant ``adaptive-<res>p-<bitrate>.m3u8``
with 2-second segments ``adaptive-<res>p-<bitrate>-NNN.ts``, and with ``include_original`` a stream
copy ``adaptive-orig.m3u8`` / ``adaptive-orig-NNN.ts``. A variant with a null resolution keeps the
source height and one with a null bitrate gets a bitrate chosen from its height; the file names use
the values actually used. The default variants never go above the source's height.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from cl_local_server.executors import TaskContext
from cl_local_server.executors.media import Probe, ffmpeg_exe, probe
from cl_local_server.task_forms import FORM_DEFAULT_HLS_VARIANTS, SCHEMA_DEFAULT_HLS_VARIANTS

SEGMENT_SECONDS = 2
AUDIO_KBPS = 128


@dataclass(frozen=True)
class Variant:
    height: int
    width: int
    kbps: int

    @property
    def name(self) -> str:
        return f"adaptive-{self.height}p-{self.kbps}"


def _default_kbps(height: int) -> int:
    for min_height, kbps in ((1080, 6000), (720, 3500), (480, 1500), (360, 1000), (240, 800)):
        if height >= min_height:
            return kbps
    return 400


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def plan_variants(raw: object, info: Probe) -> list[Variant]:
    """The variants to encode. Variants that were asked for are encoded as asked, upscaling
    included; the defaults (no ``variants`` sent) never go above the source: a taller default
    becomes one at the source height, with the bitrate for that height, and repeats are dropped."""
    src_w, src_h = info.width or 0, info.height or 0
    defaulted = not isinstance(raw, list) or raw in (
        FORM_DEFAULT_HLS_VARIANTS,
        SCHEMA_DEFAULT_HLS_VARIANTS,
    )
    items = cast(list[object], raw) if isinstance(raw, list) else SCHEMA_DEFAULT_HLS_VARIANTS
    variants: list[Variant] = []
    for item in items:
        spec = cast(dict[str, object], item) if isinstance(item, dict) else {}
        res, kbps = spec.get("resolution"), spec.get("bitrate")
        height = res if isinstance(res, int) and res > 0 else src_h
        if defaulted and height > src_h:
            height, kbps = src_h, None
        width = _even(src_w * height / src_h)
        rate = kbps if isinstance(kbps, int) and kbps > 0 else _default_kbps(height)
        variant = Variant(_even(height), width, rate)
        if not (defaulted and variant in variants):
            variants.append(variant)
    if not variants:
        raise ValueError("At least one variant must be specified")
    return variants


class _Progress:
    """Turns ffmpeg ``-progress`` output into overall job progress across several encodes."""

    def __init__(self, ctx: TaskContext, duration: float | None, steps: int) -> None:
        self._ctx = ctx
        self._duration = duration or 0.0
        self._steps = max(1, steps)
        self._last = -1

    def step(self, index: int, fraction: float) -> None:
        percent = int((index + max(0.0, min(1.0, fraction))) / self._steps * 95)
        if percent != self._last:
            self._last = percent
            self._ctx.progress(percent)

    def run(self, index: int, args: list[str]) -> None:
        with tempfile.TemporaryFile() as errors:
            proc = self._ctx.processes.popen(
                [ffmpeg_exe(), "-v", "error", "-nostats", "-progress", "pipe:1", "-y", *args],
                stderr=errors,
            )
            try:
                assert proc.stdout is not None
                for line in proc.stdout:
                    key, _, value = line.decode("ascii", "replace").strip().partition("=")
                    if key == "out_time_us" and self._duration > 0 and value.isdigit():
                        self.step(index, int(value) / 1e6 / self._duration)
                proc.wait()
            finally:
                self._ctx.processes.release(proc)
            if proc.returncode != 0:
                errors.seek(0)
                lines = errors.read().decode("utf-8", "replace").strip().splitlines()
                raise RuntimeError(f"ffmpeg failed: {lines[-1] if lines else proc.returncode}")
        self.step(index, 1.0)


def _hls_args(out_dir: Path, name: str) -> list[str]:
    return [
        "-f",
        "hls",
        "-hls_time",
        str(SEGMENT_SECONDS),
        "-hls_playlist_type",
        "vod",
        "-hls_segment_filename",
        str(out_dir / f"{name}-%03d.ts"),
        str(out_dir / f"{name}.m3u8"),
    ]


def run_hls_streaming(ctx: TaskContext) -> dict[str, object]:
    if not ctx.input_path.is_file():
        raise FileNotFoundError(f"Input file not found: {ctx.params.get('input_path')}")
    info = probe(ctx.input_path, ctx.processes)
    if not info.is_video or not info.width or not info.height:
        raise ValueError("Input file has no video stream")
    variants = plan_variants(ctx.params.get("variants"), info)
    include_original = ctx.params.get("include_original") is True
    out_dir = ctx.output_path
    out_dir.mkdir(parents=True, exist_ok=True)
    progress = _Progress(ctx, info.duration, len(variants) + int(include_original))
    source = ["-i", str(ctx.input_path), "-map", "0:v:0", "-map", "0:a:0?"]
    for index, v in enumerate(variants):
        encode = [
            "-vf",
            f"scale={v.width}:{v.height}",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-pix_fmt",
            "yuv420p",
            "-b:v",
            f"{v.kbps}k",
            "-maxrate",
            f"{int(v.kbps * 1.1)}k",
            "-bufsize",
            f"{v.kbps * 2}k",
            # A key frame every segment boundary, so segments are 2 s long.
            "-force_key_frames",
            f"expr:gte(t,n_forced*{SEGMENT_SECONDS})",
            "-sc_threshold",
            "0",
            "-c:a",
            "aac",
            "-b:a",
            f"{AUDIO_KBPS}k",
            "-ac",
            "2",
        ]
        progress.run(index, [*source, *encode, *_hls_args(out_dir, v.name)])
    if include_original:
        progress.run(len(variants), [*source, "-c", "copy", *_hls_args(out_dir, "adaptive-orig")])

    lines = ["#EXTM3U", "#EXT-X-VERSION:3"]
    for v in variants:
        bandwidth = (v.kbps + AUDIO_KBPS) * 1000
        lines += [
            f"#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},RESOLUTION={v.width}x{v.height}",
            f"{v.name}.m3u8",
        ]
    if include_original:
        size = sum(p.stat().st_size for p in out_dir.glob("adaptive-orig-*.ts"))
        bandwidth = int(size * 8 / info.duration) if info.duration else 0
        resolution = f"{info.width}x{info.height}"
        lines += [
            f"#EXT-X-STREAM-INF:BANDWIDTH={max(bandwidth, 1)},RESOLUTION={resolution}",
            "adaptive-orig.m3u8",
        ]
    master = out_dir / "adaptive.m3u8"
    master.write_text("\n".join(lines) + "\n")
    return {
        "master_playlist": str(master),
        "variants_generated": len(variants),
        "total_segments": len(list(out_dir.glob("*.ts"))),
        "include_original": include_original,
    }
