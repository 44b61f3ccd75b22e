"""The inputs of a task command: files, folders walked recursively, and ``-`` (paths on stdin).

Nothing is listed ahead: folders are walked one directory at a time (entries sorted, so the order
is stable across runs) and stdin is read a line (or a NUL-terminated name with ``-0``) at a time,
so the first job is submitted before a folder of 100,000 files has been walked.

While walking, hidden files and folders, the output folder, files the task does not take (by
media type) and files the ``--include``/``--exclude`` globs reject are skipped and counted, never
reported as errors. Files named on the command line are always taken; paths read from stdin go
through the globs (``find … | cl … -`` is a filter's job) but not through the media-type check.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from typing import IO

from cl_client.batch import BatchItem
from cl_client.errors import InvalidInputError
from cl_client.tasks import check_input_file

STDIN: str = "-"


def input_error(path: Path) -> InvalidInputError | None:
    """Why ``path`` cannot be an input (a readable folder or file), or None."""
    if path.is_dir():
        if not os.access(path, os.R_OK | os.X_OK):
            return InvalidInputError(f"folder is not readable: {path}")
        return None
    try:
        check_input_file(path)
    except InvalidInputError as exc:
        return exc
    return None


@dataclass
class Skipped:
    """What the walk left out, by reason."""

    hidden: int = 0
    filtered: int = 0
    unsupported: int = 0
    output: int = 0

    @property
    def total(self) -> int:
        return self.hidden + self.filtered + self.unsupported + self.output

    def describe(self) -> str:
        parts = [
            f"{n} {what}"
            for n, what in (
                (self.unsupported, "not taken by this task"),
                (self.filtered, "filtered out"),
                (self.hidden, "hidden"),
                (self.output, "in the output folder"),
            )
            if n
        ]
        return ", ".join(parts)


@dataclass
class InputSource:
    """The inputs of one command, iterated lazily (see the module docstring)."""

    args: Sequence[str]
    include: Sequence[str] = ()
    exclude: Sequence[str] = ()
    null_separated: bool = False
    #: Whether a file found in a folder is something the task takes.
    accepts: Callable[[Path], bool] = lambda _path: True
    #: Folders never walked into (the output folder).
    skip_dirs: Sequence[Path] = ()
    stdin: IO[str] | None = None
    skipped: Skipped = field(default_factory=Skipped)

    def __post_init__(self) -> None:
        self._skip = {_key(d) for d in self.skip_dirs}

    @property
    def single_file(self) -> bool:
        """True when exactly one file (not a folder, not stdin) is given."""
        return len(self.args) == 1 and self.args[0] != STDIN and not Path(self.args[0]).is_dir()

    @property
    def reads_stdin(self) -> bool:
        return STDIN in self.args

    def check(self) -> None:
        """Refuse, before anything is sent, arguments that cannot be inputs."""
        if not self.args:
            raise InvalidInputError("no input given (files, folders, or - for paths on stdin)")
        if self.args.count(STDIN) > 1:
            raise InvalidInputError("- (paths on stdin) can be given only once")
        for arg in self.args:
            if arg != STDIN and (error := input_error(Path(arg))) is not None:
                raise error

    def __iter__(self) -> Iterator[BatchItem]:
        # With several arguments a folder's files keep the folder's name in their relative path,
        # so `a/` and `b/` holding the same names do not collide under one --output folder.
        several = len(self.args) > 1
        for arg in self.args:
            if arg == STDIN:
                yield from self._from_stdin()
                continue
            path = Path(arg)
            if path.is_dir():
                top = PurePosixPath(_folder_name(path)) if several else PurePosixPath()
                yield from self._walk(top, path, PurePosixPath())
            else:
                yield BatchItem(path, PurePosixPath(path.name))

    def count(self) -> int:
        """How many inputs the arguments hold (walking again; stdin excluded), for totals."""
        quiet = InputSource(
            [a for a in self.args if a != STDIN],
            self.include,
            self.exclude,
            accepts=self.accepts,
            skip_dirs=self.skip_dirs,
        )
        return sum(1 for _ in quiet)

    # -- the walk -------------------------------------------------------------------------------

    def _wanted(self, rel: PurePosixPath) -> bool:
        text = rel.as_posix()
        if self.include and not any(_glob(text, g) for g in self.include):
            return False
        return not any(_glob(text, g) for g in self.exclude)

    def _walk(self, top: PurePosixPath, folder: Path, rel: PurePosixPath) -> Iterator[BatchItem]:
        """The files under ``folder``; ``rel`` is its path inside the walked argument (what the
        globs see) and ``top`` what goes before it in the items' relative paths."""
        try:
            with os.scandir(folder) as scan:
                entries = sorted(scan, key=lambda e: e.name)
        except OSError:
            return  # unreadable sub-folder: nothing to take from it
        for entry in entries:
            child_rel = rel / entry.name
            if entry.name.startswith("."):
                self.skipped.hidden += 1
                continue
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
                is_file = not is_dir and entry.is_file()
            except OSError:
                continue
            if is_dir:
                path = Path(entry.path)
                if _key(path) in self._skip:
                    self.skipped.output += 1
                    continue
                yield from self._walk(top, path, child_rel)
                continue
            if not is_file:
                continue  # sockets, FIFOs, broken or looping links
            path = Path(entry.path)
            if not self._wanted(child_rel):
                self.skipped.filtered += 1
            elif not self.accepts(path):
                self.skipped.unsupported += 1
            else:
                yield BatchItem(path, top / child_rel)

    def _from_stdin(self) -> Iterator[BatchItem]:
        stream = self.stdin if self.stdin is not None else sys.stdin
        for name in _names(stream, "\0" if self.null_separated else "\n"):
            if not name:
                continue
            path = Path(name)
            if path.is_dir():
                yield from self._walk(PurePosixPath(_folder_name(path)), path, PurePosixPath())
                continue
            if not self._wanted(PurePosixPath(path.as_posix())):
                self.skipped.filtered += 1
                continue
            yield BatchItem(path, PurePosixPath(path.name))


def _folder_name(path: Path) -> str:
    name = path.name or path.absolute().name
    return name if name not in ("", ".", "..") else "input"


def _glob(text: str, pattern: str) -> bool:
    """``pattern`` against a relative path, or against its name when the pattern has no ``/``."""
    if "/" not in pattern:
        return fnmatchcase(PurePosixPath(text).name, pattern)
    return fnmatchcase(text, pattern)


def _key(path: Path) -> str:
    try:
        return str(path.resolve())
    except (OSError, RuntimeError):
        return str(path.absolute())


def _names(stream: IO[str], separator: str) -> Iterator[str]:
    if separator == "\n":
        for line in stream:
            yield line.rstrip("\r\n")
        return
    pending = ""
    while chunk := stream.read(65536):
        pending += chunk
        *names, pending = pending.split(separator)
        yield from names
    if pending:
        yield pending


__all__ = ["STDIN", "InputSource", "Skipped", "input_error"]
