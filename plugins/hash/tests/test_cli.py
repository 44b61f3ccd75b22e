"""``cl hash compute`` and the HashClient end to end against the local server."""

from __future__ import annotations

import hashlib
import json
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
    assert lines[0] == "chelsea.png"
    assert lines[1].split() == ["hash:", _pixels_sha512(CHELSEA)]
    assert lines[2].split() == ["algorithm:", "sha512_image"]
    assert lines[3].split() == ["media", "type:", "image"]


def test_three_files_give_a_json_array_in_input_order(cl_run: ClRunner) -> None:
    files = [ASTRONAUT, CHELSEA, COFFEE]
    docs = _json(cl_run("--json", "hash", "compute", *map(str, files), "-a", "md5", "--jobs", "2"))
    assert len(docs) == 3
    assert [d["params"]["input_path"] for d in docs] == [f"input/{f.name}" for f in files]
    assert [d["result"]["hash_value"] for d in docs] == [_md5(f) for f in files]
    assert len({d["job_id"] for d in docs}) == 3


def test_several_files_in_human_form_each_get_a_heading(cl_run: ClRunner) -> None:
    result = cl_run("hash", "compute", str(ASTRONAUT), str(COFFEE), "-a", "md5")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"{ASTRONAUT}:" in out and f"{COFFEE}:" in out
    assert out.index(_md5(ASTRONAUT)) < out.index(f"{COFFEE}:") < out.index(_md5(COFFEE))


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
    for source in (ASTRONAUT, CHELSEA):
        saved = json.loads((folder / source.stem / "hash.json").read_text())
        assert saved["hash_value"] == _md5(source)
    assert f"saved:      {folder / 'astronaut' / 'hash.json'}" in result.stdout


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
