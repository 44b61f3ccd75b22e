"""``Output`` (what commands print and where) and the progress display, without a server."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from cl_client.cli import Output, format_bytes
from cl_client.cli.progress import JobsDisplay
from cl_client.models import JobProgress


class Terminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def no_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)


def test_results_go_to_stdout_and_messages_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    out = Output()
    out.result("a [bold] result")  # no markup interpretation for plain strings
    out.info("working")
    out.warn("careful")
    out.error("broken")
    out.debug("hidden without -v")
    captured = capsys.readouterr()
    assert captured.out == "a [bold] result\n"
    assert captured.err == "working\nwarning: careful\nerror: broken\n"


def test_quiet_verbose_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    Output(quiet=True).info("not shown")
    Output(quiet=True).success("not shown either")
    Output(verbose=True).debug("details")
    machine = Output(json_mode=True)
    machine.result("human text is not printed in JSON mode")
    machine.table(["a"], [[1]])
    machine.key_values([("a", 1)])
    machine.heading("x")
    machine.json({"path": Path("/tmp/x"), "items": (1, 2), "set": {3}})
    captured = capsys.readouterr()
    assert captured.err == "details\n"
    assert json.loads(captured.out) == {"path": "/tmp/x", "items": [1, 2], "set": [3]}


def test_plain_tables_and_key_values_never_truncate(capsys: pytest.CaptureFixture[str]) -> None:
    out = Output()
    long_value = "f" * 300
    out.table(["task", "idle"], [["hash", 2], ["exif", None], ["x", [1, "b"]]], title="workers")
    out.key_values([("hash", long_value), ("admin", True), ("perms", [])])
    assert capsys.readouterr().out.splitlines() == [
        "workers",
        "task  idle",
        "hash  2",
        "exif  -",
        "x     1, b",
        f"hash:  {long_value}",
        "admin: yes",
        "perms: -",
    ]


def test_terminal_output_uses_rich_and_colours_unless_disabled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stdout, stderr = Terminal(), Terminal()
    monkeypatch.setattr("sys.stdout", stdout)
    monkeypatch.setattr("sys.stderr", stderr)
    Output().table(["task", "idle"], [["hash", 2]])
    assert "hash" in stdout.getvalue()
    assert "┃" in stdout.getvalue() or "│" in stdout.getvalue()
    Output().error("red")
    assert "\x1b[" in stderr.getvalue()

    stderr.truncate(0)
    stderr.seek(0)
    Output(no_color=True).error("plain")
    assert stderr.getvalue() == "error: plain\n"
    monkeypatch.setenv("NO_COLOR", "1")
    stderr.truncate(0)
    stderr.seek(0)
    Output().warn("plain too")
    assert stderr.getvalue() == "warning: plain too\n"


def test_progress_is_drawn_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    pipe = io.StringIO()
    monkeypatch.setattr("sys.stderr", pipe)
    with JobsDisplay(Output(), ["a.jpg"], watch=True) as display:
        display.submitted(0, "1234")
        display.update(
            0, JobProgress(job_id="1234", status="processing", progress=50, source="mqtt")
        )
        display.finished(0, "completed")
    assert pipe.getvalue() == ""

    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    for quiet, json_mode in ((True, False), (False, True)):
        with JobsDisplay(Output(quiet=quiet, json_mode=json_mode), ["a.jpg"], watch=True) as d:
            d.update(0, JobProgress(job_id="1", status="processing", progress=50, source="mqtt"))
    assert terminal.getvalue() == ""

    with JobsDisplay(Output(no_color=True), ["a.jpg", "b.jpg"], watch=True) as display:
        display.submitted(0, "12345678abcd")
        display.update(0, JobProgress(job_id="1", status="processing", progress=40, source="mqtt"))
        display.finished(1, "error")
    drawn = terminal.getvalue()
    assert "a.jpg" in drawn
    assert "b.jpg" in drawn

    spinner = Terminal()
    monkeypatch.setattr("sys.stderr", spinner)
    with JobsDisplay(Output(no_color=True), ["a.jpg", "b.jpg"], watch=False) as display:
        display.finished(0, "completed")
    assert "2 jobs" in spinner.getvalue()


def test_byte_counts() -> None:
    assert format_bytes(0) == "0 B"
    assert format_bytes(1023) == "1023 B"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(5 * 1024 * 1024) == "5.0 MiB"
    assert format_bytes(3 * 1024**3) == "3.0 GiB"
    assert format_bytes(5 * 1024**4) == "5.0 TiB"


def test_a_title_on_a_terminal_never_wraps_mid_phrase(monkeypatch: pytest.MonkeyPatch) -> None:
    """A narrow table under a long title (one face found in an image): the title is one line."""
    screen = Terminal()
    monkeypatch.setattr("sys.stdout", screen)
    monkeypatch.setenv("COLUMNS", "100")
    out = Output(no_color=True)
    out.key_values([("faces", "none found")], title="chelsea.png: 0 faces (451×300)")
    out.table(["#", "crop"], [[0, "a.png"]], title="astronaut.png: 1 face (512×512)")
    lines = screen.getvalue().splitlines()
    assert lines[0] == "chelsea.png: 0 faces (451×300)"
    assert "astronaut.png: 1 face (512×512)" in lines
    assert not any(line.strip() in ("faces (451×300)", "face (512×512)") for line in lines)
