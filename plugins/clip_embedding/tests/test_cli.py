"""``cl clip-embedding embed`` and the library client end to end against the local server."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pytest
from cl_plugin_clip_embedding.client import ClipEmbeddingClient, ClipEmbeddingResult
from typer.testing import CliRunner, Result

if TYPE_CHECKING:
    from cl_local_server.server import LocalServer

REPO = Path(__file__).resolve().parents[3]
MEDIA = REPO.parent / "shared" / "media"
DIMENSION = 512

RunCl = Callable[..., Result]
ExpectedVector = Callable[..., npt.NDArray[np.float32]]

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def inputs(tmp_path: Path) -> list[Path]:
    return [MEDIA / "astronaut.jpg", MEDIA / "chelsea.png", MEDIA / "coffee.jpg"]


def _ok(result: Result) -> Result:
    assert result.exit_code == 0, result.stderr
    return result


def test_human_output_shows_dimension_norm_dtype_and_shape(cl: RunCl, inputs: list[Path]) -> None:
    lines = _ok(cl("clip-embedding", "embed", str(inputs[0]))).stdout.splitlines()
    assert lines == [
        inputs[0].name,
        f"dimension:  {DIMENSION}",
        "norm:       1.000000",
        "dtype:      float32",
        f"shape:      ({DIMENSION},)",
        "normalized: yes",
    ]


def test_output_saves_the_npy_and_json_carries_the_record(
    cl: RunCl, inputs: list[Path], tmp_path: Path, expected: ExpectedVector
) -> None:
    target = tmp_path / "vector.npy"
    result = _ok(cl("clip-embedding", "embed", str(inputs[0]), "-o", str(target), "--json"))
    document = json.loads(result.stdout)
    assert document["task_type"] == "clip_embedding"
    assert document["status"] == "completed"
    assert document["params"]["output_path"] == "output/clip_embedding.npy"
    assert document["params"]["normalize"] is True
    assert document["task_output"]["embedding_dim"] == DIMENSION
    assert document["downloaded"] == [str(target)]
    assert document["result"]["dimension"] == DIMENSION
    assert document["result"]["shape"] == [DIMENSION]
    assert document["result"]["dtype"] == "float32"
    assert document["result"]["norm"] == pytest.approx(1.0, abs=1e-5)

    saved = np.load(target)
    assert saved.shape == (DIMENSION,)
    assert saved.dtype == np.float32
    np.testing.assert_array_equal(saved, expected(inputs[0].read_bytes(), normalize=True))


def test_no_normalize_is_sent_and_the_raw_vector_comes_back(
    cl: RunCl, inputs: list[Path], expected: ExpectedVector
) -> None:
    result = _ok(cl("clip-embedding", "embed", str(inputs[0]), "--no-normalize", "--json"))
    document = json.loads(result.stdout)
    assert document["params"]["normalize"] is False
    raw = expected(inputs[0].read_bytes(), normalize=False)
    assert document["result"]["normalized"] is False
    assert document["result"]["norm"] == pytest.approx(float(np.linalg.norm(raw)), rel=1e-5)
    assert document["result"]["norm"] > 1.5


def test_several_files_give_a_json_array_and_a_folder_per_input(
    cl: RunCl, inputs: list[Path], tmp_path: Path, expected: ExpectedVector
) -> None:
    out = tmp_path / "vectors"
    args = [str(p) for p in inputs]
    result = _ok(cl("clip-embedding", "embed", *args, "-o", str(out), "--json", "--jobs", "2"))
    documents = json.loads(result.stdout)
    assert len(documents) == len(inputs) == 3
    for path, document in zip(inputs, documents, strict=True):
        saved = out / path.stem / "clip_embedding.npy"
        assert document["downloaded"] == [str(saved)]
        np.testing.assert_array_equal(np.load(saved), expected(path.read_bytes(), normalize=True))


def test_w_is_watch_and_priority_is_sent(cl: RunCl, inputs: list[Path]) -> None:
    result = _ok(cl("clip-embedding", "embed", str(inputs[0]), "-w", "--priority", "9", "--json"))
    document = json.loads(result.stdout)
    assert document["status"] == "completed"
    assert document["priority"] == 9


def test_library_client_embeds_and_saves(
    server: LocalServer,
    inputs: list[Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    expected: ExpectedVector,
) -> None:
    from cl_client import Client

    monkeypatch.setenv("CL_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("CL_STATE_DIR", str(tmp_path / "state"))
    for name, value in server.client_env().items():
        monkeypatch.setenv(name, value)

    async def run() -> tuple[ClipEmbeddingResult, ClipEmbeddingResult]:
        async with Client() as client:
            embedder = ClipEmbeddingClient(client.compute)
            in_memory = await embedder.embed(inputs[0], timeout=30)
            saved = await embedder.embed(
                inputs[1], normalize=False, priority=2, timeout=30, dest=tmp_path
            )
            return in_memory, saved

    in_memory, saved = asyncio.run(run())
    want = expected(inputs[0].read_bytes(), normalize=True)
    assert in_memory.values == tuple(float(v) for v in want)
    assert in_memory.dimension == DIMENSION
    assert in_memory.saved_path is None
    assert in_memory.downloaded == []
    assert saved.saved_path == tmp_path / "clip_embedding.npy"
    assert saved.normalized is False
    assert saved.job.priority == 2
    np.testing.assert_array_equal(
        np.load(tmp_path / "clip_embedding.npy"), expected(inputs[1].read_bytes(), normalize=False)
    )


def test_without_a_worker_the_command_fails_fast(
    cl_server: LocalServer, inputs: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cl_client.cli.app import app

    # cl_server has the built-in executors only: none for clip_embedding.
    monkeypatch.setenv("CL_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("CL_STATE_DIR", str(tmp_path / "state"))
    for name, value in cl_server.client_env().items():
        monkeypatch.setenv(name, value)
    started = time.monotonic()
    result = CliRunner().invoke(app, ["clip-embedding", "embed", str(inputs[0])])
    assert time.monotonic() - started < 10
    assert result.exit_code == 5
    assert result.stderr.splitlines() == [
        "error: no worker offers clip_embedding — the server has no worker for this task "
        "(check `cl capabilities`)"
    ]
    assert result.stdout == ""


def test_a_missing_file_is_a_one_line_usage_error(cl: RunCl, tmp_path: Path) -> None:
    missing = tmp_path / "missing.jpg"
    result = cl("clip-embedding", "embed", str(missing))
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"error: file not found: {missing}"]
    assert result.stdout == ""


def test_a_priority_out_of_range_is_a_usage_error(cl: RunCl, inputs: list[Path]) -> None:
    result = cl("clip-embedding", "embed", str(inputs[0]), "--priority", "11")
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr + result.stdout
