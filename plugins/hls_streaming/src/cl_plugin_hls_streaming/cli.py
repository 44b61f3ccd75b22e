"""``cl hls-streaming generate-manifest``: HLS adaptive streams of videos, encoded by the server."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from cl_client.cli import TaskPlan, task_command

if TYPE_CHECKING:
    from cl_plugin_hls_streaming.client import HlsResult

app = typer.Typer(
    help="HLS adaptive streams of videos: a master playlist, variant playlists and TS segments.",
    no_args_is_help=True,
)


@task_command(app, "generate-manifest", default_timeout=120)
def generate_manifest(
    variants: Annotated[
        list[str] | None,
        typer.Option(
            "--variant",
            "-V",
            help=(
                "A rendition HEIGHT[:KBITS], e.g. 720:3500 or 480 or auto:800 (source height); "
                "repeat for several. Default: 720:3500 and 480:1500."
            ),
            metavar="HEIGHT[:KBITS]",
            show_default=False,
        ),
    ] = None,
    include_original: Annotated[
        bool,
        typer.Option(
            "--include-original",
            help="Also add the source as a stream, copied without re-encoding.",
        ),
    ] = False,
) -> TaskPlan[HlsResult]:
    """Encode each video as an HLS stream and print its variants and segment counts.

    With --output FOLDER the master playlist (adaptive.m3u8), every variant playlist and every
    segment are saved, ready for a player (a folder per input).
    """
    from cl_plugin_hls_streaming.client import HlsStreamingClient, parse_variant
    from cl_plugin_hls_streaming.render import render_hls

    chosen = [parse_variant(text) for text in variants] if variants else None
    form = HlsStreamingClient.build_form(variants=chosen, include_original=include_original)
    return TaskPlan(HlsStreamingClient, form, render_hls)
