"""``run_task`` (what every task command is built on) through the real ``cl`` and a real server.

The test plugin of echo_plugin.py adds ``cl echo-test run``: it submits the task ``cli_echo``,
which the server runs with a test executor (upper-cases the input into ``output/echo.txt``, writes
``output/extra.txt`` too, reports progress, fails on input starting with "fail").
"""

from __future__ import annotations

import hashlib
import json
import os
import pty
import select
import subprocess
import time
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pytest

from .conftest import JOB_FIELDS, MEDIA, RunCl, child_env, cl_command

if TYPE_CHECKING:
    pass

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(autouse=True)
def _server(server_env: dict[str, str]) -> None:
    """Every test here runs against the module's no-auth server."""


def _inputs(tmp_path: Path, *texts: str, names: tuple[str, ...] = ()) -> list[str]:
    folder = tmp_path / "in"
    folder.mkdir(exist_ok=True)
    paths: list[str] = []
    for i, text in enumerate(texts):
        name = names[i] if i < len(names) else f"file{i}.txt"
        sub = folder / str(i)
        sub.mkdir(exist_ok=True)
        path = sub / name
        path.write_text(text)
        paths.append(str(path))
    return paths


def test_one_file_human_and_json(cl: RunCl, echo: ModuleType, tmp_path: Path) -> None:
    [path] = _inputs(tmp_path, "hello")
    human = cl("echo-test", "run", path)
    assert human.exit_code == 0, human.output
    heading, body = human.stdout.splitlines()
    assert heading.startswith(f"{path} (job ") and body == "echo: HELLO"
    assert human.stderr == ""  # not a terminal, one input: no spinner, no chatter

    machine = cl("echo-test", "run", path, "--json")
    assert machine.exit_code == 0, machine.output
    doc: dict[str, dict[str, object]] = json.loads(machine.stdout)
    assert set(doc) >= JOB_FIELDS
    assert doc["task_type"] == "cli_echo"
    assert doc["status"] == "completed"
    assert doc["progress"] == 100
    assert doc["task_output"] == {"length": 5}
    assert doc["params"]["input_path"] == "input/file0.txt"
    assert "downloaded" not in doc
    assert json.loads(cl("--json", "echo-test", "run", path).stdout)["status"] == "completed"


def test_several_files_give_a_json_array_in_input_order(
    cl: RunCl, echo: ModuleType, tmp_path: Path
) -> None:
    paths = _inputs(tmp_path, "one", "two", "three")
    result = cl("echo-test", "run", *paths, "--json")
    assert result.exit_code == 0, result.output
    # Streamed as each finishes: the order is the order of completion.
    docs = sorted(json.loads(result.stdout), key=lambda d: d["input"])
    assert [d["input"] for d in docs] == paths
    assert [d["task_output"]["length"] for d in docs] == [3, 3, 5]
    assert [d["params"]["input_path"] for d in docs] == [
        "input/file0.txt",
        "input/file1.txt",
        "input/file2.txt",
    ]
    human = cl("echo-test", "run", *paths)
    assert human.exit_code == 0
    lines = human.stdout.splitlines()
    blocks = {lines[i].split(" (job ")[0]: lines[i + 1] for i in range(0, len(lines), 2)}
    assert blocks == {paths[0]: "echo: ONE", paths[1]: "echo: TWO", paths[2]: "echo: THREE"}
    assert "3 completed, 0 failed" in human.stderr


def test_output_file_folder_and_multi_file_layouts(
    cl: RunCl, echo: ModuleType, tmp_path: Path
) -> None:
    [one] = _inputs(tmp_path, "single")
    target = tmp_path / "out" / "result.txt"
    result = cl("echo-test", "run", one, "-o", str(target), "--json")
    assert result.exit_code == 0, result.output
    assert target.read_text() == "SINGLE"
    assert json.loads(result.stdout)["downloaded"] == [str(target)]

    paths = _inputs(tmp_path, "a", "b", "c", names=("x.txt", "x.png", "y.txt"))
    folder = tmp_path / "many"
    result = cl("echo-test", "run", *paths, "--output", str(folder), "--json")
    assert result.exit_code == 0, result.output
    # Each input's own name, then the server's result name: x.txt and x.png never collide.
    assert (folder / "x.txt.output").read_text() == "A"
    assert (folder / "x.png.output").read_text() == "B"
    assert (folder / "y.txt.output").read_text() == "C"
    docs = {d["input"]: d["downloaded"] for d in json.loads(result.stdout)}
    assert docs == {
        paths[0]: [str(folder / "x.txt.output")],
        paths[1]: [str(folder / "x.png.output")],
        paths[2]: [str(folder / "y.txt.output")],
    }

    multi = tmp_path / "multi"
    result = cl("echo-test", "run", one, "--many", "-o", str(multi))
    assert result.exit_code == 0, result.output
    # A multi-file result: a folder per input, even for one input.
    assert sorted(p.name for p in (multi / "file0.txt").iterdir()) == ["echo.txt", "extra.txt"]

    result = cl("echo-test", "run", *paths, "-o", str(target))
    assert result.exit_code == 2
    assert "must be a folder" in result.stderr


@pytest.mark.parametrize(("jobs", "expected"), [(None, 4), ("1", 1), ("2", 2), ("6", 6)])
def test_jobs_in_flight_are_bounded_by_jobs(
    cl: RunCl, echo: ModuleType, tmp_path: Path, jobs: str | None, expected: int
) -> None:
    paths = _inputs(tmp_path, *[f"text {i}" for i in range(6)])
    extra = ["--jobs", jobs] if jobs else []
    result = cl("echo-test", "run", *paths, *extra, "--json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 6
    assert expected == echo.MAX_IN_FLIGHT


def test_one_failing_input_does_not_stop_the_others(
    cl: RunCl, echo: ModuleType, tmp_path: Path
) -> None:
    paths = _inputs(tmp_path, "good one", "fail please", "good two")
    result = cl("echo-test", "run", *paths, "--json")
    assert result.exit_code == 1, result.output
    by_input = {d["input"]: d for d in json.loads(result.stdout)}
    docs = [by_input[p] for p in paths]
    assert [d["status"] for d in docs] == ["completed", "error", "completed"]
    assert docs[1]["error_message"] == "asked to fail"
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert errors[0].startswith(f"error: {paths[1]}: job {docs[1]['job_id']} (cli_echo) failed")
    assert "asked to fail" in errors[0]

    human = cl("echo-test", "run", *paths)
    assert human.exit_code == 1
    assert "echo: GOOD ONE" in human.stdout
    assert "echo: GOOD TWO" in human.stdout
    assert "Traceback" not in human.output


def test_a_bad_file_stops_everything_before_any_upload(
    cl: RunCl, echo: ModuleType, tmp_path: Path
) -> None:
    paths = _inputs(tmp_path, "fine")
    result = cl("echo-test", "run", *paths, str(tmp_path / "missing.jpg"), str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"error: file not found: {tmp_path / 'missing.jpg'}"
    ]
    assert echo.MAX_IN_FLIGHT == 0


def test_no_worker_fails_fast_unless_told_not_to_check(
    cl: RunCl, echo: ModuleType, tmp_path: Path
) -> None:
    [path] = _inputs(tmp_path, "nobody")
    result = cl("echo-test", "run", path, "--absent")
    assert result.exit_code == 5
    assert result.stderr.strip().splitlines() == [
        "error: no worker offers clip_embedding — the server has no worker for this task "
        "(check `cl capabilities`)"
    ]
    assert echo.MAX_IN_FLIGHT == 0
    waited = cl(
        "--no-capability-check", "echo-test", "run", path, "--absent", "--queue-timeout", "0.5",
        "--json",
    )  # fmt: skip
    assert waited.exit_code == 5
    assert echo.MAX_IN_FLIGHT == 1
    doc = json.loads(waited.stdout)
    assert doc["error"]["type"] == "JobTimeoutError"
    assert doc["error"]["exit_code"] == 5
    assert doc["job_id"]
    assert "did not start within 0.5 s" in waited.stderr


def test_timeout_is_exit_5_with_a_hint(cl: RunCl, echo: ModuleType, tmp_path: Path) -> None:
    [path] = _inputs(tmp_path, "slow")
    result = cl("echo-test", "run", path, "--delay", "3", "--timeout", "0.5")
    assert result.exit_code == 5
    [line] = result.stderr.strip().splitlines()
    assert "did not finish within 0.5 s of starting" in line
    assert "cl job get" in line


def test_watch_draws_a_progress_bar_on_a_terminal(echo: ModuleType, tmp_path: Path) -> None:
    [path] = _inputs(tmp_path, "watch me")
    master, slave = pty.openpty()
    env = child_env({"COLUMNS": "120", "TERM": "xterm"})
    proc = subprocess.Popen(
        [*cl_command(), "echo-test", "run", path, "--watch", "--delay", "1.5"],
        stdout=subprocess.PIPE,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    drawn = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            drawn += chunk
        elif proc.poll() is not None:
            break
    stdout, _ = proc.communicate(timeout=30)
    os.close(master)
    assert proc.returncode == 0
    assert stdout.decode().splitlines()[1:] == ["echo: WATCH ME"]
    text = drawn.decode(errors="replace")
    assert "file0.txt" in text
    assert any(f"{p}%" in text for p in (25, 50, 75)), text[-2000:]


def test_quiet_and_pipes_draw_no_progress(cl: RunCl, echo: ModuleType, tmp_path: Path) -> None:
    [path] = _inputs(tmp_path, "quiet")
    result = cl("-q", "echo-test", "run", path, "--watch")
    assert result.exit_code == 0
    assert result.stderr == ""


def test_a_built_in_task_of_the_server(cl: RunCl, echo: ModuleType) -> None:
    image = MEDIA / "astronaut.jpg"
    result = cl("echo-test", "md5", str(image), "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["status"] == "completed"
    assert doc["task_type"] == "hash"
    assert doc["params"]["algorithm"] == "md5"
    human = cl("echo-test", "md5", str(image))
    md5 = hashlib.md5(image.read_bytes()).hexdigest()  # noqa: S324 - comparing, not securing
    assert human.stdout.splitlines()[1:] == [f"echo: {md5}"]
