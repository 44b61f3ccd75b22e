"""``face_detection`` (PROTOCOL §5.4) with OpenCV's bundled Haar cascades; nothing is downloaded.

Upstream uses the YuNet network; its weights are not shipped with OpenCV, so this uses the
frontal-face Haar cascade from ``cv2.data.haarcascades`` and reproduces the output format:

* **confidence** in [0, 1] = *support* x *strength*. Support is ``1 - exp(-n / 10)`` where ``n`` is
  the number of raw detection windows merged into the box (a real face is found at many nearby
  positions and scales, a false hit at two or three); strength is ``logistic(w - 1)`` of the box's
  final-stage level weight from ``detectMultiScale3``. A clear frontal face has n in the tens and w
  well above 1, so it scores above 0.9 and passes the default threshold of 0.7; stray hits have n <=
  3 and stay below 0.3.
* **nms_threshold** is applied with ``cv2.dnn.NMSBoxes`` over the scored boxes.
* **landmarks**: the eyes come from the eye cascade run on the upper 60% of each face when it finds
  a plausible pair, else they are estimated from the box. The nose tip and mouth corners are always
  *estimated*: the ArcFace 112x112 template is mapped onto the face through the similarity transform
  fixed by the two eyes. All five are reported, normalised to [0, 1].
* **crops**: ``faces/face_<i>.png`` are 112x112 colour crops aligned on that same transform, i.e.
  the eyes land where ArcFace expects them.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, cast

from cl_local_server.executors import TaskContext

if TYPE_CHECKING:
    import cv2
    import numpy as np
    import numpy.typing as npt

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


def _cascade(name: str) -> cv2.CascadeClassifier:
    import cv2

    # cv2.data is untyped; the folder of the bundled cascades is a plain string.
    folder = cast(str, getattr(cv2, "data").haarcascades)  # noqa: B009
    path = folder + name
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise RuntimeError(f"OpenCV cascade {name} could not be loaded")
    return cascade


Rect = tuple[int, int, int, int]


def _rects(value: object) -> list[Rect]:
    import numpy as np

    rows = cast("npt.NDArray[np.int32]", np.asarray(value, dtype=np.int32).reshape(-1, 4))
    return [(int(r[0]), int(r[1]), int(r[2]), int(r[3])) for r in rows]


def _floats(value: object) -> list[float]:
    import numpy as np

    return [
        float(v)
        for v in cast("npt.NDArray[np.float64]", np.ravel(np.asarray(value, dtype=np.float64)))
    ]


def _detect_faces(gray: npt.NDArray[np.uint8], min_side: int) -> tuple[list[Rect], list[float]]:
    """Face boxes (x, y, w, h) in pixels and their confidence."""

    cascade = _cascade("haarcascade_frontalface_default.xml")
    size = (min_side, min_side)
    rects, _levels, weights = cascade.detectMultiScale3(
        gray, scaleFactor=1.1, minNeighbors=3, minSize=size, outputRejectLevels=True
    )
    grouped, neighbours = cascade.detectMultiScale2(
        gray, scaleFactor=1.1, minNeighbors=3, minSize=size
    )
    # Both calls group the same raw windows the same way: pair weight and count by box.
    counts = dict(zip(_rects(grouped), (int(n) for n in _floats(neighbours)), strict=False))
    boxes = _rects(rects)
    scores = [
        _confidence(counts.get(box, 3), w) for box, w in zip(boxes, _floats(weights), strict=False)
    ]
    return boxes, scores


def _confidence(neighbours: int, level_weight: float) -> float:
    support = 1.0 - math.exp(-neighbours / 10.0)
    strength = 1.0 / (1.0 + math.exp(-(level_weight - 1.0)))
    return round(support * strength, 4)


def _eyes(
    gray: npt.NDArray[np.uint8], box: tuple[int, int, int, int]
) -> tuple[tuple[float, float], tuple[float, float]]:
    """(right_eye, left_eye) in image pixels: detected when possible, else estimated from the
    box."""

    x, y, w, h = box
    estimate = ((x + 0.3 * w, y + 0.38 * h), (x + 0.7 * w, y + 0.38 * h))
    roi = gray[y : y + int(h * 0.6), x : x + w]
    eye_cascade = _cascade("haarcascade_eye.xml")
    found = eye_cascade.detectMultiScale(
        roi, scaleFactor=1.05, minNeighbors=3, minSize=(max(8, w // 12), max(8, h // 12))
    )
    centres = [(float(ex + ew / 2 + x), float(ey + eh / 2 + y)) for ex, ey, ew, eh in found]
    left_half = [c for c in centres if c[0] < x + w / 2]
    right_half = [c for c in centres if c[0] >= x + w / 2]
    if not left_half or not right_half:
        return estimate

    def nearest(
        cands: list[tuple[float, float]], target: tuple[float, float]
    ) -> tuple[float, float]:
        return min(cands, key=lambda c: (c[0] - target[0]) ** 2 + (c[1] - target[1]) ** 2)

    right_eye, left_eye = nearest(left_half, estimate[0]), nearest(right_half, estimate[1])
    # Reject pairs that are implausibly close or tilted: fall back to the estimate.
    dx, dy = left_eye[0] - right_eye[0], left_eye[1] - right_eye[1]
    if dx < 0.25 * w or abs(dy) > 0.5 * dx:
        return estimate
    return right_eye, left_eye


def _similarity(
    src: tuple[tuple[float, float], tuple[float, float]],
    dst: tuple[tuple[float, float], tuple[float, float]],
) -> npt.NDArray[np.float64]:
    """The 2x3 similarity transform (rotation, uniform scale, shift) mapping two points onto two."""
    import numpy as np

    (sx1, sy1), (sx2, sy2) = src
    (dx1, dy1), (dx2, dy2) = dst
    s = complex(sx2 - sx1, sy2 - sy1)
    d = complex(dx2 - dx1, dy2 - dy1)
    k = d / s  # rotation and scale as one complex factor
    t = complex(dx1, dy1) - k * complex(sx1, sy1)
    return np.array([[k.real, -k.imag, t.real], [k.imag, k.real, t.imag]], dtype=np.float64)


def run_face_detection(ctx: TaskContext) -> dict[str, object]:
    import cv2
    import numpy as np

    if not ctx.input_path.is_file():
        raise FileNotFoundError(f"Input file not found: {ctx.params.get('input_path')}")
    conf_raw, nms_raw = (
        ctx.params.get("confidence_threshold", 0.7),
        ctx.params.get("nms_threshold", 0.4),
    )
    conf_threshold = float(conf_raw) if isinstance(conf_raw, int | float) else 0.7
    nms_threshold = float(nms_raw) if isinstance(nms_raw, int | float) else 0.4

    data = np.fromfile(ctx.input_path, dtype=np.uint8)
    image = cast("npt.NDArray[np.uint8] | None", cv2.imdecode(data, cv2.IMREAD_COLOR))
    if image is None:
        # Pillow reads more formats (e.g. GIF); fall back to it before giving up.
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(ctx.input_path) as img:
                rgb = np.asarray(img.convert("RGB"))
        except (UnidentifiedImageError, OSError) as exc:
            raise ValueError(
                f"Unsupported media type: cannot decode {ctx.input_path.name} as an image"
            ) from exc
        image = cast("npt.NDArray[np.uint8]", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    height, width = image.shape[:2]
    ctx.progress(10)

    gray = cast("npt.NDArray[np.uint8]", cv2.equalizeHist(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)))
    min_side = max(24, min(width, height) // 20)
    boxes, scores = _detect_faces(gray, min_side)
    ctx.progress(50)
    keep: list[int] = []
    if boxes:
        picked = cv2.dnn.NMSBoxes([list(b) for b in boxes], scores, conf_threshold, nms_threshold)
        keep = sorted((int(i) for i in _floats(picked)), key=lambda i: -scores[i])

    faces_dir = ctx.job_dir / "faces"
    faces: list[dict[str, object]] = []
    for index, i in enumerate(keep):
        x, y, w, h = boxes[i]
        right_eye, left_eye = _eyes(gray, (x, y, w, h))
        to_crop = _similarity((right_eye, left_eye), (ARCFACE_TEMPLATE[0], ARCFACE_TEMPLATE[1]))
        to_image = cast("npt.NDArray[np.float64]", cv2.invertAffineTransform(to_crop))
        template = np.array([[px, py, 1.0] for px, py in ARCFACE_TEMPLATE])
        points = template @ to_image.T
        landmarks = {
            name: [round(float(px) / width, 6), round(float(py) / height, 6)]
            for name, (px, py) in zip(LANDMARK_NAMES, points, strict=True)
        }
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
                    "x1": round(x / width, 6),
                    "y1": round(y / height, 6),
                    "x2": round(min(x + w, width) / width, 6),
                    "y2": round(min(y + h, height) / height, 6),
                },
                "confidence": scores[i],
                "landmarks": landmarks,
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
