"""``cl help [COMMAND... | TOPIC]``: a command's help page, or a topic (as ``gh help``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Final

import typer
from typer import _click as click
from typer.core import TyperGroup

from cl_client.errors import EXIT_USAGE


def _write_table(title: str, rows: tuple[tuple[str, str], ...], intro: str) -> str:
    formatter = click.HelpFormatter(max_width=100)
    formatter.write_text(intro)
    with formatter.section(title):
        formatter.write_dl(list(rows))
    return formatter.getvalue().rstrip("\n")


def environment_text() -> str:
    from cl_client.cli.app import ENVIRONMENT

    return _write_table(
        "Environment",
        ENVIRONMENT,
        "Environment variables change what cl does; a flag on the command line wins over the "
        "environment, which wins over the profile.",
    )


def exit_codes_text() -> str:
    from cl_client.cli.app import EXIT_CODES

    return _write_table(
        "Exit codes",
        EXIT_CODES,
        "cl exits with one of these codes; when several inputs fail, with the worst one.",
    )


#: Topics and their text, besides the commands' own pages.
TOPICS: Final[dict[str, Callable[[], str]]] = {
    "environment": environment_text,
    "exit-codes": exit_codes_text,
}


def help_command(
    ctx: typer.Context,
    words: Annotated[
        list[str] | None,
        typer.Argument(
            help=f"A command (`job wait`) or a topic: {', '.join(TOPICS)}.",
            metavar="COMMAND|TOPIC",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Show the help of a command, or a topic: environment (variables), exit-codes."""
    from cl_client.cli.group import error_line

    path = list(words or [])
    if len(path) == 1 and path[0] in TOPICS:
        typer.echo(TOPICS[path[0]]())
        return
    root_ctx = ctx.find_root()
    command: click.Command = root_ctx.command
    current = root_ctx
    for name in path:
        sub = command.get_command(current, name) if isinstance(command, TyperGroup) else None
        if sub is None:
            topics = ", ".join(TOPICS)
            error_line(
                f"no command or help topic {' '.join(path)!r} (topics: {topics}; commands: "
                "`cl --help`)"
            )
            raise typer.Exit(EXIT_USAGE)
        current = sub.make_context(name, [], parent=current, resilient_parsing=True)
        command = current.command
    typer.echo(command.get_help(current))
