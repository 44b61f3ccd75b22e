"""``cl example fingerprint`` and ``cl example duplicates`` end to end against a local server (the
``cl_run`` and ``cl_against`` fixtures that ``cl-local-server`` provides), plus the pure parts:
short fingerprints and duplicate grouping."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cl_client.models import Job
from cl_client.testing import ClRunner
from cl_plugin_example.client import FileOutcome, Fingerprint, duplicate_groups

if TYPE_CHECKING:
    from cl_local_server.pytest_plugin import ClAgainst, ServerFactory

pytestmark = pytest.mark.timeout(60)


def write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def test_fingerprints_and_duplicates_as_json(cl_run: ClRunner, tmp_path: Path) -> None:
    first = write(tmp_path / "first.txt", b"the same bytes\n")
    copy = write(tmp_path / "copy.txt", b"the same bytes\n")
    other = write(tmp_path / "other.txt", b"different bytes\n")

    result = cl_run("example", "duplicates", str(first), str(copy), str(other), "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)

    files = report["files"]
    assert [entry["file"] for entry in files] == [str(first), str(copy), str(other)]
    for entry, path in zip(files, (first, copy, other), strict=True):
        md5 = hashlib.md5(path.read_bytes()).hexdigest()  # noqa: S324 - what the server computes
        assert entry["md5"] == md5
        assert entry["fingerprint"] == f"{md5[0:4]}-{md5[4:8]}-{md5[8:12]}"
        assert entry["error"] is None
    assert report["duplicates"] == [[str(first), str(copy)]]


def test_human_output_shows_a_dedupe_table(cl_run: ClRunner, tmp_path: Path) -> None:
    one = write(tmp_path / "one.bin", b"\x00\x01payload")
    two = write(tmp_path / "two.bin", b"\x00\x01payload")
    md5 = hashlib.md5(one.read_bytes()).hexdigest()  # noqa: S324
    short = f"{md5[0:4]}-{md5[4:8]}-{md5[8:12]}"

    result = cl_run("example", "duplicates", str(one), str(two))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Fingerprints (md5)"
    assert lines.index("Duplicates") > 0
    duplicate_row = lines[lines.index("Duplicates") + 2]
    assert duplicate_row.split()[:2] == [short, "2"]
    assert str(one) in duplicate_row
    assert str(two) in duplicate_row


def test_no_duplicates_is_said_plainly(cl_run: ClRunner, tmp_path: Path) -> None:
    single = write(tmp_path / "single.txt", b"alone\n")
    result = cl_run("example", "duplicates", str(single))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "no duplicates among 1 file(s)"


def test_fingerprint_is_a_task_command_on_the_shared_frame(
    cl_run: ClRunner, tmp_path: Path
) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    paths = [write(folder / f"{n}.txt", f"content {n}\n".encode()) for n in ("a", "b", "c")]
    # A folder is an input, --jsonl streams, --output mirrors: all from the core's frame.
    result = cl_run(
        "example", "fingerprint", str(folder), "--jsonl", "-o", str(tmp_path / "out") + "/"
    )
    assert result.exit_code == 0, result.stderr
    records = {r["input"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert sorted(records) == sorted(str(p) for p in paths)
    for path in paths:
        md5 = hashlib.md5(path.read_bytes()).hexdigest()  # noqa: S324
        assert records[str(path)]["result"]["md5"] == md5
        assert (tmp_path / "out" / f"{path.name}.hash.json").is_file()
    human = cl_run("example", "fingerprint", str(paths[0]))
    assert human.exit_code == 0, human.stderr
    heading, first_row = human.stdout.splitlines()[:2]
    assert heading.startswith(f"{paths[0]} (job ")
    md5 = hashlib.md5(paths[0].read_bytes()).hexdigest()  # noqa: S324
    assert first_row.split() == ["fingerprint:", f"{md5[0:4]}-{md5[4:8]}-{md5[8:12]}"]


def test_a_missing_file_is_refused_before_any_upload(cl_run: ClRunner, tmp_path: Path) -> None:
    present = write(tmp_path / "present.txt", b"here\n")
    result = cl_run("example", "fingerprint", str(present), str(tmp_path / "absent.txt"))
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: file not found: {tmp_path / 'absent.txt'}"
    assert result.stdout == ""


def test_a_server_without_the_hash_task_fails_fast(
    cl_server_factory: ServerFactory, cl_against: ClAgainst, tmp_path: Path
) -> None:
    server = cl_server_factory.start(executors={"hash": None})  # no worker runs "hash"
    cl = cl_against(server)
    result = cl("example", "fingerprint", str(write(tmp_path / "f.txt", b"x")), "--timeout", "5")
    assert result.exit_code == 5
    assert result.stderr.startswith("error: no worker offers hash")


def fingerprint(md5: str) -> Fingerprint:
    job = Job(job_id="j-" + md5[:4], task_type="hash", status="completed")
    return Fingerprint(job=job, md5=md5, media_type="text")


def test_short_fingerprint_is_twelve_hex_digits_in_groups() -> None:
    assert fingerprint("9e107d9d372bb6826bd81d3542a419d6").short == "9e10-7d9d-372b"


def test_duplicate_groups_keep_the_order_of_first_appearance() -> None:
    a, b, c = "a" * 32, "b" * 32, "c" * 32
    outcomes = [
        FileOutcome(Path("1"), fingerprint(b)),
        FileOutcome(Path("2"), fingerprint(a)),
        FileOutcome(Path("3"), fingerprint(c)),
        FileOutcome(Path("4"), fingerprint(a)),
        FileOutcome(Path("5"), fingerprint(b)),
        FileOutcome(Path("6")),  # failed: no fingerprint, never a duplicate
    ]
    groups = duplicate_groups(outcomes)
    assert [[outcome.path.name for outcome in group] for group in groups] == [
        ["1", "5"],
        ["2", "4"],
    ]
