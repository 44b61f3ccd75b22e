"""``cl exif extract`` against a server that answers as the January-2026 reference worker does.

That worker runs ``exiftool -G`` when no ``tags`` are asked for: the metadata file then has every
structured field null and group-prefixed raw keys (PROTOCOL 5.3). The local server's exif executor
is replaced here by one that does the same with the real ExifTool, so the client is checked on
that server's real answers, not on a hand-written one.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cl_client.testing import ClRunner
from cl_plugin_exif.client import SUMMARY_FIELDS

if TYPE_CHECKING:
    from cl_local_server.executors import Executor, TaskContext

MEDIA = Path(__file__).resolve().parents[3].parent / "shared" / "media"
#: The summary fields the server fills (PROTOCOL §5.3); a January-2026 server leaves them null.
FIELDS = SUMMARY_FIELDS

pytestmark = pytest.mark.timeout(60)


def grouped_exif(ctx: TaskContext) -> dict[str, object]:
    """The reference worker without ``tags``: ``exiftool -j -G``, fields left null."""
    exiftool = shutil.which("exiftool")
    assert exiftool is not None, "the reference answers need exiftool on PATH"
    out = subprocess.run(
        [exiftool, "-j", "-G", "--", str(ctx.input_path)],
        capture_output=True,
        check=False,
        timeout=60,
    ).stdout
    parsed = json.loads(out or b"[{}]")[0]
    parsed.pop("SourceFile", None)
    document: dict[str, object] = {name: None for name in FIELDS}
    document["raw_metadata"] = parsed
    ctx.output_path.parent.mkdir(parents=True, exist_ok=True)
    ctx.output_path.write_text(json.dumps(document, indent=2))
    return document


@pytest.fixture(scope="module")
def cl_module_executors() -> Mapping[str, Executor | None]:
    return {"exif": grouped_exif}


def test_the_summary_is_filled_from_group_prefixed_keys(cl_run: ClRunner) -> None:
    result = cl_run("exif", "extract", str(MEDIA / "astronaut.jpg"))
    assert result.exit_code == 0, result.output
    rows = dict(line.split(None, 1) for line in result.stdout.splitlines()[2:] if " " in line)
    assert rows["Make"].strip() == "NASA"
    assert rows["Model"].strip() == "Hasselblad 500EL"
    assert rows["GPS"].strip() == "28.523889, -80.650833 (28°31'26\"N 80°39'3\"W)"
    doc = json.loads(cl_run("exif", "extract", str(MEDIA / "astronaut.jpg"), "--json").stdout)
    assert doc["result"]["make"] == "NASA"
    assert doc["result"]["raw_metadata"]["EXIF:Make"] == "NASA"


def test_raw_leaves_out_the_servers_temporary_copy(cl_run: ClRunner) -> None:
    result = cl_run("exif", "extract", str(MEDIA / "astronaut.jpg"), "--raw")
    assert result.exit_code == 0, result.output
    assert "EXIF:Make" in result.stdout
    assert "File:Directory" not in result.stdout
    assert "FileAccessDate" not in result.stdout
    assert "/jobs/" not in result.stdout


def test_a_video_shows_no_null_date(cl_run: ClRunner) -> None:
    result = cl_run("exif", "extract", str(MEDIA / "astronaut.mp4"))
    assert result.exit_code == 0, result.output
    assert "0000:00:00" not in result.stdout


def test_a_table_only_when_there_is_something_to_show(cl_run: ClRunner, tmp_path: Path) -> None:
    """A text file says it has no metadata (never an empty table); a PNG shows its size."""
    note = tmp_path / "note.txt"
    note.write_text("not an image\n")
    text = cl_run("exif", "extract", str(note))
    assert text.exit_code == 0, text.output
    assert text.stdout.splitlines()[1:] == ["no EXIF metadata"]
    png = cl_run("exif", "extract", str(MEDIA / "chelsea.png"))
    assert png.exit_code == 0, png.output
    assert png.stdout.splitlines()[1:] == ["field  value", "Size   451×300"]
