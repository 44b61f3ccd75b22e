"""Task executors: what a worker runs for each task type, and a registry users and tests can extend.

An executor is a plain function ``(TaskContext) -> dict`` that reads ``ctx.input_path``, writes its
result files under ``ctx.job_dir`` and returns the job's ``task_output``. Raising marks the job
``error`` with the exception text. Executors run in a thread pool, so they may block.

``face_embedding`` runs SFace (128 values, not upstream's 512) from a model shipped in a package.
``clip_embedding`` and ``dino_embedding`` have no built-in executor: no package ships their model
weights. Until one is registered they are absent from ``/capabilities`` and from the workers'
capability messages, and their jobs stay ``queued``, which is what a real server without such a
worker does.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, cast

#: The nine task types of the protocol.
TASK_TYPES: tuple[str, ...] = (
    "clip_embedding",
    "dino_embedding",
    "exif",
    "face_detection",
    "face_embedding",
    "hash",
    "hls_streaming",
    "image_conversion",
    "media_thumbnail",
)

#: Tasks whose model weights no package ships: no built-in executor on purpose.
MODEL_TASK_TYPES: tuple[str, ...] = ("clip_embedding", "dino_embedding")


#: The only variables a child process (ffmpeg, exiftool, …) inherits: what finding programs,
#: locales, time zones and temporary files need. Everything else, such as ``CL_PASSWORD`` or
#: ``CL_TOKEN`` in the environment of ``cl -p local``, stays in this process.
CHILD_ENV_NAMES: frozenset[str] = frozenset(
    (
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TMPDIR",
        "TEMP",
        "TMP",
        "PERL5LIB",
    )
)


def child_environment() -> dict[str, str]:
    """The environment child processes start with: :data:`CHILD_ENV_NAMES` and ``LC_*``."""
    return {
        name: value
        for name, value in os.environ.items()
        if name in CHILD_ENV_NAMES or name.startswith("LC_")
    }


class ProcessStoppedError(RuntimeError):
    """The server is stopping; no new child processes are started."""


class ProcessTracker:
    """Runs child processes (ffmpeg, exiftool) so that stopping the server can kill them all.

    :meth:`for_job` gives one job its own tracker, so deleting that job can kill just its children.
    """

    def __init__(self, parent: ProcessTracker | None = None) -> None:
        self._parent = parent
        # A job's tracker shares its parent's lock, so a kill and a start cannot interleave.
        self._lock = parent._lock if parent is not None else threading.Lock()
        self._running: set[subprocess.Popen[bytes]] = set()
        self._stopped = False
        self._jobs: dict[str, ProcessTracker] = {}

    def _is_stopped(self) -> bool:
        return self._stopped or (self._parent is not None and self._parent._is_stopped())

    def popen(
        self,
        args: Sequence[str],
        *,
        stdout: int | IO[bytes] | None = subprocess.PIPE,
        stderr: int | IO[bytes] | None = subprocess.PIPE,
    ) -> subprocess.Popen[bytes]:
        """Start a tracked child; call :meth:`release` when done with it."""
        with self._lock:
            if self._is_stopped():
                raise ProcessStoppedError("server is stopping")
            proc = subprocess.Popen(
                list(args),
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                env=child_environment(),
            )
            self._running.add(proc)
            if self._parent is not None:
                self._parent._running.add(proc)
        return proc

    def release(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._running.discard(proc)
            if self._parent is not None:
                self._parent._running.discard(proc)

    def run(self, args: Sequence[str], *, timeout: float | None = None) -> tuple[int, bytes, bytes]:
        """Run to completion; returns ``(returncode, stdout, stderr)``."""
        proc = self.popen(args)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        finally:
            self.release(proc)
        return proc.returncode, out, err

    def for_job(self, job_id: str) -> ProcessTracker:
        """A tracker for one job's children (also killed by this tracker's :meth:`kill_all`)."""
        child = ProcessTracker(self)
        with self._lock:
            self._jobs[job_id] = child
        return child

    def forget_job(self, job_id: str) -> None:
        with self._lock:
            self._jobs.pop(job_id, None)

    def kill_job(self, job_id: str) -> None:
        """Kill one job's children and refuse new ones for it (the job was deleted)."""
        with self._lock:
            child = self._jobs.get(job_id)
        if child is not None:
            child.kill_all()

    def kill_all(self) -> None:
        with self._lock:
            self._stopped = True
            procs = list(self._running)
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)

    @property
    def running(self) -> int:
        with self._lock:
            return sum(1 for p in self._running if p.poll() is None)


def _no_progress(_percent: int) -> None:
    return None


@dataclass
class TaskContext:
    """What an executor gets for one job. Paths are absolute."""

    job_id: str
    task_type: str
    job_dir: Path
    input_path: Path
    #: Where ``params.output_path`` points (a directory for ``hls_streaming``).
    output_path: Path
    params: dict[str, object]
    progress_callback: Callable[[int], None] = field(default=_no_progress, repr=False)
    processes: ProcessTracker = field(default_factory=ProcessTracker, repr=False)

    def progress(self, percent: int) -> None:
        """Report progress; capped at 99 (100 is set on completion) and published as an event."""
        self.progress_callback(max(0, min(99, int(percent))))


Executor = Callable[[TaskContext], dict[str, object]]


class ExecutorRegistry:
    """Task type → executor. Thread-safe; listeners hear about every change (workers
    re-advertise)."""

    def __init__(self, executors: dict[str, Executor] | None = None) -> None:
        self._lock = threading.Lock()
        self._executors: dict[str, Executor] = dict(executors or {})
        self._listeners: list[Callable[[], None]] = []
        #: One line per executor that could not be loaded (see :func:`default_registry`).
        self.problems: list[str] = []

    def register(self, task_type: str, executor: Executor) -> None:
        if not task_type or "/" in task_type:
            raise ValueError(f"invalid task type {task_type!r}")
        with self._lock:
            self._executors[task_type] = executor
        self._changed()

    def unregister(self, task_type: str) -> None:
        with self._lock:
            removed = self._executors.pop(task_type, None)
        if removed is not None:
            self._changed()

    def get(self, task_type: str) -> Executor | None:
        with self._lock:
            return self._executors.get(task_type)

    def task_types(self) -> list[str]:
        with self._lock:
            return sorted(self._executors)

    def __contains__(self, task_type: object) -> bool:
        with self._lock:
            return task_type in self._executors

    def add_listener(self, listener: Callable[[], None]) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[], None]) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _changed(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener()


def builtin_executors() -> dict[str, Executor]:
    """The executors this package runs for real (every task but clip and dino embeddings)."""
    from cl_local_server.executors.exif import run_exif
    from cl_local_server.executors.faces import run_face_detection, run_face_embedding
    from cl_local_server.executors.hashing import run_hash
    from cl_local_server.executors.hls import run_hls_streaming
    from cl_local_server.executors.images import run_image_conversion, run_media_thumbnail

    return {
        "exif": run_exif,
        "face_detection": run_face_detection,
        "face_embedding": run_face_embedding,
        "hash": run_hash,
        "hls_streaming": run_hls_streaming,
        "image_conversion": run_image_conversion,
        "media_thumbnail": run_media_thumbnail,
    }


#: The entry-point group through which an installed package gives the local server executors for
#: its own task types: the entry point's name is the task type, its value ``module:function``.
ENTRY_POINT_GROUP = "cl_local_server.executors"


class ExecutorLoadError(ValueError):
    """An executor named as ``module:function`` cannot be loaded (the message is one line)."""


def load_executor(target: str) -> Executor:
    """Import the executor ``target`` names (``package.module:function``)."""
    import importlib

    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ExecutorLoadError(f"{target!r} is not of the form module:function")
    try:
        obj: object = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except ImportError as exc:
        raise ExecutorLoadError(f"cannot import {module_name!r}: {exc}") from exc
    except AttributeError:
        raise ExecutorLoadError(f"module {module_name!r} has no {attr!r}") from None
    except Exception as exc:  # the module itself failed while importing
        raise ExecutorLoadError(f"importing {module_name!r} failed: {exc}") from exc
    if not callable(obj):
        raise ExecutorLoadError(f"{target} is not a function")
    return cast(Executor, obj)


def entry_point_executors() -> tuple[dict[str, Executor], list[str]]:
    """The executors installed packages declare in :data:`ENTRY_POINT_GROUP`, and one line per
    entry point that could not be loaded (it is skipped)."""
    from importlib.metadata import entry_points

    found: dict[str, Executor] = {}
    problems: list[str] = []
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        dist = entry.dist.name if entry.dist is not None else "an unknown package"
        try:
            found[entry.name] = load_executor(entry.value)
        except ExecutorLoadError as exc:
            problems.append(f"executor for {entry.name!r} from {dist} not loaded: {exc}")
    return found, problems


def default_registry() -> ExecutorRegistry:
    """The built-in executors plus those of installed packages (:data:`ENTRY_POINT_GROUP`); a
    built-in task type keeps its built-in executor."""
    registry = ExecutorRegistry(builtin_executors())
    found, problems = entry_point_executors()
    for task_type, executor in sorted(found.items()):
        if task_type in registry:
            problems.append(f"executor for {task_type!r} from an entry point ignored: built in")
            continue
        try:
            registry.register(task_type, executor)
        except ValueError as exc:
            problems.append(f"executor for {task_type!r} from an entry point ignored: {exc}")
    registry.problems.extend(problems)
    return registry


__all__ = [
    "ENTRY_POINT_GROUP",
    "MODEL_TASK_TYPES",
    "TASK_TYPES",
    "Executor",
    "ExecutorLoadError",
    "ExecutorRegistry",
    "ProcessStoppedError",
    "ProcessTracker",
    "TaskContext",
    "builtin_executors",
    "child_environment",
    "default_registry",
    "entry_point_executors",
    "load_executor",
]
