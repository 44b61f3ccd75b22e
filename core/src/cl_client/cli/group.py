"""The root command group of ``cl``: lazy sub-commands and a fast help page.

Every sub-command, built-in or from a plugin, is declared as data (name, import path, one-line
help, panel) and stands in the group as a :class:`LazyCommand` placeholder. The placeholder
carries the short help, so listing commands (``cl --help``, shell completion) imports nothing; the
real Typer app is imported only when its command runs or shows its own help, because Click builds
the sub-context through :meth:`LazyCommand.make_context`, which hands over to the real command.

The root help is formatted with Click's plain formatter instead of Typer's Rich one: importing
``typer.rich_utils`` (Rich, markdown-it) would cost more than everything else ``cl --help`` does.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, NoReturn

import typer
from typer import _click as click
from typer.core import TyperCommand, TyperGroup

from cl_client.errors import EXIT_USAGE, PluginError

#: Options of the root command that take a value (to find where the command starts in argv).
ROOT_VALUE_OPTIONS: Final = frozenset(
    {
        "-p",
        "--profile",
        "--auth-url",
        "--compute-url",
        "--mqtt-url",
        "--username",
        "--password",
        "--install-completion",
        "--show-completion",
    }
)


@dataclass(frozen=True)
class CommandSpec:
    """A sub-command of ``cl``, declared without importing it."""

    name: str
    target: str  # "package.module:attr" — a typer.Typer, a click command or a function
    help: str
    panel: str
    group: bool = True  # False: a single command (``cl login``), not a group of them
    plugin: str | None = None  # None for built-in commands


class CommandLoadError(click.ClickException):
    """A sub-command's module could not be imported: one line, exit 2."""

    exit_code = EXIT_USAGE

    def show(self, file: object = None) -> None:
        sys.stderr.write(f"error: {self.message}\n")


def _build(spec: CommandSpec) -> click.Command:
    from cl_client.plugins import import_target

    obj = import_target(spec.target, plugin=spec.plugin or "cl")
    if isinstance(obj, typer.Typer):
        cmd = typer.main.get_group(obj) if spec.group else typer.main.get_command(obj)
    elif isinstance(obj, click.Command):
        cmd = obj
    elif callable(obj):
        single = typer.Typer(add_completion=False)
        single.command(name=spec.name, help=spec.help)(obj)
        cmd = typer.main.get_command(single)
    else:
        owner = f"plugin {spec.plugin!r}" if spec.plugin else "cl"
        raise PluginError(
            f"{owner}: {spec.target} is not a typer.Typer app (got {type(obj).__name__})"
        )
    cmd.name = spec.name
    if not cmd.help:
        cmd.help = spec.help
    if not cmd.short_help:
        cmd.short_help = spec.help
    return cmd


class LazyCommand(TyperCommand):
    """A placeholder that knows its name and help and loads the real command on first use."""

    def __init__(self, spec: CommandSpec) -> None:
        super().__init__(
            spec.name,
            help=spec.help,
            short_help=spec.help,
            add_help_option=False,
            rich_help_panel=spec.panel,
        )
        self.spec = spec
        self._real: click.Command | None = None

    def resolve(self) -> click.Command:
        """The real command (imported once). Raises CommandLoadError when it cannot be loaded."""
        if self._real is None:
            try:
                self._real = _build(self.spec)
            except PluginError as exc:
                raise CommandLoadError(exc.message) from exc
        return self._real

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: object,
    ) -> click.Context:
        # The sub-context belongs to the real command, so Click goes on with it from here.
        return self.resolve().make_context(info_name, args, parent=parent, **extra)  # pyright: ignore[reportArgumentType]

    def invoke(self, ctx: click.Context) -> object:
        return self.resolve().invoke(ctx)

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        return self.resolve().get_params(ctx)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self.resolve().format_help(ctx, formatter)


def _split_root_args(args: Sequence[str]) -> list[str]:
    """The arguments before the command name (the root's own options)."""
    out: list[str] = []
    skip = False
    for arg in args:
        if skip:
            out.append(arg)
            skip = False
            continue
        if not arg.startswith("-") or arg == "--":
            break
        out.append(arg)
        if arg in ROOT_VALUE_OPTIONS:
            skip = True
    return out


def _flag_given(root_args: Sequence[str], long: str, short: str) -> bool:
    for arg in root_args:
        if arg == long:
            return True
        if arg.startswith("-") and not arg.startswith("--") and short[1] in arg[1:]:
            return True
    return False


class RootGroup(TyperGroup):
    """``cl`` itself: built-in commands plus every plugin's, loaded lazily."""

    #: Built-in commands, filled in by the app module before the group is used.
    builtins: Sequence[CommandSpec] = ()
    #: Sections of the help page, in order (panels not listed come after, sorted).
    panel_order: Sequence[str] = ()
    #: Extra sections at the end of the help page: (title, [(term, text), ...]).
    help_sections: Sequence[tuple[str, Sequence[tuple[str, str]]]] = ()

    def __init__(self, **attrs: object) -> None:
        super().__init__(**attrs)  # pyright: ignore[reportArgumentType]
        self._loaded = False

    # -- loading --

    def load_commands(self, ctx: click.Context, args: Sequence[str] = ()) -> None:
        """Add the built-in and plugin placeholders; warn (on stderr) about broken plugins."""
        if self._loaded:
            return
        self._loaded = True
        for spec in self.builtins:
            self.commands[spec.name] = LazyCommand(spec)
        from cl_client.plugins import get_plugin_manager

        root_args = _split_root_args(args)
        verbose = _flag_given(root_args, "--verbose", "-v")
        quiet = _flag_given(root_args, "--quiet", "-q")
        no_color = "--no-color" in root_args
        try:
            pm = get_plugin_manager()
        except PluginError as exc:  # CL_STRICT_PLUGINS=1
            self._fatal(exc.message)
        registrations = pm.command_registrations(reserved=[s.name for s in self.builtins])
        for reg in registrations:
            self.commands[reg.name] = LazyCommand(
                CommandSpec(
                    name=reg.name,
                    target=reg.target,
                    help=reg.help,
                    panel=reg.panel,
                    plugin=reg.plugin,
                )
            )
        if ctx.resilient_parsing or quiet:
            return
        for state in pm.states():
            entry = state.entry
            who = f"plugin {entry.name!r} ({entry.distribution} {entry.version})"
            if state.errors and not state.blocked:
                _warn(
                    f"{who} failed to load: {'; '.join(state.errors)} — skip it with "
                    f"CL_DISABLE_PLUGINS={entry.name} or remove it with "
                    f"`pip uninstall {entry.distribution}`",
                    no_color=no_color,
                )
                if verbose and state.traceback:
                    sys.stderr.write(state.traceback)
            for conflict in state.conflicts:
                _warn(f"{who}: {conflict}", no_color=no_color)

    def _fatal(self, message: str) -> NoReturn:
        sys.stderr.write(f"error: {message}\n")
        sys.exit(EXIT_USAGE)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        self.load_commands(ctx, args)
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self.load_commands(ctx)
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self.load_commands(ctx)
        return super().get_command(ctx, cmd_name)

    # -- help --

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self.load_commands(ctx)
        self.format_usage(ctx, formatter)
        self.format_help_text(ctx, formatter)
        self.format_options(ctx, formatter)
        for title, rows in self.help_sections:
            with formatter.section(title):
                formatter.write_dl(list(rows))

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        panels: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            panel = getattr(param, "rich_help_panel", None) or "Options"
            panels.setdefault(str(panel), []).append(record)
        for title, rows in panels.items():
            with formatter.section(title):
                formatter.write_dl(rows)
        self.format_commands(ctx, formatter)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        panels: dict[str, list[tuple[str, str]]] = {}
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is None or cmd.hidden:
                continue
            panel = str(getattr(cmd, "rich_help_panel", None) or "Commands")
            panels.setdefault(panel, []).append((name, cmd.get_short_help_str(limit=200)))
        order = {name: i for i, name in enumerate(self.panel_order)}
        for title in sorted(panels, key=lambda p: (order.get(p, len(order)), p)):
            with formatter.section(title):
                formatter.write_dl(panels[title])


def _warn(message: str, *, no_color: bool = False) -> None:
    color = sys.stderr.isatty() and not no_color and not os.environ.get("NO_COLOR")
    label = typer.style("warning:", fg="yellow", bold=True) if color else "warning:"
    sys.stderr.write(f"{label} {message}\n")
