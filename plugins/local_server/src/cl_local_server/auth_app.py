"""The auth service (PROTOCOL §3): login, refresh, public key and user administration."""

from __future__ import annotations

import secrets

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cl_local_server.auth_store import (
    User,
    UsernameTakenError,
    UserStore,
    check_password,
    hash_password,
    parse_create_permissions,
    parse_update_permissions,
)
from cl_local_server.config import ServerConfig
from cl_local_server.forms import FieldError, FieldReader, RequestValidationFailed
from cl_local_server.http_common import (
    EXCEPTION_HANDLERS,
    ApiError,
    bearer_token,
    unauthorized,
)
from cl_local_server.keys import ALGORITHM, TokenSigner, decode_token, write_private_file


class AuthService:
    """State of the auth service; :attr:`app` is its ASGI app."""

    def __init__(self, config: ServerConfig, store: UserStore) -> None:
        self.config = config
        self.store = store
        self.public_pem = config.public_key_path.read_bytes()
        # Checked against for unknown usernames, so they cost as much as wrong passwords.
        self._dummy_hash: str | None = None
        self.signer = TokenSigner(config.private_key_path.read_bytes(), config.token_expire_minutes)
        self.app = Starlette(
            routes=[
                Route("/", self.health, methods=["GET"]),
                Route("/auth/token", self.login, methods=["POST"]),
                Route("/auth/token/refresh", self.refresh, methods=["POST"]),
                Route("/auth/public-key", self.public_key, methods=["GET"]),
                Route("/users/me", self.me, methods=["GET"]),
                Route("/users/", self.create_user, methods=["POST"]),
                Route("/users/", self.list_users, methods=["GET"]),
                Route("/users/{user_id}", self.get_user, methods=["GET"]),
                Route("/users/{user_id}", self.update_user, methods=["PUT"]),
                Route("/users/{user_id}", self.delete_user, methods=["DELETE"]),
            ],
            exception_handlers=EXCEPTION_HANDLERS,  # pyright: ignore[reportArgumentType]
        )

    def ensure_admin(self) -> str | None:
        """Create the bootstrap admin on first start; returns its password only when generated
        now. A generated password is written to :attr:`ServerConfig.admin_password_path` first,
        so an admin never exists whose password nobody can find."""
        if self.store.by_name(self.config.admin_username) is not None or self.store.count() > 0:
            return None
        generated = not self.config.admin_password
        password = self.config.admin_password or secrets.token_urlsafe(12)
        if generated:
            write_private_file(self.config.admin_password_path, password + "\n")
        try:
            self.store.create(
                self.config.admin_username,
                hash_password(password, self.config.bcrypt_rounds),
                is_admin=True,
                is_active=True,
                permissions=["*"],
            )
        except BaseException:
            if generated:
                self.config.admin_password_path.unlink(missing_ok=True)
            raise
        return password

    def _forget_generated_password(self, user: User) -> None:
        """The bootstrap admin's password changed (or the admin is gone): the file is stale."""
        if user.username == self.config.admin_username:
            self.config.admin_password_path.unlink(missing_ok=True)

    # -- dependencies -------------------------------------------------------------------------

    def _current_user(self, request: Request) -> User:
        token = bearer_token(request)
        if token is None:
            raise unauthorized("Not authenticated")
        credentials_error = unauthorized("Could not validate credentials")
        try:
            claims = decode_token(token, self.public_pem)
            user_id = int(claims.user_id)
        except Exception as exc:  # any failure to verify or parse is the same 401 upstream
            raise credentials_error from exc
        user = self.store.get(user_id)
        if user is None:
            raise credentials_error
        return user

    def _admin(self, request: Request) -> User:
        user = self._current_user(request)
        if not user.is_admin:
            raise ApiError(403, "The user doesn't have enough privileges")
        return user

    def _token_response(self, user: User) -> JSONResponse:
        token = self.signer.issue(user.id, user.permissions, user.is_admin)
        return JSONResponse({"access_token": token, "token_type": "bearer"})

    @staticmethod
    def _user_id(request: Request) -> int:
        raw = str(request.path_params["user_id"])
        try:
            return int(raw)
        except ValueError:
            raise RequestValidationFailed(
                [
                    FieldError(
                        "int_parsing",
                        ("path", "user_id"),
                        "Input should be a valid integer, unable to parse string as an integer",
                        raw,
                    )
                ]
            ) from None

    def _found(self, user_id: int) -> User:
        user = self.store.get(user_id)
        if user is None:
            raise ApiError(404, "User not found")
        return user

    # -- endpoints ----------------------------------------------------------------------------

    async def health(self, _request: Request) -> Response:
        return JSONResponse({"message": "authentication service is running"})

    async def login(self, request: Request) -> Response:
        # A JSON body parses as an empty form, so it fails with "missing" errors like upstream.
        form = await request.form()
        reader = FieldReader(form)
        username = reader.string("username", required=True)
        password = reader.string("password", required=True)
        grant_type = reader.string("grant_type")
        if grant_type is not None and grant_type != "password":
            reader.add(
                FieldError(
                    "string_pattern_mismatch",
                    reader.loc("grant_type"),
                    "String should match pattern '^password$'",
                    grant_type,
                    {"pattern": "^password$"},
                )
            )
        reader.raise_if_errors()
        assert username is not None and password is not None
        user = self.store.by_name(username)
        if user is not None:
            hashed = user.hashed_password
        else:
            if self._dummy_hash is None:
                self._dummy_hash = await run_in_threadpool(
                    hash_password, secrets.token_hex(8), self.config.bcrypt_rounds
                )
            hashed = self._dummy_hash
        ok = await run_in_threadpool(check_password, password, hashed)
        if user is None or not ok:
            # is_active is deliberately not checked (upstream behaviour, PROTOCOL B10).
            raise unauthorized("Incorrect username or password")
        return self._token_response(user)

    async def refresh(self, request: Request) -> Response:
        return self._token_response(self._current_user(request))

    async def public_key(self, _request: Request) -> Response:
        return JSONResponse({"public_key": self.public_pem.decode(), "algorithm": ALGORITHM})

    async def me(self, request: Request) -> Response:
        return JSONResponse(self._current_user(request).to_json())

    async def create_user(self, request: Request) -> Response:
        self._admin(request)
        reader = FieldReader(await request.form())
        username = reader.string("username", required=True)
        password = reader.string("password", required=True)
        is_admin = reader.boolean("is_admin", False)
        is_active = reader.boolean("is_active", True)
        permissions_raw = reader.string("permissions")
        reader.raise_if_errors()
        assert username is not None and password is not None
        if self.store.by_name(username) is not None:
            raise ApiError(400, "Username already registered")
        permissions = parse_create_permissions(permissions_raw) if permissions_raw else []
        hashed = await run_in_threadpool(hash_password, password, self.config.bcrypt_rounds)
        try:
            user = self.store.create(
                username,
                hashed,
                is_admin=bool(is_admin),
                is_active=bool(is_active),
                permissions=permissions,
            )
        except UsernameTakenError:
            raise ApiError(400, "Username already registered") from None
        return JSONResponse(user.to_json(), status_code=201)

    async def list_users(self, request: Request) -> Response:
        self._admin(request)
        reader = FieldReader(request.query_params, location="query")
        skip = reader.integer("skip", 0)
        limit = reader.integer("limit", 100)
        reader.raise_if_errors()
        users = self.store.list(skip or 0, 100 if limit is None else limit)
        return JSONResponse([u.to_json() for u in users])

    async def get_user(self, request: Request) -> Response:
        self._admin(request)
        return JSONResponse(self._found(self._user_id(request)).to_json())

    async def update_user(self, request: Request) -> Response:
        self._admin(request)
        user_id = self._user_id(request)
        reader = FieldReader(await request.form())
        password = reader.string("password")
        permissions_raw = reader.string("permissions")
        is_active = reader.boolean("is_active", None)
        is_admin = reader.boolean("is_admin", None)
        reader.raise_if_errors()
        self._found(user_id)
        hashed = (
            await run_in_threadpool(hash_password, password, self.config.bcrypt_rounds)
            if password is not None
            else None
        )
        user = self.store.update(
            user_id,
            hashed_password=hashed,
            # An empty value never arrives here: FastAPI drops it as "not sent" (PROTOCOL B9).
            permissions=parse_update_permissions(permissions_raw) if permissions_raw else None,
            is_active=is_active,
            is_admin=is_admin,
        )
        if user is None:
            raise ApiError(404, "User not found")
        if hashed is not None:
            self._forget_generated_password(user)
        return JSONResponse(user.to_json())

    async def delete_user(self, request: Request) -> Response:
        self._admin(request)
        user_id = self._user_id(request)
        user = self._found(user_id)
        if not self.store.delete(user_id):
            raise ApiError(404, "User not found")
        self._forget_generated_password(user)
        return Response(status_code=204)
