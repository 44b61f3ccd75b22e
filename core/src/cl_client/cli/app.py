"""The ``cl`` command: global options, built-in commands and every installed plugin's commands.

``cl --help``, ``cl <plugin> --help`` and ``cl --version`` import neither httpx, paho-mqtt, numpy
nor Pillow: sub-commands are placeholders until they run (see :mod:`cl_client.cli.group`), and this
module imports only Typer and the standard library.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated, Final, TextIO, cast

import typer
from typer.models import OptionInfo

from cl_client.cli.completion import complete_profile_names
from cl_client.cli.context import set_root_globals
from cl_client.cli.group import CommandSpec, RootGroup

CONNECTION: Final = "Connection options"
SETUP: Final = "Setup"
JOBS: Final = "Jobs"
ADMIN: Final = "Administration"
_CMDS: Final = "cl_client.cli.commands"

BUILTIN_COMMANDS: Final[tuple[CommandSpec, ...]] = (
    CommandSpec(
        "profile",
        f"{_CMDS}.profile:app",
        "Manage connection profiles: list, show, get, add, set, unset, use, remove.",
        SETUP,
    ),
    CommandSpec(
        "login",
        f"{_CMDS}.account:login",
        "Log in and keep a token for the profile.",
        SETUP,
        group=False,
    ),
    CommandSpec(
        "logout",
        f"{_CMDS}.account:logout",
        "Forget the profile's stored token.",
        SETUP,
        group=False,
    ),
    CommandSpec(
        "whoami",
        f"{_CMDS}.account:whoami",
        "Show the user, permissions, token and the server's guest mode.",
        SETUP,
        group=False,
    ),
    CommandSpec(
        "plugins",
        f"{_CMDS}.plugins:app",
        "List installed plugins and their load errors; install, upgrade and scaffold them.",
        SETUP,
    ),
    CommandSpec("job", f"{_CMDS}.jobs:job_app", "Get, wait for, delete and download jobs.", JOBS),
    CommandSpec(
        "download",
        f"{_CMDS}.jobs:download",
        "Download a file of a job (same as `cl job download`).",
        JOBS,
        group=False,
    ),
    CommandSpec(
        "capabilities",
        f"{_CMDS}.jobs:capabilities",
        "Show which tasks the server's workers run, and how many are idle.",
        JOBS,
        group=False,
    ),
    CommandSpec(
        "tasks",
        f"{_CMDS}.tasks:tasks",
        "List the server's task types, idle workers and the plugins covering them.",
        JOBS,
        group=False,
    ),
    CommandSpec(
        "task",
        f"{_CMDS}.tasks:task_app",
        "Run any task type the server offers, with -F key=value form fields.",
        JOBS,
    ),
    CommandSpec(
        "api",
        f"{_CMDS}.api:api",
        "Send an authenticated request to any endpoint and print the JSON answer.",
        JOBS,
        group=False,
    ),
    CommandSpec(
        "help",
        f"{_CMDS}.help:help_command",
        "Help on a command or a topic: environment, exit-codes.",
        SETUP,
        group=False,
    ),
    CommandSpec(
        "admin",
        f"{_CMDS}.admin:app",
        "Server administration: guest mode, storage, cleanup (admins).",
        ADMIN,
    ),
)

EXIT_CODES: Final = (
    ("0", "success"),
    ("1", "a job ended in error"),
    ("2", "usage error (bad option, missing file, bad config)"),
    ("3", "authentication or permission error"),
    ("4", "not found (job, file, user)"),
    ("5", "server or network error (unreachable, timeout, no worker)"),
    ("130", "interrupted (Ctrl-C); submitted jobs keep running on the server"),
    ("141", "standard output was closed early (e.g. `cl ... | head -1`); output stopped quietly"),
)

ENVIRONMENT: Final = (
    ("CL_PROFILE", "profile to use (like --profile)"),
    ("CL_AUTH_URL, CL_COMPUTE_URL, CL_MQTT_URL", "service URLs"),
    ("CL_USERNAME, CL_PASSWORD", "credentials (used by `cl login` and to log in again)"),
    ("CL_TOKEN", "a token to use instead of the stored one"),
    ("CL_NO_AUTH", "1 = the server needs no login"),
    ("CL_CONFIG_DIR, CL_STATE_DIR", "where profiles, tokens and the job journal are kept"),
    ("CL_RETRY_SECONDS", "how long a failing status or download request is retried (15)"),
    ("CL_NO_JOURNAL", "1 = keep no job journal (no resume, no `cl job list`)"),
    ("CL_DISABLE_PLUGINS", "comma-separated plugin names not to load"),
    ("CL_DISABLE_PLUGIN_AUTOLOAD", "1 = load no plugin"),
    ("CL_STRICT_PLUGINS", "1 = a plugin that fails to load is an error"),
    ("NO_COLOR", "no colours"),
)

RootGroup.builtins = BUILTIN_COMMANDS
RootGroup.panel_order = (SETUP, JOBS, ADMIN, "Plugins")
RootGroup.help_sections = (("Exit codes", EXIT_CODES), ("Environment", ENVIRONMENT))


def _print_version(value: bool) -> None:
    if not value:
        return
    from cl_client.plugins import discover_entry_points, distribution_version

    lines = [f"cl-client {distribution_version('cl-client') or 'unknown'}"]
    seen: set[str] = set()
    for ep in discover_entry_points():
        if ep.distribution in seen:
            continue
        seen.add(ep.distribution)
        lines.append(f"{ep.distribution} {ep.version}")
    sys.stdout.write("\n".join(lines) + "\n")
    raise typer.Exit()


def _connection_option(help: str, metavar: str) -> OptionInfo:
    """A ``--<name> VALUE`` option of the "Connection options" panel (no default shown)."""
    return cast(
        OptionInfo,
        typer.Option(help=help, metavar=metavar, rich_help_panel=CONNECTION, show_default=False),
    )


app = typer.Typer(
    name="cl",
    cls=RootGroup,
    help=(
        "Client for the CL media/ML compute server: run tasks on media files, follow jobs, "
        "manage profiles and logins. Each installed plugin adds a command group. Options other "
        "than --version work after the command name too (`cl hash compute x.jpg -v`)."
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"max_content_width": 100, "help_option_names": ["-h", "--help"]},
)


@app.callback()
def root(
    ctx: typer.Context,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            "-p",
            help="Profile to use [env CL_PROFILE].",
            metavar="NAME",
            show_default=False,
            autocompletion=complete_profile_names,
        ),
    ] = None,
    json_output: Annotated[
        bool,
        typer.Option("--json", help="Machine-readable output on stdout; messages stay on stderr."),
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="More detail; tracebacks on errors.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Only results and errors; no progress.")
    ] = False,
    no_color: Annotated[
        bool, typer.Option("--no-color", help="No colours (also NO_COLOR=1).")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Show the version of cl and of every plugin, and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
    auth_url: Annotated[
        str | None, _connection_option("Auth service URL [env CL_AUTH_URL].", "URL")
    ] = None,
    compute_url: Annotated[
        str | None, _connection_option("Compute service URL [env CL_COMPUTE_URL].", "URL")
    ] = None,
    mqtt_url: Annotated[
        str | None,
        _connection_option("MQTT broker URL, mqtt://host:port [env CL_MQTT_URL].", "URL"),
    ] = None,
    username: Annotated[
        str | None, _connection_option("User name [env CL_USERNAME].", "NAME")
    ] = None,
    password: Annotated[
        str | None,
        _connection_option(
            "Password. Other users can see command lines: prefer CL_PASSWORD or "
            "`cl login --password-stdin`.",
            "TEXT",
        ),
    ] = None,
    no_auth: Annotated[
        bool,
        typer.Option(
            "--no-auth",
            help="The server needs no login: send no token [env CL_NO_AUTH=1].",
            rich_help_panel=CONNECTION,
        ),
    ] = False,
    no_capability_check: Annotated[
        bool,
        typer.Option(
            "--no-capability-check",
            help="Submit even when no worker offers the task (the job then waits in the queue).",
            rich_help_panel=CONNECTION,
        ),
    ] = False,
) -> None:
    _show_config_warnings(no_color=bool(ctx.params.get("no_color")))
    set_root_globals(ctx, ctx.params)


class _ConfigWarnings:
    """Shows each ConfigWarning of one run once, as ``warning: …`` on stderr; other warnings
    keep Python's own display."""

    def __init__(self, fallback: Callable[..., None]) -> None:
        self.fallback = fallback
        self.no_color = False
        self.seen: set[str] = set()

    def __call__(
        self,
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        from cl_client.cli.output import Output
        from cl_client.errors import ConfigWarning

        if not issubclass(category, ConfigWarning):
            self.fallback(message, category, filename, lineno, file, line)
            return
        text = str(message)
        if text not in self.seen:
            self.seen.add(text)
            Output(no_color=self.no_color).warn(text)


def _show_config_warnings(*, no_color: bool) -> None:
    import warnings

    from cl_client.errors import ConfigWarning

    shower = warnings.showwarning
    if not isinstance(shower, _ConfigWarnings):
        shower = _ConfigWarnings(shower)
        warnings.showwarning = shower
    shower.no_color = no_color
    shower.seen.clear()  # a new run (tests run many in one process)
    # "always": the registry of "default" would hide a repeat in the next run of this process.
    warnings.simplefilter("always", ConfigWarning)


def main() -> None:
    """Entry point of the ``cl`` console script."""
    # httpx imports its own command line (Click, Rich, Pygments) whenever they are installed:
    # about a third of a command's start. `cl` never runs it; httpx falls back to a stub `main`.
    sys.modules.setdefault("httpx._main", None)  # pyright: ignore[reportArgumentType]
    app(prog_name="cl")
