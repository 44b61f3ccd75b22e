"""Progress while a batch runs: one overall bar above a bounded list of the jobs in flight.

On a terminal (stderr, and neither ``--quiet`` nor ``--json``) Rich draws the overall bar (done of
total, rate, time left) and at most :data:`MAX_ROWS` rows for the inputs in flight: bytes and rate
while uploading, then queued or processing (with the server's progress under ``--watch``). Inputs
still waiting for a slot are not shown. When stderr is not a terminal, a batch of several inputs
prints one plain line every :data:`LINE_INTERVAL` seconds instead of redrawing; a single input
prints nothing. ``rich.progress`` is imported only when something is drawn.

Labels and statuses come from file names and from the server or broker: they are drawn without
markup interpretation and with control characters removed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Final

from cl_client.batch import BatchItem, BatchObserver, Outcome
from cl_client.cli.output import Output, format_bytes
from cl_client.tasks import TaskResult

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from cl_client.models import JobProgress

#: Rows for jobs in flight; more are summarised on the overall bar.
MAX_ROWS: Final = 8
#: Seconds between the plain progress lines written when stderr is not a terminal.
LINE_INTERVAL: Final = 10.0


def printable(text: str) -> str:
    """``text`` with control characters (escape sequences included) replaced by ``?``."""
    return "".join(c if c.isprintable() else "?" for c in text)


@dataclass
class _Row:
    label: str
    state: str = "uploading"
    sent: int = 0
    size: int = 0
    started: float = 0.0
    percent: float = 0.0
    task: TaskID | None = None


class BatchDisplay(BatchObserver[TaskResult]):
    """A context manager showing a batch's progress (see the module docstring)."""

    def __init__(self, out: Output, *, watch: bool, several: bool, what: str = "") -> None:
        self._out = out
        self._watch = watch
        self._several = several
        self._what = what
        self._draw = out.show_progress
        self._lines = several and not out.quiet and not out.stderr_is_terminal
        self._progress: Progress | None = None
        self._overall: TaskID | None = None
        self._rows: dict[BatchItem, _Row] = {}
        self.total: int | None = None
        self.seen = 0
        self.done = 0
        self.failed = 0
        self._begun = time.monotonic()
        self._last_line = self._begun

    def __enter__(self) -> BatchDisplay:
        if not self._draw:
            return self
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}", markup=False),
            TimeRemainingColumn(),
            console=self._out.console(stderr=True),
            transient=True,
            # Results printed meanwhile go above the bar only when they share its screen; a
            # piped stdout must get them itself.
            redirect_stdout=self._out.stdout_is_terminal,
        )
        self._overall = self._progress.add_task(
            printable(self._what) or "jobs", total=None, status=""
        )
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

    # -- what the batch reports ----------------------------------------------------------------

    def set_total(self, total: int) -> None:
        self.total = total
        self._refresh()

    def input_seen(self, item: BatchItem) -> None:
        self.seen += 1
        if self.total is not None and self.seen > self.total:
            self.total = self.seen

    def uploading(self, item: BatchItem, sent: int, size: int) -> None:
        row = self._row(item)
        row.sent, row.size = sent, size
        if not row.started:
            row.started = time.monotonic()
        elapsed = time.monotonic() - row.started
        rate = f" {format_bytes(int(sent / elapsed))}/s" if elapsed > 0.2 else ""
        self._show(row, f"uploading {format_bytes(sent)}/{format_bytes(size)}{rate}")

    def submitted(self, item: BatchItem, job_id: str) -> None:
        self._show(self._row(item), f"queued ({job_id[:8]})")

    def progress(self, item: BatchItem, update: JobProgress) -> None:
        row = self._row(item)
        row.percent = update.progress
        status = printable(update.status)
        if self._watch and update.progress:
            status = f"{status} {update.progress:.0f}%"
        self._show(row, status)

    def finished(self, outcome: Outcome[TaskResult]) -> None:
        self.done += 1
        if not outcome.ok:
            self.failed += 1
        row = self._rows.pop(outcome.item, None)
        if row is not None and row.task is not None and self._progress is not None:
            self._progress.remove_task(row.task)
            self._promote()
        self._refresh()

    # -- drawing ----------------------------------------------------------------------------

    def _row(self, item: BatchItem) -> _Row:
        row = self._rows.get(item)
        if row is None:
            row = self._rows[item] = _Row(printable(str(item.rel)))
            if self._progress is not None and self._shown() < MAX_ROWS:
                row.task = self._progress.add_task(row.label, total=100, status=row.state)
        return row

    def _shown(self) -> int:
        return sum(1 for r in self._rows.values() if r.task is not None)

    def _promote(self) -> None:
        """Give a freed row to a job in flight that has none yet."""
        if self._progress is None:
            return
        for row in self._rows.values():
            if row.task is None:
                row.task = self._progress.add_task(row.label, total=100, status=row.state)
                return

    def _show(self, row: _Row, state: str) -> None:
        row.state = state
        if self._progress is not None and row.task is not None:
            completed = row.sent * 100 / row.size if row.size and state.startswith("up") else None
            if completed is None and self._watch:
                completed = row.percent
            self._progress.update(row.task, status=state, completed=completed or 0)
        self._maybe_line()

    def rate(self) -> float:
        elapsed = time.monotonic() - self._begun
        return self.done / elapsed if elapsed > 0 else 0.0

    def _refresh(self) -> None:
        if self._progress is not None and self._overall is not None:
            hidden = len(self._rows) - self._shown()
            more = f" · {hidden} more in flight" if hidden > 0 else ""
            failed = f" · {self.failed} failed" if self.failed else ""
            self._progress.update(
                self._overall,
                total=self.total,
                completed=self.done,
                status=f"{self.rate():.1f}/s{failed}{more}",
            )
        self._maybe_line()

    def _maybe_line(self) -> None:
        if not self._lines:
            return
        now = time.monotonic()
        if now - self._last_line < LINE_INTERVAL:
            return
        self._last_line = now
        of = f"/{self.total}" if self.total is not None else ""
        failed = f" ({self.failed} failed)" if self.failed else ""
        self._out.info(
            f"progress: {self.done}{of} done{failed}, {len(self._rows)} in flight, "
            f"{self.rate():.1f}/s"
        )


__all__ = ["LINE_INTERVAL", "MAX_ROWS", "BatchDisplay", "printable"]
