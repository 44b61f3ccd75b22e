"""The library client: argument checks before any request, and its typed errors from a server."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import pytest
from cl_client.client import Client
from cl_client.config import Overrides
from cl_client.errors import ConfigError, InvalidInputError, NotLoggedInError
from cl_plugin_user_admin.client import (
    AdminRightsRequiredError,
    UserAdminClient,
    UsernameTakenError,
    UserNotFoundError,
    check_permissions,
    unknown_permissions,
)

if TYPE_CHECKING:
    from cl_local_server.server import LocalServer

pytestmark = pytest.mark.timeout(60)

T = TypeVar("T")

# Nothing listens here: a check that let a call through would fail with "cannot reach" instead.
UNREACHABLE = Overrides(
    auth_url="http://127.0.0.1:9", compute_url="http://127.0.0.1:9", username="u", password="p"
)


def with_client(overrides: Overrides, fn: Callable[[UserAdminClient], Awaitable[T]]) -> T:
    async def main() -> T:
        async with Client(overrides=overrides) as client:
            return await fn(UserAdminClient.for_client(client))

    return asyncio.run(main())


Call = Callable[[UserAdminClient], Awaitable[object]]
BAD_CALLS: list[tuple[Call, str]] = [
    (lambda u: u.create_user("", "pw"), "username must not be empty"),
    (lambda u: u.create_user("x", ""), "password must not be empty"),
    (lambda u: u.create_user("x", "pw", permissions=["a,b"]), "contains a comma"),
    (lambda u: u.create_user("x", "pw", permissions=[" "]), "must not be empty"),
    (lambda u: u.create_user("x", "pw", permissions="ai_inference_support"), "not one string"),
    (lambda u: u.list_users(skip=-1), "skip must be at least 0"),
    (lambda u: u.list_users(limit=0), "limit must be at least 1"),
    (lambda u: u.get_user(0), "user id must be at least 1"),
    (lambda u: u.update_user(3), "nothing to update"),
    (lambda u: u.update_user(3, permissions=[]), "cannot clear every permission"),
    (lambda u: u.update_user(3, password=""), "password must not be empty"),
    (lambda u: u.delete_user(-2), "user id must be at least 1"),
]


@pytest.mark.parametrize(("call", "message"), BAD_CALLS)
def test_bad_arguments_fail_before_any_request(call: Call, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        with_client(UNREACHABLE, call)


def test_permission_names_are_cleaned_and_unknown_ones_named() -> None:
    names = check_permissions([" ai_inference_support", "read:jobs", "ai_inference_support", "*"])
    assert names == ["ai_inference_support", "read:jobs", "*"]
    assert unknown_permissions(names) == ["read:jobs", "*"]


def test_a_no_auth_profile_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="uses no auth"):
        with_client(
            Overrides(auth_url="http://127.0.0.1:9", no_auth=True), lambda u: u.list_users()
        )


def test_typed_errors_from_the_server(
    cl_server_jwt: LocalServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    monkeypatch.setenv("CL_STATE_DIR", str(tmp_path_factory.mktemp("state")))
    info = cl_server_jwt.info
    as_admin = Overrides(
        auth_url=info.auth_url,
        compute_url=info.compute_url,
        mqtt_url=info.mqtt_url,
        username=info.admin_username,
        password=info.admin_password,
    )

    async def admin_calls(users: UserAdminClient) -> int:
        grace = await users.create_user("grace", "grace-pass", permissions=["media_store_read"])
        with pytest.raises(UsernameTakenError, match="'grace' is already taken") as taken:
            await users.create_user("grace", "again")
        assert taken.value.exit_code == 2
        with pytest.raises(UserNotFoundError, match="user 4242 not found") as missing:
            await users.update_user(4242, is_active=False)
        assert missing.value.exit_code == 4
        return grace.id

    grace_id = with_client(as_admin, admin_calls)

    as_grace = Overrides(
        auth_url=info.auth_url,
        compute_url=info.compute_url,
        username="grace",
        password="grace-pass",
    )
    monkeypatch.setenv("CL_STATE_DIR", str(tmp_path_factory.mktemp("state")))
    with pytest.raises(AdminRightsRequiredError) as denied:
        with_client(as_grace, lambda users: users.get_user(grace_id))
    assert str(denied.value) == "permission denied: admin rights needed"
    assert denied.value.exit_code == 3

    no_login = Overrides(auth_url=info.auth_url, compute_url=info.compute_url)
    monkeypatch.setenv("CL_STATE_DIR", str(tmp_path_factory.mktemp("state")))
    with pytest.raises(NotLoggedInError, match="needs a login as an admin"):
        with_client(no_login, lambda users: users.list_users())
