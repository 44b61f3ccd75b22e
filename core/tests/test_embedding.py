"""What the embedding plugins share (cl_client.embedding): the pure-Python ``.npy`` reader checked
against NumPy's writer, the result and its rendering, and the client against a local server whose
worker runs a stand-in executor (the local server ships no embedding model)."""

from __future__ import annotations

import io
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import numpy.typing as npt
import pytest
from cl_client.cli import Output
from cl_client.embedding import (
    EmbeddingClient,
    EmbeddingResult,
    NpyArray,
    embedding_summary,
    parse_npy,
    read_npy,
    render_embedding,
)
from cl_client.errors import InvalidInputError, MalformedResponseError
from cl_client.models import Job
from cl_client.testing import OFFLINE_ENV, run_with_compute
from cl_local_server.pytest_plugin import stand_in_embedding, stand_in_vector

if TYPE_CHECKING:
    from cl_client.compute import ComputeClient
    from cl_local_server.executors import Executor
    from cl_local_server.server import LocalServer

REPO = Path(__file__).resolve().parents[2]
MEDIA = REPO.parent / "shared" / "media"
ASTRONAUT = MEDIA / "astronaut.jpg"
TASK = "clip_embedding"
DIMENSION = 512

pytestmark = pytest.mark.timeout(60)


@dataclass(kw_only=True)
class VectorResult(EmbeddingResult):
    """A plugin's result class; nothing to add."""


@dataclass(kw_only=True)
class ScoredResult(EmbeddingResult):
    """A plugin's result class with a row of its own."""

    score: float = 0.25

    def extra_rows(self) -> list[tuple[str, object]]:
        return [("score", self.score)]


class VectorClient(EmbeddingClient[VectorResult]):
    task_type: ClassVar[str] = TASK
    default_file_path = f"output/{TASK}.npy"
    result_type = VectorResult


# --- the .npy reader -------------------------------------------------------------------------


def _npy(array: npt.NDArray[np.generic]) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.mark.parametrize("dtype", ["<f4", ">f4", "<f8", ">f8", "<f2", "<i4", "|u1", ">i2"])
def test_reads_what_numpy_writes(dtype: str) -> None:
    array = (np.arange(12).reshape(3, 4) * 3).astype(dtype)
    parsed = parse_npy(_npy(array))
    assert parsed.shape == (3, 4)
    assert parsed.dtype == np.dtype(dtype).name
    assert parsed.values == tuple(float(v) for v in array.ravel())


def test_reads_a_float32_embedding_exactly() -> None:
    rng = np.random.default_rng(7)
    vector = rng.standard_normal(512).astype(np.float32)
    vector /= np.linalg.norm(vector)
    parsed = parse_npy(_npy(vector))
    assert parsed.shape == (512,)
    assert parsed.dtype == "float32"
    assert parsed.values == tuple(float(v) for v in vector)
    assert math.isclose(math.sqrt(sum(v * v for v in parsed.values)), 1.0, rel_tol=1e-6)


def test_reads_format_version_2(tmp_path: Path) -> None:
    array = np.ones(5, dtype=np.float32)
    path = tmp_path / "v2.npy"
    with path.open("wb") as fh:
        np.lib.format.write_array(fh, array, version=(2, 0))
    parsed = read_npy(path)
    assert parsed.shape == (5,)
    assert parsed.values == (1.0,) * 5


def test_reads_an_empty_and_a_scalar_array() -> None:
    assert parse_npy(_npy(np.zeros(0, dtype=np.float32))).shape == (0,)
    scalar = parse_npy(_npy(np.array(2.5, dtype=np.float32)))
    assert scalar.shape == ()
    assert scalar.values == (2.5,)


def _header(text: str, body: bytes = b"") -> bytes:
    raw = text.encode("latin-1")
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(raw)) + raw + body


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"PK\x03\x04 not numpy", "not a .npy file"),
        (b"\x93NUMPY\x09\x00\x00\x00", "unsupported .npy format version 9"),
        (
            _header("{'descr': '<f4', 'fortran_order': False, 'shape': (4,)}", b"\0" * 15),
            "needs 16",
        ),
        (
            _header("{'descr': '<c8', 'fortran_order': False, 'shape': (1,)}"),
            "unsupported .npy dtype",
        ),
        (
            _header("{'descr': 'O', 'fortran_order': False, 'shape': (1,)}"),
            "unsupported .npy dtype",
        ),
        (_header("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}"), "shape"),
        (_header("__import__('os').system('true')"), "unreadable .npy header"),
        (_header("[1, 2]"), "not a dict"),
        (b"\x93NUMPY\x01\x00\xff\x00{'descr'", "truncated"),
    ],
)
def test_rejects_what_is_not_a_numeric_npy_file(data: bytes, message: str) -> None:
    with pytest.raises(MalformedResponseError, match=message):
        parse_npy(data)


# --- the result and its rendering ------------------------------------------------------------


def _job(**params: object) -> Job:
    return Job(
        job_id="j1",
        task_type=TASK,
        status="completed",
        params={"input_path": "input/photo.jpg", "output_path": f"output/{TASK}.npy", **params},
        task_output={"embedding_dim": 512, "normalized": True},
    )


def _result(
    saved: Path | None = None, cls: type[EmbeddingResult] = VectorResult
) -> EmbeddingResult:
    array = NpyArray(shape=(512,), dtype="float32", values=(0.0, 0.6, 0.8) + (0.0,) * 509)
    return cls.from_array(
        _job(normalize=True), array, file_path=f"output/{TASK}.npy", saved_path=saved
    )


def test_shows_dimension_norm_dtype_and_shape(capsys: pytest.CaptureFixture[str]) -> None:
    render_embedding(_result(), Output())
    # No title: the command prints the heading (input and job id) before the renderer.
    assert capsys.readouterr().out.splitlines() == [
        "dimension:  512",
        "norm:       1.000000",
        "dtype:      float32",
        "shape:      (512,)",
        "normalized: yes",
    ]


def test_shows_the_saved_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    render_embedding(_result(tmp_path / "e.npy"), Output())
    assert f"saved:      {tmp_path / 'e.npy'}" in capsys.readouterr().out


def test_a_result_class_adds_rows_before_the_saved_file(tmp_path: Path) -> None:
    rows = embedding_summary(_result(tmp_path / "e.npy", ScoredResult))
    assert [key for key, _ in rows] == [
        "dimension",
        "norm",
        "dtype",
        "shape",
        "normalized",
        "score",
        "saved",
    ]
    assert ("score", 0.25) in rows


def test_prints_nothing_in_json_mode(capsys: pytest.CaptureFixture[str]) -> None:
    render_embedding(_result(), Output(json_mode=True))
    assert capsys.readouterr().out == ""


def test_json_is_the_record_plus_the_vector_description(tmp_path: Path) -> None:
    document = _result(tmp_path / "e.npy").to_json()
    assert document["job_id"] == "j1"
    assert document["task_output"] == {"embedding_dim": 512, "normalized": True}
    assert document["downloaded"] == [str(tmp_path / "e.npy")]
    assert document["result"] == {
        "dimension": 512,
        "norm": 1.0,
        "dtype": "float32",
        "shape": [512],
        "normalized": True,
        "file_path": f"output/{TASK}.npy",
    }


@pytest.mark.parametrize(
    ("output_path", "expected"),
    [
        (f"output/{TASK}.npy", f"output/{TASK}.npy"),
        # Servers before 2026-01-11 named a path np.save did not write: it appends ".npy".
        (f"output/{TASK}.nb", f"output/{TASK}.nb.npy"),
        (None, f"output/{TASK}.npy"),
    ],
)
def test_the_result_file_is_where_np_save_wrote_it(output_path: str | None, expected: str) -> None:
    from cl_client import Client

    params: dict[str, object] = {"input_path": "input/a.jpg"}
    if output_path is not None:
        params["output_path"] = output_path
    job = Job(job_id="j", task_type=TASK, status="completed", params=params)
    assert VectorClient(Client().compute).result_file(job) == expected


# --- the client: checks before sending, then against a server ---------------------------------


def _submit(file: Path, **kwargs: object) -> None:
    run_with_compute(
        OFFLINE_ENV,
        lambda compute: VectorClient(compute).submit(file, **kwargs),  # pyright: ignore[reportArgumentType]
    )


@pytest.mark.usefixtures("cl_isolated")
@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("nope.jpg", {}, r"^file not found: .*nope\.jpg$"),
        ("", {}, r"^not a regular file: "),
        ("astronaut", {"priority": -1}, r"^priority must be between 0 and 10, got -1$"),
        ("astronaut", {"priority": 11}, r"^priority must be between 0 and 10, got 11$"),
        ("astronaut", {"normalize": "yes"}, r"^normalize must be true or false, got 'yes'$"),
    ],
)
def test_the_client_checks_before_sending(
    tmp_path: Path, name: str, kwargs: dict[str, object], message: str
) -> None:
    file = ASTRONAUT if name == "astronaut" else tmp_path / name
    with pytest.raises(InvalidInputError, match=message):
        _submit(file, **kwargs)


@pytest.fixture(scope="module")
def cl_module_executors() -> Mapping[str, Executor | None]:
    return {TASK: stand_in_embedding(DIMENSION)}


@pytest.mark.usefixtures("cl_isolated")
def test_the_client_embeds_in_memory_and_saves(
    cl_module_server: LocalServer, tmp_path: Path
) -> None:
    async def go(compute: ComputeClient) -> tuple[VectorResult, VectorResult]:
        embedder = VectorClient(compute)
        in_memory = await embedder.embed(ASTRONAUT, timeout=30)
        saved = await embedder.embed(
            MEDIA / "chelsea.png", normalize=False, priority=2, timeout=30, dest=tmp_path
        )
        return in_memory, saved

    in_memory, saved = run_with_compute(cl_module_server.client_env(), go)
    want = stand_in_vector(ASTRONAUT.read_bytes(), DIMENSION, normalize=True)
    assert in_memory.values == tuple(float(v) for v in want)
    assert in_memory.dimension == DIMENSION
    assert in_memory.normalized is True
    assert in_memory.saved_path is None
    assert in_memory.downloaded == []
    assert saved.saved_path == tmp_path / f"{TASK}.npy"
    assert saved.downloaded == [tmp_path / f"{TASK}.npy"]
    assert saved.normalized is False
    assert saved.job.priority == 2
    raw = stand_in_vector((MEDIA / "chelsea.png").read_bytes(), DIMENSION, normalize=False)
    np.testing.assert_array_equal(np.load(tmp_path / f"{TASK}.npy"), raw)
    assert saved.norm == pytest.approx(float(np.linalg.norm(raw)), rel=1e-5)
