"""Properties of what ``cl`` parses from people and files, checked with generated input.

URL parsing never fails with anything but ConfigError, and what it accepts httpx accepts too;
every profile value either is refused (and nothing is written) or reads back as written; a config
file round-trips; tokens are trimmed, refused without being echoed, and kept per auth server;
text from a server is made harmless for a terminal while JSON stays exact.
"""

from __future__ import annotations

import json
import re
import string
from pathlib import Path

import httpx
import pytest
from cl_client.auth import TokenStore
from cl_client.cli.output import sanitize, to_json_text
from cl_client.config import (
    PROFILE_KEYS,
    ConfigStore,
    Profile,
    clean_token,
    mask_url,
    normalize_mqtt_url,
    normalize_service_url,
    parse_mqtt_url,
    parse_profile_value,
)
from cl_client.errors import ConfigError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.timeout(120)

# No example database in the work tree, and no deadlines: the machine is shared and noisy.
FUZZ = settings(
    database=None,
    deadline=None,
    max_examples=300,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

# Pieces URLs are made of, and characters that tend to break parsers.
URL_ALPHABET = string.ascii_letters + string.digits + ":/[]@%?#.-_~+ \t\n\r\x00\x1b\u00e9\u0660"
hosts = st.one_of(
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\.[a-z0-9]{1,8}){0,3}", fullmatch=True),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda a: f"[{a}]"),
    st.text(URL_ALPHABET, max_size=12),
)
ports = st.one_of(st.none(), st.integers(0, 70000).map(str), st.text(URL_ALPHABET, max_size=4))
url_like = st.builds(
    lambda scheme, userinfo, host, port, path: (
        f"{scheme}://{userinfo}{host}{'' if port is None else ':' + port}{path}"
    ),
    st.sampled_from(["http", "https", "HTTP", "mqtt", "ftp", ""]),
    st.one_of(st.just(""), st.text(URL_ALPHABET, max_size=10).map(lambda u: u + "@")),
    hosts,
    ports,
    st.one_of(st.just(""), st.text(URL_ALPHABET, max_size=10).map(lambda p: "/" + p)),
)
any_url = st.one_of(url_like, st.text(URL_ALPHABET, max_size=30), st.text(max_size=30))


@FUZZ
@given(any_url)
def test_service_urls_are_normalised_or_refused_and_httpx_takes_what_is_accepted(
    text: str,
) -> None:
    try:
        url = normalize_service_url(text, "compute URL")
    except ConfigError as exc:
        assert "\n" not in exc.message and exc.message.startswith("invalid compute URL")
        return
    assert normalize_service_url(url, "compute URL") == url  # canonical: a fixed point
    parsed = httpx.URL(url)
    assert parsed.scheme in ("http", "https")
    assert parsed.host and parsed.host.lower() == parsed.host
    assert not url.endswith("/")


@FUZZ
@given(any_url)
def test_mqtt_urls_are_normalised_or_refused(text: str) -> None:
    try:
        url = normalize_mqtt_url(text)
    except ConfigError as exc:
        assert "\n" not in exc.message and "MQTT URL" in exc.message
        return
    host, port = parse_mqtt_url(url)
    assert normalize_mqtt_url(url) == url
    assert 0 <= port <= 65535 and host
    assert url == f"mqtt://{f'[{host}]' if ':' in host else host}:{port}"


secrets_text = st.text(string.ascii_uppercase + string.digits + "!$&'()*+,;=", min_size=8)


@FUZZ
@given(
    st.sampled_from(["http", "https", "mqtt"]),
    st.from_regex(r"[a-z]{1,8}", fullmatch=True),
    secrets_text,
    st.from_regex(r"[a-z]{1,8}(\.[a-z]{1,5})?", fullmatch=True),
)
def test_a_password_in_a_url_never_survives_masking_or_an_error(
    scheme: str, user: str, password: str, host: str
) -> None:
    url = f"{scheme}://{user}:{password}@{host}:8002/x"
    assert password not in mask_url(url)
    assert f"{user}:***@{host}" in mask_url(url)
    assert password not in mask_url(f"see {url} and {url}")
    assert password not in sanitize(f"cannot reach {url}")
    try:
        normalize_service_url(url + "?q", "compute URL")
    except ConfigError as exc:
        assert password not in exc.message


# --- profile values and the config file -----------------------------------------------------

value_text = st.one_of(
    st.text(max_size=20),
    url_like,
    st.sampled_from(["1", "0", "yes", "off", "jwt", "none", "NONE", "-1", "nan", "inf", "1e400"]),
    st.floats(allow_nan=True).map(str),
)


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "config" / "config.toml"


@FUZZ
@given(key=st.sampled_from(PROFILE_KEYS), value=value_text)
def test_a_profile_value_is_refused_untouched_or_reads_back_as_written(
    store_path: Path, key: str, value: str
) -> None:
    store = ConfigStore(store_path)
    if not store_path.exists():
        store.add("p", Profile(compute_url="http://h:8002"))
    before = store_path.read_bytes()
    try:
        updated = store.update("p", **{key: value})
    except ConfigError as exc:
        assert "\n" not in exc.message
        assert store_path.read_bytes() == before  # nothing written
        return
    again = ConfigStore(store_path).get("p")  # the file passes every check when read
    assert getattr(again, key) == getattr(updated, key)
    stored = getattr(again, key)
    if stored is not None:
        assert getattr(store.update("p", **{key: stored}), key) == stored  # a fixed point


good_hosts = st.one_of(
    # Names; four all-digit labels read as an IPv4 address, which the next strategy supplies.
    st.from_regex(
        r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\.[a-z0-9]{1,8}){0,3}", fullmatch=True
    ).filter(lambda host: not re.fullmatch(r"[0-9]+(\.[0-9]+){3}", host)),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda a: f"[{a}]"),
)
valid_profiles = st.builds(
    Profile,
    auth_url=st.one_of(st.none(), good_hosts.map(lambda h: f"http://{h}:8000")),
    compute_url=st.one_of(st.none(), good_hosts.map(lambda h: f"HTTPS://{h}/cl/")),
    mqtt_url=st.one_of(st.none(), good_hosts.map(lambda h: f"mqtt://{h}")),
    username=st.one_of(st.none(), st.text(string.ascii_letters + " _-", max_size=8)),
    auth_mode=st.sampled_from([None, "jwt", "none"]),
    timeout=st.one_of(st.none(), st.floats(0.001, 1e6)),
    verify_tls=st.sampled_from([None, True, False]),
    events_topic=st.one_of(
        st.none(), st.from_regex(r"[a-z]{1,5}(/[a-z]{1,5}){0,3}/?", fullmatch=True)
    ),
    launcher=st.one_of(st.none(), st.text(string.ascii_lowercase + "-", min_size=1, max_size=8)),
)


@FUZZ
@given(
    name=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,20}", fullmatch=True), profile=valid_profiles
)
def test_a_profile_round_trips_through_the_file(
    store_path: Path, name: str, profile: Profile
) -> None:
    store_path.unlink(missing_ok=True)
    store = ConfigStore(store_path)
    store.add(name, profile, make_default=True)
    loaded = ConfigStore(store_path).get(name)
    # what was written is the checked, normalised form of each value
    expected = {key: parse_profile_value(key, getattr(profile, key)) for key in PROFILE_KEYS}
    assert {key: getattr(loaded, key) for key in PROFILE_KEYS} == expected
    assert ConfigStore(store_path).default_name() == name
    # and writing back what was read changes nothing
    store.save(store.load())
    assert ConfigStore(store_path).get(name) == loaded


# --- tokens ---------------------------------------------------------------------------------

token_text = st.one_of(
    st.text(max_size=40),
    st.from_regex(r"[A-Za-z0-9_-]{8,20}\.[A-Za-z0-9_-]{8,20}\.[A-Za-z0-9_-]{8,20}", fullmatch=True),
)


@FUZZ
@given(
    token=token_text, before=st.text(" \t\r\n", max_size=3), after=st.text(" \t\r\n", max_size=3)
)
def test_tokens_are_trimmed_or_refused_without_being_echoed(
    token: str, before: str, after: str
) -> None:
    try:
        cleaned = clean_token(before + token + after, "CL_TOKEN")
    except ConfigError as exc:
        assert "\n" not in exc.message and "CL_TOKEN" in exc.message
        core = token.strip()
        if len(core) >= 6:
            assert core not in exc.message
        return
    if cleaned is None:
        assert not token.strip()
        return
    assert cleaned == token.strip()
    assert all("!" <= c <= "~" for c in cleaned)
    httpx.Headers({"Authorization": f"Bearer {cleaned}"})  # always a legal header


@FUZZ
@given(
    st.dictionaries(
        st.from_regex(r"http://[a-z]{1,6}:[0-9]{2,4}", fullmatch=True),
        st.from_regex(r"[A-Za-z0-9._-]{1,30}", fullmatch=True),
        min_size=1,
        max_size=5,
    )
)
def test_tokens_are_kept_per_auth_server(tmp_path: Path, tokens: dict[str, str]) -> None:
    store = TokenStore(tmp_path / "tokens")
    store.delete("p")
    for url, token in tokens.items():
        store.save("p", f" {token}\n", auth_url=url, username="u")
    assert {url: r.access_token for url, r in store.records("p").items()} == tokens
    first = next(iter(tokens))
    assert store.delete("p", first) is True
    assert store.load("p", first) is None
    assert {url: store.load("p", url) for url in tokens if url != first} == {
        url: t for url, t in tokens.items() if url != first
    }


# --- text from the server -------------------------------------------------------------------


@FUZZ
@given(st.text())
def test_server_text_is_harmless_on_a_terminal_and_exact_in_json(text: str) -> None:
    import unicodedata

    shown = sanitize(text)
    for char in shown:
        if char in "\n\t":
            continue
        assert unicodedata.category(char) != "Cc", repr(shown)
        assert char not in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    line = sanitize(text, one_line=True)
    assert "\n" not in line and "\r" not in line
    document = to_json_text({"message": text, "list": [text]})
    assert json.loads(document) == {"message": text, "list": [text]}
    assert not any(unicodedata.category(c) == "Cc" and c not in "\n " for c in document)
