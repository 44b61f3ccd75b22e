"""The help pages of ``cl``: one plain style for every command, built-in or from a plugin.

Typer draws sub-command help with Rich (whose import costs more than the rest of ``cl --help``)
and names values by their Python type (``<bool>``, ``<list[Path]>``). Every page here is Click's
plain text layout instead: ``Usage:``, the description, ``Arguments:``, ``Options:``,
``Commands:``, with values named by :func:`cl_client.cli.params.placeholder` and the argument
names in upper case.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from enum import Enum
from typing import Final, cast

from typer import _click as click
from typer.core import TyperArgument, TyperGroup, TyperOption

from cl_client.cli.params import choice_names, placeholder

#: The note at the end of every sub-command's page.
GLOBAL_NOTE: Final = (
    "Global options work here too: -p/--profile NAME, --json, -v/--verbose, -q/--quiet, "
    "--no-color and the connection options (see `cl --help`)."
)


def _number(value: float) -> str:
    return f"{value:g}"


def _range_text(param: TyperOption | TyperArgument) -> str | None:
    lo, hi = param.min, param.max
    if param.is_bool_flag if isinstance(param, TyperOption) else False:
        return None
    if lo is not None and hi is not None:
        return f"{_number(lo)}-{_number(hi)}"
    if lo is not None:
        # a tiny minimum (0.001 s) says "not zero", which is how people read it
        return "above 0" if 0 < lo < 0.01 else f"at least {_number(lo)}"
    if hi is not None:
        return f"at most {_number(hi)}"
    return None


def _default_text(param: TyperOption | TyperArgument, ctx: click.Context) -> str | None:
    show = param.show_default
    if isinstance(show, str):
        return show or None
    if not show:
        return None
    resilient = ctx.resilient_parsing
    ctx.resilient_parsing = True
    try:
        value = param.get_default(ctx, call=False)
    finally:
        ctx.resilient_parsing = resilient
    if callable(value) or value is None or value == "" or value == [] or value == ():
        return None
    if isinstance(param, TyperOption) and param.is_bool_flag:
        if not param.secondary_opts:
            return None
        return (param.opts if value else param.secondary_opts)[0]
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, list | tuple):
        items = cast("Sequence[object]", value)
        return ", ".join(str(v) for v in items)
    if isinstance(value, float):
        return _number(value)
    return str(value)


def _with_extras(help_text: str, extras: Sequence[str]) -> str:
    if not extras:
        return help_text
    tail = f"({'; '.join(extras)})"
    return f"{help_text} {tail}" if help_text else tail


def option_record(param: click.Parameter, ctx: click.Context) -> tuple[str, str] | None:
    """The ``(names, help)`` row of an option on a help page; None when it is hidden."""
    if not isinstance(param, TyperOption) or param.hidden:
        return None
    shorts = [o for o in param.opts if not o.startswith("--")]
    longs = [o for o in param.opts if o.startswith("--")]
    names = ", ".join([*shorts, *longs])
    if param.secondary_opts:
        names += " / " + ", ".join(param.secondary_opts)
    if not param.is_flag:
        names += f" {placeholder(param)}"
    help_text = inspect.cleandoc(param.help or "")
    extras: list[str] = []
    shown = f"{help_text} {param.metavar or ''}"
    range_text = _range_text(param)
    if range_text and range_text not in shown:
        extras.append(range_text)
    default = _default_text(param, ctx)
    if default is not None:
        extras.append(f"default: {default}")
    if param.required:
        extras.append("required")
    return names, _with_extras(help_text, extras)


def argument_label(param: click.Parameter) -> str:
    """An argument as the usage line and the Arguments section name it: ``FILE...``."""
    label = placeholder(param)
    return label + ("..." if param.nargs != 1 else "")


def argument_record(param: click.Parameter, ctx: click.Context) -> tuple[str, str] | None:
    if not isinstance(param, TyperArgument) or param.hidden:
        return None
    extras: list[str] = []
    names = choice_names(param)
    if names and "|".join(names) != placeholder(param):
        extras.append("one of " + ", ".join(names))
    range_text = _range_text(param)
    if range_text and range_text not in (param.help or ""):
        extras.append(range_text)
    default = _default_text(param, ctx) if not param.required else None
    if default is not None:
        extras.append(f"default: {default}")
    return argument_label(param), _with_extras(inspect.cleandoc(param.help or ""), extras)


def usage_pieces(command: click.Command, ctx: click.Context) -> list[str]:
    pieces: list[str] = []
    params = command.get_params(ctx)
    if any(isinstance(p, TyperOption) and not p.hidden for p in params):
        pieces.append("[OPTIONS]")
    for param in params:
        if isinstance(param, TyperArgument) and not param.hidden:
            label = argument_label(param)
            pieces.append(label if param.required else f"[{label}]")
    if isinstance(command, TyperGroup):
        pieces.append(command.subcommand_metavar)
    return pieces


def format_usage(
    command: click.Command, ctx: click.Context, formatter: click.HelpFormatter
) -> None:
    formatter.write_usage(ctx.command_path, " ".join(usage_pieces(command, ctx)))


def format_sections(
    command: click.Command, ctx: click.Context, formatter: click.HelpFormatter
) -> None:
    """The Arguments, Options and (for a group) Commands sections."""
    params = command.get_params(ctx)
    arguments = [r for p in params if (r := argument_record(p, ctx)) is not None]
    options = [r for p in params if (r := option_record(p, ctx)) is not None]
    if arguments:
        with formatter.section("Arguments"):
            formatter.write_dl(arguments)
    if options:
        with formatter.section("Options"):
            formatter.write_dl(options)
    if isinstance(command, TyperGroup):
        rows: list[tuple[str, str]] = []
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                rows.append((name, sub.get_short_help_str(limit=200)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def format_help(command: click.Command, ctx: click.Context, formatter: click.HelpFormatter) -> None:
    """A sub-command's whole help page."""
    format_usage(command, ctx, formatter)
    command.format_help_text(ctx, formatter)
    format_sections(command, ctx, formatter)
    command.format_epilog(ctx, formatter)
    formatter.write_paragraph()
    formatter.write_text(GLOBAL_NOTE)
