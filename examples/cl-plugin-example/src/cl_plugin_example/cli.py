"""``cl example fingerprint FILE...``.

Module level imports stay light (typer and ``cl_client.cli``); the client and rendering load inside
the command, so ``cl --help`` and ``cl example --help`` cost nothing extra.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from cl_client.cli import (
    DEFAULT_JOBS,
    DEFAULT_PRIORITY,
    files_argument,
    get_globals,
    get_output,
    jobs_option,
    json_option,
    priority_option,
    run_async,
    timeout_option,
)

if TYPE_CHECKING:
    from cl_client.client import Client

    from cl_plugin_example.client import FileOutcome

#: Seconds to wait for each job: hashing is quick, as for `cl hash compute`.
DEFAULT_TIMEOUT = 30.0

app = typer.Typer(name="example", no_args_is_help=True)


@app.callback()
def main() -> None:
    """Example third-party plugin: content fingerprints through the hash task."""


@app.command()
def fingerprint(
    ctx: typer.Context,
    files: Annotated[list[Path], files_argument()],
    jobs: Annotated[int, jobs_option()] = DEFAULT_JOBS,
    timeout: Annotated[float, timeout_option(DEFAULT_TIMEOUT)] = DEFAULT_TIMEOUT,
    priority: Annotated[int, priority_option()] = DEFAULT_PRIORITY,
    json_output: Annotated[bool, json_option()] = False,
) -> None:
    """Print a short fingerprint (md5) of each file and list files with identical content."""
    output = get_output(ctx)

    async def go(client: Client) -> list[FileOutcome]:
        from cl_client.tasks import check_input_file

        from cl_plugin_example.client import FingerprintClient, fingerprint_files

        paths = [check_input_file(file) for file in files]  # every file checked before any upload
        if get_globals(ctx).capability_check:  # fail fast, unless --no-capability-check
            await client.compute.require_worker(FingerprintClient.task_type)
        return await fingerprint_files(
            FingerprintClient(client.compute), paths, jobs=jobs, timeout=timeout, priority=priority
        )

    outcomes = run_async(ctx, go)

    from cl_plugin_example.render import render_report, report_json

    if json_output or output.json_mode:
        output.json(report_json(outcomes))
    else:
        render_report(outcomes, output)
    failures = [outcome.error for outcome in outcomes if outcome.error is not None]
    if failures:
        raise typer.Exit(max(error.exit_code for error in failures))
