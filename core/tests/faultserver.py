"""A small real HTTP server for fault injection: it answers whatever a test tells it to.

Where the local CL server is the real thing, this one exists to be wrong on purpose: any status
with any body, a connection that hangs before answering or in the middle of a body, a body cut
short of its ``Content-Length``, a reset (TCP RST) instead of an answer, and job records that name
files the way a broken or hostile server might. It speaks HTTP/1.1 over a real socket (keep-alive
included), so the client under test goes through its whole stack.

    with FaultServer(lambda req: Answer(503, b"busy")) as server:
        ... CL_COMPUTE_URL=server.url ...

:func:`fake_compute` builds the routes of a minimal compute service around one job record, for
the cases that need a whole task command (submit, wait, collect) against a server that misbehaves.
"""

from __future__ import annotations

import json
import socket
import socketserver
import struct
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

Fault = Literal["hang", "stall", "cut", "reset"]


@dataclass
class Request:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Answer:
    """What to answer. ``fault``:

    * ``hang`` — read the request, never answer (until the server closes);
    * ``stall`` — send the headers and half the body, then send nothing more;
    * ``cut`` — send the headers and half the body, then close the connection;
    * ``reset`` — close the connection with a TCP reset instead of answering.
    """

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict[str, str])
    fault: Fault | None = None


def json_answer(obj: object, status: int = 200) -> Answer:
    return Answer(status, json.dumps(obj).encode(), {"Content-Type": "application/json"})


Route = Callable[[Request], Answer]

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}


class FaultServer:
    """A threaded HTTP/1.1 server on a free loopback port answering ``route(request)``; every
    request is kept in :attr:`requests`. Closing it releases hanging connections."""

    def __init__(self, route: Route) -> None:
        self.route = route
        self.requests: list[Request] = []
        self._closed = threading.Event()
        owner = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                while not owner._closed.is_set():
                    request = _read_request(self.rfile)
                    if request is None:
                        return
                    owner.requests.append(request)
                    if not owner._answer(self.connection, self.wfile, request):
                        return

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def paths(self, method: str | None = None) -> list[str]:
        return [r.path for r in self.requests if method is None or r.method == method]

    def _answer(self, conn: socket.socket, wfile: object, request: Request) -> bool:
        """Send the answer; False when the connection is finished."""
        answer = self.route(request)
        if answer.fault == "hang":
            self._closed.wait()
            return False
        if answer.fault == "reset":
            # SO_LINGER with a zero timeout: close() sends RST, not FIN.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        reason = _REASONS.get(answer.status, "Status")
        head = [f"HTTP/1.1 {answer.status} {reason}"]
        head += [f"{k}: {v}" for k, v in answer.headers.items()]
        head.append(f"Content-Length: {len(answer.body)}")
        body = answer.body
        if answer.fault in ("stall", "cut"):
            body = body[: len(body) // 2]
        try:
            conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        except OSError:
            return False
        if answer.fault == "stall":
            self._closed.wait()
            return False
        return answer.fault is None

    def close(self) -> None:
        self._closed.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FaultServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_request(rfile: object) -> Request | None:
    import io

    assert isinstance(rfile, io.BufferedIOBase)
    try:
        line = rfile.readline(65537)
    except OSError:
        return None
    if not line or not line.strip():
        return None
    method, path, _version = line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    while True:
        raw = rfile.readline(65537)
        if raw in (b"\r\n", b"\n", b""):
            break
        key, _, value = raw.decode("latin-1").partition(":")
        headers[key.strip().lower()] = value.strip()
    body = b""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int(rfile.readline().strip() or b"0", 16)
            if size == 0:
                rfile.readline()
                break
            body += rfile.read(size)
            rfile.readline()
    elif length := int(headers.get("content-length") or 0):
        body = rfile.read(length)
    return Request(method, path, headers, body)


# --- a minimal compute service around one job -----------------------------------------------

JOB_ID = "0f0c6a2e-0000-4000-8000-000000000001"


def job_record(task_type: str, **changes: object) -> dict[str, object]:
    """A completed job record of ``task_type`` as the compute service returns it (§4.4)."""
    record: dict[str, object] = {
        "job_id": JOB_ID,
        "task_type": task_type,
        "status": "completed",
        "progress": 100,
        "params": {"input_path": "input/coffee.jpg", "output_path": "output/result.json"},
        "task_output": None,
        "error_message": None,
        "priority": 5,
        "created_at": 1_760_000_000_000,
        "updated_at": 1_760_000_001_000,
        "started_at": 1_760_000_000_500,
        "completed_at": 1_760_000_001_000,
    }
    record.update(changes)
    return record


def fake_compute(
    job: Mapping[str, object],
    files: Mapping[str, bytes | Answer] | None = None,
    *,
    overrides: Mapping[tuple[str, str], Answer] | None = None,
) -> Route:
    """Routes of a compute service that offers ``job["task_type"]``, accepts every upload as
    ``job`` and serves ``files`` (job file path → bytes, or an Answer for a fault). ``overrides``
    answer ``(method, path)`` instead, e.g. ``{("GET", f"/jobs/{JOB_ID}"): Answer(503)}``."""
    task = str(job["task_type"])
    job_id = str(job["job_id"])
    stored = dict(files or {})
    special = dict(overrides or {})

    def route(request: Request) -> Answer:
        path = request.path.split("?", 1)[0]
        if (request.method, path) in special:
            return special[(request.method, path)]
        if request.method == "GET" and path == "/":
            return json_answer({"status": "ok", "guest_mode": True})
        if request.method == "GET" and path == "/capabilities":
            return json_answer({"num_workers": 1, "capabilities": {task: 1}})
        if request.method == "POST" and path == f"/jobs/{task}":
            return json_answer({"job_id": job_id, "status": "queued"})
        if request.method == "GET" and path == f"/jobs/{job_id}":
            return json_answer(dict(job))
        prefix = f"/jobs/{job_id}/files/"
        if request.method == "GET" and path.startswith(prefix):
            from urllib.parse import unquote

            content = stored.get(unquote(path[len(prefix) :]))
            if isinstance(content, Answer):
                return content
            if content is not None:
                return Answer(200, content, {"Content-Type": "application/octet-stream"})
        return json_answer({"detail": "Not Found"}, 404)

    return route
