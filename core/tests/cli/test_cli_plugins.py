"""Plugin loading through the real ``cl``: broken, disabled, conflicting and misbehaving plugins.

Each test plugin is installed for one test only: a module plus a ``*.dist-info`` folder with an
``entry_points.txt``, in a temporary folder put on PYTHONPATH of a ``cl`` subprocess (or on
``sys.path`` for in-process runs).
"""

from __future__ import annotations

import importlib
import json
import re
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

from .conftest import RunCl, RunSub

pytestmark = pytest.mark.timeout(120)


def install_plugin(root: Path, dist: str, entry: str, module: str, code: str) -> None:
    """Write ``module.py`` and a dist-info declaring it as the ``cl.plugins`` entry ``entry``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{module}.py").write_text(textwrap.dedent(code))
    info = root / f"{dist.replace('-', '_')}-0.0.7.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.0.7\n\n")
    (info / "entry_points.txt").write_text(f"[cl.plugins]\n{entry} = {module}\n")
    importlib.invalidate_caches()


TYPER_PLUGIN = """
    import typer
    from cl_client.hookspecs import hookimpl

    app = typer.Typer(help={help!r})

    @app.command()
    def hello() -> None:
        print({help!r})

    @hookimpl
    def cl_register_commands(register):
        register({name!r}, "{module}:app", help={help!r})
"""


def typer_plugin(root: Path, dist: str, entry: str, module: str, name: str, help: str) -> None:
    code = TYPER_PLUGIN.format(name=name, module=module, help=help)
    install_plugin(root, dist, entry, module, code)


BROKEN = """
    import os
    from pathlib import Path

    marker = os.environ.get("BROKEN_MARKER")
    if marker:
        Path(marker).write_text("imported")
    raise RuntimeError("boom at import")
"""


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Path:
    return tmp_path / "site"


@pytest.fixture
def on_path(plugin_dir: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Make the test plugins importable in-process (sys.path) and in subprocesses (PYTHONPATH)."""
    plugin_dir.mkdir(parents=True, exist_ok=True)
    monkeypatch.syspath_prepend(str(plugin_dir))  # pyright: ignore[reportUnknownMemberType]
    return {"PYTHONPATH": str(plugin_dir)}


def _warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning:")]


def test_a_plugin_that_fails_to_import_is_skipped_with_one_warning(
    cl: RunCl, plugin_dir: Path, on_path: dict[str, str]
) -> None:
    install_plugin(plugin_dir, "cl-plugin-broken", "broken", "broken_plugin", BROKEN)

    result = cl("profile", "list")
    assert result.exit_code == 0, result.output
    warnings = _warnings(result.stderr)
    assert len(warnings) == 1, result.stderr
    line = warnings[0]
    assert "'broken'" in line
    assert "cl-plugin-broken" in line
    assert "RuntimeError: boom at import" in line
    assert "CL_DISABLE_PLUGINS=broken" in line
    # no INSTALLER file: both tools are named
    assert "`uv pip uninstall cl-plugin-broken` (or `pip uninstall cl-plugin-broken`)" in line
    assert "Traceback" not in result.stderr

    # other plugins' commands and built-ins keep working
    assert cl("server", "--help").exit_code == 0
    help_result = cl("--help")
    assert help_result.exit_code == 0
    assert "server" in help_result.stdout

    # -v adds the traceback, --quiet silences the warning
    verbose = cl("-v", "profile", "list")
    assert verbose.exit_code == 0
    assert "Traceback" in verbose.stderr
    assert "broken_plugin.py" in verbose.stderr
    assert _warnings(cl("-q", "profile", "list").stderr) == []

    # and `cl plugins` reports it
    listed = cl("plugins", "--json")
    assert listed.exit_code == 0, listed.output
    docs = {d["name"]: d for d in json.loads(listed.stdout)}
    assert docs["broken"]["distribution"] == "cl-plugin-broken"
    assert docs["broken"]["version"] == "0.0.7"
    assert "RuntimeError: boom at import" in docs["broken"]["error"]
    assert docs["broken"]["commands"] == []
    assert "traceback" not in docs["broken"]
    server = docs["local-server"]
    assert server["error"] is None
    assert server["commands"] == ["server"]
    assert server["profiles"] == ["local"]
    assert {"cl_register_commands", "cl_register_profiles", "cl_launch"} <= set(server["hooks"])
    with_tb = json.loads(cl("-v", "plugins", "--json").stdout)
    assert "Traceback" in {d["name"]: d for d in with_tb}["broken"]["traceback"]
    human = cl("plugins")
    assert human.exit_code == 0
    assert "broken" in human.stdout
    assert "error" in human.stdout
    assert "warning: broken: RuntimeError: boom at import" in human.stderr


def test_the_warning_in_a_real_process(cl_sub: RunSub, plugin_dir: Path) -> None:
    install_plugin(plugin_dir, "cl-plugin-broken", "broken", "broken_plugin", BROKEN)
    proc = cl_sub("capabilities", "--help", env={"PYTHONPATH": str(plugin_dir)})
    assert proc.returncode == 0
    [line] = _warnings(proc.stderr)
    assert line.startswith("warning: plugin 'broken' (cl-plugin-broken 0.0.7) failed to load:")


def test_disabled_plugins_are_not_even_imported(
    cl: RunCl, plugin_dir: Path, on_path: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    install_plugin(plugin_dir, "cl-plugin-broken", "broken", "broken_plugin", BROKEN)
    marker = plugin_dir.parent / "imported.txt"
    monkeypatch.setenv("BROKEN_MARKER", str(marker))
    disabled = {"CL_DISABLE_PLUGINS": "broken, local-server"}
    result = cl("plugins", "--json", env=disabled)
    assert result.exit_code == 0, result.output
    assert not marker.exists()
    assert _warnings(result.stderr) == []
    docs = {d["name"]: d for d in json.loads(result.stdout)}
    assert "disabled" in docs["broken"]["error"]
    assert "disabled" in docs["local-server"]["error"]
    help_text = cl("--help", env=disabled).stdout
    assert not re.search(r"^\s+server\s", help_text, re.MULTILINE)
    # the built-in profile of a disabled plugin is gone too
    assert "local" not in {
        p["name"] for p in json.loads(cl("profile", "list", "--json", env=disabled).stdout)
    }
    # without the block the marker proves the import happens
    cl("plugins")
    assert marker.exists()


def test_strict_mode_makes_a_load_error_fatal(
    cl: RunCl, cl_sub: RunSub, plugin_dir: Path, on_path: dict[str, str]
) -> None:
    install_plugin(plugin_dir, "cl-plugin-broken", "broken", "broken_plugin", BROKEN)
    strict = {"CL_STRICT_PLUGINS": "1"}
    result = cl("profile", "list", env=strict)
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: plugin 'broken'")
    assert "boom at import" in line
    proc = cl_sub("profile", "list", env={**on_path, **strict})
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [line]


def test_autoload_off_loads_no_plugin(cl: RunCl) -> None:
    off = {"CL_DISABLE_PLUGIN_AUTOLOAD": "1"}
    result = cl("--help", env=off)
    assert result.exit_code == 0
    assert "Plugins:" not in result.stdout
    assert "profile" in result.stdout
    assert json.loads(cl("plugins", "--json", env=off).stdout) == []
    assert "no plugins installed" in cl("plugins", env=off).stderr
    missing = cl("server", "--help", env=off)
    assert missing.exit_code == 2
    assert "error: no such command 'server'" in missing.stderr


def test_a_command_name_claimed_twice_keeps_the_first_and_reports_the_second(
    cl: RunCl, plugin_dir: Path, on_path: dict[str, str]
) -> None:
    typer_plugin(plugin_dir, "aaa-first", "dup-a", "dup_a", "dupe", "from plugin a")
    typer_plugin(plugin_dir, "bbb-second", "dup-b", "dup_b", "dupe", "from plugin b")
    typer_plugin(plugin_dir, "ccc-builtin", "dup-c", "dup_c", "profile", "not the built-in")

    result = cl("dupe", "hello")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "from plugin a"
    warnings = _warnings(result.stderr)
    assert any("'dup-b'" in w and "'dupe'" in w and "'dup-a'" in w for w in warnings), warnings
    assert any("'dup-c'" in w and "built-in" in w for w in warnings), warnings

    # the built-in wins
    prof = cl("profile", "list")
    assert prof.exit_code == 0
    assert "not the built-in" not in prof.stdout

    docs = {d["name"]: d for d in json.loads(cl("plugins", "--json").stdout)}
    assert docs["dup-a"]["conflicts"] == []
    assert any("'dupe'" in c for c in docs["dup-b"]["conflicts"])
    assert any("built-in" in c for c in docs["dup-c"]["conflicts"])
    assert "conflict" in cl("plugins").stdout


MISBEHAVING = """
    from cl_client.hookspecs import hookimpl

    @hookimpl
    def cl_register_commands(register):
        register(123, "x.y:app", help="a number as a name")
        register("no-path", "not an import path", help="bad target")
        register("bad-help", "x.y:app", help=5)
        register("lazy-broken", "no_such_module_anywhere:app", help="imports nothing that exists")

    @hookimpl
    def cl_register_task_clients(register):
        register("", "x.y:Client")

    @hookimpl
    def cl_register_profiles(register):
        register("weird", {"auth_url": "http://x"})
"""

RAISING = """
    from cl_client.hookspecs import hookimpl

    @hookimpl
    def cl_register_commands(register):
        raise ValueError("hook exploded")

    @hookimpl
    def cl_register_profiles(register):
        raise KeyError("profiles exploded")
"""


def test_misbehaving_hooks_are_recorded_against_their_plugin(
    cl: RunCl, plugin_dir: Path, on_path: dict[str, str]
) -> None:
    install_plugin(plugin_dir, "cl-plugin-odd", "odd", "odd_plugin", MISBEHAVING)
    install_plugin(plugin_dir, "cl-plugin-raising", "raising", "raising_plugin", RAISING)

    result = cl("plugins", "--json")
    assert result.exit_code == 0, result.output
    docs = {d["name"]: d for d in json.loads(result.stdout)}
    odd = docs["odd"]["error"]
    assert "invalid command name 123" in odd
    assert "not an import path" in odd
    assert "help of 'bad-help' must be a str" in odd
    assert "invalid task type ''" in odd
    assert "profile 'weird' must be a cl_client.config.Profile" in odd
    assert docs["odd"]["commands"] == ["lazy-broken"]
    assert "hook exploded" in docs["raising"]["error"]
    assert "profiles exploded" in docs["raising"]["error"]

    # everything else still works, including the built-in profiles of other plugins
    profiles = cl("profile", "list", "--json")
    assert profiles.exit_code == 0, profiles.output
    assert "local" in {p["name"] for p in json.loads(profiles.stdout)}

    # a command whose module is missing fails alone, in one line
    lazy = cl("lazy-broken", "--help")
    assert lazy.exit_code == 2
    errors = [line for line in lazy.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: plugin 'odd': cannot load no_such_module_anywhere:app: ModuleNotFoundError: "
        "No module named 'no_such_module_anywhere'"
    ]
    assert "Traceback" not in lazy.stderr


LAUNCHER = """
    import contextlib

    from cl_client.hookspecs import hookimpl

    @hookimpl
    def cl_register_profiles(register):
        from cl_client.config import Profile
        register("exploding", Profile(auth_mode="none", launcher="boom"))
        register("nobody", Profile(auth_mode="none", launcher="nobody-serves-this"))
        register("entering", Profile(auth_mode="none", launcher="fails-on-enter"))

    @contextlib.contextmanager
    def _fails():
        raise RuntimeError("port in use")
        yield

    @hookimpl
    def cl_launch(launcher, settings):
        if launcher == "boom":
            raise OSError("cannot start the launcher")
        if launcher == "fails-on-enter":
            return _fails()
        return None
"""


def test_a_raising_launcher_is_one_line_and_exit_2(
    cl: RunCl, plugin_dir: Path, on_path: dict[str, str]
) -> None:
    install_plugin(plugin_dir, "cl-plugin-launcher", "launcher", "launcher_plugin", LAUNCHER)
    result = cl("-p", "exploding", "capabilities")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: plugin 'launcher' failed to launch 'boom': OSError: cannot start the launcher"
    ]
    nobody = cl("-p", "nobody", "capabilities")
    assert nobody.exit_code == 2
    assert "launcher 'nobody-serves-this', which no installed plugin provides" in nobody.stderr
    entering = cl("-p", "entering", "capabilities")
    assert entering.exit_code == 2
    assert entering.stderr.strip().splitlines() == [
        "error: plugin 'launcher' could not start launcher 'fails-on-enter': "
        "RuntimeError: port in use"
    ]


def test_plugins_registered_in_process_show_up(
    cl: RunCl, plugin_dir: Path, on_path: dict[str, str]
) -> None:
    typer_plugin(plugin_dir, "cl-plugin-greet", "greet", "greet_plugin", "greet", "say hello")
    result = cl("greet", "hello")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "say hello"
    assert "greet" in cl("--help").stdout


def test_task_client_lookup(echo: ModuleType) -> None:
    from cl_client.errors import PluginError
    from cl_client.plugins import task_client
    from cl_client.tasks import TaskClient

    cls = task_client("cli_echo")
    assert issubclass(cls, TaskClient)
    assert cls is echo.EchoClient
    with pytest.raises(PluginError, match="no installed plugin provides a client for task 'nope'"):
        task_client("nope")


MISSING_TARGET = """
    from cl_client.hookspecs import hookimpl

    @hookimpl
    def cl_register_commands(register):
        register("ghost", "ghost_plugin_cli_gone:app", help="A command whose module is missing.")
"""


def test_plugins_reports_a_command_target_that_cannot_be_found(
    cl: RunCl, plugin_dir: Path, on_path: dict[str, str]
) -> None:
    install_plugin(plugin_dir, "cl-plugin-ghost", "ghost", "ghost_plugin", MISSING_TARGET)
    (next(plugin_dir.glob("cl_plugin_ghost-*.dist-info")) / "INSTALLER").write_text("uv\n")
    docs = {d["name"]: d for d in json.loads(cl("plugins", "--json").stdout)}
    assert docs["ghost"]["missing_targets"] == ["ghost_plugin_cli_gone:app"]
    assert docs["ghost"]["installer"] == "uv"
    assert docs["local-server"]["missing_targets"] == []
    human = cl("plugins")
    assert human.exit_code == 0
    [row] = [line for line in human.stdout.splitlines() if line.startswith("ghost ")]
    assert row.endswith("missing module")
    assert "ghost_plugin_cli_gone:app cannot be found" in human.stderr
    # `cl plugins` says it once, in its own report (not also as a start-up warning)
    assert human.stderr.count("ghost_plugin_cli_gone") == 1


def test_the_uninstall_hint_names_the_installer(
    cl: RunCl, plugin_dir: Path, on_path: dict[str, str]
) -> None:
    install_plugin(plugin_dir, "cl-plugin-broken", "broken", "broken_plugin", BROKEN)
    info = next(plugin_dir.glob("cl_plugin_broken-*.dist-info"))
    for installer, hint in (("uv", "`uv pip uninstall"), ("pip", "`pip uninstall")):
        (info / "INSTALLER").write_text(f"{installer}\n")
        [line] = _warnings(cl("profile", "list").stderr)
        assert f"remove it with {hint} cl-plugin-broken`" in line


def test_a_load_error_is_reported_once_by_cl_plugins(
    cl: RunCl, plugin_dir: Path, on_path: dict[str, str]
) -> None:
    install_plugin(plugin_dir, "cl-plugin-broken", "broken", "broken_plugin", BROKEN)
    result = cl("plugins")
    assert result.exit_code == 0
    assert result.stderr.count("boom at import") == 1, result.stderr
