"""Profiles and the effective settings.

One TOML file (``config.toml`` in :func:`config_dir`) holds named profiles and the name of the
default one. The settings a command runs with are resolved field by field with the precedence
explicit argument > environment > profile > built-in default, and every value remembers where it
came from (:attr:`Settings.sources`).

The file is decoded strictly: corrupt TOML, an unknown key or a value of the wrong type is an error
that names the file and the problem; it is never silently reset. Writes are atomic (temp file in
the same folder, fsync, ``os.replace``) and the file is private (0600, folder 0700).
"""

from __future__ import annotations

import contextlib
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal, get_args
from urllib.parse import urlsplit

import msgspec

from cl_client.errors import ConfigError

AuthMode = Literal["jwt", "none"]
SourceKind = Literal["argument", "env", "profile", "default"]

DEFAULT_PROFILE: Final = "default"
DEFAULT_AUTH_URL: Final = "http://localhost:8000"
DEFAULT_COMPUTE_URL: Final = "http://localhost:8002"
DEFAULT_MQTT_URL: Final = "mqtt://localhost:1883"
DEFAULT_TIMEOUT: Final = 30.0
DEFAULT_EVENTS_TOPIC: Final = "inference/events"
DEFAULT_WORKERS_TOPIC: Final = "inference/workers"
DEFAULT_MQTT_PORT: Final = 1883

CONFIG_FILE_NAME: Final = "config.toml"
_PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_TRUE_WORDS: Final = frozenset({"1", "true", "yes", "on"})
_FALSE_WORDS: Final = frozenset({"0", "false", "no", "off"})

#: Environment variables read by :func:`resolve_settings`, by settings field.
ENV_VARS: Final[Mapping[str, str]] = {
    "profile": "CL_PROFILE",
    "auth_url": "CL_AUTH_URL",
    "compute_url": "CL_COMPUTE_URL",
    "mqtt_url": "CL_MQTT_URL",
    "username": "CL_USERNAME",
    "password": "CL_PASSWORD",
    "token": "CL_TOKEN",
    "auth_mode": "CL_NO_AUTH",
}


class Profile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """One named profile. Every field is optional; an unset field falls through to the default."""

    auth_url: str | None = None
    compute_url: str | None = None
    mqtt_url: str | None = None
    username: str | None = None
    auth_mode: AuthMode | None = None
    timeout: float | None = None
    verify_tls: bool | None = None
    events_topic: str | None = None
    workers_topic: str | None = None
    #: Name of a plugin launcher (``cl_launch`` hook), e.g. ``"local-server"``.
    launcher: str | None = None


PROFILE_KEYS: Final[tuple[str, ...]] = Profile.__struct_fields__


class ConfigFile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """The whole config file."""

    default_profile: str | None = None
    profiles: dict[str, Profile] = msgspec.field(default_factory=dict[str, Profile])


@dataclass(frozen=True)
class Source:
    """Where an effective value came from, e.g. ``Source("env", "CL_AUTH_URL")``."""

    kind: SourceKind
    detail: str

    def __str__(self) -> str:
        return self.kind if not self.detail else f"{self.kind} {self.detail}"


@dataclass(frozen=True)
class Overrides:
    """Explicit arguments (CLI flags or library keyword arguments). ``None`` means "not given"."""

    profile: str | None = None
    auth_url: str | None = None
    compute_url: str | None = None
    mqtt_url: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    no_auth: bool | None = None


@dataclass(frozen=True)
class Settings:
    """The effective settings of one command or client; the repr hides the password and token."""

    profile: str
    auth_url: str
    compute_url: str
    mqtt_url: str
    username: str | None
    password: str | None = field(repr=False)
    token: str | None = field(repr=False)
    auth_mode: AuthMode
    timeout: float
    verify_tls: bool
    events_topic: str
    workers_topic: str
    launcher: str | None
    #: Where each field's value came from, by field name.
    sources: Mapping[str, Source] = field(default_factory=dict[str, Source], compare=False)


# --- locations ------------------------------------------------------------------------------


def config_dir() -> Path:
    """``CL_CONFIG_DIR``, else the platform's user config folder for the app ``cl``."""
    override = os.environ.get("CL_CONFIG_DIR")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("cl", appauthor=False))


def state_dir() -> Path:
    """``CL_STATE_DIR``, else the user state folder for ``cl`` (token files live here)."""
    override = os.environ.get("CL_STATE_DIR")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_state_dir("cl", appauthor=False))


def write_private_file(path: Path, data: bytes) -> None:
    """Atomically replace ``path`` with ``data``, readable by the owner only.

    The bytes go to a temp file in the same folder (so the rename cannot cross file systems), are
    fsynced, and the temp file is renamed over ``path``. A failure at any step leaves the old file
    as it was and removes the temp file.
    """
    import tempfile

    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o600)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; not every platform lets a directory be opened.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- validation -----------------------------------------------------------------------------


def check_profile_name(name: str) -> str:
    """``name`` if usable as a profile name (also a file name for its token); else ConfigError."""
    if not _PROFILE_NAME.match(name):
        raise ConfigError(
            f"invalid profile name {name!r}: use letters, digits, '.', '_' or '-' "
            "(at most 64, starting with a letter or digit)"
        )
    return name


def normalize_service_url(url: str, what: str) -> str:
    """An ``http``/``https`` base URL without trailing slash; else ConfigError naming ``what``."""
    text = url.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise ConfigError(f"invalid {what} {url!r}: the scheme must be http or https")
    if not parts.hostname:
        raise ConfigError(f"invalid {what} {url!r}: no host name")
    try:
        _ = parts.port
    except ValueError:
        raise ConfigError(f"invalid {what} {url!r}: the port is not a number 0-65535") from None
    if parts.query or parts.fragment:
        raise ConfigError(f"invalid {what} {url!r}: a base URL has no query or fragment")
    return text.rstrip("/")


def parse_mqtt_url(url: str) -> tuple[str, int]:
    """``(host, port)`` of an ``mqtt://host[:port]`` URL (port 1883 when missing)."""
    parts = urlsplit(url.strip())
    if parts.scheme != "mqtt":
        raise ConfigError(
            f"invalid MQTT URL {url!r}: the scheme must be mqtt:// (no TLS or other schemes)"
        )
    if not parts.hostname:
        raise ConfigError(f"invalid MQTT URL {url!r}: no host name")
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"invalid MQTT URL {url!r}: the port is not a number 0-65535") from None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"invalid MQTT URL {url!r}: expected mqtt://host:port and nothing else")
    return parts.hostname, port if port is not None else DEFAULT_MQTT_PORT


def normalize_mqtt_url(url: str) -> str:
    """``mqtt://host:port`` with the default port filled in; ConfigError when invalid."""
    host, port = parse_mqtt_url(url)
    shown = f"[{host}]" if ":" in host else host
    return f"mqtt://{shown}:{port}"


def parse_bool(text: str, what: str) -> bool:
    """``1/0, true/false, yes/no, on/off`` (any case) as a bool; else ConfigError."""
    word = text.strip().lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise ConfigError(f"invalid {what} {text!r}: expected true or false (also 1/0, yes/no, on/off)")


def _check_topic(topic: str, what: str) -> str:
    if not topic or any(c in topic for c in "+#\0"):
        raise ConfigError(f"invalid {what} {topic!r}: an MQTT topic name without wildcards")
    return topic.rstrip("/")


def _check_timeout(value: float, what: str) -> float:
    if not value > 0 or value != value:
        raise ConfigError(f"invalid {what} {value!r}: must be a number of seconds above 0")
    return float(value)


def _validate_profile(profile: Profile, where: str) -> Profile:
    """Check the values of a profile, naming ``where`` (e.g. "profile 'nas' in /x/config.toml")."""
    try:
        if profile.auth_url is not None:
            normalize_service_url(profile.auth_url, "auth URL")
        if profile.compute_url is not None:
            normalize_service_url(profile.compute_url, "compute URL")
        if profile.mqtt_url is not None:
            normalize_mqtt_url(profile.mqtt_url)
        if profile.timeout is not None:
            _check_timeout(profile.timeout, "timeout")
        if profile.events_topic is not None:
            _check_topic(profile.events_topic, "events topic")
        if profile.workers_topic is not None:
            _check_topic(profile.workers_topic, "workers topic")
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc.message}") from None
    return profile


def _parse_profile_value(key: str, value: object) -> object:
    """Turn a ``set KEY VALUE`` value (often text from the command line) into the field's type."""
    if value is None:
        return None
    if key == "timeout":
        if isinstance(value, bool):
            raise ConfigError(f"invalid timeout {value!r}: must be a number of seconds above 0")
        if isinstance(value, int | float):
            return _check_timeout(float(value), "timeout")
        try:
            number = float(str(value))
        except ValueError:
            raise ConfigError(
                f"invalid timeout {value!r}: must be a number of seconds above 0"
            ) from None
        return _check_timeout(number, "timeout")
    if key == "verify_tls":
        return value if isinstance(value, bool) else parse_bool(str(value), "verify_tls")
    if key == "auth_mode":
        text = str(value).strip().lower()
        if text not in get_args(AuthMode):
            raise ConfigError(f"invalid auth_mode {value!r}: expected jwt or none")
        return text
    if not isinstance(value, str):
        raise ConfigError(f"invalid {key} {value!r}: expected text")
    text = value.strip()
    if key == "auth_url":
        return normalize_service_url(text, "auth URL")
    if key == "compute_url":
        return normalize_service_url(text, "compute URL")
    if key == "mqtt_url":
        return normalize_mqtt_url(text)
    if key == "events_topic":
        return _check_topic(text, "events topic")
    if key == "workers_topic":
        return _check_topic(text, "workers topic")
    return text or None


# --- the config file ------------------------------------------------------------------------


class _RawConfigFile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The file's top level, with each profile table left undecoded (to name it in errors)."""

    default_profile: str | None = None
    profiles: dict[str, dict[str, object]] = msgspec.field(
        default_factory=dict[str, dict[str, object]]
    )


def _describe_decode_error(message: str, section: str | None) -> str:
    """Turn msgspec's "Object contains unknown field `x` - at `$.y`" into plain words.

    ``section`` is the TOML table the error is in (``profiles.nas``), ``None`` for the top level.
    """
    field_path = ""
    match = re.search(r" - at `\$(.*)`$", message)
    if match:
        message = message[: match.start()]
        field_path = match.group(1).lstrip(".")
    unknown = re.match(r"Object contains unknown field `(.*)`", message)
    if unknown:
        key = unknown.group(1)
        if section is not None:
            return f"unknown key {key!r} in [{section}] (known keys: {', '.join(PROFILE_KEYS)})"
        return f"unknown key {key!r} (known: default_profile, [profiles.NAME])"
    where = ".".join(p for p in (section, field_path) if p)
    text = message[0].lower() + message[1:] if message else "invalid value"
    return f"{text} at {where}" if where else text


class ConfigStore:
    """Reads and writes the profiles file. Every method re-reads the file, so it is never stale."""

    def __init__(self, path: Path | None = None) -> None:
        self.path: Path = path if path is not None else config_dir() / CONFIG_FILE_NAME

    def load(self) -> ConfigFile:
        """The decoded file (empty when missing). ConfigError names the file and the problem."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return ConfigFile()
        except OSError as exc:
            raise ConfigError(f"cannot read config file {self.path}: {exc.strerror}") from None
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise ConfigError(f"config file {self.path} is not UTF-8 text") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {self.path} is not valid TOML: {exc}") from None
        try:
            top = msgspec.convert(data, _RawConfigFile)
        except msgspec.ValidationError as exc:
            problem = _describe_decode_error(str(exc), None)
            raise ConfigError(f"config file {self.path}: {problem}") from None
        profiles: dict[str, Profile] = {}
        for name, table in top.profiles.items():
            try:
                check_profile_name(name)
                profile = msgspec.convert(table, Profile)
            except ConfigError as exc:
                raise ConfigError(f"config file {self.path}: {exc.message}") from None
            except msgspec.ValidationError as exc:
                problem = _describe_decode_error(str(exc), f"profiles.{name}")
                raise ConfigError(f"config file {self.path}: {problem}") from None
            profiles[name] = _validate_profile(
                profile, f"config file {self.path}, profile {name!r}"
            )
        return ConfigFile(default_profile=top.default_profile, profiles=profiles)

    def save(self, config: ConfigFile) -> None:
        """Write ``config`` atomically with mode 0600."""
        import tomli_w

        data = msgspec.to_builtins(config)
        assert isinstance(data, dict)
        text = tomli_w.dumps(data)  # pyright: ignore[reportUnknownArgumentType]
        write_private_file(self.path, text.encode("utf-8"))

    def profiles(self) -> dict[str, Profile]:
        return dict(self.load().profiles)

    def get(self, name: str) -> Profile:
        profiles = self.load().profiles
        if name not in profiles:
            raise ConfigError(self._missing(name, profiles))
        return profiles[name]

    def default_name(self) -> str | None:
        return self.load().default_profile

    def add(self, name: str, profile: Profile, *, make_default: bool = False) -> None:
        check_profile_name(name)
        _validate_profile(profile, f"profile {name!r}")
        config = self.load()
        if name in config.profiles:
            raise ConfigError(
                f"profile {name!r} already exists in {self.path} — change it with "
                f"`cl profile set {name} KEY VALUE` or remove it first"
            )
        profiles = {**config.profiles, name: _normalized(profile)}
        default = name if make_default else config.default_profile
        self.save(ConfigFile(default_profile=default, profiles=profiles))

    def update(self, name: str, **changes: object) -> Profile:
        """Set fields of profile ``name``; each value is parsed and checked, ``None`` unsets it."""
        config = self.load()
        if name not in config.profiles:
            raise ConfigError(self._missing(name, config.profiles))
        values: dict[str, object] = {}
        for key, value in changes.items():
            if key not in PROFILE_KEYS:
                raise ConfigError(
                    f"unknown profile key {key!r} (known keys: {', '.join(PROFILE_KEYS)})"
                )
            values[key] = _parse_profile_value(key, value)
        updated = msgspec.structs.replace(config.profiles[name], **values)
        self.save(msgspec.structs.replace(config, profiles={**config.profiles, name: updated}))
        return updated

    def remove(self, name: str) -> None:
        config = self.load()
        if name not in config.profiles:
            raise ConfigError(self._missing(name, config.profiles))
        profiles = {k: v for k, v in config.profiles.items() if k != name}
        default = None if config.default_profile == name else config.default_profile
        self.save(ConfigFile(default_profile=default, profiles=profiles))

    def set_default(self, name: str, *, known: Mapping[str, Profile] | None = None) -> None:
        """Make ``name`` the default profile; it must be in the file or in ``known`` (built-ins)."""
        config = self.load()
        if name not in config.profiles and (known is None or name not in known):
            raise ConfigError(self._missing(name, {**(known or {}), **config.profiles}))
        self.save(msgspec.structs.replace(config, default_profile=name))

    def _missing(self, name: str, profiles: Mapping[str, Profile]) -> str:
        known = ", ".join(sorted(profiles)) or "none"
        return f"no profile named {name!r} in {self.path} (profiles: {known})"


def _normalized(profile: Profile) -> Profile:
    """The profile with its URLs in canonical form (no trailing slash, MQTT port filled in)."""
    changes: dict[str, object] = {}
    for key in ("auth_url", "compute_url", "mqtt_url"):
        value = getattr(profile, key)
        if isinstance(value, str):
            changes[key] = _parse_profile_value(key, value)
    return msgspec.structs.replace(profile, **changes)


# --- resolution -----------------------------------------------------------------------------


def _env_value(env: Mapping[str, str], name: str) -> str | None:
    # An empty variable counts as unset, as shells make it easy to leave one defined but empty.
    value = env.get(name)
    return value if value else None


def resolve_settings(
    overrides: Overrides | None = None,
    *,
    env: Mapping[str, str] | None = None,
    store: ConfigStore | None = None,
    builtin_profiles: Mapping[str, Profile] | None = None,
) -> Settings:
    """The effective settings: argument > environment > profile (file, else built-in) > default."""
    args = overrides or Overrides()
    environ: Mapping[str, str] = os.environ if env is None else env
    config_store = store or ConfigStore()
    config = config_store.load()
    builtins: Mapping[str, Profile] = builtin_profiles or {}
    sources: dict[str, Source] = {}

    # Which profile.
    if args.profile is not None:
        name, sources["profile"] = args.profile, Source("argument", "--profile")
    elif (env_profile := _env_value(environ, ENV_VARS["profile"])) is not None:
        name, sources["profile"] = env_profile, Source("env", ENV_VARS["profile"])
    elif config.default_profile is not None:
        name = config.default_profile
        sources["profile"] = Source("profile", f"default_profile in {config_store.path}")
    else:
        name, sources["profile"] = DEFAULT_PROFILE, Source("default", "")

    if name in config.profiles:
        profile = config.profiles[name]
        profile_source = Source("profile", name)
    elif name in builtins:
        profile = _validate_profile(builtins[name], f"built-in profile {name!r}")
        profile_source = Source("profile", f"{name} (built-in)")
    elif name == DEFAULT_PROFILE:
        profile = Profile()
        profile_source = Source("profile", name)
    else:
        known = sorted({*config.profiles, *builtins})
        raise ConfigError(
            f"no profile named {name!r} ({sources['profile']}); known profiles: "
            f"{', '.join(known) or 'none'} — add one with `cl profile add {name} ...`"
        )

    def pick(
        key: str,
        argument: object,
        env_name: str | None,
        parse: Callable[[str], object],
        default: object,
    ) -> object:
        if argument is not None:
            sources[key] = Source("argument", f"--{key.replace('_', '-')}")
            return argument
        if env_name is not None and (text := _env_value(environ, env_name)) is not None:
            sources[key] = Source("env", env_name)
            return parse(text)
        value: object = getattr(profile, key, None)
        if value is not None:
            sources[key] = profile_source
            return value
        sources[key] = Source("default", "")
        return default

    def checked(key: str, fn: Callable[[], object]) -> object:
        try:
            return fn()
        except ConfigError as exc:
            raise ConfigError(f"{exc.message} (from {sources.get(key, '?')})") from None

    def text(value: str) -> str:
        return value

    auth_url = str(pick("auth_url", args.auth_url, ENV_VARS["auth_url"], text, DEFAULT_AUTH_URL))
    auth_url = str(checked("auth_url", lambda: normalize_service_url(auth_url, "auth URL")))
    compute_url = str(
        pick("compute_url", args.compute_url, ENV_VARS["compute_url"], text, DEFAULT_COMPUTE_URL)
    )
    compute_url = str(
        checked("compute_url", lambda: normalize_service_url(compute_url, "compute URL"))
    )
    mqtt_url = str(pick("mqtt_url", args.mqtt_url, ENV_VARS["mqtt_url"], text, DEFAULT_MQTT_URL))
    mqtt_url = str(checked("mqtt_url", lambda: normalize_mqtt_url(mqtt_url)))

    username = pick("username", args.username, ENV_VARS["username"], text, None)
    password = pick("password", args.password, ENV_VARS["password"], text, None)
    token = pick("token", args.token, ENV_VARS["token"], text, None)

    no_auth_arg: AuthMode | None = None
    if args.no_auth is not None:
        no_auth_arg = "none" if args.no_auth else "jwt"

    def parse_no_auth(value: str) -> AuthMode:
        return "none" if parse_bool(value, ENV_VARS["auth_mode"]) else "jwt"

    auth_mode = pick("auth_mode", no_auth_arg, ENV_VARS["auth_mode"], parse_no_auth, "jwt")
    if sources["auth_mode"].kind == "argument":
        sources["auth_mode"] = Source("argument", "--no-auth")
    timeout = pick("timeout", None, None, text, DEFAULT_TIMEOUT)
    verify_tls = pick("verify_tls", None, None, text, True)
    events_topic = pick("events_topic", None, None, text, DEFAULT_EVENTS_TOPIC)
    workers_topic = pick("workers_topic", None, None, text, DEFAULT_WORKERS_TOPIC)
    launcher = pick("launcher", None, None, text, None)

    return Settings(
        profile=name,
        auth_url=auth_url,
        compute_url=compute_url,
        mqtt_url=mqtt_url,
        username=_opt_str(username),
        password=_opt_str(password),
        token=_opt_str(token),
        auth_mode="none" if auth_mode == "none" else "jwt",
        timeout=float(timeout) if isinstance(timeout, int | float) else DEFAULT_TIMEOUT,
        verify_tls=bool(verify_tls),
        events_topic=str(events_topic),
        workers_topic=str(workers_topic),
        launcher=_opt_str(launcher),
        sources=sources,
    )


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) else None
