"""``cl task run`` (any task type, on the shared frame) and ``cl tasks``, against a real local
server: the built-in ``hash`` task needs no plugin here (the core's tox env installs none)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pytest

from . import echo_plugin
from .conftest import RunCl

if TYPE_CHECKING:
    from cl_local_server.pytest_plugin import ClAgainst, ServerFactory

pytestmark = pytest.mark.timeout(120)


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()  # noqa: S324 - what the server computes


def test_hash_with_md5_field_equals_hashlib(
    cl: RunCl, server_env: dict[str, str], tmp_path: Path
) -> None:
    photo = tmp_path / "photo.bin"
    photo.write_bytes(b"some bytes\n" * 1000)
    result = cl("task", "run", "hash", str(photo), "-F", "algorithm=md5", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["task_type"] == "hash"
    assert doc["result"]["hash_value"] == md5(photo)
    assert doc["result"]["algorithm"] == "md5"

    human = cl("task", "run", "hash", str(photo), "-F", "algorithm=md5")
    assert human.exit_code == 0, human.output
    assert md5(photo) in human.stdout


def test_output_saves_the_main_output_and_at_file_reads_a_value(
    cl: RunCl, server_env: dict[str, str], tmp_path: Path
) -> None:
    photo = tmp_path / "photo.bin"
    photo.write_bytes(b"abc")
    value = tmp_path / "algorithm.txt"
    value.write_text("md5\n")
    saved = tmp_path / "hash.json"
    result = cl("task", "run", "hash", str(photo), "-F", f"algorithm=@{value}", "-o", str(saved))
    assert result.exit_code == 0, result.output
    assert json.loads(saved.read_text())["hash_value"] == md5(photo)


def test_the_servers_422_is_one_line_naming_the_field(
    cl: RunCl, server_env: dict[str, str], tmp_path: Path
) -> None:
    photo = tmp_path / "photo.bin"
    photo.write_bytes(b"abc")
    result = cl("task", "run", "hash", str(photo), "-F", "algorithm=sha1")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:") and "algorithm" in lines[0]
    assert "Traceback" not in result.output


def test_a_task_type_the_server_does_not_offer_exits_5(
    cl: RunCl, server_env: dict[str, str], tmp_path: Path
) -> None:
    photo = tmp_path / "photo.bin"
    photo.write_bytes(b"abc")
    result = cl("task", "run", "no_such_task", str(photo))
    assert result.exit_code == 5
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "no_such_task" in lines[0]


@pytest.mark.parametrize("bad", ["algorithm", "=md5"])
def test_a_field_without_key_and_value_is_refused_before_sending(
    cl_offline: RunCl, tmp_path: Path, bad: str
) -> None:
    photo = tmp_path / "photo.bin"
    photo.write_bytes(b"abc")
    result = cl_offline("task", "run", "hash", str(photo), "-F", bad)
    assert result.exit_code == 2
    assert "KEY=VALUE" in result.stderr


def test_a_missing_at_file_is_refused_before_sending(cl_offline: RunCl, tmp_path: Path) -> None:
    photo = tmp_path / "photo.bin"
    photo.write_bytes(b"abc")
    result = cl_offline("task", "run", "hash", str(photo), "-F", "algorithm=@nothere.txt")
    assert result.exit_code == 2
    assert "nothere.txt" in result.stderr


def test_a_folder_resumes_and_skips_what_is_done(
    cl_server_factory: ServerFactory, cl_against: ClAgainst, tmp_path: Path
) -> None:
    server = cl_server_factory.start()
    cl = cl_against(server)
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    files = [folder / f"f{i}.txt" for i in range(3)] + [folder / "sub" / "g.txt"]
    for i, path in enumerate(files):
        path.write_text(f"file {i}")
    out = tmp_path / "out"
    first = cl(
        "task", "run", "hash", str(folder), "-F", "algorithm=md5", "-o", f"{out}/", "--jsonl"
    )
    assert first.exit_code == 0, first.output
    assert len(server.job_records()) == 4
    for path in files:
        rel = path.relative_to(folder)
        saved = out / rel.parent / f"{rel.name}.hash.json"  # the name the server gives it
        assert json.loads(saved.read_text())["hash_value"] == md5(path), saved

    again = cl(
        "task", "run", "hash", str(folder), "-F", "algorithm=md5", "-o", f"{out}/", "--jsonl"
    )
    assert again.exit_code == 0, again.output
    assert "0 completed, 0 failed, 4 skipped" in again.stderr
    assert len(server.job_records()) == 4  # nothing submitted again

    other = cl("task", "run", "hash", str(folder), "-F", "algorithm=sha512", "--jsonl")
    assert other.exit_code == 0, other.output
    assert len(server.job_records()) == 8  # other fields: another batch


def test_cl_tasks_lists_offered_tasks_and_the_plugins_covering_them(
    cl_server_factory: ServerFactory, cl_against: ClAgainst, echo: ModuleType
) -> None:
    server = cl_server_factory.start(executors={"cli_echo": echo_plugin.echo_executor})
    cl = cl_against(server)
    # The hash plugin is disabled in case it is installed: its task is then one no plugin covers.
    listed = cl("tasks", "--json", env={"CL_DISABLE_PLUGINS": "hash"})
    assert listed.exit_code == 0, listed.output
    rows = {row["task_type"]: row for row in json.loads(listed.stdout)}
    assert rows["cli_echo"]["plugin"] == "echo-test"
    assert rows["cli_echo"]["commands"] == ["echo-test", "vector-test"]
    assert rows["cli_echo"]["offered"] is True
    assert rows["cli_echo"]["idle"] >= 1
    assert rows["hash"]["plugin"] is None
    assert rows["hash"]["offered"] is True

    human = cl("tasks", env={"CL_DISABLE_PLUGINS": "hash"})
    assert human.exit_code == 0, human.output
    assert any(
        line.split()[:1] == ["hash"] and "cl task run hash" in line
        for line in human.stdout.splitlines()
    ), human.stdout

    disabled = cl("tasks", "--json", env={"CL_DISABLE_PLUGINS": "hash,echo-test"})
    assert disabled.exit_code == 0, disabled.output
    rows = {row["task_type"]: row for row in json.loads(disabled.stdout)}
    assert rows["cli_echo"]["plugin"] is None
    assert rows["cli_echo"]["offered"] is True
