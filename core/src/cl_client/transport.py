"""HTTP transport: one httpx client per service, error mapping, streaming upload and download.

Every non-2xx answer becomes one exception of :mod:`cl_client.errors` with a one-line message, so
callers never see httpx exceptions. Redirects are not followed: the protocol has none, so a redirect
means a wrong path on our side or a proxy in the way, and is reported instead of hidden.

Idempotent requests (GET, HEAD, DELETE; downloads included) are retried with exponential backoff
and jitter (stamina) on connection failures, resets and 502/503/504, within
:attr:`ServiceTransport.retry_budget` seconds. Other requests, job submissions above all, are
retried only when the connection could not be opened (nothing was sent); a failure after the body
went out is reported as :class:`~cl_client.errors.SubmissionUncertainError` ("the job may have been
created"), never repeated blindly. Idle keep-alive connections are dropped after
:data:`KEEPALIVE_EXPIRY` seconds, below the 5 s after which uvicorn closes them, so a request
rarely meets a connection the server is closing.
"""

from __future__ import annotations

import contextlib
import logging
import mimetypes
import os
import secrets
import stat
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Final, Literal, Protocol, TypeVar
from urllib.parse import quote

import msgspec

from cl_client.config import mask_url
from cl_client.errors import (
    AuthenticationError,
    BadRequestError,
    ClError,
    FieldError,
    HTTPStatusError,
    InvalidInputError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    RequestTimeoutError,
    ServerError,
    ServiceUnreachableError,
    SubmissionUncertainError,
    TransportError,
    UnsafeResultPathError,
    ValidationError,
)

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

ServiceName = Literal["auth", "compute"]
T = TypeVar("T")

_DETAIL_LIMIT: Final = 200
_CHUNK: Final = 64 * 1024

#: Seconds an idle keep-alive connection is kept: below uvicorn's default of 5 s.
KEEPALIVE_EXPIRY: Final = 4.0
#: Idle connections kept per service: more than any batch keeps in flight.
POOL_SIZE: Final = 100
#: Seconds an idempotent request keeps being retried on connection errors and 502/503/504.
RETRY_BUDGET: Final = 15.0
#: Methods that are safe to repeat.
IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})
#: Statuses that say "try again": a proxy or a server restarting.
RETRY_STATUSES: Final = frozenset({502, 503, 504})

#: Called with the byte count of each uploaded chunk.
UploadProgress = Callable[[int], object]


class TokenProvider(Protocol):
    """What the transport needs from a session (implemented by :class:`cl_client.auth.Session`)."""

    async def valid_token(self) -> str | None: ...

    async def refresh_after_401(self, rejected: str | None = None) -> str | None: ...

    def unauthorized_hint(self) -> str | None:
        """What to tell the user after a 401 when `cl login` would not help; ``None`` else."""
        ...


# --- paths ----------------------------------------------------------------------------------


def _path_problem(file_path: str) -> str | None:
    """Why ``file_path`` is not a plain relative POSIX path, or ``None`` when it is one."""
    if not file_path:
        return "it is empty"
    if "\0" in file_path or "\\" in file_path:
        return "it holds a NUL or a backslash"
    if file_path.startswith("/"):
        return "it is absolute"
    if any(seg in ("", ".", "..") for seg in file_path.split("/")):
        return "'.', '..' and empty segments are not allowed"
    return None


def check_relative_path(file_path: str) -> PurePosixPath:
    """``file_path`` (given by the user) as a relative POSIX path without ``.``/``..`` or empty
    segments; InvalidInputError otherwise."""
    problem = _path_problem(file_path)
    if problem is not None:
        raise InvalidInputError(f"invalid job file path {file_path!r}: {problem}")
    return PurePosixPath(file_path)


def check_result_path(file_path: str) -> PurePosixPath:
    """``file_path`` named by the server (``params.output_path``, ``task_output``, playlists) as
    a relative POSIX path; :class:`~cl_client.errors.UnsafeResultPathError` (exit 5: the server's
    fault) when it could point outside the job on the server or outside the destination."""
    problem = _path_problem(file_path)
    if problem is not None:
        raise UnsafeResultPathError(file_path, problem)
    return PurePosixPath(file_path)


def encode_path(file_path: str) -> str:
    """Percent-encode each segment of a relative path, keeping the ``/`` separators."""
    return "/".join(quote(seg, safe="") for seg in file_path.split("/"))


def safe_join(root: Path, file_path: str) -> Path:
    """``root / file_path`` for a server-supplied relative path, guaranteed to stay inside ``root``.

    Besides refusing ``..`` and absolute paths (UnsafeResultPathError), the result is checked
    after resolving symlinks, so a link inside ``root`` cannot lead a write elsewhere.
    """
    relative = check_result_path(file_path)
    target = root.joinpath(*relative.parts)
    try:
        resolved_root = root.resolve()
        resolved = target.resolve()
    except (RuntimeError, OSError) as exc:
        # Path.resolve raises RuntimeError (3.11, 3.12) or OSError ELOOP (3.13+) on a loop.
        raise InvalidInputError(
            f"cannot write {file_path!r} under {root}: the destination holds a symlink loop"
        ) from exc
    if resolved != resolved_root and resolved_root not in resolved.parents:
        raise InvalidInputError(f"refusing to write {file_path!r}: it leads outside {root}")
    return target


# --- error mapping --------------------------------------------------------------------------


def _shorten(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _DETAIL_LIMIT else line[: _DETAIL_LIMIT - 1] + "…"


class _TextDetail(msgspec.Struct):
    detail: str


class _FieldItem(msgspec.Struct):
    loc: list[str | int] = msgspec.field(default_factory=list[str | int])
    msg: str = ""


class _FieldDetail(msgspec.Struct):
    detail: list[_FieldItem]


class _RawDetail(msgspec.Struct):
    detail: msgspec.Raw


def response_detail(response: httpx.Response) -> tuple[str, list[FieldError]]:
    """The server's ``detail`` text (or the body's first words) and any 422 field errors."""
    body = response.content
    with contextlib.suppress(msgspec.ValidationError, msgspec.DecodeError):
        return _shorten(msgspec.json.decode(body, type=_TextDetail).detail), []
    with contextlib.suppress(msgspec.ValidationError, msgspec.DecodeError):
        items = msgspec.json.decode(body, type=_FieldDetail).detail
        errors = [FieldError(loc=tuple(item.loc), msg=item.msg) for item in items]
        if errors:
            return _shorten("; ".join(f"{e.field}: {e.msg}" for e in errors)), errors
    with contextlib.suppress(msgspec.ValidationError, msgspec.DecodeError):
        raw = msgspec.json.decode(body, type=_RawDetail).detail
        return _shorten(bytes(raw).decode("utf-8", "replace")), []
    text = body.decode("utf-8", "replace").strip()
    return (_shorten(text) if text else response.reason_phrase or "no details"), []


def error_for_response(service: str, response: httpx.Response) -> HTTPStatusError:
    """The exception for a non-2xx answer, with a one-line message."""
    status = response.status_code
    url = str(response.request.url)
    detail, field_errors = response_detail(response)
    if 300 <= status < 400:
        location = response.headers.get("location", "?")
        return HTTPStatusError(
            f"{service} service redirected {response.request.method} {response.request.url.path} "
            f"to {location} (HTTP {status}); cl does not follow redirects — check the {service} "
            "URL of the profile",
            status_code=status,
            detail=detail,
            url=url,
        )
    if status == 400:
        return BadRequestError(f"bad request: {detail}", status_code=status, detail=detail, url=url)
    if status == 401:
        return AuthenticationError(
            f"not authenticated: {detail} — run `cl login`",
            status_code=status,
            detail=detail,
            url=url,
        )
    if status == 403:
        return PermissionDeniedError(
            f"permission denied: {detail}", status_code=status, detail=detail, url=url
        )
    if status == 404:
        return NotFoundError(f"not found: {detail}", status_code=status, detail=detail, url=url)
    if status == 422:
        if field_errors:
            first = field_errors[0]
            message = f"invalid {first.field}: {first.msg}"
            if len(field_errors) > 1:
                others = len(field_errors) - 1
                message += f" (and {others} more error{'s' if others > 1 else ''})"
        else:
            message = f"invalid request: {detail}"
        return ValidationError(
            message, status_code=status, detail=detail, url=url, errors=field_errors
        )
    if status >= 500:
        return ServerError(
            f"{service} service error (HTTP {status}): {detail}",
            status_code=status,
            detail=detail,
            url=url,
        )
    return HTTPStatusError(
        f"{service} service answered HTTP {status}: {detail}",
        status_code=status,
        detail=detail,
        url=url,
    )


def _reason(exc: BaseException, host: str | None = None) -> str:
    """A short reason for a network failure, e.g. "connection refused", or "host name 'nas' does
    not resolve" (``host`` names the host that was looked up)."""
    import socket

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, socket.gaierror):
            # getaddrinfo's errors are negative numbers os.strerror does not know.
            name = repr(host) if host else "the host name"
            if current.errno in (socket.EAI_AGAIN,):
                return f"cannot resolve {name} right now (DNS not answering)"
            return f"host name {name} does not resolve"
        if isinstance(current, OSError) and (current.errno or current.strerror):
            # asyncio words refusals as "Connect call failed (...)"; the errno says it plainly.
            text = os.strerror(current.errno) if current.errno else str(current.strerror)
            return text.lower()
        current = current.__cause__ or current.__context__
    text = str(exc).strip()
    if "header value" in text.lower():
        # h11 quotes the whole header, which may hold a token.
        return "a request header holds characters HTTP does not allow"
    if text.startswith("[Errno"):
        text = text.split("]", 1)[-1].strip()
    return _shorten(mask_url(text)) if text else type(exc).__name__


def decode(response: httpx.Response, model: type[T], *, service: str = "server") -> T:
    """The response body decoded as ``model``; MalformedResponseError when it does not fit."""
    try:
        return msgspec.json.decode(response.content, type=model)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise MalformedResponseError(
            f"unexpected answer from the {service} service to {response.request.method} "
            f"{response.request.url.path}: {exc}"
        ) from None


# --- the transport --------------------------------------------------------------------------


async def _read_quietly(response: httpx.Response) -> None:
    """Read a streamed error body (for its detail) and release the connection."""
    import httpx

    try:
        await response.aread()
    except httpx.TransportError:
        pass
    finally:
        await response.aclose()


class _CountingReader:
    """A file opened for upload that reports each chunk httpx reads from it."""

    def __init__(self, handle: IO[bytes], on_bytes: UploadProgress) -> None:
        self._handle = handle
        self._on_bytes = on_bytes
        self.name = handle.name

    def read(self, size: int = -1) -> bytes:
        chunk = self._handle.read(size)
        if chunk:
            self._on_bytes(len(chunk))
        return chunk

    def fileno(self) -> int:
        return self._handle.fileno()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._handle.seek(offset, whence)

    def tell(self) -> int:
        return self._handle.tell()


def _quiet_stamina() -> None:
    """Silence stamina's retry messages (imported once something failed: it costs ~40 ms). Its
    default hook warns on stderr, which would break ``cl``'s one-line errors; we log at debug."""
    from stamina.instrumentation import set_on_retry_hooks

    global _stamina_ready
    if not _stamina_ready:
        set_on_retry_hooks([])
        _stamina_ready = True


_stamina_ready = False


def _retryable(method: str) -> Callable[[Exception], bool]:
    """The retry predicate for ``method``: idempotent requests retry any transport failure and
    502/503/504; others only a connection that was never opened."""
    idempotent = method in IDEMPOTENT_METHODS

    def should_retry(exc: Exception) -> bool:
        if isinstance(exc, TransportError):
            return idempotent or not exc.request_sent
        return idempotent and isinstance(exc, ServerError) and exc.status_code in RETRY_STATUSES

    return should_retry


class ServiceTransport:
    """One service's HTTP client: base URL, timeout and TLS setting, auth header per request."""

    def __init__(
        self,
        name: ServiceName,
        base_url: str,
        timeout: float,
        verify_tls: bool,
        auth: TokenProvider | None = None,
        *,
        retry_budget: float = RETRY_BUDGET,
    ) -> None:
        self.name: ServiceName = name
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.verify_tls = verify_tls
        #: Supplies the bearer token per request; ``None`` sends no Authorization header.
        self.session: TokenProvider | None = auth
        #: Seconds a retryable request keeps being retried (0 turns retries off).
        self.retry_budget = retry_budget
        #: Connections opened and requests sent so far (for diagnostics and benchmarks).
        self.connections_opened = 0
        self.requests_sent = 0
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            import urllib.request

            import httpx

            limits = httpx.Limits(
                max_connections=None,
                max_keepalive_connections=POOL_SIZE,
                keepalive_expiry=KEEPALIVE_EXPIRY,
            )
            # A proxy from the environment (the variables httpx reads; NO_PROXY alone is none)
            # needs httpx's own transports; otherwise the leaner asyncio one
            # (see cl_client.transport_backend).
            native = None
            if not urllib.request.getproxies().keys() & {"http", "https", "all"}:
                from cl_client.transport_backend import AsyncioHTTPTransport

                native = AsyncioHTTPTransport(self.base_url, verify=self.verify_tls, limits=limits)
            self._client = httpx.AsyncClient(
                base_url=self.base_url,
                timeout=self.timeout,
                verify=self.verify_tls,
                follow_redirects=False,
                headers={"User-Agent": "cl-client"},
                limits=limits,
                transport=native,
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def _trace(self, event_name: str, info: Mapping[str, object]) -> None:
        """httpcore's trace hook: counts the TCP connections opened."""
        if event_name == "connection.connect_tcp.complete":
            self.connections_opened += 1

    @property
    def shown_url(self) -> str:
        """The base URL as shown to people: a password in it is masked."""
        return mask_url(self.base_url)

    def _host(self) -> str | None:
        from urllib.parse import urlsplit

        try:
            return urlsplit(self.base_url).hostname
        except ValueError:
            return None

    def _unreachable(self, exc: BaseException, method: str, path: str) -> TransportError:
        import socket

        import httpx

        # Only a failure to connect proves the request never reached the server.
        sent = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
        if isinstance(exc, httpx.TimeoutException) and sent:
            return RequestTimeoutError(
                f"{self.name} service at {self.shown_url} did not answer {method} {path} "
                f"within {self.timeout:g} s",
                url=self.base_url + path,
                request_sent=True,
            )
        if sent:
            return ServiceUnreachableError(
                f"{self.name} service at {self.shown_url} dropped the connection during "
                f"{method} {path} ({_reason(exc)})",
                url=self.base_url + path,
                request_sent=True,
            )
        reason = _reason(exc, self._host())
        dns = _caused_by(exc, socket.gaierror)
        hint = (
            "check the URL: `cl profile show --effective`"
            if dns
            else "is the server running? check `cl profile show`"
        )
        return ServiceUnreachableError(
            f"cannot reach {self.name} service at {self.shown_url} ({reason}) — {hint}",
            url=self.base_url + path,
            request_sent=False,
        )

    async def _with_retries(self, method: str, attempt: Callable[[], Awaitable[T]]) -> T:
        """``attempt()``, repeated with backoff while it fails in a way ``method`` may retry."""
        should_retry = _retryable(method)
        try:
            return await attempt()
        except ClError as exc:
            if self.retry_budget <= 0 or not should_retry(exc):
                raise
            log.debug("%s: %s; retrying for up to %g s", method, exc, self.retry_budget)
        import stamina

        _quiet_stamina()
        async for retry in stamina.retry_context(
            on=should_retry,
            attempts=None,
            timeout=self.retry_budget,
            wait_initial=0.2,
            wait_max=2.0,
            wait_jitter=0.3,
        ):
            with retry:
                return await attempt()
        raise AssertionError("unreachable: stamina either returns or raises")  # pragma: no cover

    def _with_auth_hint(self, exc: AuthenticationError) -> AuthenticationError:
        """``exc`` with the session's advice instead of "run `cl login`" when that cannot help
        (a no-auth profile, a rejected CL_TOKEN)."""
        hint = self.session.unauthorized_hint() if self.session is not None else None
        if hint is None:
            return exc
        return AuthenticationError(
            f"not authenticated: {exc.detail} — {hint}",
            status_code=exc.status_code,
            detail=exc.detail,
            url=exc.url,
        )

    async def _send(
        self,
        method: str,
        path: str,
        *,
        data: Mapping[str, str] | None,
        params: Mapping[str, str | int] | None,
        files: Mapping[str, Path] | None,
        headers: Mapping[str, str] | None,
        authenticated: bool,
        stream: bool,
        on_bytes: UploadProgress | None = None,
    ) -> httpx.Response:
        import h11
        import httpx

        client = self._http()
        session = self.session if authenticated else None
        token = await session.valid_token() if session is not None else None
        retried = False
        while True:
            request_headers = dict(headers or {})
            if token is not None:
                request_headers["Authorization"] = f"Bearer {token}"
            with contextlib.ExitStack() as stack:
                # Files are reopened per attempt so a retry after a refresh streams them again.
                parts: dict[str, tuple[str, IO[bytes] | _CountingReader, str]] | None = None
                if files:
                    parts = {}
                    for field_name, file_path in files.items():
                        handle = stack.enter_context(file_path.open("rb"))
                        ctype = mimetypes.guess_type(file_path.name)[0]
                        parts[field_name] = (
                            file_path.name,
                            handle if on_bytes is None else _CountingReader(handle, on_bytes),
                            ctype or "application/octet-stream",
                        )
                request = client.build_request(
                    method,
                    path,
                    data=dict(data) if data is not None else None,
                    params=dict(params) if params is not None else None,
                    files=parts,  # pyright: ignore[reportArgumentType] - a file-like reader
                    headers=request_headers,
                    extensions={"trace": self._trace},
                )
                log.debug("%s %s%s", method, self.base_url, path)
                self.requests_sent += 1
                try:
                    response = await client.send(request, stream=stream)
                except (httpx.LocalProtocolError, h11.LocalProtocolError) as exc:
                    # h11's own error escapes httpx when the body ends before its length.
                    if files and "Content-Length" in str(exc):
                        names = ", ".join(str(f) for f in files.values())
                        raise InvalidInputError(
                            f"{names} changed size while it was being uploaded; nothing was "
                            "submitted — run the command again once the file is complete"
                        ) from None
                    raise self._unreachable(exc, method, path) from None
                except httpx.RequestError as exc:
                    raise self._unreachable(exc, method, path) from None
            log.debug("%s %s -> %d", method, path, response.status_code)
            if (
                response.status_code == 401
                and token is not None
                and session is not None
                and not retried
            ):
                if stream:
                    await _read_quietly(response)
                fresh = await session.refresh_after_401(token)
                if fresh is not None and fresh != token:
                    token, retried = fresh, True
                    continue
            if not response.is_success:
                if stream:
                    await _read_quietly(response)
                raise error_for_response(self.name, response)
            return response

    async def request(
        self,
        method: str,
        path: str,
        *,
        data: Mapping[str, str] | None = None,
        params: Mapping[str, str | int] | None = None,
        files: Mapping[str, Path] | None = None,
        headers: Mapping[str, str] | None = None,
        authenticated: bool = True,
    ) -> httpx.Response:
        """Send one request and return the (fully read) 2xx response; raise a ClError otherwise.

        ``files`` maps form field names to local files, streamed from disk with only the base
        name as the file name. With ``authenticated`` the session's token is added, and a 401
        triggers one refresh-and-retry. Idempotent methods are retried as the module says.
        """

        async def attempt() -> httpx.Response:
            return await self._send(
                method,
                path,
                data=data,
                params=params,
                files=files,
                headers=headers,
                authenticated=authenticated,
                stream=False,
            )

        try:
            return await self._with_retries(method, attempt)
        except AuthenticationError as exc:
            if not authenticated or exc.status_code != 401:
                raise
            raise self._with_auth_hint(exc) from None

    async def upload(
        self,
        path: str,
        file: Path,
        *,
        data: Mapping[str, str] | None = None,
        field_name: str = "file",
        on_bytes: UploadProgress | None = None,
    ) -> httpx.Response:
        """``POST`` a multipart form: ``file`` streamed from disk (base name only) plus ``data``.

        Repeated only when the connection could not be opened. When it fails after the body was
        sent, :class:`~cl_client.errors.SubmissionUncertainError` says the server may have
        created the job. ``on_bytes`` is called with the size of each chunk read from ``file``.
        """

        async def attempt() -> httpx.Response:
            return await self._send(
                "POST",
                path,
                data=data,
                params=None,
                files={field_name: file},
                headers=None,
                authenticated=True,
                stream=False,
                on_bytes=on_bytes,
            )

        try:
            return await self._with_retries("POST", attempt)
        except TransportError as exc:
            if not exc.request_sent:
                raise
            raise SubmissionUncertainError(
                f"{exc.message}; the job may have been created on the server",
                url=exc.url,
            ) from None

    async def download(
        self, path: str, dest: Path, *, on_chunk: Callable[[bytes], object] | None = None
    ) -> Path:
        """Stream ``GET path`` into ``dest`` and return where the bytes went; ``on_chunk`` sees
        each piece of the body as it is written.

        What ``dest`` is decides how it is written (see :func:`destination_kind`):

        * ``-`` (also ``/dev/stdout``, ``/dev/fd/1``): standard output.
        * an existing file that is not a regular file (a device such as a null device or a
          terminal, a FIFO), or anything under ``/dev`` or ``/proc``: written in place, never
          replaced or created. A failure midway may leave part of the body there: it is a stream.
        * anything else: a hidden temp file in the target's folder, renamed over the target once
          the last byte arrived and the length matched ``Content-Length``; nothing is left behind
          when it fails. A symlink is followed: its target is written, the link stays.

        An atomic download cut short is retried from the start, as any idempotent request.
        """
        kind = destination_kind(dest)
        if kind != "atomic":
            # A stream already written to cannot be taken back: no retry.
            return await self._download_once(path, dest, kind, on_chunk)

        async def attempt() -> Path:
            # on_chunk sees the body of the attempt that succeeded, not of one cut short.
            chunks: list[bytes] | None = [] if on_chunk is not None else None
            saved = await self._download_once(
                path, dest, kind, chunks.append if chunks is not None else None
            )
            if on_chunk is not None and chunks is not None:
                for chunk in chunks:
                    on_chunk(chunk)
            return saved

        return await self._with_retries("GET", attempt)

    async def _download_once(
        self,
        path: str,
        dest: Path,
        kind: DestinationKind,
        on_chunk: Callable[[bytes], object] | None,
    ) -> Path:
        import httpx

        target = _final_target(dest) if kind == "atomic" else dest
        response = await self._send_download(path)
        try:
            if kind == "stdout":
                await self._stream_to_stdout(path, response, on_chunk)
                return dest
            if kind == "in-place":
                await self._stream_in_place(path, response, dest, on_chunk)
                return dest
            folder = target.parent
            tmp = folder / f".{target.name}.{secrets.token_hex(4)}.part"
            try:
                # Only once the server said yes, so a refused download leaves no new folders.
                folder.mkdir(parents=True, exist_ok=True)
                # O_EXCL: never follow or reuse something already at the temp name; 0o666 & umask.
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                with os.fdopen(fd, "wb") as fh:
                    await self._stream(path, response, fh.write, on_chunk)
                    fh.flush()
                    os.fsync(fh.fileno())
                tmp.replace(target)
            except BaseException:
                with contextlib.suppress(OSError):
                    tmp.unlink()
                raise
        except httpx.RequestError as exc:
            raise self._interrupted(path, exc) from None
        finally:
            await response.aclose()
        return dest

    async def _send_download(self, path: str) -> httpx.Response:
        try:
            return await self._send(
                "GET",
                path,
                data=None,
                params=None,
                files=None,
                headers=None,
                authenticated=True,
                stream=True,
            )
        except AuthenticationError as exc:
            if exc.status_code != 401:
                raise
            raise self._with_auth_hint(exc) from None

    async def _stream(
        self,
        path: str,
        response: httpx.Response,
        write: Callable[[bytes], object],
        on_chunk: Callable[[bytes], object] | None,
    ) -> None:
        """Write the body with ``write``; ServiceUnreachableError when it is shorter than its
        ``Content-Length`` (httpx errors midway propagate to the caller)."""
        received = 0
        async for chunk in response.aiter_bytes(_CHUNK):
            write(chunk)
            if on_chunk is not None:
                on_chunk(chunk)
            received += len(chunk)
        expected = response.headers.get("content-length")
        encoded = "content-encoding" in response.headers
        if expected and expected.isdigit() and not encoded and int(expected) != received:
            raise ServiceUnreachableError(
                f"download of {path} from the {self.name} service was cut short "
                f"({received} of {expected} bytes)",
                url=self.base_url + path,
            )

    async def _stream_to_stdout(
        self, path: str, response: httpx.Response, on_chunk: Callable[[bytes], object] | None
    ) -> None:
        import sys

        sys.stdout.flush()  # text already printed goes first
        out = sys.stdout.buffer
        await self._stream(path, response, out.write, on_chunk)
        out.flush()

    async def _stream_in_place(
        self,
        path: str,
        response: httpx.Response,
        dest: Path,
        on_chunk: Callable[[bytes], object] | None,
    ) -> None:
        fd = await _open_in_place(dest)
        with os.fdopen(fd, "wb") as fh:
            await self._stream(path, response, fh.write, on_chunk)
            fh.flush()

    def _interrupted(self, path: str, exc: BaseException) -> TransportError:
        import httpx

        if isinstance(exc, httpx.TimeoutException):
            return RequestTimeoutError(
                f"download of {path} from the {self.name} service stalled "
                f"(no data for {self.timeout:g} s)",
                url=self.base_url + path,
                request_sent=True,
            )
        return ServiceUnreachableError(
            f"download of {path} from the {self.name} service was interrupted "
            f"({_reason(exc, self._host())})",
            url=self.base_url + path,
            request_sent=True,
        )


# --- download destinations ------------------------------------------------------------------

DestinationKind = Literal["stdout", "in-place", "atomic"]

#: Names of standard output besides ``-``.
_STDOUT_NAMES: Final = frozenset({"/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"})
#: Folders where a download never creates or renames a file, only writes into one that exists.
_SYSTEM_FOLDERS: Final = ("/dev/", "/proc/", "/sys/")


def destination_kind(dest: Path) -> DestinationKind:
    """How a download writes ``dest``: to standard output (``-``, ``/dev/stdout``), in place (an
    existing file that is not a regular file or folder, e.g. a device or FIFO, or any path in
    ``/dev``, ``/proc`` or ``/sys``), or atomically through a temp file renamed over it."""
    if str(dest) == "-":
        return "stdout"
    absolute = os.path.normpath(dest.absolute())
    if absolute in _STDOUT_NAMES:
        return "stdout"
    if absolute.startswith(_SYSTEM_FOLDERS):
        return "in-place"
    try:
        mode = dest.stat().st_mode
    except OSError:
        return "atomic"
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return "atomic"
    return "in-place"


def writes_to_stdout(dest: Path) -> bool:
    """Whether a download to ``dest`` ends up on this process's standard output."""
    if destination_kind(dest) == "stdout":
        return True
    try:
        here, there = os.fstat(1), dest.stat()
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino) and not stat.S_ISREG(
        there.st_mode
    )


def _final_target(dest: Path) -> Path:
    """The file an atomic download replaces: ``dest`` with symlinks followed (so the link stays
    and its target gets the content); InvalidInputError for a symlink loop."""
    target = Path(os.path.realpath(dest))
    if target.is_symlink():
        raise InvalidInputError(f"cannot write {dest}: it is a symlink loop")
    return target


async def _open_in_place(dest: Path) -> int:
    """A write descriptor on the existing file ``dest``, never creating or truncating anything
    but a regular file. A FIFO is waited for (cancellably) until a reader opens it."""
    import asyncio
    import errno

    flags = os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    while True:
        try:
            fd = os.open(dest, flags)
            break
        except OSError as exc:
            if exc.errno != errno.ENXIO:  # ENXIO: a FIFO nobody reads yet
                raise
            await asyncio.sleep(0.05)
    try:
        os.set_blocking(fd, True)
        if stat.S_ISREG(os.fstat(fd).st_mode):
            os.ftruncate(fd, 0)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
