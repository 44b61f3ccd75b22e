"""``cl exif extract`` and the ExifClient end to end against the local server."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cl_client.testing import ClRunner, run_with_compute
from cl_plugin_exif.client import ExifClient, ExifResult
from typer.testing import Result

if TYPE_CHECKING:
    from cl_client.compute import ComputeClient
    from cl_local_server.server import LocalServer

REPO = Path(__file__).resolve().parents[3]
MEDIA = REPO.parent / "shared" / "media"
ASTRONAUT = MEDIA / "astronaut.jpg"
CHELSEA = MEDIA / "chelsea.png"


pytestmark = pytest.mark.timeout(60)

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

# 28°31'26"N 80°39'3"W
LATITUDE = 28 + 31 / 60 + 26 / 3600
LONGITUDE = -(80 + 39 / 60 + 3 / 3600)


def _json(result: Result):  # JSON of any shape, indexed freely by the tests
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_astronaut_camera_date_and_position(cl_run: ClRunner) -> None:
    result = cl_run("exif", "extract", str(ASTRONAUT))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert re.fullmatch(rf"{re.escape(str(ASTRONAUT))} \(job {UUID}\)", lines[0])
    assert lines[1].split() == ["field", "value"]
    rows = dict(line.split(None, 1) for line in lines[2:] if " " in line)
    assert rows["Make"].strip() == "NASA"
    assert rows["Model"].strip() == "Hasselblad 500EL"
    assert rows["Date"].split() == ["taken", "1998:10:29", "14:30:00"]
    assert rows["GPS"].strip() == "28.523889, -80.650833 (28°31'26\"N 80°39'3\"W)"


def test_json_result_has_the_typed_fields(cl_run: ClRunner) -> None:
    doc = _json(cl_run("exif", "extract", str(ASTRONAUT), "--json"))
    assert doc["status"] == "completed"
    fields = doc["result"]
    assert fields["make"] == "NASA"
    assert fields["model"] == "Hasselblad 500EL"
    assert fields["date_time_original"] == "1998:10:29 14:30:00"
    assert fields["gps_latitude"] == pytest.approx(LATITUDE, abs=1e-4)
    assert fields["gps_longitude"] == pytest.approx(LONGITUDE, abs=1e-4)
    assert fields["raw_metadata"]["Make"] == "NASA"


def test_tag_filter_is_sent_and_shown(cl_run: ClRunner) -> None:
    result = cl_run("exif", "extract", str(ASTRONAUT), "--tag", "Make,Model", "--tag", "Flash")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1:] == [
        "field  value",
        "Make   NASA",
        "Model  Hasselblad 500EL",
        "Flash  —",
    ]


def test_output_saves_the_metadata_file(cl_run: ClRunner, tmp_path: Path) -> None:
    target = tmp_path / "meta.json"
    doc = _json(cl_run("exif", "extract", str(ASTRONAUT), "-o", str(target), "--json"))
    assert doc["downloaded"] == [str(target)]
    saved = json.loads(target.read_text())
    assert saved["make"] == "NASA"
    assert saved["date_time_original"] == "1998:10:29 14:30:00"
    assert saved["raw_metadata"]["Model"] == "Hasselblad 500EL"


def test_two_images_give_an_array(cl_run: ClRunner) -> None:
    docs = _json(cl_run("exif", "extract", str(ASTRONAUT), str(CHELSEA), "--json"))
    # Elements come as the jobs finish; each names its local input.
    by_input = {d["input"]: d["result"] for d in docs}
    assert len(docs) == 2
    assert by_input[str(ASTRONAUT)]["make"] == "NASA"
    assert by_input[str(CHELSEA)]["make"] is None
    assert by_input[str(CHELSEA)]["gps_latitude"] is None


def test_a_folder_of_nothing_exif_reads_completes_nothing(cl_run: ClRunner, tmp_path: Path) -> None:
    folder = tmp_path / "documents"
    folder.mkdir()
    (folder / "notes.txt").write_text("no metadata here\n")
    (folder / "data.bin").write_bytes(b"\x00\x01")
    result = cl_run("exif", "extract", str(folder))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert re.fullmatch(
        r"0 completed, 0 failed, 0 skipped \(already done\) in \d+\.\d s \(\d+\.\d/s\); "
        r"left out: 2 not taken by this task\n",
        result.stderr,
    )


def test_a_folder_gives_its_images_only(cl_run: ClRunner, tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(ASTRONAUT, folder / "astronaut.jpg")
    (folder / "notes.txt").write_text("no metadata here\n")
    docs = _json(cl_run("exif", "extract", str(folder), "--json"))
    assert [(d["input"], d["result"]["make"]) for d in docs] == [
        (str(folder / "astronaut.jpg"), "NASA")
    ]


def test_library_client_extracts(cl_module_server: LocalServer, cl_isolated: Path) -> None:
    async def go(compute: ComputeClient) -> ExifResult:
        return await ExifClient(compute).extract(ASTRONAUT, tags=["Make", "Model"])

    result = run_with_compute(cl_module_server.client_env(), go)
    assert result.make == "NASA"
    assert result.model == "Hasselblad 500EL"
    assert result.requested_tags == ["Make", "Model"]
    assert set(result.raw_metadata) == {"Make", "Model"}


def test_a_text_file_is_no_metadata_not_an_empty_table(cl_run: ClRunner, tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("not an image\n")
    result = cl_run("exif", "extract", str(note))
    assert result.exit_code == 0, result.output
    heading, line = result.stdout.splitlines()[:2]
    assert heading.startswith(f"{note} (job ") and line.startswith("no EXIF metadata")
    assert "field" not in result.stdout


def test_a_video_has_no_null_date(cl_run: ClRunner) -> None:
    result = cl_run("exif", "extract", str(MEDIA / "astronaut.mp4"))
    assert result.exit_code == 0, result.output
    assert "0000:00:00" not in result.stdout
    raw = cl_run("exif", "extract", str(MEDIA / "astronaut.mp4"), "--raw")
    assert "FileAccessDate" not in raw.stdout
    assert "Directory" not in raw.stdout
