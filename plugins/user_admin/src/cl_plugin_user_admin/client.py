"""Typed library client for the auth service's user endpoints (PROTOCOL §3.3, §3.5, §10 B9–B12).

:class:`UserAdminClient` wraps the core's :class:`~cl_client.auth.AuthClient` (one HTTP stack, one
session with token refresh), checks arguments before anything is sent, and turns the server's terse
answers into errors that say what happened::

    async with Client() as client:
        admin = UserAdminClient.for_client(client)
        bob = await admin.create_user("bob", password, permissions=["ai_inference_support"])
        await admin.update_user(bob.id, is_active=False)

What the server stores but does not enforce (so this client cannot promise it either):

* ``is_active`` is never checked: an inactive user can still log in and use their token (B10).
* A deleted or demoted user keeps compute access until their token expires (30 min by default),
  because compute checks only the token's signature and expiry (B11).
* Permissions cannot be cleared to an empty list: the server ignores an empty value (B9).
* Permission names are not checked; only ``ai_inference_support`` (compute) and
  ``media_store_read`` / ``media_store_write`` (store) mean anything. ``*`` is not a wildcard (B12).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Final

from cl_client.errors import (
    BadRequestError,
    ConfigError,
    InvalidInputError,
    NotFoundError,
    NotLoggedInError,
    PermissionDeniedError,
)
from cl_client.tasks import check_int_range

if TYPE_CHECKING:
    from cl_client.auth import AuthClient
    from cl_client.client import Client
    from cl_client.config import Settings
    from cl_client.models import User

#: The permission names the servers actually check, with what they grant (PROTOCOL §3.5).
KNOWN_PERMISSIONS: Final[dict[str, str]] = {
    "ai_inference_support": "submit, read, delete and download compute jobs",
    "media_store_read": "read the media store",
    "media_store_write": "write to the media store",
}

ADMIN_NEEDED: Final = "permission denied: admin rights needed"

#: Suggested when someone wants to clear every permission, which the server cannot do (B9).
NO_PERMISSION_PLACEHOLDER: Final = "none"
#: Users asked for at once when a user is looked up by name.
USER_PAGE: Final = 100


class AdminRightsRequiredError(PermissionDeniedError):
    """403 from a user endpoint: the logged-in user is not an admin."""


class UserNotFoundError(NotFoundError):
    """404: no user has this id."""

    def __init__(self, user_id: int, *, status_code: int, detail: str, url: str) -> None:
        super().__init__(
            f"user {user_id} not found", status_code=status_code, detail=detail, url=url
        )
        self.user_id = user_id


class UsernameNotFoundError(NotFoundError):
    """No user has this username (found by listing the users: the service has no lookup)."""

    def __init__(self, username: str, *, url: str) -> None:
        super().__init__(
            f"no user named {username!r} (see `cl user list`)",
            status_code=404,
            detail="",
            url=url,
        )
        self.username = username


class UsernameTakenError(BadRequestError):
    """400 on create: another user already has this username."""

    def __init__(self, username: str, *, status_code: int, detail: str, url: str) -> None:
        super().__init__(
            f"username {username!r} is already taken — choose another name, "
            "or change the existing user with `cl user update`",
            status_code=status_code,
            detail=detail,
            url=url,
        )
        self.username = username


class UserAdminClient:
    """Create, list, read, change and delete users. Every call needs an admin's token."""

    def __init__(self, auth: AuthClient) -> None:
        self.auth = auth

    @classmethod
    def for_client(cls, client: Client) -> UserAdminClient:
        """The admin client of ``client``'s session, after checking that it can log in at all.

        Raises :class:`~cl_client.errors.ConfigError` (exit 2) when the profile uses no auth, and
        :class:`~cl_client.errors.NotLoggedInError` (exit 3) when there is neither a token nor
        credentials to log in with; without these checks the auth service would answer a bare 401.
        """
        require_auth_mode(client.settings)
        settings = client.settings
        has_credentials = bool(settings.username and settings.password)
        if client.session.token_source == "none" and not has_credentials:  # noqa: S105 - not a secret
            raise NotLoggedInError(
                f"user administration needs a login as an admin: run `cl login` "
                f"(profile {settings.profile!r})"
            )
        return cls(client.auth)

    async def create_user(
        self,
        username: str,
        password: str,
        *,
        is_admin: bool = False,
        is_active: bool = True,
        permissions: Sequence[str] = (),
    ) -> User:
        name = check_username(username)
        check_password(password)
        perms = check_permissions(permissions)
        with _user_errors(username=name):
            return await self.auth.create_user(
                name, password, is_admin=is_admin, is_active=is_active, permissions=perms
            )

    async def list_users(self, *, skip: int = 0, limit: int = 100) -> list[User]:
        check_int_range("skip", skip, 0, None)
        check_int_range("limit", limit, 1, None)
        with _user_errors():
            return await self.auth.list_users(skip=skip, limit=limit)

    async def get_user(self, user_id: int) -> User:
        check_user_id(user_id)
        with _user_errors(user_id=user_id):
            return await self.auth.get_user(user_id)

    async def find_user(self, ref: str) -> User:
        """The user with the id ``ref`` (digits) or else the username ``ref``.

        The auth service looks users up by id only, so a name is found by listing the users a
        page at a time.
        """
        text = ref.strip()
        if text.isdigit():
            return await self.get_user(int(text))
        name = check_username(text)
        skip = 0
        while True:
            page = await self.list_users(skip=skip, limit=USER_PAGE)
            for user in page:
                if user.username == name:
                    return user
            if len(page) < USER_PAGE:
                raise UsernameNotFoundError(name, url=self.auth.transport.base_url + "/users/")
            skip += len(page)

    async def update_user(
        self,
        user_id: int,
        *,
        password: str | None = None,
        permissions: Sequence[str] | None = None,
        is_admin: bool | None = None,
        is_active: bool | None = None,
        allow_self: bool = False,
    ) -> User:
        """Change the given fields; ``None`` leaves a field as it is.

        ``permissions`` replaces the whole list; it cannot be empty (the server ignores that, B9).
        Removing your own admin rights or deactivating your own account (which can leave the
        server without an admin) is refused unless ``allow_self``.
        """
        check_user_id(user_id)
        if password is None and permissions is None and is_admin is None and is_active is None:
            raise InvalidInputError(
                "nothing to update: give a new password, permissions, admin or active state"
            )
        if password is not None:
            check_password(password)
        perms = None if permissions is None else check_update_permissions(permissions)
        if (is_admin is False or is_active is False) and not allow_self:
            what = "remove your own admin rights" if is_admin is False else "deactivate yourself"
            await self._refuse_self(user_id, what)
        with _user_errors(user_id=user_id):
            return await self.auth.update_user(
                user_id,
                password=password,
                permissions=perms,
                is_admin=is_admin,
                is_active=is_active,
            )

    async def delete_user(self, user_id: int, *, allow_self: bool = False) -> None:
        """Delete a user; deleting your own account is refused unless ``allow_self``."""
        check_user_id(user_id)
        if not allow_self:
            await self._refuse_self(user_id, "delete your own account")
        with _user_errors(user_id=user_id):
            await self.auth.delete_user(user_id)

    async def _refuse_self(self, user_id: int, what: str) -> None:
        """InvalidInputError when ``user_id`` is the logged-in user: a lone admin who demotes,
        deactivates or deletes themselves locks every admin out."""
        with _user_errors():
            me = await self.auth.me()
        if me.id == user_id:
            raise InvalidInputError(
                f"refusing to {what} (user {user_id} is {me.username}, the user logged in): "
                "it can leave the server without an admin — pass --allow-self if you mean it"
            )


# --- checks shared with the command line -----------------------------------------------------


def require_auth_mode(settings: Settings) -> None:
    """ConfigError unless the profile authenticates (auth_mode ``jwt``).

    A usage error (exit 2) rather than an auth error (3): logging in cannot help, since ``cl login``
    refuses a no-auth profile too; the profile (or --no-auth / CL_NO_AUTH) has to change.
    """
    if settings.auth_mode != "none":
        return
    source = settings.sources.get("auth_mode")
    origin = f", from {source}" if source is not None and source.kind != "default" else ""
    raise ConfigError(
        f"user administration needs a login: profile {settings.profile!r} uses no auth "
        f"(auth_mode none{origin}), so the auth service has no user to act as — use a profile "
        "with auth_mode jwt (without --no-auth / CL_NO_AUTH) and `cl login` as an admin"
    )


def check_user_id(user_id: int) -> int:
    return check_int_range("user id", user_id, 1, None)


def check_username(username: str) -> str:
    name = username.strip()
    if not name:
        raise InvalidInputError("username must not be empty")
    return name


def check_password(password: str) -> str:
    if not password:
        raise InvalidInputError("password must not be empty")
    return password


def check_permissions(permissions: Sequence[str]) -> list[str]:
    """Stripped, de-duplicated names in their given order.

    Names travel comma-joined (§3.3), so a name may not contain a comma; unknown names are allowed
    because the server accepts any string (B12) — see :func:`unknown_permissions`.
    """
    if isinstance(permissions, str):
        # A bare string is a sequence of characters: almost certainly a mistake.
        raise InvalidInputError("permissions must be a list of names, not one string")
    names: list[str] = []
    for raw in permissions:
        name = raw.strip()
        if not name:
            raise InvalidInputError("permission names must not be empty")
        if "," in name:
            raise InvalidInputError(
                f"permission name {name!r} contains a comma; give each name separately"
            )
        if name not in names:
            names.append(name)
    return names


def check_update_permissions(permissions: Sequence[str]) -> list[str]:
    names = check_permissions(permissions)
    if not names:
        raise InvalidInputError(
            "the server cannot clear every permission (it ignores an empty list); "
            f"set a placeholder that grants nothing instead, e.g. {NO_PERMISSION_PLACEHOLDER!r}"
        )
    return names


def unknown_permissions(permissions: Sequence[str]) -> list[str]:
    """The names no server checks (typos, ``*``, ``admin``, the later CLI's ``read:jobs``…)."""
    return [name for name in permissions if name not in KNOWN_PERMISSIONS]


@contextmanager
def _user_errors(*, user_id: int | None = None, username: str | None = None) -> Generator[None]:
    """Re-raise the auth service's 400/403/404 answers as errors that name the user."""
    try:
        yield
    except PermissionDeniedError as exc:
        raise AdminRightsRequiredError(
            ADMIN_NEEDED, status_code=exc.status_code, detail=exc.detail, url=exc.url
        ) from exc
    except NotFoundError as exc:
        if user_id is None:
            raise
        raise UserNotFoundError(
            user_id, status_code=exc.status_code, detail=exc.detail, url=exc.url
        ) from exc
    except BadRequestError as exc:
        if username is None or "already registered" not in exc.detail:
            raise
        raise UsernameTakenError(
            username, status_code=exc.status_code, detail=exc.detail, url=exc.url
        ) from exc
