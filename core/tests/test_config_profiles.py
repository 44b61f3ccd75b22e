"""Profiles, precedence with sources, strict decoding and atomic writes of the config file."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

import pytest
from cl_client.config import (
    ConfigStore,
    Overrides,
    Profile,
    Source,
    config_dir,
    normalize_mqtt_url,
    parse_mqtt_url,
    resolve_settings,
    state_dir,
)
from cl_client.errors import ConfigError, ConfigWarning

pytestmark = [pytest.mark.usefixtures("cl_isolated"), pytest.mark.timeout(30)]


def store_with(tmp_path: Path, text: str) -> ConfigStore:
    path = tmp_path / "config" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return ConfigStore(path)


# --- locations ------------------------------------------------------------------------------


def test_config_and_state_dirs_follow_env(tmp_path: Path) -> None:
    assert config_dir() == tmp_path / "config"
    assert state_dir() == tmp_path / "state"
    assert ConfigStore().path == tmp_path / "config" / "config.toml"


def test_dirs_default_to_platformdirs(monkeypatch: pytest.MonkeyPatch) -> None:
    import platformdirs

    monkeypatch.delenv("CL_CONFIG_DIR")
    monkeypatch.delenv("CL_STATE_DIR")
    assert config_dir() == Path(platformdirs.user_config_dir("cl", appauthor=False))
    assert state_dir() == Path(platformdirs.user_state_dir("cl", appauthor=False))


# --- precedence -----------------------------------------------------------------------------


def test_builtin_defaults_when_nothing_is_set() -> None:
    s = resolve_settings(env={})
    assert (s.profile, s.auth_url, s.compute_url, s.mqtt_url) == (
        "default",
        "http://localhost:8000",
        "http://localhost:8002",
        "mqtt://localhost:1883",
    )
    assert (s.auth_mode, s.timeout, s.verify_tls) == ("jwt", 30.0, True)
    assert (s.events_topic, s.workers_topic) == ("inference/events", "inference/workers")
    assert s.username is None and s.password is None and s.token is None and s.launcher is None
    assert all(src.kind == "default" for src in s.sources.values())


def test_every_layer_wins_over_the_next_and_reports_its_source(tmp_path: Path) -> None:
    store = ConfigStore(tmp_path / "c.toml")
    store.add(
        "nas",
        Profile(
            auth_url="http://nas:8000",
            compute_url="http://nas:8002",
            mqtt_url="mqtt://nas",
            username="pat",
            timeout=12,
            verify_tls=False,
            events_topic="jobs/events",
        ),
        make_default=True,
    )
    env = {
        "CL_COMPUTE_URL": "https://env-compute:9002/",
        "CL_MQTT_URL": "mqtt://env-broker:1999",
        "CL_USERNAME": "env-user",
        "CL_PASSWORD": "env-pass",
        "CL_TOKEN": "env-token",
    }
    args = Overrides(mqtt_url="mqtt://arg-broker:2000", username="arg-user")
    s = resolve_settings(args, env=env, store=store)

    assert s.profile == "nas"
    assert s.sources["profile"] == Source("profile", f"default_profile in {store.path}")
    # profile layer
    assert s.auth_url == "http://nas:8000"
    assert s.sources["auth_url"] == Source("profile", "nas")
    assert s.timeout == 12.0 and s.sources["timeout"].kind == "profile"
    assert s.verify_tls is False and s.events_topic == "jobs/events"
    # env over profile (trailing slash dropped)
    assert s.compute_url == "https://env-compute:9002"
    assert s.sources["compute_url"] == Source("env", "CL_COMPUTE_URL")
    assert (s.password, s.token) == ("env-pass", "env-token")
    assert s.sources["token"] == Source("env", "CL_TOKEN")
    # argument over env
    assert s.mqtt_url == "mqtt://arg-broker:2000"
    assert s.sources["mqtt_url"] == Source("argument", "--mqtt-url")
    assert s.username == "arg-user" and s.sources["username"].kind == "argument"
    # default where no layer says anything
    assert s.workers_topic == "inference/workers"
    assert s.sources["workers_topic"] == Source("default", "")


def test_profile_choice_argument_env_file_default(tmp_path: Path) -> None:
    store = ConfigStore(tmp_path / "c.toml")
    for name in ("a", "b", "c"):
        store.add(name, Profile(username=name))
    store.set_default("c")
    assert resolve_settings(env={}, store=store).profile == "c"
    assert resolve_settings(env={"CL_PROFILE": "b"}, store=store).username == "b"
    chosen = resolve_settings(Overrides(profile="a"), env={"CL_PROFILE": "b"}, store=store)
    assert chosen.username == "a"
    assert chosen.sources["profile"] == Source("argument", "--profile")
    env_chosen = resolve_settings(env={"CL_PROFILE": "b"}, store=store)
    assert env_chosen.sources["profile"] == Source("env", "CL_PROFILE")


def test_missing_default_profile_is_pure_defaults_but_a_named_one_must_exist(
    tmp_path: Path,
) -> None:
    store = ConfigStore(tmp_path / "c.toml")
    assert resolve_settings(env={}, store=store).auth_url == "http://localhost:8000"
    with pytest.raises(ConfigError, match="no profile named 'ghost'") as info:
        resolve_settings(Overrides(profile="ghost"), env={}, store=store)
    assert "\n" not in str(info.value)


def test_builtin_profiles_are_used_and_shadowed_by_the_file(tmp_path: Path) -> None:
    builtin = {"local": Profile(auth_mode="none", launcher="local-server")}
    store = ConfigStore(tmp_path / "c.toml")
    s = resolve_settings(Overrides(profile="local"), env={}, store=store, builtin_profiles=builtin)
    assert (s.auth_mode, s.launcher) == ("none", "local-server")
    assert s.sources["launcher"] == Source("profile", "local (built-in)")
    store.add("local", Profile(compute_url="http://mine:1"))
    s = resolve_settings(Overrides(profile="local"), env={}, store=store, builtin_profiles=builtin)
    assert s.launcher is None and s.compute_url == "http://mine:1"


@pytest.mark.parametrize(
    ("value", "mode"),
    [("1", "none"), ("true", "none"), ("YES", "none"), ("0", "jwt"), ("off", "jwt")],
)
def test_cl_no_auth_from_env(value: str, mode: str) -> None:
    s = resolve_settings(env={"CL_NO_AUTH": value})
    assert s.auth_mode == mode and s.sources["auth_mode"] == Source("env", "CL_NO_AUTH")


def test_no_auth_argument_beats_env_and_profile(tmp_path: Path) -> None:
    store = ConfigStore(tmp_path / "c.toml")
    store.add("p", Profile(auth_mode="none"), make_default=True)
    s = resolve_settings(Overrides(no_auth=False), env={"CL_NO_AUTH": "1"}, store=store)
    assert s.auth_mode == "jwt" and s.sources["auth_mode"] == Source("argument", "--no-auth")
    assert resolve_settings(env={}, store=store).auth_mode == "none"


def test_bad_cl_no_auth_is_a_one_line_error() -> None:
    with pytest.raises(ConfigError, match="CL_NO_AUTH"):
        resolve_settings(env={"CL_NO_AUTH": "maybe"})


def test_empty_env_values_count_as_unset() -> None:
    s = resolve_settings(env={"CL_AUTH_URL": "", "CL_TOKEN": ""})
    assert s.auth_url == "http://localhost:8000" and s.token is None


def test_environment_is_read_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CL_AUTH_URL", "http://from-env:1234")
    assert resolve_settings().auth_url == "http://from-env:1234"


# --- URL validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"CL_AUTH_URL": "ftp://x"}, "invalid auth URL 'ftp://x'"),
        ({"CL_COMPUTE_URL": "localhost:8002"}, "invalid compute URL"),
        ({"CL_COMPUTE_URL": "http://"}, "no host name"),
        ({"CL_COMPUTE_URL": "http://h:99999"}, "port"),
        ({"CL_COMPUTE_URL": "http://h/?q=1"}, "no query"),
        ({"CL_MQTT_URL": "mqtts://broker:8883"}, "invalid MQTT URL"),
        ({"CL_MQTT_URL": "http://broker:1883"}, "mqtt://"),
        ({"CL_MQTT_URL": "mqtt://broker:1883/topic"}, "nothing else"),
        ({"CL_MQTT_URL": "mqtt://:1883"}, "no host"),
        ({"CL_MQTT_URL": "mqtt://b:x"}, "port"),
    ],
)
def test_invalid_urls_give_one_line_errors_naming_the_source(
    env: dict[str, str], fragment: str
) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_settings(env=env)
    message = str(info.value)
    assert fragment in message
    assert "(from env CL_" in message
    assert "\n" not in message


def test_mqtt_port_defaults_to_1883() -> None:
    assert parse_mqtt_url("mqtt://broker") == ("broker", 1883)
    assert normalize_mqtt_url("mqtt://broker/") == "mqtt://broker:1883"
    assert normalize_mqtt_url("mqtt://[::1]:1999") == "mqtt://[::1]:1999"
    assert resolve_settings(env={"CL_MQTT_URL": "mqtt://b"}).mqtt_url == "mqtt://b:1883"


def test_settings_repr_hides_secrets() -> None:
    s = resolve_settings(env={"CL_PASSWORD": "hunter2", "CL_TOKEN": "tok-123"})
    assert "hunter2" not in repr(s) and "tok-123" not in repr(s)
    assert "hunter2" not in repr(Overrides(password="hunter2", token="tok-123"))


# --- the store ------------------------------------------------------------------------------


def test_store_lifecycle_and_file_format(tmp_path: Path) -> None:
    store = ConfigStore()
    assert store.profiles() == {} and store.default_name() is None
    store.add("nas", Profile(auth_url="http://nas:8000/", mqtt_url="mqtt://nas"), make_default=True)
    store.add("lab", Profile(compute_url="http://lab:8002"))
    assert set(store.profiles()) == {"nas", "lab"}
    assert store.get("nas").auth_url == "http://nas:8000"
    assert store.get("nas").mqtt_url == "mqtt://nas:1883"
    assert store.default_name() == "nas"

    data = tomllib.loads(store.path.read_text())
    assert data == {
        "default_profile": "nas",
        "profiles": {
            "nas": {"auth_url": "http://nas:8000", "mqtt_url": "mqtt://nas:1883"},
            "lab": {"compute_url": "http://lab:8002"},
        },
    }
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700

    updated = store.update("lab", timeout="12.5", verify_tls="false", auth_mode="NONE")
    assert (updated.timeout, updated.verify_tls, updated.auth_mode) == (12.5, False, "none")
    assert store.update("lab", timeout=None).timeout is None
    assert store.update("lab", username="  bob ", launcher="x").username == "bob"
    assert store.update("lab", events_topic="a/b/", workers_topic="w").events_topic == "a/b"

    store.set_default("lab")
    assert store.default_name() == "lab"
    store.remove("lab")
    assert store.default_name() is None and set(store.profiles()) == {"nas"}


def test_store_errors(tmp_path: Path) -> None:
    store = ConfigStore(tmp_path / "c.toml")
    store.add("nas", Profile())
    with pytest.raises(ConfigError, match="already exists"):
        store.add("nas", Profile())
    with pytest.raises(ConfigError, match="invalid profile name"):
        store.add("../evil", Profile())
    with pytest.raises(ConfigError, match="invalid auth URL"):
        store.add("bad", Profile(auth_url="nas:8000"))
    with pytest.raises(ConfigError, match="no profile named 'ghost'"):
        store.get("ghost")
    with pytest.raises(ConfigError, match="no profile named 'ghost'"):
        store.update("ghost", timeout=1)
    with pytest.raises(ConfigError, match="no profile named 'ghost'"):
        store.remove("ghost")
    with pytest.raises(ConfigError, match="no profile named 'ghost'"):
        store.set_default("ghost")
    store.set_default("local", known={"local": Profile()})
    assert store.default_name() == "local"
    with pytest.raises(ConfigError, match="unknown profile key 'colour'"):
        store.update("nas", colour="red")
    for key, value, fragment in [
        ("timeout", "soon", "invalid timeout"),
        ("timeout", "0", "above 0"),
        ("timeout", True, "invalid timeout"),
        ("verify_tls", "perhaps", "invalid verify_tls"),
        ("auth_mode", "basic", "expected jwt or none"),
        ("compute_url", "ftp://x", "invalid compute URL"),
        ("mqtt_url", "tcp://x", "invalid MQTT URL"),
        ("events_topic", "a/+", "without wildcards"),
        ("username", 5, "expected text"),
    ]:
        with pytest.raises(ConfigError, match=fragment):
            store.update("nas", **{key: value})
    assert store.update("nas", timeout=3).timeout == 3.0
    assert store.update("nas", verify_tls=True).verify_tls is True


def test_corrupt_toml_names_the_file(tmp_path: Path) -> None:
    store = store_with(tmp_path, "[profiles.nas\nauth_url = 1")
    with pytest.raises(ConfigError) as info:
        store.load()
    assert str(store.path) in str(info.value) and "not valid TOML" in str(info.value)
    # never silently reset: the file is untouched
    assert store.path.read_text() == "[profiles.nas\nauth_url = 1"
    with pytest.raises(ConfigError):
        resolve_settings(env={}, store=store)


def test_unknown_key_in_a_profile_is_named_ignored_and_kept(tmp_path: Path) -> None:
    # a newer cl may write keys this one does not know: warn, use the rest, keep them on rewrite
    store = store_with(tmp_path, '[profiles.nas]\nauth_url = "http://nas:8000"\ncolour = "red"\n')
    with pytest.warns(ConfigWarning) as caught:
        assert store.profiles()["nas"].auth_url == "http://nas:8000"
    [message] = [str(w.message) for w in caught]
    assert str(store.path) in message
    assert "unknown key 'colour' in [profiles.nas]" in message
    assert "\n" not in message
    store.update("nas", timeout=5)
    assert 'colour = "red"' in store.path.read_text()


def test_unknown_top_level_key_is_ignored_and_wrong_types_are_named(tmp_path: Path) -> None:
    store = store_with(tmp_path, 'theme = "dark"\n')
    with pytest.warns(ConfigWarning, match="unknown key 'theme'"):
        assert store.load().profiles == {}
    store = store_with(tmp_path, '[profiles.nas]\ntimeout = "long"\n')
    with pytest.raises(ConfigError, match=r"invalid timeout .long.: must be a number") as info:
        store.load()
    assert str(store.path) in str(info.value)
    store = store_with(tmp_path, '[profiles.nas]\nauth_mode = "basic"\n')
    with pytest.raises(ConfigError, match="config file"):
        store.load()
    # a malformed file is still refused as a whole
    for text, fragment in [
        ("profiles = 5\n", "profiles must be a table"),
        ("default_profile = 3\n", "default_profile must be a string"),
    ]:
        with pytest.raises(ConfigError, match=fragment):
            store_with(tmp_path, text).load()
        with pytest.raises(ConfigError, match=fragment):
            resolve_settings(env={}, store=store_with(tmp_path, text))


def test_bad_values_and_names_in_the_file_name_the_file(tmp_path: Path) -> None:
    store = store_with(tmp_path, '[profiles.nas]\nmqtt_url = "mqtts://x"\n')
    with pytest.raises(ConfigError, match="profile 'nas'") as info:
        store.load()
    assert str(store.path) in str(info.value)
    store = store_with(tmp_path, '[profiles."bad name"]\n')
    with pytest.raises(ConfigError, match="invalid profile name"):
        store.load()
    store = store_with(tmp_path, "[profiles.nas]\ntimeout = -1\n")
    with pytest.raises(ConfigError, match="above 0"):
        store.load()
    store = store_with(tmp_path, '[profiles.nas]\nevents_topic = "#"\n')
    with pytest.raises(ConfigError, match="events topic"):
        store.load()
    store = store_with(tmp_path, '[profiles.nas]\nworkers_topic = ""\n')
    with pytest.raises(ConfigError, match="workers topic"):
        store.load()
    store = store_with(tmp_path, '[profiles.nas]\ncompute_url = "x"\n')
    with pytest.raises(ConfigError, match="compute URL"):
        store.load()


def test_binary_and_unreadable_files(tmp_path: Path) -> None:
    path = tmp_path / "config" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="not UTF-8"):
        ConfigStore(path).load()
    path.unlink()
    path.mkdir()  # a folder where the file should be
    with pytest.raises(ConfigError, match="cannot read config file"):
        ConfigStore(path).load()


def test_builtin_profile_with_bad_values_is_reported() -> None:
    with pytest.raises(ConfigError, match="built-in profile 'x'"):
        resolve_settings(
            Overrides(profile="x"), env={}, builtin_profiles={"x": Profile(auth_url="ftp://h")}
        )


# --- atomic writes --------------------------------------------------------------------------


def test_failed_write_keeps_the_old_file_and_leaves_no_temp_injected_fault(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ConfigStore()
    store.add("nas", Profile(auth_url="http://nas:8000"))
    before = store.path.read_bytes()

    def broken_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="No space left"):
        store.add("lab", Profile(compute_url="http://lab:8002"))
    monkeypatch.undo()

    assert store.path.read_bytes() == before
    # the lock file stays (removing it would race with a waiting writer); no temp file
    assert sorted(p.name for p in store.path.parent.iterdir()) == [
        "config.toml",
        "config.toml.lock",
    ]
    assert set(ConfigStore(store.path).profiles()) == {"nas"}


def test_interrupted_write_midway_leaves_no_temp_injected_fault(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ConfigStore()
    store.add("nas", Profile())
    before = store.path.read_bytes()

    def broken_fsync(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(KeyboardInterrupt):
        store.update("nas", username="x")
    monkeypatch.undo()
    assert store.path.read_bytes() == before
    assert sorted(p.name for p in store.path.parent.iterdir()) == [
        "config.toml",
        "config.toml.lock",
    ]


def test_file_made_world_readable_is_rewritten_private(tmp_path: Path) -> None:
    store = ConfigStore()
    store.add("nas", Profile())
    store.path.chmod(0o644)
    store.update("nas", username="x")
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
