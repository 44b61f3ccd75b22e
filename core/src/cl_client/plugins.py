"""Plugin loading: entry points, hook calls on plugins' behalf, and what plugins registered.

Plugins are modules named by entry points in the group ``cl.plugins``. Each is imported in its own
``try`` block: a plugin that fails to import is recorded with its error and every other plugin (and
every built-in command) keeps working. Every hook call made on a plugin's behalf is guarded the same
way, and the ``register`` callbacks check what they receive, so a plugin that breaks the contract is
reported against its own name instead of crashing ``cl``.

Environment:

- ``CL_DISABLE_PLUGINS=a,b`` blocks the named plugins (entry-point names) before they are imported.
- ``CL_DISABLE_PLUGIN_AUTOLOAD=1`` loads no plugin at all.
- ``CL_STRICT_PLUGINS=1`` turns any plugin error into :class:`~cl_client.errors.PluginError` (CI).

Start-up cost matters here: ``cl --help`` goes through this module. Entry points are found by
reading ``*.dist-info/entry_points.txt`` on ``sys.path`` directly (importing importlib.metadata
costs more than the whole scan), and the hooks for profiles and task clients are only called when
someone asks for them.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import traceback
from collections.abc import Callable, Collection, Generator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal, cast

import pluggy

from cl_client import hookspecs
from cl_client.errors import ClError, ConfigError, PluginError

if TYPE_CHECKING:
    from cl_client.config import Profile, Settings
    from cl_client.tasks import TaskClient, TaskResult

ENV_DISABLE: Final = "CL_DISABLE_PLUGINS"
ENV_NO_AUTOLOAD: Final = "CL_DISABLE_PLUGIN_AUTOLOAD"
ENV_STRICT: Final = "CL_STRICT_PLUGINS"

DEFAULT_PANEL: Final = "Plugins"
#: A command name: lower-case words joined by dashes (what Typer derives from function names).
COMMAND_NAME_RE: Final = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
#: An import path ``package.module:attribute``.
TARGET_RE: Final = re.compile(
    r"^[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$"
)


# --- public records -------------------------------------------------------------------------


@dataclass(frozen=True)
class EntryPointInfo:
    """One entry point of the ``cl.plugins`` group, found without importing anything."""

    name: str
    value: str
    distribution: str
    version: str
    path: Path  # the *.dist-info / *.egg-info folder


@dataclass(frozen=True)
class CommandRegistration:
    """A ``cl <name>`` command group a plugin registered (``target`` is ``module:attr``)."""

    name: str
    target: str
    help: str
    panel: str
    plugin: str


@dataclass(frozen=True)
class TaskClientRegistration:
    task_type: str
    target: str
    plugin: str


@dataclass(frozen=True)
class PluginInfo:
    """What ``cl plugins`` shows for one plugin."""

    name: str
    distribution: str
    version: str
    hooks: list[str]
    commands: list[str]
    task_clients: list[str]
    error: str | None
    #: Built-in profiles the plugin offers.
    profiles: list[str] = field(default_factory=list[str])
    #: Commands (or profiles) it registered that were ignored because the name was taken.
    conflicts: list[str] = field(default_factory=list[str])
    #: The traceback of the load error, for ``-v``.
    traceback: str | None = None
    #: Command and task-client targets whose module cannot be found (not imported to check).
    missing_targets: list[str] = field(default_factory=list[str])
    #: The tool that installed the distribution (``uv``, ``pip``), when it recorded one.
    installer: str | None = None


# --- entry-point discovery ------------------------------------------------------------------


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _read_metadata(dist_dir: Path) -> tuple[str | None, str | None]:
    """Name and Version from METADATA / PKG-INFO (their headers come first, so stop early)."""
    for fname in ("METADATA", "PKG-INFO"):
        try:
            with (dist_dir / fname).open(encoding="utf-8", errors="replace") as fh:
                name = version = None
                for line in fh:
                    if not line.strip():
                        break
                    if line.startswith("Name:"):
                        name = line[5:].strip()
                    elif line.startswith("Version:"):
                        version = line[8:].strip()
                    if name and version:
                        break
                return name, version
        except OSError:
            continue
    return None, None


def _parse_entry_points(text: str, group: str) -> list[tuple[str, str]]:
    """The ``name = value`` lines of ``[group]`` in an entry_points.txt (INI-like)."""
    out: list[tuple[str, str]] = []
    in_group = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            in_group = line[1:-1].strip() == group
            continue
        if in_group and "=" in line:
            name, _, value = line.partition("=")
            # "module:attr [extra]" — extras do not matter for loading
            value = value.split("[", 1)[0].strip()
            out.append((name.strip(), value))
    return out


def discover_entry_points(
    group: str = hookspecs.ENTRY_POINT_GROUP, path: Sequence[str] | None = None
) -> list[EntryPointInfo]:
    """Every entry point of ``group`` installed on ``path`` (default ``sys.path``).

    Like importlib.metadata, a distribution found twice counts once: the first on the path wins.
    """
    found: list[EntryPointInfo] = []
    seen: set[str] = set()
    for entry in sys.path if path is None else path:
        folder = entry or "."
        try:
            names = sorted(os.listdir(folder))  # noqa: PTH208 - plain names are all we need
        except OSError:
            continue
        for dname in names:
            if dname.endswith(".dist-info"):
                stem = dname[: -len(".dist-info")]
            elif dname.endswith(".egg-info"):
                stem = dname[: -len(".egg-info")]
            else:
                continue
            dist_name, _, dist_version = stem.partition("-")
            key = _normalize(dist_name)
            if key in seen:
                continue
            seen.add(key)
            dist_dir = Path(folder, dname)
            try:
                text = (dist_dir / "entry_points.txt").read_text(encoding="utf-8")
            except OSError:
                continue
            if f"[{group}]" not in text:
                continue
            meta_name, meta_version = _read_metadata(dist_dir)
            for ep_name, ep_value in _parse_entry_points(text, group):
                found.append(
                    EntryPointInfo(
                        name=ep_name,
                        value=ep_value,
                        distribution=meta_name or dist_name.replace("_", "-"),
                        version=meta_version or dist_version or "unknown",
                        path=dist_dir,
                    )
                )
    return found


def distribution_version(name: str, path: Sequence[str] | None = None) -> str | None:
    """The version of the installed distribution ``name`` (found like the entry points)."""
    key = _normalize(name)
    for entry in sys.path if path is None else path:
        folder = entry or "."
        try:
            names = sorted(os.listdir(folder))  # noqa: PTH208 - plain names are all we need
        except OSError:
            continue
        for dname in names:
            if not dname.endswith(".dist-info"):
                continue
            dist_name, _, dist_version = dname[: -len(".dist-info")].partition("-")
            if _normalize(dist_name) == key:
                return _read_metadata(Path(folder, dname))[1] or dist_version or None
    return None


def installer_of(entry: EntryPointInfo) -> str | None:
    """The tool that installed the entry point's distribution (``uv``, ``pip``), when recorded."""
    try:
        return (entry.path / "INSTALLER").read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def uninstall_hint(entry: EntryPointInfo) -> str:
    """How to remove the distribution, with the tool that installed it."""
    installer = installer_of(entry)
    if installer == "uv":
        return f"`uv pip uninstall {entry.distribution}`"
    if installer == "pip":
        return f"`pip uninstall {entry.distribution}`"
    return f"`uv pip uninstall {entry.distribution}` (or `pip uninstall {entry.distribution}`)"


def _disabled_names(env: Mapping[str, str]) -> set[str]:
    return {n.strip() for n in env.get(ENV_DISABLE, "").split(",") if n.strip()}


def _env_flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in ("1", "true", "yes", "on")


# --- the manager ----------------------------------------------------------------------------


HookName = Literal["cl_register_commands", "cl_register_task_clients", "cl_register_profiles"]


@dataclass
class _PluginState:
    entry: EntryPointInfo
    module: object | None = None
    errors: list[str] = field(default_factory=list[str])
    traceback: str | None = None
    blocked: bool = False
    commands: list[CommandRegistration] = field(default_factory=list[CommandRegistration])
    task_clients: list[TaskClientRegistration] = field(default_factory=list[TaskClientRegistration])
    profiles: dict[str, Profile] = field(default_factory=dict[str, "Profile"])
    conflicts: list[str] = field(default_factory=list[str])
    called: set[str] = field(default_factory=set[str])


class PluginManager(pluggy.PluginManager):
    """pluggy's manager plus what each plugin registered and every error it caused."""

    def __init__(self, *, strict: bool = False) -> None:
        super().__init__(hookspecs.PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self.strict = strict
        self._states: dict[str, _PluginState] = {}

    # -- loading --

    def load_entry_points(
        self, entries: Sequence[EntryPointInfo], *, disabled: Collection[str] = ()
    ) -> None:
        for name in disabled:
            self.set_blocked(name)
        for entry in entries:
            if entry.name in self._states:
                # two distributions offering the same entry-point name: the first one wins
                self._states[entry.name].conflicts.append(
                    f"entry point {entry.name!r} is also offered by {entry.distribution}; ignored"
                )
                continue
            state = _PluginState(entry=entry)
            self._states[entry.name] = state
            if self.is_blocked(entry.name):
                state.blocked = True
                continue
            try:
                module_name, _, attr = entry.value.partition(":")
                plugin: object = importlib.import_module(module_name.strip())
                for part in attr.strip().split(".") if attr.strip() else ():
                    plugin = getattr(plugin, part)
                self.register(plugin, name=entry.name)
            except Exception as exc:
                state.traceback = traceback.format_exc()
                self._record(state, f"{type(exc).__name__}: {exc}")
                continue
            state.module = plugin
            unknown = self._unknown_hooks(plugin)
            if unknown:
                self._record(state, f"implements unknown hook(s) {', '.join(unknown)}")
            self._call_registration(state, "cl_register_commands")

    def _unknown_hooks(self, plugin: object) -> list[str]:
        names: list[str] = []
        for attr in dir(plugin):
            opts = self.parse_hookimpl_opts(plugin, attr)
            if opts is not None:
                hook_name = opts.get("specname") or attr
                if hook_name not in hookspecs.HOOK_NAMES:
                    names.append(hook_name)
        return names

    def _record(self, state: _PluginState, message: str) -> None:
        state.errors.append(message)
        if self.strict:
            raise PluginError(
                f"plugin {state.entry.name!r} ({state.entry.distribution}): {message}"
            )

    # -- guarded hook calls --

    def _impls(self, state: _PluginState, hook_name: str) -> list[pluggy.HookImpl]:
        if state.module is None:
            return []
        caller = cast("pluggy.HookCaller | None", getattr(self.hook, hook_name, None))
        if caller is None:
            return []
        return [impl for impl in caller.get_hookimpls() if impl.plugin_name == state.entry.name]

    def _call_impl(
        self, state: _PluginState, impl: pluggy.HookImpl, kwargs: Mapping[str, object]
    ) -> object:
        args = {name: kwargs[name] for name in impl.argnames if name in kwargs}
        func = cast("Callable[..., object]", impl.function)
        return func(**args)

    def _call_registration(self, state: _PluginState, hook_name: HookName) -> None:
        if hook_name in state.called:
            return
        state.called.add(hook_name)
        register: Callable[..., None]
        if hook_name == "cl_register_commands":
            register = self._command_registrar(state)
        elif hook_name == "cl_register_task_clients":
            register = self._task_client_registrar(state)
        else:
            register = self._profile_registrar(state)
        for impl in self._impls(state, hook_name):
            try:
                self._call_impl(state, impl, {"register": register})
            except PluginError:
                raise
            except Exception as exc:
                state.traceback = traceback.format_exc()
                self._record(state, f"{hook_name} raised {type(exc).__name__}: {exc}")

    def _command_registrar(self, state: _PluginState) -> Callable[..., None]:
        def register(
            name: object, target: object, *, help: object = "", panel: object = None
        ) -> None:
            if not isinstance(name, str) or not COMMAND_NAME_RE.match(name):
                self._record(state, f"cl_register_commands: invalid command name {name!r}")
                return
            if not isinstance(target, str) or not TARGET_RE.match(target):
                self._record(
                    state,
                    f"cl_register_commands: target of {name!r} must be an import path "
                    f"'package.module:attr', got {target!r}",
                )
                return
            if not isinstance(help, str):
                self._record(state, f"cl_register_commands: help of {name!r} must be a str")
                return
            if panel is not None and not isinstance(panel, str):
                self._record(state, f"cl_register_commands: panel of {name!r} must be a str")
                return
            state.commands.append(
                CommandRegistration(
                    name=name,
                    target=target,
                    help=help.strip(),
                    panel=panel or DEFAULT_PANEL,
                    plugin=state.entry.name,
                )
            )

        return register

    def _task_client_registrar(self, state: _PluginState) -> Callable[..., None]:
        def register(task_type: object, target: object) -> None:
            if not isinstance(task_type, str) or not task_type:
                self._record(state, f"cl_register_task_clients: invalid task type {task_type!r}")
                return
            if not isinstance(target, str) or not TARGET_RE.match(target):
                self._record(
                    state,
                    f"cl_register_task_clients: target of {task_type!r} must be an import path "
                    f"'package.module:Class', got {target!r}",
                )
                return
            state.task_clients.append(
                TaskClientRegistration(task_type=task_type, target=target, plugin=state.entry.name)
            )

        return register

    def _profile_registrar(self, state: _PluginState) -> Callable[..., None]:
        from cl_client.config import Profile

        def register(name: object, profile: object) -> None:
            if not isinstance(name, str) or not name:
                self._record(state, f"cl_register_profiles: invalid profile name {name!r}")
                return
            if not isinstance(profile, Profile):
                self._record(
                    state,
                    f"cl_register_profiles: profile {name!r} must be a cl_client.config.Profile, "
                    f"got {type(profile).__name__}",
                )
                return
            state.profiles[name] = profile

        return register

    # -- queries --

    def states(self) -> list[_PluginState]:
        return list(self._states.values())

    def command_registrations(self, reserved: Collection[str] = ()) -> list[CommandRegistration]:
        """Every usable command registration: built-in (``reserved``) names win, then the first
        plugin (in load order) to claim a name; the losers are noted on their plugin."""
        taken: dict[str, str] = {}
        out: list[CommandRegistration] = []
        for state in self._states.values():
            state.conflicts = [c for c in state.conflicts if not c.startswith("command ")]
            for reg in state.commands:
                if reg.name in reserved:
                    state.conflicts.append(
                        f"command {reg.name!r} is a built-in command; the plugin's is ignored"
                    )
                elif reg.name in taken:
                    state.conflicts.append(
                        f"command {reg.name!r} is already registered by plugin "
                        f"{taken[reg.name]!r}; ignored"
                    )
                else:
                    taken[reg.name] = reg.plugin
                    out.append(reg)
        return out

    def task_client_registrations(self) -> dict[str, TaskClientRegistration]:
        out: dict[str, TaskClientRegistration] = {}
        for state in self._states.values():
            self._call_registration(state, "cl_register_task_clients")
            for reg in state.task_clients:
                out.setdefault(reg.task_type, reg)
        return out

    def builtin_profiles(self) -> dict[str, Profile]:
        out: dict[str, Profile] = {}
        owner: dict[str, str] = {}
        for state in self._states.values():
            self._call_registration(state, "cl_register_profiles")
            state.conflicts = [c for c in state.conflicts if not c.startswith("profile ")]
            for name, profile in state.profiles.items():
                if name in out:
                    state.conflicts.append(
                        f"profile {name!r} is already offered by plugin {owner[name]!r}; ignored"
                    )
                    continue
                out[name] = profile
                owner[name] = state.entry.name
        return out

    def launch(self, launcher: str, settings: Settings) -> AbstractContextManager[Settings] | None:
        """The first plugin's answer to ``cl_launch`` (each hookimpl called on its own, guarded)."""
        caller = self.hook.cl_launch
        # pluggy calls the most recently registered implementation first; keep that order
        for impl in reversed(caller.get_hookimpls()):
            state = self._states.get(impl.plugin_name)
            if state is None:
                continue
            try:
                result = self._call_impl(state, impl, {"launcher": launcher, "settings": settings})
            except ClError:
                raise
            except Exception as exc:
                raise PluginError(
                    f"plugin {impl.plugin_name!r} failed to launch {launcher!r}: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            if result is None:
                continue
            if not (hasattr(result, "__enter__") and hasattr(result, "__exit__")):
                raise PluginError(
                    f"plugin {impl.plugin_name!r}: cl_launch must return a context manager or "
                    f"None, got {type(result).__name__}"
                )
            return _guarded_launch(
                impl.plugin_name, launcher, cast("AbstractContextManager[Settings]", result)
            )
        return None

    def infos(self, reserved: Collection[str] = ()) -> list[PluginInfo]:
        self.command_registrations(reserved)
        self.task_client_registrations()
        self.builtin_profiles()
        out: list[PluginInfo] = []
        for state in self._states.values():
            hooks: list[str] = []
            if state.module is not None:
                callers = self.get_hookcallers(state.module) or []
                hooks = sorted(c.name for c in callers)
            error = "; ".join(state.errors) if state.errors else None
            if state.blocked:
                error = f"disabled by {ENV_DISABLE}"
            targets = [c.target for c in state.commands] + [t.target for t in state.task_clients]
            out.append(
                PluginInfo(
                    name=state.entry.name,
                    distribution=state.entry.distribution,
                    version=state.entry.version,
                    hooks=hooks,
                    commands=[c.name for c in state.commands],
                    task_clients=[t.task_type for t in state.task_clients],
                    error=error,
                    profiles=sorted(state.profiles),
                    conflicts=list(state.conflicts),
                    traceback=state.traceback,
                    missing_targets=[t for t in targets if not target_module_exists(t)],
                    installer=installer_of(state.entry),
                )
            )
        return out


@contextmanager
def _guarded_launch(
    plugin: str, launcher: str, inner: AbstractContextManager[Settings]
) -> Generator[Settings]:
    """Enter a plugin's launcher, turning its unexpected errors into one PluginError."""
    try:
        settings = inner.__enter__()
    except ClError:
        raise
    except Exception as exc:
        raise PluginError(
            f"plugin {plugin!r} could not start launcher {launcher!r}: {type(exc).__name__}: {exc}"
        ) from exc
    try:
        yield settings
    except BaseException:
        if not inner.__exit__(*sys.exc_info()):
            raise
    else:
        inner.__exit__(None, None, None)


# --- module-level API -----------------------------------------------------------------------

_cache: dict[tuple[object, ...], PluginManager] = {}


def _cache_key(env: Mapping[str, str]) -> tuple[object, ...]:
    return (
        tuple(sys.path),
        env.get(ENV_DISABLE, ""),
        env.get(ENV_NO_AUTOLOAD, ""),
        env.get(ENV_STRICT, ""),
    )


def get_plugin_manager() -> PluginManager:
    """The process's plugin manager, with every installed plugin loaded (once).

    The cache is keyed by ``sys.path`` and the plugin environment variables, so a test that
    changes them gets a freshly loaded manager. Raises :class:`PluginError` in strict mode.
    """
    env = os.environ
    key = _cache_key(env)
    pm = _cache.get(key)
    if pm is None:
        pm = PluginManager(strict=_env_flag(env, ENV_STRICT))
        _cache.clear()
        _cache[key] = pm
        if not _env_flag(env, ENV_NO_AUTOLOAD):
            try:
                pm.load_entry_points(discover_entry_points(), disabled=_disabled_names(env))
            except PluginError:
                del _cache[key]
                raise
    return pm


def plugin_infos(reserved: Collection[str] = ()) -> list[PluginInfo]:
    """Every installed plugin: distribution, version, hooks, commands, task clients, errors.
    ``reserved`` names commands that belong to the host (built-ins win over plugins)."""
    return get_plugin_manager().infos(reserved)


def command_registrations(reserved: Collection[str] = ()) -> list[CommandRegistration]:
    """The plugin command groups to add under ``cl`` (conflicts resolved, see PluginManager)."""
    return get_plugin_manager().command_registrations(reserved)


def builtin_profiles() -> dict[str, Profile]:
    """Profiles offered by plugins (a profile of the same name in the config file wins)."""
    return get_plugin_manager().builtin_profiles()


def launch_context(settings: Settings) -> AbstractContextManager[Settings]:
    """The context manager that brings up ``settings.launcher`` (a no-op without a launcher)."""
    if not settings.launcher:
        return nullcontext(settings)
    cm = get_plugin_manager().launch(settings.launcher, settings)
    if cm is None:
        raise ConfigError(
            f"profile {settings.profile!r} needs the launcher {settings.launcher!r}, which no "
            "installed plugin provides (see `cl plugins`)"
        )
    return cm


def task_client(task_type: str) -> type[TaskClient[TaskResult]]:
    """The typed client class a plugin registered for ``task_type``."""
    from cl_client.tasks import TaskClient

    reg = get_plugin_manager().task_client_registrations().get(task_type)
    if reg is None:
        raise PluginError(f"no installed plugin provides a client for task {task_type!r}")
    obj = import_target(reg.target, plugin=reg.plugin)
    if not (isinstance(obj, type) and issubclass(obj, TaskClient)):
        raise PluginError(
            f"plugin {reg.plugin!r}: {reg.target} is not a cl_client.tasks.TaskClient subclass"
        )
    return cast("type[TaskClient[TaskResult]]", obj)


def target_module_exists(target: str) -> bool:
    """Whether the module of ``package.module:attr`` can be found, without importing it (its
    parent packages are imported, as finding a sub-module needs them)."""
    import importlib.util

    module_name = target.partition(":")[0]
    try:
        return importlib.util.find_spec(module_name) is not None
    except (ImportError, ValueError):
        return False


def import_target(target: str, *, plugin: str) -> object:
    """Import ``package.module:attr``; any failure becomes a PluginError naming the plugin."""
    module_name, _, attr = target.partition(":")
    try:
        obj: object = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except Exception as exc:
        raise PluginError(
            f"plugin {plugin!r}: cannot load {target}: {type(exc).__name__}: {exc}"
        ) from exc
    return obj
