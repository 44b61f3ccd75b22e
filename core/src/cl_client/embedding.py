"""What the three embedding tasks share: a client base, a typed result and a ``.npy`` reader.

``clip_embedding``, ``dino_embedding`` and ``face_embedding`` all take one file and a ``normalize``
flag and write a 1-D ``float32`` NumPy array to ``params.output_path``. Each embedding plugin
subclasses :class:`EmbeddingClient` with its task name and result type; its command comes from
:func:`cl_client.cli.embedding.embedding_app`.

The ``.npy`` format is a short text header followed by the raw array bytes, so it is read here in
pure Python: the core does not need NumPy. With NumPy installed, ``numpy.asarray(result.values)`` or
``numpy.load(result.saved_path)`` gives an array.
"""

from __future__ import annotations

import ast
import math
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final, Self, TypeVar, cast

from cl_client.errors import InvalidInputError, MalformedResponseError
from cl_client.models import FormValue, Job, JobCreated, JsonObject
from cl_client.tasks import ProgressCallback, TaskClient, TaskResult

if TYPE_CHECKING:
    from cl_client.cli.output import Output

__all__ = [
    "EmbeddingClient",
    "EmbeddingResult",
    "NpyArray",
    "embedding_summary",
    "parse_npy",
    "read_npy",
    "render_embedding",
]

_MAGIC: Final = b"\x93NUMPY"
# dtype kind + item size → (struct code, NumPy name). Embeddings are float32; the rest is free.
_DTYPES: Final[dict[str, tuple[str, str]]] = {
    "f2": ("e", "float16"),
    "f4": ("f", "float32"),
    "f8": ("d", "float64"),
    "i1": ("b", "int8"),
    "i2": ("h", "int16"),
    "i4": ("i", "int32"),
    "i8": ("q", "int64"),
    "u1": ("B", "uint8"),
    "u2": ("H", "uint16"),
    "u4": ("I", "uint32"),
    "u8": ("Q", "uint64"),
}


@dataclass(frozen=True)
class NpyArray:
    """A decoded ``.npy`` file; ``values`` in file order (C order unless ``fortran_order``)."""

    shape: tuple[int, ...]
    dtype: str
    values: tuple[float, ...]
    fortran_order: bool = False

    @property
    def size(self) -> int:
        return len(self.values)


def parse_npy(data: bytes) -> NpyArray:
    """Decode the bytes of a ``.npy`` file (format versions 1–3, numeric dtypes, either byte order).

    Raises :class:`~cl_client.errors.MalformedResponseError` when the bytes are not such a file.
    """
    if not data.startswith(_MAGIC) or len(data) < 10:
        raise MalformedResponseError("not a .npy file (the magic string is missing)")
    major = data[6]
    if major == 1:
        (header_len,) = struct.unpack_from("<H", data, 8)
        start = 10
    elif major in (2, 3):
        if len(data) < 12:
            raise MalformedResponseError("truncated .npy header")
        (header_len,) = struct.unpack_from("<I", data, 8)
        start = 12
    else:
        raise MalformedResponseError(f"unsupported .npy format version {major}")
    end = start + header_len
    if len(data) < end:
        raise MalformedResponseError("truncated .npy header")
    encoding = "utf-8" if major == 3 else "latin-1"
    descr, fortran_order, shape = _parse_header(data[start:end].decode(encoding))

    byte_order, kind_size = descr[0], descr[1:]
    if byte_order not in "<>|=" or kind_size not in _DTYPES:
        raise MalformedResponseError(f"unsupported .npy dtype {descr!r}")
    code, dtype_name = _DTYPES[kind_size]
    count = math.prod(shape)
    item_size = struct.calcsize("<" + code)
    body = data[end:]
    if len(body) != count * item_size:
        raise MalformedResponseError(
            f".npy data has {len(body)} bytes; shape {shape} of {dtype_name} "
            f"needs {count * item_size}"
        )
    # "=" means native order, which NumPy writes only for single-byte types ("|"), so "<" is safe.
    prefix = ">" if byte_order == ">" else "<"
    values = struct.unpack(f"{prefix}{count}{code}", body)
    return NpyArray(
        shape=shape,
        dtype=dtype_name,
        values=tuple(float(v) for v in values),
        fortran_order=fortran_order,
    )


def read_npy(path: str | os.PathLike[str]) -> NpyArray:
    """Read a local ``.npy`` file (see :func:`parse_npy`)."""
    return parse_npy(Path(path).read_bytes())


def _parse_header(text: str) -> tuple[str, bool, tuple[int, ...]]:
    """The header is a Python dict literal; ``literal_eval`` evaluates literals, nothing else."""
    try:
        header: object = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError) as exc:
        raise MalformedResponseError(f"unreadable .npy header ({exc})") from exc
    if not isinstance(header, dict):
        raise MalformedResponseError("unreadable .npy header (not a dict)")
    fields = cast("dict[object, object]", header)
    descr = fields.get("descr")
    fortran_order = fields.get("fortran_order", False)
    shape = fields.get("shape")
    if not isinstance(descr, str) or len(descr) < 3:
        raise MalformedResponseError(f"unsupported .npy dtype {descr!r}")
    if not isinstance(fortran_order, bool):
        raise MalformedResponseError("unreadable .npy header (fortran_order)")
    if not isinstance(shape, tuple):
        raise MalformedResponseError("unreadable .npy header (shape)")
    dims: list[int] = []
    for dim in shape:  # pyright: ignore[reportUnknownVariableType]
        if not isinstance(dim, int) or isinstance(dim, bool) or dim < 0:
            raise MalformedResponseError(f"unreadable .npy header (shape {shape!r})")
        dims.append(dim)
    return descr, fortran_order, tuple(dims)


@dataclass(kw_only=True)
class EmbeddingResult(TaskResult):
    """An embedding job's vector, read from the ``.npy`` file the job wrote.

    ``dimension`` is the vector length (the last axis), ``norm`` its L2 norm (≈ 1.0 when
    normalised), ``file_path`` the job's file on the server (``output/<task>.npy``) and
    ``saved_path`` the local copy of it when one was saved.
    """

    values: tuple[float, ...] = field(repr=False)
    dimension: int
    norm: float
    dtype: str
    shape: tuple[int, ...]
    normalized: bool | None = None
    file_path: str = ""
    saved_path: Path | None = None

    @classmethod
    def from_array(
        cls, job: Job, array: NpyArray, *, file_path: str, saved_path: Path | None = None
    ) -> Self:
        """Build the result from the decoded file; subclasses add their task's metadata."""
        return cls(
            job=job,
            downloaded=[saved_path] if saved_path is not None else [],
            values=array.values,
            dimension=array.shape[-1] if array.shape else array.size,
            norm=math.sqrt(math.fsum(v * v for v in array.values)),
            dtype=array.dtype,
            shape=array.shape,
            normalized=_normalized_flag(job),
            file_path=file_path,
            saved_path=saved_path,
        )

    def summary(self) -> JsonObject:
        """The vector described without its values (what ``--json`` adds as ``result``)."""
        return {
            "dimension": self.dimension,
            "norm": self.norm,
            "dtype": self.dtype,
            "shape": list(self.shape),
            "normalized": self.normalized,
            "file_path": self.file_path,
        }

    def extra_rows(self) -> list[tuple[str, object]]:
        """Rows a subclass adds to :func:`embedding_summary`, before the saved file: none here."""
        return []

    def to_json(self) -> JsonObject:
        out = super().to_json()
        out["result"] = self.summary()
        return out


def _normalized_flag(job: Job) -> bool | None:
    for source in (job.task_output or {}, job.params):
        for key in ("normalized", "normalize"):
            value = source.get(key)
            if isinstance(value, bool):
                return value
    return None


def embedding_summary(result: EmbeddingResult) -> list[tuple[str, object]]:
    """The rows a command prints for an embedding: dimension, norm, dtype, shape, the result's
    :meth:`~EmbeddingResult.extra_rows` and the saved file."""
    rows: list[tuple[str, object]] = [
        ("dimension", result.dimension),
        ("norm", f"{result.norm:.6f}"),
        ("dtype", result.dtype),
        ("shape", _shape_text(result.shape)),
    ]
    if result.normalized is not None:
        rows.append(("normalized", "yes" if result.normalized else "no"))
    rows.extend(result.extra_rows())
    rows.extend(("saved", str(path)) for path in result.downloaded)
    return rows


def render_embedding(result: EmbeddingResult, output: Output) -> None:
    """One block per file, titled with its name: the rows of :func:`embedding_summary`."""
    output.key_values(embedding_summary(result))


def _shape_text(shape: tuple[int, ...]) -> str:
    """NumPy's spelling: ``(512,)`` for one axis."""
    if len(shape) == 1:
        return f"({shape[0]},)"
    return "(" + ", ".join(str(d) for d in shape) + ")"


E = TypeVar("E", bound=EmbeddingResult)


class EmbeddingClient(TaskClient[E]):
    """Base of the embedding task clients. A subclass sets ``task_type``, ``default_file_path``
    (used only when a job record lacks ``params.output_path``) and ``result_type``."""

    #: The result file when the job record does not name one, e.g. ``output/clip_embedding.npy``.
    default_file_path: str
    #: The result class :meth:`collect` builds.
    result_type: type[E]

    async def submit(
        self, file: str | os.PathLike[str], *, normalize: bool = True, priority: int = 5
    ) -> JobCreated:
        """Upload ``file``; ``normalize`` asks for an L2-normalised vector (the server default)."""
        return await self.submit_form(file, self.build_form(normalize=normalize), priority=priority)

    @staticmethod
    def build_form(*, normalize: bool = True) -> dict[str, FormValue]:
        """The form fields of an embedding job."""
        if not isinstance(normalize, bool):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise InvalidInputError(f"normalize must be true or false, got {normalize!r}")
        return {"normalize": normalize}

    async def embed(
        self,
        file: str | os.PathLike[str],
        *,
        normalize: bool = True,
        priority: int = 5,
        timeout: float | None = 60,  # noqa: ASYNC109 - the job's wait limit, not an I/O timeout
        dest: Path | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> E:
        """Submit ``file`` and wait for its embedding; with ``dest`` also save the ``.npy`` file."""
        created = await self.submit(file, normalize=normalize, priority=priority)
        return await self.wait_result(
            created.job_id, timeout=timeout, on_progress=on_progress, dest=dest
        )

    async def collect(self, job: Job, dest: Path | None = None) -> E:
        file_path = self.result_file(job)
        data, saved = await self.fetch_bytes(job, file_path, dest)
        return self.result_type.from_array(
            job, parse_npy(data), file_path=file_path, saved_path=saved
        )

    def result_file(self, job: Job) -> str:
        """The job's ``.npy`` file. Servers before 2026-01-11 stored a path without the ``.npy``
        suffix that ``np.save`` appends, so the suffix is added the way ``np.save`` does."""
        file_path = job.output_path or self.default_file_path
        return file_path if file_path.endswith(".npy") else file_path + ".npy"
