"""Less travelled paths of the built-in commands: JSON variants, built-in and default profiles,
stored tokens in the effective settings, unreachable services, local file errors."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .conftest import MEDIA, RunCl

if TYPE_CHECKING:
    from cl_local_server.server import LocalServer

pytestmark = pytest.mark.timeout(90)


Doc = dict[str, dict[str, dict[str, object]]]


def _json(result: object) -> Doc:
    """The JSON a command printed (typed loosely: tests index into it)."""
    from typer.testing import Result

    assert isinstance(result, Result)
    assert result.exit_code == 0, result.output
    doc: Doc = json.loads(result.stdout)
    return doc


def test_profile_json_variants(cl: RunCl) -> None:
    added = _json(cl("profile", "add", "nas", "--compute-url", "http://nas:8002", "--json"))
    assert added == {"name": "nas", "default": False, "profile": {"compute_url": "http://nas:8002"}}
    assert _json(cl("profile", "set", "nas", "username", "alice", "--json")) == {
        "name": "nas",
        "profile": {"compute_url": "http://nas:8002", "username": "alice"},
    }
    assert _json(cl("profile", "unset", "nas", "username", "--json")) == {
        "name": "nas",
        "profile": {"compute_url": "http://nas:8002"},
    }
    assert _json(cl("profile", "use", "nas", "--json")) == {"default_profile": "nas"}
    assert _json(cl("profile", "remove", "nas", "--json")) == {
        "name": "nas",
        "removed": True,
        "token_removed": False,
    }


def test_show_built_in_default_and_named_effective_profiles(cl: RunCl) -> None:
    local = _json(cl("profile", "show", "local", "--json"))
    assert local["source"] == "built-in (from a plugin)"
    assert local["profile"] == {"auth_mode": "none", "launcher": "local-server"}
    assert "launcher" in cl("profile", "list").stdout

    default = _json(cl("profile", "show", "--json"))
    assert default["name"] == "default"
    assert default["profile"] == {}
    assert "defaults apply" in cl("profile", "show").stdout

    effective = _json(cl("profile", "show", "local", "--effective", "--json"))
    settings = effective["settings"]
    assert settings["launcher"] == {"value": "local-server", "source": "profile local (built-in)"}
    assert settings["auth_mode"]["value"] == "none"


def test_no_profiles_at_all(cl: RunCl) -> None:
    result = cl("profile", "list", env={"CL_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "no profiles in" in result.stderr


def test_effective_settings_describe_the_stored_token(
    cl: RunCl, jwt_server: LocalServer, jwt_env: dict[str, str], isolated: Path
) -> None:
    password = jwt_server.info.admin_password
    assert password
    assert cl("login", "-u", "admin", "--password-stdin", input=password + "\n").exit_code == 0
    human = cl("profile", "show", "--effective")
    line = next(ln for ln in human.stdout.splitlines() if ln.startswith("stored token:"))
    assert f"for admin from {jwt_server.info.auth_url}, expires" in line
    doc = _json(cl("profile", "show", "--effective", "--json"))
    stored = doc["settings"]["stored_token"]
    assert stored["stored"] is True
    assert stored["username"] == "admin"
    assert stored["file"] == str(isolated / "state" / "tokens" / "default.json")
    from cl_client.auth import TokenStore

    token = TokenStore(isolated / "state" / "tokens").load("default")
    assert token is not None and token not in human.stdout + json.dumps(doc)
    # a token issued by another auth server is shown as unused
    elsewhere = cl("--auth-url", "http://elsewhere:8000", "profile", "show", "--effective")
    assert "issued by another auth server: not used" in elsewhere.stdout


def test_guest_mode_history_and_cleanup_messages(
    cl: RunCl, jwt_server: LocalServer, jwt_env: dict[str, str]
) -> None:
    password = jwt_server.info.admin_password
    assert password
    assert cl("login", "-u", "admin", "--password-stdin", input=password + "\n").exit_code == 0
    switched = _json(cl("admin", "guest-mode", "off", "--json"))
    assert switched == {"guest_mode": False, "message": "Configuration updated successfully"}
    shown = cl("admin", "guest-mode")
    assert "off (login needed)" in shown.stdout
    assert "changed by user id" in shown.stdout
    cleaned = cl("admin", "cleanup", "--days", "365", "--yes")
    assert cleaned.exit_code == 0
    assert "older than 365 day(s)" in cleaned.stderr


def test_whoami_with_the_compute_service_unreachable(
    cl: RunCl, server: LocalServer, server_env: dict[str, str]
) -> None:
    result = cl("--compute-url", "http://127.0.0.1:9", "whoami")
    assert result.exit_code == 0, result.output
    assert "unreachable (cannot reach compute service at http://127.0.0.1:9" in result.stdout
    doc = _json(cl("--compute-url", "http://127.0.0.1:9", "whoami", "--json"))
    assert doc["compute"]["reachable"] is False


def test_a_local_file_error_is_one_line(
    cl: RunCl, server: LocalServer, server_env: dict[str, str]
) -> None:
    async def submit() -> str:
        from cl_client.client import Client

        async with Client() as client:
            created = await client.compute.submit("hash", MEDIA / "coffee.jpg")
            await client.compute.wait(created.job_id, timeout=30)
            return created.job_id

    job_id = asyncio.run(submit())
    # /proc takes no new files, whoever runs the test (root ignores folder permissions)
    result = cl("download", job_id, "output/hash.json", "/proc/cl-test/x.json")
    assert result.exit_code == 2, result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ")
    assert "Traceback" not in result.output
    verbose = cl("-v", "download", job_id, "output/hash.json", "/proc/cl-test/x.json")
    assert verbose.exit_code == 2
    assert "Traceback" in verbose.stderr


def test_verbose_shows_the_library_debug_log_for_that_run_only(
    cl: RunCl, server: LocalServer, server_env: dict[str, str]
) -> None:
    loud = cl("-v", "capabilities")
    assert loud.exit_code == 0
    assert "debug: cl_client.transport: GET" in loud.stderr
    quiet = cl("capabilities")
    assert quiet.exit_code == 0
    assert "debug:" not in quiet.stderr
