"""Progress display while jobs run: a bar per job with ``--watch``, one spinner otherwise.

Drawn on stderr with Rich, and only when stderr is a terminal and neither ``--quiet`` nor ``--json``
is in effect; otherwise every method is a no-op, so callers never check. ``rich.progress`` is
imported only when something is drawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING

from cl_client.cli.output import Output

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from cl_client.models import JobProgress


class JobsDisplay:
    """Context manager showing the state of one job per label."""

    def __init__(self, out: Output, labels: Sequence[str], *, watch: bool) -> None:
        self._labels = list(labels)
        self._watch = watch
        self._enabled = out.show_progress
        self._out = out
        self._progress: Progress | None = None
        self._tasks: list[TaskID] = []
        self._done = 0

    def __enter__(self) -> JobsDisplay:
        if not self._enabled:
            return self
        from rich.progress import (
            BarColumn,
            Progress,
            SpinnerColumn,
            TaskProgressColumn,
            TextColumn,
        )

        console = self._out.console(stderr=True)
        if self._watch:
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[status]}"),
                console=console,
                transient=True,
            )
            for label in self._labels:
                self._tasks.append(self._progress.add_task(label, total=100, status="uploading"))
        else:
            self._progress = Progress(
                SpinnerColumn(), TextColumn("{task.description}"), console=console, transient=True
            )
            self._tasks.append(self._progress.add_task(self._summary(), total=None))
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def _summary(self, state: str = "") -> str:
        n = len(self._labels)
        what = self._labels[0] if n == 1 else f"{n} jobs"
        done = f" ({self._done}/{n} done)" if n > 1 else ""
        return f"{state or 'waiting for'} {what}{done}"

    def submitted(self, index: int, job_id: str) -> None:
        if self._progress is None:
            return
        if self._watch:
            self._progress.update(self._tasks[index], status=f"queued ({job_id[:8]})")

    def update(self, index: int, progress: JobProgress) -> None:
        if self._progress is None or not self._watch:
            return
        self._progress.update(
            self._tasks[index], completed=progress.progress, status=progress.status
        )

    def finished(self, index: int, status: str) -> None:
        if self._progress is None:
            return
        self._done += 1
        if self._watch:
            completed = 100 if status == "completed" else None
            self._progress.update(self._tasks[index], completed=completed, status=status)
        else:
            self._progress.update(self._tasks[0], description=self._summary())
