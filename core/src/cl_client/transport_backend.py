"""The transport's network layer: httpcore streams on plain asyncio protocols.

httpcore reaches asyncio through AnyIO by default, and that layer (cancel scopes, typed-attribute
lookups, a ``select`` call per idle pooled connection per request) was a quarter of the client's
CPU per request in a batch. This backend implements httpcore's public ``AsyncNetworkBackend``
interface directly on ``loop.create_connection``: a read returns what the protocol has already
buffered, a timeout is one ``call_later`` handle, and "is this idle connection still alive" is a
flag the event loop set when the peer closed it. Reading pauses above :data:`READ_BUFFER_LIMIT`
bytes, so a download never buffers more than that however slow the disk is.

Only :mod:`cl_client.transport` uses it, through :class:`AsyncioHTTPTransport`.
"""

# httpcore's interface passes timeouts as arguments, so its methods must take them.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable
from typing import Final

import httpcore
import httpx

#: Bytes buffered per connection before the socket stops being read.
READ_BUFFER_LIMIT: Final = 256 * 1024

#: httpcore's extra-info names and the asyncio transport's names for the same things.
_EXTRA_INFO: Final = {
    "ssl_object": "ssl_object",
    "client_addr": "sockname",
    "server_addr": "peername",
    "socket": "socket",
}

SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)


class _StreamProtocol(asyncio.Protocol):
    """Buffers what arrives and wakes the one reader or writer waiting on the connection."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.closed = False
        self.error: Exception | None = None
        self.reading_paused = False
        self.writing_paused = False
        self.read_waiter: asyncio.Future[None] | None = None
        self.drain_waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > READ_BUFFER_LIMIT and not self.reading_paused:
            self.reading_paused = True
            if self.transport is not None:
                self.transport.pause_reading()
        _wake(self.read_waiter)

    def eof_received(self) -> bool:
        self.closed = True
        _wake(self.read_waiter)
        return False  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.error = exc
        _wake(self.read_waiter)
        _wake(self.drain_waiter, exc)

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        _wake(self.drain_waiter)

    def take(self, max_bytes: int) -> bytes:
        data = bytes(self.buffer[:max_bytes])
        del self.buffer[:max_bytes]
        if self.reading_paused and len(self.buffer) <= READ_BUFFER_LIMIT // 4:
            self.reading_paused = False
            if self.transport is not None:
                self.transport.resume_reading()
        return data


def _wake(waiter: asyncio.Future[None] | None, exc: Exception | None = None) -> None:
    if waiter is not None and not waiter.done():
        if exc is None:
            waiter.set_result(None)
        else:
            waiter.set_exception(exc)


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


async def _wait(waiter: asyncio.Future[None], seconds: float | None) -> None:
    """Await ``waiter``; raise TimeoutError after ``seconds`` (``None``: no limit)."""
    loop = asyncio.get_running_loop()
    timer = None if seconds is None else loop.call_later(seconds, _expire, waiter)
    try:
        await waiter
    finally:
        if timer is not None:
            timer.cancel()


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One connection, TCP or TLS, with httpcore's exceptions for every failure."""

    def __init__(self, transport: asyncio.Transport, protocol: _StreamProtocol) -> None:
        self._transport = transport
        self._protocol = protocol

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self._protocol
        if not protocol.buffer and not protocol.closed:
            protocol.read_waiter = asyncio.get_running_loop().create_future()
            try:
                await _wait(protocol.read_waiter, timeout)
            except TimeoutError:
                raise httpcore.ReadTimeout(f"no data for {timeout:g} s") from None
            finally:
                protocol.read_waiter = None
        if protocol.buffer:
            return protocol.take(max_bytes)
        if protocol.error is not None:
            raise httpcore.ReadError(_reason(protocol.error))
        return b""  # the peer closed the connection: httpcore reports what that means

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        protocol = self._protocol
        if protocol.error is not None or self._transport.is_closing():
            reason = "connection closed" if protocol.error is None else _reason(protocol.error)
            raise httpcore.WriteError(reason)
        self._transport.write(buffer)
        if not protocol.writing_paused:
            return
        protocol.drain_waiter = asyncio.get_running_loop().create_future()
        try:
            await _wait(protocol.drain_waiter, timeout)
        except TimeoutError:
            raise httpcore.WriteTimeout(f"could not send for {timeout:g} s") from None
        except OSError as exc:
            raise httpcore.WriteError(_reason(exc)) from exc
        finally:
            protocol.drain_waiter = None

    async def aclose(self) -> None:
        self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            tls = await loop.start_tls(
                self._transport,
                self._protocol,
                ssl_context,
                server_hostname=server_hostname,
                ssl_handshake_timeout=timeout,
            )
        except TimeoutError as exc:
            self._transport.close()
            raise httpcore.ConnectTimeout("TLS handshake timed out") from exc
        except (OSError, ssl.SSLError) as exc:
            self._transport.close()
            raise httpcore.ConnectError(_reason(exc)) from exc
        if tls is None:  # only when the loop has no TLS support at all
            raise httpcore.ConnectError("TLS is not available")
        assert isinstance(tls, asyncio.Transport)
        self._protocol.transport = tls
        return AsyncioStream(tls, self._protocol)

    def get_extra_info(self, info: str) -> object:
        if info == "is_readable":
            # httpcore asks this of idle pooled connections: data or a close means "do not reuse".
            return bool(self._protocol.buffer) or self._protocol.closed
        extra = _EXTRA_INFO.get(info)
        return None if extra is None else self._transport.get_extra_info(extra)


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Opens :class:`AsyncioStream` TCP connections (happy eyeballs for dual-stack hosts).

    Unix sockets are left to the base class: the transport never configures one."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        local = None if local_address is None else (local_address, 0)
        try:
            async with asyncio.timeout(timeout):
                transport, protocol = await loop.create_connection(
                    _StreamProtocol, host, port, local_addr=local, happy_eyeballs_delay=0.25
                )
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"no connection within {timeout:g} s") from exc
        except OSError as exc:
            raise httpcore.ConnectError(_reason(exc)) from exc
        _apply(transport, socket_options)
        return AsyncioStream(transport, protocol)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def _apply(transport: asyncio.Transport, socket_options: Iterable[SocketOption] | None) -> None:
    sock = transport.get_extra_info("socket")
    for option in socket_options or ():
        sock.setsockopt(*option)


class AsyncioHTTPTransport(httpx.AsyncHTTPTransport):
    """httpx's HTTP transport (request mapping, error mapping, streaming) over
    :class:`AsyncioBackend`, for one base URL.

    The TLS context is built only for an ``https`` base URL: loading the CA bundle costs about
    50 ms of CPU, which a plain-HTTP server never needs.
    """

    def __init__(self, base_url: str, *, verify: bool, limits: httpx.Limits) -> None:
        super().__init__(verify=False, limits=limits)  # replaced below; verify=False builds fast
        tls = httpx.create_ssl_context(verify=verify) if base_url.startswith("https:") else None
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=tls,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=AsyncioBackend(),
        )
