"""``cl hash compute`` and the HashClient end to end against the local server."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cl_client.testing import ClRunner, run_with_compute
from cl_plugin_hash.client import HashClient, HashResult
from PIL import Image
from typer.testing import Result

if TYPE_CHECKING:
    from cl_client.compute import ComputeClient
    from cl_local_server.server import LocalServer

REPO = Path(__file__).resolve().parents[3]
MEDIA = REPO.parent / "shared" / "media"
ASTRONAUT = MEDIA / "astronaut.jpg"
CHELSEA = MEDIA / "chelsea.png"
COFFEE = MEDIA / "coffee.jpg"


pytestmark = pytest.mark.timeout(60)


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()  # noqa: S324 - comparing, not securing


def _pixels_sha512(path: Path) -> str:
    with Image.open(path) as image:
        return hashlib.sha512(image.tobytes()).hexdigest()


UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def _summary(completed: int, failed: int = 0, *, left_out: str = "") -> str:
    """A pattern of the batch summary on stderr (several inputs, a folder or stdin)."""
    tail = f"; left out: {re.escape(left_out)}" if left_out else ""
    return (
        rf"{completed} completed, {failed} failed, 0 skipped \(already done\) "
        rf"in \d+\.\d s \(\d+\.\d/s\){tail}\n"
    )


HEADING = re.compile(rf"(?P<input>.+) \(job {UUID}\)")


def _blocks(stdout: str) -> dict[str, list[str]]:
    """Human output split at each result's heading: the input's rows by the input's path."""
    blocks: dict[str, list[str]] = {}
    rows: list[str] = []
    for line in stdout.splitlines():
        if (heading := HEADING.fullmatch(line)) is not None:
            rows = blocks.setdefault(heading["input"], [])
        else:
            rows.append(line)
    return blocks


def _json(result: Result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_md5_is_the_md5_of_the_file(cl_run: ClRunner) -> None:
    doc = _json(cl_run("hash", "compute", str(ASTRONAUT), "--algorithm", "md5", "--json"))
    assert doc["status"] == "completed"
    assert doc["task_type"] == "hash"
    assert doc["params"]["algorithm"] == "md5"
    assert doc["result"]["hash_value"] == _md5(ASTRONAUT)
    assert doc["result"]["algorithm"] == "md5"
    assert "downloaded" not in doc


def test_sha512_of_an_image_is_of_its_decoded_pixels(cl_run: ClRunner) -> None:
    result = cl_run("hash", "compute", str(CHELSEA))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert re.fullmatch(rf"{re.escape(str(CHELSEA))} \(job {UUID}\)", lines[0])
    assert lines[1].split() == ["hash:", _pixels_sha512(CHELSEA)]
    assert lines[2].split() == ["algorithm:", "sha512_image"]
    assert lines[3].split() == ["media", "type:", "image"]
    assert result.stderr == ""  # one file: no batch summary


def test_three_files_give_a_json_array_one_element_per_input(cl_run: ClRunner) -> None:
    files = [ASTRONAUT, CHELSEA, COFFEE]
    result = cl_run("--json", "hash", "compute", *map(str, files), "-a", "md5", "--jobs", "2")
    docs = _json(result)
    assert len(docs) == 3
    # Elements come as the jobs finish; each names its local input.
    by_input = {d["input"]: d for d in docs}
    assert sorted(by_input) == sorted(map(str, files))
    for file in files:
        doc = by_input[str(file)]
        assert doc["params"]["input_path"] == f"input/{file.name}"
        assert doc["result"]["hash_value"] == _md5(file)
    assert len({d["job_id"] for d in docs}) == 3
    assert re.fullmatch(_summary(3), result.stderr)


def test_one_job_at_a_time_keeps_the_input_order(cl_run: ClRunner) -> None:
    files = [ASTRONAUT, CHELSEA, COFFEE]
    docs = _json(cl_run("--json", "hash", "compute", *map(str, files), "-a", "md5", "-j", "1"))
    assert [d["input"] for d in docs] == [str(f) for f in files]


def test_jsonl_prints_one_object_per_line(cl_run: ClRunner) -> None:
    files = [ASTRONAUT, COFFEE]
    result = cl_run("hash", "compute", *map(str, files), "-a", "md5", "--jsonl")
    assert result.exit_code == 0, result.output
    docs = [json.loads(line) for line in result.stdout.splitlines()]
    assert {d["input"]: d["result"]["hash_value"] for d in docs} == {str(f): _md5(f) for f in files}


def test_several_files_in_human_form_each_get_a_heading(cl_run: ClRunner) -> None:
    result = cl_run("hash", "compute", str(ASTRONAUT), str(COFFEE), "-a", "md5")
    assert result.exit_code == 0, result.output
    blocks = _blocks(result.stdout)
    assert sorted(blocks) == sorted([str(ASTRONAUT), str(COFFEE)])
    for source in (ASTRONAUT, COFFEE):
        assert blocks[source.as_posix()][0].split() == ["hash:", _md5(source)]
    assert re.fullmatch(_summary(2), result.stderr)


def test_output_saves_hash_json(cl_run: ClRunner, tmp_path: Path) -> None:
    target = tmp_path / "astronaut-hash.json"
    doc = _json(cl_run("hash", "compute", str(ASTRONAUT), "-o", str(target), "--json"))
    assert doc["downloaded"] == [str(target)]
    saved = json.loads(target.read_text())
    assert saved["hash_value"] == _pixels_sha512(ASTRONAUT)
    assert saved["algorithm"] == "sha512_image"
    assert saved["media_type"] == "image"


def test_output_folder_for_several_files(cl_run: ClRunner, tmp_path: Path) -> None:
    folder = tmp_path / "hashes"
    result = cl_run("hash", "compute", str(ASTRONAUT), str(CHELSEA), "-a", "md5", "-o", str(folder))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in folder.iterdir()) == [
        "astronaut.jpg.hash.json",
        "chelsea.png.hash.json",
    ]
    for source in (ASTRONAUT, CHELSEA):
        saved = json.loads((folder / f"{source.name}.hash.json").read_text())
        assert saved["hash_value"] == _md5(source)
    assert f"saved:      {folder / 'astronaut.jpg.hash.json'}" in result.stdout


def test_a_folder_is_walked_and_its_tree_mirrored(cl_run: ClRunner, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    (photos / "trip").mkdir(parents=True)
    shutil.copy(ASTRONAUT, photos / "astronaut.jpg")
    shutil.copy(COFFEE, photos / "trip" / "coffee.jpg")
    (photos / "trip" / "notes.txt").write_text("not media, still hashed\n")
    (photos / ".hidden.jpg").write_bytes(ASTRONAUT.read_bytes())
    out = tmp_path / "hashes"
    result = cl_run("hash", "compute", str(photos), "-a", "md5", "-o", str(out), "--json")
    docs = _json(result)
    assert sorted(d["input"] for d in docs) == [
        str(photos / "astronaut.jpg"),
        str(photos / "trip" / "coffee.jpg"),
        str(photos / "trip" / "notes.txt"),
    ]
    saved = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert saved == [
        "astronaut.jpg.hash.json",
        "trip/coffee.jpg.hash.json",
        "trip/notes.txt.hash.json",
    ]
    notes = json.loads((out / "trip" / "notes.txt.hash.json").read_text())
    assert notes["hash_value"] == _md5(photos / "trip" / "notes.txt")
    assert re.fullmatch(_summary(3, left_out="1 hidden"), result.stderr)


def test_a_folder_without_files_completes_nothing(cl_run: ClRunner, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    result = cl_run("hash", "compute", str(empty))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert re.fullmatch(_summary(0), result.stderr)


def test_a_second_run_reuses_the_earlier_job(cl_run: ClRunner) -> None:
    first = _json(cl_run("hash", "compute", str(COFFEE), "-a", "md5", "--json"))
    again = _json(cl_run("hash", "compute", str(COFFEE), "-a", "md5", "--json"))
    assert again["job_id"] == first["job_id"]
    assert again["result"]["hash_value"] == _md5(COFFEE)
    forced = _json(cl_run("hash", "compute", str(COFFEE), "-a", "md5", "--json", "--force"))
    assert forced["job_id"] != first["job_id"]
    assert forced["result"]["hash_value"] == _md5(COFFEE)


def test_watch_follows_the_job_to_the_same_result(cl_run: ClRunner) -> None:
    doc = _json(cl_run("hash", "compute", str(COFFEE), "-a", "md5", "--watch", "--json"))
    assert doc["result"]["hash_value"] == _md5(COFFEE)


def test_library_client_computes_and_saves(
    cl_module_server: LocalServer, cl_isolated: Path, tmp_path: Path
) -> None:
    async def go(compute: ComputeClient) -> tuple[HashResult, HashResult]:
        hashes = HashClient(compute)
        saved = await hashes.compute_hash(ASTRONAUT, algorithm="md5", dest=tmp_path)
        read = await hashes.compute_hash(CHELSEA, timeout=30)
        return saved, read

    saved, read = run_with_compute(cl_module_server.client_env(), go)
    assert saved.hash_value == _md5(ASTRONAUT)
    assert saved.algorithm == "md5"
    assert saved.downloaded == [tmp_path / "hash.json"]
    assert read.hash_value == _pixels_sha512(CHELSEA)
    assert read.algorithm == "sha512_image"
    assert read.media_type == "image"
    assert read.process_time is not None and read.process_time >= 0
    assert read.job.params["output_path"] == "output/hash.json"
