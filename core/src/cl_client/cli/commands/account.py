"""``cl login``, ``cl logout`` and ``cl whoami`` (per profile)."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer

from cl_client.cli import get_output, json_option
from cl_client.cli.context import get_globals
from cl_client.cli.runner import guarded, run_coroutine

if TYPE_CHECKING:
    from cl_client.cli.output import Output
    from cl_client.client import Client
    from cl_client.config import Settings
    from cl_client.models import Health, User


def _settings(ctx: typer.Context, out: Output) -> Settings:
    from cl_client.config import resolve_settings
    from cl_client.plugins import builtin_profiles

    with guarded(out):
        return resolve_settings(get_globals(ctx).overrides(), builtin_profiles=builtin_profiles())
    raise AssertionError("unreachable")  # guarded() exits on errors


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "no expiry in the token"
    left = epoch - time.time()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))
    if left <= 0:
        return f"expired at {stamp}"
    if left < 3600:
        return f"expires {stamp} (in {max(int(left // 60), 0)} min)"
    return f"expires {stamp} (in {left / 3600:.1f} h)"


def _millis(epoch: float | None) -> int | None:
    """A time as every timestamp of ``cl``'s JSON: integer milliseconds since the epoch."""
    return None if epoch is None else int(epoch * 1000)


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def login(
    ctx: typer.Context,
    username: Annotated[
        str | None,
        typer.Option(
            "--username",
            "-u",
            help="User name (default: --username / CL_USERNAME / the profile's; else asked).",
            show_default=False,
        ),
    ] = None,
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="Read the password from the first line of standard input.",
        ),
    ] = False,
    json_output: Annotated[bool, json_option()] = False,
) -> None:
    """Log in to the profile's auth service and keep the token for later commands.

    The password is read from --password-stdin, CL_PASSWORD, or asked for without echo.
    """
    from cl_client.errors import ConfigError, InvalidInputError

    out = get_output(ctx)
    settings = _settings(ctx, out)
    with guarded(out):
        if settings.auth_mode == "none":
            raise ConfigError(
                f"profile {settings.profile!r} uses no authentication (auth mode none): there is "
                "nothing to log in to"
            )
        user = username or settings.username
        if not user:
            if not _stdin_is_terminal():
                raise InvalidInputError("no user name: give --username or set CL_USERNAME")
            user = str(typer.prompt("Username"))
        if password_stdin:
            secret = sys.stdin.readline().rstrip("\r\n")
            if not secret:
                raise InvalidInputError("--password-stdin: standard input has no password")
        elif settings.password:
            secret = settings.password
        elif _stdin_is_terminal():
            secret = str(typer.prompt("Password", hide_input=True))
        else:
            raise InvalidInputError(
                "no password: use --password-stdin or CL_PASSWORD (no terminal to ask on)"
            )

    async def go() -> tuple[User, float | None]:
        from cl_client.client import Client

        async with Client(settings) as client:
            logged_in = await client.login(user, secret)
            return logged_in, client.session.expires_at

    who, expires = run_coroutine(out, go)
    _logged_in(out, settings, who, expires)


def _logged_in(out: Output, settings: Settings, who: User, expires: float | None) -> None:
    if out.json_mode:
        out.json(
            {
                "profile": settings.profile,
                "auth_url": settings.auth_url,
                "user": who.to_dict(),
                "expires_at": _millis(expires),
            }
        )
        return
    role = " (admin)" if who.is_admin else ""
    out.success(
        f"logged in as {who.username}{role} to {settings.auth_url} (profile {settings.profile}); "
        f"token {_when(expires)}"
    )


def logout(ctx: typer.Context, json_output: Annotated[bool, json_option()] = False) -> None:
    """Forget the profile's stored token (tokens stay valid on the server until they expire)."""
    out = get_output(ctx)
    settings = _settings(ctx, out)
    with guarded(out):
        from cl_client.auth import TokenStore

        # Only this auth server's token: the profile's tokens for other servers stay.
        removed = TokenStore().delete(settings.profile, settings.auth_url)
    if out.json_mode:
        out.json({"profile": settings.profile, "removed": removed})
        return
    if removed:
        out.success(f"logged out of profile {settings.profile!r} (stored token removed)")
    else:
        out.info(f"profile {settings.profile!r} has no stored token")
    if settings.token:
        out.warn("CL_TOKEN is set in the environment and is still used")


async def _health(client: Client) -> tuple[Health | None, str | None]:
    from cl_client.errors import ClError

    try:
        return await client.compute.health(), None
    except ClError as exc:
        return None, exc.message


def _guest_text(health: Health | None, error: str | None) -> str:
    if health is None:
        return f"unreachable ({error})"
    if health.guest_mode is None:
        return "reachable (guest mode not reported by this server)"
    if health.guest_mode:
        return "guest mode on: jobs need no login"
    return "guest mode off: jobs need a login"


@dataclass
class _WhoAmI:
    profile: str
    auth_mode: str
    auth_url: str
    compute_url: str
    compute: dict[str, object]
    compute_text: str
    user: User | None = None
    token_from: str = "none"  # noqa: S105 - a token source, not a secret
    expires_at: float | None = None

    def to_json(self) -> dict[str, object]:
        token: dict[str, object] | None = None
        if self.auth_mode != "none":
            token = {"source": self.token_from}
            if self.token_from != "none":  # noqa: S105 - a token source, not a secret
                token["expires_at"] = _millis(self.expires_at)
                token["expired"] = self.expires_at is not None and self.expires_at <= time.time()
        return {
            "profile": self.profile,
            "auth_mode": self.auth_mode,
            "auth_url": self.auth_url if self.auth_mode != "none" else None,
            "compute_url": self.compute_url,
            "compute": self.compute,
            "user": self.user.to_dict() if self.user is not None else None,
            "token": token,
        }


def whoami(ctx: typer.Context, json_output: Annotated[bool, json_option()] = False) -> None:
    """Show who you are on the profile's server: user, admin, permissions, token source and
    expiry, and whether the compute server is in guest mode."""
    out = get_output(ctx)
    settings = _settings(ctx, out)
    if settings.auth_mode == "none" and not settings.launcher:
        # Nothing to log in to: one health request, without loading the HTTP client.
        from cl_client.cli.probe import probe_health

        health, error = probe_health(
            settings.compute_url, timeout=settings.timeout, verify_tls=settings.verify_tls
        )
        _show_whoami(
            out,
            _WhoAmI(
                profile=settings.profile,
                auth_mode=settings.auth_mode,
                auth_url=settings.auth_url,
                compute_url=settings.compute_url,
                compute={
                    "reachable": health is not None,
                    "guest_mode": health.guest_mode if health is not None else None,
                    "error": error or None,
                },
                compute_text=_guest_text(health, error),
            ),
        )
        return

    async def go() -> _WhoAmI:
        from cl_client.client import Client

        async with Client(settings) as client:
            live = client.settings  # launcher profiles fill in real URLs
            health, health_error = await _health(client)
            info = _WhoAmI(
                profile=live.profile,
                auth_mode=live.auth_mode,
                auth_url=live.auth_url,
                compute_url=live.compute_url,
                compute={
                    "reachable": health is not None,
                    "guest_mode": health.guest_mode if health is not None else None,
                    "error": health_error,
                },
                compute_text=_guest_text(health, health_error),
            )
            if live.auth_mode == "none":
                return info
            session = client.session
            no_token = session.token_source == "none"  # noqa: S105 - a source, not a secret
            if no_token and not (live.username and live.password):
                return info
            info.user = await client.auth.me()
            info.token_from = session.token_source
            info.expires_at = session.expires_at
            return info

    _show_whoami(out, run_coroutine(out, go))


def _show_whoami(out: Output, info: _WhoAmI) -> None:
    from cl_client.errors import NotLoggedInError

    if out.json_mode:
        out.json(info.to_json())
    else:
        pairs: list[tuple[str, object]] = [
            ("profile", info.profile),
            ("auth mode", info.auth_mode),
        ]
        if info.auth_mode == "none":
            pairs.append(("user", "none: this profile uses no authentication (no login)"))
        elif info.user is not None:
            user = info.user
            source = {"env": "CL_TOKEN", "stored": "stored by `cl login`"}.get(
                info.token_from, info.token_from
            )
            pairs += [
                ("user", f"{user.username} (id {user.id})"),
                ("admin", user.is_admin),
                ("active", user.is_active),
                ("permissions", user.permissions),
                ("token", f"{source}, {_when(info.expires_at)}"),
            ]
        else:
            pairs.append(("user", "not logged in"))
        if info.auth_mode != "none":
            pairs.append(("auth", info.auth_url))
        pairs.append(("compute", f"{info.compute_url} — {info.compute_text}"))
        out.key_values(pairs)
    if info.auth_mode != "none" and info.user is None:
        with guarded(out):
            raise NotLoggedInError(f"not logged in (profile {info.profile}) — run `cl login`")
