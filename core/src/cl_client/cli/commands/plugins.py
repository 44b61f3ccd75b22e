"""``cl plugins``: what is installed, what each plugin adds, and what failed; installing,
removing, upgrading and scaffolding plugins."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cl_client.cli import get_output, json_option
from cl_client.cli.runner import guarded

if TYPE_CHECKING:
    from cl_client.cli.output import Output
    from cl_client.plugins import PluginInfo


def _status(info: PluginInfo) -> str:
    if info.error:
        return "error"
    if info.missing_targets:
        return "missing module"
    return "conflict" if info.conflicts else "ok"


app = typer.Typer(
    help="List installed plugins; install, uninstall, upgrade and scaffold them.",
    invoke_without_command=True,
    no_args_is_help=False,
)


@app.callback()
def plugins(ctx: typer.Context, json_output: Annotated[bool, json_option()] = False) -> None:
    """List installed plugins: distribution, version, hooks, commands, task clients, errors.

    The sub-commands install plugins into the environment cl runs from (with uv when it made
    that environment, else pip), refusing one made for another version of cl-client.
    """
    if ctx.invoked_subcommand is not None:
        return
    list_plugins(ctx)


def list_plugins(ctx: typer.Context) -> None:
    from cl_client.cli.app import BUILTIN_COMMANDS
    from cl_client.plugins import plugin_infos

    out = get_output(ctx)
    with guarded(out):
        infos = plugin_infos(reserved=[c.name for c in BUILTIN_COMMANDS])
    if out.json_mode:
        docs: list[dict[str, object]] = []
        for info in infos:
            doc = asdict(info)
            if not out.verbose:
                doc.pop("traceback", None)
            docs.append(doc)
        out.json(docs)
        return
    if not infos:
        out.info("no plugins installed")
        return
    out.table(
        ["plugin", "distribution", "version", "commands", "task clients", "hooks", "status"],
        [
            [
                i.name,
                i.distribution,
                i.version,
                i.commands,
                i.task_clients,
                [h.removeprefix("cl_") for h in i.hooks],
                _status(i),
            ]
            for i in infos
        ],
    )
    for info in infos:
        for target in info.missing_targets:
            out.warn(
                f"{info.name}: {target} cannot be found (no such module) — its command fails; "
                f"reinstall {info.distribution}"
            )
        if info.error:
            out.warn(f"{info.name}: {info.error}")
            if out.verbose and info.traceback:
                out.stderr.write(info.traceback)
        for conflict in info.conflicts:
            out.warn(f"{info.name}: {conflict}")


# --- installing -------------------------------------------------------------------------------


def _plugin_distributions() -> dict[str, str]:
    """Plugin name and distribution name (both lower case) → distribution, of what is installed."""
    from cl_client.plugins import discover_entry_points

    out: dict[str, str] = {}
    for entry in discover_entry_points():
        out[entry.name.lower()] = entry.distribution
        out[entry.distribution.lower()] = entry.distribution
    return out


TargetArg = Annotated[
    str,
    typer.Argument(
        help="A package name on the index (with a version range if you like), a folder or "
        "wheel, or a URL (git+https://…).",
        metavar="NAME|PATH|URL",
        show_default=False,
    ),
]


@app.command()
def install(ctx: typer.Context, target: TargetArg) -> None:
    """Install a plugin into the environment cl runs from, after checking that its cl-client
    requirement admits this cl."""
    from cl_client.cli import installer

    out = get_output(ctx)
    with guarded(out):
        tool = installer.find_installer()
        spec = installer.spec_of(target)
        core = installer.core_version()
        out.info(f"checking {target} ...")
        info = installer.inspect_package(tool, spec)
        installer.check_compatible(info, core)
        out.info(
            f"installing {info.name} {info.version} with {tool.tool} into {installer.environment()}"
        )
        installer.install(tool, spec)
    _report_installed(out, info.name)


@app.command()
def uninstall(
    ctx: typer.Context,
    name: Annotated[
        str,
        typer.Argument(help="The plugin or its distribution.", metavar="NAME", show_default=False),
    ],
) -> None:
    """Remove an installed plugin from the environment cl runs from."""
    from cl_client.cli import installer
    from cl_client.errors import InvalidInputError

    out = get_output(ctx)
    with guarded(out):
        distribution = _plugin_distributions().get(name.lower())
        if distribution is None:
            raise InvalidInputError(f"no installed plugin is called {name!r} (see `cl plugins`)")
        if distribution.lower() == installer.CORE:
            raise InvalidInputError(f"{installer.CORE} is cl itself, not a plugin")
        installer.uninstall(installer.find_installer(), distribution)
    out.success(f"removed {distribution}")


@app.command()
def upgrade(
    ctx: typer.Context,
    name: Annotated[
        str | None,
        typer.Argument(
            help="The plugin or its distribution (default: every installed plugin).",
            metavar="[NAME]",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Upgrade plugins to their newest versions that admit this cl (cl-client stays as it is)."""
    from cl_client.cli import installer
    from cl_client.errors import InvalidInputError

    out = get_output(ctx)
    with guarded(out):
        known = _plugin_distributions()
        if name is None:
            names = sorted(set(known.values()))
        else:
            found = known.get(name.lower())
            if found is None:
                raise InvalidInputError(
                    f"no installed plugin is called {name!r} (see `cl plugins`)"
                )
            names = [found]
        tool = installer.find_installer()
        for distribution in names:
            installer.install(tool, distribution, upgrade=True)
            out.success(f"upgraded {distribution}")


def _report_installed(out: Output, distribution: str) -> None:
    from cl_client.plugins import discover_entry_points

    commands = [e.name for e in discover_entry_points() if e.distribution == distribution]
    out.success(
        f"installed {distribution}"
        + (f" (plugin {', '.join(commands)})" if commands else "")
        + "; see `cl plugins`"
    )


# --- scaffolding ------------------------------------------------------------------------------


@app.command()
def new(
    ctx: typer.Context,
    name: Annotated[
        str,
        typer.Argument(
            help="The plugin's command: lower-case words joined by dashes (e.g. word-count); "
            "the package is cl-plugin-NAME.",
            metavar="NAME",
            show_default=False,
        ),
    ],
    task: Annotated[
        str | None,
        typer.Option(
            "--task",
            help="The task type its command submits (default: NAME with - as _). A type the "
            "protocol does not define gets an executor for the local server as well.",
            metavar="TYPE",
            show_default=False,
        ),
    ] = None,
    folder: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            help="The folder to create (default: ./cl-plugin-NAME); it must not exist.",
            metavar="PATH",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write a new plugin package: pyproject.toml with the entry point, the hooks, a typed task
    client, a command on the task-command frame, a README and tests that use the local server's
    pytest fixtures."""
    from cl_client.cli import installer, scaffold
    from cl_client.cli.app import BUILTIN_COMMANDS

    out = get_output(ctx)
    with guarded(out):
        plan = scaffold.plan(name, task, folder, reserved={c.name for c in BUILTIN_COMMANDS})
        root = scaffold.clone_root()
        written = scaffold.write(plan, installer.core_version(), root)
    if out.json_mode:
        out.json(
            {
                "distribution": plan.distribution,
                "folder": str(plan.folder),
                "task_type": plan.task,
                "executor": plan.own_task,
                "files": [path.as_posix() for path in written],
            }
        )
        return
    out.success(f"created {plan.distribution} in {plan.folder} (task type {plan.task})")
    if root is None:
        out.warn(
            "cl-client was not installed from a clone of cl: pyproject.toml takes it and "
            "cl-local-server from ../cl; fix [tool.uv.sources] if your clone is elsewhere"
        )
    out.info(f"next: cd {plan.folder} && uv sync --group test && uv run pytest")
