"""A blocking facade over the async library, for scripts and notebooks.

Every call runs the async implementation on one event loop that lives on a worker thread (started
on first use, shared by every :class:`Client` of the process), and waits for it. Nothing is
implemented twice: each method is the async method of the same name, run on that loop. Because the
loop is not the caller's, the facade works the same from a plain script and from code that already
runs inside an event loop, such as a Jupyter cell (no ``nest_asyncio``)::

    from cl_client.sync import Client
    from cl_plugin_hash.client import HashClient

    with Client(profile="nas") as client:
        created = client.submit("hash", "photo.jpg", {"algorithm": "md5"})
        job = client.wait(created.job_id, timeout=30, on_progress=print)
        hashes = client.task(HashClient)
        print(hashes.compute_hash("photo.jpg", algorithm="md5").hash_value)
        for outcome in client.batch(HashClient, ["a.jpg", "b.jpg"], {"algorithm": "md5"}):
            print(outcome.item.path, outcome.result)

Callbacks (``on_progress``) run on the calling thread, while the call waits, so they may touch
the caller's state freely; an exception they raise cancels the call and propagates. Anything the
facade does not wrap is one :meth:`Client.run` away: ``client.run(lambda c: c.auth.me())``.
Inside a running loop, prefer the async API itself (``await``): a blocking call holds that loop
until it returns.
"""

from __future__ import annotations

import asyncio
import os
import queue
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Generator, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Final, Generic, TypeVar

from cl_client.tasks import QUEUE_TIMEOUT

if TYPE_CHECKING:
    from cl_client.batch import BatchItem, Destination, Outcome
    from cl_client.client import Client as AsyncClient
    from cl_client.config import Overrides, Settings
    from cl_client.models import Capabilities, FormValue, Job, JobCreated, JobProgress, User
    from cl_client.tasks import TaskClient, TaskResult

T = TypeVar("T")
R = TypeVar("R", bound="TaskResult")
A = TypeVar("A")


class _Done:
    """The end of one call, put on the caller's queue."""


class _Portal:
    """The event loop on its worker thread, and calls into it from other threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._thread is None or not self._thread.is_alive():
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def serve() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                thread = threading.Thread(target=serve, name="cl-client-sync", daemon=True)
                thread.start()
                ready.wait()
                self._loop, self._thread = loop, thread
            return self._loop

    def run(
        self,
        make: Callable[[Relay], Coroutine[object, object, T]],
    ) -> T:
        """Run ``make(relay)`` on the loop and return its result; callbacks wrapped by ``relay``
        run here, on the calling thread, while it waits."""
        loop = self.loop()
        if threading.current_thread() is self._thread:
            raise RuntimeError(
                "a cl_client.sync call was made from a callback running on the facade's own "
                "event loop; call the async API there instead"
            )
        relay = Relay()
        future = asyncio.run_coroutine_threadsafe(make(relay), loop)
        future.add_done_callback(lambda _f: relay.events.put(_Done()))
        failure: BaseException | None = None
        try:
            while True:
                event = relay.events.get()
                if isinstance(event, _Done):
                    break
                if failure is None:
                    try:
                        event()
                    except BaseException as exc:  # a callback's error ends the call
                        failure = exc
                        future.cancel()
        except BaseException:  # Ctrl-C while waiting: the call is cancelled too
            future.cancel()
            raise
        if failure is not None:
            raise failure
        return future.result()


class Relay:
    """Hands a callback's calls from the loop thread to the caller's thread."""

    def __init__(self) -> None:
        self.events: queue.SimpleQueue[Callable[[], object] | _Done] = queue.SimpleQueue()

    def wrap(self, callback: Callable[[A], object] | None) -> Callable[[A], None] | None:
        """``callback`` made safe to call on the loop: each call runs on the caller's thread."""
        if callback is None:
            return None
        fn = callback

        def relayed(value: A) -> None:
            self.events.put(lambda: fn(value))

        return relayed


_portal: Final = _Portal()


def run(coro: Coroutine[object, object, T]) -> T:
    """Run one coroutine on the facade's loop and return its result (blocking)."""

    async def call(_relay: Relay) -> T:
        return await coro

    return _portal.run(call)


class Client:
    """The blocking :class:`cl_client.client.Client`: same arguments, same meaning. Use it with
    ``with`` (or call :meth:`close`)."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        profile: str | None = None,
        overrides: Overrides | None = None,
    ) -> None:
        from cl_client.client import Client as AsyncClient

        self.aio: AsyncClient = AsyncClient(settings, profile=profile, overrides=overrides)
        self._open = False

    def __enter__(self) -> Client:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def open(self) -> None:
        """Bring up the profile's services if it has a launcher (``with`` does this)."""
        if not self._open:
            run(self.aio.__aenter__())
            self._open = True

    def close(self) -> None:
        """Close the connections and stop launched services."""
        run(self.aio.aclose())
        self._open = False

    def run(self, fn: Callable[[AsyncClient], Coroutine[object, object, T]]) -> T:
        """``await fn(async_client)`` on the facade's loop: anything the async API can do."""
        return run(fn(self.aio))

    # -- sessions --

    def login(self, username: str | None = None, password: str | None = None) -> User:
        """Log in (storing the token for later processes) and return the user."""
        return run(self.aio.login(username, password))

    def logout(self) -> bool:
        return self.aio.logout()

    # -- jobs --

    def capabilities(self) -> Capabilities:
        return run(self.aio.compute.capabilities())

    def submit(
        self,
        task_type: str,
        file: str | os.PathLike[str],
        form: Mapping[str, FormValue] | None = None,
        *,
        priority: int = 5,
        check_capability: bool = False,
    ) -> JobCreated:
        """Upload ``file`` as a job of ``task_type`` (see ``ComputeClient.submit``)."""
        return run(
            self.aio.compute.submit(
                task_type, file, form, priority=priority, check_capability=check_capability
            )
        )

    def get_job(self, job_id: str) -> Job:
        return run(self.aio.compute.get_job(job_id))

    def delete_job(self, job_id: str) -> None:
        run(self.aio.compute.delete_job(job_id))

    def wait(
        self,
        job_id: str,
        *,
        timeout: float | None = None,
        queue_timeout: float | None = QUEUE_TIMEOUT,
        on_progress: Callable[[JobProgress], object] | None = None,
        on_complete: Callable[[Job], object] | None = None,
    ) -> Job:
        """Wait for the job to finish and return its final record; the callbacks run on this
        thread as events arrive (see ``ComputeClient.wait``)."""
        compute = self.aio.compute

        async def call(relay: Relay) -> Job:
            return await compute.wait(
                job_id,
                timeout=timeout,
                queue_timeout=queue_timeout,
                on_progress=relay.wrap(on_progress),
                on_complete=relay.wrap(on_complete),
            )

        return _portal.run(call)

    def download(self, job_id: str, file_path: str, dest: str | os.PathLike[str]) -> Path:
        """Save the job's file ``file_path`` to ``dest`` (a file or an existing folder)."""
        return run(self.aio.compute.download(job_id, file_path, Path(dest)))

    # -- typed task clients and batches --

    def task(self, client_class: type[TaskClient[R]]) -> SyncTask[R]:
        """The blocking form of a typed task client (any :class:`~cl_client.tasks.TaskClient`
        subclass, e.g. a plugin's)."""
        return SyncTask(client_class(self.aio.compute))

    def batch(
        self,
        task: type[TaskClient[R]] | SyncTask[R],
        inputs: Iterable[BatchItem | str | os.PathLike[str]],
        form: Mapping[str, FormValue] | None = None,
        *,
        concurrency: int = 4,
        priority: int = 5,
        timeout: float | None = None,
        queue_timeout: float | None = QUEUE_TIMEOUT,
        dest: Destination | None = None,
        force: bool = False,
    ) -> Generator[Outcome[R]]:
        """Run a :class:`~cl_client.batch.Batch` and yield each input's outcome as it completes.
        Jobs keep running between two ``next()`` calls; leaving the loop early cancels the rest
        (submitted jobs go on on the server)."""
        from cl_client.batch import Batch

        typed = task.aio if isinstance(task, SyncTask) else task(self.aio.compute)
        batch = Batch(
            typed,
            form,
            concurrency=concurrency,
            priority=priority,
            timeout=timeout,
            queue_timeout=queue_timeout,
            dest=dest,
            force=force,
        )
        return iterate(batch.run(inputs))


def iterate(agen: AsyncIterator[T]) -> Generator[T]:
    """A blocking iterator over an async iterator, stepped on the facade's loop. Closing it (or
    leaving a ``for`` loop early) closes the async iterator there."""

    async def step() -> tuple[bool, T | None]:
        try:
            return True, await agen.__anext__()
        except StopAsyncIteration:
            return False, None

    try:
        while True:
            more, value = run(step())
            if not more:
                return
            yield value  # pyright: ignore[reportReturnType] - set whenever more is True
    finally:
        aclose = getattr(agen, "aclose", None)
        if aclose is not None:
            run(aclose())


class SyncTask(Generic[R]):
    """A typed task client whose coroutine methods block. The common ones are typed here; any
    other async method of the wrapped client (a plugin's ``compute_hash``) is wrapped on access,
    taking the same arguments. ``aio`` is the async client."""

    def __init__(self, aio: TaskClient[R]) -> None:
        self.aio = aio

    @property
    def task_type(self) -> str:
        return self.aio.task_type

    def submit_form(
        self, file: str | os.PathLike[str], form: Mapping[str, FormValue], *, priority: int = 5
    ) -> JobCreated:
        return run(self.aio.submit_form(file, form, priority=priority))

    def wait_result(
        self,
        job_id: str,
        *,
        timeout: float | None = None,
        on_progress: Callable[[JobProgress], object] | None = None,
        dest: str | os.PathLike[str] | None = None,
        queue_timeout: float | None = QUEUE_TIMEOUT,
    ) -> R:
        aio = self.aio

        async def call(relay: Relay) -> R:
            return await aio.wait_result(
                job_id,
                timeout=timeout,
                on_progress=relay.wrap(on_progress),
                dest=None if dest is None else Path(dest),
                queue_timeout=queue_timeout,
            )

        return _portal.run(call)

    def collect(self, job: Job, dest: str | os.PathLike[str] | None = None) -> R:
        return run(self.aio.collect(job, None if dest is None else Path(dest)))

    def __getattr__(self, name: str) -> Callable[..., object]:
        import inspect

        method: object = getattr(self.aio, name)
        if not callable(method):
            raise AttributeError(name)
        if not inspect.iscoroutinefunction(method):
            return method

        def blocking(*args: object, **kwargs: object) -> object:
            coro: Coroutine[object, object, object] = method(*args, **kwargs)
            return run(coro)

        blocking.__name__ = name
        blocking.__doc__ = getattr(method, "__doc__", None)
        return blocking


__all__ = ["Client", "Relay", "SyncTask", "iterate", "run"]
