"""``cl face-embedding embed`` end to end against the local server, whose worker runs SFace: a real
128-value embedding of a face crop. The command, client and rendering all embedding plugins share
are tested in the core."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from cl_client.testing import ClRunner, heavy_imports
from cl_plugin_face_embedding.client import FaceEmbeddingClient

if TYPE_CHECKING:
    from cl_local_server.pytest_plugin import ClAgainst, ServerFactory
    from cl_local_server.server import LocalServer

REPO = Path(__file__).resolve().parents[3]
ASTRONAUT = REPO.parent / "shared" / "media" / "astronaut.jpg"
#: The local server's model, SFace (upstream's ArcFace gives 512).
DIMENSION = 128

pytestmark = pytest.mark.timeout(60)

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture(scope="module")
def face(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The astronaut's face as face_embedding expects it: a 112×112 crop."""
    from PIL import Image

    with Image.open(ASTRONAUT) as image:
        crop = image.convert("RGB").crop((170, 52, 278, 160)).resize((112, 112))
    path = tmp_path_factory.mktemp("face") / "face_0.png"
    crop.save(path)
    return path


def test_human_output_shows_the_vector_and_its_quality(cl_run: ClRunner, face: Path) -> None:
    result = cl_run("face-embedding", "embed", str(face))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(rf"{re.escape(str(face))} \(job {UUID}\)", lines[0])
    assert lines[1:6] == [
        f"dimension:  {DIMENSION}",
        "norm:       1.000000",
        "dtype:      float32",
        f"shape:      ({DIMENSION},)",
        "normalized: yes",
    ]
    assert len(lines) == 7 and lines[6].startswith("quality:    ")
    assert 0 <= float(lines[6].split()[1]) <= 1


def test_the_npy_is_saved_and_json_carries_the_record(
    cl_run: ClRunner, face: Path, tmp_path: Path
) -> None:
    target = tmp_path / "vector.npy"
    result = cl_run("face-embedding", "embed", str(face), "-o", str(target), "--json", "--watch")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["input"] == str(face)
    assert document["task_type"] == "face_embedding"
    assert document["status"] == "completed"
    assert document["params"]["output_path"] == "output/face_embedding.npy"
    assert document["task_output"]["embedding_dim"] == DIMENSION
    assert document["task_output"]["model"] == "sface_2021dec_int8bq"
    assert document["downloaded"] == [str(target)]
    assert document["result"]["shape"] == [DIMENSION]
    assert document["result"]["dtype"] == "float32"
    assert 0 <= document["result"]["quality_score"] <= 1

    saved = np.load(target)
    assert saved.shape == (DIMENSION,) and saved.dtype == np.float32
    assert float(np.linalg.norm(saved)) == pytest.approx(1.0, abs=1e-5)
    # The same crop gives the same vector (in a new job: --force, else the earlier job's result
    # is fetched again); a raw (--no-normalize) one points the same way.
    again = tmp_path / "again.npy"
    raw = tmp_path / "raw.npy"
    rerun = cl_run("face-embedding", "embed", str(face), "-o", str(again), "--force", "--json")
    assert rerun.exit_code == 0, rerun.stderr
    assert json.loads(rerun.stdout)["job_id"] != document["job_id"]
    assert (
        cl_run("face-embedding", "embed", str(face), "--no-normalize", "-o", str(raw)).exit_code
        == 0
    )
    np.testing.assert_array_equal(np.load(again), saved)
    unnormalised = np.load(raw)
    np.testing.assert_allclose(unnormalised / np.linalg.norm(unnormalised), saved, atol=1e-5)


def test_crops_from_face_detection_match_their_mirror_image(
    cl_run: ClRunner, cl_module_server: LocalServer, tmp_path: Path
) -> None:
    import httpx
    from PIL import Image, ImageOps

    # The aligned crop of the server's own face_detection (that plugin is not installed here).
    with httpx.Client(base_url=cl_module_server.info.compute_url, timeout=30) as http:
        files = {"file": ("astronaut.jpg", ASTRONAUT.read_bytes())}
        job_id = http.post("/jobs/face_detection", files=files).json()["job_id"]
        deadline = time.monotonic() + 30
        while http.get(f"/jobs/{job_id}").json()["status"] != "completed":
            assert time.monotonic() < deadline, "face_detection did not complete"
            time.sleep(0.05)
        crop = tmp_path / "face_0.png"
        crop.write_bytes(http.get(f"/jobs/{job_id}/files/faces/face_0.png").content)
    mirrored = tmp_path / "mirrored.png"
    with Image.open(crop) as image:
        ImageOps.mirror(image).save(mirrored)
    out = tmp_path / "vectors"
    result = cl_run("face-embedding", "embed", str(crop), str(mirrored), "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "face_0.png.face_embedding.npy",
        "mirrored.png.face_embedding.npy",
    ]
    first = np.load(out / "face_0.png.face_embedding.npy")
    second = np.load(out / "mirrored.png.face_embedding.npy")
    # OpenCV's same-person cut-off for SFace is a cosine similarity of 0.363.
    assert float(first @ second) > 0.363


def test_without_a_worker_the_command_fails_fast(
    cl_server_factory: ServerFactory, cl_against: ClAgainst
) -> None:
    server = cl_server_factory.start(executors={"face_embedding": None})
    started = time.monotonic()
    result = cl_against(server)("face-embedding", "embed", str(ASTRONAUT))
    assert time.monotonic() - started < 10
    assert result.exit_code == 5
    assert result.stderr.splitlines() == [
        "error: no worker offers face_embedding — the server has no worker for this task "
        "(check `cl capabilities`)"
    ]
    assert result.stdout == ""


def test_the_plugin_registers_its_task_client() -> None:
    from cl_client.plugins import task_client

    assert task_client("face_embedding") is FaceEmbeddingClient


@pytest.mark.parametrize(
    "args",
    [["face-embedding", "--help"], ["face-embedding", "embed", "--help"]],
)
def test_help_imports_nothing_heavy(args: list[str]) -> None:
    assert heavy_imports(*args, also=("cl_plugin_face_embedding.client",)) == []
