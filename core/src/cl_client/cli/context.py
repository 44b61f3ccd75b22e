"""The global options of ``cl`` and where commands find them.

The root callback stores a :class:`GlobalOptions` in ``ctx.meta`` (shared by every context of one
invocation), so any command, built-in or plugin, can read them from its own context. A global
option given after the command name (``cl hash compute x.jpg -v``) updates it while that command's
line is parsed (see :func:`set_global`). Nothing here imports more than the standard library: the
root callback runs even for ``cl <plugin> --help``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import typer
    from typer import _click as click

    from cl_client.config import Overrides

GLOBALS_KEY: Final = "cl.globals"
RAW_KEY: Final = "cl.global-values"
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


def globals_from_values(values: Mapping[str, object]) -> GlobalOptions:
    """The :class:`GlobalOptions` of the root callback's parameter values (by parameter name)."""

    def text(name: str) -> str | None:
        value = values.get(name)
        return value if isinstance(value, str) else None

    return GlobalOptions(
        profile=text("profile"),
        json=bool(values.get("json_output")),
        verbose=bool(values.get("verbose")),
        quiet=bool(values.get("quiet")),
        no_color=bool(values.get("no_color")),
        auth_url=text("auth_url"),
        compute_url=text("compute_url"),
        mqtt_url=text("mqtt_url"),
        username=text("username"),
        password=text("password"),
        no_auth=True if values.get("no_auth") else None,
        capability_check=not values.get("no_capability_check"),
    )


def set_root_globals(ctx: typer.Context, values: Mapping[str, object]) -> None:
    """Store the global options given before the command (the root callback's values)."""
    ctx.meta[RAW_KEY] = dict(values)
    options = globals_from_values(values)
    if options.verbose or "logging" in sys.modules:
        debug_logging(options.verbose)
    set_globals(ctx, options)


def set_global(ctx: click.Context, name: str, value: object) -> None:
    """A global option given after the command name: it wins over the same one given before."""
    raw = ctx.meta.get(RAW_KEY)
    values: dict[str, object] = dict(raw) if isinstance(raw, dict) else {}  # pyright: ignore[reportUnknownArgumentType]
    values[name] = value
    ctx.meta[RAW_KEY] = values
    options = globals_from_values(values)
    if name == "verbose":
        debug_logging(options.verbose)
    set_globals(ctx, options)


def debug_logging(enabled: bool) -> None:
    """With -v, the library's debug log (token refreshes, MQTT, retries) goes to stderr."""
    import logging

    class StderrHandler(logging.Handler):
        # looks sys.stderr up per record: test runners swap it between invocations
        def emit(self, record: logging.LogRecord) -> None:
            sys.stderr.write(f"debug: {record.name}: {record.getMessage()}\n")

    logger = logging.getLogger("cl_client")
    ours = [h for h in logger.handlers if type(h).__name__ == "StderrHandler"]
    if enabled:
        if not ours:
            logger.addHandler(StderrHandler())
        logger.setLevel(logging.DEBUG)
    elif ours:
        # an earlier invocation in this process (a test runner) turned it on
        for handler in ours:
            logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)


def get_globals(ctx: click.Context) -> GlobalOptions:
    """The global options of this invocation (defaults when a command runs without the root app,
    e.g. a plugin's Typer app invoked directly in a test)."""
    value = ctx.meta.get(GLOBALS_KEY)
    return value if isinstance(value, GlobalOptions) else GlobalOptions()


def set_globals(ctx: click.Context, options: GlobalOptions) -> None:
    ctx.meta[GLOBALS_KEY] = options


def json_requested(ctx: typer.Context) -> bool:
    """True when ``--json`` was given before the command or on it."""
    return get_globals(ctx).json or bool(ctx.meta.get(JSON_KEY))
