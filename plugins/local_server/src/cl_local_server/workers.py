"""The worker pool: N workers, each running one job at a time, executors in a thread pool.

Each worker takes the oldest queued job of a type it has an executor for (by ``created_at``;
``priority`` is stored but not used, as upstream). Workers advertise themselves on
``<prefix>/<worker_id>`` (retained, QoS 1) on start, around each job (idle 0 while running, 1
after), on every heartbeat and when the executor registry changes; they clear the topic on a clean
stop and leave a last will that clears it if they vanish. Unlike the reference worker they do not
flip to busy at every idle poll (PROTOCOL B18), so ``/capabilities`` only shows 0 while a job really
runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import cast

from cl_local_server.config import ServerConfig
from cl_local_server.executors import Executor, ExecutorRegistry, ProcessTracker, TaskContext
from cl_local_server.forms import JsonValue
from cl_local_server.job_store import JsonObject
from cl_local_server.jobs import JobQueue
from cl_local_server.mqtt import MqttEndpoint, Will, capability_payload

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, pool: WorkerPool, worker_id: str, endpoint: MqttEndpoint | None) -> None:
        self.pool = pool
        self.worker_id = worker_id
        self.endpoint = endpoint
        self.idle = True
        self.wakeup = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.current_job: str | None = None

    @property
    def topic(self) -> str:
        return f"{self.pool.config.workers_topic_prefix}/{self.worker_id}"

    def advertise(self) -> None:
        if self.endpoint is None:
            return
        payload = capability_payload(
            self.worker_id, self.pool.registry.task_types(), self.idle, self.pool.config.compat
        )
        self.endpoint.publish(self.topic, payload, qos=1, retain=True)

    async def run(self) -> None:
        pool = self.pool
        while not pool.stopping:
            # Off the loop: SQLite may wait on a lock held by another connection.
            job = await asyncio.to_thread(pool.queue.claim, pool.registry.task_types())
            if job is not None and pool.stopping:
                break  # claimed during the stop: left processing, requeued by the next start
            if job is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wakeup.wait(), pool.config.poll_interval)
                self.wakeup.clear()
                continue
            self.idle = False
            self.current_job = str(job["job_id"])
            self.advertise()
            try:
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(pool.executor_threads, pool.execute, job)
            finally:
                self.current_job = None
                self.idle = True
                if not pool.stopping:
                    self.advertise()

    def stop(self) -> None:
        if self.endpoint is None:
            return
        info = self.endpoint.publish(self.topic, b"", qos=1, retain=True)
        self.endpoint.close([info] if info is not None else [])


class WorkerPool:
    def __init__(
        self,
        config: ServerConfig,
        queue: JobQueue,
        registry: ExecutorRegistry,
        processes: ProcessTracker,
        mqtt_host: str | None,
        mqtt_port: int,
        mqtt_v5: bool,
    ) -> None:
        self.config = config
        self.queue = queue
        self.registry = registry
        self.processes = processes
        self._mqtt = (mqtt_host, mqtt_port, mqtt_v5)
        self.workers: list[Worker] = []
        self.stopping = False
        self.executor_threads = ThreadPoolExecutor(
            max_workers=max(1, config.workers), thread_name_prefix="cl-executor"
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._heartbeat: asyncio.Task[None] | None = None

    @property
    def worker_ids(self) -> list[str]:
        return [w.worker_id for w in self.workers]

    def _endpoint(self, worker_id: str) -> MqttEndpoint | None:
        host, port, v5 = self._mqtt
        if host is None:
            return None
        topic = f"{self.config.workers_topic_prefix}/{worker_id}"
        return MqttEndpoint(host, port, worker_id, v5=v5, will=Will(topic))

    async def start(self, compute_port: int) -> None:
        self._loop = asyncio.get_running_loop()
        ids = [f"local-worker-{compute_port}-{i}" for i in range(1, self.config.workers + 1)]
        self.workers = [Worker(self, wid, self._endpoint(wid)) for wid in ids]
        # Connect all workers at once; each connect blocks until its CONNACK.
        await asyncio.gather(
            *(asyncio.to_thread(w.endpoint.connect) for w in self.workers if w.endpoint is not None)
        )
        for worker in self.workers:
            worker.advertise()
            worker.task = asyncio.create_task(worker.run(), name=worker.worker_id)
        self.queue.on_new_job(self.notify)
        self.queue.on_delete(self.processes.kill_job)
        self.registry.add_listener(self._registry_changed)
        self._heartbeat = asyncio.create_task(self._beat(), name="worker-heartbeat")

    def notify(self) -> None:
        """Wake idle workers (callable from any thread)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        for worker in self.workers:
            loop.call_soon_threadsafe(worker.wakeup.set)

    def _registry_changed(self) -> None:
        for worker in self.workers:
            worker.advertise()
        self.notify()

    async def _beat(self) -> None:
        while not self.stopping:
            await asyncio.sleep(self.config.heartbeat_seconds)
            for worker in self.workers:
                worker.advertise()

    def execute(self, job: JsonObject) -> None:
        """Run one claimed job to ``completed`` or ``error`` (in an executor thread)."""
        job_id = str(job["job_id"])
        task_type = str(job["task_type"])
        params = cast(dict[str, JsonValue], job["params"])
        job_dir = self.queue.job_dir(job_id)
        executor = self.registry.get(task_type)
        if executor is None:
            self.queue.fail(job_id, f"No executor registered for task type {task_type}")
            return
        processes = self.processes.for_job(job_id)
        try:
            if not self.queue.exists(job_id):
                return  # deleted between the claim and here
            self._run(executor, job_id, task_type, params, processes)
        finally:
            self.processes.forget_job(job_id)
            # A job deleted while running: its executor may have recreated files under the job
            # directory after the delete removed it.
            if not self.stopping and not self.queue.exists(job_id):
                shutil.rmtree(job_dir, ignore_errors=True)

    def _run(
        self,
        executor: Executor,
        job_id: str,
        task_type: str,
        params: dict[str, JsonValue],
        processes: ProcessTracker,
    ) -> None:
        job_dir = self.queue.job_dir(job_id)
        ctx = TaskContext(
            job_id=job_id,
            task_type=task_type,
            job_dir=job_dir,
            input_path=job_dir / str(params.get("input_path", "")),
            output_path=job_dir / str(params.get("output_path", "output")),
            params=dict(params),
            progress_callback=lambda percent: self.queue.progress(job_id, percent),
            processes=processes,
        )
        try:
            output = executor(ctx)
            # Round-trip through JSON so odd values (Paths, numpy scalars) cannot break the record.
            task_output = cast(JsonObject, json.loads(json.dumps(output, default=_jsonable)))
        except Exception as exc:
            if self.stopping:
                # Killed by the shutdown (ffmpeg children are killed): leave it for the next start.
                log.info("job %s interrupted by shutdown", job_id)
                return
            log.info("job %s failed: %s", job_id, exc)
            self.queue.fail(job_id, str(exc) or type(exc).__name__)
            return
        self.queue.complete(job_id, task_output)

    async def stop(self, grace: float = 10.0) -> None:
        self.stopping = True
        self.registry.remove_listener(self._registry_changed)
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        self.notify()
        # Executors that run ffmpeg return as soon as their child is killed.
        self.processes.kill_all()
        tasks = [w.task for w in self.workers if w.task is not None]
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
        await asyncio.gather(*(asyncio.to_thread(w.stop) for w in self.workers))
        self.executor_threads.shutdown(wait=False, cancel_futures=True)


def _jsonable(value: object) -> object:
    if isinstance(value, Path):
        return str(value)
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return item()
    tolist = getattr(value, "tolist", None)  # numpy arrays
    if callable(tolist):
        return tolist()
    return str(value)
