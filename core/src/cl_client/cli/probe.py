"""``GET /`` of the compute service with the standard library, for ``cl whoami`` without a login.

On a profile that needs no login ``cl whoami`` asks the server one question (is it there, is it
in guest mode) and nothing else. Loading the HTTP client and the event loop for that would cost
more than the rest of the command, so this module sends the one HTTP/1.0 request over a plain
socket (TLS when the URL is https) and reads the same :class:`~cl_client.models.Health` answer,
with the same one-line messages as the client's transport. Everything else goes through
:class:`~cl_client.client.Client`.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from cl_client.models import Health

#: The most of an answer that is read: a health document is a few hundred bytes.
MAX_ANSWER: Final = 64 * 1024


def _unreachable(base_url: str, reason: str) -> str:
    return (
        f"cannot reach compute service at {base_url} ({reason}) — is the server running? "
        "check `cl profile show`"
    )


def _read_all(sock: socket.socket) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < MAX_ANSWER:
        chunk = sock.recv(8192)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _exchange(base_url: str, timeout: float, verify_tls: bool) -> bytes:
    parts = urlsplit(base_url)
    https = parts.scheme == "https"
    host = parts.hostname or "localhost"
    port = parts.port or (443 if https else 80)
    path = (parts.path.rstrip("/") or "") + "/"
    request = (
        f"GET {path} HTTP/1.0\r\nHost: {parts.netloc}\r\nAccept: application/json\r\n"
        "User-Agent: cl-client\r\nConnection: close\r\n\r\n"
    ).encode("ascii")
    with socket.create_connection((host, port), timeout=timeout) as raw:
        if not https:
            raw.sendall(request)
            return _read_all(raw)
        import ssl

        context = ssl.create_default_context()
        if not verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        with context.wrap_socket(raw, server_hostname=host) as sock:
            sock.sendall(request)
            return _read_all(sock)


def probe_health(base_url: str, *, timeout: float, verify_tls: bool) -> tuple[Health | None, str]:
    """The compute service's health, or None and the one-line reason it could not be had."""
    import msgspec

    from cl_client.models import Health

    try:
        answer = _exchange(base_url, timeout, verify_tls)
    except TimeoutError:
        return None, f"compute service at {base_url} did not answer GET / within {timeout:g} s"
    except socket.gaierror:
        return None, _unreachable(base_url, "name or service not known")
    except OSError as exc:  # refused, unreachable, TLS failures
        import os

        reason = os.strerror(exc.errno).lower() if exc.errno else str(exc) or type(exc).__name__
        return None, _unreachable(base_url, reason)
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    fields = status_line.split(" ", 2)
    if len(fields) < 2 or not fields[0].startswith("HTTP/"):
        return None, f"unexpected answer from the compute service to GET /: {status_line!r}"
    if fields[1] != "200":
        return None, f"compute service at {base_url} answered GET / with HTTP {fields[1]}"
    try:
        return msgspec.json.decode(body, type=Health), ""
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        return None, f"unexpected answer from the compute service to GET /: {exc}"
