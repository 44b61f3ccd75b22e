"""Helpers every ``cl`` command uses, so that no plugin re-implements them.

A task plugin's ``cli.py`` declares its own parameters only; the options every task command
shares (inputs, ``--output``, ``--json``/``--jsonl``, ``--watch``, ``--jobs``, ``--timeout``, …)
come from the task-command frame::

    from cl_client.cli import TaskPlan, task_command

    app = typer.Typer(help="Content hashes of media files.", no_args_is_help=True)

    @task_command(app, "compute", default_timeout=30)
    def compute(
        algorithm: Annotated[str, typer.Option("--algorithm", "-a", help="…")] = "sha512",
    ) -> TaskPlan[HashResult]:
        '''Hash each input on the server and print the hash.'''
        from cl_plugin_hash.client import HashClient
        from cl_plugin_hash.render import render_hash

        return TaskPlan(HashClient, HashClient.build_form(algorithm=algorithm), render_hash)

Other commands use :func:`run_async` (open the client, run a coroutine, errors as one line),
:func:`get_output` and :func:`json_option`.

This module is imported by ``cl <plugin> --help``: it imports only Typer and the standard library.
The client, httpx, MQTT and Rich are imported when a command runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar, cast

import typer
from typer.models import OptionInfo

from cl_client.cli.context import JSON_KEY, GlobalOptions, get_globals, json_requested
from cl_client.cli.output import Output, format_bytes
from cl_client.cli.taskframe import (
    DEFAULT_JOBS,
    DEFAULT_PRIORITY,
    TaskOptions,
    TaskPlan,
    task_command,
)

if TYPE_CHECKING:
    from cl_client.client import Client

__all__ = [
    "DEFAULT_JOBS",
    "DEFAULT_PRIORITY",
    "GlobalOptions",
    "Output",
    "TaskOptions",
    "TaskPlan",
    "check_options",
    "format_bytes",
    "get_globals",
    "get_output",
    "json_option",
    "run_async",
    "task_command",
    "watch_option",
]

T = TypeVar("T")


# --- option factories (use them inside Annotated[...], defaults go in the signature) --------


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
