"""Running commands: the event loop, the client, error reporting and exit codes.

Imported when a command runs (not for ``--help``). Every error of the core's hierarchy ends the
command with one line on stderr and the error's exit code; a traceback is printed only with ``-v``.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import (
    Awaitable,
    Callable,
    Coroutine,
    Generator,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TypeVar, cast

import typer

from cl_client.cli.context import get_globals
from cl_client.cli.output import Output, to_json_text
from cl_client.errors import (
    EXIT_INTERRUPTED,
    EXIT_JOB_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    ClError,
    InvalidInputError,
    PluginError,
)

if TYPE_CHECKING:
    from cl_client.batch import Batch, BatchItem, Destination, Outcome
    from cl_client.cli.destinations import ToStdout
    from cl_client.cli.inputs import InputSource
    from cl_client.cli.taskframe import TaskOptions
    from cl_client.client import Client
    from cl_client.models import FormValue
    from cl_client.tasks import TaskClient, TaskResult

T = TypeVar("T")

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
    import asyncio

    try:
        return asyncio.run(_terminable(make))
    except (KeyboardInterrupt, asyncio.CancelledError):
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


async def _terminable(make: Callable[[], Coroutine[object, object, T]]) -> T:
    """``make()``, ended by SIGTERM as by Ctrl-C: the task is cancelled, so downloads remove
    their partial files and batches record what they submitted."""
    import asyncio
    import signal

    current = asyncio.current_task()
    if current is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, current.cancel)
    return await make()


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


# --- the task-command frame -----------------------------------------------------------------


class _Results:
    """Prints each outcome as it arrives: human text, a streamed JSON array, or JSON lines."""

    def __init__(
        self, out: Output, *, jsonl: bool, single: bool, to_stdout: ToStdout | None
    ) -> None:
        self.out = out
        self.jsonl = jsonl
        self.single = single
        self.to_stdout = to_stdout
        self.worst = EXIT_OK
        self._opened = False
        self._count = 0

    def write(self, outcome: Outcome[TaskResult], render: Callable[..., object]) -> None:
        out = self.out
        if outcome.error is not None:
            self.worst = max(self.worst, outcome.error.exit_code)
            text = outcome.error.message
            # On stderr in every mode: --json and --jsonl keep stdout for the documents.
            out.error(text if self.single else f"{outcome.item.path}: {text}")
        if self.jsonl:
            out.stdout.write(json.dumps(outcome.to_json(), ensure_ascii=False, default=str) + "\n")
            out.stdout.flush()
        elif out.json_mode:
            self._json_element(outcome)
        else:
            self._human(outcome, render)

    def _json_element(self, outcome: Outcome[TaskResult]) -> None:
        text = to_json_text(outcome.to_json())
        stream = self.out.stdout
        if self.single:
            stream.write(text + "\n")
        else:
            stream.write(("[\n" if not self._opened else ",\n") + text)
            self._opened = True
        stream.flush()
        self._count += 1

    def close(self) -> None:
        """End the JSON array (also after an interruption, so the output stays valid JSON)."""
        if self.out.json_mode and not self.jsonl and not self.single:
            self.out.stdout.write("\n]\n" if self._opened else "[]\n")
            self.out.stdout.flush()

    def _human(self, outcome: Outcome[TaskResult], render: Callable[..., object]) -> None:
        out = self.out
        where = str(outcome.item.path)
        if outcome.error is not None:
            return
        if outcome.state == "skipped":
            saved = ", ".join(str(p) for p in outcome.saved)
            line = f"{where}: already done (job {outcome.job_id}), saved in {saved}"
            if self.single:
                # One input: say why nothing happened (a batch counts these in its summary).
                out.info(line + " — --force runs it again")
            else:
                out.debug(line)
            return
        if outcome.state == "submitted":
            out.result(f"{outcome.job_id}  {where}")
            return
        if outcome.result is None:
            return
        if self.to_stdout is not None:
            self._copy_to_stdout(outcome.result.downloaded)
            return
        outcome.result.label = where
        out.heading(outcome.result.title)
        returned = render(outcome.result, out)
        if returned is not None:
            raise PluginError(
                f"the result renderer {getattr(render, '__qualname__', render)!r} returned "
                f"{type(returned).__name__} instead of printing (renderers return None)"
            )

    def _copy_to_stdout(self, files: Sequence[Path]) -> None:
        import shutil

        self.out.stdout.flush()
        binary = self.out.stdout.buffer
        for path in files:
            with path.open("rb") as fh:
                shutil.copyfileobj(fh, binary)
        binary.flush()


def _unique_destinations(
    items: Iterable[BatchItem], dest: Destination | None, out: Output, results: _Results
) -> Iterator[BatchItem]:
    """``items``, leaving out (as an error) an input whose results would land where an earlier
    input's did: files of the same name named from different folders, or two folders of the
    same name. Remembers a 16-byte digest per input, not its path (100,000 inputs: a few MB)."""
    import hashlib

    from cl_client.batch import Folder
    from cl_client.cli.destinations import Template

    if isinstance(dest, Template) and "{job_id}" in dest.pattern:
        dest = None  # every input gets a place of its own
    if not isinstance(dest, Folder | Template):
        yield from items
        return
    for_template = dest if isinstance(dest, Template) else None
    seen: set[bytes] = set()
    for item in items:
        where = for_template.render(item, "") if for_template else item.rel
        key = hashlib.blake2b(str(where).encode(), digest_size=16).digest()
        if key not in seen:
            seen.add(key)
            yield item
            continue
        results.worst = max(results.worst, EXIT_USAGE)
        out.error(
            f"{item.path}: left out — its results would land where another input's did "
            f"({where}); use a template such as -o 'out/{{parent}}/{{name}}' or one folder"
        )


def _summary(batch: Batch[TaskResult], seconds: float, source: InputSource) -> str:
    done = batch.completed + batch.failed + batch.skipped + batch.submitted
    rate = done / seconds if seconds > 0 else 0.0
    parts = [f"{batch.completed} completed", f"{batch.failed} failed"]
    parts.append(f"{batch.skipped} skipped (already done)")
    if batch.submitted:
        parts.append(f"{batch.submitted} submitted")
    text = f"{', '.join(parts)} in {seconds:.1f} s ({rate:.1f}/s)"
    if source.skipped.total:
        text += f"; left out: {source.skipped.describe()}"
    return text


def _interrupted_line(batch: Batch[TaskResult] | None) -> str:
    if batch is None:
        return "interrupted"
    finished = batch.completed + batch.failed + batch.skipped
    running = len(batch.in_flight)
    text = f"interrupted: {finished} finished"
    if running:
        text += f", {running} still running on the server (see `cl job list`)"
    return text + "; run the same command again to resume"


def run_task_frame(
    ctx: typer.Context,
    make_plan: Callable[[], object],
    options: TaskOptions,
) -> None:
    """Run a task command (see :mod:`cl_client.cli.taskframe`)."""
    import asyncio
    import time

    from cl_client.batch import Batch
    from cl_client.cli.destinations import ToStdout, output_folder, parse_output
    from cl_client.cli.inputs import InputSource
    from cl_client.cli.progress import BatchDisplay
    from cl_client.cli.taskframe import TaskPlan
    from cl_client.journal import Journal, journal_disabled

    out = output_for(ctx, json_output=options.json)
    settings = get_globals(ctx)
    try:
        if options.json and options.jsonl:
            raise InvalidInputError("--json and --jsonl cannot be combined: choose one")
        if options.no_wait and options.output is not None:
            raise InvalidInputError("--output needs the results: it cannot go with --no-wait")
        made = make_plan()
        if not isinstance(made, TaskPlan):
            raise PluginError(f"the command returned {type(made).__name__}, not a TaskPlan")
        plan = cast("TaskPlan[TaskResult]", made)
        task_class: type[TaskClient[TaskResult]] = plan.client
        render: Callable[..., object] = plan.render
        form: Mapping[str, FormValue] = plan.form
        source = InputSource(
            options.paths,
            include=options.include,
            exclude=options.exclude,
            null_separated=options.null,
            accepts=task_class.accepts_file,
        )
        source.check()
        single = source.single_file
        if options.output == "-" and (options.json or options.jsonl):
            raise InvalidInputError("--output - writes the result file to stdout: drop --json")
        dest = parse_output(options.output, single_input=single, multi_file=task_class.multi_file)
        folder = output_folder(dest)
        if folder is not None:
            source.skip_dirs = [folder]
            source.__post_init__()
    except ClError as exc:
        fail(out, exc)
    if options.jsonl:
        out.json_mode = True
    to_stdout = dest if isinstance(dest, ToStdout) else None
    results = _Results(out, jsonl=options.jsonl, single=single, to_stdout=to_stdout)
    several = not single
    holder: list[Batch[TaskResult]] = []
    began = time.monotonic()

    async def main() -> None:
        from cl_client.client import Client

        loop = asyncio.get_running_loop()
        journal = None if journal_disabled() else Journal()
        try:
            async with Client(overrides=settings.overrides()) as client:
                compute = client.compute
                compute.on_notice = out.warn
                task = task_class(compute)
                if settings.capability_check:
                    await compute.require_worker(task.task_type)
                display = BatchDisplay(
                    out, watch=options.watch, several=several, what=task.task_type
                )
                batch = Batch(
                    task,
                    form,
                    concurrency=options.jobs,
                    priority=options.priority,
                    timeout=options.timeout,
                    queue_timeout=options.queue_timeout,
                    dest=dest,
                    journal=journal,
                    force=options.force,
                    wait=not options.no_wait,
                    observer=display,
                )
                holder.append(batch)
                counting = None
                if out.show_progress and not source.reads_stdin and several:
                    counting = loop.run_in_executor(None, source.count)
                    counting.add_done_callback(
                        lambda f: (
                            display.set_total(f.result())
                            if not f.cancelled() and f.exception() is None
                            else None
                        )
                    )
                try:
                    with display:
                        inputs = _unique_destinations(source, dest, out, results)
                        async for outcome in batch.run(inputs):
                            results.write(outcome, render)
                finally:
                    results.close()
                    if counting is not None:
                        counting.cancel()
        finally:
            if journal is not None:
                journal.close()

    try:
        try:
            asyncio.run(_terminable(main))
        finally:
            if to_stdout is not None:
                to_stdout.cleanup()
    except (KeyboardInterrupt, asyncio.CancelledError):
        out.error(_interrupted_line(holder[0] if holder else None))
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except (typer.Exit, typer.Abort):
        raise
    except BrokenPipeError:
        raise typer.Exit(EXIT_OK) from None
    except Exception as exc:
        fail(out, exc)
    if holder and several and not out.quiet:
        out.info(_summary(holder[0], time.monotonic() - began, source))
    if results.worst != EXIT_OK:
        raise typer.Exit(results.worst)


__all__ = [
    "EXIT_INTERNAL",
    "EXIT_JOB_FAILED",
    "error_exit_code",
    "error_message",
    "fail",
    "guarded",
    "report_error",
    "run_coroutine",
    "run_task_frame",
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
