"""The root command group of ``cl``: lazy sub-commands, global options anywhere, one help style.

Every sub-command, built-in or from a plugin, is declared as data (name, import path, one-line
help, panel) and stands in the group as a :class:`LazyCommand` placeholder. The placeholder
carries the short help, so listing commands (``cl --help``, shell completion) imports nothing; the
real Typer app is imported only when its command runs or shows its own help, because Click builds
the sub-context through :meth:`LazyCommand.make_context`, which hands over to the real command.

When a real command is loaded, :func:`adapt` goes over its whole tree once:

- every page gets the plain help of :mod:`cl_client.cli.help` (Typer's Rich renderer, and so
  Rich and markdown-it, are never imported);
- values are read by :mod:`cl_client.cli.params` (Typer's pydantic conversion is not imported);
- the root's global options (``-p``, ``--json``, ``-v``, ``-q``, the connection options) are
  accepted on every command, after its name too, unless the command has an option of that name;
- choice options and the built-in commands' profile and job arguments complete in the shell.

Usage errors, cancelled prompts and Ctrl-C are reported by :meth:`RootGroup.main` as one
``error:`` line (exit 2, 130 and 130).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, NoReturn

import typer
from typer import _click as click
from typer._click import exceptions as click_exceptions
from typer._click.core import ParameterSource
from typer.core import TyperCommand, TyperGroup, TyperOption

from cl_client.cli import help as help_pages
from cl_client.cli.completion import (
    complete_job_ids,
    complete_profile_keys,
    complete_profile_names,
)
from cl_client.cli.context import set_global
from cl_client.cli.params import metavar_choices, use_plain_values
from cl_client.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, PluginError

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

#: Root parameters that are not global options of every command (they act on ``cl`` itself).
ROOT_ONLY: Final = frozenset({"version", "install_completion", "show_completion"})

#: Arguments of the built-in commands that complete in the shell: (command, parameter) → values.
BUILTIN_COMPLETIONS: Final[Mapping[tuple[str, str], Callable[[str], list[str]]]] = {
    ("profile", "name"): complete_profile_names,
    ("profile", "key"): complete_profile_keys,
    ("job", "job_id"): complete_job_ids,
    ("job", "job_ids"): complete_job_ids,
    ("download", "job_id"): complete_job_ids,
}


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


def _plain_help_option(option: TyperOption | None) -> TyperOption | None:
    # Click makes the help option on demand; its value needs no pydantic either.
    if option is not None:
        use_plain_values(option)
    return option


class PlainCommand(TyperCommand):
    """A Typer command with the plain help page of :mod:`cl_client.cli.help`."""

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        help_pages.format_help(self, ctx, formatter)

    def get_help_option(self, ctx: click.Context) -> TyperOption | None:
        return _plain_help_option(super().get_help_option(ctx))


class PlainGroup(TyperGroup):
    """A Typer group with the plain help page of :mod:`cl_client.cli.help`."""

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        help_pages.format_help(self, ctx, formatter)

    def get_help_option(self, ctx: click.Context) -> TyperOption | None:
        return _plain_help_option(super().get_help_option(ctx))


# --- adapting a loaded command tree --------------------------------------------------------------


def _on_global(ctx: click.Context, param: click.Parameter, value: object) -> None:
    if ctx.get_parameter_source(param.name) is ParameterSource.COMMANDLINE:
        set_global(ctx, param.name, value)


def anywhere_copy(root_param: TyperOption, taken: set[str]) -> TyperOption | None:
    """A hidden copy of a root option for a sub-command, with the names it does not use itself.
    Its value goes to the invocation's global options, not to the command's function."""
    opts = [o for o in root_param.opts if o not in taken]
    secondary = [o for o in root_param.secondary_opts if o not in taken]
    if not opts:
        return None
    decls = [root_param.name, *opts[: len(opts) - len(secondary)]]
    decls += [
        f"{o}/{s}" for o, s in zip(opts[len(opts) - len(secondary) :], secondary, strict=True)
    ]
    copy = TyperOption(
        param_decls=decls,
        type_descriptor=root_param.type_descriptor,
        is_flag=root_param.is_flag,
        default=None,
        expose_value=False,
        hidden=True,
        metavar=root_param.metavar,
        help=root_param.help,
        callback=_on_global,
    )
    copy._custom_shell_complete = root_param._custom_shell_complete  # pyright: ignore[reportPrivateUsage]
    use_plain_values(copy)
    return copy


def _completion(values: Callable[[str], list[str]]) -> Callable[..., list[str]]:
    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
        return values(incomplete)

    return complete


def _complete_listed(choices: list[str]) -> Callable[..., list[str]]:
    return _completion(lambda incomplete: [c for c in choices if c.startswith(incomplete)])


def adapt(
    cmd: click.Command,
    anywhere: Sequence[TyperOption] = (),
    *,
    completions: Mapping[str, Callable[[str], list[str]]] | None = None,
) -> click.Command:
    """Give ``cmd`` and every command under it the plain help, our value checks, the global
    options and completions (see the module docstring). Returns ``cmd``."""
    # Typer builds its own classes; ours differ only in their help page and hold no more state.
    if type(cmd) is TyperCommand:
        cmd.__class__ = PlainCommand
    elif type(cmd) is TyperGroup:
        cmd.__class__ = PlainGroup
    taken = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}
    for param in cmd.params:
        use_plain_values(param)
        if param._custom_shell_complete is None:  # pyright: ignore[reportPrivateUsage]
            values = (completions or {}).get(param.name)
            listed = metavar_choices(param) if isinstance(param, TyperOption) else None
            if values is not None:
                param._custom_shell_complete = _completion(values)  # pyright: ignore[reportPrivateUsage]
            elif listed is not None:
                param._custom_shell_complete = _complete_listed(listed)  # pyright: ignore[reportPrivateUsage]
    for root_param in anywhere:
        copy = anywhere_copy(root_param, taken)
        if copy is not None:
            cmd.params.append(copy)
    if isinstance(cmd, TyperGroup):
        for sub in cmd.commands.values():
            adapt(sub, anywhere, completions=completions)
    return cmd


def _build(spec: CommandSpec, anywhere: Sequence[TyperOption]) -> click.Command:
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
    completions: dict[str, Callable[[str], list[str]]] = {}
    if spec.plugin is None:
        completions = {p: f for (c, p), f in BUILTIN_COMPLETIONS.items() if c == spec.name}
    return adapt(cmd, anywhere, completions=completions)


class LazyCommand(TyperCommand):
    """A placeholder that knows its name and help and loads the real command on first use."""

    def __init__(self, spec: CommandSpec, anywhere: Sequence[TyperOption] = ()) -> None:
        super().__init__(
            spec.name,
            help=spec.help,
            short_help=spec.help,
            add_help_option=False,
            rich_help_panel=spec.panel,
        )
        self.spec = spec
        self.anywhere = anywhere
        self._real: click.Command | None = None

    def resolve(self) -> click.Command:
        """The real command (imported once). Raises CommandLoadError when it cannot be loaded."""
        if self._real is None:
            try:
                self._real = _build(self.spec, self.anywhere)
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


def _command_name(args: Sequence[str]) -> str | None:
    """The name of the command on the line (``cl -p x plugins`` → ``plugins``)."""
    rest = list(args)[len(_split_root_args(args)) :]
    return rest[0] if rest and rest[0] != "--" else None


def _flag_given(args: Sequence[str], long: str, short: str) -> bool:
    """Whether a flag is on the line, before or after the command (up to ``--``)."""
    for arg in args:
        if arg == "--":
            return False
        if arg == long:
            return True
        if arg.startswith("-") and not arg.startswith("--") and short[1] in arg[1:]:
            return True
    return False


def _color(stream: object, no_color: bool) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        tty = bool(isatty()) if callable(isatty) else False
    except ValueError:
        tty = False
    return tty and not no_color and not os.environ.get("NO_COLOR")


def error_line(message: str, *, no_color: bool = False) -> None:
    """``error: message`` on stderr, the way every ``cl`` error is shown."""
    color = _color(sys.stderr, no_color)
    label = typer.style("error:", fg="red", bold=True) if color else "error:"
    sys.stderr.write(f"{label} {message}\n")
    sys.stderr.flush()


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
        for param in self.params:
            use_plain_values(param)
        #: The root options every sub-command accepts too.
        self.anywhere: list[TyperOption] = [
            p for p in self.params if isinstance(p, TyperOption) and p.name not in ROOT_ONLY
        ]

    # -- loading --

    def load_commands(self, ctx: click.Context, args: Sequence[str] = ()) -> None:
        """Add the built-in and plugin placeholders; warn (on stderr) about broken plugins."""
        if self._loaded:
            return
        self._loaded = True
        for spec in self.builtins:
            self.commands[spec.name] = LazyCommand(spec, self.anywhere)
        from cl_client.plugins import get_plugin_manager

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
                ),
                self.anywhere,
            )
        # `cl plugins` reports load errors itself, in its table.
        if ctx.resilient_parsing or _command_name(args) == "plugins":
            return
        if _flag_given(args, "--quiet", "-q"):
            return
        verbose = _flag_given(args, "--verbose", "-v")
        no_color = "--no-color" in args
        from cl_client.plugins import uninstall_hint

        for state in pm.states():
            entry = state.entry
            who = f"plugin {entry.name!r} ({entry.distribution} {entry.version})"
            if state.errors and not state.blocked:
                _warn(
                    f"{who} failed to load: {'; '.join(state.errors)} — skip it with "
                    f"CL_DISABLE_PLUGINS={entry.name} or remove it with "
                    f"{uninstall_hint(entry)}",
                    no_color=no_color,
                )
                if verbose and state.traceback:
                    sys.stderr.write(state.traceback)
            for conflict in state.conflicts:
                _warn(f"{who}: {conflict}", no_color=no_color)

    def _fatal(self, message: str) -> NoReturn:
        error_line(message)
        sys.exit(EXIT_USAGE)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        self.load_commands(ctx, args)
        # Typer adds the completion options after __init__
        for param in self.params:
            use_plain_values(param)
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self.load_commands(ctx)
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self.load_commands(ctx)
        return super().get_command(ctx, cmd_name)

    def get_help_option(self, ctx: click.Context) -> TyperOption | None:
        return _plain_help_option(super().get_help_option(ctx))

    # -- running: every error as one line --

    def main(  # pyright: ignore[reportIncompatibleMethodOverride]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: object,
    ) -> object:
        argv = list(sys.argv[1:] if args is None else args)
        try:
            result = super().main(
                args=argv,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
        except (click.ClickException, typer.Abort):
            if not standalone_mode:
                raise
            code = self._report(sys.exc_info()[1], no_color="--no-color" in argv)
        else:
            if not standalone_mode:
                return result
            code = result if isinstance(result, int) else EXIT_OK
        sys.exit(code)

    def _report(self, exc: BaseException | None, *, no_color: bool) -> int:
        """Show a usage error, a cancelled prompt or a failed load as one line; its exit code."""
        from cl_client.cli.params import usage_error_text

        if isinstance(exc, click_exceptions.NoArgsIsHelpError):
            # `cl` or `cl GROUP` alone: the help page, as asked for (gh does the same).
            typer.echo(exc.ctx.get_help())
            return EXIT_OK
        if isinstance(exc, typer.Abort):
            error_line("cancelled", no_color=no_color)
            return EXIT_INTERRUPTED
        if isinstance(exc, click_exceptions.UsageError):
            text = usage_error_text(exc)
            if exc.ctx is not None:
                text += f" (see `{exc.ctx.command_path} --help`)"
            error_line(text, no_color=no_color)
            return exc.exit_code
        if isinstance(exc, click.ClickException):
            error_line(usage_error_text(exc), no_color=no_color)
            return exc.exit_code
        raise AssertionError(f"not a usage error: {exc!r}")  # pragma: no cover

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            # Ctrl-C outside a command's own handling (at a prompt, while loading a plugin)
            error_line("interrupted")
            raise typer.Exit(EXIT_INTERRUPTED) from None

    # -- help --

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self.load_commands(ctx)
        help_pages.format_usage(self, ctx, formatter)
        self.format_help_text(ctx, formatter)
        self.format_options(ctx, formatter)
        for title, rows in self.help_sections:
            with formatter.section(title):
                formatter.write_dl(list(rows))

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        panels: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = help_pages.option_record(param, ctx)
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
    label = (
        typer.style("warning:", fg="yellow", bold=True)
        if _color(sys.stderr, no_color)
        else "warning:"
    )
    sys.stderr.write(f"{label} {message}\n")
