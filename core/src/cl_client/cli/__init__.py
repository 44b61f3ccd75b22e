"""Helpers every ``cl`` command uses, so that no plugin re-implements them.

A plugin's ``cli.py`` builds a Typer app from these::

    @app.command()
    def compute(
        ctx: typer.Context,
        files: Annotated[list[Path], files_argument()],
        watch: Annotated[bool, watch_option()] = False,
        output: Annotated[Path | None, output_option()] = None,
        timeout: Annotated[float, timeout_option(30)] = 30,
        json_output: Annotated[bool, json_option()] = False,
        jobs: Annotated[int, jobs_option()] = 3,
        priority: Annotated[int, priority_option()] = 5,
    ) -> None:
        from cl_plugin_hash.client import HashClient
        from cl_plugin_hash.render import render

        run_task(
            ctx,
            HashClient,  # builds the client that collects each finished job's result
            files,
            lambda compute, path: HashClient(compute).submit(path, priority=priority),
            render,
            watch=watch, output=output, timeout=timeout, json_output=json_output, jobs=jobs,
        )

This module is imported by ``cl <plugin> --help``: it imports only Typer and the standard library.
The client, httpx, MQTT and Rich are imported when a command runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar, cast

import typer
from typer.models import ArgumentInfo, OptionInfo

from cl_client.cli.context import JSON_KEY, GlobalOptions, get_globals, json_requested
from cl_client.cli.output import Output, format_bytes

if TYPE_CHECKING:
    from cl_client.client import Client
    from cl_client.compute import ComputeClient
    from cl_client.models import JobCreated
    from cl_client.tasks import TaskClient, TaskResult

__all__ = [
    "DEFAULT_JOBS",
    "DEFAULT_PRIORITY",
    "GlobalOptions",
    "Output",
    "check_options",
    "files_argument",
    "format_bytes",
    "get_globals",
    "get_output",
    "jobs_option",
    "json_option",
    "output_option",
    "priority_option",
    "run_async",
    "run_task",
    "timeout_option",
    "watch_option",
]

T = TypeVar("T")
R = TypeVar("R", bound="TaskResult")

#: Uploads in flight at once by default: small servers stop answering under ~20 parallel uploads.
DEFAULT_JOBS = 3
DEFAULT_PRIORITY = 5


# --- option factories (use them inside Annotated[...], defaults go in the signature) --------


def files_argument() -> ArgumentInfo:
    """One or more input files: ``files: Annotated[list[Path], files_argument()]``."""
    return cast(
        ArgumentInfo,
        typer.Argument(
            help="Media file(s) to process; several files run as separate jobs.",
            show_default=False,
            metavar="FILE",
        ),
    )


def watch_option(*short: str) -> OptionInfo:
    """``--watch`` (plus short names such as ``"-w"``): a live progress bar fed by MQTT."""
    return cast(
        OptionInfo,
        typer.Option(
            "--watch",
            *short,
            help="Show live progress from the server's job events (MQTT) while waiting.",
        ),
    )


def output_option() -> OptionInfo:
    """``--output/-o PATH``: download the result file(s) there."""
    return cast(
        OptionInfo,
        typer.Option(
            "--output",
            "-o",
            help=(
                "Download the result: a file (or existing folder) for one input; a folder for "
                "several inputs (one sub-folder per input) or multi-file results."
            ),
            show_default=False,
            metavar="PATH",
        ),
    )


def timeout_option(default: float) -> OptionInfo:
    """``--timeout/-t SECONDS`` for each job; ``default`` must also be the parameter's default."""
    return cast(
        OptionInfo,
        typer.Option(
            "--timeout",
            "-t",
            help=f"Seconds to wait for each job to finish (default {default:g}).",
            show_default=False,
            min=0.001,
            metavar="SECONDS",
        ),
    )


def _mark_json(ctx: typer.Context, value: bool) -> bool:
    if value:
        ctx.meta[JSON_KEY] = True
    return value


def json_option() -> OptionInfo:
    """``--json``: machine-readable output on stdout (also accepted before the command)."""
    return cast(
        OptionInfo,
        typer.Option(
            "--json",
            help="Print machine-readable JSON on stdout (messages go to stderr).",
            callback=_mark_json,
        ),
    )


def jobs_option() -> OptionInfo:
    """``--jobs/-j N``: uploads in flight at once (give the parameter the default 3)."""
    return cast(
        OptionInfo,
        typer.Option(
            "--jobs",
            "-j",
            help="Uploads in flight at once when several files are given.",
            min=1,
            max=16,
            metavar="N",
        ),
    )


def priority_option() -> OptionInfo:
    """``--priority 0-10`` (give the parameter the default 5)."""
    return cast(
        OptionInfo,
        typer.Option(
            "--priority",
            help="Job priority 0-10 (stored by the server; not used for scheduling).",
            min=0,
            max=10,
            metavar="N",
        ),
    )


# --- output and running ---------------------------------------------------------------------


def get_output(ctx: typer.Context) -> Output:
    """The :class:`Output` for this command, honouring the global and per-command options."""
    options = get_globals(ctx)
    return Output(
        json_mode=json_requested(ctx),
        quiet=options.quiet,
        verbose=options.verbose,
        no_color=options.no_color,
    )


def check_options(ctx: typer.Context, check: Callable[[], T]) -> T:
    """Run ``check()`` and return its value; a :class:`~cl_client.errors.ClError` it raises
    becomes one line on stderr and the error's exit code. For checking a command's options before
    anything is sent, e.g. ``chosen = check_options(ctx, lambda: validate_algorithm(algorithm))``.
    """
    from cl_client.errors import ClError

    try:
        return check()
    except ClError as exc:
        get_output(ctx).error(exc.message)
        raise typer.Exit(exc.exit_code) from None


def run_async(ctx: typer.Context, fn: Callable[[Client], Awaitable[T]]) -> T:
    """Open the :class:`~cl_client.client.Client` from the global options, run ``fn`` with it
    and return its result. Every :class:`~cl_client.errors.ClError` becomes one line on stderr and
    the error's exit code (a traceback only with ``-v``); Ctrl-C exits 130."""
    from cl_client.cli.runner import run_with_client

    return run_with_client(ctx, fn)


def run_task(
    ctx: typer.Context,
    client_factory: Callable[[ComputeClient], TaskClient[R]],
    files: Sequence[Path],
    submit: Callable[[ComputeClient, Path], Awaitable[JobCreated]],
    render: Callable[[R, Output], None],
    *,
    watch: bool,
    output: Path | None,
    timeout: float,
    json_output: bool,
    jobs: int,
) -> None:
    """Submit each file, follow each job and print each result (see the module docstring).

    Files are checked first (exit 2 on a bad one, before anything is sent); the task's worker is
    checked (``no worker offers X``, exit 5) unless ``--no-capability-check``; up to ``jobs``
    uploads run at once over one HTTP pool and one MQTT connection; with ``output`` results are
    downloaded; ``render`` prints each result, or with JSON the final job record (plus
    ``downloaded``) is printed per input (an array for several); an input without a final record
    (upload refused, timed out) prints ``{"input", "job_id", "error": {"message", "type",
    "exit_code"}}``. When some inputs fail the others still finish; the exit code is the worst one
    (1 when a job ended in error).
    """
    from cl_client.cli.runner import run_task_command

    run_task_command(
        ctx,
        client_factory,
        files,
        submit,
        render,
        watch=watch,
        output=output,
        timeout=timeout,
        json_output=json_output,
        jobs=jobs,
    )
