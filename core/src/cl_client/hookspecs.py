"""The hook specifications: the contract between ``cl`` and its plugins.

A plugin is a module named by an entry point in the group :data:`ENTRY_POINT_GROUP`. It implements
any of the hooks below with the :data:`hookimpl` marker::

    from cl_client.hookspecs import hookimpl

    @hookimpl
    def cl_register_commands(register):
        register("hash", "cl_plugin_hash.cli:app", help="Content hashes of media files.")

Versioning promise: within a major version of ``cl-client`` hooks are only added, never changed or
removed, and every argument a hook receives keeps its meaning. A hook implementation may accept
fewer arguments than the spec names (pluggy passes only the ones it asks for), so new arguments
can be added without breaking plugins. A breaking change moves to a new entry-point group
(``cl.plugins.v2``).

Hooks hand the plugin a ``register`` callback instead of expecting a return value, so that the host
can check what each plugin adds and attribute it to its distribution (``cl plugins`` shows it).

This module must stay cheap to import: it is loaded for ``cl --help``.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Final, Protocol

import pluggy

if TYPE_CHECKING:
    from cl_client.config import Profile, Settings

PROJECT_NAME: Final = "cl"
#: Entry-point group that ``cl`` loads plugins from.
ENTRY_POINT_GROUP: Final = "cl.plugins"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


class RegisterCommand(Protocol):
    """Callback given to :func:`cl_register_commands`."""

    def __call__(
        self,
        name: str,
        target: str,
        *,
        help: str,
        panel: str | None = None,
    ) -> None:
        """Add a sub-command group ``cl <name>``.

        ``target`` is an import path ``"package.module:attr"`` naming a ``typer.Typer`` app. It is
        imported only when the command runs (or its own ``--help`` is shown), so ``cl --help``
        stays fast
        however many plugins are installed. ``help`` is the one-line summary shown in ``cl --help``;
        ``panel`` groups commands in the help output (default "Plugins").
        """
        ...


class RegisterTaskClient(Protocol):
    """Callback given to :func:`cl_register_task_clients`."""

    def __call__(self, task_type: str, target: str) -> None:
        """Declare the typed library client for ``task_type`` as an import path
        ``"package.module:Class"`` naming a :class:`cl_client.tasks.TaskClient` subclass."""
        ...


class RegisterProfile(Protocol):
    """Callback given to :func:`cl_register_profiles`."""

    def __call__(self, name: str, profile: Profile) -> None:
        """Offer a built-in profile. A profile of the same name in the user's config file wins."""
        ...


@hookspec
def cl_register_commands(register: RegisterCommand) -> None:
    """Register the plugin's Typer command groups.

    Contract: call ``register`` once per top-level command group. Do not import Typer apps, httpx,
    numpy or any heavy module here; name them by import path. Built-in commands win over plugin
    commands of the same name, and of two plugins claiming a name the first loaded keeps it; the
    other is reported in ``cl plugins``.
    """


@hookspec
def cl_register_task_clients(register: RegisterTaskClient) -> None:
    """Declare the typed library client(s) the plugin provides, one per compute task type.

    Contract: ``task_type`` is a PROTOCOL task name (``hash``, ``exif``…) or a new one the plugin's
    server side understands. Used by :func:`cl_client.plugins.task_client` and listed by ``cl
    plugins``.
    """


@hookspec
def cl_register_profiles(register: RegisterProfile) -> None:
    """Offer built-in profiles (e.g. ``local``, served by an embedded server).

    Contract: profiles registered here are read-only defaults; users can shadow them by adding a
    profile of the same name. A profile with ``launcher`` set needs a plugin answering
    :func:`cl_launch` for that launcher name.
    """


@hookspec(firstresult=True)
def cl_launch(launcher: str, settings: Settings) -> AbstractContextManager[Settings] | None:
    """Bring up the services a profile's ``launcher`` names, for the duration of one command.

    Contract: return ``None`` if ``launcher`` is not yours. Otherwise return a context manager that
    starts the services on entry and yields ``settings`` with real URLs filled in (use
    ``dataclasses.replace``), and stops them on exit. Print nothing on stdout (it is for results);
    use stderr for status lines.
    """


#: The hook names, for ``cl plugins`` and tests.
HOOK_NAMES: Final[tuple[str, ...]] = (
    "cl_register_commands",
    "cl_register_task_clients",
    "cl_register_profiles",
    "cl_launch",
)
