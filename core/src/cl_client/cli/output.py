"""Where ``cl`` writes: results on stdout, messages on stderr.

Results (text, tables, key/value lists, JSON) go to stdout; info, warnings, errors and progress go
to stderr, so ``cl ... --json | jq`` always sees clean JSON. On a terminal tables are drawn with
Rich (imported only then); when stdout is a pipe they are plain aligned text that never wraps or
truncates a value. ``--quiet`` silences info messages, ``--no-color`` or ``NO_COLOR`` turn colour
off.

Text shown to a person may come from the server or the broker (statuses, error messages, names,
EXIF values), so every human-output method passes it through :func:`sanitize`: control characters
and bidirectional overrides are shown as escapes instead of acting on the terminal, and URL
passwords are masked. ``--json`` stays exact JSON (those characters are ``\\u`` escapes there).
When stdout is closed early (``cl … | head -1``) the command ends quietly with exit code 141.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import PurePath
from typing import TYPE_CHECKING, NoReturn, TextIO

from cl_client.errors import EXIT_STDOUT_CLOSED

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

# C0 controls but tab and newline, DEL, C1 controls, and the characters that reorder text
# (bidirectional marks, embeddings, overrides, isolates) or break lines (U+2028/9).
_REORDERING = "\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_UNSAFE_CHARS = "\x00-\x08\x0b-\x1f\x7f-\x9f" + _REORDERING
_UNSAFE = re.compile(f"[{_UNSAFE_CHARS}]")
_UNSAFE_IN_LINE = re.compile(f"[\\n\\t{_UNSAFE_CHARS}]")
# What json.dumps(ensure_ascii=False) leaves raw although a terminal may act on it.
_JSON_RAW = re.compile(f"[\x7f-\x9f{_REORDERING}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def sanitize(text: str, *, one_line: bool = False) -> str:
    """``text`` safe to print for a person: control characters (ESC, BEL, CR, C1 codes, …) and
    bidirectional overrides become visible escapes such as ``\\x1b``, and the password of any
    ``scheme://user:password@`` is masked. Tabs and newlines stay, unless ``one_line``."""
    pattern = _UNSAFE_IN_LINE if one_line else _UNSAFE
    if pattern.search(text):
        text = pattern.sub(_escape, text)
    if "@" in text and "://" in text:
        from cl_client.config import mask_url

        text = mask_url(text)
    return text


def stdout_closed() -> NoReturn:
    """End the command quietly because whoever read stdout went away (``| head``): exit 141.

    Standard output is pointed at the null device first, so the interpreter's final flush does
    not complain about the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
    raise SystemExit(EXIT_STDOUT_CLOSED)


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
    """``obj`` as indented JSON (paths as strings, models through ``to_dict``). Characters a
    terminal may act on are written as ``\\u`` escapes, which decode to the same value."""
    text = json.dumps(obj, indent=2, ensure_ascii=False, default=_json_default)
    # Such characters can only occur inside JSON strings, where an escape means the same.
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


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
    """A table cell: one line, sanitised."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        items: list[object] = list(value)  # pyright: ignore[reportUnknownArgumentType]
        return ", ".join(_text(v) for v in items) if items else "-"
    return sanitize(str(value), one_line=True)


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
        try:
            stream.write(text if text.endswith("\n") else text + "\n")
            stream.flush()
        except BrokenPipeError:
            if stream is self.stdout:
                stdout_closed()
            # stderr gone: nobody is left to tell

    def _print(self, content: RenderableType) -> None:
        try:
            self.console().print(content)
        except BrokenPipeError:
            stdout_closed()

    # -- results (stdout) --

    def result(self, content: object) -> None:
        """Print a result: a string as is (no markup, sanitised), anything else as a Rich
        renderable. Nothing is printed in JSON mode, where :meth:`json` is the output."""
        if self.json_mode:
            return
        if isinstance(content, str):
            self._write(self.stdout, sanitize(content))
        else:
            self._print(content)  # pyright: ignore[reportArgumentType]

    def heading(self, text: str) -> None:
        """A line introducing the result of one of several inputs."""
        if self.json_mode:
            return
        self._write(self.stdout, self._style(sanitize(text, one_line=True), self.stdout, "cyan"))

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
        title = sanitize(title, one_line=True) if title else title
        if self.stdout_is_terminal:
            from rich.table import Table
            from rich.text import Text

            # The title on a line of its own: as Rich's title it would wrap to the table's width.
            if title:
                self._write(self.stdout, title)
            table = Table(header_style="bold")
            for col in columns:
                table.add_column(Text(col), overflow="fold")
            for row in cells:
                # Text, not str: a value like "[/]" is shown, never parsed as Rich markup.
                table.add_row(*(Text(cell) for cell in row))
            self._print(table)
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
        title = sanitize(title, one_line=True) if title else title
        rows = [(_text(key), _text(value)) for key, value in pairs]
        if self.stdout_is_terminal:
            from rich.table import Table
            from rich.text import Text

            if title:
                self._write(self.stdout, title)
            table = Table(show_header=False, box=None)
            table.add_column(style="bold")
            table.add_column(overflow="fold")
            for key, value in rows:
                table.add_row(Text(key), Text(value))
            self._print(table)
            return
        width = max((len(k) for k, _ in rows), default=0)
        lines = [title] if title else []
        lines += [f"{(key + ':').ljust(width + 1)} {value}" for key, value in rows]
        self._write(self.stdout, "\n".join(lines))

    # -- messages (stderr) --

    def info(self, message: str) -> None:
        if not self.quiet:
            self._write(self.stderr, sanitize(message))

    def success(self, message: str) -> None:
        if not self.quiet:
            self._write(self.stderr, self._style(sanitize(message), self.stderr, "green"))

    def debug(self, message: str) -> None:
        if self.verbose:
            self._write(self.stderr, sanitize(message))

    def warn(self, message: str) -> None:
        label = self._style("warning:", self.stderr, "yellow")
        self._write(self.stderr, f"{label} {sanitize(message)}")

    def error(self, message: str) -> None:
        label = self._style("error:", self.stderr, "red")
        self._write(self.stderr, f"{label} {sanitize(message)}")

    # -- questions --

    def confirm(self, question: str, *, yes: bool, refusal: str) -> bool:
        """Whether to go ahead with something destructive: ``yes`` (``--yes``) agrees without
        asking; on a terminal ``question`` is asked on stderr (default no; end of input is no);
        with no terminal to ask on it is InvalidInputError ``"<refusal>: no terminal to ask on —
        pass --yes"``, so a script never destroys anything it did not say it would."""
        if yes:
            return True
        if not _is_tty(sys.stdin):
            from cl_client.errors import InvalidInputError

            raise InvalidInputError(f"{refusal}: no terminal to ask on — pass --yes")
        import typer

        try:
            return bool(typer.confirm(sanitize(question), default=False, err=True))
        except typer.Abort:
            return False
