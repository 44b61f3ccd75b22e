"""``cl hash compute``: content hashes of media files, computed by the server."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from cl_client.cli import TaskPlan, task_command

if TYPE_CHECKING:
    from cl_plugin_hash.client import HashResult

app = typer.Typer(
    help="Content hashes of media files (SHA-512 of the decoded media, or MD5 of the file).",
    no_args_is_help=True,
)


@task_command(app, "compute", default_timeout=30)
def compute(
    algorithm: Annotated[
        str,
        typer.Option(
            "--algorithm",
            "-a",
            help=(
                "sha512: of the decoded pixels (images), key frames (videos) or bytes (other "
                "files); md5: of the file bytes."
            ),
            metavar="sha512|md5",
        ),
    ] = "sha512",
) -> TaskPlan[HashResult]:
    """Hash each input on the server and print the hash and what was hashed.

    With --output, the server's hash.json is saved too.
    """
    from cl_plugin_hash.client import HashClient
    from cl_plugin_hash.render import render_hash

    return TaskPlan(HashClient, HashClient.build_form(algorithm=algorithm), render_hash)
