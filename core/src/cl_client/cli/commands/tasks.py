"""``cl tasks`` (what the server runs, and which plugin covers it) and ``cl task run`` (any task
type, with form fields given on the command line, on the shared task frame)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cl_client.cli import TaskPlan, get_output, json_option, run_async, task_command
from cl_client.cli.fields import FIELD_HELP, RAW_FIELD_HELP

if TYPE_CHECKING:
    from cl_client.cli.output import Output
    from cl_client.client import Client
    from cl_client.models import Capabilities
    from cl_client.plugins import PluginInfo
    from cl_client.tasks import GenericResult

task_app = typer.Typer(
    help="Run any task type the server offers, with form fields given as -F key=value.",
    no_args_is_help=True,
)


@task_command(task_app, "run", default_timeout=600)
def run(
    task_type: Annotated[
        str,
        typer.Argument(
            help="The task type, as `cl tasks` lists it (e.g. hash).",
            metavar="TYPE",
            show_default=False,
        ),
    ],
    field: Annotated[
        list[str] | None,
        typer.Option("--field", "-F", help=FIELD_HELP, metavar="KEY=VALUE", show_default=False),
    ] = None,
    raw_field: Annotated[
        list[str] | None,
        typer.Option("--raw-field", help=RAW_FIELD_HELP, metavar="KEY=VALUE", show_default=False),
    ] = None,
) -> TaskPlan[GenericResult]:
    """Submit each input as a job of task TYPE with the given form fields, and show the job's
    output.

    Values are sent as strings; the server checks them (an unknown value is refused with the
    field's name). With --output, the job's main output (params.output_path) is saved.
    """
    from cl_client.cli.fields import parse_fields
    from cl_client.tasks import GenericTaskClient

    form = parse_fields(field or [], raw_field or [])
    return TaskPlan(GenericTaskClient.for_task(task_type), form, render_generic)


def render_generic(result: GenericResult, output: Output) -> None:
    """The job's status and task output, then its JSON output file's top-level values."""
    job = result.job
    values: dict[str, object] = {"status": job.status, **(job.task_output or {})}
    if result.output is not None:
        values.update(result.output)
    elif job.output_path:
        values["output"] = job.output_path
    pairs: list[tuple[str, object]] = list(values.items())
    pairs.extend(("saved", str(path)) for path in result.downloaded)
    output.key_values(pairs)


# --- cl tasks --------------------------------------------------------------------------------


def _covering(infos: list[PluginInfo]) -> dict[str, PluginInfo]:
    """Task type → the first plugin (in load order) with a client for it."""
    out: dict[str, PluginInfo] = {}
    for info in infos:
        if info.error is None:
            for task_type in info.task_clients:
                out.setdefault(task_type, info)
    return out


def tasks(ctx: typer.Context, json_output: Annotated[bool, json_option()] = False) -> None:
    """List the task types the server offers, with idle workers and the installed plugin that
    covers each; `cl task run TYPE` runs those no plugin covers."""
    from cl_client.cli.app import BUILTIN_COMMANDS
    from cl_client.cli.runner import guarded
    from cl_client.plugins import plugin_infos

    out = get_output(ctx)
    with guarded(out):
        covering = _covering(plugin_infos(reserved=[c.name for c in BUILTIN_COMMANDS]))

    async def go(client: Client) -> Capabilities:
        return await client.compute.capabilities()

    caps = run_async(ctx, go)
    rows: list[dict[str, object]] = []
    for task_type in sorted(set(caps.capabilities) | set(covering)):
        info = covering.get(task_type)
        rows.append(
            {
                "task_type": task_type,
                "offered": task_type in caps.capabilities,
                "idle": caps.capabilities.get(task_type),
                "plugin": info.name if info else None,
                "distribution": info.distribution if info else None,
                "commands": list(info.commands) if info else [],
            }
        )
    if out.json_mode:
        out.json(rows)
        return
    if not rows:
        out.info(f"the server offers no task ({caps.num_workers} worker(s) known to it)")
        return
    out.table(
        ["task", "idle", "plugin", "command"],
        [
            [
                row["task_type"],
                row["idle"] if row["offered"] else "not offered",
                row["plugin"] or "none",
                (
                    ", ".join(f"cl {c}" for c in info.commands)
                    if (info := covering.get(str(row["task_type"])))
                    else f"cl task run {row['task_type']}"
                ),
            ]
            for row in rows
        ],
        title=f"{caps.num_workers} worker(s)",
    )
