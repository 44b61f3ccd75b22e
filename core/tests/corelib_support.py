"""Helpers for the core library tests: a tiny real HTTP server, token minting, a broker runner."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

REPO = Path(__file__).resolve().parents[2]
MEDIA = REPO.parent / "shared" / "media"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def closed_port_url(scheme: str = "http") -> str:
    """A loopback URL where nothing listens (the port was free a moment ago)."""
    return f"{scheme}://127.0.0.1:{free_port()}"


# --- a tiny real HTTP server ----------------------------------------------------------------


@dataclass
class Seen:
    """One request the tiny server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}

    @property
    def bearer(self) -> str | None:
        value = self.headers.get("authorization")
        return value.removeprefix("Bearer ") if value else None


@dataclass
class Reply:
    """What the tiny server answers. ``parts`` streams the body in pieces with pauses; ``cut``
    closes the connection after the body without sending all of the declared length."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict[str, str])
    delay: float = 0.0
    declared_length: int | None = None
    parts: list[tuple[bytes, float]] | None = None


def json_reply(status: int, obj: object) -> Reply:
    return Reply(status, json.dumps(obj).encode(), {"Content-Type": "application/json"})


Route = Callable[[Seen], Reply]


class TinyServer:
    """An ``http.server`` in a thread that answers with ``route(request)`` and records requests."""

    def __init__(self, route: Route) -> None:
        self.route = route
        self.requests: list[Seen] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    data = b""
                    while True:
                        size = int(self.rfile.readline().strip() or b"0", 16)
                        if size == 0:
                            self.rfile.readline()
                            return data
                        data += self.rfile.read(size)
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _handle(self) -> None:
                seen = Seen(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self._body(),
                )
                owner.requests.append(seen)
                reply = owner.route(seen)
                if reply.delay:
                    time.sleep(reply.delay)
                body = reply.body if reply.parts is None else b"".join(p for p, _ in reply.parts)
                length = reply.declared_length if reply.declared_length is not None else len(body)
                try:
                    self.send_response(reply.status)
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(length))
                    self.end_headers()
                    if reply.parts is None:
                        self.wfile.write(body)
                    else:
                        for part, pause in reply.parts:
                            self.wfile.write(part)
                            self.wfile.flush()
                            time.sleep(pause)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass
                if length != len(body):
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# --- tokens ---------------------------------------------------------------------------------


class TokenMint:
    """ES256 tokens signed with a key made for the test, shaped like the auth service's."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())

    def token(self, exp: float | None, **claims: object) -> str:
        payload: dict[str, object] = {"id": "7", "permissions": ["ai_inference_support"]}
        payload["is_admin"] = False
        if exp is not None:
            payload["exp"] = int(exp)
        payload.update(claims)
        return jwt.encode(payload, self.key, algorithm="ES256")

    def exp_of(self, token: str) -> float | None:
        claims = jwt.decode(
            token, self.key.public_key(), algorithms=["ES256"], options={"verify_exp": False}
        )
        exp = claims.get("exp")
        return float(exp) if isinstance(exp, int | float) else None


class FakeClock:
    """An injected clock shared by a session and a test auth server."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class AuthServerRoutes:
    """Routes of a small auth service (token, refresh, me) plus ``/protected``, over real HTTP.

    Its notion of "now" is the test's clock, so expiry decisions on both sides agree.
    """

    USER: ClassVar[dict[str, object]] = {
        "id": 7,
        "username": "alice",
        "is_admin": False,
        "is_active": True,
        "created_at": "2026-01-12T09:14:03",
        "permissions": ["ai_inference_support"],
    }

    def __init__(self, mint: TokenMint, clock: FakeClock, ttl: float = 1800.0) -> None:
        self.mint = mint
        self.clock = clock
        self.ttl = ttl
        self.password = "secret"
        self.refresh_works = True
        #: Tokens ``/protected`` rejects with 401 although they have not expired.
        self.rejected: set[str] = set()
        self.reject_all = False
        self.issued: list[str] = []

    def _issue(self) -> Reply:
        token = self.mint.token(self.clock() + self.ttl)
        self.issued.append(token)
        return json_reply(200, {"access_token": token, "token_type": "bearer"})

    def _valid(self, token: str | None) -> bool:
        if token is None:
            return False
        try:
            exp = self.mint.exp_of(token)
        except jwt.PyJWTError:
            return False
        return exp is None or exp > self.clock()

    def __call__(self, req: Seen) -> Reply:
        if req.method == "POST" and req.path == "/auth/token":
            form = req.form()
            if form.get("username") == "alice" and form.get("password") == self.password:
                return self._issue()
            return json_reply(401, {"detail": "Incorrect username or password"})
        if req.method == "POST" and req.path == "/auth/token/refresh":
            if self.refresh_works and self._valid(req.bearer):
                return self._issue()
            return json_reply(401, {"detail": "Could not validate credentials"})
        if req.path in ("/users/me", "/protected"):
            rejected = self.reject_all or req.bearer in self.rejected
            if self._valid(req.bearer) and not rejected:
                return json_reply(200, self.USER if req.path == "/users/me" else {"ok": True})
            return json_reply(401, {"detail": "JWT token has expired"})
        if req.path == "/open":
            return json_reply(200, {"auth": req.headers.get("authorization")})
        return json_reply(404, {"detail": "Not Found"})

    def calls(self, server: TinyServer, path: str) -> int:
        return sum(1 for r in server.requests if r.path == path)


# --- a mosquitto on a port of our choosing (to restart it on the same port) ----------------


class Mosquitto:
    def __init__(self, workdir: Path, port: int, *, anonymous: bool = True) -> None:
        exe = shutil.which("mosquitto")
        assert exe is not None, "mosquitto must be installed (apt-get install mosquitto)"
        self.port = port
        self.conf = workdir / f"mosquitto-{port}.conf"
        allow = "true" if anonymous else "false"
        self.conf.write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous {allow}\npersistence false\n"
        )
        self._exe = exe
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._proc = subprocess.Popen(
            [self._exe, "-c", str(self.conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                assert self._proc.poll() is None, "mosquitto exited"
                assert time.monotonic() < deadline, "mosquitto did not listen"
                time.sleep(0.02)

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None


def publish(url: str, topic: str, payload: bytes, *, retain: bool = False) -> None:
    """Publish one message with a throw-away paho client (MQTT 3.1.1)."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    host, port = url.removeprefix("mqtt://").rsplit(":", 1)
    client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
    client.connect(host, int(port))
    client.loop_start()
    try:
        client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()
