"""MQTT job events and worker capability messages (PROTOCOL §7), against every available broker."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from cl_local_server.executors import TaskContext
from cl_local_server.mqtt import MqttEndpoint, Will

if TYPE_CHECKING:
    from cl_local_server.pytest_plugin import BrokerKind, ServerFactory
    from conftest import Api, MqttRecorder

pytestmark = pytest.mark.timeout(60)

Recorder = Callable[[str, list[str]], "MqttRecorder"]


def progressing(ctx: TaskContext) -> dict[str, object]:
    for percent in (30, 60, 150):  # 150 is capped at 99
        ctx.progress(percent)
    if ctx.params.get("normalize") is False:
        raise ValueError("asked to fail")
    return {"embedding_dim": 384, "normalized": True}


def kinds(events: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(e["event_type"], e["progress"]) for e in events]


def test_event_order(
    cl_server_factory: ServerFactory,
    cl_broker: BrokerKind,
    make_api: Callable[..., Api],
    recorder: Recorder,
    media_path: Callable[[str], Path],
) -> None:
    server = cl_server_factory.start(broker=cl_broker, executors={"dino_embedding": progressing})
    rec = recorder(server.info.mqtt_url, ["inference/events"])
    api = make_api(server)
    job_id = api.submit_ok("dino_embedding", media_path("coffee.jpg"))
    rec.wait_for(lambda _m: any(e["event_type"] == "completed" for e in rec.events(job_id)))
    events = rec.events(job_id)
    assert kinds(events) == [
        ("queued", 0),
        ("processing", 0),
        ("processing", 30),
        ("processing", 60),
        ("processing", 99),
        ("completed", 100),
    ]
    for event in events:
        assert set(event) == {"job_id", "event_type", "timestamp", "progress"}
    stamps = [e["timestamp"] for e in events]
    assert stamps == sorted(stamps)
    # events are not retained
    assert all(not retain for topic, _p, retain in rec.snapshot() if topic == "inference/events")


def test_error_event_current(
    cl_server_factory: ServerFactory,
    cl_broker: BrokerKind,
    make_api: Callable[..., Api],
    recorder: Recorder,
    media_path: Callable[[str], Path],
) -> None:
    server = cl_server_factory.start(broker=cl_broker, executors={"dino_embedding": progressing})
    rec = recorder(server.info.mqtt_url, ["inference/events"])
    api = make_api(server)
    job_id = api.submit_ok("dino_embedding", media_path("coffee.jpg"), {"normalize": "false"})
    rec.wait_for(lambda _m: any(e["event_type"] == "error" for e in rec.events(job_id)))
    assert kinds(rec.events(job_id))[-1] == ("error", 99)
    assert api.job(job_id)["status"] == "error"


def test_legacy_compat_events(
    cl_server_factory: ServerFactory,
    cl_broker: BrokerKind,
    make_api: Callable[..., Api],
    recorder: Recorder,
    media_path: Callable[[str], Path],
) -> None:
    server = cl_server_factory.start(
        broker=cl_broker, compat="legacy", executors={"dino_embedding": progressing}
    )
    rec = recorder(server.info.mqtt_url, ["inference/events"])
    api = make_api(server)
    failing = api.submit_ok("dino_embedding", media_path("coffee.jpg"), {"normalize": "false"})
    assert api.wait(failing)["status"] == "error"
    ok = api.submit_ok("dino_embedding", media_path("coffee.jpg"))
    # the later job's completion proves the earlier job's events have all arrived
    rec.wait_for(lambda _m: any(e["event_type"] == "completed" for e in rec.events(ok)))
    assert kinds(rec.events(failing)) == [("queued", 0), ("processing", 0)]  # no progress, no error
    assert kinds(rec.events(ok)) == [("queued", 0), ("processing", 0), ("completed", 100)]


def _payloads(rec: MqttRecorder, topic: str) -> list[tuple[bytes, bool]]:
    return [(p, r) for t, p, r in rec.snapshot() if t == topic]


@pytest.mark.parametrize("compat", ["current", "legacy"])
def test_capability_messages(
    cl_server_factory: ServerFactory, cl_broker: BrokerKind, recorder: Recorder, compat: str
) -> None:
    server = cl_server_factory.start(broker=cl_broker, compat=compat, heartbeat_seconds=0.2)
    ids = server.worker_ids
    port = server.info.compute_url.rsplit(":", 1)[1]
    assert ids == [f"local-worker-{port}-1", f"local-worker-{port}-2"]
    rec = recorder(server.info.mqtt_url, ["inference/workers/+"])
    key = "worker_id" if compat == "current" else "id"
    for wid in ids:
        topic = f"inference/workers/{wid}"
        rec.wait_for(lambda _m, t=topic: bool(_payloads(rec, t)))
        first, retained = _payloads(rec, topic)[0]
        assert retained  # a late subscriber gets the retained state at once
        body = json.loads(first)
        assert set(body) == {key, "capabilities", "idle_count", "timestamp"}
        assert body[key] == wid and body["idle_count"] == 1
        assert set(body["capabilities"]) == {
            "exif",
            "face_detection",
            "face_embedding",
            "hash",
            "hls_streaming",
            "image_conversion",
            "media_thumbnail",
        }
        # heartbeats keep coming
        rec.wait_for(lambda _m, t=topic: len(_payloads(rec, t)) >= 3)
    server.stop()
    for wid in ids:
        topic = f"inference/workers/{wid}"
        rec.wait_for(lambda _m, t=topic: _payloads(rec, t)[-1][0] == b"")


def test_clean_stop_leaves_no_retained_state(
    cl_server_factory: ServerFactory, cl_broker: BrokerKind, recorder: Recorder
) -> None:
    host = cl_server_factory.start(broker=cl_broker)
    url = host.info.mqtt_url
    # a second server on the same broker (for the embedded broker this also exercises the
    # fallback from MQTT v5 to 3.1.1, since amqtt refuses v5)
    guest = cl_server_factory.start(mqtt_url=url)
    everyone = {f"inference/workers/{w}" for w in host.worker_ids + guest.worker_ids}
    rec = recorder(url, ["inference/workers/+"])
    rec.wait_for(lambda m: everyone <= {t for t, p, _r in m if p})
    guest.stop()
    late = recorder(url, ["inference/workers/+"])
    host_topics = {f"inference/workers/{w}" for w in host.worker_ids}
    late.wait_for(lambda m: host_topics <= {t for t, _p, _r in m})
    assert {t for t, p, _r in late.snapshot() if p} == host_topics


def test_idle_count_around_jobs(
    cl_server_factory: ServerFactory,
    cl_broker: BrokerKind,
    make_api: Callable[..., Api],
    recorder: Recorder,
    media_path: Callable[[str], Path],
) -> None:
    release = threading.Event()

    def gated(_ctx: TaskContext) -> dict[str, object]:
        release.wait(20)
        return {}

    server = cl_server_factory.start(
        broker=cl_broker, workers=1, executors={"face_embedding": gated}
    )
    (wid,) = server.worker_ids
    topic = f"inference/workers/{wid}"
    rec = recorder(server.info.mqtt_url, [topic])
    api = make_api(server)
    job_id = api.submit_ok("face_embedding", media_path("coffee.jpg"))
    rec.wait_for(
        lambda _m: any(json.loads(p)["idle_count"] == 0 for p, _r in _payloads(rec, topic) if p)
    )
    caps = api.compute.get("/capabilities").json()
    assert caps["num_workers"] == 1 and caps["capabilities"]["face_embedding"] in (0, 1)
    release.set()
    api.wait(job_id)
    rec.wait_for(lambda _m: json.loads(_payloads(rec, topic)[-1][0])["idle_count"] == 1)


def test_capabilities_follow_foreign_workers(
    cl_server_factory: ServerFactory,
    cl_broker: BrokerKind,
    make_api: Callable[..., Api],
    wait_until: Callable[..., None],
) -> None:
    server = cl_server_factory.start(broker=cl_broker)
    api = make_api(server)
    host, port = server.info.mqtt_url.removeprefix("mqtt://").rsplit(":", 1)
    other = MqttEndpoint(host, int(port), "test-foreign", v5=False)
    other.connect()
    try:
        payload = json.dumps(
            {
                "id": "gpu-1",
                "capabilities": ["clip_embedding", "hash"],
                "idle_count": 1,
                "timestamp": time.time_ns() // 1_000_000,
            }
        )
        info = other.publish("inference/workers/gpu-1", payload.encode(), retain=True)
        assert info is not None
        info.wait_for_publish(5)

        def seen() -> bool:
            caps = api.compute.get("/capabilities").json()
            return caps["num_workers"] == 3 and caps["capabilities"].get("clip_embedding") == 1

        wait_until(seen, what="foreign worker")
        assert api.compute.get("/capabilities").json()["capabilities"]["hash"] == 3
        other.publish("inference/workers/bad", b"{not json", retain=False)
        info = other.publish("inference/workers/gpu-1", b"", retain=True)
        assert info is not None
        info.wait_for_publish(5)
        wait_until(
            lambda: api.compute.get("/capabilities").json()["num_workers"] == 2, what="removal"
        )
    finally:
        other.close()


def test_last_will_clears_capability(
    cl_server_factory: ServerFactory, cl_broker: BrokerKind, recorder: Recorder
) -> None:
    server = cl_server_factory.start(broker=cl_broker, workers=0)
    host, port = server.info.mqtt_url.removeprefix("mqtt://").rsplit(":", 1)
    topic = "inference/workers/doomed"
    rec = recorder(server.info.mqtt_url, [topic])
    doomed = MqttEndpoint(host, int(port), "doomed", v5=cl_broker != "embedded", will=Will(topic))
    doomed.connect()
    info = doomed.publish(
        topic, b'{"worker_id":"doomed","capabilities":[],"idle_count":1,"timestamp":1}', retain=True
    )
    assert info is not None
    info.wait_for_publish(5)
    rec.wait_for(lambda _m: bool(_payloads(rec, topic)))
    # vanish without a DISCONNECT: the broker publishes the will
    client = doomed._client
    assert client is not None
    client.loop_stop()
    sock = client.socket()
    assert sock is not None
    sock.close()
    rec.wait_for(lambda _m: _payloads(rec, topic)[-1][0] == b"", timeout=20)


def _publish_retained(url: str, messages: list[tuple[str, dict[str, object]]]) -> None:
    """Publish retained capability messages with a plain paho client, then disconnect."""
    import paho.mqtt.client as mqtt

    host, port = url.removeprefix("mqtt://").rsplit(":", 1)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.connect(host.strip("[]"), int(port))
    client.loop_start()
    try:
        for topic, payload in messages:
            client.publish(topic, json.dumps(payload), qos=1, retain=True).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()


def _advert(worker: str, capability: str, age_seconds: float) -> tuple[str, dict[str, object]]:
    stamp = int((time.time() - age_seconds) * 1000)
    payload: dict[str, object] = {
        "worker_id": worker,
        "capabilities": [capability],
        "idle_count": 1,
        "timestamp": stamp,
    }
    return f"inference/workers/{worker}", payload


def test_capabilities_leave_out_a_worker_whose_last_message_is_75_s_old(
    cl_server_factory: ServerFactory,
    cl_broker: BrokerKind,
    make_api: Callable[..., Api],
    wait_until: Callable[..., None],
) -> None:
    server = cl_server_factory.start(broker=cl_broker, workers=0)
    api = make_api(server)
    # A worker killed with -9 before its will took effect leaves a retained message behind (B16).
    _publish_retained(
        server.info.mqtt_url,
        [_advert("crashed", "clip_embedding", 75), _advert("alive", "dino_embedding", 1)],
    )
    wait_until(
        lambda: "dino_embedding" in api.compute.get("/capabilities").json()["capabilities"],
        what="the live worker",
    )
    # Both messages came from one connection, in order: the stale one has been handled too.
    assert api.compute.get("/capabilities").json() == {
        "num_workers": 1,
        "capabilities": {"dino_embedding": 1},
    }


def test_capabilities_age_out_silent_workers_injected_clock(
    cl_server_factory: ServerFactory,
    make_api: Callable[..., Api],
    wait_until: Callable[..., None],
) -> None:
    from cl_local_server.mqtt import STALE_WORKER_SECONDS

    server = cl_server_factory.start(workers=0)
    api = make_api(server)
    _publish_retained(server.info.mqtt_url, [_advert("quiet", "hash", 0)])
    wait_until(
        lambda: api.compute.get("/capabilities").json()["num_workers"] == 1, what="the worker"
    )
    # The injected clock: the worker then says nothing for a while.
    later = 0.0
    server.capabilities.clock = lambda: time.time() + later
    later = STALE_WORKER_SECONDS - 5
    assert api.compute.get("/capabilities").json()["capabilities"] == {"hash": 1}
    later = STALE_WORKER_SECONDS + 5
    assert api.compute.get("/capabilities").json() == {"num_workers": 0, "capabilities": {}}
    # A fresh message brings it back.
    _publish_retained(server.info.mqtt_url, [_advert("quiet", "hash", -later)])
    wait_until(
        lambda: api.compute.get("/capabilities").json()["num_workers"] == 1, what="the heartbeat"
    )
