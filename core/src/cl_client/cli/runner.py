"""Running commands: the event loop, the client, error reporting and exit codes.

Imported when a command runs (not for ``--help``). Every error of the core's hierarchy ends the
command with one line on stderr and the error's exit code; a traceback is printed only with ``-v``.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Awaitable, Callable, Coroutine, Generator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Generic, NoReturn, TypeVar

import typer

from cl_client.cli.context import get_globals
from cl_client.cli.output import Output
from cl_client.errors import (
    EXIT_INTERRUPTED,
    EXIT_JOB_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    ClError,
    InvalidInputError,
    JobFailedError,
)

if TYPE_CHECKING:
    from cl_client.client import Client
    from cl_client.compute import ComputeClient
    from cl_client.models import Job, JobCreated, JobProgress
    from cl_client.tasks import TaskClient, TaskResult

T = TypeVar("T")
R = TypeVar("R", bound="TaskResult")

#: Exit code of a failure outside the core's errors (a bug); ``cl`` still prints one line.
EXIT_INTERNAL = 1


def error_exit_code(exc: BaseException) -> int:
    if isinstance(exc, ClError):
        return exc.exit_code
    if isinstance(exc, OSError):
        return EXIT_USAGE
    return EXIT_INTERNAL


def error_message(exc: BaseException) -> str:
    """One line describing ``exc``: the message of our own errors, type and text otherwise."""
    if isinstance(exc, ClError):
        text = exc.message
    elif isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        text = f"{exc.strerror or type(exc).__name__}{where}"
    else:
        text = f"unexpected {type(exc).__name__}: {exc} (run with -v for the traceback)"
    return " ".join(text.split())


def report_error(out: Output, exc: BaseException, *, prefix: str = "") -> int:
    """Print ``exc`` as one line (plus its traceback with -v); return its exit code."""
    out.error(prefix + error_message(exc))
    if out.verbose:
        out.stderr.write("".join(traceback.format_exception(exc)))
        out.stderr.flush()
    return error_exit_code(exc)


def fail(out: Output, exc: BaseException) -> NoReturn:
    raise typer.Exit(report_error(out, exc))


def run_coroutine(
    out: Output,
    make: Callable[[], Coroutine[object, object, T]],
    *,
    on_interrupt: Callable[[], None] | None = None,
) -> T:
    """``asyncio.run(make())`` with errors turned into one line and an exit code."""
    try:
        return asyncio.run(make())
    except KeyboardInterrupt:
        out.error("interrupted")
        if on_interrupt is not None:
            on_interrupt()
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:
        from typer._click.exceptions import ClickException

        if isinstance(exc, ClickException):
            raise
        fail(out, exc)


def output_for(ctx: typer.Context, *, json_output: bool = False) -> Output:
    from cl_client.cli import get_output

    out = get_output(ctx)
    if json_output:
        out.json_mode = True
    return out


def run_with_client(ctx: typer.Context, fn: Callable[[Client], Awaitable[T]]) -> T:
    out = output_for(ctx)
    overrides = get_globals(ctx).overrides()

    async def main() -> T:
        from cl_client.client import Client

        async with Client(overrides=overrides) as client:
            return await fn(client)

    return run_coroutine(out, main)


# --- run_task -------------------------------------------------------------------------------


@dataclass
class _Outcome(Generic[R]):
    path: Path
    job_id: str | None = None
    job: Job | None = None
    result: R | None = None
    error: BaseException | None = None
    progress: list[JobProgress] = field(default_factory=list["JobProgress"])

    @property
    def exit_code(self) -> int:
        if self.error is not None:
            return error_exit_code(self.error)
        return EXIT_OK

    def to_json(self) -> object:
        if self.result is not None:
            return self.result.to_json()
        if self.job is not None:
            return self.job.to_dict()
        return {
            "input": str(self.path),
            "job_id": self.job_id,
            "error": {
                "message": error_message(self.error) if self.error else "unknown error",
                "type": type(self.error).__name__ if self.error else None,
                "exit_code": self.exit_code,
            },
        }


def _unique_dirs(files: Sequence[Path], folder: Path) -> list[Path]:
    """``folder/<stem>`` per input; a stem used twice gets ``-2``, ``-3``..."""
    used: dict[str, int] = {}
    out: list[Path] = []
    for f in files:
        stem = f.stem or f.name or "input"
        n = used.get(stem, 0) + 1
        used[stem] = n
        out.append(folder / (stem if n == 1 else f"{stem}-{n}"))
    return out


def _destinations(
    files: Sequence[Path], output: Path | None, multi_file: bool
) -> list[Path | None]:
    """Where each input's result goes (see run_task); folders are created, files are not."""
    if output is None:
        return [None] * len(files)
    if len(files) == 1 and not multi_file:
        if output.is_dir():
            return [output]
        output.parent.mkdir(parents=True, exist_ok=True)
        return [output]
    if output.exists() and not output.is_dir():
        what = "several inputs" if len(files) > 1 else "this task's results (several files)"
        raise InvalidInputError(f"--output {output} must be a folder for {what}, not a file")
    if len(files) == 1:
        output.mkdir(parents=True, exist_ok=True)
        return [output]
    dirs = _unique_dirs(files, output)
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
    return list(dirs)


def run_task_command(
    ctx: typer.Context,
    client_factory: Callable[[ComputeClient], TaskClient[R]],
    files: Sequence[Path],
    submit: Callable[[ComputeClient, Path], Awaitable[JobCreated]],
    render: Callable[[R, Output], None],
    *,
    watch: bool,
    output: Path | None,
    timeout: float,
    json_output: bool,
    jobs: int,
) -> None:
    from cl_client.cli.progress import JobsDisplay
    from cl_client.tasks import check_input_file

    out = output_for(ctx, json_output=json_output)
    options = get_globals(ctx)
    paths = list(files)
    if not paths:
        fail(out, InvalidInputError("no input file given"))
    try:
        for p in paths:
            check_input_file(p)
        if timeout <= 0:
            raise InvalidInputError(f"--timeout must be above 0, got {timeout:g}")
        if jobs < 1:
            raise InvalidInputError(f"--jobs must be at least 1, got {jobs}")
    except ClError as exc:
        fail(out, exc)

    outcomes: list[_Outcome[R]] = [_Outcome(path=p) for p in paths]
    overrides = options.overrides()

    async def main() -> None:
        from cl_client.client import Client

        async with Client(overrides=overrides) as client:
            task_client = client_factory(client.compute)
            if options.capability_check:
                await client.compute.require_worker(task_client.task_type)
            dests = _destinations(paths, output, task_client.multi_file)
            uploads = asyncio.Semaphore(jobs)
            with JobsDisplay(out, [p.name for p in paths], watch=watch) as display:

                async def follow(i: int) -> None:
                    outcome = outcomes[i]

                    def on_progress(p: JobProgress) -> None:
                        outcome.progress.append(p)
                        display.update(i, p)

                    try:
                        async with uploads:
                            created = await submit(client.compute, outcome.path)
                        outcome.job_id = created.job_id
                        out.debug(f"{outcome.path}: submitted as job {created.job_id}")
                        display.submitted(i, created.job_id)
                        job = await client.compute.wait(
                            created.job_id, timeout=timeout, on_progress=on_progress
                        )
                        outcome.job = job
                        if job.failed:
                            outcome.error = JobFailedError(
                                f"job {job.job_id} ({job.task_type}) ended in {job.status}: "
                                f"{job.error_message or 'no message'}",
                                job_id=job.job_id,
                                error_message=job.error_message,
                            )
                        else:
                            outcome.result = await task_client.collect(job, dests[i])
                        display.finished(i, job.status)
                    except Exception as exc:
                        outcome.error = exc
                        display.finished(i, "error")

                await asyncio.gather(*(follow(i) for i in range(len(paths))))

    def on_interrupt() -> None:
        pending = [o.job_id for o in outcomes if o.job_id and o.job is None]
        if pending:
            out.info(
                f"submitted job(s) stay on the server: {', '.join(pending)} — follow with "
                "`cl job wait ID`"
            )

    run_coroutine(out, main, on_interrupt=on_interrupt)
    _report_outcomes(out, outcomes, render)


def _report_outcomes(
    out: Output, outcomes: Sequence[_Outcome[R]], render: Callable[[R, Output], None]
) -> None:
    """Print every input's result or error; exit with the worst code when any failed."""
    _print_outcomes(out, outcomes, render)
    worst = max((o.exit_code for o in outcomes), default=EXIT_OK)
    if worst != EXIT_OK:
        raise typer.Exit(worst)


def _print_outcomes(
    out: Output, outcomes: Sequence[_Outcome[R]], render: Callable[[R, Output], None]
) -> None:
    several = len(outcomes) > 1
    if out.json_mode:
        docs = [o.to_json() for o in outcomes]
        out.json(docs if several else docs[0])
    for o in outcomes:
        if o.error is not None:
            prefix = f"{o.path}: " if several else ""
            if isinstance(o.error, JobFailedError):
                out.error(prefix + error_message(o.error))
            else:
                report_error(out, o.error, prefix=prefix)
            continue
        if o.result is None or out.json_mode:
            continue
        if several:
            out.heading(f"{o.path}:")
        render(o.result, out)


__all__ = [
    "EXIT_INTERNAL",
    "EXIT_JOB_FAILED",
    "error_exit_code",
    "error_message",
    "fail",
    "guarded",
    "report_error",
    "run_coroutine",
    "run_task_command",
    "run_with_client",
]


@contextmanager
def guarded(out: Output) -> Generator[None]:
    """Run synchronous command code: our errors become one line and their exit code."""
    try:
        yield
    except (ClError, OSError) as exc:
        fail(out, exc)
    except KeyboardInterrupt:
        out.error("interrupted")
        raise typer.Exit(EXIT_INTERRUPTED) from None
