"""The task-command frame: the options every task command shares, declared once.

A plugin's command declares only its own task parameters and returns a :class:`TaskPlan`: the
task client class, the form fields, and how to print one result. The frame adds the inputs
(files, folders, ``-``), ``--output``, ``--json``/``--jsonl``, ``--watch``, ``--jobs``,
``--timeout``, ``--queue-timeout``, ``--priority``, ``--include``/``--exclude``, ``--null``,
``--force`` and ``--no-wait``, and runs the batch (:mod:`cl_client.batch`)::

    app = typer.Typer(help="Content hashes of media files.", no_args_is_help=True)

    @task_command(app, "compute", default_timeout=30)
    def compute(
        algorithm: Annotated[str, typer.Option("--algorithm", "-a", help="…")] = "sha512",
    ) -> TaskPlan[HashResult]:
        \"\"\"Hash each input on the server and print the hash.\"\"\"
        from cl_plugin_hash.client import HashClient
        from cl_plugin_hash.render import render_hash

        return TaskPlan(HashClient, HashClient.build_form(algorithm=algorithm), render_hash)

The function runs when the command runs, before anything is sent: a
:class:`~cl_client.errors.ClError` it raises (a bad option value) is one line and exit 2. Import
the client and renderer inside it, so ``cl <plugin> --help`` stays fast: this module imports only
Typer and the standard library.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Generic, TypeVar

import typer

if TYPE_CHECKING:
    from cl_client.cli.output import Output
    from cl_client.models import FormValue
    from cl_client.tasks import TaskClient, TaskResult

R = TypeVar("R", bound="TaskResult")
F = TypeVar("F", bound=Callable[..., object])

#: Jobs in flight at once by default: enough to keep a small server's workers busy.
DEFAULT_JOBS = 4
DEFAULT_PRIORITY = 5
#: Seconds a job may wait in the server's queue before it is given up (by default).
DEFAULT_QUEUE_TIMEOUT = 600.0
MAX_JOBS = 64

_PANEL = "Batch options"


@dataclass(frozen=True)
class TaskPlan(Generic[R]):
    """What a task command runs: ``client`` is the task client class, ``form`` holds the task's
    form fields, ``render`` prints one result (and must return None)."""

    client: type[TaskClient[R]]
    form: Mapping[str, FormValue]
    render: Callable[[R, Output], None]


@dataclass(frozen=True)
class TaskOptions:
    """The values of the shared options of one task command."""

    paths: list[str]
    output: str | None
    watch: bool
    json: bool
    jsonl: bool
    jobs: int
    timeout: float
    queue_timeout: float
    priority: int
    include: list[str]
    exclude: list[str]
    null: bool
    force: bool
    no_wait: bool


def _mark_json(ctx: typer.Context, value: bool) -> bool:
    from cl_client.cli.context import JSON_KEY

    if value:
        ctx.meta[JSON_KEY] = True
    return value


def _shared(default_timeout: float) -> list[inspect.Parameter]:
    """The shared options, as parameters of the generated command (the one place they are
    declared)."""

    def opt(name: str, annotation: object, default: object) -> inspect.Parameter:
        return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                                 annotation=annotation)  # fmt: skip

    return [
        opt(
            "output",
            Annotated[
                str | None,
                typer.Option(
                    "--output",
                    "-o",
                    help=(
                        "Save the results: a FILE for one input; a FOLDER (an existing one, "
                        "or ending in /) mirroring each input's path; a template such as "
                        "'thumbs/{rel}.jpg' ({stem} {name} {ext} {parent} {rel} {job_id}); "
                        "- for stdout (one input)."
                    ),
                    metavar="PATH",
                    show_default=False,
                    rich_help_panel=_PANEL,
                ),
            ],
            None,
        ),
        opt(
            "watch",
            Annotated[
                bool,
                typer.Option(
                    "--watch",
                    help="Show each job's progress from the server's events (MQTT).",
                    rich_help_panel=_PANEL,
                ),
            ],
            False,
        ),
        opt(
            "json_output",
            Annotated[
                bool,
                typer.Option(
                    "--json",
                    help="Print a JSON array, one element per input as it finishes.",
                    callback=_mark_json,
                    rich_help_panel=_PANEL,
                ),
            ],
            False,
        ),
        opt(
            "jsonl",
            Annotated[
                bool,
                typer.Option(
                    "--jsonl",
                    help="Print one JSON object per line, per input as it finishes.",
                    rich_help_panel=_PANEL,
                ),
            ],
            False,
        ),
        opt(
            "jobs",
            Annotated[
                int,
                typer.Option(
                    "--jobs",
                    "-j",
                    help=f"Jobs in flight at once (default {DEFAULT_JOBS}).",
                    min=1,
                    max=MAX_JOBS,
                    metavar="N",
                    show_default=False,
                    rich_help_panel=_PANEL,
                ),
            ],
            DEFAULT_JOBS,
        ),
        opt(
            "timeout",
            Annotated[
                float,
                typer.Option(
                    "--timeout",
                    "-t",
                    help=(
                        "Seconds each job may take once it started processing "
                        f"(default {default_timeout:g})."
                    ),
                    min=0.001,
                    metavar="SECONDS",
                    show_default=False,
                    rich_help_panel=_PANEL,
                ),
            ],
            default_timeout,
        ),
        opt(
            "queue_timeout",
            Annotated[
                float,
                typer.Option(
                    "--queue-timeout",
                    help=(
                        "Seconds a job may wait in the server's queue to start "
                        f"(default {DEFAULT_QUEUE_TIMEOUT:g})."
                    ),
                    min=0.001,
                    metavar="SECONDS",
                    show_default=False,
                    rich_help_panel=_PANEL,
                ),
            ],
            DEFAULT_QUEUE_TIMEOUT,
        ),
        opt(
            "priority",
            Annotated[
                int,
                typer.Option(
                    "--priority",
                    help="Job priority 0-10 (stored by the server; not used for scheduling).",
                    min=0,
                    max=10,
                    metavar="N",
                    show_default=False,
                    rich_help_panel=_PANEL,
                ),
            ],
            DEFAULT_PRIORITY,
        ),
        opt(
            "include",
            Annotated[
                list[str] | None,
                typer.Option(
                    "--include",
                    help="Take only files matching this glob (e.g. '*.jpg'; repeatable).",
                    metavar="GLOB",
                    show_default=False,
                    rich_help_panel=_PANEL,
                ),
            ],
            None,
        ),
        opt(
            "exclude",
            Annotated[
                list[str] | None,
                typer.Option(
                    "--exclude",
                    help="Leave out files matching this glob (repeatable).",
                    metavar="GLOB",
                    show_default=False,
                    rich_help_panel=_PANEL,
                ),
            ],
            None,
        ),
        opt(
            "null",
            Annotated[
                bool,
                typer.Option(
                    "--null",
                    "-0",
                    help="Paths on stdin (-) end with NUL, as from `find -print0`.",
                    rich_help_panel=_PANEL,
                ),
            ],
            False,
        ),
        opt(
            "force",
            Annotated[
                bool,
                typer.Option(
                    "--force",
                    help="Submit every input again, even those an earlier run finished.",
                    rich_help_panel=_PANEL,
                ),
            ],
            False,
        ),
        opt(
            "no_wait",
            Annotated[
                bool,
                typer.Option(
                    "--no-wait",
                    help="Submit, record and print the job ids; do not wait for results.",
                    rich_help_panel=_PANEL,
                ),
            ],
            False,
        ),
    ]


def _paths_parameter() -> inspect.Parameter:
    return inspect.Parameter(
        "paths",
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        annotation=Annotated[
            list[str],
            typer.Argument(
                help=(
                    "Files or folders (walked recursively) to process, one job per file; "
                    "- reads paths from stdin."
                ),
                metavar="PATH",
                show_default=False,
            ),
        ],
    )


def _is_argument(param: inspect.Parameter) -> bool:
    """Whether ``param`` is declared ``Annotated[..., typer.Argument(...)]``."""
    from typer.models import ArgumentInfo

    metadata: tuple[object, ...] = getattr(param.annotation, "__metadata__", ())
    return any(isinstance(m, ArgumentInfo) for m in metadata)


def task_command(
    app: typer.Typer, name: str | None = None, *, default_timeout: float
) -> Callable[[F], F]:
    """Register the decorated plan function as the task command ``name`` of ``app`` (see the
    module docstring). ``default_timeout`` is the default of ``--timeout``."""

    def decorate(fn: F) -> F:
        # Only the parameters' annotations are evaluated: the return annotation may name a result
        # class imported for type checking only (the plugin imports it when the command runs).
        params_only = {k: v for k, v in fn.__annotations__.items() if k != "return"}
        hints = typing.get_type_hints(
            types.SimpleNamespace(__annotations__=params_only),
            globalns=getattr(fn, "__globals__", None),
            include_extras=True,
        )
        own: list[inspect.Parameter] = []
        for param in inspect.signature(fn).parameters.values():
            own.append(param.replace(annotation=hints.get(param.name, param.annotation)))
        shared = _shared(default_timeout)
        taken = {p.name for p in shared} | {"ctx", "paths"}
        for param in own:
            if param.name in taken:
                raise TypeError(
                    f"{fn.__qualname__}: parameter {param.name!r} is one of the shared task "
                    "options; the frame declares it"
                )
        own_names = [p.name for p in own]

        def command(ctx: typer.Context, **values: object) -> None:
            from cl_client.cli.runner import run_task_frame

            options = TaskOptions(
                paths=typing.cast("list[str]", values["paths"]),
                output=typing.cast("str | None", values["output"]),
                watch=bool(values["watch"]),
                json=bool(values["json_output"]),
                jsonl=bool(values["jsonl"]),
                jobs=typing.cast("int", values["jobs"]),
                timeout=typing.cast("float", values["timeout"]),
                queue_timeout=typing.cast("float", values["queue_timeout"]),
                priority=typing.cast("int", values["priority"]),
                include=typing.cast("list[str] | None", values["include"]) or [],
                exclude=typing.cast("list[str] | None", values["exclude"]) or [],
                null=bool(values["null"]),
                force=bool(values["force"]),
                no_wait=bool(values["no_wait"]),
            )
            own_values = {key: values[key] for key in own_names}
            run_task_frame(ctx, lambda: fn(**own_values), options)

        ctx_param = inspect.Parameter(
            "ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context
        )
        # The plan function's own arguments (``cl task run TYPE PATH…``) come before the inputs.
        leading = [p for p in own if _is_argument(p)]
        options = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own if p not in leading]
        positional = [
            p.replace(kind=inspect.Parameter.POSITIONAL_OR_KEYWORD)
            for p in [ctx_param, *leading, _paths_parameter()]
        ]
        params = [*positional, *options, *shared]
        # Typer reads the command's options from its signature and annotations.
        command.__signature__ = inspect.Signature(params)  # pyright: ignore[reportFunctionMemberAccess]
        command.__annotations__ = {p.name: p.annotation for p in params}
        command.__doc__ = fn.__doc__
        command.__name__ = fn.__name__
        command.__qualname__ = fn.__qualname__
        command.__module__ = fn.__module__
        app.command(name)(command)
        return fn

    return decorate


__all__ = [
    "DEFAULT_JOBS",
    "DEFAULT_PRIORITY",
    "DEFAULT_QUEUE_TIMEOUT",
    "TaskOptions",
    "TaskPlan",
    "task_command",
]
