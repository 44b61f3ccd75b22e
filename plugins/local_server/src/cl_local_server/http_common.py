"""Response conventions shared by both apps (PROTOCOL §2): JSON ``detail`` errors, Bearer
headers."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cl_local_server.forms import RequestValidationFailed, validation_response

BEARER = {"WWW-Authenticate": "Bearer"}


class ApiError(HTTPException):
    """An application error answered as ``{"detail": <message>}``."""

    def __init__(
        self, status_code: int, detail: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(status_code=status_code, detail=detail, headers=dict(headers or {}))


def unauthorized(detail: str) -> ApiError:
    return ApiError(401, detail, BEARER)


async def http_exception_handler(_request: Request, exc: Exception) -> Response:
    # FastAPI answers every HTTPException (including routing 404/405) with a JSON body.
    assert isinstance(exc, HTTPException)
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def validation_exception_handler(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationFailed)
    return validation_response(exc.errors)


EXCEPTION_HANDLERS = {
    HTTPException: http_exception_handler,
    RequestValidationFailed: validation_exception_handler,
}


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header, like FastAPI's OAuth2PasswordBearer."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, param = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return param.strip()
