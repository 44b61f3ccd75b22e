"""``cl example fingerprint PATH...`` and ``cl example duplicates FILE...``.

``fingerprint`` is a task command on the core's shared frame: it declares nothing but what is its
own (here: nothing at all), and gets folders, stdin, ``--output``, ``--json``/``--jsonl``,
``--jobs``, ``--timeout``, resume and progress from the core. ``duplicates`` shows a command of
another shape built on the library's batch API: it needs every result before it can print.

Module level imports stay light (typer and ``cl_client.cli``); the client and rendering load inside
the commands, so ``cl --help`` and ``cl example --help`` cost nothing extra.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from cl_client.cli import TaskPlan, get_globals, get_output, json_option, run_async, task_command

if TYPE_CHECKING:
    from cl_client.client import Client

    from cl_plugin_example.client import FileOutcome, Fingerprint

app = typer.Typer(name="example", no_args_is_help=True)


@app.callback()
def main() -> None:
    """Example third-party plugin: content fingerprints through the hash task."""


@task_command(app, "fingerprint", default_timeout=30)
def fingerprint() -> TaskPlan[Fingerprint]:
    """Print a short fingerprint (md5) of each input."""
    from cl_plugin_example.client import FingerprintClient
    from cl_plugin_example.render import render_fingerprint

    return TaskPlan(FingerprintClient, FingerprintClient.build_form(), render_fingerprint)


@app.command()
def duplicates(
    ctx: typer.Context,
    files: Annotated[
        list[Path],
        typer.Argument(help="Files to compare (one job each).", metavar="FILE", show_default=False),
    ],
    json_output: Annotated[bool, json_option()] = False,
) -> None:
    """Fingerprint every FILE and list the files with identical content."""
    output = get_output(ctx)

    async def go(client: Client) -> list[FileOutcome]:
        from cl_client.tasks import check_input_file

        from cl_plugin_example.client import FingerprintClient, fingerprint_files

        paths = [check_input_file(file) for file in files]  # every file checked before any upload
        if get_globals(ctx).capability_check:  # fail fast, unless --no-capability-check
            await client.compute.require_worker(FingerprintClient.task_type)
        return await fingerprint_files(FingerprintClient(client.compute), paths)

    outcomes = run_async(ctx, go)

    from cl_plugin_example.render import render_report, report_json

    if json_output or output.json_mode:
        output.json(report_json(outcomes))
    else:
        render_report(outcomes, output)
    failures = [outcome.error for outcome in outcomes if outcome.error is not None]
    if failures:
        raise typer.Exit(max(error.exit_code for error in failures))
