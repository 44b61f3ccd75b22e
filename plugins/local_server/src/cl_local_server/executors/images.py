"""``image_conversion`` (§5.8) and ``media_thumbnail`` (§5.9), with Pillow and the bundled
ffmpeg."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from cl_local_server.executors import TaskContext
from cl_local_server.executors.media import detect_media_type, ffmpeg_exe, probe

_PIL_FORMATS = {
    "png": "PNG",
    "jpg": "JPEG",
    "jpeg": "JPEG",
    "webp": "WEBP",
    "gif": "GIF",
    "bmp": "BMP",
    "tiff": "TIFF",
}
DEFAULT_BOX = 256
GRID = 4  # video thumbnails are a GRID x GRID sheet of frames


def _require_input(ctx: TaskContext) -> None:
    if not ctx.input_path.is_file():
        raise FileNotFoundError(f"Input file not found: {ctx.params.get('input_path')}")


def _save(img: Image.Image, path: Path, fmt: str, quality: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "JPEG":
        # JPEG has no alpha: drop it (PROTOCOL §5.8).
        img = img.convert("RGB")
    elif img.mode not in ("RGB", "RGBA", "L", "LA", "P", "1"):
        img = img.convert("RGBA" if "A" in img.getbands() else "RGB")
    options: dict[str, object] = {}
    if fmt in ("JPEG", "WEBP"):
        options["quality"] = quality
    try:
        img.save(path, format=fmt, **options)
    except (OSError, ValueError):
        # Some formats refuse some modes (e.g. LA in BMP): fall back to plain RGB.
        img.convert("RGB").save(path, format=fmt, **options)


def run_image_conversion(ctx: TaskContext) -> dict[str, object]:
    _require_input(ctx)
    fmt = _PIL_FORMATS.get(str(ctx.params.get("format", "")).lower())
    if fmt is None:
        raise ValueError(f"Unsupported output format: {ctx.params.get('format')}")
    quality_raw = ctx.params.get("quality", 85)
    quality = quality_raw if isinstance(quality_raw, int) else 85
    with Image.open(ctx.input_path) as img:
        img.load()
        ctx.progress(50)
        _save(img, ctx.output_path, fmt, quality)
    return {}


def _dim(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def fit_size(
    src_w: int, src_h: int, width: int | None, height: int | None, keep_aspect: bool
) -> tuple[int, int]:
    """Target size: 256x256 box by default, one side given → the other follows the aspect ratio,
    both given → fit inside (or stretch when ``keep_aspect`` is false). Never larger than the
    source."""
    if width is None and height is None:
        width = height = DEFAULT_BOX
    if width is not None and height is not None and not keep_aspect:
        return max(1, min(width, src_w)), max(1, min(height, src_h))
    scales: list[float] = []
    if width is not None:
        scales.append(width / src_w)
    if height is not None:
        scales.append(height / src_h)
    scale = min([*scales, 1.0])
    return max(1, round(src_w * scale)), max(1, round(src_h * scale))


def _image_thumbnail(ctx: TaskContext, width: int | None, height: int | None, keep: bool) -> None:
    with Image.open(ctx.input_path) as img:
        img.load()
        size = fit_size(img.width, img.height, width, height, keep)
        thumb = img.convert("RGBA" if "A" in img.getbands() else "RGB")
        if thumb.mode == "RGBA":
            # Flatten transparency onto white rather than black for the JPEG.
            background = Image.new("RGB", thumb.size, (255, 255, 255))
            background.paste(thumb, mask=thumb.getchannel("A"))
            thumb = background
        thumb = thumb.resize(size, Image.Resampling.LANCZOS)
        ctx.progress(60)
        _save(thumb, ctx.output_path, "JPEG", 85)


def _read_frames(ctx: TaskContext, args: list[str], cell: tuple[int, int]) -> list[bytes]:
    code, out, err = ctx.processes.run([ffmpeg_exe(), "-v", "error", *args], timeout=300)
    if code != 0:
        lines = err.decode("utf-8", "replace").strip().splitlines()
        raise RuntimeError(f"ffmpeg failed: {lines[-1] if lines else code}")
    frame_bytes = cell[0] * cell[1] * 3
    return [out[i : i + frame_bytes] for i in range(0, len(out) - frame_bytes + 1, frame_bytes)]


def _video_thumbnail(ctx: TaskContext, width: int | None, height: int | None, keep: bool) -> None:
    """A 4x4 sheet of key frames; when the video has fewer than 16 key frames, frames sampled evenly
    over its duration are used instead. The sheet fits the box (default 256x256)."""
    info = probe(ctx.input_path, ctx.processes)
    if not info.width or not info.height:
        raise ValueError("No video stream found in the input")
    sheet_w, sheet_h = fit_size(info.width * GRID, info.height * GRID, width, height, keep)
    cell = (max(2, sheet_w // GRID), max(2, sheet_h // GRID))
    scale = f"scale={cell[0]}:{cell[1]}"
    raw_out = ["-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
    src = ["-i", str(ctx.input_path), "-map", "0:v:0"]
    frames = _read_frames(
        ctx,
        ["-skip_frame", "nokey", *src, "-vf", scale, "-fps_mode", "passthrough", *raw_out],
        cell,
    )
    ctx.progress(40)
    wanted = GRID * GRID
    if len(frames) < wanted and info.duration:
        rate = wanted / max(info.duration, 0.04)
        sampled = _read_frames(ctx, [*src, "-vf", f"fps={rate:.6f},{scale}", *raw_out], cell)
        if len(sampled) > len(frames):
            frames = sampled
    if not frames:
        raise RuntimeError("Could not decode any frame of the video")
    ctx.progress(70)
    step = len(frames) / wanted
    picks = [frames[min(len(frames) - 1, int(i * step))] for i in range(wanted)]
    sheet = Image.new("RGB", (cell[0] * GRID, cell[1] * GRID))
    for i, data in enumerate(picks):
        frame = Image.frombytes("RGB", cell, data)
        sheet.paste(frame, ((i % GRID) * cell[0], (i // GRID) * cell[1]))
    _save(sheet, ctx.output_path, "JPEG", 85)


def run_media_thumbnail(ctx: TaskContext) -> dict[str, object]:
    _require_input(ctx)
    width, height = _dim(ctx.params.get("width")), _dim(ctx.params.get("height"))
    keep = ctx.params.get("maintain_aspect_ratio", True) is not False
    media_type = detect_media_type(ctx.input_path, ctx.processes)
    ctx.progress(10)
    if media_type == "image":
        _image_thumbnail(ctx, width, height, keep)
    elif media_type == "video":
        _video_thumbnail(ctx, width, height, keep)
    else:
        raise ValueError(f"Unsupported media type: {media_type}")
    return {"media_type": media_type}
