"""``cl profile``: named connection profiles in the config file, and the effective settings."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer

from cl_client.cli import get_output, json_option
from cl_client.cli.context import get_globals
from cl_client.cli.runner import guarded

if TYPE_CHECKING:
    from cl_client.config import ConfigStore, Profile, Settings, Source

app = typer.Typer(
    help=(
        "Manage connection profiles. A profile names the auth, compute and MQTT URLs, the user "
        "name and the auth mode of one server; `cl -p NAME ...` uses it."
    ),
    no_args_is_help=True,
)

SECRET_FIELDS = ("password", "token")
SETTING_FIELDS = (
    "profile",
    "auth_url",
    "compute_url",
    "mqtt_url",
    "username",
    "password",
    "token",
    "auth_mode",
    "timeout",
    "verify_tls",
    "events_topic",
    "workers_topic",
    "launcher",
)


def _store() -> ConfigStore:
    from cl_client.config import ConfigStore

    return ConfigStore()


def _builtins() -> dict[str, Profile]:
    from cl_client.plugins import builtin_profiles

    return builtin_profiles()


def _profile_dict(profile: Profile) -> dict[str, object]:
    """The profile's set keys, as JSON; a password in a URL is masked (JSON output of config
    never holds a secret)."""
    import msgspec

    from cl_client.config import mask_url

    data = msgspec.to_builtins(profile)
    assert isinstance(data, dict)
    return {
        str(k): mask_url(v) if isinstance(v, str) and str(k).endswith("_url") else v  # pyright: ignore[reportUnknownArgumentType]
        for k, v in data.items()  # pyright: ignore[reportUnknownVariableType]
    }


def _current_name(ctx: typer.Context, store: ConfigStore) -> str:
    import os

    from cl_client.config import DEFAULT_PROFILE

    return (
        get_globals(ctx).profile
        or os.environ.get("CL_PROFILE")
        or store.default_name()
        or DEFAULT_PROFILE
    )


def _key(name: str) -> str:
    return name.strip().replace("-", "_")


@app.command("list")
def list_profiles(ctx: typer.Context, json_output: Annotated[bool, json_option()] = False) -> None:
    """List the profiles of the config file and those offered by plugins."""
    out = get_output(ctx)
    with guarded(out):
        from cl_client.config import warn_ignored

        store = _store()
        report = store.read()
        warn_ignored(report)
        config = report.config
        builtins = _builtins()
        current = _current_name(ctx, store)
        in_file = [*config.profiles, *report.problems]
        names = in_file + [n for n in builtins if n not in in_file]
        rows: list[dict[str, object]] = []
        for name in names:
            row: dict[str, object] = {
                "name": name,
                "source": "file" if name in in_file else "built-in",
                "default": name == config.default_profile,
                "active": name == current,
            }
            if name in report.problems:
                # Listed, not fatal: `cl profile set/unset/remove` repair it.
                row["problem"] = report.problems[name]
                out.warn(report.problems[name])
            else:
                profile = config.profiles[name] if name in config.profiles else builtins[name]
                row.update(_profile_dict(profile))
            rows.append(row)
    if out.json_mode:
        out.json(rows)
        return
    if not rows:
        out.info(
            f"no profiles in {store.path} — the defaults are used; add one with "
            "`cl profile add NAME --compute-url URL ...`"
        )
        return
    out.table(
        ["", "name", "compute", "auth", "mqtt", "auth mode", "user", "source"],
        [
            [
                "*" if r["active"] else "",
                str(r["name"]) + (" (default)" if r["default"] else ""),
                r.get("compute_url"),
                r.get("auth_url"),
                r.get("mqtt_url"),
                r.get("auth_mode"),
                r.get("username"),
                "unusable, see the warning"
                if "problem" in r
                else f"{r['source']} (launcher {r['launcher']})"
                if r.get("launcher")
                else r["source"],
            ]
            for r in rows
        ],
    )


def _secret_text(settings: Settings, name: str, source: Source | None) -> str:
    value = getattr(settings, name)
    if value is None:
        return "not set"
    return f"set ({source})" if source is not None else "set"


def _stored_token_text(settings: Settings) -> tuple[str, dict[str, object]]:
    """The token the profile keeps for its auth server, and those of other auth servers."""
    from cl_client.auth import TokenStore, token_expiry
    from cl_client.config import mask_url

    store = TokenStore()
    records = store.records(settings.profile)
    others = [
        mask_url(url or "an unknown auth server") for url in records if url != settings.auth_url
    ]
    record = records.get(settings.auth_url)
    info: dict[str, object] = {"stored": record is not None, "other_auth_urls": others}
    if record is None:
        text = "none"
        if others:
            text += f" (kept for {', '.join(others)}: issued by another auth server: not used)"
        return text, info
    expiry = token_expiry(record.access_token)
    info |= {
        "file": str(store.path_for(settings.profile)),
        "username": record.username,
        "auth_url": mask_url(settings.auth_url),
        "expires_at": expiry,
    }
    text = f"for {record.username or '?'} from {settings.auth_url}"
    if expiry is not None:
        left = expiry - time.time()
        text += f", expires {_when(expiry)}" if left > 0 else ", expired"
    if others:
        text += f"; also kept for {', '.join(others)}"
    return text, info


def _when(epoch: float) -> str:
    left = epoch - time.time()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))
    if left <= 0:
        return f"{stamp} (expired)"
    if left < 3600:
        return f"{stamp} (in {int(left // 60)} min)"
    return f"{stamp} (in {left / 3600:.1f} h)"


def _show_effective(ctx: typer.Context) -> None:
    from cl_client.config import mask_url, resolve_settings

    out = get_output(ctx)
    with guarded(out):
        settings = resolve_settings(get_globals(ctx).overrides(), builtin_profiles=_builtins())
        stored_text, stored_info = _stored_token_text(settings)
    values: dict[str, dict[str, object]] = {}
    rows: list[tuple[str, object]] = []
    for name in SETTING_FIELDS:
        source = settings.sources.get(name)
        src = str(source) if source is not None else "default"
        if name in SECRET_FIELDS:
            shown: object = _secret_text(settings, name, source)
            values[name] = {"set": getattr(settings, name) is not None, "source": src}
        else:
            shown = getattr(settings, name)
            if isinstance(shown, str) and name.endswith("_url"):
                shown = mask_url(shown)
            values[name] = {"value": shown, "source": src}
            shown = f"{'-' if shown is None else shown}  ({src})"
        rows.append((name, shown))
    rows.append(("stored token", stored_text))
    values["stored_token"] = stored_info
    if out.json_mode:
        out.json({"profile": settings.profile, "settings": values})
        return
    out.key_values(rows, title=f"effective settings (profile {settings.profile})")


@app.command("show")
def show(
    ctx: typer.Context,
    name: Annotated[
        str | None,
        typer.Argument(help="Profile to show (default: the active one).", show_default=False),
    ] = None,
    effective: Annotated[
        bool,
        typer.Option(
            "--effective",
            help=(
                "Show every effective setting (flags, environment, profile, defaults) and where "
                "it came from. Secrets are never shown."
            ),
        ),
    ] = False,
    json_output: Annotated[bool, json_option()] = False,
) -> None:
    """Show a profile as stored, or with --effective the settings a command would use."""
    if effective:
        if name is not None:
            from dataclasses import replace

            from cl_client.cli.context import set_globals

            set_globals(ctx, replace(get_globals(ctx), profile=name))
        _show_effective(ctx)
        return
    out = get_output(ctx)
    with guarded(out):
        from cl_client.config import DEFAULT_PROFILE, Profile, warn_ignored
        from cl_client.errors import ConfigError

        store = _store()
        report = store.read()
        warn_ignored(report)
        config = report.config
        chosen = name or _current_name(ctx, store)
        if chosen in report.problems:
            raise ConfigError(report.problems[chosen])
        if chosen in config.profiles:
            profile, source = config.profiles[chosen], f"file {store.path}"
        elif chosen in (builtins := _builtins()):
            profile, source = builtins[chosen], "built-in (from a plugin)"
        elif chosen == DEFAULT_PROFILE:
            profile, source = Profile(), "not in the file: defaults apply"
        else:
            raise ConfigError(f"no profile named {chosen!r} (see `cl profile list`)")
    data = _profile_dict(profile)
    if out.json_mode:
        out.json(
            {
                "name": chosen,
                "default": chosen == config.default_profile,
                "source": source,
                "profile": data,
            }
        )
        return
    from cl_client.config import PROFILE_KEYS

    pairs: list[tuple[str, object]] = [("source", source)]
    pairs += [(key, data.get(key)) for key in PROFILE_KEYS]
    suffix = " (default)" if chosen == config.default_profile else ""
    out.key_values(pairs, title=f"profile {chosen}{suffix}")


@app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Name of the new profile.")],
    auth_url: Annotated[
        str | None, typer.Option(help="Auth service URL.", metavar="URL", show_default=False)
    ] = None,
    compute_url: Annotated[
        str | None, typer.Option(help="Compute service URL.", metavar="URL", show_default=False)
    ] = None,
    mqtt_url: Annotated[
        str | None,
        typer.Option(help="MQTT broker, mqtt://host:port.", metavar="URL", show_default=False),
    ] = None,
    username: Annotated[
        str | None, typer.Option(help="User name for `cl login`.", show_default=False)
    ] = None,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="The server needs no login (auth mode none).")
    ] = False,
    timeout: Annotated[
        float | None,
        typer.Option(help="HTTP request timeout in seconds.", min=0.001, show_default=False),
    ] = None,
    default: Annotated[
        bool, typer.Option("--default", help="Make it the default profile.")
    ] = False,
    json_output: Annotated[bool, json_option()] = False,
) -> None:
    """Add a profile to the config file."""
    out = get_output(ctx)
    with guarded(out):
        from cl_client.config import Profile

        store = _store()
        profile = Profile(
            auth_url=auth_url,
            compute_url=compute_url,
            mqtt_url=mqtt_url,
            username=username,
            auth_mode="none" if no_auth else None,
            timeout=timeout,
        )
        store.add(name, profile, make_default=default)
        saved = store.get(name)
    if out.json_mode:
        out.json({"name": name, "default": default, "profile": _profile_dict(saved)})
        return
    out.success(f"added profile {name!r} to {store.path}" + (" (default)" if default else ""))


@app.command("set")
def set_value(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Profile to change.")],
    key: Annotated[
        str,
        typer.Argument(
            help=(
                "auth_url, compute_url, mqtt_url, username, auth_mode (jwt|none), timeout, "
                "verify_tls, events_topic, workers_topic or launcher."
            )
        ),
    ],
    value: Annotated[str, typer.Argument(help="The new value.")],
    json_output: Annotated[bool, json_option()] = False,
) -> None:
    """Set one value of a profile (checked before it is written)."""
    out = get_output(ctx)
    with guarded(out):
        store = _store()
        updated = store.update(name, **{_key(key): value})
    if out.json_mode:
        out.json({"name": name, "profile": _profile_dict(updated)})
        return
    out.success(f"profile {name!r}: {_key(key)} = {getattr(updated, _key(key))}")


@app.command("get")
def get_value(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Profile to read (from the file or built-in).")],
    key: Annotated[str, typer.Argument(help="The key, e.g. compute_url or timeout.")],
    json_output: Annotated[bool, json_option()] = False,
) -> None:
    """Print one stored value of a profile (exit 4 when the key is not set there).

    The value as written in the profile, even in one that fails the checks; what a command would
    actually use is `cl profile show --effective`.
    """
    out = get_output(ctx)
    with guarded(out):
        from cl_client.config import PROFILE_KEYS, mask_url
        from cl_client.errors import ConfigError

        store = _store()
        field = _key(key)
        builtins = _builtins()
        if field not in PROFILE_KEYS:
            store.raw_value(name, field)  # the unknown-key error, with the known keys
        try:
            value = store.raw_value(name, field)
        except ConfigError:
            if name not in builtins:
                raise
            value = getattr(builtins[name], field)
        if isinstance(value, str) and field.endswith("_url"):
            value = mask_url(value)
    if value is None:
        from cl_client.errors import EXIT_NOT_FOUND

        out.error(
            f"profile {name!r} has no {field} set (the default applies: "
            "`cl profile show --effective`)"
        )
        raise typer.Exit(EXIT_NOT_FOUND)
    if out.json_mode:
        out.json({"name": name, "key": field, "value": value})
    elif isinstance(value, bool):
        out.result("true" if value else "false")
    else:
        out.result(f"{value:g}" if isinstance(value, float) else str(value))


@app.command("unset")
def unset_value(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Profile to change.")],
    key: Annotated[str, typer.Argument(help="The key to remove (the default then applies).")],
    json_output: Annotated[bool, json_option()] = False,
) -> None:
    """Remove one value from a profile."""
    out = get_output(ctx)
    with guarded(out):
        updated = _store().update(name, **{_key(key): None})
    if out.json_mode:
        out.json({"name": name, "profile": _profile_dict(updated)})
        return
    out.success(f"profile {name!r}: {_key(key)} unset")


@app.command("use")
def use(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Profile to use.")],
    json_output: Annotated[bool, json_option()] = False,
) -> None:
    """Make a profile the default one."""
    out = get_output(ctx)
    with guarded(out):
        _store().set_default(name, known=_builtins())
    if out.json_mode:
        out.json({"default_profile": name})
        return
    out.success(f"default profile is now {name!r}")


@app.command("remove")
def remove(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Profile to remove.")],
    json_output: Annotated[bool, json_option()] = False,
) -> None:
    """Remove a profile from the config file (and its stored token)."""
    out = get_output(ctx)
    with guarded(out):
        from cl_client.auth import TokenStore
        from cl_client.config import check_profile_name_message

        _store().remove(name)
        # A name that is not a valid profile name never had a token file.
        token_removed = not check_profile_name_message(name) and TokenStore().delete(name)
    if out.json_mode:
        out.json({"name": name, "removed": True, "token_removed": token_removed})
        return
    out.success(f"removed profile {name!r}")
