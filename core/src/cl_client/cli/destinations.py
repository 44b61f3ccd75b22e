"""Where ``--output`` puts each input's results.

* a FOLDER (an existing folder, a value ending in ``/``, or any value when there are several
  inputs or the task's results are several files): :class:`cl_client.batch.Folder`, which mirrors
  each input's path relative to the folder it came from;
* a FILE, for one input with a single-file result;
* a template, any value holding ``{``: ``{stem}``, ``{name}``, ``{ext}`` (without the dot),
  ``{parent}`` (the input's folder relative to the folder it came from, ``.`` at the top),
  ``{rel}`` (its relative path) and ``{job_id}``; the result is a file, or a folder for multi-file
  results;
* ``-``: the single result file written to stdout.

Folders are created only when a file is saved in them (the download creates them).
"""

from __future__ import annotations

import os
import string
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

from cl_client.batch import BatchItem, Destination, Folder
from cl_client.errors import InvalidInputError

if TYPE_CHECKING:
    from cl_client.models import Job

STDOUT: Final = "-"
TEMPLATE_FIELDS: Final = ("stem", "name", "ext", "parent", "rel", "job_id")


class Template:
    """``--output`` as a template (see the module docstring)."""

    def __init__(self, pattern: str) -> None:
        for _, name, spec, conversion in string.Formatter().parse(pattern):
            if name is None:
                continue
            if name not in TEMPLATE_FIELDS or spec or conversion:
                raise InvalidInputError(
                    f"--output template field {{{name}}} is not one of "
                    + ", ".join(f"{{{f}}}" for f in TEMPLATE_FIELDS)
                )
        self.pattern = pattern

    def render(self, item: BatchItem, job_id: str) -> Path:
        rel = item.rel
        parent = rel.parent.as_posix()
        return Path(
            self.pattern.format(
                stem=rel.stem,
                name=rel.name,
                ext=rel.suffix.lstrip("."),
                parent=parent,
                rel=rel.as_posix(),
                job_id=job_id,
            )
        )

    def path_for(self, item: BatchItem, job: Job) -> Path:
        return self.render(item, job.job_id)

    def holds(self, item: BatchItem, job_id: str, saved: Sequence[Path]) -> bool:
        target = self.render(item, job_id).absolute()
        return bool(saved) and all(
            p.is_file() and (p == target or target in p.parents) for p in saved
        )


class SingleFile:
    """One input's single-file result saved at exactly ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def path_for(self, item: BatchItem, job: Job) -> Path:
        return self.path

    def holds(self, item: BatchItem, job_id: str, saved: Sequence[Path]) -> bool:
        return [p.absolute() for p in saved] == [self.path.absolute()] and self.path.is_file()


class ToStdout:
    """The result file goes through a private temp folder, then to stdout; never skipped."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="cl-stdout-"))

    def path_for(self, item: BatchItem, job: Job) -> Path:
        return self.folder / "result"

    def holds(self, item: BatchItem, job_id: str, saved: Sequence[Path]) -> bool:
        return False

    def cleanup(self) -> None:
        import shutil

        shutil.rmtree(self.folder, ignore_errors=True)


def parse_output(value: str | None, *, single_input: bool, multi_file: bool) -> Destination | None:
    """The destination ``--output value`` names (see the module docstring)."""
    if value is None:
        return None
    if value == STDOUT:
        if multi_file:
            raise InvalidInputError(
                "--output - writes one file to stdout, and this task's results are several files"
            )
        if not single_input:
            raise InvalidInputError("--output - writes one result to stdout: give one input")
        return ToStdout()
    if "{" in value:
        return Template(value)
    path = Path(value)
    as_folder = value.endswith(("/", os.sep)) or path.is_dir() or multi_file or not single_input
    if as_folder:
        if path.exists() and not path.is_dir():
            what = "several inputs" if not single_input else "this task's results (several files)"
            raise InvalidInputError(f"--output {value} must be a folder for {what}, not a file")
        return Folder(path, multi_file=multi_file)
    return SingleFile(path)


def output_folder(dest: Destination | None) -> Path | None:
    """The folder a walk must not descend into (results written there are not inputs)."""
    return dest.root if isinstance(dest, Folder) else None


__all__ = ["STDOUT", "SingleFile", "Template", "ToStdout", "output_folder", "parse_output"]
