"""``cl job ...``, ``cl download`` and ``cl capabilities``."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cl_client.cli import get_output, json_option, run_async, watch_option
from cl_client.cli.output import Output

if TYPE_CHECKING:
    from cl_client.client import Client
    from cl_client.models import Capabilities, Job, WorkerCapability
    from cl_client.tasks import TaskClient, TaskResult

job_app = typer.Typer(help="List, get, wait for, delete and download jobs.", no_args_is_help=True)


JobIdArg = Annotated[
    str,
    typer.Argument(help="The job id (a UUID).", metavar="JOB_ID"),
]
JobIdsArg = Annotated[
    list[str],
    typer.Argument(help="One or more job ids.", metavar="JOB_ID..."),
]


def _stamp(ms: object) -> str | None:
    if not isinstance(ms, int | float) or isinstance(ms, bool):
        return None
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms / 1000))


def show_job(out: Output, job: Job) -> None:
    """A job record as JSON (the server's record) or as a key/value list."""
    if out.json_mode:
        out.json(job.to_dict())
        return
    pairs: list[tuple[str, object]] = [
        ("job", job.job_id),
        ("task", job.task_type),
        ("status", job.status),
        ("progress", f"{job.progress:g}%"),
    ]
    if job.error_message:
        pairs.append(("error", job.error_message))
    pairs += [
        ("priority", job.priority),
        ("created", _stamp(job.created_at)),
        ("started", _stamp(job.started_at)),
        ("completed", _stamp(job.completed_at)),
        ("output path", job.output_path),
        ("params", json.dumps(job.params, ensure_ascii=False)),
        (
            "task output",
            json.dumps(job.task_output, ensure_ascii=False)
            if job.task_output is not None
            else None,
        ),
    ]
    out.key_values(pairs)


@job_app.command("get")
def get(
    ctx: typer.Context, job_id: JobIdArg, json_output: Annotated[bool, json_option()] = False
) -> None:
    """Show a job's record."""
    out = get_output(ctx)

    async def go(client: Client) -> Job:
        return await client.compute.get_job(job_id)

    show_job(out, run_async(ctx, go))


def _task_client(task_type: str) -> type[TaskClient[TaskResult]] | None:
    """The installed plugin's client for ``task_type``, or None (then only the main output is
    known)."""
    from cl_client.errors import PluginError
    from cl_client.plugins import task_client

    try:
        return task_client(task_type)
    except PluginError:
        return None


async def result_files_of(client: Client, job: Job) -> list[str]:
    """The result files of a completed job, as its task's client finds them."""
    if job.status != "completed":
        from cl_client.errors import InvalidInputError

        raise InvalidInputError(
            f"job {job.job_id} is {job.status}: only a completed job has result files"
        )
    klass = _task_client(job.task_type)
    if klass is None:
        return [job.output_path] if job.output_path else []
    return await klass(client.compute).result_files(job)


@job_app.command("wait")
def wait(
    ctx: typer.Context,
    job_ids: JobIdsArg,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            "-t",
            help="Give up on a job after it ran this many seconds (default: no limit).",
            min=0.001,
            show_default=False,
            metavar="SECONDS",
        ),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            help=(
                "Save each job's results as its task command would: a FILE or FOLDER for one "
                "job, a FOLDER (one entry per job id) for several."
            ),
            metavar="PATH",
            show_default=False,
        ),
    ] = None,
    watch: Annotated[bool, watch_option()] = False,
    json_output: Annotated[bool, json_option()] = False,
) -> None:
    """Wait for jobs to finish and show each final record (exit 1 if one ended in error)."""
    import asyncio
    from pathlib import PurePosixPath

    from cl_client.batch import BatchItem, Outcome
    from cl_client.cli.destinations import parse_output
    from cl_client.cli.progress import BatchDisplay
    from cl_client.errors import EXIT_JOB_FAILED, ClError, InvalidInputError

    out = get_output(ctx)
    several = len(job_ids) > 1
    worst = 0
    records: list[dict[str, object]] = []

    async def one(client: Client, job_id: str, display: BatchDisplay) -> None:
        nonlocal worst
        item = BatchItem(Path(job_id), PurePosixPath(job_id))
        display.submitted(item, job_id)
        try:
            job = await client.compute.wait(
                job_id,
                timeout=timeout,
                queue_timeout=None,
                on_progress=lambda p: display.progress(item, p),
            )
            saved: list[Path] = []
            if output is not None and job.status == "completed":
                klass = _task_client(job.task_type)
                if klass is None:
                    raise InvalidInputError(
                        f"no installed plugin handles {job.task_type!r} results; use "
                        f"`cl job download {job_id} --all DEST`"
                    )
                dest = parse_output(output, single_input=not several, multi_file=klass.multi_file)
                if dest is not None:
                    result = await klass(client.compute).collect(job, dest.path_for(item, job))
                    saved = result.downloaded
        except ClError as exc:
            display.finished(Outcome(item=item, state="failed", job_id=job_id, error=exc))
            worst = max(worst, exc.exit_code)
            out.error(exc.message)
            return
        display.finished(Outcome(item=item, state="completed", job_id=job_id, job=job))
        record = job.to_dict()
        if saved:
            record["downloaded"] = [str(p) for p in saved]
        records.append(record)
        if not out.json_mode:
            if several:
                out.heading(f"job {job_id}")
            show_job(out, job)
            for path in saved:
                out.info(f"saved {path}")
        if job.failed:
            worst = max(worst, EXIT_JOB_FAILED)
            from cl_client.tasks import job_failed_error

            out.error(job_failed_error(job).message)

    async def go(client: Client) -> None:
        client.compute.on_notice = out.warn
        out.info(f"waiting for {len(job_ids)} job(s) (Ctrl-C stops waiting; the jobs keep running)")
        with BatchDisplay(out, watch=watch, several=several, what="jobs") as display:
            display.set_total(len(job_ids))
            await asyncio.gather(*(one(client, job_id, display) for job_id in job_ids))

    run_async(ctx, go)
    if out.json_mode:
        out.json(records if several else (records[0] if records else None))
    if worst:
        raise typer.Exit(worst)


@job_app.command("files")
def files(
    ctx: typer.Context, job_id: JobIdArg, json_output: Annotated[bool, json_option()] = False
) -> None:
    """List a completed job's result files (main output, face crops, HLS playlists and every
    segment they name)."""
    out = get_output(ctx)

    async def go(client: Client) -> list[str]:
        return await result_files_of(client, await client.compute.get_job(job_id))

    paths = run_async(ctx, go)
    if out.json_mode:
        out.json({"job_id": job_id, "files": paths})
        return
    for path in paths:
        out.result(path)


@job_app.command("list")
def list_jobs(
    ctx: typer.Context,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            help="Only jobs in this state: queued, completed, error, timeout, uncertain, …",
            metavar="STATE",
            show_default=False,
        ),
    ] = None,
    task: Annotated[
        str | None,
        typer.Option("--task", help="Only jobs of this task type.", metavar="TASK"),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Only jobs submitted in the last DURATION (30m, 2h, 7d) or since a date.",
            metavar="WHEN",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[
        int,
        typer.Option("--limit", "-n", help="At most this many (0: all).", min=0, metavar="N"),
    ] = 50,
    json_output: Annotated[bool, json_option()] = False,
) -> None:
    """The jobs `cl` submitted from this machine, newest first (from the local job journal)."""
    from cl_client.errors import ClError
    from cl_client.journal import Journal

    out = get_output(ctx)
    try:
        since_ms = parse_since(since) if since is not None else None
        with Journal() as journal:
            entries = list(
                journal.history(
                    status=status, task_type=task, since_ms=since_ms, limit=limit or None
                )
            )
    except ClError as exc:
        out.error(exc.message)
        raise typer.Exit(exc.exit_code) from None
    if out.json_mode:
        out.json(
            [
                {
                    "job_id": e.job_id,
                    "task_type": e.task_type,
                    "status": e.status,
                    "input": e.input.path,
                    "params": e.params,
                    "server": e.server,
                    "created_at": e.created_at,
                    "updated_at": e.updated_at,
                    "error": e.error,
                    "outputs": e.outputs,
                }
                for e in entries
            ]
        )
        return
    if not entries:
        out.info("no jobs recorded" + (" that match" if status or task or since else ""))
        return
    now = time.time() * 1000
    out.table(
        ["age", "status", "task", "job", "input"],
        [
            [_age(now - e.created_at), e.status, e.task_type, e.job_id, e.input.path]
            for e in entries
        ],
    )


def parse_since(text: str) -> int:
    """``30m``, ``2h``, ``7d``, ``45s`` ago, or an ISO date/time, as epoch milliseconds."""
    from datetime import datetime

    from cl_client.errors import InvalidInputError

    value = text.strip()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    if value[-1:].lower() in units and value[:-1].isdigit():
        seconds = int(value[:-1]) * units[value[-1].lower()]
        return int((time.time() - seconds) * 1000)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInputError(
            f"--since {text!r} is not a duration (30m, 2h, 7d) or a date (2026-01-31)"
        ) from None
    return int(moment.timestamp() * 1000)


def _age(ms: float) -> str:
    seconds = max(ms / 1000, 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


@job_app.command("delete")
def delete(
    ctx: typer.Context, job_id: JobIdArg, json_output: Annotated[bool, json_option()] = False
) -> None:
    """Delete a job and its files on the server."""
    out = get_output(ctx)

    async def go(client: Client) -> None:
        await client.compute.delete_job(job_id)

    run_async(ctx, go)
    _deleted(out, job_id)


def _deleted(out: Output, job_id: str) -> None:
    if out.json_mode:
        out.json({"job_id": job_id, "deleted": True})
    else:
        out.success(f"deleted job {job_id}")


def download(
    ctx: typer.Context,
    job_id: JobIdArg,
    file_path: Annotated[
        str | None,
        typer.Argument(
            help=(
                "Path of the file inside the job, e.g. output/hash.json or faces/face_0.png "
                "(with --all: the destination folder)."
            ),
            metavar="FILE_PATH",
            show_default=False,
        ),
    ] = None,
    dest: Annotated[
        str | None,
        typer.Argument(
            help=(
                "File to write, a folder to write into (an existing one, or ending in '/'), or "
                "'-' for standard output. A symlink is followed; a device or FIFO is written "
                "in place."
            ),
            metavar="DEST",
            show_default=False,
        ),
    ] = None,
    all_files: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Save every result file of the job (as `cl job files` lists them) into DEST.",
        ),
    ] = False,
    json_output: Annotated[bool, json_option()] = False,
) -> None:
    """Download one file of a job, or with --all every result file (keeping their paths)."""
    from cl_client.transport import writes_to_stdout

    out = get_output(ctx)
    if all_files:
        if dest is not None:
            out.error("with --all give the job id and one destination folder")
            raise typer.Exit(2)
        folder = Path(file_path or ".")

        async def go_all(client: Client) -> list[Path]:
            import asyncio

            from cl_client.transport import safe_join

            job = await client.compute.get_job(job_id)
            remote = await result_files_of(client, job)
            limit = asyncio.Semaphore(4)

            async def one(path: str) -> Path:
                async with limit:
                    return await client.compute.download(job_id, path, safe_join(folder, path))

            return list(await asyncio.gather(*(one(p) for p in remote)))

        saved_all = run_async(ctx, go_all)
        if out.json_mode:
            out.json({"job_id": job_id, "downloaded": [str(p) for p in saved_all]})
        else:
            for path in saved_all:
                out.result(str(path))
        return
    if file_path is None:
        out.error("give the FILE_PATH inside the job (see `cl job files JOB_ID`), or --all")
        raise typer.Exit(2)
    remote_path = file_path
    given = dest or "."
    target = Path(given)
    if given.endswith(("/", os.sep)):
        # A trailing slash means a folder, even one that does not exist yet.
        target = target / remote_path.rsplit("/", 1)[-1]
    to_stdout = writes_to_stdout(target)
    if to_stdout and out.json_mode:
        from cl_client.cli.runner import fail
        from cl_client.errors import InvalidInputError

        fail(out, InvalidInputError("--json and a download to standard output both need stdout"))

    async def go(client: Client) -> Path:
        from cl_client.cli.output import stdout_closed

        try:
            return await client.compute.download(job_id, remote_path, target)
        except BrokenPipeError:
            if not to_stdout:
                raise
            stdout_closed()

    saved = run_async(ctx, go)
    _downloaded(out, job_id, remote_path, saved, to_stdout=to_stdout)


def _downloaded(
    out: Output, job_id: str, file_path: str, saved: Path, *, to_stdout: bool = False
) -> None:
    if out.json_mode:
        out.json({"job_id": job_id, "file_path": file_path, "downloaded": [str(saved)]})
    elif not to_stdout:  # on stdout the content is the output
        out.result(str(saved))


job_app.command("download")(download)


async def _workers(client: Client, expected: int) -> dict[str, WorkerCapability] | None:
    """Workers announced on MQTT (retained messages), or None when the broker is unreachable."""
    import asyncio

    monitor = client.mqtt
    if not await monitor.start(2.0):
        return None
    # Retained capability messages arrive right after subscribing; give them a moment.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 1.0
    while len(monitor.workers()) < expected and loop.time() < deadline:  # noqa: ASYNC110 - no event to wait on
        await asyncio.sleep(0.05)
    return monitor.workers()


def capabilities(ctx: typer.Context, json_output: Annotated[bool, json_option()] = False) -> None:
    """Show the tasks the server's workers run: idle workers per task (from the server) and the
    workers announcing each task (from MQTT)."""
    out = get_output(ctx)

    async def go(client: Client) -> tuple[Capabilities, dict[str, WorkerCapability] | None]:
        caps = await client.compute.capabilities()
        return caps, await _workers(client, caps.num_workers)

    caps, workers = run_async(ctx, go)
    _show_capabilities(out, caps, workers)


def _show_capabilities(
    out: Output, caps: Capabilities, workers: dict[str, WorkerCapability] | None
) -> None:
    per_task: dict[str, int] = {}
    for worker in (workers or {}).values():
        for task in worker.capabilities:
            per_task[task] = per_task.get(task, 0) + 1
    if out.json_mode:
        out.json(
            {
                **caps.to_dict(),
                "workers": (
                    {
                        wid: {
                            "capabilities": w.capabilities,
                            "idle_count": w.idle_count,
                            "timestamp": w.timestamp,
                        }
                        for wid, w in workers.items()
                    }
                    if workers is not None
                    else None
                ),
            }
        )
        return
    tasks = sorted(set(caps.capabilities) | set(per_task))
    if not tasks:
        out.info(f"no workers ({caps.num_workers} known to the server)")
        return
    out.table(
        ["task", "idle", "workers"],
        [
            [
                task,
                caps.capabilities.get(task, "absent"),
                per_task.get(task, "?") if workers is not None else "?",
            ]
            for task in tasks
        ],
        title=f"{caps.num_workers} worker(s)",
    )
    if workers is None:
        out.info("the MQTT broker is unreachable: worker counts per task unknown")
