"""``cl dino-embedding embed`` end to end against a local server whose worker runs a stand-in
dino_embedding executor (the local server ships no model): a deterministic vector of the input's
bytes, saved with ``np.save`` as the real worker does. The command, client and rendering all
embedding plugins share are tested in the core."""

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
from cl_plugin_dino_embedding.client import DinoEmbeddingClient

if TYPE_CHECKING:
    from cl_local_server.executors import Executor
    from cl_local_server.pytest_plugin import ClAgainst
    from cl_local_server.server import LocalServer

REPO = Path(__file__).resolve().parents[3]
ASTRONAUT = REPO.parent / "shared" / "media" / "astronaut.jpg"
DIMENSION = 384

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def cl_module_executors() -> Mapping[str, Executor | None]:
    return {"dino_embedding": stand_in_embedding(DIMENSION)}


def test_the_npy_is_saved_and_json_carries_the_record(cl_run: ClRunner, tmp_path: Path) -> None:
    target = tmp_path / "vector.npy"
    result = cl_run(
        "dino-embedding", "embed", str(ASTRONAUT), "-o", str(target), "--json", "--watch"
    )
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["input"] == str(ASTRONAUT)
    assert document["task_type"] == "dino_embedding"
    assert document["status"] == "completed"
    assert document["params"]["output_path"] == "output/dino_embedding.npy"
    assert document["task_output"]["embedding_dim"] == DIMENSION
    assert document["downloaded"] == [str(target)]
    assert document["result"]["shape"] == [DIMENSION]
    assert document["result"]["dtype"] == "float32"

    saved = np.load(target)
    assert saved.shape == (DIMENSION,)
    assert saved.dtype == np.float32
    want = stand_in_vector(ASTRONAUT.read_bytes(), DIMENSION, normalize=True)
    np.testing.assert_array_equal(saved, want)


def test_without_a_worker_the_command_fails_fast(
    cl_server: LocalServer, cl_against: ClAgainst
) -> None:
    started = time.monotonic()  # cl_server has the built-in executors only: none for dino_embedding
    result = cl_against(cl_server)("dino-embedding", "embed", str(ASTRONAUT))
    assert time.monotonic() - started < 10
    assert result.exit_code == 5
    assert result.stderr.splitlines() == [
        "error: no worker offers dino_embedding — the server has no worker for this task "
        "(check `cl capabilities`)"
    ]
    assert result.stdout == ""


def test_the_plugin_registers_its_task_client() -> None:
    from cl_client.plugins import task_client

    assert task_client("dino_embedding") is DinoEmbeddingClient


@pytest.mark.parametrize(
    "args",
    [["dino-embedding", "--help"], ["dino-embedding", "embed", "--help"]],
)
def test_help_imports_nothing_heavy(args: list[str]) -> None:
    assert heavy_imports(*args, also=("cl_plugin_dino_embedding.client",)) == []
