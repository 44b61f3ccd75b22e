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

job_app = typer.Typer(
    help="Get, wait for, delete and download jobs (by job id).", no_args_is_help=True
)

JobIdArg = Annotated[str, typer.Argument(help="The job id (a UUID).", metavar="JOB_ID")]


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


@job_app.command("wait")
def wait(
    ctx: typer.Context,
    job_id: JobIdArg,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            "-t",
            help="Give up after this many seconds (default: wait until the job ends).",
            min=0.001,
            show_default=False,
            metavar="SECONDS",
        ),
    ] = None,
    watch: Annotated[bool, watch_option("-w")] = False,
    json_output: Annotated[bool, json_option()] = False,
) -> None:
    """Wait for a job to finish and show its final record (exit 1 if it ended in error)."""
    from cl_client.cli.progress import JobsDisplay

    out = get_output(ctx)

    async def go(client: Client) -> Job:
        out.info(f"waiting for job {job_id} (Ctrl-C stops waiting; the job goes on)")
        with JobsDisplay(out, [job_id[:8]], watch=watch) as display:
            display.submitted(0, job_id)
            job = await client.compute.wait(
                job_id, timeout=timeout, on_progress=lambda p: display.update(0, p)
            )
            display.finished(0, job.status)
            return job

    _show_final(out, run_async(ctx, go))


def _show_final(out: Output, job: Job) -> None:
    from cl_client.errors import EXIT_JOB_FAILED

    show_job(out, job)
    if job.failed:
        out.error(f"job {job.job_id} ({job.task_type}) ended in {job.status}: {job.error_message}")
        raise typer.Exit(EXIT_JOB_FAILED)


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
        str,
        typer.Argument(
            help="Path of the file inside the job, e.g. output/hash.json or faces/face_0.png.",
            metavar="FILE_PATH",
        ),
    ],
    dest: Annotated[
        str,
        typer.Argument(
            help=(
                "File to write, a folder to write into (an existing one, or ending in '/'), or "
                "'-' for standard output. A symlink is followed; a device or FIFO is written "
                "in place."
            ),
            metavar="DEST",
        ),
    ] = ".",
    json_output: Annotated[bool, json_option()] = False,
) -> None:
    """Download one file of a job."""
    from cl_client.transport import writes_to_stdout

    out = get_output(ctx)
    target = Path(dest)
    to_stdout = writes_to_stdout(target)
    if to_stdout and out.json_mode:
        from cl_client.cli.runner import fail
        from cl_client.errors import InvalidInputError

        fail(out, InvalidInputError("--json and a download to standard output both need stdout"))

    async def go(client: Client) -> Path:
        from cl_client.cli.output import stdout_closed

        if dest.endswith(("/", os.sep)):
            # A trailing slash means a folder, even one that does not exist yet.
            target.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - one local mkdir
        try:
            return await client.compute.download(job_id, file_path, target)
        except BrokenPipeError:
            if not to_stdout:
                raise
            stdout_closed()

    saved = run_async(ctx, go)
    _downloaded(out, job_id, file_path, saved, to_stdout=to_stdout)


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
