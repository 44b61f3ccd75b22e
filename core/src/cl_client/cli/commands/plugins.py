"""``cl plugins``: what is installed, what each plugin adds, and what failed."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

import typer

from cl_client.cli import get_output, json_option
from cl_client.cli.runner import guarded

if TYPE_CHECKING:
    from cl_client.plugins import PluginInfo


def _status(info: PluginInfo) -> str:
    if info.error:
        return "error"
    if info.missing_targets:
        return "missing module"
    return "conflict" if info.conflicts else "ok"


def plugins(ctx: typer.Context, json_output: Annotated[bool, json_option()] = False) -> None:
    """List installed plugins: distribution, version, hooks, commands, task clients, errors."""
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
