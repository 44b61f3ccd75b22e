"""Faults and bad input through the real ``cl``: destinations that are not plain files, servers
that name unsafe paths or send escape sequences, secrets in URLs and tokens, typos in URLs,
destructive commands without a terminal, a closed stdout.

The real local server answers where a server is needed; where the case is a server misbehaving,
the fault server of ``faultserver.py`` plays it (those tests say ``injected`` in their names).
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import threading
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pytest
from faultserver import JOB_ID, Answer, FaultServer, fake_compute, job_record
from typer.testing import Result

from .conftest import MEDIA, OFFLINE, RunCl, RunSub, child_env, cl_command, serve

if TYPE_CHECKING:
    from cl_local_server.pytest_plugin import ServerFactory
    from cl_local_server.server import LocalServer

pytestmark = pytest.mark.timeout(90)

HOSTILE = "\x1b]0;owned\x07\x1b[2J\x9b31m\u202eevil"


def one_error_line(result: Result) -> str:
    """The single stderr line of a failed command (and no traceback anywhere)."""
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines
    return lines[0]


def hash_job() -> str:
    """A completed ``hash`` job on the server the environment points at; its id."""

    async def go() -> str:
        from cl_client.client import Client

        async with Client() as client:
            created = await client.compute.submit(
                "hash", MEDIA / "coffee.jpg", {"algorithm": "md5"}
            )
            await client.compute.wait(created.job_id, timeout=30)
            return created.job_id

    return asyncio.run(go())


# --- 1: download destinations that are not plain files --------------------------------------


def _make_null_device(path: Path) -> None:
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("creating a device node needs CAP_MKNOD (root)")


def test_a_device_node_as_destination_is_written_in_place_not_replaced(
    cl: RunCl, server: LocalServer, server_env: dict[str, str], tmp_path: Path
) -> None:
    job_id = hash_job()
    null = tmp_path / "null"
    _make_null_device(null)
    before = null.stat()
    result = cl("download", job_id, "output/hash.json", str(null))
    assert result.exit_code == 0, result.output
    after = null.stat()
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev
    assert after.st_ino == before.st_ino
    # the task commands' -o goes the same way
    echo = cl("download", job_id, "output/hash.json", str(tmp_path))
    assert echo.exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hash.json", "null"]


def test_a_fifo_as_destination_is_written_in_place(
    cl: RunCl, server: LocalServer, server_env: dict[str, str], tmp_path: Path
) -> None:
    job_id = hash_job()
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    result = cl("download", job_id, "output/hash.json", str(fifo))
    assert result.exit_code == 0, result.output
    reader.join(10)
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert json.loads(received[0])["algorithm"] == "md5"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]  # no temp file left


def test_a_task_result_into_a_fifo_is_parsed_from_the_stream(
    cl: RunCl, server: LocalServer, server_env: dict[str, str], tmp_path: Path
) -> None:
    # fetch_json used to read the saved copy back, which a FIFO cannot give
    from cl_client.client import Client
    from cl_client.models import Job
    from cl_client.tasks import TaskClient, TaskResult

    class HashJson(TaskClient[TaskResult]):
        task_type = "hash"

        async def collect(self, job: Job, dest: Path | None = None) -> TaskResult:
            data, saved = await self.fetch_json(job, "output/hash.json", dest)
            assert data["algorithm"] == "md5"
            return TaskResult(job=job, downloaded=[saved] if saved else [])

    job_id = hash_job()
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()

    async def go() -> TaskResult:
        async with Client() as client:
            hasher = HashJson(client.compute)
            return await hasher.collect(await client.compute.get_job(job_id), fifo)

    result = asyncio.run(go())
    reader.join(10)
    assert result.downloaded == [fifo]
    assert json.loads(received[0])["algorithm"] == "md5"


@pytest.mark.parametrize("name", ["-", "/dev/stdout"])
def test_dash_and_dev_stdout_mean_standard_output(
    cl: RunCl,
    server: LocalServer,
    server_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
) -> None:
    job_id = hash_job()
    monkeypatch.chdir(tmp_path)
    result = cl("download", job_id, "output/hash.json", name)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["algorithm"] == "md5"  # the file, and nothing else
    assert list(tmp_path.iterdir()) == []
    both = cl("download", job_id, "output/hash.json", name, "--json")
    assert "--json and a download to standard output" in one_error_line(both)


def test_proc_self_fd_1_is_written_in_place(
    cl_sub: RunSub, server: LocalServer, server_env: dict[str, str]
) -> None:
    job_id = hash_job()
    proc = cl_sub("download", job_id, "output/hash.json", "/proc/self/fd/1")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["algorithm"] == "md5"


def test_a_symlink_destination_is_followed_and_stays_a_link(
    cl: RunCl, server: LocalServer, server_env: dict[str, str], tmp_path: Path
) -> None:
    job_id = hash_job()
    target = tmp_path / "real.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    result = cl("download", job_id, "output/hash.json", str(link))
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and link.readlink() == target
    assert json.loads(target.read_text())["algorithm"] == "md5"
    # a link to a device: the device is written in place
    null = tmp_path / "null"
    _make_null_device(null)
    to_null = tmp_path / "to-null"
    to_null.symlink_to(null)
    assert cl("download", job_id, "output/hash.json", str(to_null)).exit_code == 0
    assert to_null.is_symlink() and stat.S_ISCHR(null.stat().st_mode)
    # a loop cannot be followed: refused, nothing written
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    refused = cl("download", job_id, "output/hash.json", str(loop))
    assert refused.exit_code == 2
    assert "symlink loop" in one_error_line(refused)
    assert loop.is_symlink()


# --- 6: server text with escape sequences ---------------------------------------------------


def test_escape_sequences_from_the_server_never_reach_the_terminal_injected(
    cl: RunCl, fault: list[FaultServer], isolated: Path
) -> None:
    job = job_record("hash", status="error", error_message=HOSTILE, task_output={"x": HOSTILE})
    env = serve(fault, fake_compute(job))
    shown = cl("job", "get", JOB_ID, env=env)
    assert shown.exit_code == 0, shown.output
    assert "\x1b" not in shown.stdout and "\x07" not in shown.stdout
    assert "\x9b" not in shown.stdout and "\u202e" not in shown.stdout
    assert "\\x1b]0;owned\\x07" in shown.stdout  # shown, as escapes
    # --json stays the exact value
    doc = json.loads(cl("job", "get", JOB_ID, "--json", env=env).stdout)
    assert doc["error_message"] == HOSTILE
    raw = cl("job", "get", JOB_ID, "--json", env=env).stdout
    assert "\x9b" not in raw and "\u202e" not in raw
    # the failure of a waited job, on stderr
    waited = cl("job", "wait", JOB_ID, env=env)
    assert waited.exit_code == 1
    assert "\x1b" not in waited.stderr and "\\x1b[2J" in waited.stderr


def test_rich_markup_in_a_value_is_shown_as_text_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io

    from cl_client.cli.output import Output

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    monkeypatch.setattr("sys.stdout", screen)
    out = Output(no_color=True)
    out.key_values([("error", "[/] [bold]x" + HOSTILE)], title="[/]")
    out.table(["[/]"], [["[red]y"]], title="[bold")
    text = screen.getvalue()
    assert "[/] [bold]x" in text and "[red]y" in text and "[bold" in text
    # Rich's own styles may use escapes; the server's never arrive
    assert "\x1b]0;owned" not in text and "\x07" not in text and "\u202e" not in text
    assert "\\x1b]0;owned" in text


# --- 8: passwords in URLs -------------------------------------------------------------------


def test_a_password_in_a_service_url_is_never_shown(cl: RunCl, isolated: Path) -> None:
    url = "http://alice:S3cretPw@127.0.0.1:9"
    env = {"CL_COMPUTE_URL": url, **OFFLINE}
    failed = cl("job", "get", JOB_ID, env=env)
    assert failed.exit_code == 5
    line = one_error_line(failed)
    assert "S3cretPw" not in failed.output and "alice:***@127.0.0.1:9" in line
    for args in (["profile", "show", "--effective"], ["profile", "show", "--effective", "--json"]):
        shown = cl(*args, env=env)
        assert shown.exit_code == 0, shown.output
        assert "S3cretPw" not in shown.output and "alice:***@" in shown.stdout
    added = cl("profile", "add", "nas", "--compute-url", "https://bob:Hunter2xx@nas:8002")
    assert added.exit_code == 0, added.output
    for args in (["profile", "list"], ["profile", "list", "--json"], ["profile", "show", "nas"]):
        shown = cl(*args)
        assert "Hunter2xx" not in shown.output and "bob:***@nas:8002" in shown.stdout
    bad = cl("profile", "add", "ftp", "--compute-url", "ftp://carol:TopSecret1@h")
    assert "TopSecret1" not in one_error_line(bad)


# --- 9: tokens with whitespace or control characters ----------------------------------------


def test_a_token_with_a_trailing_newline_works_and_a_control_character_is_refused(
    cl: RunCl, jwt_server: LocalServer, jwt_env: dict[str, str], isolated: Path
) -> None:
    from cl_client.auth import TokenStore

    password = jwt_server.info.admin_password
    assert password
    assert cl("login", "-u", "admin", "--password-stdin", input=password + "\n").exit_code == 0
    token = TokenStore(isolated / "state" / "tokens").load("default")
    assert token is not None
    assert cl("logout").exit_code == 0
    # as `$(cat token)` or a file saved with an editor gives it
    who = cl("whoami", "--json", env={"CL_TOKEN": f"  {token}\r\n"})
    assert who.exit_code == 0, who.output
    assert json.loads(who.stdout)["user"]["username"] == "admin"
    for bad in (token[:100] + "\r" + token[100:], token + "\x01", token.replace(".", " ", 1)):
        refused = cl("whoami", env={"CL_TOKEN": bad})
        assert refused.exit_code == 2
        line = one_error_line(refused)
        assert "CL_TOKEN" in line and token[:20] not in refused.output


def test_a_token_file_with_whitespace_around_the_token_still_works(
    cl: RunCl, jwt_server: LocalServer, jwt_env: dict[str, str], isolated: Path
) -> None:
    password = jwt_server.info.admin_password
    assert password
    assert cl("login", "-u", "admin", "--password-stdin", input=password + "\n").exit_code == 0
    path = isolated / "state" / "tokens" / "default.json"
    doc = json.loads(path.read_text())
    for entry in doc["tokens"].values():
        entry["access_token"] = "\n" + entry["access_token"] + " \n"
    path.write_text(json.dumps(doc))
    assert cl("whoami").exit_code == 0


# --- 10: IPv6 typos and other broken URLs ---------------------------------------------------


def test_an_ipv6_typo_is_one_line_wherever_it_comes_from(cl: RunCl, isolated: Path) -> None:
    added = cl("profile", "add", "x", "--compute-url", "http://[::1")
    assert added.exit_code == 2
    assert "invalid compute URL 'http://[::1'" in one_error_line(added)
    for env in ({"CL_COMPUTE_URL": "http://[::1"}, {"CL_MQTT_URL": "mqtt://[::1"}):
        result = cl("job", "get", JOB_ID, env={**OFFLINE, **env})
        assert result.exit_code == 2
        assert "[::1" in one_error_line(result)
    flag = cl("--auth-url", "http://[::1:8000", "profile", "show", "--effective")
    assert flag.exit_code == 2
    assert "--auth-url" in one_error_line(flag)
    assert cl("--compute-url", "http://[::1]:8002", "profile", "show", "--effective").exit_code == 0


def test_a_bad_url_in_the_config_file_breaks_only_its_profile(cl: RunCl, isolated: Path) -> None:
    config = isolated / "config" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(
        'default_profile = "good"\n'
        '[profiles.good]\ncompute_url = "http://good:8002"\n'
        '[profiles.bad]\ncompute_url = "http://[::1"\n'
    )
    listed = cl("profile", "list")
    assert listed.exit_code == 0, listed.output
    assert "good" in listed.stdout and "bad" in listed.stdout
    assert "profile 'bad'" in listed.stderr and "profile set bad compute_url" in listed.stderr
    rows = {r["name"]: r for r in json.loads(cl("profile", "list", "--json").stdout)}
    assert "invalid compute URL" in rows["bad"]["problem"]
    # another profile works, with a warning
    good = cl("profile", "show", "--effective")
    assert good.exit_code == 0 and "http://good:8002" in good.stdout
    assert good.stderr.startswith("warning: ")
    # the broken one says what is wrong, where, and how to fix it
    used = cl("-p", "bad", "job", "get", JOB_ID)
    assert used.exit_code == 2
    line = one_error_line(used)
    assert str(config) in line and "profile 'bad'" in line and "cl profile set bad" in line
    # and it can be repaired
    fixed = cl("profile", "set", "bad", "compute_url", "http://[::1]:8002")
    assert fixed.exit_code == 0, fixed.output
    assert cl("profile", "list").stderr == ""


# --- 3: values are checked before they are written; broken profiles can be repaired --------


def test_an_empty_topic_is_refused_before_anything_is_written(cl: RunCl, isolated: Path) -> None:
    assert cl("profile", "add", "q", "--compute-url", "http://q:8002").exit_code == 0
    config = isolated / "config" / "config.toml"
    before = config.read_bytes()
    for value in ("/", "//", " ", "a/#", "a\x1bb"):
        refused = cl("profile", "set", "q", "events_topic", value)
        assert refused.exit_code == 2, value
        assert "events topic" in one_error_line(refused)
        assert config.read_bytes() == before
    assert cl("profile", "list").exit_code == 0
    assert cl("profile", "set", "q", "events_topic", "a/b/").exit_code == 0
    assert cl("profile", "get", "q", "events_topic").stdout == "a/b\n"


def test_set_unset_and_remove_repair_a_profile_that_fails_the_checks(
    cl: RunCl, isolated: Path
) -> None:
    config = isolated / "config" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(
        '[profiles.q]\nevents_topic = ""\ntimeout = "soon"\ncompute_url = "http://q:8002"\n'
        '[profiles.gone]\nworkers_topic = "#"\n'
    )
    # one key at a time: the first fix is written, and what is left is named
    first = cl("profile", "set", "q", "events_topic", "jobs/events")
    assert first.exit_code == 0, first.output
    assert "still has a problem" in first.stderr and "timeout" in first.stderr
    assert cl("profile", "get", "q", "timeout").stdout == "soon\n"  # as written, for repair
    assert cl("profile", "unset", "q", "timeout").exit_code == 0
    assert cl("-p", "q", "profile", "show", "--effective").exit_code == 0
    removed = cl("profile", "remove", "gone")
    assert removed.exit_code == 0, removed.output
    assert cl("profile", "list").stderr == ""
    assert "gone" not in config.read_text() and "jobs/events" in config.read_text()


# --- issue 12 #9: keys written by a newer cl ------------------------------------------------


def test_unknown_keys_are_warned_about_ignored_and_kept(cl: RunCl, isolated: Path) -> None:
    config = isolated / "config" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(
        'colour_theme = "dark"\n[profiles.nas]\ncompute_url = "http://nas:8002"\nretries = 3\n'
    )
    shown = cl("-p", "nas", "profile", "show", "--effective")
    assert shown.exit_code == 0, shown.output
    assert "http://nas:8002" in shown.stdout
    warnings = shown.stderr.splitlines()
    assert len(warnings) == 2 and all(
        w.startswith("warning: ignoring unknown key") for w in warnings
    )
    assert cl("profile", "set", "nas", "timeout", "9").exit_code == 0
    text = config.read_text()
    assert "retries = 3" in text and 'colour_theme = "dark"' in text and "timeout = 9" in text
    # a malformed file is still refused, whatever the command
    config.write_text('profiles = "nas"\n')
    for args in (["profile", "list"], ["profile", "set", "nas", "timeout", "1"]):
        refused = cl(*args)
        assert refused.exit_code == 2
        assert "profiles must be a table" in one_error_line(refused)


# --- issue 12 #7 and #12: profile get; the broker host follows the compute URL --------------


def test_profile_get_prints_one_stored_value(cl: RunCl, isolated: Path) -> None:
    assert (
        cl(
            "profile", "add", "nas", "--compute-url", "http://nas:8002/", "--timeout", "12"
        ).exit_code
        == 0
    )
    assert cl("profile", "get", "nas", "compute_url").stdout == "http://nas:8002\n"
    assert cl("profile", "get", "nas", "compute-url").stdout == "http://nas:8002\n"
    assert cl("profile", "get", "nas", "timeout").stdout == "12\n"
    assert json.loads(cl("profile", "get", "nas", "timeout", "--json").stdout) == {
        "name": "nas",
        "key": "timeout",
        "value": 12.0,
    }
    assert cl("profile", "get", "local", "launcher").stdout == "local-server\n"  # built-in
    unset = cl("profile", "get", "nas", "username")
    assert unset.exit_code == 4 and unset.stdout == ""
    assert "has no username set" in one_error_line(unset)
    assert cl("profile", "get", "nas", "colour").exit_code == 2
    assert cl("profile", "get", "ghost", "timeout").exit_code == 2


def test_the_broker_host_is_derived_from_the_compute_url(cl: RunCl, isolated: Path) -> None:
    assert (
        cl("profile", "add", "open", "--compute-url", "http://host:8002", "--no-auth").exit_code
        == 0
    )
    shown = cl("-p", "open", "profile", "show", "--effective")
    line = next(ln for ln in shown.stdout.splitlines() if ln.startswith("mqtt_url:"))
    assert "mqtt://host:1883" in line and "derived from the compute URL's host" in line
    # a broker that is given wins
    given = cl("-p", "open", "--mqtt-url", "mqtt://broker:1884", "profile", "show", "--effective")
    assert "mqtt://broker:1884  (argument --mqtt-url)" in given.stdout
    ipv6 = cl("--compute-url", "http://[::1]:8002", "profile", "show", "--effective", "--json")
    assert json.loads(ipv6.stdout)["settings"]["mqtt_url"]["value"] == "mqtt://[::1]:1883"


# --- 4: destructive commands ask, or need --yes ---------------------------------------------


def test_cleanup_needs_yes_off_a_terminal_and_dry_run_deletes_nothing(
    cl: RunCl, server: LocalServer, server_env: dict[str, str]
) -> None:
    hash_job()

    def job_count() -> int:
        return int(json.loads(cl("admin", "storage", "--json").stdout)["job_count"])

    count = job_count()
    assert count >= 1
    refused = cl("admin", "cleanup", "--days", "0")
    assert refused.exit_code == 2
    assert "no terminal to ask on — pass --yes" in one_error_line(refused)
    dry = cl("admin", "cleanup", "--days", "0", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert f"holds {count} job(s)" in dry.stdout
    assert (
        json.loads(cl("admin", "cleanup", "--days", "0", "--dry-run", "--json").stdout)[
            "storage_before"
        ]["job_count"]
        == count
    )
    assert job_count() == count
    done = json.loads(cl("admin", "cleanup", "--days", "0", "--yes", "--json").stdout)
    assert done["deleted_count"] == count and done["dry_run"] is False
    assert job_count() == 0


def test_cleanup_asks_on_a_terminal_and_no_keeps_the_jobs(
    server: LocalServer, server_env: dict[str, str]
) -> None:
    import pty
    import select

    hash_job()
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [*cl_command(), "admin", "cleanup", "--days", "0"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=child_env({"NO_COLOR": "1"}),
        start_new_session=True,
    )
    os.close(slave)
    transcript = b""
    answered = False
    try:
        while proc.poll() is None or select.select([master], [], [], 0)[0]:
            ready, _, _ = select.select([master], [], [], 30)
            assert ready, f"no prompt: {transcript!r}"
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the terminal closed with the process
                break
            transcript += chunk
            if not answered and b"[y/N]" in transcript:
                os.write(master, b"n\n")
                answered = True
        assert proc.wait(30) == 130  # declined: cancelled, as Ctrl-C
    finally:
        os.close(master)
    text = transcript.decode()
    assert "Delete every job older than 0 day(s)" in text and "holds" in text
    assert "error: cancelled: no job was deleted" in text

    async def count() -> int:
        from cl_client.client import Client

        async with Client() as client:
            return (await client.compute.storage_size()).job_count

    assert asyncio.run(count()) >= 1


# --- 5: tokens per profile and auth server --------------------------------------------------


def test_a_login_to_another_auth_server_keeps_the_profiles_token(
    cl: RunCl,
    jwt_server: LocalServer,
    jwt_env: dict[str, str],
    cl_module_server_factory: ServerFactory,
) -> None:
    other = cl_module_server_factory.start(auth_mode="jwt")
    for server, args in ((jwt_server, ()), (other, ("--auth-url", other.info.auth_url))):
        password = server.info.admin_password
        assert password
        login = cl(*args, "login", "-u", "admin", "--password-stdin", input=password + "\n")
        assert login.exit_code == 0, login.output
    who = json.loads(cl("whoami", "--json").stdout)
    assert who["user"]["username"] == "admin" and who["token"]["source"] == "stored"
    elsewhere = cl("--auth-url", other.info.auth_url, "whoami", "--json")
    assert json.loads(elsewhere.stdout)["auth_url"] == other.info.auth_url
    shown = cl("profile", "show", "--effective").stdout
    assert f"also kept for {other.info.auth_url}" in shown
    # logging out of the other server leaves the profile's own login alone
    assert cl("--auth-url", other.info.auth_url, "logout").exit_code == 0
    assert cl("whoami").exit_code == 0


# --- 14: a closed stdout --------------------------------------------------------------------


def _with_closed_stdout(*args: str) -> subprocess.CompletedProcess[bytes]:
    read_end, write_end = os.pipe()
    os.close(read_end)  # whoever reads (`head -1`) is already gone
    try:
        return subprocess.run(
            [*cl_command(), *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            env=child_env(),
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)


def test_a_closed_stdout_ends_quietly_with_141(isolated: Path) -> None:
    for args in (["profile", "list"], ["profile", "list", "--json"], ["profile", "show", "local"]):
        proc = _with_closed_stdout(*args)
        assert proc.returncode == 141, proc.stderr
        assert proc.stderr == b""


def test_a_download_to_a_closed_stdout_ends_quietly_with_141(
    server: LocalServer, server_env: dict[str, str]
) -> None:
    job_id = hash_job()
    proc = _with_closed_stdout("download", job_id, "output/hash.json", "-")
    assert proc.returncode == 141, proc.stderr
    assert proc.stderr == b""


# --- 17: DNS failures -----------------------------------------------------------------------


def test_a_host_that_does_not_resolve_is_named(cl: RunCl, isolated: Path) -> None:
    env = {"CL_COMPUTE_URL": "http://no-such-host.invalid:8002", **OFFLINE}
    result = cl("job", "get", JOB_ID, env=env)
    assert result.exit_code == 5
    line = one_error_line(result)
    assert "'no-such-host.invalid'" in line and "resolve" in line
    assert "unknown error" not in line.lower()


# --- 19: unsafe result paths are the server's fault -----------------------------------------


@pytest.mark.parametrize("output_path", ["../../evil.json", "/etc/evil.json", "output//x.npy"])
def test_an_unsafe_result_path_from_the_server_is_exit_5_injected(
    cl: RunCl, echo: ModuleType, fault: list[FaultServer], tmp_path: Path, output_path: str
) -> None:
    job = job_record("dino_embedding", params={"output_path": output_path})
    env = serve(fault, fake_compute(job))
    for extra in ([], ["-o", str(tmp_path / "out.npy")]):
        result = cl("vector-test", "embed", str(MEDIA / "coffee.jpg"), *extra, env=env)
        assert result.exit_code == 5, result.output
        # (".npy" is appended to a path without it, as the servers' np.save does)
        assert f"the server named an unsafe result path {output_path!r}"[:-1] in one_error_line(
            result
        )
    # Nothing written but the job journal (in the state folder): no result, no folder.
    assert [p.name for p in tmp_path.iterdir()] == ["state"]
    assert not any("evil" in p for p in fault[0].paths("GET"))  # never even asked for


# --- 20: a symlink loop as input ------------------------------------------------------------


def test_a_symlink_loop_as_input_says_it_is_a_loop(
    cl_offline: RunCl, echo: ModuleType, tmp_path: Path
) -> None:
    loop = tmp_path / "loop.jpg"
    loop.symlink_to(loop)
    result = cl_offline("echo-test", "run", str(loop))
    dangling = tmp_path / "dangling.jpg"
    dangling.symlink_to(tmp_path / "missing.jpg")
    missing = cl_offline("echo-test", "run", str(dangling))
    for outcome in (result, missing):
        assert outcome.exit_code == 2, outcome.output
    assert "is a symlink loop" in one_error_line(result)
    assert "missing.jpg, which does not exist" in one_error_line(missing)


# --- 21: hints that can help ----------------------------------------------------------------


def test_a_no_auth_profile_against_a_server_that_wants_tokens_says_what_to_change(
    cl: RunCl, jwt_server: LocalServer, jwt_env: dict[str, str]
) -> None:
    flag = cl("--no-auth", "job", "get", JOB_ID)
    assert flag.exit_code == 3
    line = one_error_line(flag)
    assert "auth mode none" in line and "drop --no-auth" in line
    env = cl("job", "get", JOB_ID, env={"CL_NO_AUTH": "1"})
    assert "unset CL_NO_AUTH" in one_error_line(env)
    assert cl("profile", "add", "open", "--no-auth").exit_code == 0
    profile = cl("-p", "open", "job", "get", JOB_ID)
    assert "`cl profile set open auth_mode jwt`" in one_error_line(profile)


def test_a_rejected_cl_token_says_to_fix_or_unset_it(
    cl: RunCl, jwt_server: LocalServer, jwt_env: dict[str, str]
) -> None:
    result = cl("job", "get", JOB_ID, env={"CL_TOKEN": "not.a.token"})
    assert result.exit_code == 3
    line = one_error_line(result)
    assert "CL_TOKEN" in line and "unset CL_TOKEN" in line
    assert "not.a.token" not in line


def test_other_errors_keep_one_line_and_exit_codes_injected(
    cl: RunCl, fault: list[FaultServer], isolated: Path
) -> None:
    cases = [
        (Answer(503, b"busy"), 5, "HTTP 503"),
        (Answer(fault="reset"), 5, "compute service at http://127.0.0.1"),
        (Answer(200, b'{"job_id": "x"', {"Content-Type": "application/json"}), 5, "unexpected"),
    ]
    for answer, code, fragment in cases:
        # Retried for half a second, then reported (the default keeps trying for 15 s).
        env = {**serve(fault, lambda _req, a=answer: a), "CL_RETRY_SECONDS": "0.5"}
        result = cl("job", "get", JOB_ID, env=env)
        assert result.exit_code == code, (answer, result.output)
        assert fragment in one_error_line(result)


# --- 2: writers at the same time keep every change ------------------------------------------


def _all_at_once(commands: list[list[str]]) -> list[subprocess.CompletedProcess[str]]:
    procs = [
        subprocess.Popen(
            command, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for command in commands
    ]
    done: list[subprocess.CompletedProcess[str]] = []
    for proc, command in zip(procs, commands, strict=True):
        out, err = proc.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(command, proc.returncode, out, err))
    return done


@pytest.mark.timeout(240)
def test_twenty_parallel_profile_writers_keep_all_twenty_changes(isolated: Path) -> None:
    from cl_client.config import ConfigStore

    added = _all_at_once(
        [
            [*cl_command(), "profile", "add", f"p{i}", "--compute-url", f"http://host{i}:8002"]
            for i in range(20)
        ]
    )
    assert [p.returncode for p in added] == [0] * 20, [p.stderr for p in added]
    store = ConfigStore()
    assert sorted(store.profiles()) == sorted(f"p{i}" for i in range(20))

    changed = _all_at_once(
        [[*cl_command(), "profile", "set", f"p{i}", "timeout", str(i + 1)] for i in range(20)]
    )
    assert [p.returncode for p in changed] == [0] * 20, [p.stderr for p in changed]
    profiles = store.profiles()
    assert {name: p.timeout for name, p in profiles.items()} == {
        f"p{i}": float(i + 1) for i in range(20)
    }
    assert {p.compute_url for p in profiles.values()} == {f"http://host{i}:8002" for i in range(20)}


@pytest.mark.timeout(240)
def test_parallel_token_writers_keep_every_token(isolated: Path) -> None:
    import sys

    from cl_client.auth import TokenStore

    script = (
        "import sys; from cl_client.auth import TokenStore; "
        "TokenStore().save('nas', f'tok-{sys.argv[1]}', auth_url=f'http://a{sys.argv[1]}:8000')"
    )
    saved = _all_at_once([[sys.executable, "-c", script, str(i)] for i in range(16)])
    assert [p.returncode for p in saved] == [0] * 16, [p.stderr for p in saved]
    records = TokenStore().records("nas")
    assert {url: r.access_token for url, r in records.items()} == {
        f"http://a{i}:8000": f"tok-{i}" for i in range(16)
    }
