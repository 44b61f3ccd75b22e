"""The pure-Python ``.npy`` reader of the embedding clients, checked against NumPy's writer."""

from __future__ import annotations

import io
import math
import struct
from pathlib import Path

import numpy as np
import pytest
from cl_client.embedding import parse_npy, read_npy
from cl_client.errors import MalformedResponseError


def _npy(array: np.ndarray) -> bytes:  # pyright: ignore[reportMissingTypeArgument, reportUnknownParameterType]
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
