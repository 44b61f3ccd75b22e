"""Human output of ``cl face-detection detect``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cl_client.cli import Output

    from cl_plugin_face_detection.client import DetectedFace, FaceDetectionResult

#: The box is in pixels when the image size is known, else in normalised [0, 1] coordinates.
PIXEL_COLUMNS = ("#", "box (px)", "size", "confidence", "crop")
NORMALISED_COLUMNS = ("#", "box (0-1)", "size", "confidence", "crop")


def render_faces(result: FaceDetectionResult, output: Output) -> None:
    """A table per image: each face's box, confidence and crop; then the saved JSON, if any."""
    count = result.num_faces
    title = f"{count} face{'' if count == 1 else 's'}"
    in_pixels = result.image_width is not None and result.image_height is not None
    if in_pixels:
        title += f" ({result.image_width}×{result.image_height})"
    if result.faces:
        columns = PIXEL_COLUMNS if in_pixels else NORMALISED_COLUMNS
        output.table(columns, [face_row(face, result) for face in result.faces], title=title)
    else:
        output.key_values([("faces", "none found")], title=title)
    if result.saved_path is not None:
        output.key_values([("saved", str(result.saved_path))])


def face_row(face: DetectedFace, result: FaceDetectionResult) -> list[object]:
    """The table row of one face: its box in pixels (normalised when the image size is unknown),
    the box's size, the confidence and where the crop is."""
    box = face.bbox
    if result.image_width is not None and result.image_height is not None:
        x1, y1, x2, y2 = box.to_pixels(result.image_width, result.image_height)
        corners = f"{x1}, {y1} – {x2}, {y2}"
        size = f"{x2 - x1}×{y2 - y1}"
    else:
        corners = f"{box.x1:.3f}, {box.y1:.3f} – {box.x2:.3f}, {box.y2:.3f}"
        size = f"{box.width:.3f}×{box.height:.3f}"
    crop = str(face.crop_path) if face.crop_path is not None else (face.file_path or "-")
    return [face.index, corners, size, f"{face.confidence:.3f}", crop]
