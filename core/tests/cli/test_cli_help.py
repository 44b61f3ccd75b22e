"""Every command's --help renders (every installed plugin's too), and help, version and completion
stay light: no httpx, paho-mqtt, numpy or Pillow."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import typer
from typer import _click as click
from typer.core import TyperGroup

from .conftest import RunCl, RunSub, child_env

pytestmark = pytest.mark.timeout(180)

HEAVY = ("httpx", "paho", "numpy", "PIL", "cv2", "starlette", "uvicorn", "amqtt")
BUILTINS = ("profile", "login", "logout", "whoami", "plugins", "job", "download", "capabilities")


def plugin_commands() -> dict[str, str]:
    """Every installed plugin command group → its plugin (what `cl --help` must list)."""
    from cl_client.cli.app import BUILTIN_COMMANDS
    from cl_client.plugins import command_registrations

    reserved = [c.name for c in BUILTIN_COMMANDS]
    return {r.name: r.plugin for r in command_registrations(reserved=reserved)}


def command_paths() -> list[list[str]]:
    """Every command path of the tree, loading each lazy command (a broken import fails here)."""
    from cl_client.cli.app import app
    from cl_client.cli.group import LazyCommand

    root = typer.main.get_command(app)
    paths: list[list[str]] = []

    def walk(cmd: click.Command, ctx: click.Context, path: list[str]) -> None:
        if isinstance(cmd, LazyCommand):
            cmd = cmd.resolve()
        paths.append(path)
        if isinstance(cmd, TyperGroup):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                assert sub is not None, f"{' '.join(path)} lists {name} but cannot get it"
                walk(sub, click.Context(sub, parent=ctx, info_name=name), [*path, name])

    walk(root, click.Context(root, info_name="cl"), [])
    return paths


def test_every_command_renders_its_help(echo: ModuleType, cl: RunCl) -> None:
    plugins = plugin_commands()
    assert {"server", "echo-test"} <= set(plugins)  # the local server and the test plugin
    paths = command_paths()
    names = {p[0] for p in paths if p}
    assert set(plugins) <= names, f"plugin commands missing: {set(plugins) - names}"
    assert set(BUILTINS) <= names
    assert ["job", "wait"] in paths
    assert ["profile", "show"] in paths
    assert ["echo-test", "run"] in paths
    for path in paths:
        result = cl(*path, "--help")
        assert result.exit_code == 0, f"cl {' '.join(path)} --help: {result.output}"
        assert "Usage:" in result.stdout, f"cl {' '.join(path)} --help printed no usage"
        assert "Traceback" not in result.output


def test_root_help_lists_commands_panels_and_exit_codes(echo: ModuleType, cl: RunCl) -> None:
    result = cl("--help")
    assert result.exit_code == 0
    text = result.stdout
    for section in ("Connection options:", "Setup:", "Jobs:", "Plugins:", "Exit codes:"):
        assert section in text
    for code, meaning in (
        ("0", "success"),
        ("1", "a job ended in error"),
        ("2", "usage error"),
        ("3", "authentication or permission error"),
        ("4", "not found"),
        ("5", "server or network error"),
        ("130", "interrupted"),
    ):
        assert re.search(rf"^\s+{code}\s+{meaning}", text, re.MULTILINE), (code, meaning)
    for group in [*plugin_commands(), *BUILTINS]:
        assert re.search(rf"^\s+{re.escape(group)}\s+\S", text, re.MULTILINE), group
    assert re.search(r"^\s+echo-test\s+Echo files through the server\.", text, re.MULTILINE)
    for option in (
        "--profile",
        "--json",
        "--verbose",
        "--quiet",
        "--no-color",
        "--version",
        "--auth-url",
        "--compute-url",
        "--mqtt-url",
        "--username",
        "--password",
        "--no-auth",
        "--no-capability-check",
        "--install-completion",
        "--show-completion",
    ):
        assert option in text, option
    password_help = text[text.index("--password") : text.index("--no-auth")]
    assert "CL_PASSWORD" in password_help
    assert "--password-stdin" in password_help


def test_no_arguments_shows_help(cl: RunCl) -> None:
    result = cl()
    assert result.exit_code in (0, 2)
    assert "Usage:" in result.output


def test_version_names_core_and_every_plugin(echo: ModuleType, cl: RunCl) -> None:
    from cl_client.plugins import discover_entry_points

    result = cl("--version")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"cl-client \d+\.\d+\.\d+\S*", lines[0])
    shown = {line.split()[0]: line.split()[1] for line in lines[1:]}
    assert shown["cl-echo-test"] == "1.0.0"
    assert "cl-local-server" in shown
    assert set(shown) == {ep.distribution for ep in discover_entry_points()}


MODULES_AT_EXIT = """
import atexit, sys

DUMP = sys.argv[1]

def _dump() -> None:
    with open(DUMP, "w") as fh:
        # a module blocked with sys.modules[name] = None was not imported
        fh.write("\\n".join(sorted(m for m, mod in sys.modules.items() if mod is not None)))

atexit.register(_dump)
sys.argv = ["cl", *sys.argv[2:]]
from cl_client.cli.app import main
main()
"""


def modules_after(
    args: list[str], tmp_path: Path, env: dict[str, str] | None = None
) -> tuple[int, set[str]]:
    """Run ``cl ARGS`` in a fresh interpreter; its exit code and every module it imported."""
    dump = tmp_path / "modules.txt"
    proc = subprocess.run(
        [sys.executable, "-c", MODULES_AT_EXIT, str(dump), *args],
        env=child_env(env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert dump.exists(), proc.stderr
    return proc.returncode, set(dump.read_text().split())


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY or m == "rich.progress")


def test_root_help_imports_only_hook_modules(echo: ModuleType, tmp_path: Path) -> None:
    code, modules = modules_after(["--help"], tmp_path)
    assert code == 0
    assert not _heavy(modules)
    # plugins are loaded, but only their light hook modules
    assert {"cl_local_server.plugin", "cl_echo_test_plugin"} <= modules
    assert "cl_local_server.cli" not in modules
    # the root help is plain Click formatting: Rich and importlib.metadata stay out
    assert "typer.rich_utils" not in modules
    assert "importlib.metadata" not in modules
    code, modules = modules_after(["--version"], tmp_path)
    assert code == 0
    assert not _heavy(modules)


def test_every_help_page_stays_light(echo: ModuleType, tmp_path: Path) -> None:
    pages = [["job", "wait"], ["profile"], ["admin", "cleanup"], ["login"]]
    for name in plugin_commands():
        pages.append([name])
    pages += [["echo-test", "run"], ["server", "run"]]
    for page in pages:
        code, modules = modules_after([*page, "--help"], tmp_path)
        assert code == 0, page
        assert "typer" in modules  # the measurement itself works
        assert not _heavy(modules), f"cl {' '.join(page)} --help imported {_heavy(modules)}"


def test_shell_completion_script_comes_from_typer(cl_sub: RunSub) -> None:
    proc = cl_sub("--show-completion", "bash")
    assert proc.returncode == 0, proc.stderr
    assert "_CL_COMPLETE" in proc.stdout


def test_shell_completion_lists_plugin_commands_without_importing_them(
    echo: ModuleType, tmp_path: Path, cl_sub: RunSub
) -> None:
    env = {"_CL_COMPLETE": "complete_bash", "COMP_WORDS": "cl ser", "COMP_CWORD": "1"}
    proc = cl_sub(env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["server"]
    code, modules = modules_after([], tmp_path, env)
    assert code == 0
    assert "cl_local_server.plugin" in modules
    assert "cl_local_server.cli" not in modules
    assert not _heavy(modules)
    sub = cl_sub(env={**env, "COMP_WORDS": "cl echo-test r", "COMP_CWORD": "2"})
    assert sub.stdout.split() == ["run"]
    opts = cl_sub(env={**env, "COMP_WORDS": "cl profile show --eff", "COMP_CWORD": "3"})
    assert opts.stdout.split() == ["--effective"]


def test_python_dash_m_runs_the_same_command(isolated: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cl_client.cli", "--version"],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("cl-client ")
