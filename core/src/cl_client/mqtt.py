"""The MQTT side: job events and worker capabilities from the broker.

One paho-mqtt connection per broker and process (see :func:`shared_monitor`), shared by every wait.
It subscribes to the job-event topic and the worker-capability topics as soon as it connects, so it
is listening before any job is submitted. Events for a job nobody watches yet are kept for a while
(``buffer_seconds``), because a fast job can finish before its waiter registers.

paho runs its network loop in a thread of its own; events reach asyncio code through
``loop.call_soon_threadsafe`` into the queue of a :class:`JobWatch`, never by calling user code on
the paho thread. Payloads are decoded tolerantly: unknown fields are ignored, and a malformed
payload is logged at debug level and dropped.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Final

import msgspec

from cl_client.config import DEFAULT_EVENTS_TOPIC, DEFAULT_WORKERS_TOPIC, parse_mqtt_url
from cl_client.models import JobEvent, WorkerCapability

if TYPE_CHECKING:
    import paho.mqtt.client as paho
    from paho.mqtt.properties import Properties
    from paho.mqtt.reasoncodes import ReasonCode

log = logging.getLogger(__name__)

#: How long events of a job nobody watches yet are kept.
BUFFER_SECONDS: Final = 30.0
_MAX_BUFFERED_JOBS: Final = 1000
_MAX_EVENTS_PER_JOB: Final = 200
_KEEPALIVE: Final = 60


class JobWatch:
    """The events of one job, delivered into the event loop that created the watch.

    Iterate over it (``async for event in watch``) to receive events until a terminal one, or call
    :meth:`get` with a timeout. Close it (or use it as a context manager) when done.
    """

    def __init__(self, monitor: MqttMonitor, job_id: str, loop: asyncio.AbstractEventLoop) -> None:
        self.monitor = monitor
        self.job_id = job_id
        self._loop = loop
        self._queue: asyncio.Queue[JobEvent] = asyncio.Queue()
        self._done = False
        #: How many events were delivered to this watch.
        self.received = 0

    def _deliver(self, event: JobEvent) -> None:
        """Called on the paho thread."""
        try:
            self._loop.call_soon_threadsafe(self._put, event)
        except RuntimeError:
            # The loop is closed: nobody is listening any more.
            self.monitor._unwatch(self)  # pyright: ignore[reportPrivateUsage]

    def _put(self, event: JobEvent) -> None:
        self.received += 1
        self._queue.put_nowait(event)

    async def get(self, timeout: float | None = None) -> JobEvent | None:  # noqa: ASYNC109
        """The next event, or ``None`` when ``timeout`` seconds pass without one."""
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
        # arrives as the event does, and a cancelled batch would then wait on.
        try:
            async with asyncio.timeout(timeout):
                return await self._queue.get()
        except TimeoutError:
            return None

    def __aiter__(self) -> JobWatch:
        return self

    async def __anext__(self) -> JobEvent:
        if self._done:
            raise StopAsyncIteration
        event = await self._queue.get()
        if event.is_terminal:
            self._done = True
        return event

    def close(self) -> None:
        self.monitor._unwatch(self)  # pyright: ignore[reportPrivateUsage]

    def __enter__(self) -> JobWatch:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class MqttMonitor:
    """One MQTT connection: job events for waiters, and the latest worker capability messages."""

    def __init__(
        self,
        url: str,
        events_topic: str = DEFAULT_EVENTS_TOPIC,
        workers_topic: str = DEFAULT_WORKERS_TOPIC,
        *,
        buffer_seconds: float = BUFFER_SECONDS,
    ) -> None:
        self.url = url
        self.host, self.port = parse_mqtt_url(url)
        self.events_topic = events_topic
        self.workers_topic = workers_topic.rstrip("/")
        self.buffer_seconds = buffer_seconds
        #: Job events received since start (for diagnostics).
        self.events_received = 0
        self._lock = threading.Lock()
        self._watches: dict[str, list[JobWatch]] = {}
        self._buffer: dict[str, deque[tuple[float, JobEvent]]] = {}
        self._workers: dict[str, tuple[float, WorkerCapability]] = {}
        # Topic suffix -> the key a worker is stored under (its payload id may differ).
        self._worker_keys: dict[str, str] = {}
        self._client: paho.Client | None = None
        self._ready = threading.Event()
        self._failed = threading.Event()
        self._first_deadline = 0.0
        self._gave_up = False
        self._epoch = 0
        self._fail_reason = ""

    # -- life cycle --------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while connected and subscribed."""
        return self._ready.is_set()

    async def start(self, timeout: float = 5.0) -> bool:  # noqa: ASYNC109 - a connect deadline
        """Connect and subscribe; ``False`` if the broker does not answer within ``timeout``.

        Only the first connection attempt is waited for (once, by every caller that arrives while
        it runs). After that, paho keeps reconnecting in its own thread (1 s, backing off to 30 s)
        and this returns at once: a broker that is down, or accepts TCP and never answers, costs a
        command at most ``timeout`` once, never again per job; waits poll over HTTP meanwhile and
        use events again as soon as the connection is back.
        """
        with self._lock:
            if self._ready.is_set():
                return True
            if self._client is None:
                self._failed.clear()
                self._first_deadline = time.monotonic() + timeout
                self._client = self._new_client()
                client = self._client
                client.connect_async(self.host, self.port, keepalive=_KEEPALIVE)
                client.loop_start()
            deadline = self._first_deadline
        while time.monotonic() < deadline:
            if self._ready.is_set():
                return True
            if self._failed.is_set():
                break
            await asyncio.sleep(0.01)
        with self._lock:
            if not self._ready.is_set() and not self._gave_up:
                self._gave_up = True
                self._first_deadline = 0.0
                log.debug(
                    "MQTT broker %s unavailable (%s); waits poll over HTTP while it reconnects",
                    self.url,
                    self._fail_reason or f"no answer within {timeout:g} s",
                )
        return self._ready.is_set()

    @property
    def epoch(self) -> int:
        """How many times the subscription was (re-)established. Events published while it was
        down are lost, so a waiter that saw the epoch change must reconcile over HTTP."""
        return self._epoch

    def _new_client(self) -> paho.Client:
        import paho.mqtt.client as paho_client
        from paho.mqtt.enums import CallbackAPIVersion

        # MQTT 3.1.1 with a clean session and a broker-assigned id: what both amqtt and mosquitto
        # accept, and what the reference clients use.
        client = paho_client.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id="",
            clean_session=True,
            protocol=paho_client.MQTTv311,
        )
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    def _shutdown_client(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        self._ready.clear()
        if client is not None:
            try:
                client.disconnect()
            except Exception:  # pragma: no cover - best effort at teardown
                log.debug("error while closing the MQTT connection", exc_info=True)
            # paho's thread may be in a reconnect wait that sleeps up to 1 s between checks;
            # joining it here would stall the event loop, so it is left to finish on its own.
            threading.Thread(target=client.loop_stop, name="cl-mqtt-stop", daemon=True).start()

    def close(self) -> None:
        """Disconnect. Open watches stop receiving events."""
        self._shutdown_client()
        with self._lock:
            self._gave_up = False

    # -- paho callbacks (paho thread) --------------------------------------------------------

    def _on_connect(
        self,
        client: paho.Client,
        userdata: object,
        flags: paho.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        try:
            if reason_code.is_failure:
                self._fail_reason = f"connection refused: {reason_code}"
                self._failed.set()
                return
            client.subscribe([(self.events_topic, 1), (f"{self.workers_topic}/+", 1)])
        except Exception:  # a crash here would kill paho's thread
            log.debug("MQTT on_connect failed", exc_info=True)

    def _on_connect_fail(self, client: paho.Client, userdata: object) -> None:
        self._fail_reason = "cannot connect"
        self._failed.set()

    def _on_disconnect(
        self,
        client: paho.Client,
        userdata: object,
        flags: paho.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        # paho reconnects by itself (with backoff) and on_connect subscribes again.
        self._ready.clear()
        log.debug("MQTT disconnected from %s (%s)", self.url, reason_code)

    def _on_subscribe(
        self,
        client: paho.Client,
        userdata: object,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        if any(code.is_failure for code in reason_codes):
            self._fail_reason = "subscription refused"
            self._failed.set()
            return
        # A failed attempt before a successful reconnect must not make a later start() give up.
        self._failed.clear()
        with self._lock:
            self._epoch += 1
        self._ready.set()

    def _on_message(self, client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        try:
            self.handle_message(message.topic, bytes(message.payload))
        except Exception:  # never let a bad message kill paho's thread
            log.debug("MQTT message on %s dropped", message.topic, exc_info=True)

    # -- message handling --------------------------------------------------------------------

    def handle_message(self, topic: str, payload: bytes) -> None:
        """Route one message (public so that routing can be exercised without a broker)."""
        if topic == self.events_topic:
            self._handle_event(payload)
        elif topic.startswith(self.workers_topic + "/"):
            self._handle_worker(topic[len(self.workers_topic) + 1 :], payload)

    def _handle_event(self, payload: bytes) -> None:
        try:
            event = msgspec.json.decode(payload, type=JobEvent)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.debug("malformed job event dropped: %s", exc)
            return
        now = time.monotonic()
        with self._lock:
            self.events_received += 1
            watches = list(self._watches.get(event.job_id, ()))
            if not watches:
                self._remember(event, now)
        for watch in watches:
            watch._deliver(event)  # pyright: ignore[reportPrivateUsage]

    def _remember(self, event: JobEvent, now: float) -> None:
        """Buffer an event nobody watches yet (lock held)."""
        cutoff = now - self.buffer_seconds
        for job_id in [j for j, q in self._buffer.items() if not q or q[-1][0] < cutoff]:
            del self._buffer[job_id]
        if event.job_id not in self._buffer and len(self._buffer) >= _MAX_BUFFERED_JOBS:
            oldest = min(self._buffer, key=lambda j: self._buffer[j][-1][0])
            del self._buffer[oldest]
        queue = self._buffer.setdefault(event.job_id, deque(maxlen=_MAX_EVENTS_PER_JOB))
        queue.append((now, event))

    def _handle_worker(self, suffix: str, payload: bytes) -> None:
        if not payload.strip():
            with self._lock:
                self._workers.pop(self._worker_keys.pop(suffix, suffix), None)
            return
        try:
            worker = msgspec.json.decode(payload, type=WorkerCapability)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.debug("malformed capability message on %s dropped: %s", suffix, exc)
            return
        key = worker.worker_id or worker.id or suffix
        with self._lock:
            if key != suffix:
                self._workers.pop(suffix, None)
            self._worker_keys[suffix] = key
            self._workers[key] = (time.time(), worker)

    # -- for waiters -------------------------------------------------------------------------

    def watch(self, job_id: str) -> JobWatch:
        """Start receiving ``job_id``'s events (buffered earlier events are delivered first)."""
        watch = JobWatch(self, job_id, asyncio.get_running_loop())
        cutoff = time.monotonic() - self.buffer_seconds
        with self._lock:
            early = self._buffer.pop(job_id, deque[tuple[float, JobEvent]]())
            self._watches.setdefault(job_id, []).append(watch)
        for received_at, event in early:
            if received_at >= cutoff:
                watch._put(event)  # pyright: ignore[reportPrivateUsage]
        return watch

    def _unwatch(self, watch: JobWatch) -> None:
        with self._lock:
            watches = self._watches.get(watch.job_id)
            if watches is not None and watch in watches:
                watches.remove(watch)
                if not watches:
                    del self._watches[watch.job_id]

    def workers(self, *, max_age: float | None = None) -> dict[str, WorkerCapability]:
        """The workers last announced, by id.

        Capability messages are retained, so a crashed worker's message can linger (its last will
        may never fire). With ``max_age`` (seconds), workers whose message ``timestamp`` is older
        are left out; that is for display only — the server's ``/capabilities`` decides.
        """
        with self._lock:
            items = list(self._workers.items())
        now_ms = time.time() * 1000
        out: dict[str, WorkerCapability] = {}
        for key, (_, worker) in items:
            stamp = worker.timestamp
            if max_age is not None and stamp is not None and now_ms - stamp > max_age * 1000:
                continue
            out[key] = worker
        return out


# --- one connection per broker and process --------------------------------------------------

_registry: dict[tuple[str, str, str], tuple[MqttMonitor, int]] = {}
_registry_lock = threading.Lock()


def shared_monitor(
    url: str,
    events_topic: str = DEFAULT_EVENTS_TOPIC,
    workers_topic: str = DEFAULT_WORKERS_TOPIC,
) -> MqttMonitor:
    """The process-wide monitor for this broker and topics; pair each call with :func:`release`."""
    key = (url, events_topic, workers_topic)
    with _registry_lock:
        monitor, count = _registry.get(key, (None, 0))
        if monitor is None:
            monitor = MqttMonitor(url, events_topic, workers_topic)
        _registry[key] = (monitor, count + 1)
        return monitor


def release(monitor: MqttMonitor) -> None:
    """Drop one user of a shared monitor; the last one closes the connection."""
    with _registry_lock:
        for key, (known, count) in list(_registry.items()):
            if known is monitor:
                if count <= 1:
                    del _registry[key]
                    break
                _registry[key] = (known, count - 1)
                return
        else:
            return
    monitor.close()
