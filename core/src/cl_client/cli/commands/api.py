"""``cl api [METHOD] PATH``: an authenticated request to the profile's server, as ``gh api``.

The request goes through the same transport as every command (the profile's token, refreshed or
renewed when it expires, retries of idempotent requests), so a route no command covers yet is one
line away. Secrets in the answer (tokens) are masked: they never reach the terminal or a log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Final, Literal

import typer

from cl_client.cli import get_output, run_async
from cl_client.cli.fields import FIELD_HELP, RAW_FIELD_HELP

if TYPE_CHECKING:
    import httpx

    from cl_client.cli.output import Output
    from cl_client.client import Client

METHODS: Final = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
#: Paths of the auth service (PROTOCOL §3); everything else is the compute service's.
AUTH_PREFIXES: Final = ("/auth/", "/users")
#: JSON keys whose values are secrets, and response headers that carry them.
SECRET_KEYS: Final = frozenset({"access_token", "refresh_token", "token", "password"})
SECRET_HEADERS: Final = frozenset({"authorization", "set-cookie", "cookie"})
MASK: Final = "***"

Service = Literal["auth", "compute"]


def service_of(path: str) -> Service:
    """The service a path belongs to when ``--service`` is not given."""
    return "auth" if path.startswith(AUTH_PREFIXES) else "compute"


def masked(value: object) -> object:
    """``value`` with the values of secret keys replaced, at any depth."""
    if isinstance(value, dict):
        items: dict[object, object] = value  # pyright: ignore[reportUnknownVariableType]
        return {k: MASK if k in SECRET_KEYS else masked(v) for k, v in items.items()}
    if isinstance(value, list):
        elements: list[object] = value  # pyright: ignore[reportUnknownVariableType]
        return [masked(v) for v in elements]
    return value


def _parse_target(first: str, second: str | None, has_fields: bool) -> tuple[str, str]:
    from cl_client.errors import InvalidInputError

    if second is None:
        method, path = ("POST" if has_fields else "GET"), first
    else:
        method, path = first.upper(), second
        if method not in METHODS:
            raise InvalidInputError(f"unknown method {first!r}: use one of {', '.join(METHODS)}")
    if not path.startswith("/"):
        path = "/" + path
    if "://" in path:
        raise InvalidInputError(
            f"{path!r}: give a path on the profile's server (e.g. /capabilities), not a URL"
        )
    return method, path


def _show(out: Output, response: httpx.Response, *, include: bool) -> None:
    import json

    if include:
        lines = [f"HTTP/1.1 {response.status_code} {response.reason_phrase}"]
        for name, value in response.headers.multi_items():
            lines.append(f"{name}: {MASK if name.lower() in SECRET_HEADERS else value}")
        out.stdout.write("\n".join(lines) + "\n\n")
    body = response.content
    if not body:
        out.stdout.flush()
        return
    try:
        decoded: object = json.loads(body)
    except ValueError:
        out.stdout.write(body.decode("utf-8", errors="replace").rstrip("\n") + "\n")
        out.stdout.flush()
        return
    out.json(masked(decoded))


def api(
    ctx: typer.Context,
    first: Annotated[
        str,
        typer.Argument(
            help="METHOD (GET, POST, PUT, PATCH, DELETE; default GET, or POST with fields) "
            "followed by PATH, or PATH alone.",
            metavar="[METHOD] PATH",
            show_default=False,
        ),
    ],
    second: Annotated[str | None, typer.Argument(hidden=True, show_default=False)] = None,
    field: Annotated[
        list[str] | None,
        typer.Option("--field", "-F", help=FIELD_HELP, metavar="KEY=VALUE", show_default=False),
    ] = None,
    raw_field: Annotated[
        list[str] | None,
        typer.Option("--raw-field", help=RAW_FIELD_HELP, metavar="KEY=VALUE", show_default=False),
    ] = None,
    service: Annotated[
        str | None,
        typer.Option(
            "--service",
            help="The service to ask (default: auth for /auth/… and /users…, else compute).",
            metavar="auth|compute",
            show_default=False,
        ),
    ] = None,
    include: Annotated[
        bool, typer.Option("--include", "-i", help="Print the status line and headers first.")
    ] = False,
) -> None:
    """Send an authenticated request to the profile's server and print the JSON answer.

    Fields go in the query string of GET and DELETE requests and in a form body otherwise. The
    exit code follows the status (see `cl help exit-codes`): 3 for 401/403, 4 for 404, 2 for
    400/422, 5 for 5xx. Tokens in the answer are masked.
    """
    from cl_client.cli import check_options
    from cl_client.cli.fields import parse_fields
    from cl_client.errors import InvalidInputError

    out = get_output(ctx)

    def check() -> tuple[str, str, dict[str, str], Service]:
        fields = parse_fields(field or [], raw_field or [])
        method, path = _parse_target(first, second, bool(fields))
        if service is not None and service not in ("auth", "compute"):
            raise InvalidInputError(f"--service must be auth or compute, got {service!r}")
        chosen: Service = "auth" if service == "auth" else "compute"
        return method, path, fields, chosen if service is not None else service_of(path)

    method, path, fields, target = check_options(ctx, check)
    in_query = method in ("GET", "DELETE", "HEAD", "OPTIONS")

    async def go(client: Client) -> httpx.Response:
        transport = client.auth.transport if target == "auth" else client.compute.transport
        return await transport.request(
            method,
            path,
            params=fields if in_query and fields else None,
            data=fields if not in_query and fields else None,
        )

    _show(out, run_async(ctx, go), include=include)
