"""Library client for the ``hls_streaming`` compute task.

The job's result is a folder, ``output/``: the master playlist ``adaptive.m3u8``, one playlist per
variant and their TS segments. ``params.output_path`` names the folder (not a file) and
``task_output.master_playlist`` is a path on the server's disk, so neither can be downloaded
directly: :meth:`HlsStreamingClient.collect` starts at ``output/adaptive.m3u8`` and follows the
playlists. With a destination folder it saves every file under its relative name, so a player can
open the saved master playlist.

Example::

    async with Client() as client:
        hls = HlsStreamingClient(client.compute)
        result = await hls.generate_manifest(
            Path("clip.mp4"), variants=[HlsVariant(720, 3500)], dest=Path("clip-hls")
        )
        print(result.master_path, [s.resolution for s in result.streams])
"""

from __future__ import annotations

import asyncio
import json
import os
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import ClassVar, Final

from cl_client.errors import InvalidInputError, NotFoundError
from cl_client.models import FormValue, Job, JobCreated, JsonObject
from cl_client.tasks import ProgressCallback, TaskClient, TaskResult
from cl_client.transport import safe_join

from cl_plugin_hls_streaming.playlist import (
    is_master_playlist,
    parse_master_playlist,
    parse_media_playlist,
    resolve_uri,
)

#: The folder all result files are in, and the master playlist in it.
OUTPUT_DIR: Final = "output"
MASTER_PLAYLIST: Final = "output/adaptive.m3u8"
#: The playlist of the stream copy of the source (``include_original``), next to the master.
#: The January-2026 reference server writes it without listing it in the master playlist.
ORIGINAL_PLAYLIST: Final = "adaptive-orig.m3u8"
#: The server's minimum bitrate in kbit/s.
MIN_BITRATE: Final = 100
#: Downloads in flight at once while saving the stream.
DOWNLOAD_CONCURRENCY: Final = 4

_VARIANT_TEXT = re.compile(r"(?i)\s*(auto|\d+)p?\s*(?::\s*(auto|\d+)\s*k?\s*)?")


@dataclass(frozen=True, slots=True)
class HlsVariant:
    """A rendition to produce: the video height in pixels and the bitrate in kbit/s. None keeps the
    source's height, or lets the encoder choose the bitrate."""

    resolution: int | None = None
    bitrate: int | None = None

    def to_json(self) -> dict[str, int | None]:
        return {"resolution": self.resolution, "bitrate": self.bitrate}


#: What the server produces when no variants are sent.
DEFAULT_VARIANTS: Final[tuple[HlsVariant, ...]] = (HlsVariant(720, 3500), HlsVariant(480, 1500))


def parse_variant(text: str) -> HlsVariant:
    """``"720:3500"`` (height:kbit/s), also ``"720p:3500k"``, ``"480"`` (bitrate chosen by the
    encoder) or ``"auto:800"`` (source height). InvalidInputError for anything else."""
    match = _VARIANT_TEXT.fullmatch(text)
    if match is None:
        raise InvalidInputError(
            f"variant {text!r} is not HEIGHT[:KBITS] (e.g. 720:3500, 480, auto:800)"
        )
    height, bitrate = match.group(1), match.group(2)
    # Far past any real height or bitrate, and short of int()'s 4300-digit limit.
    for part, what in ((height, "height"), (bitrate, "bitrate")):
        if part is not None and len(part) > 9:
            raise InvalidInputError(
                f"variant {what} {part[:12]}… ({len(part)} digits) is far too large "
                "(e.g. 720:3500, 480, auto:800)"
            )
    variant = HlsVariant(
        resolution=None if height.lower() == "auto" else int(height),
        bitrate=None if bitrate is None or bitrate.lower() == "auto" else int(bitrate),
    )
    validate_variants([variant])
    return variant


def validate_variants(variants: Sequence[HlsVariant]) -> list[HlsVariant]:
    """The variants as a list if the server can encode them: at least one, heights > 0, bitrates
    ≥ 100 kbit/s, no duplicates; else InvalidInputError."""
    if not variants:
        raise InvalidInputError("variants must name at least one variant (e.g. 720:3500)")
    seen: set[HlsVariant] = set()
    for variant in variants:
        if variant.resolution is not None and variant.resolution <= 0:
            raise InvalidInputError(
                f"variant resolution must be a height in pixels > 0, got {variant.resolution}"
            )
        if variant.bitrate is not None and variant.bitrate < MIN_BITRATE:
            raise InvalidInputError(
                f"variant bitrate must be at least {MIN_BITRATE} kbit/s, got {variant.bitrate}"
            )
        if variant in seen:
            raise InvalidInputError(
                f"variant {variant.resolution or 'auto'}:{variant.bitrate or 'auto'} is given twice"
            )
        seen.add(variant)
    return list(variants)


@dataclass(frozen=True, slots=True)
class HlsStream:
    """One variant stream as the master playlist describes it, and the files of its playlist."""

    #: The variant playlist's path inside the job, e.g. ``output/adaptive-720p-3500.m3u8``.
    playlist: str
    bandwidth: int | None  # bits per second, from the master playlist
    resolution: tuple[int, int] | None  # width, height
    #: The segment paths inside the job, in order (init sections first, if any).
    segments: list[str] = field(default_factory=list[str])
    duration: float = 0.0  # seconds
    #: True for the stream copy of the source (``include_original``).
    original: bool = False


@dataclass(kw_only=True)
class HlsResult(TaskResult):
    """The HLS stream of one video: its variants and segments, and where it was saved."""

    #: The master playlist's path inside the job.
    master_playlist: str = MASTER_PLAYLIST
    streams: list[HlsStream] = field(default_factory=list[HlsStream])
    include_original: bool = False
    #: The folder everything was saved in, and the saved master playlist (with a destination).
    folder: Path | None = None
    master_path: Path | None = None

    @property
    def total_segments(self) -> int:
        return sum(len(stream.segments) for stream in self.streams)

    def to_json(self) -> JsonObject:
        out = super().to_json()
        out["result"] = {
            "master_playlist": self.master_playlist,
            "master_path": None if self.master_path is None else str(self.master_path),
            "folder": None if self.folder is None else str(self.folder),
            "include_original": self.include_original,
            "total_segments": self.total_segments,
            "streams": [
                {
                    "playlist": s.playlist,
                    "bandwidth": s.bandwidth,
                    "resolution": None if s.resolution is None else list(s.resolution),
                    "segments": len(s.segments),
                    "duration": s.duration,
                    "original": s.original,
                }
                for s in self.streams
            ],
        }
        return out


class HlsStreamingClient(TaskClient[HlsResult]):
    """Typed client for ``POST /jobs/hls_streaming``. Results span many files: ``dest`` is a
    folder."""

    task_type: ClassVar[str] = "hls_streaming"
    accepts: ClassVar[tuple[str, ...]] = ("video/",)
    multi_file: ClassVar[bool] = True

    async def submit(
        self,
        file: str | os.PathLike[str],
        *,
        variants: Sequence[HlsVariant] | None = None,
        include_original: bool = False,
        priority: int = 5,
    ) -> JobCreated:
        """Upload a video for HLS encoding. ``variants`` defaults to the server's (720p at
        3500 kbit/s and 480p at 1500 kbit/s); ``include_original`` adds a stream copy of the source
        without re-encoding. ``priority`` 0–10."""
        form = self.build_form(variants=variants, include_original=include_original)
        return await self.submit_form(file, form, priority=priority)

    @staticmethod
    def build_form(
        *, variants: Sequence[HlsVariant] | None = None, include_original: bool = False
    ) -> dict[str, FormValue]:
        """The form fields of an HLS job; InvalidInputError for bad variants."""
        form: dict[str, FormValue] = {"include_original": include_original}
        if variants is not None:
            checked = validate_variants(variants)
            form["variants"] = json.dumps([v.to_json() for v in checked], separators=(",", ":"))
        return form

    async def generate_manifest(
        self,
        file: str | os.PathLike[str],
        *,
        variants: Sequence[HlsVariant] | None = None,
        include_original: bool = False,
        priority: int = 5,
        timeout: float | None = 120.0,  # noqa: ASYNC109 - the job's deadline, not a call's
        dest: Path | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> HlsResult:
        """Submit a video and wait for its stream. With ``dest`` (a folder, created if missing),
        save the master playlist, the variant playlists and every segment there."""
        created = await self.submit(
            file, variants=variants, include_original=include_original, priority=priority
        )
        return await self.wait_result(
            created.job_id, timeout=timeout, on_progress=on_progress, dest=dest
        )

    async def collect(self, job: Job, dest: Path | None = None) -> HlsResult:
        if dest is not None:
            _check_folder(dest)
        master_remote = _master_path(job)
        root = posixpath.dirname(master_remote) or OUTPUT_DIR
        saver = _Saver(self, job.job_id, root, dest)

        master_text = await saver.fetch_text(master_remote)
        streams: list[HlsStream] = []
        if is_master_playlist(master_text):
            for entry in parse_master_playlist(master_text):
                playlist = resolve_uri(master_remote, entry.uri, root)
                streams.append(
                    await self._read_stream(
                        saver, playlist, root, entry.bandwidth, entry.resolution
                    )
                )
        else:
            # A single-variant server may hand out a media playlist directly.
            streams.append(
                await self._read_stream(saver, master_remote, root, None, None, master_text)
            )
        include_original = job.params.get("include_original")
        original_remote = posixpath.join(posixpath.dirname(master_remote), ORIGINAL_PLAYLIST)
        listed = [s for s in streams if s.playlist == original_remote]
        for stream in listed:
            streams[streams.index(stream)] = replace(stream, original=True)
        if include_original is True and not listed:
            original = await self._read_original(saver, original_remote, root)
            if original is not None:
                streams.append(original)
        await saver.fetch_files([segment for stream in streams for segment in stream.segments])

        return HlsResult(
            job=job,
            downloaded=saver.saved,
            master_playlist=master_remote,
            streams=streams,
            include_original=include_original if isinstance(include_original, bool) else False,
            folder=dest,
            master_path=saver.local_path(master_remote) if dest is not None else None,
        )

    async def result_files(self, job: Job) -> list[str]:
        """The master playlist, every variant playlist and every segment they name."""
        result = await self.collect(job)
        files = [result.master_playlist]
        for stream in result.streams:
            files.append(stream.playlist)
            files.extend(stream.segments)
        return list(dict.fromkeys(files))

    async def _read_original(self, saver: _Saver, playlist: str, root: str) -> HlsStream | None:
        """The original stream a server wrote but left out of the master playlist; None when
        there is none."""
        try:
            text = await saver.fetch_text(playlist)
        except NotFoundError:
            return None
        stream = await self._read_stream(saver, playlist, root, None, None, text)
        return replace(stream, original=True)

    async def _read_stream(
        self,
        saver: _Saver,
        playlist: str,
        root: str,
        bandwidth: int | None,
        resolution: tuple[int, int] | None,
        text: str | None = None,
    ) -> HlsStream:
        if text is None:
            text = await saver.fetch_text(playlist)
        media = parse_media_playlist(text)
        files = [resolve_uri(playlist, uri, root) for uri in media.init_sections + media.segments]
        return HlsStream(
            playlist=playlist,
            bandwidth=bandwidth,
            resolution=resolution,
            segments=files,
            duration=media.duration,
        )


class _Saver:
    """Reads playlists (saving them too when there is a destination) and downloads segments into
    the destination folder under their paths relative to the output folder."""

    def __init__(self, client: HlsStreamingClient, job_id: str, root: str, dest: Path | None):
        self._compute = client.compute
        self._job_id = job_id
        self._root = root
        self._dest = dest
        self.saved: list[Path] = []

    def local_path(self, remote: str) -> Path:
        assert self._dest is not None
        relative = PurePosixPath(remote).relative_to(self._root)
        # Also refuses a symlink inside the folder that would lead the write elsewhere.
        return safe_join(self._dest, relative.as_posix())

    async def _download(self, remote: str) -> Path:
        target = self.local_path(remote)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InvalidInputError(
                f"cannot create folder {target.parent}: {exc.strerror or exc}"
            ) from exc
        return await self._compute.download(self._job_id, remote, target)

    async def fetch_text(self, remote: str) -> str:
        if self._dest is None:
            data = await self._compute.read_bytes(self._job_id, remote)
        else:
            saved = await self._download(remote)
            self.saved.append(saved)
            data = saved.read_bytes()
        return data.decode("utf-8-sig", errors="replace")

    async def fetch_files(self, remotes: Sequence[str]) -> None:
        if self._dest is None:
            return
        limit = asyncio.Semaphore(DOWNLOAD_CONCURRENCY)

        async def one(remote: str) -> Path:
            async with limit:
                return await self._download(remote)

        # An init section may be shared by several variants: fetch each file once.
        tasks = [asyncio.ensure_future(one(remote)) for remote in dict.fromkeys(remotes)]
        try:
            saved = await asyncio.gather(*tasks)
        except BaseException:
            # Stop the other downloads before reporting the first failure.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        self.saved.extend(saved)


def _check_folder(dest: Path) -> None:
    if dest.exists() and not dest.is_dir():
        raise InvalidInputError(f"{dest} is a file; an HLS stream is saved into a folder")


def _master_path(job: Job) -> str:
    # params.output_path is the folder "output"; a server that names the playlist itself is
    # followed too.
    output = job.output_path
    if output is not None and output.endswith(".m3u8"):
        return posixpath.normpath(output)
    if output:
        return posixpath.join(posixpath.normpath(output), PurePosixPath(MASTER_PLAYLIST).name)
    return MASTER_PLAYLIST
