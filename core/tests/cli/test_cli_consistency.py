"""One command line: global options anywhere, one help style, one message style, validation in the
user's words, help topics and shell completion. Built-in commands and the local server's (the
plugins' own pages are walked in the cross-package tests)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cl_client.testing import OFFLINE_ENV

from .conftest import RunCl, RunSub, child_env, cl_command

if TYPE_CHECKING:
    from cl_local_server.server import LocalServer

pytestmark = pytest.mark.timeout(120)


def _effective_profile(cl: RunCl, *args: str) -> object:
    result = cl(*args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["profile"]


# --- global options anywhere ---------------------------------------------------------------------


def test_profile_option_after_the_command(cl: RunCl) -> None:
    assert _effective_profile(cl, "profile", "show", "--effective", "-p", "local", "--json") == (
        "local"
    )
    assert _effective_profile(
        cl, "profile", "show", "--effective", "--profile=local", "--json"
    ) == ("local")
    # given twice, the one after the command wins
    _ok = cl("profile", "add", "other", "--compute-url", "http://other:8002")
    assert _ok.exit_code == 0, _ok.output
    assert _effective_profile(
        cl, "-p", "other", "profile", "show", "--effective", "-p", "local", "--json"
    ) == ("local")


def test_json_verbose_and_quiet_after_the_command(cl: RunCl) -> None:
    before = cl("--json", "profile", "list")
    after = cl("profile", "list", "--json")
    assert before.exit_code == after.exit_code == 0
    assert json.loads(before.stdout) == json.loads(after.stdout)
    # -v after the command: the traceback of an error, as with -v before it
    verbose = cl("job", "get", "abc", "-v", env=dict(OFFLINE_ENV))
    assert verbose.exit_code == 5
    assert "error: cannot reach compute service" in verbose.stderr
    assert "debug: cl_client.transport: GET http://127.0.0.1:9/jobs/abc" in verbose.stderr
    assert "Traceback" in verbose.stderr
    plain = cl("job", "get", "abc", env=dict(OFFLINE_ENV))
    assert "Traceback" not in plain.stderr
    # -q after the command: no info messages
    cl("profile", "add", "lab", "--compute-url", "http://lab:8002")
    loud = cl("profile", "use", "lab")
    quiet = cl("profile", "use", "lab", "-q")
    assert "default profile is now" in loud.stderr
    assert quiet.exit_code == 0
    assert quiet.stderr == ""


def test_connection_options_after_the_command(cl: RunCl) -> None:
    result = cl("profile", "show", "--effective", "--json", "--compute-url", "http://after:8002")
    assert result.exit_code == 0, result.output
    settings = json.loads(result.stdout)["settings"]
    assert settings["compute_url"]["value"] == "http://after:8002"
    # a command's own option of the same name keeps its meaning: `profile add --compute-url`
    added = cl("profile", "add", "nas", "--compute-url", "http://nas:8002", "--json")
    assert json.loads(added.stdout)["profile"]["compute_url"] == "http://nas:8002"


# --- help ----------------------------------------------------------------------------------------


def _help_paths(cl: RunCl) -> list[list[str]]:
    from .test_cli_help import command_paths

    return command_paths()


def test_every_help_page_is_plain_with_one_set_of_placeholders(echo: object, cl: RunCl) -> None:
    for path in _help_paths(cl):
        result = cl(*path, "--help")
        assert result.exit_code == 0, (path, result.output)
        page = result.stdout
        where = f"cl {' '.join(path)} --help"
        assert not re.search(r"[─│╭╮╰╯]", page), f"{where} draws boxes"
        assert not re.search(r"<[a-z][^>]*>", page), f"{where} shows a Python type: {page}"
        assert "{" not in page.split("\n\n")[0], f"{where}: braces in the usage line"
        usage = page.splitlines()[0].removeprefix(" ".join(["Usage: cl", *path]))
        for word in re.findall(r"\[?([A-Za-z_|]+)\]?(?:\.\.\.)?", usage):
            if word not in ("OPTIONS", "COMMAND", "ARGS"):
                assert word == word.upper(), f"{where}: argument {word!r} not in upper case"
        if path:
            assert "Global options work here too" in page, where


def test_help_names_values_and_limits_plainly(cl: RunCl) -> None:
    page = cl("job", "wait", "--help").stdout
    assert "Usage: cl job wait [OPTIONS] JOB_ID" in page
    assert "-t, --timeout SECONDS" in page
    assert "-h, --help" in page
    guest = cl("admin", "guest-mode", "--help").stdout
    assert "Usage: cl admin guest-mode [OPTIONS] [STATE]" in guest
    cleanup = cl("admin", "cleanup", "--help").stdout
    assert "--days N" in cleanup
    assert "required" in cleanup


def test_dash_h_is_help_everywhere(cl: RunCl) -> None:
    for path in (["-h"], ["job", "-h"], ["job", "wait", "-h"], ["server", "run", "-h"]):
        result = cl(*path)
        assert result.exit_code == 0, (path, result.output)
        assert result.stdout.startswith("Usage: cl"), path


def test_no_arguments_prints_help_and_exits_0(cl: RunCl) -> None:
    for path in ([], ["job"], ["profile"]):
        result = cl(*path)
        assert result.exit_code == 0, (path, result.output)
        assert result.stdout.startswith("Usage: cl"), path


def test_help_topics(cl: RunCl) -> None:
    env = cl("help", "environment")
    assert env.exit_code == 0
    assert re.search(r"^\s+CL_PROFILE\s+profile to use", env.stdout, re.MULTILINE)
    assert "NO_COLOR" in env.stdout
    codes = cl("help", "exit-codes")
    assert codes.exit_code == 0
    assert re.search(r"^\s+130\s+interrupted", codes.stdout, re.MULTILINE)
    assert re.search(r"^\s+4\s+not found", codes.stdout, re.MULTILINE)
    page = cl("help", "job", "wait")
    assert page.exit_code == 0
    assert page.stdout == cl("job", "wait", "--help").stdout
    assert cl("help").stdout == cl("--help").stdout
    unknown = cl("help", "nonsense")
    assert unknown.exit_code == 2
    assert unknown.stderr.startswith("error: no command or help topic 'nonsense'")


# --- messages ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--no-such-option"], "error: no such option: --no-such-option"),
        (["nonexistent-command"], "error: no such command 'nonexistent-command'"),
        (["job", "get"], "error: missing argument JOB_ID (see `cl job get --help`)"),
        (["admin", "cleanup"], "error: missing option --days N (see `cl admin cleanup --help`)"),
        (["job", "wait", "x", "--timeout", "soon"], "error: --timeout: 'soon' is not a number"),
        (["job", "wait", "x", "--timeout", "0"], "error: --timeout: 0 is below the minimum 0.001"),
        (["admin", "cleanup", "--days", "ten"], "error: --days: 'ten' is not a whole number"),
        (["admin", "guest-mode", "maybe"], "error: STATE: 'maybe' is not one of on, off"),
    ],
)
def test_usage_errors_are_one_lower_case_line(cl: RunCl, args: list[str], message: str) -> None:
    result = cl(*args, env=dict(OFFLINE_ENV))
    assert result.exit_code == 2, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith(message), line
    assert result.stdout == ""


def _on_a_terminal(
    args: list[str],
    *,
    until: str,
    then: Callable[[subprocess.Popen[bytes], int], None],
    env: Mapping[str, str] | None = None,
) -> tuple[int, str]:
    """Run ``cl ARGS`` on a pseudo-terminal; once it printed ``until``, ``then(proc, master)``
    acts (types an answer, sends a signal). Returns the exit code and the whole transcript."""
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [*cl_command(), *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=child_env({**(env or {}), "NO_COLOR": "1"}),
        start_new_session=True,
    )
    os.close(slave)
    transcript = ""
    deadline = time.monotonic() + 30
    while until not in transcript and time.monotonic() < deadline:
        try:
            transcript += os.read(master, 4096).decode(errors="replace")
        except OSError:
            break
    assert until in transcript, transcript
    then(proc, master)
    code = proc.wait(timeout=30)
    try:
        while chunk := os.read(master, 4096):
            transcript += chunk.decode(errors="replace")
    except OSError:
        pass
    os.close(master)
    return code, transcript


def _type(text: bytes) -> Callable[[subprocess.Popen[bytes], int], None]:
    return lambda _proc, master: os.write(master, text) and None


def test_a_declined_confirmation_is_cancelled_exit_130(cl: RunCl, isolated: Path) -> None:
    data = isolated / "server-data"
    data.mkdir()
    reset = ["server", "reset", "--data-dir", str(data)]
    code, transcript = _on_a_terminal(reset, until="?", then=_type(b"n\r"))
    assert code == 130, transcript
    assert "error: cancelled" in transcript
    assert "Aborted" not in transcript
    assert data.exists()
    # end of input at the prompt is the same
    code, transcript = _on_a_terminal(reset, until="?", then=_type(b"\x04"))
    assert code == 130, transcript
    assert "error: cancelled" in transcript
    # with no terminal to ask on, nothing is deleted without --yes
    piped = cl("server", "reset", "--data-dir", str(data), input="y\n")
    assert piped.exit_code == 2 and "--yes" in piped.stderr
    assert data.exists()


def test_ctrl_c_at_the_password_prompt_exits_130(
    jwt_server: LocalServer, jwt_env: dict[str, str], isolated: Path
) -> None:
    """On a real terminal: SIGINT (what Ctrl-C sends) while `cl login` waits for the password."""
    code, transcript = _on_a_terminal(
        ["login", "-u", "admin"],
        until="Password:",
        then=lambda proc, _master: proc.send_signal(signal.SIGINT),
        env=jwt_env,
    )
    assert code == 130, transcript
    assert re.search(r"error: (cancelled|interrupted)", transcript), transcript
    assert "Aborted" not in transcript
    assert "Traceback" not in transcript


# --- output --------------------------------------------------------------------------------------


def test_whoami_without_login_shows_no_auth_url(
    cl: RunCl, server: LocalServer, server_env: dict[str, str]
) -> None:
    result = cl("whoami")
    assert result.exit_code == 0, result.output
    keys = [line.split(":", 1)[0] for line in result.stdout.splitlines()]
    assert "auth" not in keys
    assert "compute" in keys
    assert "guest mode on" in result.stdout
    doc = json.loads(cl("whoami", "--json").stdout)
    assert doc["auth_url"] is None
    assert doc["compute"] == {"reachable": True, "guest_mode": True, "error": None}


def test_whoami_without_login_does_not_load_the_http_client(
    server: LocalServer, server_env: dict[str, str], tmp_path: Path
) -> None:
    from .test_cli_help import modules_after

    code, modules = modules_after(["whoami"], tmp_path, server_env)
    assert code == 0
    assert not {"httpx", "typer._adapters", "pydantic", "typer.rich_utils"} & modules


def test_start_up_imports_neither_pydantic_nor_rich(echo: object, tmp_path: Path) -> None:
    from .test_cli_help import modules_after

    for args in (["--help"], ["job", "--help"], ["profile", "list"], ["--version"]):
        code, modules = modules_after(args, tmp_path)
        assert code == 0, args
        assert not {"pydantic", "typer._adapters", "typer.rich_utils", "rich"} & modules, args


# --- completion ----------------------------------------------------------------------------------


def _complete(cl_sub: RunSub, line: str) -> list[str]:
    words = line.split(" ")
    env = {
        "_CL_COMPLETE": "complete_bash",
        "COMP_WORDS": line,
        "COMP_CWORD": str(len(words) - 1),
    }
    proc = cl_sub(env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_completion_of_profiles_keys_and_choices(cl: RunCl, cl_sub: RunSub) -> None:
    assert cl("profile", "add", "nas", "--compute-url", "http://nas:8002").exit_code == 0
    assert cl("profile", "add", "lab", "--compute-url", "http://lab:8002").exit_code == 0
    assert _complete(cl_sub, "cl -p ") == ["default", "lab", "local", "nas"]
    assert _complete(cl_sub, "cl profile use n") == ["nas"]
    assert _complete(cl_sub, "cl profile show l") == ["lab", "local"]
    assert _complete(cl_sub, "cl job get x -p n") == ["nas"]
    assert _complete(cl_sub, "cl profile set nas comp") == ["compute_url"]
    assert _complete(cl_sub, "cl profile unset nas auth") == ["auth_mode", "auth_url"]
    assert _complete(cl_sub, "cl admin guest-mode ") == ["on", "off"]
