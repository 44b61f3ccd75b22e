"""Error mapping, uploads and downloads against a tiny real HTTP server started in the test.

The local CL server answers 401/403/404/422/400 itself (see test_compute_jobs.py and
test_auth_service.py); the cases it cannot produce — 5xx with odd bodies, timeouts, redirects,
connections cut mid-download — come from this tiny server.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TypeVar

import pytest
from cl_client.errors import (
    AuthenticationError,
    BadRequestError,
    HTTPStatusError,
    InvalidInputError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    RequestTimeoutError,
    ServerError,
    ServiceUnreachableError,
    UnsafeResultPathError,
    ValidationError,
)
from cl_client.models import Job
from cl_client.transport import (
    ServiceTransport,
    check_relative_path,
    decode,
    encode_path,
    safe_join,
)
from corelib_support import Reply, Seen, TinyServer, closed_port_url, json_reply

pytestmark = [pytest.mark.timeout(60)]

T = TypeVar("T")
MakeServer = Callable[[Callable[[Seen], Reply]], TinyServer]


def run(coro: Coroutine[object, object, T]) -> T:
    return asyncio.run(coro)


async def get_error(server: TinyServer, path: str = "/x", limit: float = 5.0) -> Exception:
    transport = ServiceTransport("compute", server.url, limit, True)
    try:
        await transport.request("GET", path)
    except Exception as exc:
        return exc
    finally:
        await transport.aclose()
    raise AssertionError("no error raised")


def fixed(reply: Reply) -> Callable[[Seen], Reply]:
    return lambda _req: reply


# --- status mapping -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "kind", "message", "exit_code"),
    [
        (
            Reply(500, b"Internal Server Error", {"Content-Type": "text/plain"}),
            ServerError,
            "compute service error (HTTP 500): Internal Server Error",
            5,
        ),
        (json_reply(502, {"detail": "upstream down"}), ServerError, "(HTTP 502): upstream down", 5),
        (Reply(503), ServerError, "(HTTP 503): Service Unavailable", 5),
        (
            json_reply(400, {"detail": "Path is not a file: output"}),
            BadRequestError,
            "bad request: Path is not a file: output",
            2,
        ),
        (
            json_reply(401, {"detail": "Authentication required"}),
            AuthenticationError,
            "not authenticated: Authentication required — run `cl login`",
            3,
        ),
        (
            json_reply(403, {"detail": "Insufficient permissions"}),
            PermissionDeniedError,
            "permission denied: Insufficient permissions",
            3,
        ),
        (
            json_reply(404, {"detail": "Job x not found"}),
            NotFoundError,
            "not found: Job x not found",
            4,
        ),
        (
            json_reply(418, {"detail": {"why": "teapot"}}),
            HTTPStatusError,
            'compute service answered HTTP 418: {"why": "teapot"}',
            5,
        ),
        (json_reply(422, {"detail": "bad form"}), ValidationError, "invalid request: bad form", 2),
    ],
)
def test_status_codes_map_to_one_hierarchy(
    tiny_server_factory: MakeServer,
    reply: Reply,
    kind: type[HTTPStatusError],
    message: str,
    exit_code: int,
) -> None:
    server = tiny_server_factory(fixed(reply))
    exc = run(get_error(server))
    assert type(exc) is kind
    assert isinstance(exc, HTTPStatusError)
    assert message in str(exc)
    assert exc.exit_code == exit_code
    assert exc.status_code == reply.status
    assert exc.url == f"{server.url}/x"
    assert "\n" not in str(exc)


def test_422_names_the_first_field_and_counts_the_others(tiny_server_factory: MakeServer) -> None:
    detail = [
        {"type": "less_than_equal", "loc": ["body", "quality"], "msg": "Input should be <= 100"},
        {"type": "missing", "loc": ["body", "format"], "msg": "Field required"},
        {"type": "missing", "loc": ["query", "days"], "msg": "Field required"},
    ]
    server = tiny_server_factory(fixed(json_reply(422, {"detail": detail})))
    exc = run(get_error(server))
    assert isinstance(exc, ValidationError)
    assert str(exc) == "invalid quality: Input should be <= 100 (and 2 more errors)"
    assert [e.field for e in exc.errors] == ["quality", "format", "days"]
    assert exc.errors[1].loc == ("body", "format")

    server = tiny_server_factory(fixed(json_reply(422, {"detail": detail[:2]})))
    exc = run(get_error(server))
    assert str(exc) == "invalid quality: Input should be <= 100 (and 1 more error)"


def test_long_html_bodies_are_shortened_to_one_line(tiny_server_factory: MakeServer) -> None:
    body = ("<html>\n<body>" + "x" * 5000 + "</body></html>").encode()
    server = tiny_server_factory(fixed(Reply(500, body, {"Content-Type": "text/html"})))
    exc = run(get_error(server))
    assert isinstance(exc, ServerError)
    assert len(exc.detail) <= 200 and "\n" not in str(exc)


def test_redirects_are_reported_not_followed(tiny_server_factory: MakeServer) -> None:
    server = tiny_server_factory(fixed(Reply(307, b"", {"Location": "http://127.0.0.1:1/users/"})))
    exc = run(get_error(server, "/users"))
    assert isinstance(exc, HTTPStatusError) and exc.status_code == 307
    assert "redirected GET /users to http://127.0.0.1:1/users/" in str(exc)
    assert len(server.requests) == 1


def test_timeout_names_the_service_and_the_limit(tiny_server_factory: MakeServer) -> None:
    server = tiny_server_factory(fixed(Reply(200, b"{}", delay=1.0)))
    exc = run(get_error(server, "/slow", limit=0.2))
    assert isinstance(exc, RequestTimeoutError)
    assert str(exc) == f"compute service at {server.url} did not answer GET /slow within 0.2 s"
    assert exc.exit_code == 5


def test_connection_refused_names_the_url() -> None:
    url = closed_port_url()

    async def scenario() -> Exception:
        transport = ServiceTransport("compute", url, 2.0, True)
        try:
            await transport.request("GET", "/jobs/x")
        except Exception as exc:
            return exc
        finally:
            await transport.aclose()
        raise AssertionError

    exc = run(scenario())
    assert isinstance(exc, ServiceUnreachableError)
    assert str(exc) == (
        f"cannot reach compute service at {url} (connection refused) — is the server running? "
        "check `cl profile show`"
    )
    assert exc.url == f"{url}/jobs/x"


def test_malformed_2xx_bodies(tiny_server_factory: MakeServer) -> None:
    answers = iter([Reply(200, b"<html>oops</html>"), json_reply(200, {"job_id": "x"})])
    server = tiny_server_factory(lambda _req: next(answers))

    async def scenario() -> list[str]:
        transport = ServiceTransport("compute", server.url, 5.0, True)
        errors: list[str] = []
        for _ in range(2):
            response = await transport.request("GET", "/jobs/x")
            with pytest.raises(MalformedResponseError) as info:
                decode(response, Job, service="compute")
            errors.append(str(info.value))
        await transport.aclose()
        return errors

    errors = run(scenario())
    assert errors[0].startswith("unexpected answer from the compute service to GET /jobs/x")
    assert "task_type" in errors[1]


# --- uploads --------------------------------------------------------------------------------


def test_upload_sends_the_basename_and_the_form(
    tiny_server_factory: MakeServer, tmp_path: Path
) -> None:
    server = tiny_server_factory(fixed(json_reply(200, {"ok": True})))
    nested = tmp_path / "deep" / "er"
    nested.mkdir(parents=True)
    photo = nested / "photo 1.jpg"
    photo.write_bytes(b"\xff\xd8" + b"p" * 200_000)

    async def scenario() -> None:
        transport = ServiceTransport("compute", server.url, 5.0, True)
        await transport.upload("/jobs/hash", photo, data={"algorithm": "md5", "priority": "5"})
        await transport.aclose()

    run(scenario())
    req = server.requests[-1]
    assert req.method == "POST" and req.headers["content-type"].startswith("multipart/form-data")
    assert b'name="file"; filename="photo 1.jpg"' in req.body
    assert str(nested).encode() not in req.body
    assert b"\xff\xd8" + b"p" * 200_000 in req.body
    assert b'name="algorithm"\r\n\r\nmd5' in req.body
    assert b"Content-Type: image/jpeg" in req.body


# --- downloads ------------------------------------------------------------------------------


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_download_streams_into_place(tiny_server_factory: MakeServer, tmp_path: Path) -> None:
    payload = bytes(range(256)) * 16384  # 4 MiB: the reader pauses and resumes the socket
    server = tiny_server_factory(fixed(Reply(200, payload)))

    async def scenario() -> Path:
        transport = ServiceTransport("compute", server.url, 5.0, True)
        try:
            return await transport.download(
                "/jobs/j/files/output/x.bin", tmp_path / "new" / "x.bin"
            )
        finally:
            await transport.aclose()

    target = run(scenario())
    assert target.read_bytes() == payload
    assert leftovers(target.parent) == ["x.bin"]


def test_download_cut_short_leaves_nothing_injected_fault(
    tiny_server_factory: MakeServer, tmp_path: Path
) -> None:
    server = tiny_server_factory(fixed(Reply(200, b"a" * 1000, declared_length=100_000)))
    dest = tmp_path / "x.bin"
    dest.write_bytes(b"old content")

    async def scenario() -> Exception:
        transport = ServiceTransport("compute", server.url, 5.0, True)
        try:
            await transport.download("/f", dest)
        except Exception as exc:
            return exc
        finally:
            await transport.aclose()
        raise AssertionError("no error")

    exc = run(scenario())
    assert isinstance(exc, ServiceUnreachableError)
    assert "download of /f from the compute service was" in str(exc)
    assert dest.read_bytes() == b"old content"  # the previous file is untouched
    assert leftovers(tmp_path) == ["x.bin"]


def test_download_stalling_times_out_and_leaves_nothing(
    tiny_server_factory: MakeServer, tmp_path: Path
) -> None:
    server = tiny_server_factory(fixed(Reply(200, parts=[(b"a" * 10, 1.5), (b"b", 0)])))

    async def scenario() -> Exception:
        transport = ServiceTransport("compute", server.url, 0.3, True)
        try:
            await transport.download("/f", tmp_path / "x.bin")
        except Exception as exc:
            return exc
        finally:
            await transport.aclose()
        raise AssertionError("no error")

    exc = run(scenario())
    assert isinstance(exc, RequestTimeoutError) and "stalled" in str(exc)
    assert leftovers(tmp_path) == []


def test_cancelled_download_leaves_nothing_injected_interruption(
    tiny_server_factory: MakeServer, tmp_path: Path
) -> None:
    server = tiny_server_factory(fixed(Reply(200, parts=[(b"a" * 70_000, 3.0), (b"b", 0)])))

    async def scenario() -> None:
        transport = ServiceTransport("compute", server.url, 10.0, True)
        task = asyncio.create_task(transport.download("/f", tmp_path / "x.bin"))
        # Wait until the first bytes have landed in the temp file, then interrupt (like Ctrl-C).
        for _ in range(500):
            parts = [p for p in tmp_path.iterdir() if p.name.endswith(".part")]  # noqa: ASYNC240
            if parts and parts[0].stat().st_size > 0:
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the download never started")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await transport.aclose()

    run(scenario())
    assert leftovers(tmp_path) == []


def test_download_error_status_writes_nothing(
    tiny_server_factory: MakeServer, tmp_path: Path
) -> None:
    server = tiny_server_factory(fixed(json_reply(404, {"detail": "File not found: x"})))

    async def scenario() -> None:
        transport = ServiceTransport("compute", server.url, 5.0, True)
        with pytest.raises(NotFoundError, match="File not found: x"):
            await transport.download("/f", tmp_path / "x.bin")
        await transport.aclose()

    run(scenario())
    assert leftovers(tmp_path) == []


# --- paths ----------------------------------------------------------------------------------


def test_encode_path_keeps_slashes_and_encodes_segments() -> None:
    assert encode_path("output/clip_embedding.npy") == "output/clip_embedding.npy"
    assert encode_path("faces/face 0#?.png") == "faces/face%200%23%3F.png"
    assert encode_path("input/ünï%.jpg") == "input/%C3%BCn%C3%AF%25.jpg"


@pytest.mark.parametrize(
    "bad", ["", "/etc/passwd", "../x", "a/../../x", "a//b", "a/./b", "a/", "a\\..\\b", "a\0b", ".."]
)
def test_unsafe_relative_paths_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInputError, match="invalid job file path"):
        check_relative_path(bad)


def test_safe_join_stays_inside_even_through_symlinks(tmp_path: Path) -> None:
    root = tmp_path / "dest"
    root.mkdir()
    assert safe_join(root, "output/a.m3u8") == root / "output" / "a.m3u8"
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "link").symlink_to(outside)
    with pytest.raises(InvalidInputError, match="leads outside"):
        safe_join(root, "link/evil.txt")
    # a path the server named that leaves the folder is the server's fault (exit 5)
    with pytest.raises(UnsafeResultPathError) as info:
        safe_join(root, "../outside/evil.txt")
    assert info.value.exit_code == 5
    assert "the server named an unsafe result path" in str(info.value)
    assert list(outside.iterdir()) == []


def test_error_bodies_that_are_json_but_not_objects(tiny_server_factory: MakeServer) -> None:
    server = tiny_server_factory(fixed(Reply(500, json.dumps(["a", "b"]).encode())))
    exc = run(get_error(server))
    assert isinstance(exc, ServerError) and '["a", "b"]' in str(exc)
