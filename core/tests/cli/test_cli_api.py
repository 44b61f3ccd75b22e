"""``cl api``: any endpoint through the real transport, against a real local server (JWT mode for
the token, refresh and permission cases)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from cl_local_server.pytest_plugin import ADMIN_PASSWORD

from .conftest import RunCl

if TYPE_CHECKING:
    from cl_local_server.server import LocalServer

pytestmark = pytest.mark.timeout(120)


def _login(cl: RunCl, username: str, password: str) -> None:
    done = cl("login", "-u", username, "--password-stdin", input=f"{password}\n")
    assert done.exit_code == 0, done.output


def test_get_capabilities_prints_the_servers_json(
    cl: RunCl, server: LocalServer, server_env: dict[str, str]
) -> None:
    result = cl("api", "GET", "/capabilities")
    assert result.exit_code == 0, result.output
    caps = json.loads(result.stdout)
    assert caps["capabilities"]["hash"] >= 1
    # the method defaults to GET, and the leading slash is optional
    assert json.loads(cl("api", "capabilities").stdout) == caps


def test_include_shows_status_and_headers(cl: RunCl, server_env: dict[str, str]) -> None:
    result = cl("api", "-i", "/")
    assert result.exit_code == 0, result.output
    head, _, body = result.stdout.partition("\n\n")
    assert head.splitlines()[0] == "HTTP/1.1 200 OK"
    assert "content-type: application/json" in head.lower()
    assert json.loads(body)["status"]


def test_status_codes_map_to_exit_codes(cl: RunCl, server_env: dict[str, str]) -> None:
    missing = cl("api", "/jobs/00000000-0000-0000-0000-000000000000")
    assert missing.exit_code == 4
    [line] = missing.stderr.strip().splitlines()
    assert line.startswith("error:")


def test_bad_method_and_service_are_refused_before_sending(cl_offline: RunCl) -> None:
    assert cl_offline("api", "FETCH", "/x").exit_code == 2
    bad = cl_offline("api", "/x", "--service", "storage")
    assert bad.exit_code == 2
    assert "--service" in bad.stderr
    url = cl_offline("api", "GET", "http://elsewhere/x")
    assert url.exit_code == 2


def test_token_refresh_admin_route_and_masked_secrets(
    cl: RunCl, jwt_server: LocalServer, jwt_env: dict[str, str]
) -> None:
    # not logged in: the admin route says so (exit 3)
    assert cl("api", "/admin/jobs/storage/size").exit_code == 3

    _login(cl, "admin", ADMIN_PASSWORD)
    storage = cl("api", "/admin/jobs/storage/size")
    assert storage.exit_code == 0, storage.output
    assert "job_count" in json.loads(storage.stdout)
    me = json.loads(cl("api", "/users/me").stdout)  # the auth service, chosen by the path
    assert me["username"] == "admin"
    created = cl("api", "POST", "/users/", "-F", "username=carol", "-F", "password=carol-password")
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout)["username"] == "carol"

    # a token asked for through `cl api` is never printed
    token = cl(
        "api", "POST", "/auth/token", "-F", "username=carol", "-F", "password=carol-password"
    )
    assert token.exit_code == 0, token.output
    assert json.loads(token.stdout)["access_token"] == "***"

    cl("logout")
    _login(cl, "carol", "carol-password")
    denied = cl("api", "GET", "/admin/jobs/storage/size")
    assert denied.exit_code == 3
    [line] = denied.stderr.strip().splitlines()
    assert line.startswith("error: permission denied")
    assert cl("api", "/users/", "--service", "auth").exit_code == 3
