"""``cl face-embedding embed`` end to end against a local server whose worker runs a stand-in
face_embedding executor (the local server ships no model): a deterministic vector of the input's
bytes, saved with ``np.save`` as the real worker does, and a quality score. The command, client and
rendering all embedding plugins share are tested in the core."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from cl_client.testing import ClRunner, heavy_imports
from cl_local_server.pytest_plugin import stand_in_embedding, stand_in_vector
from cl_plugin_face_embedding.client import FaceEmbeddingClient

if TYPE_CHECKING:
    from cl_local_server.executors import Executor
    from cl_local_server.pytest_plugin import ClAgainst
    from cl_local_server.server import LocalServer

REPO = Path(__file__).resolve().parents[3]
ASTRONAUT = REPO.parent / "shared" / "media" / "astronaut.jpg"
DIMENSION = 512
QUALITY = 0.42

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def cl_module_executors() -> Mapping[str, Executor | None]:
    return {"face_embedding": stand_in_embedding(DIMENSION, quality_score=QUALITY)}


@pytest.fixture
def face(tmp_path: Path) -> Path:
    """The astronaut's face as face_embedding expects it: a 112×112 crop."""
    from PIL import Image

    with Image.open(ASTRONAUT) as image:
        crop = image.convert("RGB").crop((176, 65, 272, 161)).resize((112, 112))
    path = tmp_path / "face_0.png"
    crop.save(path)
    return path


def test_human_output_shows_the_vector_and_its_quality(cl_run: ClRunner, face: Path) -> None:
    result = cl_run("face-embedding", "embed", str(face))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "face_0.png",
        f"dimension:  {DIMENSION}",
        "norm:       1.000000",
        "dtype:      float32",
        f"shape:      ({DIMENSION},)",
        "normalized: yes",
        "quality:    0.420",
    ]


def test_the_npy_is_saved_and_json_carries_the_record(
    cl_run: ClRunner, face: Path, tmp_path: Path
) -> None:
    target = tmp_path / "vector.npy"
    result = cl_run("face-embedding", "embed", str(face), "-o", str(target), "--json", "--watch")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["task_type"] == "face_embedding"
    assert document["status"] == "completed"
    assert document["params"]["output_path"] == "output/face_embedding.npy"
    assert document["task_output"]["embedding_dim"] == DIMENSION
    assert document["downloaded"] == [str(target)]
    assert document["result"]["shape"] == [DIMENSION]
    assert document["result"]["dtype"] == "float32"
    assert document["result"]["quality_score"] == pytest.approx(QUALITY)

    saved = np.load(target)
    assert saved.shape == (DIMENSION,)
    assert saved.dtype == np.float32
    want = stand_in_vector(face.read_bytes(), DIMENSION, normalize=True)
    np.testing.assert_array_equal(saved, want)


def test_without_a_worker_the_command_fails_fast(
    cl_server: LocalServer, cl_against: ClAgainst
) -> None:
    started = time.monotonic()  # cl_server has the built-in executors only: none for face_embedding
    result = cl_against(cl_server)("face-embedding", "embed", str(ASTRONAUT))
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
