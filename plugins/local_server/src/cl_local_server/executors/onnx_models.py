"""Embedding executors for ONNX models you bring: ``cl server run --model TASK=PATH.onnx``.

Needs onnxruntime (``pip install 'cl-local-server[models]'``). The model takes one image tensor and
its first output is the embedding. Each task has one fixed preprocessing, the one its upstream
model uses (PROTOCOL §5.1, §5.2, §5.5):

============== ========= ======== ================================ ===========================
task           size      channels values                           resize
============== ========= ======== ================================ ===========================
clip_embedding 224x224   RGB      0–1 (MobileCLIP: no mean/std)    bicubic, whole image
dino_embedding 224x224   RGB      0–1, then ImageNet mean/std      bicubic, whole image
face_embedding 112x112   RGB      (x − 127.5) / 127.5 (ArcFace)    bilinear, whole image
============== ========= ======== ================================ ===========================

The tensor is float32 NCHW ``(1, 3, H, W)``; a model whose input is NHWC (``(1, H, W, 3)``) gets
that layout instead, and a model with a fixed input size other than the task's gets its size. The
first output, float32, is ``(1, D)`` or ``(D,)``; a ``(1, tokens, D)`` output gives its first token
(DINO's CLS token). ``task_output`` is ``{"embedding_dim": D, "normalized", "model": <file name>}``
(face_embedding adds ``quality_score``): the model is named for what it is, whatever it embeds.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

from cl_local_server.executors import Executor, TaskContext

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Tensor = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Preprocessing:
    """How an image becomes the model's input tensor."""

    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    #: Pillow resampling filter name ("BICUBIC", "BILINEAR").
    resample: str


PREPROCESSING: dict[str, Preprocessing] = {
    # MobileCLIP-B(LT): 224x224 bicubic, pixels in 0-1 and no normalisation.
    "clip_embedding": Preprocessing(224, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), "BICUBIC"),
    # DINOv2: 224x224, ImageNet mean and std.
    "dino_embedding": Preprocessing(224, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), "BICUBIC"),
    # ArcFace (insightface): 112x112, (x - 127.5) / 127.5, i.e. mean and std 0.5 on 0-1 pixels.
    "face_embedding": Preprocessing(112, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), "BILINEAR"),
}
#: The tasks ``--model`` can serve.
MODEL_TASKS: tuple[str, ...] = tuple(PREPROCESSING)


class ModelError(ValueError):
    """A model cannot be used (the message is one line)."""


class _NodeArg(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def shape(self) -> Sequence[int | str | None]: ...


class _Session(Protocol):
    """The part of ``onnxruntime.InferenceSession`` used here."""

    def get_inputs(self) -> Sequence[_NodeArg]: ...
    def get_outputs(self) -> Sequence[_NodeArg]: ...
    def run(
        self, output_names: list[str] | None, input_feed: dict[str, Tensor]
    ) -> list[object]: ...


def _open_session(path: Path) -> _Session:
    try:
        # Imported by name: onnxruntime is an optional extra.
        onnxruntime = importlib.import_module("onnxruntime")
    except ImportError:
        raise ModelError(
            "ONNX models need onnxruntime: pip install 'cl-local-server[models]'"
        ) from None
    if not path.is_file():
        raise ModelError(f"{path}: no such file")
    try:
        session: object = onnxruntime.InferenceSession(
            str(path), providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own exception types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{path}: not a model onnxruntime can load ({first})") from None
    return cast(_Session, session)


@dataclass(frozen=True)
class OnnxEmbedder:
    """One loaded model with its task's preprocessing."""

    task_type: str
    path: Path
    session: _Session
    input_name: str
    channels_last: bool
    height: int
    width: int

    @classmethod
    def load(cls, task_type: str, path: Path) -> OnnxEmbedder:
        prep = PREPROCESSING.get(task_type)
        if prep is None:
            raise ModelError(f"{task_type!r} cannot take a model; one of: {', '.join(MODEL_TASKS)}")
        session = _open_session(path)
        inputs = session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise ModelError(f"{path}: expected one 4-D image input, found {len(inputs)} inputs")
        if not session.get_outputs():
            raise ModelError(f"{path}: the model has no output")
        shape = list(inputs[0].shape)
        channels_last = shape[3] == 3 and shape[1] != 3

        def fixed(dim: int | str | None) -> int:
            return dim if isinstance(dim, int) and dim > 0 else prep.size

        height, width = (shape[1], shape[2]) if channels_last else (shape[2], shape[3])
        return cls(
            task_type, path, session, inputs[0].name, channels_last, fixed(height), fixed(width)
        )

    @property
    def preprocessing(self) -> Preprocessing:
        return PREPROCESSING[self.task_type]

    def tensor(self, image_path: Path) -> Tensor:
        """The model's input for an image file, preprocessed as documented above."""
        import numpy as np
        from PIL import Image, UnidentifiedImageError

        prep = self.preprocessing
        try:
            with Image.open(image_path) as img:
                rgb = img.convert("RGB").resize(
                    (self.width, self.height), getattr(Image.Resampling, prep.resample)
                )
        except (UnidentifiedImageError, OSError) as exc:
            raise ValueError(
                f"Unsupported media type: cannot decode {image_path.name} as an image"
            ) from exc
        pixels = np.asarray(rgb, dtype=np.float32) / 255.0
        pixels = (pixels - np.array(prep.mean, np.float32)) / np.array(prep.std, np.float32)
        layout = pixels if self.channels_last else pixels.transpose(2, 0, 1)
        return np.ascontiguousarray(layout[np.newaxis], dtype=np.float32)

    def embed(self, image_path: Path) -> Tensor:
        """The first output for this image, as a 1-D float32 vector."""
        import numpy as np

        outputs = self.session.run(None, {self.input_name: self.tensor(image_path)})
        out = np.asarray(outputs[0], dtype=np.float32)
        if out.ndim == 3:  # (1, tokens, D): the first token (CLS)
            out = out[:, 0, :]
        vector = out.reshape(-1)
        if out.ndim > 2 or (out.ndim == 2 and out.shape[0] != 1) or vector.size == 0:
            raise RuntimeError(
                f"{self.path.name}: output of shape {tuple(out.shape)} is not one embedding"
            )
        return vector


def model_executor(task_type: str, path: Path) -> Executor:
    """An executor for ``task_type`` running the ONNX model at ``path`` (loaded now; raises
    :class:`ModelError` if it cannot be used)."""
    embedder = OnnxEmbedder.load(task_type, path)

    def run(ctx: TaskContext) -> dict[str, object]:
        import numpy as np

        if not ctx.input_path.is_file():
            raise FileNotFoundError(f"Input file not found: {ctx.params.get('input_path')}")
        normalize = ctx.params.get("normalize", True) is not False
        ctx.progress(10)
        vector = embedder.embed(ctx.input_path)
        if normalize:
            norm = float(np.linalg.norm(vector))
            if norm > 0:
                vector = vector / norm
        ctx.output_path.parent.mkdir(parents=True, exist_ok=True)
        with ctx.output_path.open("wb") as out:
            np.save(out, vector.astype(np.float32))
        result: dict[str, object] = {
            "embedding_dim": int(vector.shape[0]),
            "normalized": normalize,
            "model": path.name,
        }
        if task_type == "face_embedding":
            from cl_local_server.executors.faces import quality_score, read_image

            result["quality_score"] = quality_score(read_image(ctx.input_path))
        return result

    return run
