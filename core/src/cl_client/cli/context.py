"""The global options of ``cl`` and where commands find them.

The root callback stores a :class:`GlobalOptions` in ``ctx.meta`` (shared by every context of one
invocation), so any command, built-in or plugin, can read them from its own context. Nothing here
imports more than the standard library: the root callback runs even for ``cl <plugin> --help``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import typer

    from cl_client.config import Overrides

GLOBALS_KEY: Final = "cl.globals"
JSON_KEY: Final = "cl.json"


@dataclass(frozen=True)
class GlobalOptions:
    """The options given before the command (``cl [OPTIONS] COMMAND``)."""

    profile: str | None = None
    json: bool = False
    verbose: bool = False
    quiet: bool = False
    no_color: bool = False
    auth_url: str | None = None
    compute_url: str | None = None
    mqtt_url: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    no_auth: bool | None = None
    capability_check: bool = True

    def overrides(self) -> Overrides:
        """The connection settings given as arguments (for ``resolve_settings``)."""
        from cl_client.config import Overrides

        return Overrides(
            profile=self.profile,
            auth_url=self.auth_url,
            compute_url=self.compute_url,
            mqtt_url=self.mqtt_url,
            username=self.username,
            password=self.password,
            no_auth=self.no_auth,
        )


def get_globals(ctx: typer.Context) -> GlobalOptions:
    """The global options of this invocation (defaults when a command runs without the root app,
    e.g. a plugin's Typer app invoked directly in a test)."""
    value = ctx.meta.get(GLOBALS_KEY)
    return value if isinstance(value, GlobalOptions) else GlobalOptions()


def set_globals(ctx: typer.Context, options: GlobalOptions) -> None:
    ctx.meta[GLOBALS_KEY] = options


def json_requested(ctx: typer.Context) -> bool:
    """True when ``--json`` was given before the command or on it."""
    return get_globals(ctx).json or bool(ctx.meta.get(JSON_KEY))
