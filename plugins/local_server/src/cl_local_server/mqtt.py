"""The server's MQTT side (PROTOCOL §7): embedded broker, job events, worker capability messages.

* :class:`EmbeddedBroker` runs amqtt inside the server's asyncio loop. amqtt speaks MQTT 3.1.1 only,
  so every paho client of ours talks 3.1.1 to it; with an external broker they use MQTT v5 (as the
  reference server components do) and fall back to 3.1.1 if the broker refuses v5.
* :class:`MqttEndpoint` is one paho connection. The server has one for job events and for reading
  the capability topics (``/capabilities``); each worker has its own, because a last will belongs to
  a connection and every worker's will clears its own retained capability topic.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from cl_local_server.config import Compat

log = logging.getLogger(__name__)

KEEPALIVE = 60
MQTT_V5 = paho.MQTTv5


class EmbeddedBroker:
    """amqtt broker serving connections on an already bound socket, on the running loop.

    The server binds the socket itself, with its other ports, before it creates anything; amqtt
    gets the accepted connections through an ``external`` listener.
    """

    LISTENER = "default"

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._broker: object | None = None
        self._server: asyncio.Server | None = None
        self.port = int(sock.getsockname()[1])

    async def start(self) -> int:
        from amqtt.adapters import StreamReaderAdapter, StreamWriterAdapter
        from amqtt.broker import Broker

        # amqtt logs every refused/closed connection at WARNING and above; keep the server quiet.
        logging.getLogger("amqtt").setLevel(logging.CRITICAL)
        logging.getLogger("transitions").setLevel(logging.WARNING)
        broker = Broker(
            {
                "listeners": {self.LISTENER: {"type": "external", "bind": f"port {self.port}"}},
                # Only anonymous access, no $SYS publisher and no packet logging.
                "plugins": {
                    "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
                },
            }
        )
        await broker.start()
        self._broker = broker

        async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await broker.external_connected(
                StreamReaderAdapter(reader), StreamWriterAdapter(writer), self.LISTENER
            )

        self._server = await asyncio.start_server(connected, sock=self._sock)
        return self.port

    async def stop(self) -> None:
        from amqtt.broker import Broker

        server, self._server = self._server, None
        if server is not None:
            server.close()
        broker = self._broker
        self._broker = None
        if isinstance(broker, Broker):
            await broker.shutdown()
        if server is not None:
            await server.wait_closed()
        self._sock.close()


@dataclass(frozen=True)
class Will:
    topic: str
    payload: bytes = b""
    qos: int = 1
    retain: bool = True


class MqttConnectError(ConnectionError):
    pass


MessageHandler = Callable[[str, bytes], None]


class MqttEndpoint:
    """One paho client with its own network thread. ``publish`` is safe from any thread."""

    def __init__(
        self, host: str, port: int, client_id: str, *, v5: bool, will: Will | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.client_id = client_id
        self.will = will
        self._prefer_v5 = v5
        self._handlers: dict[str, MessageHandler] = {}
        self._connected = threading.Event()
        # Set by the first CONNACK or disconnect of a connect attempt: a broker that refuses the
        # protocol version just closes the socket, and waiting out the timeout would be slow.
        self._attempt_over = threading.Event()
        self._client: paho.Client | None = None
        self.protocol = paho.MQTTv5 if v5 else paho.MQTTv311

    def _make_client(self, protocol: int) -> paho.Client:
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=protocol,  # pyright: ignore[reportArgumentType]
            clean_session=None if protocol == paho.MQTTv5 else True,
        )
        # The will must be set before connecting: in paho it only applies to the next CONNECT
        # (the reference workers set it too late, PROTOCOL B16).
        if self.will is not None:
            client.will_set(self.will.topic, self.will.payload, self.will.qos, self.will.retain)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def connect(self, timeout: float = 5.0) -> None:
        protocols = [paho.MQTTv5, paho.MQTTv311] if self._prefer_v5 else [paho.MQTTv311]
        last_error: Exception | None = None
        for protocol in protocols:
            client = self._make_client(protocol)
            self._connected.clear()
            self._attempt_over.clear()
            try:
                client.connect(self.host, self.port, keepalive=KEEPALIVE)
            except OSError as exc:
                last_error = exc
                break  # the broker is not there at all; no point trying another protocol
            client.loop_start()
            # A broker without v5 may hang instead of refusing: give that attempt less time.
            self._attempt_over.wait(min(timeout, 2.0) if protocol != protocols[-1] else timeout)
            if self._connected.is_set():
                self._client = client
                self.protocol = protocol
                return
            client.disconnect()
            client.loop_stop()
            last_error = ConnectionError(
                "connection refused or closed"
                if self._attempt_over.is_set()
                else f"no CONNACK within {timeout} s"
            )
        raise MqttConnectError(
            f"Cannot connect to MQTT broker mqtt://{self.host}:{self.port}: {last_error}"
        )

    def _on_connect(
        self,
        client: paho.Client,
        _userdata: object,
        _flags: object,
        reason_code: ReasonCode,
        _properties: object,
    ) -> None:
        if reason_code.is_failure:
            log.info("MQTT connect refused: %s", reason_code)
            client.disconnect()  # no automatic reconnect: connect() decides what to try next
            self._attempt_over.set()
            return
        for topic in self._handlers:
            client.subscribe(topic, qos=1)
        self._connected.set()
        self._attempt_over.set()

    def _on_disconnect(self, *_args: object) -> None:
        self._connected.clear()
        self._attempt_over.set()

    def _on_message(
        self, _client: paho.Client, _userdata: object, message: paho.MQTTMessage
    ) -> None:
        for pattern, handler in list(self._handlers.items()):
            if paho.topic_matches_sub(pattern, message.topic):
                try:
                    handler(message.topic, bytes(message.payload))
                except Exception:  # a bad message must not kill paho's network thread
                    log.exception("MQTT handler failed for %s", message.topic)

    def subscribe(self, topic: str, handler: MessageHandler) -> None:
        self._handlers[topic] = handler
        if self._client is not None and self._connected.is_set():
            self._client.subscribe(topic, qos=1)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> paho.MQTTMessageInfo | None:
        client = self._client
        if client is None:
            return None
        info = client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            log.warning("MQTT publish to %s failed: %s", topic, info.rc)
        return info

    def close(self, flush: list[paho.MQTTMessageInfo] | None = None, timeout: float = 2.0) -> None:
        """Wait for ``flush`` to be sent, then disconnect cleanly (a clean disconnect sends no
        will)."""
        client = self._client
        self._client = None
        if client is None:
            return
        deadline = time.monotonic() + timeout
        for info in flush or []:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                info.wait_for_publish(remaining)
            except (RuntimeError, ValueError):  # not connected / queue full: nothing more to do
                break
        client.disconnect()
        client.loop_stop()


def job_event_payload(job_id: str, event_type: str, progress: int) -> bytes:
    """§7.3: ``{"job_id","event_type","timestamp","progress"}``."""
    return json.dumps(
        {
            "job_id": job_id,
            "event_type": event_type,
            "timestamp": time.time_ns() // 1_000_000,
            "progress": progress,
        }
    ).encode()


def capability_payload(
    worker_id: str, capabilities: list[str], idle: bool, compat: Compat
) -> bytes:
    """§7.4. Legacy workers keyed the id as ``id`` instead of ``worker_id``."""
    key = "id" if compat == "legacy" else "worker_id"
    return json.dumps(
        {
            key: worker_id,
            "capabilities": capabilities,
            "idle_count": 1 if idle else 0,
            "timestamp": time.time_ns() // 1_000_000,
        }
    ).encode()


#: A worker whose latest capability message is older than this (by the message's own
#: ``timestamp``) is taken for dead: it crashed and its will never fired (PROTOCOL B16). Two
#: heartbeats of the slowest upstream configuration (30 s), six of compute_service's (10 s).
STALE_WORKER_SECONDS = 60.0


@dataclass(frozen=True)
class _Advert:
    capabilities: list[str]
    idle: int
    #: Seconds since the epoch: the payload's ``timestamp``, or when it arrived if it had none.
    sent_at: float


class CapabilityTracker:
    """What ``GET /capabilities`` reports: the retained capability messages of live workers.

    Workers are keyed by the topic's last level; the payload may name them ``worker_id`` or ``id``.
    An empty payload removes the worker; malformed payloads are ignored. A worker whose latest
    message is more than ``max_age`` seconds old by its ``timestamp`` is left out until it
    publishes again. ``clock`` (seconds since the epoch) can be replaced, e.g. by tests.
    """

    def __init__(
        self, max_age: float = STALE_WORKER_SECONDS, clock: Callable[[], float] = time.time
    ) -> None:
        self.max_age = max_age
        self.clock = clock
        self._lock = threading.Lock()
        self._adverts: dict[str, _Advert] = {}
        self._changed = threading.Condition(self._lock)

    def handle(self, topic: str, payload: bytes) -> None:
        worker = topic.rsplit("/", 1)[-1]
        with self._lock:
            if not payload:
                self._adverts.pop(worker, None)
            else:
                try:
                    data = json.loads(payload)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    return
                if not isinstance(data, dict):
                    return
                fields = cast(dict[str, object], data)
                caps = fields.get("capabilities")
                idle = fields.get("idle_count", 0)
                if not isinstance(caps, list) or not isinstance(idle, int):
                    return
                stamp = fields.get("timestamp")  # ms
                sent_at = self.clock()
                if isinstance(stamp, int | float) and not isinstance(stamp, bool):
                    sent_at = stamp / 1000
                self._adverts[worker] = _Advert([str(c) for c in caps], idle, sent_at)  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
            self._changed.notify_all()

    def _live(self) -> dict[str, _Advert]:
        oldest = self.clock() - self.max_age
        return {w: a for w, a in self._adverts.items() if a.sent_at >= oldest}

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            live = self._live()
            totals: dict[str, int] = {}
            for advert in live.values():
                for cap in advert.capabilities:
                    totals[cap] = totals.get(cap, 0) + advert.idle
            return {"num_workers": len(live), "capabilities": dict(sorted(totals.items()))}

    def workers(self) -> dict[str, tuple[list[str], int]]:
        """Live workers: id → (capabilities, idle count)."""
        with self._lock:
            return {w: (a.capabilities, a.idle) for w, a in self._live().items()}

    def wait_for(
        self, predicate: Callable[[dict[str, tuple[list[str], int]]], bool], timeout: float
    ) -> bool:
        deadline = time.monotonic() + timeout
        with self._lock:
            while not predicate({w: (a.capabilities, a.idle) for w, a in self._live().items()}):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True
