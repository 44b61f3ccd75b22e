"""The ``embed`` command every embedding plugin builds with ``embedding_app``, through the real
``cl`` against a real server.

The test plugin of echo_plugin.py adds ``cl vector-test embed`` for the task ``VECTOR_TASK``; the
server runs it with a stand-in executor that saves a deterministic vector of ``DIMENSION`` float32
values (``stand_in_vector`` of the input's bytes).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pytest
from cl_local_server.pytest_plugin import stand_in_embedding, stand_in_vector
from typer.testing import CliRunner, Result

from .conftest import MEDIA, RunCl
from .echo_plugin import VECTOR_TASK

if TYPE_CHECKING:
    from cl_local_server.executors import Executor

pytestmark = pytest.mark.timeout(60)

DIMENSION = 16
INPUTS = [MEDIA / "astronaut.jpg", MEDIA / "chelsea.png", MEDIA / "coffee.jpg"]


@pytest.fixture(scope="module")
def cl_module_executors() -> Mapping[str, Executor | None]:
    return {VECTOR_TASK: stand_in_embedding(DIMENSION)}


@pytest.fixture(autouse=True)
def _server(server_env: dict[str, str], echo: ModuleType) -> None:
    """Every test here runs ``cl vector-test`` against the module's server."""


def _ok(result: Result) -> Result:
    assert result.exit_code == 0, result.stderr
    return result


def _vector(path: Path, *, normalize: bool = True) -> npt.NDArray[np.float32]:
    return stand_in_vector(path.read_bytes(), DIMENSION, normalize=normalize)


def test_human_output_shows_dimension_norm_dtype_and_shape(cl: RunCl) -> None:
    lines = _ok(cl("vector-test", "embed", str(INPUTS[0]))).stdout.splitlines()
    assert lines[0].startswith(f"{INPUTS[0]} (job ")
    assert lines[1:] == [
        f"dimension:  {DIMENSION}",
        "norm:       1.000000",
        "dtype:      float32",
        f"shape:      ({DIMENSION},)",
        "normalized: yes",
    ]


def test_output_saves_the_npy_and_json_carries_the_record(cl: RunCl, tmp_path: Path) -> None:
    target = tmp_path / "vector.npy"
    result = _ok(cl("vector-test", "embed", str(INPUTS[0]), "-o", str(target), "--json"))
    document = json.loads(result.stdout)
    assert document["task_type"] == VECTOR_TASK
    assert document["status"] == "completed"
    assert document["params"]["output_path"] == f"output/{VECTOR_TASK}.npy"
    assert document["params"]["normalize"] is True
    assert document["task_output"]["embedding_dim"] == DIMENSION
    assert document["downloaded"] == [str(target)]
    assert document["result"]["dimension"] == DIMENSION
    assert document["result"]["shape"] == [DIMENSION]
    assert document["result"]["dtype"] == "float32"
    assert document["result"]["norm"] == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_array_equal(np.load(target), _vector(INPUTS[0]))


def test_no_normalize_is_sent_and_the_raw_vector_comes_back(cl: RunCl) -> None:
    result = _ok(cl("vector-test", "embed", str(INPUTS[0]), "--no-normalize", "--json"))
    document = json.loads(result.stdout)
    assert document["params"]["normalize"] is False
    assert document["result"]["normalized"] is False
    raw = _vector(INPUTS[0], normalize=False)
    assert document["result"]["norm"] == pytest.approx(float(np.linalg.norm(raw)), rel=1e-5)
    assert document["result"]["norm"] > 1.5


def test_several_files_give_a_json_array_and_a_folder_per_input(cl: RunCl, tmp_path: Path) -> None:
    out = tmp_path / "vectors"
    args = [str(p) for p in INPUTS]
    result = _ok(cl("vector-test", "embed", *args, "-o", str(out), "--json", "--jobs", "2"))
    documents = {d["input"]: d for d in json.loads(result.stdout)}
    assert len(documents) == len(INPUTS) == 3
    for path in INPUTS:
        document = documents[str(path)]
        saved = out / f"{path.name}.{VECTOR_TASK}.npy"
        assert document["downloaded"] == [str(saved)]
        np.testing.assert_array_equal(np.load(saved), _vector(path))


def test_watch_and_priority_are_sent(cl: RunCl) -> None:
    result = _ok(cl("vector-test", "embed", str(INPUTS[0]), "--watch", "--priority", "9", "--json"))
    document = json.loads(result.stdout)
    assert document["status"] == "completed"
    assert document["priority"] == 9


def test_help_shows_the_group_help_and_the_options(cl: RunCl) -> None:
    group = _ok(cl("vector-test", "--help")).stdout
    assert "Stand-in vectors of files." in group
    assert "Compute the embedding of each input" in group
    command = _ok(cl("vector-test", "embed", "--help")).stdout
    for option in ("--normalize", "--no-normalize", "--watch", "--output", "--timeout", "--jsonl"):
        assert option in command, option


def test_a_missing_file_is_a_one_line_usage_error(cl: RunCl, tmp_path: Path) -> None:
    missing = tmp_path / "missing.jpg"
    result = cl("vector-test", "embed", str(INPUTS[0]), str(missing))
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"error: file not found: {missing}"]
    assert result.stdout == ""


@pytest.mark.parametrize("option", [["--priority", "11"], ["-t", "0"]])
def test_an_option_out_of_range_is_a_usage_error(cl: RunCl, option: list[str]) -> None:
    result = cl("vector-test", "embed", str(INPUTS[0]), *option)
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr + result.stdout


def test_a_client_that_is_no_embedding_client_is_a_one_line_error(echo: ModuleType) -> None:
    from cl_client.cli.embedding import embedding_app

    app = embedding_app(f"{echo.__name__}:EchoClient", help="Not vectors.")
    result = CliRunner().invoke(app, ["embed", str(INPUTS[0])])
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: plugin {echo.__name__!r}: {echo.__name__}:EchoClient is not a "
        "cl_client.embedding.EmbeddingClient subclass\n"
    )
