"""``cl profile ...`` on a temporary config folder, global options and their precedence."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from .conftest import RunCl

pytestmark = pytest.mark.timeout(60)


def _ok(result: object) -> str:
    from typer.testing import Result

    assert isinstance(result, Result)
    assert result.exit_code == 0, result.output
    return result.stdout


def _effective(
    cl: RunCl, *args: str, env: dict[str, str] | None = None
) -> dict[str, dict[str, object]]:
    doc: dict[str, dict[str, dict[str, object]]] = json.loads(
        _ok(cl(*args, "profile", "show", "--effective", "--json", env=env))
    )
    return doc["settings"]


def test_profile_lifecycle(cl: RunCl, isolated: Path) -> None:
    fresh = json.loads(_ok(cl("profile", "list", "--json")))
    assert [(r["name"], r["source"]) for r in fresh] == [("local", "built-in")]

    _ok(
        cl(
            "profile",
            "add",
            "nas",
            "--compute-url",
            "http://nas:8002/",
            "--auth-url",
            "http://nas:8000",
            "--mqtt-url",
            "mqtt://nas",
            "--username",
            "alice",
            "--default",
        )
    )
    _ok(cl("profile", "add", "lab", "--compute-url", "https://lab.example:9002", "--no-auth"))

    config = isolated / "config" / "config.toml"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    text = config.read_text()
    assert 'default_profile = "nas"' in text
    assert "[profiles.nas]" in text

    rows = {r["name"]: r for r in json.loads(_ok(cl("profile", "list", "--json")))}
    assert rows["nas"]["default"] is True
    assert rows["nas"]["active"] is True
    assert rows["nas"]["compute_url"] == "http://nas:8002"  # normalised
    assert rows["nas"]["mqtt_url"] == "mqtt://nas:1883"
    assert rows["lab"]["auth_mode"] == "none"
    assert rows["local"]["source"] == "built-in"  # offered by the local-server plugin
    human = _ok(cl("profile", "list"))
    assert "nas (default)" in human

    shown = json.loads(_ok(cl("profile", "show", "--json")))
    assert shown["name"] == "nas"
    assert shown["profile"]["username"] == "alice"
    assert "compute_url:" in _ok(cl("profile", "show", "lab"))

    _ok(cl("profile", "set", "lab", "timeout", "12.5"))
    _ok(cl("profile", "set", "lab", "auth-mode", "jwt"))
    lab = json.loads(_ok(cl("profile", "show", "lab", "--json")))["profile"]
    assert lab["timeout"] == 12.5
    assert lab["auth_mode"] == "jwt"
    _ok(cl("profile", "unset", "lab", "timeout"))
    assert "timeout" not in json.loads(_ok(cl("profile", "show", "lab", "--json")))["profile"]

    _ok(cl("profile", "use", "lab"))
    assert json.loads(_ok(cl("profile", "show", "--json")))["name"] == "lab"
    _ok(cl("profile", "use", "local"))  # a built-in profile can be the default too
    _ok(cl("profile", "remove", "nas"))
    names = {r["name"] for r in json.loads(_ok(cl("profile", "list", "--json")))}
    assert names == {"lab", "local"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["profile", "add", "x", "--compute-url", "ftp://nas"], "scheme must be http or https"),
        (["profile", "add", "x", "--mqtt-url", "http://nas:1883"], "mqtt://"),
        (["profile", "add", "bad name!"], "invalid profile name"),
        (["profile", "set", "ghost", "timeout", "3"], "no profile named 'ghost'"),
        (["profile", "use", "ghost"], "no profile named 'ghost'"),
        (["profile", "remove", "ghost"], "no profile named 'ghost'"),
        (["profile", "show", "ghost"], "no profile named 'ghost'"),
        (["-p", "ghost", "profile", "show", "--effective"], "no profile named 'ghost'"),
    ],
)
def test_profile_errors_are_one_line_exit_2(cl: RunCl, args: list[str], message: str) -> None:
    _ok(cl("profile", "add", "nas"))
    result = cl(*args)
    assert result.exit_code == 2, result.output
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("error: ")
    assert message in errors[0]
    assert "Traceback" not in result.output


def test_set_rejects_unknown_keys_and_bad_values(cl: RunCl) -> None:
    _ok(cl("profile", "add", "nas"))
    unknown = cl("profile", "set", "nas", "colour", "blue")
    assert unknown.exit_code == 2
    assert "unknown profile key 'colour'" in unknown.stderr
    bad = cl("profile", "set", "nas", "verify-tls", "perhaps")
    assert bad.exit_code == 2
    assert "expected true or false" in bad.stderr
    dup = cl("profile", "add", "nas")
    assert dup.exit_code == 2
    assert "already exists" in dup.stderr


def test_a_corrupt_config_file_is_named_not_reset(cl: RunCl, isolated: Path) -> None:
    config = isolated / "config" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("[profiles.nas\ncompute_url = 'x'\n")
    result = cl("profile", "list")
    assert result.exit_code == 2
    assert str(config) in result.stderr
    assert config.read_text().startswith("[profiles.nas\n")


def test_precedence_flag_over_env_over_profile_over_default(cl: RunCl) -> None:
    _ok(
        cl(
            "profile",
            "add",
            "nas",
            "--compute-url",
            "http://nas:8002",
            "--auth-url",
            "http://nas:8000",
            "--username",
            "alice",
            "--default",
        )
    )
    _ok(cl("profile", "add", "other", "--compute-url", "http://other:8002"))

    base = _effective(cl)
    assert base["profile"] == {
        "value": "nas",
        "source": f"profile default_profile in {os.environ['CL_CONFIG_DIR']}/config.toml",
    }
    assert base["compute_url"] == {"value": "http://nas:8002", "source": "profile nas"}
    # no broker configured: it is assumed on the compute host, and said so
    assert base["mqtt_url"] == {
        "value": "mqtt://nas:1883",
        "source": "derived from the compute URL's host",
    }
    assert base["auth_mode"] == {"value": "jwt", "source": "default"}

    env = {"CL_COMPUTE_URL": "http://env:8002", "CL_PROFILE": "other", "CL_NO_AUTH": "1"}
    from_env = _effective(cl, env=env)
    assert from_env["profile"] == {"value": "other", "source": "env CL_PROFILE"}
    assert from_env["compute_url"] == {"value": "http://env:8002", "source": "env CL_COMPUTE_URL"}
    assert from_env["auth_mode"] == {"value": "none", "source": "env CL_NO_AUTH"}
    assert from_env["username"] == {"value": None, "source": "default"}

    flags = _effective(
        cl,
        "-p",
        "nas",
        "--compute-url",
        "http://flag:8002",
        "--mqtt-url",
        "mqtt://flag:1999",
        "--username",
        "bob",
        "--no-auth",
        env=env,
    )
    assert flags["profile"] == {"value": "nas", "source": "argument --profile"}
    assert flags["compute_url"] == {"value": "http://flag:8002", "source": "argument --compute-url"}
    assert flags["mqtt_url"] == {"value": "mqtt://flag:1999", "source": "argument --mqtt-url"}
    assert flags["username"] == {"value": "bob", "source": "argument --username"}
    assert flags["auth_mode"] == {"value": "none", "source": "argument --no-auth"}
    assert flags["auth_url"] == {"value": "http://nas:8000", "source": "profile nas"}


def test_secrets_are_never_printed(cl: RunCl) -> None:
    env = {"CL_PASSWORD": "hunter2-secret", "CL_TOKEN": "tok.en.value-secret"}
    human = cl("profile", "show", "--effective", env=env)
    assert human.exit_code == 0
    assert "set (env CL_PASSWORD)" in human.stdout
    assert "set (env CL_TOKEN)" in human.stdout
    machine = cl("--json", "profile", "show", "--effective", env=env)
    flag = cl("--password", "flag-secret", "profile", "show", "--effective")
    for result in (human, machine, flag):
        assert "secret" not in result.output
    assert "set (argument --password)" in flag.stdout
    doc = json.loads(machine.stdout)["settings"]
    assert doc["password"] == {"set": True, "source": "env CL_PASSWORD"}
    assert doc["token"] == {"set": True, "source": "env CL_TOKEN"}
    unset = json.loads(_ok(cl("profile", "show", "--effective", "--json")))["settings"]
    assert unset["password"] == {"set": False, "source": "default"}
    assert "not set" in _ok(cl("profile", "show", "--effective"))


def test_json_is_accepted_before_and_after_the_command(cl: RunCl) -> None:
    _ok(cl("profile", "add", "nas"))
    before = json.loads(_ok(cl("--json", "profile", "list")))
    after = json.loads(_ok(cl("profile", "list", "--json")))
    assert before == after
    assert isinstance(before, list)


def test_quiet_silences_messages_but_not_results(cl: RunCl) -> None:
    loud = cl("profile", "add", "nas")
    assert "added profile 'nas'" in loud.stderr
    quiet = cl("-q", "profile", "add", "lab")
    assert quiet.exit_code == 0
    assert quiet.stderr == ""
    assert "lab" in _ok(cl("-q", "profile", "list"))


def test_usage_errors_exit_2(cl: RunCl) -> None:
    result = cl("--no-such-option")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: no such option: --no-such-option")
    result = cl("profile", "add")
    assert result.exit_code == 2
    result = cl("nonexistent-command")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: no such command")


def test_an_unwritable_config_dir_is_one_line_not_a_traceback(
    cl: RunCl, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = isolated / "not-a-dir"
    blocker.write_text("a file where the config folder should be\n")
    monkeypatch.setenv("CL_CONFIG_DIR", str(blocker / "config"))
    result = cl("profile", "add", "x", "--compute-url", "http://host:8002")
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ")
    assert "Traceback" not in result.output
