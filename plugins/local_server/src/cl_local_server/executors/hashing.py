"""``hash`` (PROTOCOL §5.6): md5 of the file, or a SHA-512 chosen by media type."""

from __future__ import annotations

import hashlib
import json
import tempfile
import threading
import time
from pathlib import Path

from PIL import Image

from cl_local_server.executors import TaskContext
from cl_local_server.executors.media import detect_media_type, ffmpeg_exe

_CHUNK = 1 << 20
#: A key-frame decode that takes longer than this is killed (the job ends in error).
VIDEO_HASH_TIMEOUT = 600.0


def _file_digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha512_image(path: Path) -> str:
    """SHA-512 of Pillow's decoded pixel bytes, so re-encoding metadata does not change it."""
    with Image.open(path) as img:
        return hashlib.sha512(img.tobytes()).hexdigest()


def sha512_video(ctx: TaskContext) -> str:
    """SHA-512 over the video's key frames (I-frames).

    Without ffprobe, ffmpeg decodes only the key frames (``-skip_frame nokey``) of the first video
    stream and writes them as raw RGB24 to stdout, which is hashed as it streams. The value depends
    on the decoder, so it is stable for one ffmpeg build, not across tools.
    """
    # stderr goes to a file: a damaged video makes ffmpeg write more than a pipe holds, and an
    # unread stderr pipe would block it (and us, reading stdout) forever.
    with tempfile.TemporaryFile() as errors:
        proc = ctx.processes.popen(
            [
                ffmpeg_exe(),
                "-v",
                "error",
                "-skip_frame",
                "nokey",
                "-i",
                str(ctx.input_path),
                "-map",
                "0:v:0",
                "-fps_mode",
                "passthrough",
                "-f",
                "rawvideo",
                "-pix_fmt",
                "rgb24",
                "pipe:1",
            ],
            stderr=errors,
        )
        timed_out = threading.Event()

        def kill_on_timeout() -> None:
            timed_out.set()
            proc.kill()

        watchdog = threading.Timer(VIDEO_HASH_TIMEOUT, kill_on_timeout)
        watchdog.daemon = True
        watchdog.start()
        digest = hashlib.sha512()
        try:
            assert proc.stdout is not None
            while chunk := proc.stdout.read(_CHUNK):
                digest.update(chunk)
            proc.stdout.close()
            proc.wait()
        finally:
            watchdog.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            ctx.processes.release(proc)
        if timed_out.is_set():
            raise RuntimeError(
                f"ffmpeg took longer than {VIDEO_HASH_TIMEOUT:.0f} s to decode video key frames"
            )
        if proc.returncode != 0:
            errors.seek(0)
            lines = errors.read().decode("utf-8", "replace").strip().splitlines()
            detail = lines[-1] if lines else f"exit code {proc.returncode}"
            raise RuntimeError(f"ffmpeg failed to decode video key frames: {detail}")
    return digest.hexdigest()


def run_hash(ctx: TaskContext) -> dict[str, object]:
    if not ctx.input_path.is_file():
        raise FileNotFoundError(f"Input file not found: {ctx.params.get('input_path')}")
    started = time.perf_counter()
    media_type = detect_media_type(ctx.input_path, ctx.processes)
    ctx.progress(10)
    if ctx.params.get("algorithm") == "md5":
        algorithm, value = "md5", _file_digest(ctx.input_path, "md5")
    elif media_type == "image":
        algorithm, value = "sha512_image", sha512_image(ctx.input_path)
    elif media_type == "video":
        algorithm, value = "sha512_video", sha512_video(ctx)
    else:
        algorithm, value = "sha512_generic", _file_digest(ctx.input_path, "sha512")
    result = {
        "hash_value": value,
        "algorithm": algorithm,
        "media_type": media_type,
        "process_time": round(time.perf_counter() - started, 6),
    }
    ctx.output_path.parent.mkdir(parents=True, exist_ok=True)
    ctx.output_path.write_text(json.dumps(result, indent=2))
    return {"media_type": media_type}
