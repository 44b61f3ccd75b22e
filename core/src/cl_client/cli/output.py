"""Where ``cl`` writes: results on stdout, messages on stderr.

Results (text, tables, key/value lists, JSON) go to stdout; info, warnings, errors and progress go
to stderr, so ``cl ... --json | jq`` always sees clean JSON. On a terminal tables are drawn with
Rich (imported only then); when stdout is a pipe they are plain aligned text that never wraps or
truncates a value. ``--quiet`` silences info messages, ``--no-color`` or ``NO_COLOR`` turn colour
off.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import PurePath
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.console import Console


def _json_default(obj: object) -> object:
    if isinstance(obj, PurePath):
        return str(obj)
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    if isinstance(obj, set | frozenset | tuple):
        items: list[object] = list(obj)  # pyright: ignore[reportUnknownArgumentType]
        return items
    return str(obj)


def to_json_text(obj: object) -> str:
    """``obj`` as indented JSON (paths as strings, models through ``to_dict``)."""
    return json.dumps(obj, indent=2, ensure_ascii=False, default=_json_default)


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def format_bytes(size: int) -> str:
    """A byte count for people: ``900 B``, ``1.5 KiB``, ``5.0 MiB`` and so on up to ``TiB``."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def _text(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        items: list[object] = list(value)  # pyright: ignore[reportUnknownArgumentType]
        return ", ".join(_text(v) for v in items) if items else "-"
    return str(value)


class Output:
    """Human and machine output of one command. Plugins get theirs from :func:`get_output`."""

    def __init__(
        self,
        *,
        json_mode: bool = False,
        quiet: bool = False,
        verbose: bool = False,
        no_color: bool = False,
    ) -> None:
        self.json_mode = json_mode
        self.quiet = quiet
        self.verbose = verbose
        self.no_color = no_color or bool(os.environ.get("NO_COLOR"))

    # -- streams --

    @property
    def stdout(self) -> TextIO:
        # looked up on each use: test runners swap sys.stdout per invocation
        return sys.stdout

    @property
    def stderr(self) -> TextIO:
        return sys.stderr

    @property
    def stdout_is_terminal(self) -> bool:
        return _is_tty(self.stdout)

    @property
    def stderr_is_terminal(self) -> bool:
        return _is_tty(self.stderr)

    @property
    def show_progress(self) -> bool:
        """Whether progress bars and spinners may be drawn (on stderr)."""
        return self.stderr_is_terminal and not self.quiet and not self.json_mode

    def console(self, *, stderr: bool = False) -> Console:
        """A Rich console on stdout (or stderr) honouring --no-color; Rich is imported here."""
        from rich.console import Console

        stream = self.stderr if stderr else self.stdout
        return Console(
            file=stream,
            no_color=self.no_color,
            highlight=False,
            soft_wrap=not _is_tty(stream),
        )

    def _style(self, text: str, stream: TextIO, color: str) -> str:
        if self.no_color or not _is_tty(stream):
            return text
        import typer

        return typer.style(text, fg=color, bold=True)

    def _write(self, stream: TextIO, text: str) -> None:
        stream.write(text if text.endswith("\n") else text + "\n")
        stream.flush()

    # -- results (stdout) --

    def result(self, content: object) -> None:
        """Print a result: a string as is (no markup), anything else as a Rich renderable.
        Nothing is printed in JSON mode, where :meth:`json` is the output."""
        if self.json_mode:
            return
        if isinstance(content, str):
            self._write(self.stdout, content)
        else:
            self.console().print(content)

    def heading(self, text: str) -> None:
        """A line introducing the result of one of several inputs."""
        if self.json_mode:
            return
        self._write(self.stdout, self._style(text, self.stdout, "cyan"))

    def json(self, obj: object) -> None:
        """Print ``obj`` as one JSON document on stdout."""
        self._write(self.stdout, to_json_text(obj))

    def table(
        self,
        columns: Sequence[str],
        rows: Sequence[Sequence[object]],
        title: str | None = None,
    ) -> None:
        if self.json_mode:
            return
        cells = [[_text(v) for v in row] for row in rows]
        if self.stdout_is_terminal:
            from rich.table import Table

            # The title on a line of its own: as Rich's title it would wrap to the table's width.
            if title:
                self._write(self.stdout, title)
            table = Table(header_style="bold")
            for col in columns:
                table.add_column(col, overflow="fold")
            for row in cells:
                table.add_row(*row)
            self.console().print(table)
            return
        lines: list[str] = []
        if title:
            lines.append(title)
        widths = [len(c) for c in columns]
        for row in cells:
            for i, cell in enumerate(row[: len(widths)]):
                widths[i] = max(widths[i], len(cell))
        for row in [list(columns), *cells]:
            padded = [cell.ljust(widths[i]) for i, cell in enumerate(row[: len(widths)])]
            lines.append("  ".join(padded).rstrip())
        self._write(self.stdout, "\n".join(lines))

    def key_values(self, pairs: Sequence[tuple[str, object]], title: str | None = None) -> None:
        if self.json_mode:
            return
        if self.stdout_is_terminal:
            from rich.table import Table

            if title:
                self._write(self.stdout, title)
            table = Table(show_header=False, box=None)
            table.add_column(style="bold")
            table.add_column(overflow="fold")
            for key, value in pairs:
                table.add_row(key, _text(value))
            self.console().print(table)
            return
        width = max((len(k) for k, _ in pairs), default=0)
        lines = [title] if title else []
        lines += [f"{(key + ':').ljust(width + 1)} {_text(value)}" for key, value in pairs]
        self._write(self.stdout, "\n".join(lines))

    # -- messages (stderr) --

    def info(self, message: str) -> None:
        if not self.quiet:
            self._write(self.stderr, message)

    def success(self, message: str) -> None:
        if not self.quiet:
            self._write(self.stderr, self._style(message, self.stderr, "green"))

    def debug(self, message: str) -> None:
        if self.verbose:
            self._write(self.stderr, message)

    def warn(self, message: str) -> None:
        self._write(self.stderr, self._style("warning:", self.stderr, "yellow") + " " + message)

    def error(self, message: str) -> None:
        self._write(self.stderr, self._style("error:", self.stderr, "red") + " " + message)
