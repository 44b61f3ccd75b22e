"""``cl plugins new``: write a complete plugin package from the templates in ``plugin_template/``.

The package is ``cl-plugin-NAME`` (module ``cl_plugin_NAME``) with the ``cl.plugins`` entry point,
the hooks, a typed task client, a command on the task-command frame, a renderer, a README and
tests that use the local server's pytest fixtures. A task type the protocol does not define gets
an executor for the local server too (a word count, to replace), declared under the entry-point
group ``cl_local_server.executors``, so the tests and ``cl -p local`` can run it.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Final

from cl_client.errors import InvalidInputError

#: The task types of the CL server protocol (PROTOCOL.md, "The nine tasks"): a plugin for one of
#: these submits to the server's own workers and brings no executor.
PROTOCOL_TASK_TYPES: Final = frozenset(
    {
        "clip_embedding",
        "dino_embedding",
        "exif",
        "face_detection",
        "face_embedding",
        "hash",
        "hls_streaming",
        "image_conversion",
        "media_thumbnail",
    }
)

_NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
_TASK = re.compile(r"[a-z][a-z0-9_]*")
_PREFIX = "cl-plugin-"


@dataclass(frozen=True)
class PluginPlan:
    """What ``cl plugins new`` writes: names, and the folder to create."""

    name: str
    task: str
    folder: Path

    @property
    def distribution(self) -> str:
        return _PREFIX + self.name

    @property
    def module(self) -> str:
        return "cl_plugin_" + self.name.replace("-", "_")

    @property
    def class_prefix(self) -> str:
        return "".join(part.capitalize() for part in self.name.split("-"))

    @property
    def own_task(self) -> bool:
        """Whether the task type is the plugin's own (not one of the protocol's)."""
        return self.task not in PROTOCOL_TASK_TYPES


def plan(name: str, task: str | None, folder: Path | None, *, reserved: set[str]) -> PluginPlan:
    """Check the names and the folder; InvalidInputError (one line) for any problem."""
    if name.startswith(_PREFIX):
        raise InvalidInputError(
            f"give the plugin's name without {_PREFIX!r} (e.g. {name.removeprefix(_PREFIX)!r}): "
            f"the package is called {_PREFIX}NAME"
        )
    if not _NAME.fullmatch(name):
        raise InvalidInputError(
            f"invalid plugin name {name!r}: use lower-case letters and digits, words joined by "
            "dashes, starting with a letter (e.g. word-count)"
        )
    if name in reserved:
        raise InvalidInputError(f"{name!r} is a built-in cl command: choose another plugin name")
    task_type = name.replace("-", "_") if task is None else task
    if not _TASK.fullmatch(task_type):
        raise InvalidInputError(
            f"invalid task type {task_type!r}: use lower-case letters, digits and underscores, "
            "starting with a letter (e.g. word_count)"
        )
    target = Path(folder if folder is not None else _PREFIX + name).expanduser().absolute()
    if target.exists() or target.is_symlink():
        raise InvalidInputError(f"{target} already exists: choose a new folder with --dir")
    if not target.parent.is_dir():
        raise InvalidInputError(f"no such folder: {target.parent}")
    return PluginPlan(name, task_type, target)


def core_range(version: str) -> str:
    """The ``cl-client`` range a new plugin declares: this core's minor series while it is 0.x,
    its major series after (``0.1.3`` → ``>=0.1,<0.2``; ``1.4.0`` → ``>=1.4,<2``)."""
    from packaging.version import Version

    release = Version(version).release
    major, minor = release[0], release[1] if len(release) > 1 else 0
    if major == 0:
        return f">=0.{minor},<0.{minor + 1}"
    return f">={major}.{minor},<{major + 1}"


def clone_root() -> Path | None:
    """The cl repository the running ``cl-client`` was installed from (a folder or an editable
    install of ``core/``), when it holds the local server too; None for an installed wheel."""
    import json
    from importlib.metadata import PackageNotFoundError, distribution
    from urllib.parse import unquote, urlparse

    try:
        text = distribution("cl-client").read_text("direct_url.json")
    except PackageNotFoundError:
        return None
    if not text:
        return None
    try:
        url = json.loads(text).get("url")
    except (ValueError, AttributeError):
        return None
    if not isinstance(url, str) or not url.startswith("file://"):
        return None
    core = Path(unquote(urlparse(url).path))
    root = core.parent
    if (core / "pyproject.toml").is_file() and (
        root / "plugins" / "local_server" / "pyproject.toml"
    ).is_file():
        return root
    return None


def _source(root: Path | None, folder: Path, part: str) -> str:
    """Where ``[tool.uv.sources]`` finds ``part`` of the clone, relative to the new package; a
    clone beside the package (``../cl``, as CONTRIBUTING.md lays it out) when none is known."""
    if root is None:
        return f"../cl/{part}"
    return Path(os.path.relpath(root / part, folder)).as_posix()


def _template_files(own_task: bool) -> dict[str, str]:
    """Template (relative to ``plugin_template/``) → the path it is written to, with
    ``{module}`` and ``{test}`` standing for the package's names."""
    variant = "own_task" if own_task else "protocol_task"
    files = {
        "pyproject.toml.tmpl": "pyproject.toml",
        "README.md.tmpl": "README.md",
        "gitignore.tmpl": ".gitignore",
        "__init__.py.tmpl": "src/{module}/__init__.py",
        "plugin.py.tmpl": "src/{module}/plugin.py",
        f"{variant}/cli.py.tmpl": "src/{module}/cli.py",
        f"{variant}/client.py.tmpl": "src/{module}/client.py",
        f"{variant}/render.py.tmpl": "src/{module}/render.py",
        f"{variant}/test.py.tmpl": "tests/{test}",
    }
    if own_task:
        files["own_task/executor.py.tmpl"] = "src/{module}/executor.py"
    return files


def _values(plan: PluginPlan, core_version: str, root: Path | None) -> dict[str, str]:
    if plan.own_task:
        summary = f"line, word and byte counts of files (the {plan.task} task)."
        task_note = (
            f"`{plan.task}` is this plugin's own task type: `{plan.module}.executor` runs it on "
            "the local server (a word count, to replace with the real work), declared under the "
            "entry-point group `cl_local_server.executors`, so `cl server run` and "
            f"`cl -p local` offer `{plan.task}` once this package is installed. A CL server "
            f"needs a worker for `{plan.task}` (`cl tasks` lists what a server offers)."
        )
        entry_point = (
            '\n[project.entry-points."cl_local_server.executors"]\n'
            f'{plan.task} = "{plan.module}.executor:run_{plan.task}"\n'
        )
        example_input = "notes.txt"
    else:
        summary = f"the server's {plan.task} task on media files."
        task_note = (
            f"The server must offer the `{plan.task}` task (`cl tasks`); the local server runs "
            "it, so the tests and `cl -p local` need nothing else."
        )
        entry_point = ""
        example_input = "photo.jpg"
    return {
        "name": plan.name,
        "dist": plan.distribution,
        "module": plan.module,
        "task": plan.task,
        "cls": plan.class_prefix,
        "summary": summary[0].upper() + summary[1:],
        "task_note": task_note,
        "example_input": example_input,
        "core_range": core_range(core_version),
        "core_source": _source(root, plan.folder, "core"),
        "server_source": _source(root, plan.folder, "plugins/local_server"),
        "executor_entry_point": entry_point,
        "executor_layout_note": (
            '; its executor in "cl_local_server.executors"' if plan.own_task else ""
        ),
        "executor_layout": (
            f"\n  executor.py            runs {plan.task} on the local server"
            if plan.own_task
            else ""
        ),
    }


def write(plan: PluginPlan, core_version: str, root: Path | None) -> list[Path]:
    """Write the package into ``plan.folder`` (all or nothing: it is assembled in a temporary
    folder beside it and renamed into place); the files written, relative to the folder."""
    from importlib.resources import files

    templates = files("cl_client.cli") / "plugin_template"
    values = _values(plan, core_version, root)
    names = {"module": plan.module, "test": f"test_{plan.name.replace('-', '_')}.py"}
    written: list[Path] = []
    staging = Path(tempfile.mkdtemp(prefix=f".{plan.folder.name}-", dir=plan.folder.parent))
    try:
        for template, dest in _template_files(plan.own_task).items():
            text = Template(templates.joinpath(template).read_text(encoding="utf-8"))
            relative = Path(dest.format(**names))
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text.substitute(values), encoding="utf-8")
            written.append(relative)
        (staging / "src" / plan.module / "py.typed").touch()
        written.append(Path("src", plan.module, "py.typed"))
        staging.chmod(0o777 & ~_umask())
        if plan.folder.exists():
            raise InvalidInputError(f"{plan.folder} already exists: choose a new folder with --dir")
        staging.rename(plan.folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return sorted(written)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
