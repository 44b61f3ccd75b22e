"""The MQTT monitor: routing and tolerant decoding, buffering, real brokers, reconnects."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pytest
from cl_client.models import JobEvent
from cl_client.mqtt import MqttMonitor, release, shared_monitor
from corelib_support import (
    Mosquitto,
    Reply,
    Seen,
    TinyServer,
    closed_port_url,
    free_port,
    publish,
    wait_until,
)

if TYPE_CHECKING:
    from cl_local_server.pytest_plugin import BrokerKind, ServerFactory

pytestmark = [pytest.mark.timeout(60)]

T = TypeVar("T")
EVENTS = "inference/events"


def run(coro: Coroutine[object, object, T]) -> T:
    return asyncio.run(coro)


def event(job_id: str, event_type: str, progress: object = 0, **extra: object) -> bytes:
    return json.dumps(
        {"job_id": job_id, "event_type": event_type, "timestamp": 1, "progress": progress, **extra}
    ).encode()


# --- routing without a broker ---------------------------------------------------------------


def test_job_events_are_decoded_tolerantly() -> None:
    monitor = MqttMonitor("mqtt://127.0.0.1:1")

    async def scenario() -> list[JobEvent]:
        watch = monitor.watch("j1")
        monitor.handle_message(EVENTS, event("j1", "queued", 0, task_output={"x": 1}, extra=True))
        monitor.handle_message(EVENTS, b"{not json")
        monitor.handle_message(EVENTS, b"[1, 2]")
        monitor.handle_message(EVENTS, b'{"event_type": "processing"}')  # no job_id
        monitor.handle_message(EVENTS, b'{"job_id": "j1", "event_type": "processing"}')
        monitor.handle_message(EVENTS, event("j1", "processing", 42.5))
        monitor.handle_message(EVENTS, event("j2", "completed", 100))  # someone else's job
        monitor.handle_message("other/topic", event("j1", "error"))
        monitor.handle_message(EVENTS, event("j1", "completed", 100))
        received = [e async for e in watch]  # stops after the terminal event
        watch.close()
        return received

    received = run(scenario())
    assert [(e.event_type, e.progress) for e in received] == [
        ("queued", 0),
        ("processing", None),
        ("processing", 42.5),
        ("completed", 100),
    ]
    assert monitor.events_received == 5


def test_worker_messages_accept_worker_id_id_or_topic_suffix() -> None:
    monitor = MqttMonitor("mqtt://127.0.0.1:1", workers_topic="inference/workers/")
    topic = "inference/workers/"
    now_ms = time.time() * 1000
    monitor.handle_message(
        topic + "w1",
        json.dumps(
            {
                "worker_id": "w1",
                "capabilities": ["hash"],
                "idle_count": 1,
                "timestamp": now_ms,
                "future_field": [1],
            }
        ).encode(),
    )
    monitor.handle_message(
        topic + "old", json.dumps({"id": "legacy-1", "capabilities": ["exif"]}).encode()
    )
    monitor.handle_message(topic + "anon", b'{"capabilities": ["hash"], "idle_count": 0}')
    monitor.handle_message(topic + "w9", b"garbage")
    monitor.handle_message(topic + "w9", b"null")
    workers = monitor.workers()
    assert set(workers) == {"w1", "legacy-1", "anon"}
    assert workers["w1"].capabilities == ["hash"] and workers["w1"].idle_count == 1
    assert workers["legacy-1"].capabilities == ["exif"]

    # a malformed update keeps the last good message
    monitor.handle_message(topic + "w1", b"{broken")
    assert "w1" in monitor.workers()
    # an empty payload removes the worker named by the topic
    monitor.handle_message(topic + "w1", b"")
    monitor.handle_message(topic + "anon", b"  ")
    assert set(monitor.workers()) == {"legacy-1"}
    # ...even when the worker's payload named it differently from its topic
    monitor.handle_message(topic + "old", b"")
    assert monitor.workers() == {}


def test_stale_workers_age_out_for_display() -> None:
    monitor = MqttMonitor("mqtt://127.0.0.1:1")
    now_ms = time.time() * 1000
    for name, age in (("fresh", 5), ("stale", 120)):
        payload = {"worker_id": name, "capabilities": ["hash"], "timestamp": now_ms - age * 1000}
        monitor.handle_message(f"inference/workers/{name}", json.dumps(payload).encode())
    assert set(monitor.workers()) == {"fresh", "stale"}
    assert set(monitor.workers(max_age=90)) == {"fresh"}


def test_events_before_the_watch_are_buffered_briefly() -> None:
    monitor = MqttMonitor("mqtt://127.0.0.1:1", buffer_seconds=0.3)

    async def scenario() -> tuple[list[str], JobEvent | None]:
        monitor.handle_message(EVENTS, event("fast", "queued"))
        monitor.handle_message(EVENTS, event("fast", "processing"))
        monitor.handle_message(EVENTS, event("fast", "completed", 100))
        monitor.handle_message(EVENTS, event("late", "queued"))
        watch = monitor.watch("fast")
        early = [e.event_type async for e in watch]
        watch.close()
        await asyncio.sleep(0.4)
        monitor.handle_message(EVENTS, event("other", "queued"))  # prunes expired buffers
        late = monitor.watch("late")
        got = await late.get(0.1)
        late.close()
        return early, got

    early, got = run(scenario())
    assert early == ["queued", "processing", "completed"]
    assert got is None


def test_buffer_keeps_at_most_a_bounded_number_of_jobs() -> None:
    monitor = MqttMonitor("mqtt://127.0.0.1:1")
    for i in range(1005):
        monitor.handle_message(EVENTS, event(f"job-{i}", "queued"))

    async def scenario() -> tuple[JobEvent | None, JobEvent | None]:
        with monitor.watch("job-0") as first, monitor.watch("job-1004") as last:
            return await first.get(0.05), await last.get(0.05)

    first, last = run(scenario())
    assert first is None and last is not None


def test_events_from_another_thread_reach_the_loop_safely() -> None:
    monitor = MqttMonitor("mqtt://127.0.0.1:1")

    async def scenario() -> list[float | int | None]:
        watch = monitor.watch("j")

        def feed() -> None:
            for i in range(1, 51):
                monitor.handle_message(EVENTS, event("j", "processing", i))
            monitor.handle_message(EVENTS, event("j", "error", 50))

        thread = threading.Thread(target=feed)
        thread.start()
        seen = [e.progress async for e in watch]
        thread.join()
        watch.close()
        return seen

    assert run(scenario()) == [*range(1, 51), 50]


def test_events_for_a_watch_whose_loop_closed_are_dropped() -> None:
    monitor = MqttMonitor("mqtt://127.0.0.1:1")

    async def make_watch() -> None:
        monitor.watch("j")  # never closed

    run(make_watch())
    monitor.handle_message(EVENTS, event("j", "queued"))  # must not raise
    monitor.handle_message(EVENTS, event("j", "processing"))


def test_shared_monitor_is_one_per_broker_and_released_by_the_last_user() -> None:
    url = closed_port_url("mqtt")
    a = shared_monitor(url)
    b = shared_monitor(url)
    c = shared_monitor(url, events_topic="custom/events")
    assert a is b and a is not c
    release(a)
    assert shared_monitor(url) is a  # still registered: b holds it
    release(a)
    release(b)
    assert shared_monitor(url) is not a
    release(c)
    release(MqttMonitor(url))  # unknown monitors are ignored


# --- real brokers ---------------------------------------------------------------------------


def test_an_unreachable_broker_costs_one_short_wait_then_none() -> None:
    monitor = MqttMonitor(closed_port_url("mqtt"))

    async def scenario() -> tuple[bool, float, bool, float]:
        start = time.monotonic()
        first = await monitor.start(timeout=5)
        took = time.monotonic() - start
        start = time.monotonic()
        again = await monitor.start(timeout=5)  # paho retries in its thread: no new wait
        return first, took, again, time.monotonic() - start

    first, took, again, took_again = run(scenario())
    assert first is False and took < 2.0
    assert again is False and took_again < 0.05
    assert not monitor.connected
    monitor.close()


def test_a_silent_broker_costs_submissions_one_wait_only() -> None:
    # Accepts TCP and never answers (no CONNACK): only the first start() waits.
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    monitor = MqttMonitor(f"mqtt://127.0.0.1:{silent.getsockname()[1]}")

    async def scenario() -> list[float]:
        took: list[float] = []
        for _ in range(5):
            start = time.monotonic()
            assert await monitor.start(timeout=0.5) is False
            took.append(time.monotonic() - start)
        return took

    try:
        took = run(scenario())
    finally:
        monitor.close()
        silent.close()
    assert 0.4 < took[0] < 2.0
    assert all(t < 0.05 for t in took[1:])


def test_a_server_that_is_no_broker_times_out(
    tiny_server_factory: Callable[[Callable[[Seen], Reply]], TinyServer],
) -> None:
    server = tiny_server_factory(lambda _req: Reply(400))
    url = server.url.replace("http://", "mqtt://")
    monitor = MqttMonitor(url)
    start = time.monotonic()
    assert run(monitor.start(timeout=0.5)) is False
    assert time.monotonic() - start < 2.0
    monitor.close()


def test_live_broker_delivers_events_and_retained_workers(
    cl_server_factory: ServerFactory, cl_broker: BrokerKind
) -> None:
    server = cl_server_factory.start(auth_mode="none", broker=cl_broker)
    url = server.info.mqtt_url
    monitor = MqttMonitor(url)

    async def scenario() -> list[str]:
        assert await monitor.start(timeout=5) is True
        assert monitor.connected
        assert await monitor.start() is True  # already connected: at once
        with monitor.watch("live-job") as watch:
            await asyncio.to_thread(publish, url, EVENTS, event("live-job", "processing", 10))
            await asyncio.to_thread(publish, url, EVENTS, event("live-job", "completed", 100))
            return [e.event_type async for e in watch]

    try:
        assert run(scenario()) == ["processing", "completed"]
        # retained capability messages of the server's workers arrive on subscribe
        assert wait_until(lambda: set(monitor.workers()) >= set(server.worker_ids), 10)
        worker = monitor.workers()[server.worker_ids[0]]
        assert "hash" in worker.capabilities
    finally:
        monitor.close()
    assert not monitor.connected


def test_topic_names_are_configurable(cl_server_factory: ServerFactory) -> None:
    server = cl_server_factory.start(auth_mode="none")
    url = server.info.mqtt_url
    monitor = MqttMonitor(url, events_topic="site/jobs", workers_topic="site/workers")

    async def scenario() -> tuple[JobEvent | None, JobEvent | None]:
        assert await monitor.start()
        with monitor.watch("j") as watch:
            await asyncio.to_thread(publish, url, EVENTS, event("j", "queued"))
            default_topic = await watch.get(0.5)
            await asyncio.to_thread(publish, url, "site/jobs", event("j", "queued"))
            custom_topic = await watch.get(5)
        return default_topic, custom_topic

    try:
        default_topic, custom_topic = run(scenario())
        assert default_topic is None and custom_topic is not None
        publish(url, "site/workers/w7", b'{"capabilities": ["hash"]}', retain=False)
        assert wait_until(lambda: "w7" in monitor.workers(), 5)
    finally:
        monitor.close()


def test_reconnects_after_the_broker_restarts(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path, free_port())
    broker.start()
    monitor = MqttMonitor(broker.url)
    try:
        assert run(monitor.start(timeout=5))
        broker.stop()
        assert wait_until(lambda: not monitor.connected, 10)
        broker.start()
        # paho reconnects with back-off (1 s, doubling) and subscribes again
        assert wait_until(lambda: monitor.connected, 15)

        async def after_restart() -> JobEvent | None:
            with monitor.watch("after") as watch:
                await asyncio.to_thread(publish, broker.url, EVENTS, event("after", "queued"))
                return await watch.get(5)

        got = run(after_restart())
        assert got is not None and got.job_id == "after"
    finally:
        monitor.close()
        broker.stop()


def test_a_broker_refusing_the_connection_counts_as_unavailable(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path, free_port(), anonymous=False)
    broker.start()
    monitor = MqttMonitor(broker.url)
    try:
        start = time.monotonic()
        assert run(monitor.start(timeout=5)) is False
        assert time.monotonic() - start < 3
        assert not monitor.connected
    finally:
        monitor.close()
        broker.stop()
