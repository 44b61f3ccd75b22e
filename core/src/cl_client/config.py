"""Profiles and the effective settings.

One TOML file (``config.toml`` in :func:`config_dir`) holds named profiles and the name of the
default one. The settings a command runs with are resolved field by field with the precedence
explicit argument > environment > profile > built-in default, and every value remembers where it
came from (:attr:`Settings.sources`).

Reading the file: corrupt TOML, a file that is not UTF-8 or a wrongly shaped top level is an error
that names the file; it is never silently reset. A profile whose values do not pass the checks is
reported with the file, the profile and the key, and only using that profile fails, so
``cl profile set``/``unset``/``remove`` can repair it. A key this version does not know (written
by a newer ``cl``) is reported as a :class:`~cl_client.errors.ConfigWarning`, ignored, and kept
when the file is rewritten.

Writing the file: every change is a read-modify-write under an exclusive lock
(``config.toml.lock`` next to it), so changes made at the same time are all kept; a value is
checked with the same code that checks it when the file is read, before anything is written; the
write is atomic (temp file in the same folder, fsync, ``os.replace``) and the file is private
(0600, folder 0700).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import time
import tomllib
import warnings
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal, get_args
from urllib.parse import SplitResult, urlsplit

import msgspec

from cl_client.errors import ConfigError, ConfigWarning

AuthMode = Literal["jwt", "none"]
SourceKind = Literal["argument", "env", "profile", "derived", "default"]

DEFAULT_PROFILE: Final = "default"
DEFAULT_AUTH_URL: Final = "http://localhost:8000"
DEFAULT_COMPUTE_URL: Final = "http://localhost:8002"
DEFAULT_MQTT_URL: Final = "mqtt://localhost:1883"
DEFAULT_TIMEOUT: Final = 30.0
DEFAULT_EVENTS_TOPIC: Final = "inference/events"
DEFAULT_WORKERS_TOPIC: Final = "inference/workers"
DEFAULT_MQTT_PORT: Final = 1883

CONFIG_FILE_NAME: Final = "config.toml"
#: How long a change waits for another process holding the config (or token) lock.
LOCK_TIMEOUT: Final = 30.0
_PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Host names as RFC 3986 reg-names in ASCII (IDN hosts in their xn-- form); IPv6 goes in brackets.
_HOST_NAME = re.compile(r"[a-z0-9_~-]+(\.[a-z0-9_~-]+)*\.?")
# What httpx takes for an IPv4 address, and then insists is a valid one (no leading zeros).
_DOTTED_QUAD = re.compile(r"[0-9]+(\.[0-9]+){3}")
_HOST_PORT = re.compile(
    r"(?:\[(?P<ipv6>[0-9A-Fa-f:.]*)\]|(?P<host>[^:\[\]]*))(?::(?P<port>[0-9]{0,5}))?"
)
_TRUE_WORDS: Final = frozenset({"1", "true", "yes", "on"})
_FALSE_WORDS: Final = frozenset({"0", "false", "no", "off"})
# scheme://user:password@ — the password part is what mask_url hides.
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^\s/?#]*)@")

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
class ConfigReport:
    """What :meth:`ConfigStore.read` found: the usable profiles, and what it could not use."""

    config: ConfigFile
    #: Profiles that fail the checks, by name: one line saying what is wrong (file and key).
    problems: Mapping[str, str] = field(default_factory=dict[str, str])
    #: Keys this version does not know, ignored (e.g. written by a newer ``cl``), one line each.
    ignored: tuple[str, ...] = ()


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


@contextlib.contextmanager
def file_lock(lock_path: Path, what: str, timeout: float = LOCK_TIMEOUT) -> Generator[None]:
    """Hold an exclusive ``flock`` on ``lock_path`` (created 0600) for a read-modify-write.

    The kernel drops the lock when the holder exits, however it exits, so a crash never leaves a
    stale lock; the file itself stays (removing it would race with a process waiting on it).
    ConfigError after ``timeout`` seconds, naming ``what`` and the lock file.
    """
    import fcntl

    lock_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ConfigError(
                        f"{what} is being changed by another process (lock {lock_path} held for "
                        f"over {timeout:g} s)"
                    ) from None
                time.sleep(0.01)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


# --- URLs -----------------------------------------------------------------------------------


def mask_url(url: str) -> str:
    """``url`` (or any text holding URLs) with the password of each ``user:password@`` replaced
    by ``***``: ``http://alice:***@nas:8002``. Works on text that is not a valid URL too."""

    def hide(match: re.Match[str]) -> str:
        user, colon, _password = match.group("userinfo").partition(":")
        return f"{match.group('scheme')}{user}{':***' if colon else ''}@"

    return _USERINFO.sub(hide, url)


def _split_url(url: str, what: str) -> tuple[SplitResult, str, int | None]:
    """``url`` split, with its host (IPv6 without brackets) and port; ConfigError naming
    ``what`` when any part is unusable. The message shows the URL with its password masked."""
    shown = mask_url(url)
    if any(c.isspace() or not c.isprintable() for c in url):
        raise ConfigError(f"invalid {what} {shown!r}: it holds spaces or control characters")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise ConfigError(
            f"invalid {what} {shown!r}: not a URL (is a bracket of an IPv6 address missing? "
            "e.g. http://[::1]:8002)"
        ) from None
    hostport = parts.netloc.rpartition("@")[2]
    shape = _HOST_PORT.fullmatch(hostport)
    if shape is None:
        raise ConfigError(
            f"invalid {what} {shown!r}: expected host or host:port after the scheme "
            "(an IPv6 address goes in brackets: http://[::1]:8002)"
        )
    host = (shape.group("ipv6") or shape.group("host") or "").lower()
    if not host:
        raise ConfigError(f"invalid {what} {shown!r}: no host name")
    if shape.group("ipv6") is not None:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ConfigError(
                f"invalid {what} {shown!r}: {host!r} in brackets is not an IPv6 address"
            ) from None
    elif not _HOST_NAME.fullmatch(host):
        raise ConfigError(
            f"invalid {what} {shown!r}: {host!r} is not a host name "
            "(letters, digits, '-' and '.'; an IPv6 address goes in brackets)"
        )
    elif _DOTTED_QUAD.fullmatch(host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise ConfigError(
                f"invalid {what} {shown!r}: {host!r} is not an IPv4 address"
            ) from None
    digits = shape.group("port")
    port = int(digits) if digits else None
    if port is not None and port > 65535:
        raise ConfigError(f"invalid {what} {shown!r}: the port is not a number 0-65535")
    return parts, host, port


def _netloc(parts: SplitResult, host: str, port: int | None) -> str:
    userinfo, at, _ = parts.netloc.rpartition("@")
    shown_host = f"[{host}]" if ":" in host else host
    return f"{userinfo}{at}{shown_host}" + (f":{port}" if port is not None else "")


def normalize_service_url(url: str, what: str) -> str:
    """An ``http``/``https`` base URL in canonical form (lower-case scheme and host, no trailing
    slash); else ConfigError naming ``what``."""
    text = url.strip()
    parts, host, port = _split_url(text, what)
    if parts.scheme not in ("http", "https"):
        raise ConfigError(f"invalid {what} {mask_url(text)!r}: the scheme must be http or https")
    if parts.query or parts.fragment or "?" in text or "#" in text:
        raise ConfigError(f"invalid {what} {mask_url(text)!r}: a base URL has no query or fragment")
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{_netloc(parts, host, port)}{path}"


def parse_mqtt_url(url: str) -> tuple[str, int]:
    """``(host, port)`` of an ``mqtt://host[:port]`` URL (port 1883 when missing)."""
    text = url.strip()
    parts, host, port = _split_url(text, "MQTT URL")
    if parts.scheme != "mqtt":
        raise ConfigError(
            f"invalid MQTT URL {mask_url(text)!r}: the scheme must be mqtt:// "
            "(no TLS or other schemes)"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment or "?" in text or "#" in text:
        raise ConfigError(
            f"invalid MQTT URL {mask_url(text)!r}: expected mqtt://host:port and nothing else"
        )
    return host, port if port is not None else DEFAULT_MQTT_PORT


def normalize_mqtt_url(url: str) -> str:
    """``mqtt://host:port`` with the default port filled in; ConfigError when invalid."""
    host, port = parse_mqtt_url(url)
    shown = f"[{host}]" if ":" in host else host
    return f"mqtt://{shown}:{port}"


def derived_mqtt_url(compute_url: str) -> str:
    """The broker URL assumed when none is configured: the compute service's host, port 1883."""
    _parts, host, _port = _split_url(compute_url, "compute URL")
    return normalize_mqtt_url(f"mqtt://{f'[{host}]' if ':' in host else host}")


# --- tokens ---------------------------------------------------------------------------------


def clean_token(text: str, where: str) -> str | None:
    """A token read from ``where`` (e.g. ``"CL_TOKEN"``) without surrounding whitespace, ``None``
    when nothing is left. ConfigError when it holds a character no token has (a control
    character, an inner space, non-ASCII); the message never shows the token."""
    token = text.strip()
    if not token:
        return None
    if not all("!" <= c <= "~" for c in token):
        raise ConfigError(
            f"the token in {where} holds a control character, space or non-ASCII character, "
            "which no token has (it is not shown here) — copy it again"
        )
    return token


# --- values ---------------------------------------------------------------------------------


def check_profile_name(name: str) -> str:
    """``name`` if usable as a profile name (also a file name for its token); else ConfigError."""
    if not _PROFILE_NAME.match(name):
        raise ConfigError(
            f"invalid profile name {name!r}: use letters, digits, '.', '_' or '-' "
            "(at most 64, starting with a letter or digit)"
        )
    return name


def parse_bool(text: str, what: str) -> bool:
    """``1/0, true/false, yes/no, on/off`` (any case) as a bool; else ConfigError."""
    word = text.strip().lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise ConfigError(f"invalid {what} {text!r}: expected true or false (also 1/0, yes/no, on/off)")


def _check_topic(topic: str, what: str) -> str:
    name = topic.strip().rstrip("/")
    if not name or any(c in name for c in "+#") or not name.isprintable():
        raise ConfigError(
            f"invalid {what} {topic!r}: an MQTT topic name, not empty, without wildcards or "
            "control characters"
        )
    return name


def _check_timeout(value: float, what: str) -> float:
    if not value > 0 or value != value or value == float("inf"):
        raise ConfigError(f"invalid {what} {value!r}: must be a number of seconds above 0")
    return float(value)


def _check_text(key: str, value: str) -> str | None:
    text = value.strip()
    if not text.isprintable():
        raise ConfigError(f"invalid {key} {value!r}: control characters are not allowed")
    return text or None


def parse_profile_value(key: str, value: object) -> object:
    """The value of profile key ``key`` as stored: ``value`` (text from the command line, or a
    value of the field's type) parsed, checked and normalised; ConfigError when it does not fit.
    The same checks run on every value read from the file."""
    if key not in PROFILE_KEYS:
        raise ConfigError(f"unknown profile key {key!r} (known keys: {', '.join(PROFILE_KEYS)})")
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
    if key == "auth_url":
        return normalize_service_url(value, "auth URL")
    if key == "compute_url":
        return normalize_service_url(value, "compute URL")
    if key == "mqtt_url":
        return normalize_mqtt_url(value)
    if key == "events_topic":
        return _check_topic(value, "events topic")
    if key == "workers_topic":
        return _check_topic(value, "workers topic")
    return _check_text(key, value)


def _profile_table(profile: Profile) -> dict[str, object]:
    data = msgspec.to_builtins(profile)
    assert isinstance(data, dict)
    return {str(k): v for k, v in data.items()}  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]


def _checked_profile(profile: Profile, where: str) -> Profile:
    """``profile`` with every value checked and normalised; ConfigError naming ``where``."""
    values: dict[str, object] = {}
    for key, value in _profile_table(profile).items():
        try:
            values[key] = parse_profile_value(key, value)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc.message}") from None
    return Profile(**values)  # pyright: ignore[reportArgumentType]


@dataclass
class _DecodedProfile:
    profile: Profile
    #: Problems by key ("" for the table as a whole).
    problems: dict[str, str] = field(default_factory=dict[str, str])
    unknown: list[str] = field(default_factory=list[str])


def _decode_profile(table: object) -> _DecodedProfile:
    """One ``[profiles.NAME]`` table, key by key, so each bad key is named and the good ones
    still count. The values must have the field's TOML type and pass :func:`parse_profile_value`
    unchanged except for normalisation."""
    if not isinstance(table, dict):
        return _DecodedProfile(Profile(), {"": f"expected a table, not {_toml_type(table)}"})
    decoded = _DecodedProfile(Profile())
    values: dict[str, object] = {}
    for key, value in table.items():  # pyright: ignore[reportUnknownVariableType]
        name = str(key)  # pyright: ignore[reportUnknownArgumentType]
        if name not in PROFILE_KEYS:
            decoded.unknown.append(name)
            continue
        try:
            typed = msgspec.convert({name: value}, Profile)
            values[name] = parse_profile_value(name, getattr(typed, name))
        except msgspec.ValidationError as exc:
            problem = _describe_type_error(str(exc), name)
            if isinstance(value, str):
                try:
                    parse_profile_value(name, value)
                except ConfigError as bad:
                    problem = bad.message  # e.g. auth_mode = "basic": says what is allowed
            decoded.problems[name] = problem
        except ConfigError as exc:
            decoded.problems[name] = exc.message
    decoded.profile = Profile(**values)  # pyright: ignore[reportArgumentType]
    return decoded


_TYPE_WORDS: Final = {
    "float": "a number",
    "int": "a whole number",
    "str": "a string",
    "bool": "true or false",
    "array": "an array",
    "object": "a table",
}


def _describe_type_error(message: str, key: str) -> str:
    """msgspec's "Expected `float | null`, got `str` - at `$.timeout`" in plain words."""
    match = re.match(r"Expected `(.*?)`, got `(.*?)`", message)
    if match is None:
        text = re.sub(r" - at `\$.*`$", "", message).replace("`", "")
        return f"{key}: {text[:1].lower()}{text[1:]}"
    expected = [t for t in match.group(1).split(" | ") if t != "null"]
    if all(t.startswith("'") for t in expected):  # a Literal: the values allowed
        wanted = " or ".join(expected)
    else:
        wanted = " or ".join(_TYPE_WORDS.get(t, t) for t in expected)
    got = _TYPE_WORDS.get(match.group(2), match.group(2))
    return f"{key} must be {wanted}, not {got}"


def _toml_type(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "a value"


# --- the config file ------------------------------------------------------------------------


class ConfigStore:
    """Reads and writes the profiles file. Every method re-reads the file, so it is never stale."""

    def __init__(self, path: Path | None = None) -> None:
        self.path: Path = path if path is not None else config_dir() / CONFIG_FILE_NAME

    @property
    def lock_path(self) -> Path:
        """The lock file held while the config file is changed."""
        return self.path.with_name(self.path.name + ".lock")

    # -- reading --

    def _read_raw(self) -> dict[str, object]:
        """The TOML document ({} when the file is missing); ConfigError when it cannot be used."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise ConfigError(f"cannot read config file {self.path}: {exc.strerror}") from None
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise ConfigError(f"config file {self.path} is not UTF-8 text") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {self.path} is not valid TOML: {exc}") from None
        default = data.get("default_profile")
        if default is not None and not isinstance(default, str):
            raise ConfigError(
                f"config file {self.path}: default_profile must be a string, not "
                f"{_toml_type(default)}"
            )
        profiles = data.get("profiles")
        if profiles is not None and not isinstance(profiles, dict):
            raise ConfigError(
                f"config file {self.path}: profiles must be a table ([profiles.NAME]), not "
                f"{_toml_type(profiles)}"
            )
        return data

    def _report(self, raw: Mapping[str, object]) -> ConfigReport:
        ignored = [
            f"ignoring unknown key {key!r} in {self.path} (written by a newer cl?)"
            for key in raw
            if key not in ("default_profile", "profiles")
        ]
        profiles: dict[str, Profile] = {}
        problems: dict[str, str] = {}
        for name, table in _raw_profiles(raw).items():
            where = f"config file {self.path}, profile {name!r}"
            decoded = _decode_profile(table)
            ignored += [
                f"ignoring unknown key {key!r} in [profiles.{name}] of {self.path} "
                "(written by a newer cl?)"
                for key in decoded.unknown
            ]
            if not _PROFILE_NAME.match(name):
                problems[name] = f"{where}: {check_profile_name_message(name)}"
            elif decoded.problems:
                key, problem = next(iter(decoded.problems.items()))
                fix = (
                    f"fix it with `cl profile set {name} {key} VALUE` or `cl profile unset "
                    f"{name} {key}`"
                    if key
                    else f"remove it with `cl profile remove {name}`"
                )
                problems[name] = f"{where}: {problem} — {fix}"
            else:
                profiles[name] = decoded.profile
        default = raw.get("default_profile")
        config = ConfigFile(
            default_profile=default if isinstance(default, str) else None, profiles=profiles
        )
        return ConfigReport(config=config, problems=problems, ignored=tuple(ignored))

    def read(self) -> ConfigReport:
        """The file as far as it is usable: profiles that pass the checks, the problems of those
        that do not, and the unknown keys that were ignored. ConfigError only when the file as a
        whole cannot be read (missing is fine: no profiles)."""
        return self._report(self._read_raw())

    def load(self, *, warn: bool = True) -> ConfigFile:
        """The decoded file (empty when missing), every profile checked; ConfigError names the
        file, the profile and the problem. Unknown keys are ignored, with a ConfigWarning."""
        report = self.read()
        if warn:
            warn_ignored(report)
        if report.problems:
            raise ConfigError(next(iter(report.problems.values())))
        return report.config

    def profiles(self) -> dict[str, Profile]:
        return dict(self.load().profiles)

    def get(self, name: str) -> Profile:
        """Profile ``name``; ConfigError when it is not in the file or fails the checks."""
        report = self.read()
        warn_ignored(report)
        if name in report.problems:
            raise ConfigError(report.problems[name])
        if name not in report.config.profiles:
            raise ConfigError(self._missing(name, report.config.profiles))
        return report.config.profiles[name]

    def raw_value(self, name: str, key: str) -> object:
        """The value of ``key`` as written in profile ``name`` (``None`` when not set), even in a
        profile that fails the checks; ConfigError for an unknown profile or key."""
        if key not in PROFILE_KEYS:
            raise ConfigError(
                f"unknown profile key {key!r} (known keys: {', '.join(PROFILE_KEYS)})"
            )
        profiles = _raw_profiles(self._read_raw())
        if name not in profiles:
            raise ConfigError(self._missing(name, profiles))
        table = profiles[name]
        return table.get(key) if isinstance(table, dict) else None  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]

    def default_name(self) -> str | None:
        return self.read().config.default_profile

    # -- writing --

    @contextlib.contextmanager
    def _changing(self) -> Generator[dict[str, object]]:
        """The raw document to change in place, read and written back under the lock."""
        with file_lock(self.lock_path, f"config file {self.path}"):
            raw = self._read_raw()
            yield raw
            self._write_raw(raw)

    def _write_raw(self, raw: Mapping[str, object]) -> None:
        import tomli_w

        text = tomli_w.dumps(dict(raw))
        write_private_file(self.path, text.encode("utf-8"))

    def save(self, config: ConfigFile) -> None:
        """Replace the whole file with ``config`` (atomically, mode 0600), every value checked
        first."""
        checked = {
            name: _checked_profile(profile, f"profile {name!r}")
            for name, profile in config.profiles.items()
        }
        for name in checked:
            check_profile_name(name)
        with file_lock(self.lock_path, f"config file {self.path}"):
            data = msgspec.to_builtins(ConfigFile(default_profile=config.default_profile))
            assert isinstance(data, dict)
            raw: dict[str, object] = {str(k): v for k, v in data.items()}  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
            raw["profiles"] = {name: _profile_table(p) for name, p in checked.items()}
            self._write_raw(raw)

    def add(self, name: str, profile: Profile, *, make_default: bool = False) -> None:
        check_profile_name(name)
        table = _profile_table(_checked_profile(profile, f"profile {name!r}"))
        with self._changing() as raw:
            profiles = _raw_profiles(raw)
            if name in profiles:
                raise ConfigError(
                    f"profile {name!r} already exists in {self.path} — change it with "
                    f"`cl profile set {name} KEY VALUE` or remove it first"
                )
            profiles[name] = table
            raw["profiles"] = profiles
            if make_default:
                raw["default_profile"] = name

    def update(self, name: str, **changes: object) -> Profile:
        """Set fields of profile ``name``; each value is parsed and checked, ``None`` unsets it.

        Works on a profile that fails the checks too (that is how it is repaired): the keys
        changed must then be valid, and if other keys are still wrong the change is written and
        a ConfigWarning names what is left to fix. Unknown keys already in the profile stay.
        """
        values = {key: parse_profile_value(key, value) for key, value in changes.items()}
        with self._changing() as raw:
            profiles = _raw_profiles(raw)
            if name not in profiles:
                raise ConfigError(self._missing(name, profiles))
            table = profiles[name]
            updated: dict[str, object] = dict(table) if isinstance(table, dict) else {}  # pyright: ignore[reportUnknownArgumentType]
            for key, value in values.items():
                if value is None:
                    updated.pop(key, None)
                else:
                    updated[key] = value
            decoded = _decode_profile(updated)
            # Belt and braces: what is written now must read back as valid.
            for key in values:
                if key in decoded.problems:
                    raise ConfigError(f"profile {name!r}: {decoded.problems[key]}")
            profiles[name] = updated
            raw["profiles"] = profiles
        if decoded.problems:
            left = "; ".join(decoded.problems.values())
            warnings.warn(
                ConfigWarning(f"profile {name!r} in {self.path} still has a problem: {left}"),
                stacklevel=2,
            )
        return decoded.profile

    def remove(self, name: str) -> None:
        """Remove profile ``name``, also one that fails the checks."""
        with self._changing() as raw:
            profiles = _raw_profiles(raw)
            if name not in profiles:
                raise ConfigError(self._missing(name, profiles))
            del profiles[name]
            raw["profiles"] = profiles
            if raw.get("default_profile") == name:
                del raw["default_profile"]

    def set_default(self, name: str, *, known: Mapping[str, Profile] | None = None) -> None:
        """Make ``name`` the default profile; it must be in the file or in ``known`` (built-ins)."""
        with self._changing() as raw:
            profiles = _raw_profiles(raw)
            if name not in profiles and (known is None or name not in known):
                raise ConfigError(self._missing(name, {**(known or {}), **profiles}))
            raw["default_profile"] = name

    def _missing(self, name: str, profiles: Mapping[str, object]) -> str:
        known = ", ".join(sorted(profiles)) or "none"
        return f"no profile named {name!r} in {self.path} (profiles: {known})"


def check_profile_name_message(name: str) -> str:
    try:
        check_profile_name(name)
    except ConfigError as exc:
        return exc.message
    return ""


def _raw_profiles(raw: Mapping[str, object]) -> dict[str, object]:
    profiles = raw.get("profiles")
    if not isinstance(profiles, dict):
        return {}
    return {str(k): v for k, v in profiles.items()}  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]


def warn_ignored(report: ConfigReport) -> None:
    """Issue a ConfigWarning for each unknown key the report ignored."""
    for message in report.ignored:
        warnings.warn(ConfigWarning(message), stacklevel=3)


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
    """The effective settings: argument > environment > profile (file, else built-in) > default.

    Only the profile in use must pass the checks; another profile of the file that does not is
    reported with a ConfigWarning. Without a configured MQTT URL the broker is assumed on the
    compute service's host (source ``derived``).
    """
    args = overrides or Overrides()
    environ: Mapping[str, str] = os.environ if env is None else env
    config_store = store or ConfigStore()
    report = config_store.read()
    warn_ignored(report)
    config = report.config
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

    for other, problem in report.problems.items():
        if other != name:
            warnings.warn(ConfigWarning(f"{problem} (not used now)"), stacklevel=2)
    if name in report.problems:
        raise ConfigError(report.problems[name])
    if name in config.profiles:
        profile = config.profiles[name]
        profile_source = Source("profile", name)
    elif name in builtins:
        profile = _checked_profile(builtins[name], f"built-in profile {name!r}")
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
    if sources["mqtt_url"].kind == "default" and sources["compute_url"].kind != "default":
        # A broker on the compute host is far likelier than one on this machine.
        mqtt_url = derived_mqtt_url(compute_url)
        sources["mqtt_url"] = Source("derived", "from the compute URL's host")
    mqtt_url = str(checked("mqtt_url", lambda: normalize_mqtt_url(mqtt_url)))

    username = pick("username", args.username, ENV_VARS["username"], text, None)
    password = pick("password", args.password, ENV_VARS["password"], text, None)
    token = pick("token", args.token, ENV_VARS["token"], text, None)
    if isinstance(token, str):
        where = ENV_VARS["token"] if sources["token"].kind == "env" else "the token argument"
        token = clean_token(token, where)

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
