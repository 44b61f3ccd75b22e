"""cl_client.testing, the helpers plugin authors test their commands with."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cl_client.errors import ServiceUnreachableError
from cl_client.testing import (
    CLIENT_ENV_VARS,
    OFFLINE_ENV,
    ClRunner,
    heavy_imports,
    isolate,
    run_with_compute,
)

pytestmark = pytest.mark.timeout(60)


def test_isolate_clears_every_client_variable_and_moves_config_and_tokens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in CLIENT_ENV_VARS:
        monkeypatch.setenv(name, "from-outside")
    assert isolate(monkeypatch, tmp_path) == tmp_path
    assert [name for name in CLIENT_ENV_VARS if name in os.environ] == []
    assert os.environ["CL_CONFIG_DIR"] == str(tmp_path / "config")
    assert os.environ["CL_STATE_DIR"] == str(tmp_path / "state")


def _effective(runner: ClRunner, **env: str) -> dict[str, dict[str, object]]:
    result = runner("profile", "show", "--effective", "--json", env=env)
    assert result.exit_code == 0, result.stderr
    settings: dict[str, dict[str, object]] = json.loads(result.stdout)["settings"]
    return settings


@pytest.mark.usefixtures("cl_isolated")
def test_the_runner_adds_its_env_and_each_call_s_env_for_that_run_only() -> None:
    runner = ClRunner({"CL_COMPUTE_URL": "http://bound:1", "CL_AUTH_URL": "http://bound:2"})
    settings = _effective(runner, CL_AUTH_URL="http://call:3")
    assert settings["compute_url"] == {"value": "http://bound:1", "source": "env CL_COMPUTE_URL"}
    assert settings["auth_url"] == {"value": "http://call:3", "source": "env CL_AUTH_URL"}
    assert "CL_COMPUTE_URL" not in os.environ
    assert _effective(ClRunner())["compute_url"]["source"] == "default"


@pytest.mark.usefixtures("cl_isolated")
def test_run_with_compute_uses_the_services_of_env() -> None:
    with pytest.raises(ServiceUnreachableError, match=r"compute service at http://127\.0\.0\.1:9"):
        run_with_compute(OFFLINE_ENV, lambda compute: compute.health())


def test_heavy_imports_sees_what_a_command_imported() -> None:
    assert heavy_imports("--help") == []
    assert heavy_imports("--help", also=("cl_client.cli.app", "cl_client.compute")) == [
        "cl_client.cli.app"
    ]


def test_heavy_imports_fails_on_a_command_that_fails() -> None:
    with pytest.raises(AssertionError, match="cl no-such-command exited 2"):
        heavy_imports("no-such-command")
