"""Batches on the command line: folders, stdin, filters, output layouts, streaming, interrupts and
resume, job history — through the real ``cl`` (a subprocess where signals are involved) against a
real local server whose jobs are counted in its own database."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pytest

from . import echo_plugin
from .conftest import RunCl, RunSub, child_env, cl_command

if TYPE_CHECKING:
    from cl_local_server.pytest_plugin import ClAgainst, ServerFactory
    from cl_local_server.server import LocalServer

pytestmark = pytest.mark.timeout(120)


def server_jobs(server: LocalServer) -> list[tuple[str, str]]:
    """(input name, status) of every job the server holds."""
    out: list[tuple[str, str]] = []
    for job in server.job_records():
        params = job["params"]
        assert isinstance(params, dict)
        out.append((str(params["input_path"]).rsplit("/", 1)[-1], str(job["status"])))
    return out


def tree(root: Path, n: int) -> list[Path]:
    """``n`` small files in nested folders, with a hidden file and a same-stem pair."""
    paths: list[Path] = []
    for i in range(n):
        folder = root / f"d{i % 3}" / f"e{i % 2}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"f{i:03d}.txt"
        path.write_text(f"text {i}")
        paths.append(path)
    (root / ".hidden.txt").write_text("hidden")
    return paths


@pytest.fixture
def fresh(
    cl_server_factory: ServerFactory, cl_against: ClAgainst, echo: ModuleType
) -> Iterator[LocalServer]:
    """A server of this test's own (jobs counted per test), ``cl`` pointed at it."""
    server = cl_server_factory.start(executors={"cli_echo": echo_plugin.echo_executor})
    cl_against(server)
    yield server


# --- inputs ----------------------------------------------------------------------------------


def test_a_nested_folder_mirrors_its_paths_under_the_output(
    cl: RunCl, fresh: LocalServer, tmp_path: Path
) -> None:
    paths = tree(tmp_path / "in", 60)
    out = tmp_path / "out"
    result = cl("echo-test", "run", str(tmp_path / "in"), "-o", str(out), "--jsonl")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 60
    for path in paths:
        rel = path.relative_to(tmp_path / "in")
        saved = out / rel.parent / f"{rel.name}.output"  # the name the server gives the result
        assert saved.read_text() == path.read_text().upper()
    assert all(r["input"] and r["job_id"] for r in records)
    assert "60 completed, 0 failed, 0 skipped (already done)" in result.stderr
    assert "left out: 1 hidden" in result.stderr
    assert sorted(name for name, _ in server_jobs(fresh)) == sorted(p.name for p in paths)


def test_paths_from_stdin_newline_and_nul_separated(
    cl: RunCl, fresh: LocalServer, tmp_path: Path
) -> None:
    paths = tree(tmp_path / "in", 4)
    lines = "\n".join(str(p) for p in paths) + "\n"
    result = cl("echo-test", "run", "-", "--jsonl", input=lines)
    assert result.exit_code == 0, result.output
    assert sorted(json.loads(x)["input"] for x in result.stdout.splitlines()) == sorted(
        str(p) for p in paths
    )
    weird = tmp_path / "in" / "new\nline.txt"
    weird.write_text("odd name")
    nul = "\0".join([str(weird), str(paths[0])]) + "\0"
    result = cl("echo-test", "run", "-", "-0", "--jsonl", "--force", input=nul)
    assert result.exit_code == 0, result.output
    inputs = {json.loads(x)["input"] for x in result.stdout.splitlines()}
    assert inputs == {str(weird), str(paths[0])}


def test_include_and_exclude_filter_walked_files(
    cl: RunCl, fresh: LocalServer, tmp_path: Path
) -> None:
    tree(tmp_path / "in", 6)
    (tmp_path / "in" / "d0" / "keep.md").write_text("markdown")
    result = cl(
        "echo-test", "run", str(tmp_path / "in"), "--include", "*.txt", "--exclude", "d1/*",
        "--jsonl",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    names = sorted(Path(json.loads(x)["input"]).name for x in result.stdout.splitlines())
    assert names == ["f000.txt", "f002.txt", "f003.txt", "f005.txt"]
    assert "filtered out" in result.stderr


def test_output_templates_trailing_slash_and_stdout(
    cl: RunCl, fresh: LocalServer, tmp_path: Path
) -> None:
    paths = tree(tmp_path / "in", 3)
    template = str(tmp_path / "t" / "{parent}" / "{stem}-{ext}.out")
    result = cl("echo-test", "run", str(tmp_path / "in"), "-o", template)
    assert result.exit_code == 0, result.output
    for path in paths:
        rel = path.relative_to(tmp_path / "in")
        assert (
            tmp_path / "t" / rel.parent / f"{path.stem}-txt.out"
        ).read_text() == path.read_text().upper()

    bad = cl("echo-test", "run", str(paths[0]), "-o", str(tmp_path / "{nope}.txt"))
    assert bad.exit_code == 2 and "{nope}" in bad.stderr

    folder = tmp_path / "conv/"
    result = cl("echo-test", "run", str(paths[0]), "-o", f"{folder}/")
    assert result.exit_code == 0, result.output
    assert (folder / f"{paths[0].name}.output").is_file()

    result = cl("echo-test", "run", str(paths[1]), "-o", "-")
    assert result.exit_code == 0, result.output
    assert result.stdout == paths[1].read_text().upper()


def test_no_output_folder_is_created_for_a_failed_job(
    cl: RunCl, fresh: LocalServer, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("fail now")
    out = tmp_path / "out"
    result = cl("echo-test", "run", str(bad), "--many", "-o", f"{out}/")
    assert result.exit_code == 1
    assert not out.exists()


# --- streaming, interrupts, resume ---------------------------------------------------------------


def popen(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*cl_command(), *args],
        env=child_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_jsonl_streams_and_ctrl_c_then_rerun_finishes_without_duplicates(
    fresh: LocalServer, cl_against: ClAgainst, tmp_path: Path
) -> None:
    env = cl_against(fresh).env
    paths = tree(tmp_path / "in", 12)
    args = ["echo-test", "run", str(tmp_path / "in"), "--delay", "0.6", "--jobs", "3", "--jsonl"]
    proc = popen(args, env)
    assert proc.stdout is not None
    first = json.loads(proc.stdout.readline())  # read while later jobs still run
    assert first["status"] == "completed" and proc.poll() is None
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    lines = [json.loads(x) for x in out.splitlines() if x]
    assert err.strip().splitlines()[-1].startswith("error: interrupted: ")
    assert "run the same command again to resume" in err
    assert "Traceback" not in err
    done_before = 1 + len(lines)

    rerun = subprocess.run(
        [*cl_command(), *args], env=child_env(env), capture_output=True, text=True, timeout=90
    )
    assert rerun.returncode == 0, rerun.stderr
    records = [json.loads(x) for x in rerun.stdout.splitlines()]
    assert len(records) == 12
    assert sum(1 for r in records if r.get("skipped")) == 0  # nothing saved: results fetched again
    names = [name for name, _ in server_jobs(fresh)]
    assert sorted(names) == sorted(p.name for p in paths)  # every input exactly once
    assert done_before <= 12


def test_json_is_a_valid_array_when_interrupted_sigterm(
    fresh: LocalServer, cl_against: ClAgainst, tmp_path: Path
) -> None:
    env = cl_against(fresh).env
    tree(tmp_path / "in", 9)
    proc = popen(
        ["echo-test", "run", str(tmp_path / "in"), "--delay", "0.6", "--jobs", "2", "--json"], env
    )
    deadline = time.monotonic() + 30
    while not any(s == "completed" for _, s in server_jobs(fresh)):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    docs = json.loads(out)
    assert isinstance(docs, list) and len(docs) >= 1
    assert not list((tmp_path / "in").rglob("*.part"))


def test_kill_9_then_rerun_submits_nothing_twice(
    fresh: LocalServer, cl_against: ClAgainst, tmp_path: Path
) -> None:
    env = cl_against(fresh).env
    paths = tree(tmp_path / "in", 10)
    out_dir = tmp_path / "out"
    args = [
        "echo-test", "run", str(tmp_path / "in"), "--delay", "0.6", "--jobs", "3", "--jsonl",
        "-o", str(out_dir),
    ]  # fmt: skip
    proc = popen(args, env)
    assert proc.stdout is not None
    proc.stdout.readline()
    proc.kill()
    proc.wait(10)
    # An upload cut by the kill may have created a job the journal cannot know of: those inputs
    # alone may run twice (the protocol lists no jobs), and the journal says which they are.
    journal = Path(env.get("CL_STATE_DIR", os.environ["CL_STATE_DIR"])) / "journal.sqlite3"
    db = sqlite3.connect(journal)
    uncertain = {
        Path(p).name
        for (p,) in db.execute("SELECT input_path FROM submissions WHERE status = 'pending'")
    }
    db.close()

    rerun = subprocess.run(
        [*cl_command(), *args], env=child_env(env), capture_output=True, text=True, timeout=90
    )
    assert rerun.returncode == 0, rerun.stderr
    records = [json.loads(x) for x in rerun.stdout.splitlines()]
    assert len(records) == 10
    assert any(r.get("skipped") for r in records)  # saved before the kill: not redone
    names = [name for name, _ in server_jobs(fresh)]
    counts = {p.name: names.count(p.name) for p in paths}
    assert all(n >= 1 for n in counts.values())
    assert {name for name, n in counts.items() if n > 1} <= uncertain

    forced = subprocess.run(
        [*cl_command(), *args, "--force"], env=child_env(env), capture_output=True, text=True,
        timeout=90,
    )  # fmt: skip
    assert forced.returncode == 0, forced.stderr
    assert len(server_jobs(fresh)) == len(names) + 10


# --- job history and the job commands -----------------------------------------------------------


def test_job_list_wait_and_no_wait(cl: RunCl, fresh: LocalServer, tmp_path: Path) -> None:
    paths = tree(tmp_path / "in", 3)
    submitted = cl("echo-test", "run", str(tmp_path / "in"), "--no-wait", "--jsonl")
    assert submitted.exit_code == 0, submitted.output
    ids = [json.loads(x)["job_id"] for x in submitted.stdout.splitlines()]
    assert len(ids) == 3 and all(ids)

    listed = cl("job", "list", "--json")
    assert listed.exit_code == 0, listed.output
    history = json.loads(listed.stdout)
    assert {h["job_id"] for h in history} == set(ids)
    assert {h["input"] for h in history} == {str(p) for p in paths}
    assert {h["status"] for h in history} == {"queued"}
    assert json.loads(cl("job", "list", "--json", "--task", "nothing").stdout) == []
    assert len(json.loads(cl("job", "list", "--json", "--since", "1h").stdout)) == 3
    assert cl("job", "list", "--since", "yesterday-ish").exit_code == 2

    waited = cl("job", "wait", *ids, "--json", "-o", str(tmp_path / "w"))
    assert waited.exit_code == 0, waited.output
    docs = json.loads(waited.stdout)
    assert sorted(d["job_id"] for d in docs) == sorted(ids)
    assert all(d["status"] == "completed" and d["downloaded"] for d in docs)
    human = cl("job", "list")
    assert human.exit_code == 0 and ids[0] in human.stdout


def test_job_files_and_download_all(cl: RunCl, fresh: LocalServer, tmp_path: Path) -> None:
    [path] = tree(tmp_path / "in", 1)
    result = cl("echo-test", "run", str(path), "--json")
    job_id = json.loads(result.stdout)["job_id"]
    files = cl("job", "files", job_id)
    assert files.exit_code == 0, files.output
    assert files.stdout.splitlines() == ["output"]  # no plugin names more for this task
    wrong = cl("job", "download", job_id)
    assert wrong.exit_code == 2 and "FILE_PATH" in wrong.stderr


def test_a_renderer_that_returns_instead_of_printing_is_reported(
    cl: RunCl, fresh: LocalServer, tmp_path: Path
) -> None:
    [path] = tree(tmp_path / "in", 1)
    result = cl("echo-test", "run", str(path), "--returns")
    assert result.exit_code != 0
    assert "returned str instead of printing" in result.stderr


def test_single_file_prints_its_job_id(cl_sub: RunSub, fresh: LocalServer, tmp_path: Path) -> None:
    [path] = tree(tmp_path / "in", 1)
    result = cl_sub("echo-test", "md5", str(path))
    assert result.returncode == 0, result.stderr
    assert "(job " in result.stdout


def test_a_symlink_loop_at_a_destination_fails_that_input_only(
    cl: RunCl, fresh: LocalServer, tmp_path: Path
) -> None:
    paths = tree(tmp_path / "in", 2)
    out = tmp_path / "out"
    trap = out / "d0" / "e0" / "f000.txt.output"
    trap.parent.mkdir(parents=True)
    trap.symlink_to(trap)  # a link to itself
    result = cl("echo-test", "run", str(tmp_path / "in"), "-o", str(out), "--jsonl")
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "symlink loop" in errors[0] and str(paths[0]) in errors[0]
    assert "Traceback" not in result.output
    assert (out / "d1" / "e1" / "f001.txt.output").read_text() == "TEXT 1"
    assert trap.is_symlink()  # left as it was
