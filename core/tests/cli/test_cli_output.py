"""``Output`` (what commands print and where) and the progress display, without a server."""

from __future__ import annotations

import io
import json
from pathlib import Path, PurePosixPath

import pytest
from cl_client.batch import BatchItem, Outcome
from cl_client.cli import Output, format_bytes
from cl_client.cli.progress import BatchDisplay
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


def _item(name: str) -> BatchItem:
    return BatchItem(Path(name), PurePosixPath(name))


def test_progress_is_drawn_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    pipe = io.StringIO()
    monkeypatch.setattr("sys.stderr", pipe)
    a = _item("a.jpg")
    with BatchDisplay(Output(), watch=True, several=False) as display:
        display.submitted(a, "1234")
        display.progress(a, JobProgress(job_id="1234", status="processing", progress=50))
        display.finished(Outcome(item=a, state="completed", job_id="1234"))
    assert pipe.getvalue() == ""

    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    for quiet, json_mode in ((True, False), (False, True)):
        out = Output(quiet=quiet, json_mode=json_mode)
        with BatchDisplay(out, watch=True, several=True) as display:
            display.progress(a, JobProgress(job_id="1", status="processing", progress=50))
    assert terminal.getvalue() == ""

    b = _item("b.jpg")
    with BatchDisplay(Output(no_color=True), watch=True, several=True, what="hash") as display:
        display.set_total(2)
        display.uploading(a, 10, 100)
        display.submitted(a, "12345678abcd")
        display.progress(a, JobProgress(job_id="1", status="processing", progress=40))
        display.submitted(b, "87654321dcba")
        display.finished(Outcome(item=b, state="failed", job_id="8765"))
    drawn = terminal.getvalue()
    assert "a.jpg" in drawn and "hash" in drawn


def test_labels_from_the_server_are_drawn_without_markup_or_escapes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    a = _item("[bold]x[/].jpg")
    with BatchDisplay(Output(no_color=True), watch=True, several=True) as display:
        display.submitted(a, "1")
        # A broker could send anything as the event type.
        display.progress(a, JobProgress(job_id="1", status="[/]\x1b]0;title\x07", progress=5))
    drawn = terminal.getvalue()
    assert "[bold]x[/].jpg" in drawn
    assert "\x1b]0;title" not in drawn


def test_a_pipe_gets_periodic_plain_lines_for_batches_injected_clock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pipe = io.StringIO()
    monkeypatch.setattr("sys.stderr", pipe)
    now = [1000.0]
    monkeypatch.setattr("cl_client.cli.progress.time.monotonic", lambda: now[0])
    a = _item("a.jpg")
    with BatchDisplay(Output(), watch=False, several=True) as display:
        display.set_total(3)
        display.finished(Outcome(item=a, state="completed", job_id="1"))
        assert pipe.getvalue() == ""
        now[0] += 11
        display.submitted(_item("b.jpg"), "2")
    assert "progress: 1/3 done, 1 in flight" in pipe.getvalue()


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
